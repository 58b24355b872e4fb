"""The ``cloud_filter`` stage: a full-int8 cloud segmentation model, run by sliding window, decides per tile.

The model gives a per-pixel cloud probability; ``model`` is a shipped model or a user's .tflite or .onnx file
(relative to the scenario, its card beside it: the card's scaling makes the model's input from TOA reflectance
or DN, its output's activation and ``cloud`` class make the probability from the output). Pixels at or above ``threshold`` are cloud; each ``tile_px`` square
tile whose cloud fraction exceeds ``max_cloud_fraction`` is dropped (``action: drop``) or keeps only its clear
pixels, the cloudy ones set to ``FILL_DN`` (0), "no data" (``action: mask``). The cloud mask itself can go down too,
losslessly compressed. ``method: spectral`` runs the classic threshold test instead of the model. Either way the
probability map and the spectral baseline's mask are kept for scoring in ``RUN/evaluation/``, never downlinked.
Each tile carries the count of pixels the filter found clear (``meta.clear_px``, the manifest's ``clear_px``; fill,
:func:`rundir.codec.has_data`, is not clear):
the on-board estimate of what the tile is worth, which the ``value_density`` downlink order ranks by.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from rundir.codec import FILL_DN, has_data
from rundir.errors import ConfigIssue, InputFileError
from rundir.evaluation import CLOUD_PROBABILITY_KEY, SPECTRAL_CLOUD_KEY
from rundir.run_info import HeldoutScores, ModelFile, ModelValidation
from rundir.tiles import cloud_fractions, tile_boxes, tile_sums, withheld

from . import spectral, tiling
from .stages import Context, Stage, model_speed
from .tile import Tile, TileMeta, Work
from ..runtime.card_metrics import real_validation_of
from ..runtime.modelcard import MODEL_DIR, ModelCard, load_card, shipped_card
from ..runtime.model import MODEL_LOADS, Model, cached_model, is_model_file
from ..scenario.config_files import scenario_path
from ..runtime.probe import DECISION_PROBABILITY, ceiling_problem, input_range_problem, probability_problem
from ..runtime.scaling import CAMERA_SOURCES
from ..scenario.schema import issue_at, spec

MODEL_FOR_BANDS = {("B", "G", "R", "NIR"): "cloud_bgrn_int8", ("B", "G", "R"): "cloud_rgb_int8"}
# NOTE: pixels per second of the spectral test (B G R NIR) on the reference host, measured by benchmarks/pipeline.py:
# 54-58 Mpx/s in three runs on 2026-12-06, when PNG level 3 ran 1.71-1.79x its reference (stages.Encode), so 31e6.
SPECTRAL_PX_PER_S = 31e6
SEGMENTATION_TASKS = ("segmentation", "semantic-segmentation")  # MLM task names of a per-pixel model
CLOUD_CLASS = "cloud"  # the output channel a multi-class model's card must name
NO_DATA = "no_data"  # the drop reason of a tile that is all fill (rundir.codec.has_data): no world there


def shipped_models() -> list[str]:
    """Names of the cloud models shipped in onboard/runtime/models/."""
    return sorted(p.stem for p in MODEL_DIR.glob("cloud_*.tflite"))


def model_name(requested: str, bands: tuple[str, ...]) -> str | None:
    """The model a stage will run: ``requested``, or for ``auto`` the one made for the camera's bands."""
    return MODEL_FOR_BANDS.get(tuple(bands)) if requested == "auto" else requested


def model_path(requested: str, bands: tuple[str, ...], scenario_dir: Path | None) -> Path:
    """The model file a stage will run: a user's file relative to the scenario, or a shipped model's."""
    if is_model_file(requested):
        return scenario_path(requested, scenario_dir)
    return MODEL_DIR / f"{model_name(requested, bands)}.tflite"


def load_model(path: Path, bands: tuple[str, ...] | None, threads: int) -> Model:
    """A model on the host CPU, checked against its card and the camera's bands (None: not against any bands): the
    card's bands must all be among them, since :func:`cloud_probability` picks them by name
    (:func:`runtime.cached_model`)."""
    return cached_model(path, threads, None if bands is None else tuple(bands), by_name=True)


def card_task(path: Path) -> str | None:
    """The task of the card beside model file ``path`` (``<stem>.json``), None where there is no card that reads
    (loading the model says why)."""
    try:
        return load_card(path.with_suffix(".json")).task
    except InputFileError:
        return None


def cloud_channel(model: Model) -> int:
    """The output channel holding cloud: the only one, or the card's class named ``cloud``. InputFileError naming
    the card otherwise."""
    out = model.card.outputs[0]
    channels = model.output_shape[-1]
    names = [c.lower() for c in out.classes or ()]
    if channels == 1 and not names:  # one unnamed channel: the cloud probability (a named one must say cloud)
        return 0
    if names.count(CLOUD_CLASS) > 1:  # a card written by hand: which channel holds cloud is not said
        raise InputFileError(model.card.path, f"the output's classes {list(out.classes)} name {CLOUD_CLASS!r} "
                                              f"{names.count(CLOUD_CLASS)} times (whatever the case): name each "
                                              "channel once, orbitedge card init --classes")
    if CLOUD_CLASS not in names:
        raise InputFileError(model.card.path, f"the output has {channels} channels and its classes "
                                              f"{list(out.classes or ())} name none {CLOUD_CLASS!r}: name the output "
                                              f"channels with orbitedge card init --classes, one of them {CLOUD_CLASS}")
    return names.index(CLOUD_CLASS)


def cloud_probability(model: Model, source: np.ndarray, bands: Sequence[str], overlap_px: int) -> np.ndarray:
    """(H, W) float32 cloud probability of an (H, W, B) frame in the source its card's scaling names (TOA
    reflectance or DN), its B channels the ``bands`` named: the card's bands picked out by name, in the card's order
    (every one must be among ``bands``: ValueError otherwise), the card's scaling, sliding windows overlapping by
    ``overlap_px``, the card's activation, its cloud channel (:func:`cloud_channel`), clipped to 0..1."""
    card_in, card_out = model.card.inputs[0], model.card.outputs[0]
    if tuple(card_in.bands) != tuple(bands):
        missing = [band for band in card_in.bands if band not in bands]
        if missing:
            raise ValueError(f"{model.path.name}: takes bands {list(card_in.bands)}, found {list(bands)}")
        source = source[..., [list(bands).index(band) for band in card_in.bands]]
    out = card_out.activate(model.predict_tiled(card_in.scaling.apply(source), overlap_px))
    return np.clip(out[..., cloud_channel(model)], 0.0, 1.0)


def user_model_problems(model: Model, overlap_px: int | None, threshold: float = DECISION_PROBABILITY
                        ) -> list[ConfigIssue]:
    """What keeps a user's model (loaded and matching its card) from the cloud stage, each at the stage's key it
    is about (``model``, ``overlap_px`` or ``threshold``) with what was expected and what was found: its task, its
    window, its output, its input's source, its integer input through its card's scaling (dark ground and cloud
    apart: :func:`runtime.probe.input_range_problem`), its outputs through its card's activation (probabilities:
    :func:`runtime.probe.probability_problem`), its largest integer output against the stage's ``threshold``
    (:func:`runtime.probe.ceiling_problem`) and its card's host latency (the stage's simulated time comes from
    it)."""
    card = model.card
    height = model.input_shape[1]
    where = f"{model.path} (card {card.path})"
    problems = []
    if card.task not in SEGMENTATION_TASKS:
        runs_it = " (the superres stage runs it)" if card.task == "super-resolution" else ""
        problems.append(issue_at("model", f"a segmentation model (task {' or '.join(SEGMENTATION_TASKS)})",
                                 f"{where}, task {card.task!r}{runs_it}"))
    if shapes := tiling.window_map_problem(model.input_shape, model.output_shape):
        problems.append(issue_at("model", tiling.WINDOW_MAP, f"{where}: {shapes}"))
    elif expected := tiling.overlap_problem(overlap_px, height, str(model.path)):
        problems.append(issue_at("overlap_px", expected, str(overlap_px)))
    if card.inputs[0].scaling.source not in CAMERA_SOURCES:
        problems.append(issue_at("model", f"inputs made from one of {', '.join(CAMERA_SOURCES)}",
                                 f"{where}, source {card.inputs[0].scaling.source!r}"))
    try:
        cloud_channel(model)
    except InputFileError:
        if len(model.output_shape) != 3:  # without a channel axis (window_map_problem says so) there is none to name
            problems.append(issue_at("model", f"one unnamed output channel, or the output's classes naming "
                                              f"{CLOUD_CLASS!r} (orbitedge card init --classes)",
                                     f"{where}: {model.output_shape[-1]} channel(s), classes "
                                     f"{list(card.outputs[0].classes or ())}"))
    scaling = card.inputs[0].scaling
    problems += [issue_at("model", "a card whose scaling makes inputs the model's integer input keeps apart (the "
                                   "scale and offset it was calibrated for: orbitedge card init --scale, --offset)",
                          f"{where}: {problem}")
                 for problem in [scaling.source in CAMERA_SOURCES and input_range_problem(model, scaling,
                                                                                          card.inputs[0].bands)]
                 if problem]
    problems += [issue_at("model", "a card naming the activation that makes probabilities of the outputs (none for "
                                   "outputs in 0..1, sigmoid for one channel of logits, softmax for one per class: "
                                   "orbitedge card init --activation)", f"{where}: {problem}")
                 for problem in [probability_problem(model, scaling, card.outputs[0].activation)] if problem]
    problems += [issue_at("threshold", "a threshold the model's largest output code reaches (or an output quantised "
                                       "over probabilities 0 to 1)", f"{threshold:g}: {where}: {problem}")
                 for problem in [ceiling_problem(model, card.outputs[0].activation, threshold)] if problem]
    try:
        card.host_latency_s
    except InputFileError:
        problems.append(issue_at("model", "a card with a benchmark block (host_latency_ms_p50, the stage's "
                                          "simulated time; orbitedge card init measures it)", f"{where}, without one"))
    return problems


def validation_figures(card: ModelCard, shipped: bool) -> ModelValidation:
    """What a cloud model's card says it is worth: its scores on real labelled tiles (pooled and per sensor) when its
    metrics have a ``real_validation`` block (:mod:`onboard.runtime.card_metrics`), and for a ``shipped`` model its
    pixel F1 and false-positive rate on the synthetic held-out frames of its training (a user's card says nothing of
    the synthetic world)."""
    heldout = card.metrics["heldout"] if shipped else None
    return ModelValidation(
        card.name if not shipped else card.path.stem, card.version, card.sha256,
        HeldoutScores(heldout["pixel_f1"], heldout["pixel_fpr"], card.training["heldout_split"]["frames"])
        if heldout else None,
        real_validation_of(card.metrics))


class CloudFilter(Stage):
    """Detect clouds on board and drop or mask the cloudy tiles before they take downlink time."""

    name = "cloud_filter"

    @dataclass(frozen=True, kw_only=True)
    class Params:
        model: str = spec("auto", file=is_model_file,
                          doc="a shipped model (cloud_bgrn_int8, cloud_rgb_float32, ...), auto (picks by the camera's "
                              "bands), or a .tflite or .onnx file relative to the scenario, with its card beside it")
        method: Literal["model", "spectral"] = spec("model", doc="the trained model, or the classic spectral test")
        threshold: float = spec(DECISION_PROBABILITY, gt=0, lt=1,
                                doc="cloud probability at or above which a pixel is cloud")
        tile_px: int = spec(128, ge=16, le=4096, doc="side of the square tiles the policy keeps or drops")
        max_cloud_fraction: float = spec(0.3, ge=0, le=1, doc="a tile with more cloud than this is dropped or masked")
        action: Literal["drop", "mask"] = spec("drop", doc="drop cloudy tiles, or keep their clear pixels only")
        downlink_mask: bool = spec(False, doc="also downlink the binary cloud mask (PNG, about 1 % of a frame)")
        overlap_px: int | None = spec(None, ge=0, le=128,
                                      doc="sliding-window overlap, px; half is cropped from each inner edge; null: "
                                          f"{tiling.DEFAULT_OVERLAP_PX}, or a quarter of a window under "
                                          f"{4 * tiling.DEFAULT_OVERLAP_PX} px (16 of 64)")
        threads: int = spec(1, ge=1, le=64, doc="interpreter threads on the host")

    @classmethod
    def check(cls, params: Any, index: int, names: list[str], bands: tuple[str, ...]) -> list[ConfigIssue]:
        if params.method == "spectral":
            missing = [b for b in spectral.REQUIRED_BANDS if b not in bands]
            unused = params.model != "auto"  # the spectral test runs no model: a named one would label its scores
            return ([issue_at("method", f"a camera with bands {list(spectral.REQUIRED_BANDS)} for the spectral test",
                              f"bands {list(bands)}")] if missing else []) + (
                [issue_at("model", "no model with method: spectral (the spectral test runs none; method: model runs "
                          "it)", repr(params.model))] if unused else [])
        if is_model_file(params.model):
            return []  # check_files: the file, its card and the model
        name = model_name(params.model, bands)
        if name is None:
            made_for = "; ".join(f"{m} for {list(b)}" for b, m in MODEL_FOR_BANDS.items())
            return [issue_at("model", f"a camera band list a shipped model was made for ({made_for})", f"bands {list(bands)}")]
        if not shipped_models():
            return [issue_at("model", f"cloud models in {MODEL_DIR} (rebuild them with `make models`)", "none there")]
        if name not in shipped_models():
            return [issue_at("model", "auto, one of " + ", ".join(shipped_models())
                             + ", or a .tflite or .onnx file relative to the scenario", repr(name))]
        try:  # validate reads the card and opens the model file the stage will run (cached for the run)
            model_input = shipped_card(name, MODEL_DIR).inputs[0]
            missing = [band for band in model_input.bands or () if band not in bands]
            if missing:  # its bands are picked from the camera's by name (cloud_probability)
                return [issue_at("model", f"a model for the camera's bands {list(bands)}",
                                 f"{name}, made for {list(model_input.bands or ())}: the camera has no "
                                 f"{', '.join(missing)}")]
            if expected := tiling.overlap_problem(params.overlap_px, model_input.shape[1], name):  # set, not null
                return [issue_at("overlap_px", expected, str(params.overlap_px))]
            load_model(MODEL_DIR / f"{name}.tflite", tuple(bands), params.threads)
        except InputFileError as err:
            return [issue_at("model", MODEL_LOADS, str(err))]
        return []

    @classmethod
    def check_files(cls, params: Any, bands: tuple[str, ...], scenario_dir: Path | None) -> list[ConfigIssue]:
        if params.method != "model" or not is_model_file(params.model):
            return []
        path = scenario_path(params.model, scenario_dir)
        # a card for another task (a MISR model's names its folded planes as bands): opened without the camera's
        # bands, so that the task is what user_model_problems names first, as for a classifier
        camera = tuple(bands) if card_task(path) in (None, *SEGMENTATION_TASKS) else None
        try:  # validate opens the model the stage will run (cached for the run) and checks its card
            model = load_model(path, camera, params.threads)
        except InputFileError as err:
            return [issue_at("model", f"{MODEL_LOADS} (orbitedge card init MODEL writes one)",
                             str(err))]
        return user_model_problems(model, params.overlap_px, params.threshold)

    def __init__(self, params: Any, ctx: Context):
        super().__init__(params, ctx)
        model = params.method == "model"
        self.model_path = model_path(params.model, ctx.bands, ctx.scenario_dir) if model else None
        user = model and is_model_file(params.model)
        card = (load_model(self.model_path, ctx.bands, params.threads).card if user else
                shipped_card(self.model_path.stem, MODEL_DIR) if model else None)
        self.uses = model_speed(card)
        self.window_px = (load_model(self.model_path, ctx.bands, params.threads).input_shape[1] if user else
                          card.inputs[0].shape[1] if card else 0)
        self.overlap_px = tiling.stage_overlap_px(params.overlap_px, self.window_px)
        self.latency_s = card.host_latency_s if card else 0.0
        self.model_card = validation_figures(card, shipped=not user) if card else None
        self.model_file = ModelFile.of(params.model if user else self.model_path.stem, card) if card else None

    def probability(self, dn: np.ndarray, reflectance: np.ndarray, spectral_mask: np.ndarray | None) -> np.ndarray:
        """(H, W) float32 cloud probability of an (H, W, B) frame, its DN and TOA reflectance; the spectral
        method's is its ``spectral_mask`` (H, W) bool (None with the model). The model's input is its card's
        scaling of the source it names (DN rescaled to the card's ``dn_bits`` from the camera's bit depth:
        :meth:`~onboard.runtime.modelcard.Scaling.dn_for`), its probability the activation of its output's cloud
        channel."""
        if self.params.method == "spectral":
            return spectral_mask.astype(np.float32)
        model = load_model(self.model_path, self.ctx.bands, self.params.threads)
        scaling = model.card.inputs[0].scaling
        source = reflectance if scaling.source == "toa_reflectance" else scaling.dn_for(dn, self.ctx.bit_depth)
        return cloud_probability(model, source, self.ctx.bands, self.overlap_px)

    def process(self, work: Work) -> None:
        """Decide every tile. A burst (K, H, W, B) is judged frame by frame: a pixel is cloudy when it is cloudy in
        every frame (fusion can restore the others), and each frame's clear mask goes to later stages."""
        (frame_tile,) = work.tiles
        stack = frame_tile.dn if frame_tile.dn.ndim == 4 else frame_tile.dn[None]
        cloudy_frames = np.empty(stack.shape[:3], bool)
        spectral_method = self.params.method == "spectral"
        for f, dn in enumerate(stack):
            reflectance = self.ctx.reflectance(dn)
            start = time.perf_counter()
            baseline = spectral.cloud_mask(reflectance, self.ctx.bands) if spectral_method or f == 0 else None
            if not spectral_method and f == 0:  # the baseline beside the model, for the report: no on-board work
                work.scoring_wall_s[self.name] = time.perf_counter() - start
            prob = self.probability(dn, reflectance, baseline)
            cloudy_frames[f] = prob >= self.params.threshold
            if f == 0:
                work.evaluation[CLOUD_PROBABILITY_KEY] = np.round(prob * 255).astype(np.uint8)
                work.evaluation[SPECTRAL_CLOUD_KEY] = baseline
        cloudy = cloudy_frames.all(axis=0)
        data = has_data(stack)  # (K, H, W): fill (no world there) is neither clear nor worth anything
        work.clear = ~cloudy_frames & data
        kept = []
        boxes = tile_boxes(*stack.shape[1:3], self.params.tile_px)
        fractions = cloud_fractions(cloudy, self.params.tile_px, data.any(axis=0))
        clear_px = tile_sums(~cloudy & data.any(axis=0), self.params.tile_px)
        data_px = tile_sums(data.any(axis=0), self.params.tile_px)
        for box, fraction, tile_clear_px, tile_data_px in zip(boxes, fractions, clear_px, data_px):
            rows, cols = box.window
            tile_cloudy = cloudy[rows, cols]
            tile = Tile(dn=frame_tile.dn[..., rows, cols, :], row0=box.row0, col0=box.col0,
                        priority=frame_tile.priority,
                        meta=TileMeta(cloud_fraction=round(float(fraction), 4), clear_px=int(tile_clear_px)))
            if not tile_data_px:  # all fill: nothing there to send
                work.dropped.append((tile, NO_DATA))
            elif not withheld(fraction, self.params.max_cloud_fraction):
                kept.append(tile)
            elif self.params.action == "drop":
                work.dropped.append((tile, "cloudy"))
            elif not tile_cloudy.all():
                tile.dn = np.where(tile_cloudy[..., None], np.uint16(FILL_DN), tile.dn)
                tile.meta = replace(tile.meta, masked=True, cloudy=tile_cloudy)
                kept.append(tile)
            else:
                work.dropped.append((tile, "cloudy"))
        work.cloud_filter_kept = [replace(t, dn=t.dn[0] if t.dn.ndim == 4 else t.dn) for t in kept]
        if self.params.downlink_mask:
            ok, png = cv2.imencode(".png", cloudy.astype(np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9])
            kept.append(Tile(dn=cloudy[..., None].astype(np.uint8), row0=0, col0=0, kind="cloud_mask",
                             priority=frame_tile.priority, payload=png.tobytes(), format="png",
                             meta=TileMeta(bit_depth=1, bands=("cloud",))))
        work.tiles = kept

    def cost_s(self, work: Work) -> float:
        """Model inferences at the host latency in its card (sliding windows), or the spectral test per pixel."""
        height_px, width_px = work.tiles[0].dn.shape[-3:-1]
        if self.params.method == "spectral":
            return work.frames * height_px * width_px / SPECTRAL_PX_PER_S
        n_windows = len(tiling.windows(height_px, width_px, self.window_px, self.overlap_px))
        return work.frames * n_windows * self.latency_s
