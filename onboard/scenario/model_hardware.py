"""Whether the model a pipeline stage runs can run on the scenario's hardware profile: an accelerator that runs
full-int8 models only (the Edge TPU of ``coral-usb`` and ``coral-devboard``) refuses a model with any op on tensors
that are not 8-bit, as the Edge TPU compiler does (Coral, "TensorFlow models on the Edge TPU", Model requirements:
https://coral.ai/docs/edgetpu/models-intro/#model-requirements) and ``orbitedge bench --profile`` does, rather than
crediting it with the accelerator's int8 speed (``int8_conv_relative``). The model itself is judged, its tensors'
dtypes as the interpreter reads them, not its card: int8 input and output around float ops, or int8 ops behind
float32 input and output, are not full-int8."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rundir.errors import ConfigIssue, OrbitEdgeError

from .config_files import scenario_path
from ..runtime import hardware
from ..runtime.bench import EDGETPU_SUFFIX
from ..runtime.model import cached_model, is_model_file
from ..runtime.modelcard import MODEL_DIR
from .schema import issue_at


def model_on_hardware(params: Any, data: dict[str, Any], scenario_dir: Path) -> list[ConfigIssue]:
    """The issue (at the stage's ``model``, relative to its item) of a stage whose model the scenario's
    ``spacecraft.compute.hardware`` cannot run; none where the stage runs no model file it can load (``auto`` picks
    a shipped int8 model; the stage's own checks name a model that does not load), where the model was compiled by
    edgetpu_compiler (``*_edgetpu.tflite``: it compiles full-int8 models only), or where the profile runs any."""
    name = getattr(params, "model", None)
    if not isinstance(name, str) or getattr(params, "method", "model") != "model":
        return []
    try:
        profile = hardware.load_profile(_hardware_name(data))
    except OrbitEdgeError:
        return []  # the compute section's own issue names the profile
    path = scenario_path(name, scenario_dir) if is_model_file(name) else MODEL_DIR / f"{name}.tflite"
    if not profile.int8_only or path.stem.endswith(EDGETPU_SUFFIX):
        return []
    try:
        found = cached_model(path, 1).not_full_int8()
    except OrbitEdgeError:
        return []  # the stage's own checks name what is wrong with the model or its card
    if found is None:
        return []
    return [issue_at("model", f"a full-int8 model: {profile.accelerator_rule}, and int8_conv_relative "
                              f"({profile.int8_conv_relative:g}) is its int8 speed", f"{name}, not full-int8: {found}")]


def _hardware_name(data: dict[str, Any]) -> str:
    """``spacecraft.compute.hardware`` as the data gives it (its default, host, when absent)."""
    compute = (data.get("spacecraft") or {}).get("compute") if isinstance(data.get("spacecraft"), dict) else None
    value = compute.get("hardware", "host") if isinstance(compute, dict) else "host"
    return value if isinstance(value, str) else ""
