"""``orbitedge card init``: the card of a user's .tflite or .onnx model, written beside it as a STAC Item with the
Machine Learning Model extension, from what the model says about itself (shapes, dtypes, layout, ops, size,
sha256, host latency) and what only its author knows (task, bands, per-band scaling, output classes)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rundir.errors import OrbitEdgeError

from ..pipeline.fusion import FEATURE_PLANES
from .mlm import ACCELERATORS, ACTIVATIONS
from .modelcard import (CAMERA_SOURCES, MISR_SOURCE, ModelCard, Scaling, activation_problem, channel_count,
                        load_card, write_card)
from .model import Model, build_card

TASKS = {"segmentation": "segmentation", "classification": "classification",
         "super-resolution": "super-resolution"}  # --task -> mlm:tasks


@dataclass(frozen=True)
class CardRequest:
    """What ``card init`` is told: the model file, its task, the camera bands it takes in channel order, the
    per-band (or one) ``scale`` and ``offset`` that make its input from ``source``, and optional output classes,
    activation and metadata."""

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


def _problems(request: CardRequest) -> list[str]:
    """Every option that cannot make a card, as ``--option: expected ..., found ...``."""
    problems = []
    misr = request.task == "super-resolution"
    if request.task not in TASKS:
        problems.append(f"--task: expected one of {', '.join(TASKS)}, found {request.task!r}")
    if misr and (request.bands or request.scale != (1.0,) or request.offset != (0.0,)):
        problems.append("--bands, --scale, --offset: none for a super-resolution model (its input is the burst's "
                        "folded planes, which the superres stage standardises itself)")
    elif not misr and (not request.bands or len(set(request.bands)) != len(request.bands) or not all(request.bands)):
        problems.append(f"--bands: expected distinct band names, found {','.join(request.bands)!r}")
    for option, values in (("--scale", request.scale), ("--offset", request.offset)):
        if len(values) not in (1, len(request.bands)):
            problems.append(f"{option}: expected one number or one per band ({len(request.bands)}), found "
                            f"{len(values)}")
    if 0 in request.scale:
        problems.append("--scale: expected non-zero numbers, found 0")
    if request.source not in CAMERA_SOURCES and not misr:
        problems.append(f"--source: expected one of {', '.join(CAMERA_SOURCES)}, found {request.source!r}")
    if request.activation is not None and request.activation not in ACTIVATIONS:
        problems.append(f"--activation: expected one of {', '.join(ACTIVATIONS)}, found {request.activation!r}")
    if request.accelerator is not None and request.accelerator not in ACCELERATORS:
        problems.append(f"--accelerator: expected one of {', '.join(ACCELERATORS)}, found {request.accelerator!r}")
    return problems


def init_card(request: CardRequest, out: Path | None = None, overwrite: bool = False) -> tuple[ModelCard, Path]:
    """Write the card of ``request.model`` to ``out`` (default ``<stem>.json`` beside it), read it back as a STAC
    Item (pystac) and check the model against it; the card and where it went.

    Raises OrbitEdgeError naming every bad option, a card that exists (without ``overwrite``), output classes
    that do not match the output channels and softmax over one channel; InputFileError as Model does for the model file."""
    problems = _problems(request)
    if problems:
        raise OrbitEdgeError("card init: " + "; ".join(problems))
    out = out or request.model.with_suffix(".json")
    if out.exists() and not overwrite:
        raise OrbitEdgeError(f"{out}: a card is already there; pass --force to replace it, or --out to write another")

    def one_per_band(values: Sequence[float]) -> float | tuple[float, ...]:
        return float(values[0]) if len(values) == 1 else tuple(float(v) for v in values)

    bands, source = request.bands, request.source
    if request.task == "super-resolution":
        bands, source = misr_planes(Model(request.model, use_card=False).input_shape[-1]), MISR_SOURCE
    card = build_card(request.model, name=request.name or request.model.stem, version=request.version,
                      task=TASKS[request.task], bands=bands,
                      scaling=Scaling(source, one_per_band(request.scale), one_per_band(request.offset)),
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
    write_card(card, out)
    card = load_card(out)
    Model(request.model, card_path=out, bands=bands)
    return card, out


def misr_planes(channels: int) -> tuple[str, ...]:
    """The input channels of a MISR model: each plane of ``fusion.FEATURE_PLANES`` at each sub-pixel offset of the
    space-to-depth fold, ``bicubic_mean[0,0], shift_and_add[0,0], samples[0,0], bicubic_mean[0,1], ...``.
    OrbitEdgeError when ``channels`` is not scale² x planes."""
    scale = round(math.sqrt(channels / len(FEATURE_PLANES)))
    if scale * scale * len(FEATURE_PLANES) != channels:
        raise OrbitEdgeError(f"card init: a super-resolution model takes scale² x {len(FEATURE_PLANES)} channels "
                             f"(the folded planes {', '.join(FEATURE_PLANES)}); this one takes {channels}")
    return tuple(f"{plane}[{dy},{dx}]" for dy in range(scale) for dx in range(scale) for plane in FEATURE_PLANES)


def describe(card: ModelCard, out: Path) -> str:
    """What the terminal shows of a new card."""
    inp, output = card.inputs[0], card.outputs[0]
    scales, offsets = inp.scaling.per_band(len(inp.bands))
    latency = f"{card.benchmark.host_latency_ms_p50:.2f} ms" if card.benchmark else "not measured"
    lines = [f"wrote {out}: a STAC Item with the MLM extension (checked with pystac)",
             f"  model       {card.model_file} ({card.framework}, {card.size_bytes / 1e3:.1f} kB, sha256 "
             f"{card.sha256[:12]}...)",
             f"  task        {card.task}",
             f"  input       {inp.name} {list(inp.shape)} {inp.dtype} {list(inp.dim_order or ())}",
             "  bands       " + ", ".join(f"{b} = {s:.6g} * {inp.scaling.source} {'-' if o < 0 else '+'} {abs(o):.6g}"
                                          for b, s, o in zip(inp.bands, scales, offsets)),
             f"  output      {output.name} {list(output.shape)} {output.dtype}"
             + (f", classes {list(output.classes)}" if output.classes else "")
             + (f", then {output.activation}" if output.activation else ""),
             f"  ops         {', '.join(card.ops)}",
             f"  host p50    {latency} (one thread; the simulation's stage time on the host profile)"]
    return "\n".join(lines)
