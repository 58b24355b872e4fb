"""The run's description, ``telemetry/run.json``: written by the spacecraft when the run starts (``complete``
false) and again when it ends, read by the ground with :meth:`RunInfo.parse` (RecordError naming the field).

Units are in the names (``_s`` seconds, ``_utc`` ISO 8601 UTC with milliseconds, ``_px`` pixels, ``_m`` metres,
``_bytes`` bytes, ``_wh`` watt-hours, ``_mbps`` 1e6 bit/s); ``battery_min_soc`` is a fraction 0..1.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .records import Record, RecordError, found_text, omitted_when_none


@dataclass(frozen=True)
class ElementSet(Record):
    """A satellite flown from a two-line element set: its title (None: none given) and the set's epoch."""

    satellite: str
    title: str | None
    epoch_utc: str


@dataclass(frozen=True)
class StageEntry(Record):
    """One pipeline stage as run.json gives it: its name and its parameters, in JSON one object
    ``{"stage": name, **params}``."""

    stage: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """``{"stage": name, **params}``, keys sorted as run.json holds them."""
        return dict(sorted({"stage": self.stage, **super().to_json()["params"]}.items()))

    @classmethod
    def _from_json(cls, data: Any, where: tuple[str, int | None], path: str) -> StageEntry:
        if not isinstance(data, dict):
            raise RecordError(*where, path, "a JSON object", found_text(data))
        if not isinstance(data.get("stage"), str):
            raise RecordError(*where, f"{path}.stage", "a string (the stage's name)",
                              "nothing: the key is missing" if "stage" not in data else found_text(data["stage"]))
        return cls(data["stage"], {k: v for k, v in data.items() if k != "stage"})

    @property
    def uses_model(self) -> bool:
        """Whether its parameters name a ``model`` (the key every model stage takes, a plugin's too) and no
        ``method`` other than ``model`` (a cloud filter's spectral test, a classic fusion)."""
        return "model" in self.params and self.params.get("method", "model") == "model"


@dataclass(frozen=True)
class CameraInfo(Record):
    """The camera: frame size (px), ground sample distance (m), bit depth, bytes of one bit-packed raw frame, frames
    per burst and the super-resolution factor (None without a superres stage)."""

    width_px: int
    height_px: int
    gsd_m: float
    bit_depth: int
    raw_frame_bytes: int
    burst_frames: int
    superres_scale: int | None


@dataclass(frozen=True)
class DownlinkInfo(Record):
    """The payload radio: constant rate (Mbps; None under a link budget without one) and payload bytes per second
    (None: derived from the rate), link frame size (bytes) and frame error rate, and the link budget's settings when
    the scenario has one."""

    rate_mbps: float | None
    payload_bytes_per_s: float | None
    frame_bytes: int
    frame_error_rate: float
    link_budget: dict[str, Any] | None = omitted_when_none()


@dataclass(frozen=True)
class SatelliteSummary(Record):
    """One satellite at the end of the run, or where it stopped: frames planned (in a run that stopped early, the
    captures the simulation reached, each taken or skipped) and captured, captures skipped by reason, compute busy
    time (s) and its timing mode, storage peak and capacity (bytes), frames whose compute waited for the battery and
    for how long (s), the frame the computer was still working on at the end (its id; its busy time and energy so
    far are in the figures; None: idle, or a run written before it), lowest state of charge, brown-out time (s),
    energy in, out and unmet (Wh)."""

    satellite: str
    frames_planned: int
    frames_captured: int
    compute_busy_s: float
    compute_timing: str
    storage_peak_bytes: int
    storage_capacity_bytes: int
    battery_min_soc: float
    brownout_s: float
    energy_in_wh: float
    energy_out_wh: float
    energy_unmet_wh: float
    captures_skipped: dict[str, int] = field(default_factory=dict)
    compute_deferred_frames: int = 0
    compute_deferred_s: float = 0.0
    frame_in_compute: str | None = omitted_when_none()


@dataclass(frozen=True)
class HeldoutScores(Record):
    """A cloud model's per-pixel scores on the synthetic held-out frames of its card: F1 and false-positive rate
    (fractions 0..1) over ``frames`` frames."""

    f1: float
    fpr: float
    frames: int


@dataclass(frozen=True)
class RealScores(Record):
    """Per-pixel scores on real labelled tiles (fractions 0..1), pooled over the tiles they cover."""

    f1: float
    iou: float
    fpr: float
    recall: float


SENSOR_GROUP = "all "  # the prefix of a per-sensor group in a card's real_validation block ("all Sentinel-2 MSI")


@dataclass(frozen=True)
class RealValidation(Record):
    """A card's ``real_validation`` figures as a run carries them: where the tiles come from (``data``), how many,
    the scores pooled over all of them and over each sensor's (``sensors``, keyed by sensor name), and the highest
    false-positive rate of any one tile. In JSON each sensor's scores sit beside ``pooled`` under
    ``"all <sensor>"``, as in the card."""

    data: str
    tiles: int
    pooled: RealScores
    worst_tile_fpr: float
    sensors: dict[str, RealScores] = field(default_factory=dict)
    threshold: float | None = omitted_when_none()  # the probability the tiles were scored at, where the card says

    def to_json(self) -> dict[str, Any]:
        out = {"data": self.data, "tiles": self.tiles, "pooled": self.pooled.to_json(),
               "worst_tile_fpr": self.worst_tile_fpr}
        out |= {} if self.threshold is None else {"threshold": self.threshold}
        return out | {SENSOR_GROUP + name: scores.to_json() for name, scores in self.sensors.items()}

    def threshold_note(self, run_threshold: Any) -> str:
        """" (scored at threshold 0.5, where this run decides cloud at 0.1: ...)" when the tiles were scored at
        another threshold than ``run_threshold`` (a run's cloud_filter ``threshold``), else ""."""
        if self.threshold is None or not isinstance(run_threshold, (int, float)) or run_threshold == self.threshold:
            return ""
        return (f" (scored at threshold {self.threshold:g}, where this run decides cloud at {run_threshold:g}: "
                "at its threshold the real-data figures would differ)")

    @classmethod
    def _from_json(cls, data: Any, where: tuple[str, int | None], path: str) -> RealValidation:
        if not isinstance(data, dict):
            raise RecordError(*where, path, "a JSON object", found_text(data))
        plain = {k: v for k, v in data.items() if not k.startswith(SENSOR_GROUP)}
        sensors = {k[len(SENSOR_GROUP):]: RealScores._from_json(v, where, f"{path}.{k}")
                   for k, v in data.items() if k.startswith(SENSOR_GROUP)}
        return dataclasses.replace(super()._from_json(plain, where, path), sensors=sensors)


@dataclass(frozen=True)
class ModelValidation(Record):
    """What a cloud model's card says it is worth, carried into the run so that the report can set it beside the
    run's synthetic-truth scores: the model, its version and sha256 and, when the card has them, its synthetic
    held-out scores (the shipped models' cards) and its scores on real labelled tiles (the shipped models' cards, and
    a user's card with a ``real_validation`` block: onboard.runtime.card_metrics)."""

    model: str
    version: str
    sha256: str
    synthetic_heldout: HeldoutScores | None = omitted_when_none()
    real_validation: RealValidation | None = omitted_when_none()


@dataclass(frozen=True)
class ModelFile(Record):
    """The model a stage ran, so that two runs of one scenario with different weights at the same path differ: the
    ``file`` as the scenario names it (a shipped model: its name), its card's ``name`` and ``version``, and the
    file's ``sha256`` (the card's, which the file matched when it loaded)."""

    file: str
    name: str
    version: str
    sha256: str

    @classmethod
    def of(cls, file: str, card: Any) -> ModelFile:
        """The record of model ``file`` from its loaded card (``name``, ``version``, ``sha256``)."""
        return cls(file, card.name, card.version, card.sha256)

    @property
    def label(self) -> str:
        """``file (name version, sha256 first 12 hex digits)``, for a report."""
        return f"{self.file} ({self.name} {self.version}, sha256 {self.sha256[:12]})"


@dataclass(frozen=True)
class Stopped(Record):
    """Why a run stopped before its end (the exception's name: KeyboardInterrupt, RealtimeOverrun, ...) and when."""

    reason: str
    simulated_s: float


@dataclass(frozen=True)
class RunInfo(Record):
    """``telemetry/run.json``: the scenario's name, seed, start and duration (s), whether the run reached its end
    (``complete``) and, if not, why it ``stopped``; host wall time in all (``wall_time_s``) and per stage; the
    satellites and stations; the scenario's warnings; the satellites flown from element sets; the camera's bands,
    the pipeline (stage names) and each stage's parameters; the hardware profile; the model cards of the stages that
    run shipped models, and the model file each model stage ran (``models``); the camera and the radio; the format
    of the comparison's lossless estimates (``estimate_format``); one summary per satellite (empty until the run is
    complete).

    The ground needs the first eight; the others are None (lists: empty) in a run directory that lacks them.
    """

    scenario: str
    seed: int
    start_utc: str
    duration_s: float
    complete: bool
    wall_time_s: float
    satellites: list[str]
    stations: list[str]
    wall_stage_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    element_sets: list[ElementSet] = field(default_factory=list)
    bands: list[str] = field(default_factory=list)
    pipeline: list[str] = field(default_factory=list)
    hardware: str | None = None
    stages: list[StageEntry] = field(default_factory=list)
    model_cards: dict[str, ModelValidation] = field(default_factory=dict)
    models: dict[str, ModelFile] = field(default_factory=dict)
    camera: CameraInfo | None = None
    downlink: DownlinkInfo | None = None
    # the lossless format of the comparison's encode_only and cloud_filter estimates: the encode stage's, or PNG (TIFF
    # beyond 4 bands) without one (onboard.pipeline.runner.Pipeline.estimate_format); None before it was recorded
    estimate_format: str | None = None
    satellite_summary: list[SatelliteSummary] = field(default_factory=list)
    stopped: Stopped | None = omitted_when_none()

    def stage(self, name: str) -> StageEntry | None:
        """The first stage called ``name``, or None when the pipeline has none."""
        return next((s for s in self.stages if s.stage == name), None)
