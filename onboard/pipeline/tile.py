"""The data a frame carries through the on-board pipeline: its tiles (:class:`Tile`), what the stages learned about
each one (:class:`TileMeta`), and the frame's journey (:class:`Work`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rundir.codec import has_data


@dataclass(frozen=True, slots=True)
class TileMeta:
    """What the stages learned about a tile on its way down: the manifest carries every field but ``cloudy``
    (:func:`onboard.sim.recorder.manifest_line`; a field that is None is not written). Frozen: a stage makes a new one
    with :func:`dataclasses.replace`. A field no stage sets cannot be set (no other keys): a stage that needs more
    per tile adds a documented field here, and a frame's data that no tile carries goes on :class:`Work`.
    """

    scale: int = 1  # the super-resolution factor: the tile's pixels per camera pixel along each axis
    bands: tuple[str, ...] | None = None  # the tile's bands when not the camera's (a cloud mask's ("cloud",))
    bit_depth: int | None = None  # bits per sample when not the camera's (a cloud mask's 1)
    cloud_fraction: float | None = None  # the cloud filter's cloudy share of the tile, 0 to 1 (4 decimals)
    clear_px: int | None = None  # the clear pixels in the tile on the camera's grid (:func:`with_clear_px`)
    masked: bool = False  # cloudy pixels set to fill by the cloud filter (the manifest's masked: true, else absent)
    # (h, w) bool on the camera's grid: the pixels a masked tile had set to 0, for super-resolution to mask its product
    cloudy: np.ndarray | None = field(default=None, compare=False, repr=False)
    burst_frame: int | None = None  # which frame of a burst (0 to K-1) a raw tile is
    burst_frames: int | None = None  # K, the frames of the burst a super-resolved tile was fused from
    lossless: bool | None = None  # the encoder's: the tile decodes to its DN exactly
    max_error_dn: int | None = None  # the encoder's bound on any sample's error, DN (None: the codec bounds none)
    dn_sha256: str | None = None  # a lossless tile's sha256 of its DN (:func:`rundir.codec.dn_sha256`)


@dataclass
class Tile:
    """A rectangle of a frame on its way to the ground."""

    dn: np.ndarray  # (h, w, B) uint16 digital numbers, or (K, h, w, B): the same rectangle in every frame of a burst
    row0: int  # offset of the tile in its frame, px
    col0: int
    kind: str = "image"  # "image", or an auxiliary product such as "cloud_mask"
    priority: int = 1
    payload: bytes | None = None  # set by the encoder stage
    format: str | None = None
    fill_mask: bytes | None = None  # a lossy tile with fill: its .msk sidecar (rundir.codec.fill_mask), by the encoder
    meta: TileMeta = field(default_factory=TileMeta)


@dataclass
class Work:
    """One frame's journey through the pipeline: kept tiles, dropped tiles with reasons, and time spent."""

    frame: Any  # camera.Frame
    tiles: list[Tile]
    dropped: list[tuple[Tile, str]] = field(default_factory=list)
    dropped_by: list[str] = field(default_factory=list)  # the stage that dropped each entry of dropped (Pipeline.run)
    stages: list[str] = field(default_factory=list)
    sim_s: float = 0.0  # simulated compute time on the satellite's hardware
    sim_stage_s: dict[str, float] = field(default_factory=dict)  # the same, per stage
    wall_s: dict[str, float] = field(default_factory=dict)  # measured on this host, per stage
    scoring_wall_s: dict[str, float] = field(default_factory=dict)  # of which spent on scoring-only extras
    evaluation: dict[str, np.ndarray] = field(default_factory=dict)  # on-board decisions kept for scoring, never downlinked
    # What the cloud filter tells later stages: the clear pixels of each frame (K, H, W) bool, and the tiles it kept
    # (frame 0's DN of a burst), which the report's pipeline comparison encodes; None without that stage.
    clear: np.ndarray | None = None
    cloud_filter_kept: list[Tile] | None = None
    alternative_bytes: dict[str, int] = field(default_factory=dict)  # what simpler pipelines would downlink
    discarded: str | None = None  # why a stage discarded the whole frame (:func:`discard_frame`); None: it goes on
    # Where a frame-pool worker wrote the frame's truth and evaluation records (a run directory of its own), which
    # then come back without pixels (onboard.sim.frame_pool); None: the records are still to be written from here.
    records_dir: Path | None = None
    # Where a stage may put the scoring-only images it makes, as unnamed files (:class:`onboard.pipeline.spill.
    # SpilledImage`) rather than in memory: a frame-pool worker's records folder; None: in memory.
    spill_dir: Path | None = None

    def shed_pixels(self) -> None:
        """Keep only what storing the products needs once the frame's truth and evaluation are written: every
        pixel array this Work holds (the frame's DN, truth and burst, the cloud filter's masks, each tile's DN)
        becomes a :func:`hollow` view of the same shape and dtype. For a frame the frame pool computed ahead,
        which may wait in storage for its compute slot for a long time."""
        for f in dataclasses.fields(self):
            setattr(self, f.name, hollow(getattr(self, f.name)))

    @property
    def encoded(self) -> bool:
        return all(t.payload is not None for t in self.tiles)

    @property
    def frames(self) -> int:
        """K, the frames of the burst (1 for a single frame)."""
        burst = getattr(self.frame, "burst", None)
        return burst.k if burst is not None else 1


def unstack(tiles: list[Tile]) -> list[Tile]:
    """Burst tiles (K, h, w, B) split into one tile per frame (``meta.burst_frame``), others as they are."""
    out = []
    for tile in tiles:
        if tile.dn.ndim == 4:
            out += [dataclasses.replace(tile, dn=dn, meta=dataclasses.replace(tile.meta, burst_frame=f))
                    for f, dn in enumerate(tile.dn)]
        else:
            out.append(tile)
    return out


def with_clear_px(tile: Tile) -> Tile:
    """An image ``tile`` whose ``meta.clear_px`` is set: the cloud filter's estimate where it made one, else every
    pixel of the tile that holds data (:func:`rundir.codec.has_data`), a super-resolved tile's divided by scale²:
    what the tile is worth to the ``value_density`` downlink order. Worked out where the pixels are, before
    :meth:`Work.shed_pixels` hollows them."""
    if tile.kind != "image" or tile.meta.clear_px is not None:
        return tile
    clear_px = int(np.count_nonzero(has_data(tile.dn))) // (tile.meta.scale * tile.meta.scale)
    return dataclasses.replace(tile, meta=dataclasses.replace(tile.meta, clear_px=clear_px))


class _Hollow(np.ndarray):
    """A :func:`hollow` array: pickled as its shape and dtype, where numpy pickles a zero-stride view as every
    element (a frame-pool worker sends a Work back to the simulation through a pipe). An array computed from one
    (of this class too, as numpy keeps subclasses) that holds data pickles as a plain array."""

    def __reduce__(self):
        if self.size and any(self.strides):
            return np.asarray(self).__reduce__()
        return hollow_array, (self.shape, self.dtype)


def hollow_array(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A read-only array of ``shape`` and ``dtype`` that holds no memory: ``np.broadcast_to`` of one zero."""
    return np.broadcast_to(np.zeros((), dtype), shape).view(_Hollow)


def hollow(value: Any) -> Any:
    """``value`` with every numpy array in it (in dataclass fields, lists and tuples, recursively) replaced by a
    read-only zero-stride view of the same shape and dtype that holds no memory (:func:`hollow_array`): shapes and
    dtypes stay readable, the pixels are gone. Other values are returned as they are."""
    if isinstance(value, np.ndarray):
        return hollow_array(value.shape, value.dtype)
    if isinstance(value, (list, tuple)):
        return type(value)(hollow(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: hollow(getattr(value, f.name))
                                             for f in dataclasses.fields(value) if f.init})
    return value
