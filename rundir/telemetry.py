"""Telemetry records: the lines of ``telemetry/captures.jsonl``, ``processing.jsonl`` and ``timeline.jsonl`` as the
spacecraft's recorder writes them (:func:`rundir.files.jsonl_line` of :meth:`to_json`, sorted keys) and as the
ground reads them (plain JSON objects with these keys).

Units are in the names: ``_s`` seconds after the scenario start (or durations), ``_utc`` ISO 8601 UTC with
milliseconds, ``_deg`` degrees, ``_bytes`` bytes, ``_wh`` watt-hours; ``battery_soc`` is a fraction 0..1.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .manifest import Footprint


@dataclass(frozen=True)
class Record:
    """A telemetry record: :meth:`to_json` is its JSON object, nested records and footprints as objects."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CaptureRecord(Record):
    """One capture (a frame, or a burst of ``burst_frames`` frames): where and when, and the bent-pipe bytes it
    took in storage (``raw_bytes``, bit-packed, all frames of a burst)."""

    frame_id: str
    satellite: str
    pass_id: str
    target: str
    t_s: float
    utc: str
    raw_bytes: int
    burst_frames: int
    footprint: Footprint  # the frame's grid
    centre_lat_deg: float
    centre_lon_deg: float
    sun_elevation_deg: float
    off_nadir_deg: float


@dataclass(frozen=True)
class ProcessingRecord(Record):
    """One frame through the on-board pipeline: its ``stages``, the simulated compute time in total and per stage
    (``compute_timing``: ``projected`` from the reference host or ``measured`` on this device), the host wall time
    per stage, tiles kept and dropped, and ``alternative_bytes``: what simpler pipelines would have sent (bytes,
    keyed by pipeline name: ``bent_pipe``, ``encode_only``, ``cloud_filter``)."""

    frame_id: str
    satellite: str
    stages: list[str]
    burst_frames: int
    compute_s: float
    compute_timing: str
    compute_stage_s: dict[str, float]
    wall_s: dict[str, float]
    tiles_kept: int
    tiles_dropped: int
    alternative_bytes: dict[str, int | None]


@dataclass(frozen=True)
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
