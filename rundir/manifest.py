"""The manifest line: one delivered product, as the spacecraft writes it to ``downlink/manifest.jsonl`` and as the
ground reads it back.

The spacecraft builds a :class:`ManifestLine` when a product is made, completes it when the product is stored on
board (``sha256``, ``bytes``, ``sidecars``) and when it is delivered (``downlink_t_s``, ``downlink_utc``,
``station``, ``retransmitted_bytes``), and writes :meth:`ManifestLine.to_json` as one JSON line with sorted keys.
The ground parses each line with :meth:`ManifestLine.parse`, which names every key that is missing or has a value
of the wrong type, so that a bad line becomes a reception anomaly instead of an error later on.

Keys (units in their names): ``id``, ``file`` (a plain name in ``downlink/``), ``satellite``, ``frame_ids``,
``pass_id``, ``target``, ``capture_t_s`` and ``capture_utc``, ``format`` (raw, png, tiff), ``kind`` (``image``
or an auxiliary product such as ``cloud_mask``), ``dtype``, ``bit_depth``, ``bands``, ``shape`` (H, W, B),
``tile`` (its place in the decision-tile grid of :mod:`rundir.tiles`, in the product's pixels, and the frame's
size), ``footprint`` (EPSG code, upper-left corner and pixel size in metres, size in px), ``scale`` (the
super-resolution factor, 1 without), ``raw_bytes`` (the bent-pipe bytes the product stands for), ``stages``,
``priority``, ``retransmitted_bytes``, ``sha256`` and ``bytes`` (the product file plus its sidecars), ``sidecars``
(file, bytes, sha256 of each), for images ``reflectance_per_dn`` and ``band_centres_um``; after the cloud filter
``cloud_fraction`` and ``masked``; for images ``clear_px`` (the clear pixels the product holds as estimated on
board, counted on the camera's grid: the cloud filter's clear pixels in the tile, or every pixel of the tile
that holds data (:func:`rundir.codec.has_data`) without a cloud filter; a super-resolved product's pixels divided
by scale²) and ``value`` (``priority`` times
``clear_px``, what the ``value_density`` downlink order ranks by per byte); for raw bursts ``burst_frame`` and
``burst_frames``; from the encode stage ``lossless`` (the format names the codec), ``max_error_dn`` (the bound on
any sample's error: 0 lossless, NEAR for near-lossless JPEG-LS, absent where the codec bounds none) and, lossless,
``dn_sha256`` (sha256 of the DN it decodes to, :func:`rundir.codec.dn_sha256`, which reception checks); after
delivery ``downlink_t_s``, ``downlink_utc`` and ``station``. A field that is None is not written.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from .records import INT64_MAX

MANIFEST = "manifest.jsonl"  # the manifest's file name in downlink/


# --- value checks: (test, what the test wants) ----------------------------------------------------------------

def _is_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _is_count(value: Any) -> bool:
    """An integer from 0 to INT64_MAX: the ground sums byte counts in numpy int64 (10**30 "bytes" read as 1e21 GB)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT64_MAX


def _is_positive(value: Any) -> bool:
    return _is_count(value) and value > 0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_utm_or_ups(value: Any) -> bool:
    """An EPSG code of the grids frames are made on: WGS 84 UTM zones 1-60 north (32601-32660) and south
    (32701-32760), and UPS north (32661) and south (32761)."""
    return _is_count(value) and (32601 <= value <= 32661 or 32701 <= value <= 32761)


def _is_on_earth(value: Any) -> bool:
    """A projected coordinate in metres no further from its origin than half the equator (UTM and UPS stay within)."""
    return _is_number(value) and abs(value) <= 2.0e7


def _is_plain_name(name: Any) -> bool:
    """A file name directly in ``downlink/``: no directory part, not the manifest."""
    return _is_text(name) and PurePosixPath(name).name == name and name not in (".", "..", MANIFEST)


def _list_of(test: Callable[[Any], bool], non_empty: bool = False) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, list) and (v != [] or not non_empty) and all(test(x) for x in v)


def _object_of(keys: Mapping[str, Callable[[Any], bool]]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, dict) and all(test(v.get(k)) for k, test in keys.items())


Check = tuple[Callable[[Any], bool], str]
TEXT: Check = (_is_text, "a non-empty string")
COUNT: Check = (_is_count, "an integer from 0 to 2**63 - 1")
POSITIVE: Check = (_is_positive, "an integer > 0")
TIME: Check = (_is_number, "a finite number")
TEXTS: Check = (_list_of(_is_text), "a list of strings")
TILE_KEYS = ("row0", "col0", "height", "width", "frame_height", "frame_width")
FOOTPRINT_KEYS = ("epsg", "x0_m", "y0_m", "gsd_m", "width_px", "height_px")
CHECKS: dict[str, Check] = {  # every key a line may hold: required ones first, in the order problems are named
    "id": TEXT, "file": TEXT, "bytes": COUNT, "sha256": TEXT, "format": TEXT,
    "shape": (_list_of(_is_positive, non_empty=True), "a list of positive integers"), "bit_depth": COUNT,
    "kind": TEXT, "pass_id": TEXT, "frame_ids": (_list_of(_is_text, non_empty=True), "a non-empty list of strings"),
    "capture_t_s": TIME, "downlink_t_s": TIME, "raw_bytes": COUNT,
    "satellite": TEXT, "target": TEXT, "station": TEXT, "retransmitted_bytes": COUNT,
    "bands": TEXTS,
    "footprint": (_object_of({"epsg": _is_utm_or_ups, "x0_m": _is_on_earth, "y0_m": _is_on_earth,
                              "gsd_m": lambda v: _is_number(v) and v > 0, "width_px": _is_positive,
                              "height_px": _is_positive}),
                  "an object of epsg (a UTM or UPS zone: 32601-32661, 32701-32761), x0_m and y0_m (metres within "
                  "+-20,000 km), gsd_m > 0, width_px and height_px"),
    "tile": (_object_of({"row0": _is_count, "col0": _is_count, "height": _is_positive, "width": _is_positive,
                         "frame_height": _is_positive, "frame_width": _is_positive}),
             "an object of integers row0, col0 >= 0 and height, width, frame_height, frame_width > 0"),
    "sidecars": (_list_of(_object_of({"file": _is_plain_name, "bytes": _is_count, "sha256": _is_text})),
                 "a list of {file, bytes, sha256} objects naming plain files"),
    "scale": POSITIVE, "reflectance_per_dn": (lambda v: _is_number(v) and v > 0, "a finite number > 0"),
    "band_centres_um": (_list_of(_is_number), "a list of finite numbers"),
    "capture_utc": TEXT, "downlink_utc": TEXT, "dtype": TEXT, "stages": TEXTS, "priority": COUNT,
    "cloud_fraction": (lambda v: _is_number(v) and 0 <= v <= 1, "a number from 0 to 1"),
    "masked": (lambda v: isinstance(v, bool), "true or false"), "burst_frame": COUNT, "burst_frames": POSITIVE,
    "lossless": (lambda v: isinstance(v, bool), "true or false"), "max_error_dn": COUNT,
    "dn_sha256": (lambda v: isinstance(v, str) and len(v) == 64, "a sha256 in 64 hex digits"),
    "clear_px": COUNT, "value": COUNT,
}
REQUIRED = ("id", "file", "bytes", "sha256", "format", "shape", "bit_depth", "kind", "pass_id", "frame_ids",
            "capture_t_s", "downlink_t_s", "raw_bytes")  # what the ground cannot do without
# ... and of an image product: its place in the frame, its bands and their calibration
IMAGE_REQUIRED = ("tile", "bands", "reflectance_per_dn")


@dataclass(frozen=True)
class TileGeometry:
    """Where a product lies in its frame, in the product's pixels (a super-resolved product: high-res pixels)."""

    row0: int
    col0: int
    height: int
    width: int
    frame_height: int
    frame_width: int


@dataclass(frozen=True)
class Footprint:
    """The product's grid: EPSG code, map coordinates of the upper-left corner (m), pixel size (m), size (px)."""

    epsg: int
    x0_m: float
    y0_m: float
    gsd_m: float
    width_px: int
    height_px: int


@dataclass(frozen=True)
class Sidecar:
    """A file that travels with a product (a PNG's world file or GDAL .aux.xml; a lossy or PNG product's fill mask,
    ``<file>.msk``): name, size and sha256."""

    file: str
    bytes: int
    sha256: str


@dataclass(frozen=True)
class ManifestLine:
    """One product of the manifest (see the module docstring for each key); lists are tuples here."""

    id: str
    file: str
    satellite: str | None
    frame_ids: tuple[str, ...]
    pass_id: str
    target: str | None
    capture_t_s: float
    capture_utc: str | None
    format: str
    kind: str
    dtype: str | None
    bit_depth: int
    bands: tuple[str, ...]
    shape: tuple[int, ...]
    tile: TileGeometry | None
    footprint: Footprint | None
    scale: int = 1
    raw_bytes: int = 0
    stages: tuple[str, ...] = ()
    priority: int | None = None
    retransmitted_bytes: int = 0
    sha256: str | None = None
    bytes: int | None = None
    sidecars: tuple[Sidecar, ...] | None = None
    reflectance_per_dn: float | None = None
    band_centres_um: tuple[float, ...] | None = None
    cloud_fraction: float | None = None
    masked: bool | None = None
    clear_px: int | None = None
    value: int | None = None
    burst_frame: int | None = None
    burst_frames: int | None = None
    lossless: bool | None = None
    max_error_dn: int | None = None
    dn_sha256: str | None = None
    downlink_t_s: float | None = None
    downlink_utc: str | None = None
    station: str | None = None

    @property
    def file_bytes(self) -> int | None:
        """The product file's own bytes: ``bytes`` less its sidecars' (None before it is stored)."""
        return None if self.bytes is None else self.bytes - sum(s.bytes for s in self.sidecars or ())

    def to_json(self) -> dict[str, Any]:
        """The line as a JSON object: tuples as lists, nested records as objects, None fields left out."""
        def plain(value: Any) -> Any:
            if dataclasses.is_dataclass(value):
                return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
            if isinstance(value, tuple):
                return [plain(v) for v in value]
            return value

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)
                if getattr(self, f.name) is not None}

    @classmethod
    def parse(cls, record: Any) -> tuple[ManifestLine | None, list[str]]:
        """``(line, [])`` for a JSON object that is a good manifest line, else ``(None, problems)``: each required
        key that is missing (one problem naming them all), then each known key whose value is of the wrong type,
        e.g. ``"bytes is '1024', expected an integer >= 0"``, then what an image lacks of IMAGE_REQUIRED or bands that
        do not match its shape, or a lossless product without ``dn_sha256``. Unknown keys are ignored (a newer
        spacecraft)."""
        if not isinstance(record, Mapping):
            return None, [f"expected a JSON object, found {type(record).__name__}"]
        missing = [key for key in REQUIRED if key not in record]
        problems = [f"missing key(s) {', '.join(missing)}"] if missing else []
        problems += [f"{key} is {record[key]!r:.40}, expected {what}"
                     for key, (test, what) in CHECKS.items() if key in record and not test(record[key])]
        if record.get("kind") == "image":
            absent = [key for key in IMAGE_REQUIRED if key not in record]
            if absent:
                problems.append(f"missing key(s) {', '.join(absent)}, which an image product needs")
            elif not problems and len(record["shape"]) == 3 and len(record["bands"]) != record["shape"][-1]:
                problems.append(f"bands names {len(record['bands'])}, the shape holds {record['shape'][-1]}")
        if record.get("lossless") is True and "dn_sha256" not in record:  # the ground could not check it bit for bit
            problems.append("lossless is true without dn_sha256, the sha256 of the DN the spacecraft encoded, which "
                            "the ground checks the decoded product against")
        if problems:
            return None, problems
        if not _is_plain_name(record["file"]):
            return None, [f"file {record['file']!r} is not a plain file name in downlink/"]
        known = {key: record[key] for key in CHECKS if key in record}
        tile, footprint, sidecars = known.get("tile"), known.get("footprint"), known.get("sidecars")
        known.update(
            tile=TileGeometry(**{k: tile[k] for k in TILE_KEYS}) if tile is not None else None,
            footprint=Footprint(**{k: footprint[k] for k in FOOTPRINT_KEYS}) if footprint is not None else None,
            sidecars=tuple(Sidecar(s["file"], s["bytes"], s["sha256"]) for s in sidecars) if sidecars is not None
            else None)
        for key in ("frame_ids", "bands", "shape", "stages", "band_centres_um"):
            if known.get(key) is not None:
                known[key] = tuple(known[key])
        for key in ("satellite", "target", "capture_utc", "dtype", "tile", "footprint"):
            known.setdefault(key, None)
        known.setdefault("frame_ids", ())
        known.setdefault("bands", ())
        return cls(**known), []

    @classmethod
    def from_json(cls, record: Any) -> ManifestLine:
        """:meth:`parse`, raising ValueError that names every problem when the record is not a good line."""
        line, problems = cls.parse(record)
        if line is None:
            raise ValueError("not a manifest line: " + "; ".join(problems))
        return line
