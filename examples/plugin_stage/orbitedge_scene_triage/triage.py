"""The ``scene_triage`` stage: a frame-level classifier decides which frames are worth sending down, in the style of
OPS-SAT's SmartCam (an on-board image classifier whose labels decide what is downlinked).

Each captured frame is shrunk to the classifier's input (an area average to ``(S, S, B)``: :func:`thumbnail`), made
into the model's input by its card's scaling, and classified. When the label with the highest probability is
``discard`` and that probability is at least ``confidence``, the whole frame is dropped with that label as its
reason (the frame ledger records it, as it records the cloud filter's ``cloudy`` tiles) and no later stage runs on
it; every other frame goes on unchanged. A burst of K frames is judged on the mean of its frames' probabilities.

The shipped classifier (``model: auto``) labels a frame ``cloudy`` when more than 70 % of it is thin or thick
cloud, else ``clear``; ``train.py`` beside this package trains it on the synthetic world. ``model`` may name
another classification model instead (.tflite or .onnx, relative to the scenario, its card beside it with its
output classes named).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from onboard.runtime.scaling import CAMERA_SOURCES
from onboard.pipeline.stages import Context, Stage, discard_frame
from onboard.scenario.config_files import scenario_path
from onboard.pipeline.tile import Work
from onboard.runtime.model import Model, cached_model, is_model_file
from onboard.scenario.schema import issue_at, spec
from rundir.errors import ConfigIssue, InputFileError
from rundir.run_info import ModelFile

MODEL = Path(__file__).with_name("models") / "scene_triage_int8.tflite"  # model: auto
TASK = "classification"  # the MLM task a triage model's card names
# NOTE: the area-average thumbnail's host rate in frame samples (H x W x B uint16 DN) per second, measured by
# benchmark.py beside this package on the 2-core reference host (results/thumbnail.json: 1.46e9 to 1.54e9).
THUMBNAIL_SAMPLES_PER_S = 1.5e9


def thumbnail(image: np.ndarray, size_px: int) -> np.ndarray:
    """(size_px, size_px, B) float32 area average of an (H, W, B) image of any dtype (OpenCV's INTER_AREA: the mean
    of the pixels each output pixel covers, exact where H and W are multiples of size_px)."""
    small = cv2.resize(image, (size_px, size_px), interpolation=cv2.INTER_AREA)
    return small.reshape(size_px, size_px, image.shape[-1]).astype(np.float32)


def model_path(requested: str, scenario_dir: Path | None) -> Path:
    """The classifier a stage runs: the shipped one for ``auto``, else the file relative to the scenario."""
    return MODEL if requested == "auto" else scenario_path(requested, scenario_dir)


def model_problems(model: Model) -> list[str]:
    """What keeps a model (loaded and matching its card) from triage: its task, its input (one square image), its
    output (one score per class, the classes named), its input's source and its card's host latency."""
    card = model.card
    problems = []
    if card.task != TASK:
        problems.append(f"a {TASK} model; its card's task is {card.task!r}")
    _, height, width, _ = model.input_shape
    if model.input_shape[0] != 1 or height != width:
        problems.append(f"one square image in (1, S, S, B); the model takes {list(model.input_shape)}")
    classes = list(card.outputs[0].classes or ())
    if len(model.output_shape) != 2 or model.output_shape[-1] != len(classes):
        problems.append(f"one score per named class out (1, K) with K classes in its card; the model gives "
                        f"{list(model.output_shape)} for classes {classes}")
    if card.inputs[0].scaling.source not in CAMERA_SOURCES:
        problems.append(f"inputs made from one of {CAMERA_SOURCES}; its card's scaling.source is "
                        f"{card.inputs[0].scaling.source!r}")
    try:
        card.host_latency_s
    except InputFileError as err:
        problems.append(err.problem)
    return problems


class SceneTriage(Stage):
    """Classify each whole frame on board and drop those confidently labelled ``discard``."""

    name = "scene_triage"
    uses = "int8"

    @dataclass(frozen=True, kw_only=True)
    class Params:
        model: str = spec("auto", file=is_model_file,
                          doc="auto: the classifier this plugin ships (clear or cloudy, bands B, G, R, NIR); "
                              "or a .tflite or .onnx classification model relative to the scenario, its card beside it")
        discard: str = spec("cloudy", doc="the model's label whose frames are not sent (dropped with it as reason)")
        confidence: float = spec(0.8, gt=0, lt=1, doc="the least probability of the discard label that drops a "
                                 "frame; below it the frame is kept")

    @classmethod
    def check(cls, params: Any, index: int, names: list[str], bands: tuple[str, ...]) -> list[ConfigIssue]:
        if index != 0:
            return [issue_at("stage", "scene_triage as the first stage (it judges whole frames)",
                             f"at position {index + 1}, after {', '.join(names[:index])}")]
        return []

    @classmethod
    def check_files(cls, params: Any, bands: tuple[str, ...], scenario_dir: Path | None) -> list[ConfigIssue]:
        path = model_path(params.model, scenario_dir)
        if params.model != "auto" and not is_model_file(params.model):
            return [issue_at("model", "auto, or a .tflite or .onnx file", repr(params.model))]
        try:  # validate opens the model the stage will run (cached for the run) and checks its card
            model = cached_model(path, 1, tuple(bands))
        except InputFileError as err:
            return [issue_at("model", "a model file that loads and matches its card and the camera's bands", str(err))]
        out = [issue_at("model", problem, f"{path} (card {model.card.path})") for problem in model_problems(model)]
        classes = list(model.card.outputs[0].classes or ())
        if classes and params.discard not in classes:
            out.append(issue_at("discard", f"one of the model's classes {classes} ({path.name})", repr(params.discard)))
        return out

    def __init__(self, params: Any, ctx: Context):
        super().__init__(params, ctx)
        self.model = cached_model(model_path(params.model, ctx.scenario_dir), 1, ctx.bands)
        self.classes = list(self.model.card.outputs[0].classes)
        # which weights ran, in run.json's models and the report (a file as the scenario names it, or the shipped one)
        self.model_file = ModelFile.of(MODEL.stem if params.model == "auto" else params.model, self.model.card)

    def probabilities(self, dn: np.ndarray) -> np.ndarray:
        """(K,) float32 class probabilities of one (H, W, B) frame of DN, in the card's class order."""
        card_in, card_out = self.model.card.inputs[0], self.model.card.outputs[0]
        small = thumbnail(dn, self.model.input_shape[1])
        scaling = card_in.scaling
        source = (small * np.float32(self.ctx.reflectance_per_dn) if scaling.source == "toa_reflectance" else
                  scaling.dn_for(small, self.ctx.bit_depth))
        return card_out.activate(self.model.predict(card_in.scaling.apply(source)))

    def process(self, work: Work) -> None:
        (tile,) = work.tiles
        stack = tile.dn if tile.dn.ndim == 4 else tile.dn[None]
        probabilities = np.mean([self.probabilities(dn) for dn in stack], axis=0)
        best = int(np.argmax(probabilities))
        if self.classes[best] == self.params.discard and probabilities[best] >= self.params.confidence:
            discard_frame(work, self.params.discard)

    def cost_s(self, work: Work) -> float:
        """Per frame of the burst: the thumbnail at its measured rate and one inference at the card's host latency."""
        return work.tiles[0].dn.size / THUMBNAIL_SAMPLES_PER_S + work.frames * self.model.card.host_latency_s
