"""What a camera-fed model is checked against before it meets a scene: its card's scaling and activation, tried on
test inputs over the typical range of the scaling's source. Its outputs must become probabilities through the card's
activation (:func:`probability_problem`), and an integer input must keep dark ground and cloud apart through the
card's scaling (:func:`input_range_problem`). ``card init`` and the cloud stage's check in ``validate`` ask both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from .scaling import Scaling

if TYPE_CHECKING:
    from .model import Model


def source_max(scaling: Scaling) -> float:
    """The top of the typical range 0..this of ``scaling``'s source: TOA reflectance 1; for DN, the largest of
    its ``dn_bits`` camera, ``2**dn_bits - 1``."""
    return float((1 << scaling.dn_bits) - 1) if scaling.dn_bits is not None else 1.0


# Uniform test scenes, as fractions of source_max: dark ground, bright ground, cloud.
SCENE_LEVELS = (0.05, 0.3, 0.9)
DECISION_PROBABILITY = 0.5  # the cloud stage's threshold (its default), where the shipped models decide cloud
PROBE_SEED = 0  # of the random test input, uniform over the typical range
# A float output may pass 0..1 by this many units in the last place at 1.0 of its type (float32 4.8e-7, float16
# 3.9e-3): the rounding of the few float operations after a probability is made (a cast, a 1 - p, a sum).
FLOAT_ULPS = 4


def probe_inputs(scaling: Scaling, shape: tuple[int, ...]) -> list[np.ndarray]:
    """The test inputs in the units of ``scaling.source``, each of ``shape``: random values over 0..source_max, and
    uniform scenes at SCENE_LEVELS of it."""
    top = source_max(scaling)
    return [np.random.default_rng(PROBE_SEED).uniform(0.0, top, shape),
            *(np.full(shape, level * top) for level in SCENE_LEVELS)]


def output_slack(model: Model) -> tuple[float, str]:
    """How far past 0..1 a probability output of ``model`` may read, and why: one quantisation step of an integer
    output (the code nearest 0 or 1 may sit half a step past it, and the kernel's rounding adds another half), or
    FLOAT_ULPS of a float one."""
    if model.output_quantization is not None:
        return float(model.output_quantization[0]), f"one step of its {model.output_dtype.name} output"
    return FLOAT_ULPS * float(np.finfo(model.output_dtype).eps), f"{model.output_dtype.name} rounding"


def probability_problem(model: Model, scaling: Scaling, activation: str | None) -> str | None:
    """Why the outputs of ``model``, read through ``activation`` (a card's), are no probabilities
    (:func:`outputs_problem`) on the test inputs (:func:`probe_inputs`) made through the card's ``scaling``. None
    when they are, or when the model's output comes out of its own sigmoid or softmax
    (:attr:`Model.output_activation`)."""
    if model.output_activation is not None:
        return None
    channels = model.output_shape[-1]
    outputs = np.concatenate([model.predict(scaling.apply(x)).reshape(-1, channels)
                              for x in probe_inputs(scaling, model.input_shape)])
    return outputs_problem(outputs, activation, output_slack(model))


def ceiling_problem(model: Model, activation: str | None, threshold: float = DECISION_PROBABILITY) -> str | None:
    """Why an integer output of ``model`` cannot say cloud: its largest code, through the card's ``activation``
    (none, or a sigmoid; a softmax's depends on the other channels), reads as a probability under ``threshold`` (the
    cloud stage's; by default its default), so no pixel reaches it, whatever the model computes (an output
    quantised for values it never saw above that: a calibration that missed cloud). None for a float output, and
    otherwise."""
    if model.output_quantization is None or activation == "softmax":
        return None
    step, zero = model.output_quantization
    highest = float((np.iinfo(model.output_dtype).max - zero) * step)
    ceiling = 1.0 / (1.0 + math.exp(-highest)) if activation == "sigmoid" else highest
    if ceiling >= threshold:
        return None
    through = f", {ceiling:.3g} through a sigmoid" if activation == "sigmoid" else ""
    return (f"its {model.output_dtype.name} output holds at most {highest:.3g} (quantisation scale {step:.3g}, zero "
            f"point {zero}){through}: no pixel's probability reaches {threshold:g}, where the cloud stage decides "
            "cloud, whatever the model computes")


def outputs_problem(outputs: np.ndarray, activation: str | None,
                    slack: tuple[float, str] = (0.0, "exact")) -> str | None:
    """Why ``outputs`` (N, K), a model's on test inputs, K channels, are no probabilities once read through the card's
    ``activation``; None when they are. They hold NaN or infinity; with no activation, one is below 0 or above 1 by
    more than ``slack`` (the amount, and what it allows for: :func:`output_slack`), as logits are: the cloud stage
    would clip them to 0 and 1, every tile's decision and the PR curve with them; with a sigmoid, none is below 0 (a
    head ending in ReLU or a clip), so none of the probabilities is below 0.5. Softmax takes any values.

    Channels that do not sum to 1 per pixel are no refusal: a multi-label model's (one sigmoid per class: thin cloud
    over snow is both) need not, and a card does not say whether its classes exclude one another. Of outputs already
    refused, they are named, as evidence that the channels are logits of such classes."""
    if not np.isfinite(outputs).all():
        return "its outputs on test inputs hold NaN or infinity"
    low, high = float(outputs.min()), float(outputs.max())
    reach = f"its outputs on test inputs reach {low:.3g} to {high:.3g}"
    tolerance, basis = slack
    if activation is None and not -tolerance <= low <= high <= 1.0 + tolerance:
        return (f"{reach}, beyond 0..1 by more than {basis} ({tolerance:.2g}): logits, which the cloud stage would "
                f"clip to 0 and 1{_channel_sums(outputs, tolerance)}")
    if activation == "sigmoid" and low >= 0.0:
        return (f"{reach}, never below 0 (no logits: a head that ends in ReLU or a clip), so a sigmoid of them is "
                "never below 0.5: every pixel is cloud at the threshold 0.5")
    return None


def _channel_sums(outputs: np.ndarray, tolerance: float) -> str:
    """``; its K channels sum to A to B per pixel, ...`` when there are several and their sums stray from 1 by more
    than ``tolerance`` each; empty otherwise."""
    channels = outputs.shape[-1]
    sums = outputs.sum(axis=-1)
    if channels < 2 or np.abs(sums - 1.0).max() <= channels * tolerance:
        return ""
    return (f"; its {channels} channels sum to {float(sums.min()):.3g} to {float(sums.max()):.3g} per pixel, not 1 "
            "as probabilities of classes that exclude one another do")


def input_range_problem(model: Model, scaling: Scaling, bands: Sequence[str]) -> str | None:
    """Why an integer input of ``model`` cannot keep dark ground and cloud apart through the card's ``scaling`` of
    ``bands``: in some band, the first and last of SCENE_LEVELS (of :func:`source_max`) quantise to the same input
    code, the one value of each after clipping to the range the input holds (too large a scale: most of the typical
    range clipped) or inside one quantisation step (too small: the typical range within one code). No threshold is
    tuned: the model is blind to what a cloud filter is for. None for a float input, and when every band keeps them apart.
    The message names the input's range and quantisation, where the card's scaling puts the typical range, and the
    share of it the input holds."""
    if model.input_quantization is None:
        return None
    step, zero = model.input_quantization
    limits = np.iinfo(model.input_dtype)
    low, high = (limits.min - zero) * step, (limits.max - zero) * step
    top = source_max(scaling)
    dark, cloud = SCENE_LEVELS[0] * top, SCENE_LEVELS[-1] * top
    scales, offsets = scaling.per_band(len(bands))
    blind = []
    for band, scale, offset in zip(bands, scales, offsets):
        codes = model.quantize(np.array([scale * dark + offset, scale * cloud + offset], np.float32))
        if codes[0] == codes[1]:
            blind.append((band, scale, offset, int(codes[0])))
    if not blind:
        return None
    band, scale, offset, code = blind[0]
    ends = sorted((offset, scale * top + offset))
    held = max(0.0, min(ends[1], high) - max(ends[0], low)) / (ends[1] - ends[0])
    named = f" in band {', '.join(b[0] for b in blind)}" if len(blind) < len(bands) else ""
    return (f"its {model.input_dtype.name} input holds {low:.3g} to {high:.3g} (quantisation scale {step:.3g}, zero "
            f"point {zero}), and the card's {scale:.6g} x {scaling.source} {'-' if offset < 0 else '+'} "
            f"{abs(offset):.6g} puts {scaling.source} 0..{top:g} at {ends[0]:.3g} to {ends[1]:.3g}: "
            f"{(ends[1] - ends[0]) / step:.3g} quantisation steps wide, {held:.1%} of it inside the input's range: "
            f"dark ground ({dark:g}) and cloud ({cloud:g}) both read as code {code}{named}, so the model cannot tell "
            "them apart")
