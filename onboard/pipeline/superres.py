"""The ``superres`` stage: K low-res frames of a burst in, one product ``scale`` times finer out.

The burst is registered on board (ECC or phase correlation, :mod:`onboard.pipeline.registration`) on the pixels the cloud
stage found clear in each frame (all pixels without a cloud stage), then fused by the full-int8 MISR model
(:func:`onboard.pipeline.fusion.misr`, sliding window with cropped edges) or a classic method. ``model`` may name a user's
MISR model file instead (relative to the scenario, its card beside it): it takes what the shipped one takes, the
standardised planes folded by space-to-depth (scale² x 3 channels), and gives the correction at the finer scale. The product keeps the
camera's calibration: DN at its bit depth, on a grid of ``gsd_m / scale``. At scale s it holds s² times the
pixels of one frame, so it saves downlink against the K raw frames only when K > s².

For scoring on the ground, never downlinked, the stage keeps in ``RUN/evaluation/``: the estimated shifts and,
with ``evaluate: true``, what the float32 twin and the two classic baselines make of the same registered burst
(frame 0, which the report's crops show, is there already as the scene's single frame). Plain bicubic registers
nothing on board: its shifts are estimated for the report.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np

from rundir.codec import FILL_DN, has_data, reserve_fill
from rundir.errors import ConfigIssue, InputFileError
from rundir.evaluation import SR_SHIFTS_KEY, sr_method_key
from rundir.run_info import ModelFile

from . import fusion, registration, tiling
from .spill import SpilledImage
from .stages import Context, Stage, model_speed
from .tile import Tile, Work
from ..runtime.modelcard import MODEL_DIR, shipped_card
from ..runtime.model import MODEL_LOADS, Model, cached_model, is_model_file
from ..scenario.config_files import scenario_path
from ..scenario.schema import issue_at, spec

# NOTE: host time per low-res megapixel per frame, measured by benchmarks/pipeline.py (2-core host, one thread).
REGISTRATION_S_PER_MPX = {"ecc": 0.15, "phase": 0.05}
# The classic fusion of a burst of 8 per low-res megapixel, by method and scale. The fusion planes (the registered
# bicubic mean and the shift-and-add grid, what the model and shift_and_add compute) take 2.6 s at x2 as measured
# with the constants above; x3 and x4 come from it by their ratios to x2 in benchmarks/pipeline.py (the median of
# three runs on 2026-12-06: 1.03 and 1.43; the grids hold s² times the pixels, but the work per low-res pixel
# dominates). The bicubic methods compute only a mean and its upsampling: the registered mean (0.59, 0.62 and 0.67
# times the x2 planes at x2, x3 and x4) and, for plain bicubic, the unregistered one, which needs no registration
# either (0.26, 0.27 and 0.29; the median of three runs of benchmarks/pipeline.py's measure_superres on 2026-12-06).
_PLANES_S_PER_MPX = {2: 2.6, 3: 2.7, 4: 3.7}
FUSION_S_PER_MPX = {"model": _PLANES_S_PER_MPX, "shift_and_add": _PLANES_S_PER_MPX,
                    "bicubic_registered": {2: 1.5, 3: 1.6, 4: 1.7}, "bicubic": {2: 0.68, 3: 0.70, 4: 0.75}}
# NOTE: the network is six 3 x 3 convolutions deep at low resolution, so 6 px of context a side make a window's
# cropped core exact up to the per-window standardisation. Measured on the quickstart (256 px frames): 100 windows
# instead of the 144 of the model card's 16 px overlap, for -0.002 dB.
OVERLAP_PX = 12
# bicubic: of the mean of the clear frames, unregistered (the PROBA-V baseline); bicubic_registered: of their
# registered mean (the model's starting point)
BASELINES = ("model_float32", "bicubic", "bicubic_registered", "shift_and_add")
TASK = "super-resolution"  # the MLM task a user's MISR model's card names


def model_name(scale: int, kind: str = "int8") -> str:
    """The shipped MISR model for ``scale``: ``superres_x{scale}_{kind}``."""
    return f"superres_x{scale}_{kind}"


def shipped_scales() -> list[int]:
    """Scales with a shipped int8 MISR model."""
    return sorted(int(p.stem.split("_x")[1].split("_")[0]) for p in MODEL_DIR.glob("superres_x*_int8.tflite"))


@cache
def load_model(name: str, threads: int) -> Model:
    """A shipped MISR model on the host CPU (cached per run)."""
    return Model(MODEL_DIR / f"{name}.tflite", threads=threads)


def user_model_problems(model: Model, scale: int) -> list[ConfigIssue]:
    """What keeps a user's MISR model (loaded and matching its card) from the stage at ``scale``, each at the
    stage's ``model`` with what was expected and what was found: its task, its input (one square window of
    scale² x 3 folded planes), its output (the correction, one channel, scale times finer) and its card's host
    latency."""
    where = f"{model.path} (card {model.card.path})"
    problems = []
    if model.card.task != TASK:
        problems.append(issue_at("model", f"a {TASK} model", f"{where}, task {model.card.task!r}"))
    if shapes := fusion.misr_shape_problem(model.input_shape, model.output_shape, scale):
        problems.append(issue_at("model", shapes[0], f"{where}: {shapes[1]}"))
    try:
        model.card.host_latency_s
    except InputFileError:
        problems.append(issue_at("model", "a card with a benchmark block (host_latency_ms_p50, the stage's "
                                          "simulated time; orbitedge card init measures it)", f"{where}, without one"))
    return problems


def to_dn(reflectance: np.ndarray, reflectance_per_dn: float, bit_depth: int) -> np.ndarray:
    """TOA reflectance to uint16 DN through the camera's calibration, rounded and clipped to the bit depth (a product
    then gets :func:`rundir.codec.reserve_fill` over its bands, once all are made)."""
    dn = np.asarray(reflectance, np.float32) / np.float32(reflectance_per_dn)
    np.rint(dn, out=dn)
    np.clip(dn, 0, (1 << bit_depth) - 1, out=dn)
    return dn.astype(np.uint16)


class SuperResolution(Stage):
    """Fuse each burst into one finer product, so that one image goes down instead of K."""

    name = "superres"

    @dataclass(frozen=True, kw_only=True)
    class Params:
        scale: int = spec(2, ge=fusion.SCALES[0], le=fusion.SCALES[-1],
                          doc="resolution gain; the product has scale² times a frame's pixels")
        method: Literal["model", "shift_and_add", "bicubic_registered", "bicubic"] = spec(
            "model", doc="the MISR model, or a classic fusion")
        registration: Literal["ecc", "phase"] = spec("ecc", doc="sub-pixel shift estimation")
        overlap_px: int = spec(OVERLAP_PX, ge=0, le=32, doc="model sliding-window overlap, low-res px; half is "
                               "cropped from each inner edge (12: the network's receptive field, 6 px a side)")
        evaluate: bool = spec(True, doc="also run the float32 twin and the baselines for the report (host time only)")
        threads: int = spec(1, ge=1, le=64, doc="interpreter threads on the host")
        model: str = spec("auto", file=is_model_file,
                          doc="auto: the shipped MISR model for the scale; or a .tflite or .onnx MISR model relative "
                              "to the scenario, with its card beside it (the shipped model's input and output)")

    @classmethod
    def check(cls, params: Any, index: int, names: list[str], bands: tuple[str, ...]) -> list[ConfigIssue]:
        out = []
        if params.model != "auto" and not is_model_file(params.model):
            out.append(issue_at("model", "auto (the shipped MISR model for the scale), or a .tflite or .onnx MISR "
                                "model file relative to the scenario", repr(params.model)))
        elif params.model != "auto" and params.method != "model":  # as the cloud filter's spectral method
            out.append(issue_at("model", f"no model with method: {params.method} (it runs none; method: model runs "
                                "it)", repr(params.model)))
        elif params.method == "model" and is_model_file(params.model):
            pass  # check_files: the file, its card and the model
        elif params.method == "model" and params.scale not in shipped_scales():
            have = ", ".join(f"x{s}" for s in shipped_scales()) or "none"
            out.append(issue_at("scale", f"a scale with a shipped MISR model ({have}), or method shift_and_add or bicubic",
                                f"x{params.scale} with method model"))
        if params.method == "model" and not out and not is_model_file(params.model):  # opens the stage's models
            for twin in ("int8", "float32") if params.evaluate else ("int8",):
                try:
                    load_model(model_name(params.scale, twin), params.threads)
                except InputFileError as err:
                    out.append(issue_at("method", "MISR model files that load and match their cards", str(err)))
        if "cloud_filter" in names and names.index("cloud_filter") > index:
            out.append(issue_at("stage", "superres after cloud_filter (it fuses the clear pixels only)",
                                f"superres at position {index + 1}, cloud_filter at {names.index('cloud_filter') + 1}"))
        return out

    @classmethod
    def check_files(cls, params: Any, bands: tuple[str, ...], scenario_dir: Path | None) -> list[ConfigIssue]:
        if params.method != "model" or not is_model_file(params.model):
            return []
        path = scenario_path(params.model, scenario_dir)
        try:
            model = cached_model(path, params.threads)
        except InputFileError as err:
            return [issue_at("model", f"{MODEL_LOADS} (orbitedge card init MODEL writes one)",
                             str(err))]
        return user_model_problems(model, params.scale)

    def __init__(self, params: Any, ctx: Context):
        super().__init__(params, ctx)
        self.burst_scale = params.scale
        self.user_model = scenario_path(params.model, ctx.scenario_dir) if is_model_file(params.model) else None
        name = model_name(params.scale)
        self.model_name = name if params.scale in shipped_scales() and self.user_model is None else None
        if self.user_model is not None:
            model = cached_model(self.user_model, params.threads)
            self.window_px, self.latency_s = model.input_shape[1], model.card.host_latency_s
            card = model.card
        else:
            card = shipped_card(name) if self.model_name else None
            self.window_px = card.inputs[0].shape[1] if card else 0
            self.latency_s = card.host_latency_s if card else 0.0
        self.model_file = (ModelFile.of(params.model if self.user_model is not None else name, card)
                           if card and params.method == "model" else None)
        self.uses = model_speed(card if params.method == "model" else None)

    def _model(self, method: str) -> Model:
        """The interpreter of a model method: ``model_int8`` (the user's model, when the stage names one) or
        ``model_float32``."""
        if self.user_model is not None and method == "model_int8":
            return cached_model(self.user_model, self.params.threads)
        return load_model(model_name(self.params.scale, method.removeprefix("model_")), self.params.threads)

    def _means(self, lr_dn: np.ndarray, clear: np.ndarray, shifts: np.ndarray | None = None) -> np.ndarray:
        """(H, W, B) float32: :func:`onboard.pipeline.fusion.mean_frame` of the burst ``lr_dn`` (K, H, W, B), registered
        with ``shifts``, each band's mean made from that band alone (the same values), reading a frame's DN as
        reflectance when it sums that frame."""
        return np.concatenate([fusion.mean_frame(lr_dn[..., b:b + 1], clear, shifts, self.ctx.reflectance)
                               for b in range(lr_dn.shape[-1])], axis=-1)

    def _fused(self, lr_dn: np.ndarray, clear: np.ndarray, shifts: np.ndarray, method: str,
               others: list[str], spill_dir: Path | None = None) -> tuple[dict[str, Any], float]:
        """{name: (H*s, W*s, B) uint16 DN} of ``method`` and the report's ``others``, and the seconds spent on work
        for ``others`` alone (scoring work). With ``spill_dir`` each of ``others`` is a
        :class:`~onboard.pipeline.spill.SpilledImage` there, written as it is made. Every method is made one band at
        a time and, within a band, a run of
        rows at a time: the upsampled means strip by strip, the fusion planes block by block as the model's
        windows read them (:class:`onboard.pipeline.fusion.BandPlanes`), every model in one pass of windows, and
        the baselines drawn from the planes as each block is made. A 4096 x 3072 burst of 8 is 1.6 GB as float32
        and its planes 2.4 GB at x2: what this holds beyond the outputs and the means is the models' outputs for
        one row of windows and two blocks of planes (at x3, also the band's upsampled mean). The means and the
        planes are on-board work for the methods made from them, scoring work for the baselines alone."""
        names, s, clock = [method, *others], self.params.scale, _Clock()
        _, h, w, bands = lr_dn.shape
        fused = {m: np.empty((h * s, w * s, bands), np.uint16) if m == method or spill_dir is None else
                 SpilledImage((h * s, w * s, bands), spill_dir) for m in names}

        def put(m: str, band: int, row0: int, reflectance: np.ndarray) -> None:  # low-res row0 on, of a band of m
            clock.timed(m == method, _put_dn, fused[m], band, row0 * s, reflectance, self.ctx)

        registered = clock.timed(method != "bicubic", self._means, lr_dn, clear, shifts) if names != ["bicubic"] \
            else None
        plain = clock.timed(method == "bicubic", self._means, lr_dn, clear) if "bicubic" in names else None
        alone = [(m, mean) for m, mean in (("bicubic", plain), ("bicubic_registered", registered))
                 if m == method or m == "bicubic" and mean is not None]  # made from their means alone
        banded = [m for m in names if m in ("model_int8", "model_float32", "shift_and_add")]
        models = [m for m in banded if m.startswith("model")]
        from_planes = [(m, p) for m, p in (("bicubic_registered", 0), ("shift_and_add", 1))
                       if m in names and m not in dict(alone)]
        for band in range(bands):
            for m, mean in alone:
                for rows in fusion.strips(h, s):
                    put(m, band, rows[0], clock.timed(m == method, fusion.upsample_band, mean, band, s, rows))
            if not banded:
                continue

            def emit(row0: int, planes: np.ndarray, band: int = band) -> None:
                for m, p in from_planes:
                    put(m, band, row0, planes[..., p:p + 1])

            planes = fusion.BandPlanes(lr_dn[..., band:band + 1], shifts, clear, s, registered, band,
                                       self.ctx.reflectance, emit)
            if models:
                def fused_rows(row0: int, out: np.ndarray, band: int = band) -> None:  # a row of windows' cores
                    for i, m in enumerate(models):
                        put(m, band, row0 // s, out[..., i:i + 1])

                readers = [_TimedModel(self._model(m), clock, m == method) for m in models]
                clock.timed(method in models, fusion.misr_from_planes, readers,
                            _TimedRows(planes, clock, method in banded), s, self.params.overlap_px, fused_rows)
            else:
                clock.timed(method in banded, planes.blocks)
        for m, image in fused.items():  # a pixel is fill when every band is
            fill = SpilledImage.reserve_fill if isinstance(image, SpilledImage) else reserve_fill
            clock.timed(m == method, fill, image)
        return fused, clock.scoring_s

    def process(self, work: Work) -> None:
        burst = work.frame.burst
        s = self.params.scale
        data = has_data(burst.lr_dn)  # (K, H, W): fill (off a GeoTIFF's data) is no sample of the ground
        clear = work.clear if work.clear is not None else data
        method = "model_int8" if self.params.method == "model" else self.params.method
        start = time.perf_counter()
        brightness = np.empty(burst.lr_dn.shape[:3], np.float32)  # (K, H, W): registration's plane, the bands' mean
        for frame, frame_dn in zip(brightness, burst.lr_dn):
            frame[...] = self.ctx.reflectance(frame_dn).mean(axis=-1)
        shifts = registration.register(brightness, clear, self.params.registration,
                                       max_shift_px=self.ctx.pointing_jitter_px)
        del brightness
        scoring_s = time.perf_counter() - start if method == "bicubic" else 0.0  # its shifts are for the report alone
        others = ([m for m in BASELINES if m != method and (self.model_name or not m.startswith("model"))]
                  if self.params.evaluate else [])
        fused, baselines_s = self._fused(burst.lr_dn, clear, shifts, method, others, work.spill_dir)
        scoring_s += baselines_s
        product = fused.pop(method)
        if not data.all():  # where no frame saw any world, the product holds fill too
            product[np.repeat(np.repeat(~data.any(axis=0), s, 0), s, 1)] = FILL_DN
        work.evaluation[SR_SHIFTS_KEY] = shifts  # frame 0, the crops' low-res panel, is the scene's single frame
        work.evaluation.update((sr_method_key(other), out) for other, out in fused.items())
        if scoring_s:  # not on-board work: measured time omits it
            work.scoring_wall_s[self.name] = scoring_s
        tiles = []
        for tile in work.tiles:
            if tile.kind != "image":
                tiles.append(tile)
                continue
            h, w = tile.dn.shape[-3:-1]
            dn = product[s * tile.row0:s * (tile.row0 + h), s * tile.col0:s * (tile.col0 + w)]
            if tile.meta.cloudy is not None:
                dn = np.where(np.repeat(np.repeat(tile.meta.cloudy, s, 0), s, 1)[..., None], np.uint16(FILL_DN), dn)
            tiles.append(Tile(dn=dn, row0=s * tile.row0, col0=s * tile.col0, priority=tile.priority,
                              meta=replace(tile.meta, cloudy=None, scale=s, burst_frames=burst.k)))
        work.tiles = tiles

    def cost_s(self, work: Work) -> float:
        """The sum of :meth:`cost_by_speed_s`."""
        return sum(self.cost_by_speed_s(work).values())

    def cost_by_speed_s(self, work: Work) -> dict[str, float]:
        """Registration of the whole frame (its shifts come from every clear pixel; none for plain bicubic), then the
        method's fusion of the image tiles still to go down (a cloud filter before this stage leaves fewer) per
        low-res megapixel (:data:`FUSION_S_PER_MPX`), both CPU work (``cpu``); plus the model windows whose cropped
        core meets one of those tiles, per band at the card's host latency, at the model's speed (``uses``: an int8
        model runs at the profile's int8 speed, an Edge TPU's for one, which registration and fusion never see). A
        frame no stage filtered costs what its whole frame costs; one with no image tile left (a cloud mask alone)
        costs nothing. What :meth:`process` does only for the report (plain bicubic's registration, the planes of
        the bicubic methods, the baselines) is no on-board work: measured timing leaves it out too."""
        h, w = work.frame.dn.shape[:2]
        kept = [tile for tile in work.tiles if tile.kind == "image"]
        if not kept:
            return {"cpu": 0.0}
        k, method = work.frames, self.params.method
        cpu_s = 0.0  # plain bicubic averages the frames unregistered
        if method != "bicubic":
            cpu_s += (k - 1) * h * w / 1e6 * REGISTRATION_S_PER_MPX[self.params.registration]
        area_px = sum(t.dn.shape[-3] * t.dn.shape[-2] for t in kept)
        cpu_s += k / 8 * area_px / 1e6 * FUSION_S_PER_MPX[method][self.params.scale]
        cost = {"cpu": cpu_s}
        if self.params.method == "model":
            needed = [win for win in tiling.windows(h, w, self.window_px, self.params.overlap_px)
                      if any(_meets(win.core, tile) for tile in kept)]
            model_s = len(self.ctx.bands) * len(needed) * self.latency_s
            cost[self.uses] = cost.get(self.uses, 0.0) + model_s
        return cost


class _Clock:
    """Wall time spent on scoring work: each timed part's time less that of the parts timed within it (exclusive
    time), counted when the part is not on-board work."""

    def __init__(self):
        self.scoring_s = 0.0
        self._inner_s = [0.0]  # per open part: the time of the parts timed within it

    def timed(self, on_board: bool, make: Callable[..., Any], *args: Any) -> Any:
        """``make(*args)``, its exclusive time counted as scoring work unless ``on_board``."""
        start = time.perf_counter()
        self._inner_s.append(0.0)
        try:
            return make(*args)
        finally:
            elapsed = time.perf_counter() - start
            inner = self._inner_s.pop()
            self._inner_s[-1] += elapsed
            if not on_board:
                self.scoring_s += elapsed - inner


class _TimedModel:
    """A model whose invocations go on a :class:`_Clock`, as on-board work or not."""

    def __init__(self, model: Model, clock: _Clock, on_board: bool):
        self.input_shape, self._model, self._clock, self._on_board = model.input_shape, model, clock, on_board

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._clock.timed(self._on_board, self._model.predict, x)


class _TimedRows:
    """:class:`onboard.pipeline.fusion.BandPlanes` whose rows, made as they are read, go on a :class:`_Clock`."""

    def __init__(self, planes: fusion.BandPlanes, clock: _Clock, on_board: bool):
        self.shape, self.ndim, self._planes, self._clock, self._on_board = planes.shape, 3, planes, clock, on_board

    def __getitem__(self, rows: slice | np.ndarray) -> np.ndarray:
        return self._clock.timed(self._on_board, self._planes.__getitem__, rows)


def _put_dn(out: np.ndarray | SpilledImage, band: int, row0: int, reflectance: np.ndarray, ctx: Context) -> None:
    """Rows ``row0`` on of ``band`` of ``out`` (H, W, B) uint16: ``reflectance`` (n, W, 1) as DN (:func:`to_dn`)."""
    dn = to_dn(reflectance[..., 0], ctx.reflectance_per_dn, ctx.bit_depth)
    if isinstance(out, SpilledImage):
        out.put_rows(band, row0, dn)
    else:
        out[row0:row0 + dn.shape[0], :, band] = dn


def _meets(core: tiling.Box, tile: Tile) -> bool:
    """Whether a window's core and an image tile (frame pixels) overlap."""
    height, width = tile.dn.shape[-3:-1]
    return (core.row0 < tile.row0 + height and tile.row0 < core.row1 and
            core.col0 < tile.col0 + width and tile.col0 < core.col1)
