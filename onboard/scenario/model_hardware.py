"""Whether the model a pipeline stage runs can run on the scenario's hardware profile: an accelerator that runs
full-int8 models only (the Edge TPU of ``coral-usb`` and ``coral-devboard``) refuses a float model, as
``orbitedge bench --profile`` does, rather than crediting it with the accelerator's int8 speed
(``int8_conv_relative``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rundir.errors import ConfigIssue, OrbitEdgeError

from ..pipeline.stages import scenario_path
from ..runtime import hardware
from ..runtime.bench import EDGETPU_SUFFIX, family_and_precision
from ..runtime.model import is_model_file
from ..runtime.modelcard import MODEL_DIR, load_card
from .schema import issue_at

INTEGER_INPUTS = ("int8", "uint8")  # full-integer models: int8 (LiteRT's default) or uint8 (the Coral model zoo's)


def model_on_hardware(params: Any, data: dict[str, Any], scenario_dir: Path) -> list[ConfigIssue]:
    """The issue (at the stage's ``model``, relative to its item) of a stage whose model the scenario's
    ``spacecraft.compute.hardware`` cannot run; none where the stage runs no model file or card it can read
    (``auto`` picks a shipped int8 model; the stage's own checks name a missing card), or the profile runs any."""
    name = getattr(params, "model", None)
    if not isinstance(name, str) or getattr(params, "method", "model") != "model":
        return []
    try:
        profile = hardware.load_profile(_hardware_name(data))
    except OrbitEdgeError:
        return []  # the compute section's own issue names the profile
    path = scenario_path(name, scenario_dir) if is_model_file(name) else MODEL_DIR / f"{name}.tflite"
    if not profile.int8_only or not path.with_suffix(".json").is_file():
        return []
    try:
        card = load_card(path.with_suffix(".json"))
    except OrbitEdgeError:
        return []  # the stage's own checks name what is wrong with the card
    dtype = card.inputs[0].dtype
    precision = family_and_precision(path.stem, dtype)[1]
    if precision in INTEGER_INPUTS or path.stem.endswith(EDGETPU_SUFFIX):  # compiled for the Edge TPU: integer
        return []
    return [issue_at("model", f"an int8 model: {profile.name} runs models on its accelerator (delegate "
                              f"{profile.delegate}), which runs full-int8 models only, and int8_conv_relative "
                              f"({profile.int8_conv_relative:g}) is its int8 speed",
                     f"{name}, a {precision} model (its card {card.path}: inputs[0].dtype {dtype})")]


def _hardware_name(data: dict[str, Any]) -> str:
    """``spacecraft.compute.hardware`` as the data gives it (its default, host, when absent)."""
    compute = (data.get("spacecraft") or {}).get("compute") if isinstance(data.get("spacecraft"), dict) else None
    value = compute.get("hardware", "host") if isinstance(compute, dict) else "host"
    return value if isinstance(value, str) else ""
