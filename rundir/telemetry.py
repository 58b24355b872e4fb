"""Telemetry records: the lines of ``telemetry/captures.jsonl``, ``processing.jsonl``, ``timeline.jsonl``,
``link.jsonl``, ``ledger.jsonl`` and ``contacts.jsonl`` as the spacecraft's recorder writes them
(:func:`rundir.files.jsonl_line` of :meth:`~rundir.records.Record.to_json`, sorted keys); the ground reads the
ledger and contact lines back with :meth:`~rundir.records.Record.parse` (RecordError naming file, line and field).

Units are in the names: ``_s`` seconds after the scenario start (or durations), ``_utc`` ISO 8601 UTC with
milliseconds, ``_deg`` degrees, ``_bytes`` bytes, ``_wh`` watt-hours; ``battery_soc`` is a fraction 0..1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .files import jsonl_line
from .manifest import Footprint
from .records import Record, checked, count, counts

LEDGER_STATUSES = ("delivered", "dropped", "on_board")  # a captured frame's possible ends in a LedgerRow


@dataclass(frozen=True, slots=True)
class CaptureRecord(Record):
    """One capture (a frame, or a burst of ``burst_frames`` frames): where and when, and the bent-pipe bytes it
    took in storage (``raw_bytes``, bit-packed, all frames of a burst)."""

    frame_id: str
    satellite: str
    pass_id: str
    target: str
    t_s: float
    utc: str
    raw_bytes: int = count()
    burst_frames: int = checked(lambda v: v >= 1, "an integer >= 1")
    footprint: Footprint  # the frame's grid
    centre_lat_deg: float
    centre_lon_deg: float
    sun_elevation_deg: float
    off_nadir_deg: float


@dataclass(frozen=True, slots=True)
class ProcessingRecord(Record):
    """One frame through the on-board pipeline: its ``stages``, the simulated compute time in total and per stage
    (``compute_timing``: ``projected`` from the reference host or ``measured`` on this device), the host wall time
    per stage, tiles kept and dropped, ``alternative_bytes``: what simpler pipelines would have sent (bytes,
    keyed by pipeline name: ``bent_pipe``, ``encode_only``, ``cloud_filter``), and ``compute_wait_s``: simulated
    seconds from the capture until the computer took the frame up (behind other frames, or a brown-out; None in
    runs written before it was recorded)."""

    frame_id: str
    satellite: str
    stages: list[str]
    burst_frames: int
    compute_s: float
    compute_timing: str
    compute_stage_s: dict[str, float]
    wall_s: dict[str, float]
    tiles_kept: int = count()
    tiles_dropped: int = count()
    alternative_bytes: dict[str, int | None]
    compute_wait_s: float | None = None


@dataclass(frozen=True, slots=True)
class TimelineSample(Record):
    """One satellite's state at ``t_s``: storage used, battery energy and state of charge, sunlight, brown-out,
    and whether its computer is busy."""

    satellite: str
    t_s: float
    storage_bytes: int
    battery_wh: float
    battery_soc: float
    sunlit: bool
    brownout: bool
    computing: bool


@dataclass(frozen=True, slots=True)
class LinkSample(Record):
    """The payload link at ``t_s`` during a pass under a link budget: geometry, Es/N0 and Eb/N0 at the demodulator
    (dB; Eb/N0 None while the link is down), the MODCOD in use (None: down) and its information rate
    (``rate_mbps``, 1 Mbps = 1e6 bit/s, before protocol overhead), which holds until the next sample."""

    t_s: float
    elevation_deg: float
    slant_range_km: float
    es_n0_db: float
    eb_n0_db: float | None
    modcod: str | None
    rate_mbps: float


@dataclass(frozen=True, slots=True)
class PassLinkRecord(Record):
    """One contact window under the link budget (a line of ``telemetry/link.jsonl``): the station's G/T, the time
    some MODCOD closed (``link_up_s``), the payload bytes the whole window could carry (``capacity_bytes``), the
    time spent sending (``used_s``: the link up) and the bytes sent, and what the constant-rate model would have
    sent in the time the pass had products to send (``constant_rate_bytes`` at ``constant_payload_bytes_per_s``;
    ``constant_model``: ``rate_mbps``, the scenario's constant rate, whose link is never down, or
    ``lowest_elevation_modcod``, the MODCOD that closes at the lowest elevation at which any closes, held while it
    closes); ``samples``: rate and elevation over the pass."""

    satellite: str
    station: str
    aos_t_s: float
    los_t_s: float
    g_t_db_k: float
    link_up_s: float
    capacity_bytes: int
    used_s: float
    bytes_sent: int
    constant_model: str
    constant_payload_bytes_per_s: float
    constant_rate_bytes: int
    samples: list[LinkSample]


@dataclass(frozen=True, slots=True)
class LedgerRow(Record):
    """What became of one captured frame (a line of ``telemetry/ledger.jsonl``, written at the end of the run):
    ``status`` one of :data:`LEDGER_STATUSES` and, dropped, the most common ``reason`` (else None); its products
    delivered, dropped and still on board, the drops by reason (``dropped_by_reason``: stages' decisions and losses
    together) and, of those, the stages' decisions by stage and reason (``decided_by_stage``: {stage: {reason:
    count}}; required: a ledger written before it existed cannot tell decisions from losses, so its rows are refused
    and the run must be simulated again); the bytes the frame still holds in storage (``bytes_on_board``: its raw
    frame or products, whole, one caught mid-transfer too) and, on board, its age at the end of the run (``age_s``,
    else None)."""

    frame_id: str
    satellite: str
    status: str = checked(lambda v: v in LEDGER_STATUSES, f"one of {', '.join(LEDGER_STATUSES)}")
    reason: str | None
    products_delivered: int = count()
    products_dropped: int = count()
    dropped_by_reason: dict[str, int] = counts()
    products_on_board: int = count()
    bytes_on_board: int = count()
    age_s: float | None
    decided_by_stage: dict[str, dict[str, int]]


@dataclass(frozen=True, slots=True)
class ContactRecord(Record):
    """One contact window of a satellite with a station (a line of ``telemetry/contacts.jsonl``): AOS and LOS,
    its length and highest elevation, whether the station's antenna served it at some time in the window (it had
    products to send and got the antenna: ``tracked``), the time spent sending
    (``used_s``), the bytes sent and the products completed in it (``duration_s`` and ``products_completed``, which
    the ground does not need, may be absent), and the time the satellite had a product to send while another
    satellite held the station's antenna (``waited_s``; absent in older runs)."""

    satellite: str
    station: str
    aos_t_s: float
    los_t_s: float
    max_elevation_deg: float
    tracked: bool
    used_s: float
    bytes_sent: int = count()
    duration_s: float | None = None
    products_completed: int | None = count(default=None)
    waited_s: float | None = None


TELEMETRY_DIR = "telemetry"  # in the run directory
RUN_INFO_FILE = "run.json"  # telemetry/run.json: rundir.run_info.RunInfo
# telemetry/NAME.jsonl: the record of each line, by NAME
TELEMETRY_FILES: dict[str, type[Record]] = {"captures": CaptureRecord, "ledger": LedgerRow, "contacts": ContactRecord,
                                            "timeline": TimelineSample, "processing": ProcessingRecord,
                                            "link": PassLinkRecord}
OPTIONAL_FILES = ("link",)  # written only under a link budget: a run without one has none


def telemetry_path(run_dir: Path, name: str) -> Path:
    """``run_dir/telemetry/NAME.jsonl`` of a name of TELEMETRY_FILES (KeyError for another)."""
    if name not in TELEMETRY_FILES:
        raise KeyError(f"no telemetry file {name!r}; the files are {list(TELEMETRY_FILES)}")
    return Path(run_dir) / TELEMETRY_DIR / f"{name}.jsonl"


class RecordStream:
    """A telemetry JSON-lines file written record by record as the run goes (:func:`rundir.files.jsonl_line` of each
    record's :meth:`~rundir.records.Record.to_json`), each line flushed when written, so that an interrupted run
    keeps every whole line. Only records of the file's own type are taken (TypeError for another)."""

    def __init__(self, run_dir: Path, name: str):
        self.record_type = TELEMETRY_FILES[name]
        self._file: TextIO = open(telemetry_path(run_dir, name), "w", encoding="utf-8")

    def write(self, record: Record) -> None:
        if not isinstance(record, self.record_type):
            raise TypeError(f"a {self.record_type.__name__} stream was given a {type(record).__name__}")
        self._file.write(jsonl_line(record.to_json()))
        self._file.flush()

    def close(self) -> None:
        self._file.close()
