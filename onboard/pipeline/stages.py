"""The on-board pipeline: stages registered by name, run in the order the scenario lists them.

A stage transforms a :class:`Work` item (the tiles of one captured frame) in place and says how long it would
take on the reference host (``cost_s``); the simulation scales that by the hardware profile. The last stage
is an encoder (``bent_pipe`` or ``encode``, here) that turns every kept tile into downlink bytes. The other built-in
stages (the cloud filter, super-resolution) live in their own modules; other distributions add stages as plugins
(:mod:`onboard.pipeline.plugins`). :mod:`onboard.pipeline.runner` finds stages by name and runs them in order.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from rundir import codec, flight_codecs
from rundir.errors import ConfigIssue, OrbitEdgeError
from rundir.run_info import ModelFile, ModelValidation

from . import alternatives
from .tile import Tile, Work
from ..runtime import hardware
from ..scenario import config_files
from ..scenario.schema import issue_at, spec

@dataclass(frozen=True)
class Context:
    """What a stage may know about the spacecraft it runs on."""

    bands: tuple[str, ...]
    bit_depth: int
    reflectance_per_dn: float  # the camera's radiometric calibration
    cpu_relative: float
    int8_conv_relative: float
    timing: Literal["projected", "measured"] = "projected"  # stage time from the profile, or this host's wall time
    band_centres_um: tuple[float, ...] | None = None  # centre wavelength of each band, micrometres
    scenario_dir: Path | None = None  # where a stage's relative file names (a model's path) start; None: the cwd
    # the platform's pointing jitter between a burst's frames, at most this many px per axis (the camera's
    # burst.jitter_px, as an ADCS stability spec gives it): registration refuses shifts beyond it; None: unbounded
    pointing_jitter_px: float | None = None

    def reflectance(self, dn: np.ndarray) -> np.ndarray:
        """``dn`` (any shape, integer DN) as float32 TOA reflectance through the camera's calibration, linear with
        no offset (:class:`onboard.scenario.spacecraft_config.CameraConfig`)."""
        out = np.asarray(dn).astype(np.float32)
        out *= np.float32(self.reflectance_per_dn)
        return out


scenario_path = config_files.scenario_path  # where stage plugins have imported it from (the example did)


def tile_georef(frame: Any, tile: Tile, ctx: Context) -> codec.Georef | None:
    """Where ``tile`` of ``frame`` lies: the frame's grid footprint moved by the tile's offset ``(row0, col0)`` px at
    the tile's GSD (the frame's divided by its super-resolution ``meta.scale``), with, for an image, the camera's
    DN-to-reflectance scale, no-data DN and band centres (an auxiliary product, a cloud mask, has none of them).
    None for a frame with no ``footprint`` (a stand-in frame encodes without georeferencing)."""
    fp = getattr(frame, "footprint", None)
    if fp is None:
        return None
    gsd_m = fp.gsd_m / tile.meta.scale
    image = tile.kind == "image"
    return codec.Georef(int(fp.epsg), fp.x0_m + tile.col0 * gsd_m, fp.y0_m - tile.row0 * gsd_m, gsd_m,
                        tile.meta.bands or ctx.bands, ctx.reflectance_per_dn if image else None,
                        codec.nodata_dn(tile.meta.bit_depth or ctx.bit_depth) if image else None,
                        ctx.band_centres_um if image else None)


def product_georef(frame: Any, tile: Tile, ctx: Context, fmt: str) -> codec.Georef | None:
    """The georeferencing a product of ``tile`` in format ``fmt`` carries inside its file: a GeoTIFF's
    (:func:`tile_georef`); None in any other format (a PNG's travels beside it as sidecars,
    :func:`rundir.codec.sidecars`; a flight-class codestream has none)."""
    return tile_georef(frame, tile, ctx) if fmt == "tiff" else None


def model_speed(card: Any) -> Literal["cpu", "int8"]:
    """Which speed of a hardware profile projects the cost of a stage running the model of ``card`` (its model
    card, None for no model): :func:`onboard.runtime.hardware.model_speed` of its input's dtype, the rule
    ``orbitedge bench --profile`` projects with too (``int8_conv_relative`` for an 8-bit input, else
    ``cpu_relative``)."""
    return hardware.model_speed(card.inputs[0].dtype if card is not None else None)


class StageFault(OrbitEdgeError):
    """A stage that failed: ``stage`` says which (a plugin's entry point and distribution, or a built-in stage's
    name), ``method`` the Stage method (``__init__``, ``check``, ``check_files``, ``cost_s``, ``process``),
    ``problem`` what went wrong (what it raised, or the value it gave against what was expected), ``frame_id`` the
    frame it was working on (None outside a run)."""

    def __init__(self, stage: str, method: str, problem: str, frame_id: str | None = None):
        self.stage = stage
        self.method = method
        self.problem = problem
        self.frame_id = frame_id
        on = f" on frame {frame_id}" if frame_id else ""
        super().__init__(f"stage {stage}: {method}(){on}: {problem}")


class Stage:
    """Base of registered stages. Subclasses set ``name``, ``Params`` and ``terminal``. A stage's methods may raise
    anything: the runner reports a plugin's errors as a :class:`StageFault` that names it."""

    name: ClassVar[str]
    Params: ClassVar[type]
    terminal: ClassVar[bool] = False  # an encoder: must come last
    uses: Literal["cpu", "int8"] = "cpu"  # which speed of the hardware profile projects its cost (model_speed)
    burst_scale: int | None = None  # a stage that needs a burst of frames sets its super-resolution factor
    model_card: ModelValidation | None = None  # a stage that runs a cloud model: what its card says it is worth
    model_file: ModelFile | None = None  # a stage that runs a model: which file (path, card name, version, sha256)

    def __init__(self, params: Any, ctx: Context):
        self.params = params
        self.ctx = ctx

    def process(self, work: Work) -> None:
        raise NotImplementedError

    def cost_s(self, work: Work) -> float:
        """Seconds this stage takes for ``work`` on the reference host (deterministic): a finite number >= 0 (the
        runner stops the run with a :class:`StageFault` on anything else)."""
        raise NotImplementedError

    def cost_by_speed_s(self, work: Work) -> dict[str, float]:
        """:meth:`cost_s` split by the speed of the hardware profile that projects each part (``uses``: ``cpu`` or
        ``int8``, :func:`model_speed`); the runner divides each part by that speed. All of it at ``uses`` unless a
        stage runs plain CPU work beside its model (super-resolution's registration and fusion), which an
        accelerator's int8 speed must not project."""
        return {self.uses: self.cost_s(work)}

    @classmethod
    def check(cls, params: Any, index: int, names: list[str], bands: tuple[str, ...]) -> list[ConfigIssue]:
        """Rules that need the rest of the scenario (``names``: every stage's, this one at ``index``; ``bands``: the
        camera's): ConfigIssues at paths relative to the stage's item (:func:`onboard.scenario.schema.issue_at`)."""
        return []

    @classmethod
    def check_files(cls, params: Any, bands: tuple[str, ...], scenario_dir: Path | None) -> list[ConfigIssue]:
        """Rules on the files the stage reads (a user's model and its card, relative to ``scenario_dir``), as
        ``check`` gives them."""
        return []


# The ledger's own reasons (onboard.sim.ledger, onboard.sim.storage): a stage's decision named so would read as a loss
LEDGER_REASONS = ("storage_full", "no_product")


def reason_problem(reason: Any) -> str | None:
    """Why ``reason`` cannot name a stage's decision to drop (none for a non-empty name of its own)."""
    if not isinstance(reason, str) or not reason.strip():
        return f"expected a drop's reason to be a non-empty name, found {reason!r:.60}"
    if reason in LEDGER_REASONS:
        return f"expected a drop's reason other than the ledger's own ({', '.join(LEDGER_REASONS)}), found {reason!r}"
    return None


def discard_frame(work: Work, reason: str) -> None:
    """A stage's decision that the whole frame is not worth sending (a triage classifier's): every tile dropped
    with ``reason``, which the frame ledger records as that stage's decision (not a loss), and the later stages
    skip the frame. ValueError for a reason that cannot name a decision (:func:`reason_problem`)."""
    if problem := reason_problem(reason):
        raise ValueError(problem)
    work.dropped += [(tile, reason) for tile in work.tiles]
    work.tiles = []
    work.discarded = reason


def _n_samples(tiles: list[Tile]) -> int:
    return int(sum(t.dn.size for t in tiles))


def _unencoded(work: Work) -> list[Tile]:
    """Tiles still to encode: a stage may encode an auxiliary product (a cloud mask) itself."""
    return [t for t in work.tiles if t.payload is None]


class BentPipe(Stage):
    """Raw frames go down as they are: bit-packed at the camera's bit depth."""

    name = "bent_pipe"
    terminal = True

    @dataclass(frozen=True)
    class Params:
        pass

    # NOTE: measured by benchmarks/pipeline.py on the reference host (bit packing, samples per second).
    REFERENCE_SAMPLES_PER_S = 60e6

    def process(self, work: Work) -> None:
        for tile in _unencoded(work):
            tile.payload = codec.pack_bits(tile.dn, self.ctx.bit_depth)
            tile.format = "raw"

    def cost_s(self, work: Work) -> float:
        return _n_samples(_unencoded(work)) / self.REFERENCE_SAMPLES_PER_S


class Encode(Stage):
    """Compression of every kept tile: PNG through OpenCV (1, 3 or 4 bands), a GeoTIFF with deflate through GDAL that
    carries the tile's georeferencing (:func:`tile_georef`), or a flight-class codec of :mod:`rundir.flight_codecs`
    (CCSDS 121.0-B-3, JPEG-LS, JPEG 2000, JPEG XL, zstd; its docstrings name the flight standard each is or stands
    in for). Lossless
    unless a lossy setting is given: ``max_error_dn`` (JPEG-LS near-lossless), ``bits_per_sample`` (JPEG 2000 at a
    rate) or ``distance`` (JPEG XL). Each tile's meta says whether it is lossless, its error bound, and (lossless)
    the sha256 of its DN, which the manifest carries so that the ground checks the decoded pixels bit for bit.
    A lossy or PNG tile with fill (DN 0 in every band) gets GDAL's external mask file
    (:func:`rundir.codec.fill_mask`), which travels with it as a sidecar: a lossy codec does not keep the fill's DN,
    and a PNG holds no mask for a GIS to read.
    For a lossy tile, the DN it was made from (and, with B, G and R bands, the spectral cloud test on them and on the
    decoded tile) go to ``RUN/evaluation/`` for scoring, never downlinked (:func:`onboard.pipeline.alternatives.lossy_scoring`).
    """

    name = "encode"
    terminal = True

    @dataclass(frozen=True)
    class Params:
        format: Literal["png", "tiff", "ccsds121", "jpegls", "jpeg2000", "jpegxl", "zstd"] = spec(
            "png", doc="png (1, 3 or 4 bands), tiff (deflate), ccsds121 (adaptive Rice, the flight standard), jpegls, "
            "jpeg2000, jpegxl, or zstd over bit-packed DN")
        level: int = spec(3, ge=1, le=22, doc="deflate level (png, tiff: 1-9), zstd level (1-22), JPEG XL effort "
                          "(1-9); 3 is within 1% of deflate 6's size at a third of the time")
        max_error_dn: int = spec(0, ge=0, le=flight_codecs.MAX_NEAR_DN,
                                 doc="jpegls only: near-lossless, the largest absolute error of any sample (0 lossless)")
        bits_per_sample: float | None = spec(None, gt=0, lt=16, doc="jpeg2000 only: lossy at this rate, bits per sample "
                                             "(lossless where that rate holds it); unset: lossless")
        distance: float = spec(0.0, ge=0, le=flight_codecs.MAX_JPEGXL_DISTANCE,
                               doc="jpegxl only: lossy at this Butteraugli distance (0 lossless, 1 visually lossless)")

        @property
        def lossy(self) -> flight_codecs.Lossy:
            return flight_codecs.Lossy(self.max_error_dn, self.bits_per_sample, self.distance)

    # NOTE: measured by benchmarks/pipeline.py (png, tiff: level 3) and benchmarks/codecs.py (the flight-class
    # codecs, lossless, level 3; benchmarks/results/codecs.json) on the reference host, samples per second. TIFF's
    # was stale (measured 3.4-3.7x it where PNG ran 1.5-1.8x its own); it is PNG's times their measured ratio,
    # 3.4-3.6 in three runs on 2026-12-06. JPEG 2000's is one thread's (codecs.json's runs OpenJPEG on every core).
    # CCSDS 121's is zstd's times their measured ratio, 0.9 (0.98 and 0.81 in two interleaved runs on 2026-12-06).
    REFERENCE_SAMPLES_PER_S = {"png": 10e6, "tiff": 35e6, "ccsds121": 47e6, "jpegls": 27e6, "jpeg2000": 4.7e6,
                               "jpegxl": 12.6e6, "zstd": 52e6}

    def process(self, work: Work) -> None:
        fmt, lossy = self.params.format, self.params.lossy
        for tile in _unencoded(work):
            georef = product_georef(work.frame, tile, self.ctx, fmt)
            tile.payload = codec.encode(tile.dn, fmt, self.ctx.bit_depth, self.params.level, georef, lossy)
            tile.format = fmt
            lossless = lossy.lossless(fmt)
            tile.meta = dataclasses.replace(tile.meta, lossless=lossless, max_error_dn=lossy.max_error_bound_dn(fmt),
                                            dn_sha256=codec.dn_sha256(tile.dn) if lossless else None)
            if tile.kind == "image":
                tile.fill_mask = codec.product_fill_mask(tile.dn, fmt, lossless)
            if not lossless and tile.kind == "image":
                start = time.perf_counter()
                work.evaluation.update(alternatives.lossy_scoring(tile, self.ctx))
                work.scoring_wall_s[self.name] = work.scoring_wall_s.get(self.name, 0.0) + time.perf_counter() - start

    def cost_s(self, work: Work) -> float:
        samples_per_s = self.REFERENCE_SAMPLES_PER_S[self.params.format]
        if self.params.bits_per_sample is not None:  # the lossless encode, then one at the rate
            samples_per_s /= 2
        return _n_samples(_unencoded(work)) / samples_per_s

    LEVELS = {"png": (1, 9), "tiff": (1, 9), **flight_codecs.LEVELS}  # what ``level`` means differs by format
    LOSSY_FIELDS = (("max_error_dn", "jpegls", 0), ("bits_per_sample", "jpeg2000", None), ("distance", "jpegxl", 0.0))

    @classmethod
    def check(cls, params: Any, index: int, names: list[str], bands: tuple[str, ...]) -> list[ConfigIssue]:
        fmt = params.format
        out = [issue_at(name, f"{name} only with format {owner} (or left out)", f"{name} {getattr(params, name)} with format {fmt}")
                       for name, owner, unset in cls.LOSSY_FIELDS if fmt != owner and getattr(params, name) != unset]
        if fmt == "png" and bands and len(bands) not in (1, 3, 4):
            out.append(issue_at("format", "tiff for a camera with 2 or more than 4 bands (PNG holds 1, 3 or 4)", f"png with {len(bands)} bands"))
        if fmt in cls.LEVELS and not cls.LEVELS[fmt][0] <= params.level <= cls.LEVELS[fmt][1]:
            low, high = cls.LEVELS[fmt]
            out.append(issue_at("level", f"{low} to {high} for format {fmt}", f"{params.level} with format {fmt}"))
        return out
