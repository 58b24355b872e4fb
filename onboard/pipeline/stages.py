"""The on-board pipeline: stages registered by name, run in the order the scenario lists them.

A stage transforms a :class:`Work` item (the tiles of one captured frame) in place and says how long it would
take on the reference host (``cost_s``); the simulation scales that by the hardware profile. The last stage
is an encoder (``bent_pipe`` or ``encode``) that turns every kept tile into downlink bytes. Other stages (the
cloud filter, super-resolution) register themselves with :func:`register` in the modules ``STAGE_MODULES`` lists,
and need no change to the simulation; other distributions add stages as plugins (:mod:`onboard.pipeline.plugins`).
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from rundir import codec, flight_codecs
from rundir.errors import ConfigIssue
from rundir.run_info import ModelFile, ModelValidation

from . import alternatives, plugins
from .tile import Tile, Work, unstack
from ..scenario.schema import issue_at, spec

STAGES: dict[str, type["Stage"]] = {}  # filled by register(); read it through builtin_stage_classes()
STAGE_MODULES = ("onboard.pipeline.cloud", "onboard.pipeline.superres")
"""The modules that define stages beyond this module's encoders (each registers its own with :func:`register`);
:func:`stage_classes` imports them in this order. A new stage module is added here."""


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


def scenario_path(name: str, scenario_dir: Path | None) -> Path:
    """The file a stage parameter names: ``name`` itself when absolute, else relative to the scenario's directory
    (the working directory when it is not known)."""
    path = Path(name).expanduser()
    return path if path.is_absolute() else (scenario_dir or Path.cwd()) / path


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


class Stage:
    """Base of registered stages. Subclasses set ``name``, ``Params`` and ``terminal``."""

    name: ClassVar[str]
    Params: ClassVar[type]
    terminal: ClassVar[bool] = False  # an encoder: must come last
    uses: ClassVar[Literal["cpu", "int8"]] = "cpu"
    burst_scale: int | None = None  # a stage that needs a burst of frames sets its super-resolution factor
    model_card: ModelValidation | None = None  # a stage that runs a shipped model: what its card says it is worth
    model_file: ModelFile | None = None  # a stage that runs a model: which file (path, card name, version, sha256)

    def __init__(self, params: Any, ctx: Context):
        self.params = params
        self.ctx = ctx

    def process(self, work: Work) -> None:
        raise NotImplementedError

    def cost_s(self, work: Work) -> float:
        """Seconds this stage takes for ``work`` on the reference host (deterministic)."""
        raise NotImplementedError

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


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator: make a stage available to scenarios under ``cls.name``."""
    STAGES[cls.name] = cls
    return cls


def builtin_stage_classes() -> dict[str, type[Stage]]:
    """The stages orbitedge ships, by name: the encoders here and the stages of STAGE_MODULES (imported on the first
    call, so that importing the config or this module loads no model code)."""
    for module in STAGE_MODULES:
        importlib.import_module(module)
    return STAGES


def plugin_stages() -> dict[str, plugins.StagePlugin]:
    """The installed stage plugins by stage name, none imported yet (:func:`onboard.pipeline.plugins.installed`; PluginError
    for a plugin that takes a built-in stage's name)."""
    return plugins.installed(frozenset(builtin_stage_classes()))


def stage_class(name: str) -> type[Stage]:
    """The class of stage ``name``: a built-in one, or an installed plugin's, imported now. KeyError for a name that
    neither has; PluginError (:mod:`onboard.pipeline.plugins`) for a plugin that does not load."""
    builtin = builtin_stage_classes()
    return builtin[name] if name in builtin else plugin_stages()[name].load(Stage)


def stage_classes() -> dict[str, type[Stage]]:
    """Every stage a scenario may name, by name: the built-in ones, then every installed plugin's (each imported:
    PluginError for one that does not load)."""
    return {**builtin_stage_classes(), **{name: p.load(Stage) for name, p in plugin_stages().items()}}


def discard_frame(work: Work, reason: str) -> None:
    """A stage's decision that the whole frame is not worth sending (a triage classifier's): every tile dropped
    with ``reason``, which the frame ledger records as that stage's decision (not a loss), and the later stages
    skip the frame."""
    work.dropped += [(tile, reason) for tile in work.tiles]
    work.tiles = []
    work.discarded = reason


def check_stage(stage: Any, index: int, stages: list[Any], bands: tuple[str, ...],
                scenario_dir: Path | None = None) -> list[ConfigIssue]:
    """Validate one configured stage against the whole pipeline and the files it reads (config calls this): its
    issues at paths relative to the stage's item."""
    names = [s.name for s in stages]
    cls = stage_class(stage.name)
    out = list(cls.check(stage.params, index, names, bands)) + list(cls.check_files(stage.params, bands, scenario_dir))
    last = index == len(stages) - 1
    if cls.terminal and not last:
        out.append(issue_at("stage", f"an encoder ({stage.name}) only as the last stage", f"at position {index + 1} of {len(stages)}"))
    if last and not cls.terminal:
        encoders = ", ".join(sorted(n for n, c in builtin_stage_classes().items() if c.terminal))
        out.append(issue_at("stage", f"the last stage to be an encoder ({encoders})", repr(stage.name)))
    return out


def _n_samples(tiles: list[Tile]) -> int:
    return int(sum(t.dn.size for t in tiles))


def _unencoded(work: Work) -> list[Tile]:
    """Tiles still to encode: a stage may encode an auxiliary product (a cloud mask) itself."""
    return [t for t in work.tiles if t.payload is None]


@register
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


@register
class Encode(Stage):
    """Compression of every kept tile: PNG through OpenCV (1, 3 or 4 bands), a GeoTIFF with deflate through GDAL that
    carries the tile's georeferencing (:func:`tile_georef`), or a flight-class codec of :mod:`rundir.flight_codecs`
    (JPEG-LS, JPEG 2000, JPEG XL, zstd; its docstrings name the flight standard each stands in for). Lossless
    unless a lossy setting is given: ``max_error_dn`` (JPEG-LS near-lossless), ``bits_per_sample`` (JPEG 2000 at a
    rate) or ``distance`` (JPEG XL). Each tile's meta says whether it is lossless, its error bound, and (lossless)
    the sha256 of its DN, which the manifest carries so that the ground checks the decoded pixels bit for bit.
    For a lossy tile, the DN it was made from (and, with B, G and R bands, the spectral cloud test on them and on the
    decoded tile) go to ``RUN/evaluation/`` for scoring, never downlinked (:func:`onboard.pipeline.alternatives.lossy_scoring`).
    """

    name = "encode"
    terminal = True

    @dataclass(frozen=True)
    class Params:
        format: Literal["png", "tiff", "jpegls", "jpeg2000", "jpegxl", "zstd"] = spec(
            "png", doc="png (1, 3 or 4 bands), tiff (deflate), jpegls, jpeg2000, jpegxl, or zstd over bit-packed DN")
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
    # codecs, lossless, level 3; benchmarks/results/codecs.json) on the reference host, samples per second.
    REFERENCE_SAMPLES_PER_S = {"png": 10e6, "tiff": 16e6, "jpegls": 27e6, "jpeg2000": 4.7e6, "jpegxl": 12.6e6,
                               "zstd": 52e6}

    def process(self, work: Work) -> None:
        fmt, lossy = self.params.format, self.params.lossy
        for tile in _unencoded(work):
            georef = tile_georef(work.frame, tile, self.ctx) if fmt == "tiff" else None
            tile.payload = codec.encode(tile.dn, fmt, self.ctx.bit_depth, self.params.level, georef, lossy)
            tile.format = fmt
            lossless = lossy.lossless(fmt)
            tile.meta = dataclasses.replace(tile.meta, lossless=lossless, max_error_dn=lossy.max_error_bound_dn(fmt),
                                            dn_sha256=codec.dn_sha256(tile.dn) if lossless else None)
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


class Pipeline:
    """The configured stages, ready to run on frames (a frame with a ``burst`` runs as a stack of K frames)."""

    def __init__(self, stage_configs: tuple[Any, ...], ctx: Context):
        self.stages = [stage_class(s.name)(s.params, ctx) for s in stage_configs]
        self.ctx = ctx

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    @property
    def burst_scale(self) -> int | None:
        """The super-resolution factor when a stage needs bursts of frames, else None."""
        return next((s.burst_scale for s in self.stages if s.burst_scale), None)

    def run(self, frame: Any, priority: int = 1) -> Work:
        """Run every stage on one frame; returns the Work with payloads and simulated time on this hardware:
        projected from the reference host's cost through the profile, or (``timing: measured``) the wall time
        each stage took here, on the device running the simulation, less what it spent on scoring-only extras.
        A frame a stage discards (:func:`discard_frame`) goes through no later stage."""
        burst = getattr(frame, "burst", None)
        dn = burst.lr_dn if burst is not None else frame.dn
        work = Work(frame=frame, tiles=[Tile(dn=dn, row0=0, col0=0, priority=priority)])
        for stage in self.stages:
            if stage.terminal:
                work.tiles = unstack(work.tiles)
            speed = self.ctx.int8_conv_relative if stage.uses == "int8" else self.ctx.cpu_relative
            projected_s = stage.cost_s(work) / speed
            start = time.perf_counter()
            stage.process(work)
            work.wall_s[stage.name] = time.perf_counter() - start
            measured_s = work.wall_s[stage.name] - work.scoring_wall_s.get(stage.name, 0.0)
            work.sim_stage_s[stage.name] = measured_s if self.ctx.timing == "measured" else projected_s
            work.sim_s += work.sim_stage_s[stage.name]
            work.stages.append(stage.name)
            work.dropped_by += [stage.name] * (len(work.dropped) - len(work.dropped_by))  # its decisions
            if work.discarded is not None:
                break
        work.alternative_bytes = self.alternative_bytes(work)
        return work

    def alternative_bytes(self, work: Work) -> dict[str, int]:
        """Bytes simpler pipelines would downlink for this capture, for the report's comparison (their names and
        meaning: :func:`onboard.pipeline.alternatives.estimates`); the frame and the lossy alternative's codestream go to
        ``work.evaluation`` for scoring on the ground. The encoded sizes use this run's encoder format and level
        (losslessly), or PNG (TIFF beyond 4 bands) after a bent-pipe stage."""
        encode = next((s for s in self.stages if isinstance(s, Encode)), None)
        fmt = encode.params.format if encode else ("png" if work.frame.dn.shape[-1] in (1, 3, 4) else "tiff")
        level = encode.params.level if encode else Encode.Params().level
        out, evaluation = alternatives.estimates(work, self.ctx, fmt, level)
        work.evaluation.update(evaluation)
        return out
