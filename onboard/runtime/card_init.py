"""``orbitedge card init``: the card of a user's .tflite or .onnx model, written beside it as a STAC Item with the
Machine Learning Model extension, from what the model says about itself (shapes, dtypes, layout, ops, size,
sha256, host latency) and what only its author knows (task, bands, per-band scaling, output classes)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rundir.errors import InputFileError, OrbitEdgeError

from ..pipeline.fusion import FEATURE_PLANES, SCALES, misr_shape_problem
from ..pipeline.tiling import WINDOW_MAP, window_map_problem
from ..scenario.spacecraft_config import BANDS
from .mlm import ACCELERATORS, ACTIVATIONS, linear_of, value_scaling
from .modelcard import ModelCard, activation_problem, card_text, channel_count, read_card
from .model import Model, build_card, is_model_file
from .probe import ceiling_problem, input_range_problem, probability_problem
from .scaling import CAMERA_SOURCES, DN_BITS_KIND, MISR_SOURCE, Scaling, is_dn_bits

TASKS = {"segmentation": "segmentation", "classification": "classification",
         "super-resolution": "super-resolution"}  # --task -> mlm:tasks


@dataclass(frozen=True)
class CardRequest:
    """What ``card init`` is told: the model file, its task, the camera bands it takes in channel order, the
    per-band (or one) ``scale`` and ``offset`` that make its input from ``source`` (for ``dn``, the DN of a camera of
    ``dn_bits`` bits), and optional output classes, activation and metadata."""

    model: Path
    task: str
    bands: tuple[str, ...]
    scale: tuple[float, ...]
    offset: tuple[float, ...]
    source: str = "toa_reflectance"
    classes: tuple[str, ...] = ()
    activation: str | None = None
    name: str | None = None
    version: str = "1.0.0"
    architecture: str = "unknown"
    accelerator: str | None = None
    dn_bits: int | None = None


def _problems(request: CardRequest) -> list[str]:
    """Every option that cannot make a card, as ``--option: expected ..., found ...``."""
    problems = []
    if not is_model_file(request.model.name):
        problems.append(f"MODEL: expected a .tflite or .onnx model file (its card is written beside it), found "
                        f"{str(request.model)!r}")
    misr = request.task == "super-resolution"
    if request.task not in TASKS:
        problems.append(f"--task: expected one of {', '.join(TASKS)}, found {request.task!r}")
    if misr and (request.bands or request.scale != (1.0,) or request.offset != (0.0,)):
        problems.append("--bands, --scale, --offset: none for a super-resolution model (its input is the burst's "
                        "folded planes, which the superres stage standardises itself)")
    elif not misr:
        problems += _band_problems(request)
    problems += _scaling_problems(request)
    if request.source not in CAMERA_SOURCES and not misr:
        problems.append(f"--source: expected one of {', '.join(CAMERA_SOURCES)}, found {request.source!r}")
    elif request.source == "dn" and not misr and not is_dn_bits(request.dn_bits):
        found = "none" if request.dn_bits is None else request.dn_bits
        problems.append(f"--dn-bits: expected with --source dn {DN_BITS_KIND}, found {found}")
    elif request.dn_bits is not None and (request.source != "dn" or misr):
        problems.append(f"--dn-bits: expected only with --source dn (the bit depth of the camera whose DN the model "
                        f"takes), found --dn-bits {request.dn_bits} with --source {request.source}"
                        + (" for a super-resolution model" if misr else ""))
    if request.activation is not None and request.activation not in ACTIVATIONS:
        problems.append(f"--activation: expected one of {', '.join(ACTIVATIONS)}, found {request.activation!r}")
    for option, texts in (("--classes", request.classes), ("--version", (request.version,)),
                          ("--architecture", (request.architecture,))):
        if not all(text.strip() for text in texts):
            problems.append(f"{option}: expected non-empty text, found {','.join(texts)!r}")
    folded = [name.strip().lower() for name in request.classes]
    if len(set(folded)) < len(folded):  # the stages match class names whatever their case
        twice = sorted({name for name in folded if folded.count(name) > 1})
        problems.append(f"--classes: expected a different name for each channel (whatever its case), found "
                        f"{','.join(request.classes)!r}: {', '.join(twice)} more than once")
    if request.accelerator is not None and request.accelerator not in ACCELERATORS:
        problems.append(f"--accelerator: expected one of {', '.join(ACCELERATORS)}, found {request.accelerator!r}")
    return problems


def _band_problems(request: CardRequest) -> list[str]:
    """What is wrong with ``--bands`` for a camera-fed model: none given, names no orbitedge camera has (the
    scenario's ``spacecraft.camera.bands``: BANDS), or a band twice."""
    if not request.bands:
        return [f"--bands: required for a {request.task} model: the camera bands it takes, in its channel order, "
                f"from {', '.join(BANDS)} (e.g. --bands {','.join(BANDS)})"]
    unknown = [band for band in request.bands if band not in BANDS]
    if unknown:
        case = " (band names are case-sensitive)" if all(band.upper() in BANDS for band in unknown) else ""
        return [f"--bands: expected names of the bands an orbitedge camera has (spacecraft.camera.bands: "
                f"{', '.join(BANDS)}), found {', '.join(map(repr, unknown))}{case}"]
    if len(set(request.bands)) != len(request.bands):
        return [f"--bands: expected distinct band names, found {','.join(request.bands)!r}"]
    return []


def _scaling_problems(request: CardRequest) -> list[str]:
    """What is wrong with ``--scale`` and ``--offset``: their count (one, or one per band), numbers that are not
    finite (or a scale of 0), and a band's scaling whose MLM ``value_scaling`` (1/scale, -offset/scale) overflows."""
    problems = []
    for option, values in (("--scale", request.scale), ("--offset", request.offset)):
        scale = option == "--scale"
        bad = [v for v in values if not math.isfinite(v) or (scale and v == 0)]
        if len(values) not in (1, len(request.bands)):
            problems.append(f"{option}: expected one number or one per band ({len(request.bands)}), found "
                            f"{len(values)}")
        if bad:
            problems.append(f"{option}: expected finite{' non-zero' * scale} numbers, found "
                            f"{', '.join(f'{v:g}' for v in bad)}")
    if problems:
        return problems
    bands = request.bands or ("",)
    scales, offsets = Scaling("", _one_per_band(request.scale), _one_per_band(request.offset)).per_band(len(bands))
    pairs: dict[tuple[float, float], list[str]] = {}
    for band, scale, offset in zip(bands, scales, offsets):
        pairs.setdefault((scale, offset), []).append(band)
    for (scale, offset), named in pairs.items():
        stored = value_scaling((scale,), (offset,))
        back = linear_of(stored[0]) if stored else (1.0, 0.0)
        numbers = [v for obj in stored or () for v in obj.values() if not isinstance(v, str)]
        if isinstance(back, str) or not all(math.isfinite(v) for v in (*numbers, *back)) or back[0] == 0:
            problems.append(f"--scale, --offset: expected a scaling whose MLM value_scaling (1/scale, -offset/scale) "
                            f"is finite, found scale {scale:g} and offset {offset:g}"
                            + (f" (band {', '.join(named)})" if len(pairs) > 1 else ""))
    return problems


def _one_per_band(values: Sequence[float]) -> float | tuple[float, ...]:
    return float(values[0]) if len(values) == 1 else tuple(float(v) for v in values)


def init_card(request: CardRequest, out: Path | None = None, overwrite: bool = False) -> tuple[ModelCard, Path]:
    """Write the card of ``request.model`` to ``out`` (default ``<stem>.json`` beside it), read it back as a STAC
    Item (pystac) and check the model against it; the card and where it went.

    The card is written only once it is valid: read back (:func:`modelcard.read_card`) before it is written, and
    removed when the model does not load against it; none is made for a model the stage of its task would refuse
    (:func:`stage_problem`, the stage's own check).

    Raises OrbitEdgeError naming every bad option (before the model is read), a card that exists (without
    ``overwrite``), a model its task's stage would refuse, output classes that do not match the output channels,
    softmax over one channel, an ``activation`` (or none) that makes no probabilities of the outputs
    (:func:`probe.probability_problem`), a scaling that makes inputs an integer input cannot tell apart
    (:func:`probe.input_range_problem`), and a card that is not valid; InputFileError as Model does for the model
    file."""
    problems = _problems(request)
    if problems:
        raise OrbitEdgeError("card init: " + "; ".join(problems))
    out = out or request.model.with_suffix(".json")
    if out.exists() and not overwrite:
        raise OrbitEdgeError(f"{out}: a card is already there; pass --force to replace it, or --out to write another")

    model = Model(request.model, use_card=False, channels=len(request.bands) or None)
    bands, source = request.bands, request.source
    if request.task == "super-resolution":
        bands, source = misr_planes(model.input_shape[-1]), MISR_SOURCE
    refusal = stage_problem(request.task, model)
    if refusal:
        raise OrbitEdgeError(f"card init: {refusal}")
    card = build_card(request.model, name=request.name or request.model.stem, version=request.version,
                      task=TASKS[request.task], bands=bands,
                      scaling=Scaling(source, _one_per_band(request.scale), _one_per_band(request.offset),
                                      request.dn_bits if source == "dn" else None),
                      training={}, metrics={}, classes=request.classes or None, activation=request.activation,
                      architecture=request.architecture, accelerator=request.accelerator, form="stac", benchmark=True)
    output = card.outputs[0]
    channels = channel_count(output.shape, output.dim_order)
    problems = [f"--activation: {problem} (output shape {list(output.shape)})"
                for problem in [activation_problem(request.activation, channels)] if problem]
    if request.classes and len(request.classes) != channels:
        problems.append(f"--classes: expected one name per output channel ({channels}, output shape "
                        f"{list(output.shape)}), found {len(request.classes)}")
    if problems:
        raise OrbitEdgeError("card init: " + "; ".join(problems))
    text = card_text(card)
    try:
        card = read_card(text, out)
    except InputFileError as err:
        raise OrbitEdgeError(f"card init: {out}: not written, the card made for {request.model} is not valid: "
                             f"{err.problem}") from None
    trial = out.with_name(out.name + ".part")  # beside it, so the card's relative model href reads the same
    trial.write_text(text, encoding="utf-8")
    try:
        _check_model(request, trial, bands, card.inputs[0].scaling)
    except OrbitEdgeError:
        trial.unlink()  # an earlier card at ``out`` (--force) stays as it was
        raise
    trial.replace(out)
    return card, out


def stage_problem(task: str, model: Model) -> str | None:
    """Why the stage that runs a ``task`` model would refuse ``model`` (opened without a card), with the check that
    stage runs and in its words: :func:`onboard.pipeline.tiling.window_map_problem` for cloud_filter, and
    :func:`onboard.pipeline.fusion.misr_shape_problem` at the scale its input channels fold for superres; None
    when it would not, and for a classification model, which no built-in stage runs."""
    shape_in, shape_out = model.input_shape, model.output_shape
    if task == "segmentation" and (found := window_map_problem(shape_in, shape_out)):
        frames = "; a model that scores whole frames is --task classification" if len(shape_out) == 2 else ""
        return f"--task segmentation (as the cloud_filter stage runs it): expected {WINDOW_MAP}, found {found}{frames}"
    if task == "super-resolution":
        scale = misr_scale(shape_in[-1])
        if shapes := misr_shape_problem(shape_in, shape_out, scale):
            return (f"--task super-resolution (as the superres stage runs it, at scale {scale} for {shape_in[-1]} "
                    f"input channels): expected {shapes[0]}, found {shapes[1]}")
    return None


def _check_model(request: CardRequest, card_path: Path, bands: tuple[str, ...] | None, scaling: Scaling) -> None:
    """Load the model against the card at ``card_path``; a camera-fed model's integer input must keep dark ground and
    cloud apart through the card's scaling (:func:`probe.input_range_problem`), and its outputs must become
    probabilities through the card's activation (:func:`probe.probability_problem`), its largest integer code one
    the cloud stage's default threshold can meet (:func:`probe.ceiling_problem`). OrbitEdgeError if not."""
    model = Model(request.model, card_path=card_path, bands=bands)
    if request.task == "super-resolution":
        return
    problem = input_range_problem(model, scaling, bands or ())
    if problem:
        raise OrbitEdgeError(f"card init: --scale, --offset: {problem}; give the scaling the model was calibrated "
                             "for (its int8 representative dataset), or calibrate it again on inputs made this way")
    problem = ceiling_problem(model, request.activation)
    if problem:
        raise OrbitEdgeError(f"card init: the model's output: {problem}; quantise its output over probabilities 0 to 1 "
                             "(a representative dataset with cloud in it)")
    problem = probability_problem(model, scaling, request.activation)
    if problem:
        raise OrbitEdgeError(f"card init: --activation: {request.activation or 'none given'}, but {problem}; "
                             "name the activation that makes probabilities of them: none for outputs in 0..1, "
                             "sigmoid for one channel of logits, softmax for one per class")


def misr_scale(channels: int) -> int:
    """The super-resolution scale s of a MISR model with ``channels`` input channels, s² x FEATURE_PLANES, at one of
    the scales the superres stage runs (:data:`onboard.pipeline.fusion.SCALES`). OrbitEdgeError when ``channels`` is
    no such number."""
    scale = round(math.sqrt(channels / len(FEATURE_PLANES)))
    if scale not in SCALES or scale * scale * len(FEATURE_PLANES) != channels:
        folds = ", ".join(str(s * s * len(FEATURE_PLANES)) for s in SCALES)
        raise OrbitEdgeError(f"card init: a super-resolution model takes scale² x {len(FEATURE_PLANES)} channels "
                             f"(the folded planes {', '.join(FEATURE_PLANES)}) at a scale the superres stage runs, "
                             f"{', '.join(map(str, SCALES))} ({folds} channels); this one takes {channels}")
    return scale


def misr_planes(channels: int) -> tuple[str, ...]:
    """The input channels of a MISR model: each plane of ``fusion.FEATURE_PLANES`` at each sub-pixel offset of the
    space-to-depth fold, ``bicubic_mean[0,0], shift_and_add[0,0], samples[0,0], bicubic_mean[0,1], ...``.
    OrbitEdgeError when ``channels`` is not scale² x planes."""
    scale = misr_scale(channels)
    return tuple(f"{plane}[{dy},{dx}]" for dy in range(scale) for dx in range(scale) for plane in FEATURE_PLANES)


def describe(card: ModelCard, out: Path, model: Path) -> str:
    """What the terminal shows of a new card, written to ``out`` for ``model``; a note when that is not where
    stages read it (``<stem>.json`` beside the model)."""
    inp, output = card.inputs[0], card.outputs[0]
    scales, offsets = inp.scaling.per_band(len(inp.bands))
    latency = f"{card.benchmark.host_latency_ms_p50:.2f} ms" if card.benchmark else "not measured"
    lines = [f"wrote {out}: a STAC Item with the MLM extension (checked with pystac)",
             f"  model       {card.model_file} ({card.framework}, {card.size_bytes / 1e3:.1f} kB, sha256 "
             f"{card.sha256[:12]}...)",
             f"  task        {card.task}",
             f"  input       {inp.name} {list(inp.shape)} {inp.dtype} {list(inp.dim_order or ())}",
             "  bands       " + ", ".join(f"{b} = {s:.6g} * {inp.scaling.source} {'-' if o < 0 else '+'} {abs(o):.6g}"
                                          for b, s, o in zip(inp.bands, scales, offsets))
             + (f" (DN of a {inp.scaling.dn_bits}-bit camera)" if inp.scaling.dn_bits else ""),
             f"  output      {output.name} {list(output.shape)} {output.dtype} {list(output.dim_order or ())}"
             + (f", classes {list(output.classes)}" if output.classes else "")
             + (f", then {output.activation}" if output.activation else ""),
             f"  ops         {', '.join(card.ops)}",
             f"  host p50    {latency} (one thread; the simulation's stage time on the host profile)"]
    beside = model.with_suffix(".json")
    if out.resolve() != beside.resolve():
        lines.append(f"  note        a scenario's stage, validate and bench read the card at {beside}, beside the "
                     "model, not this one: move it there to use it")
    return "\n".join(lines)
