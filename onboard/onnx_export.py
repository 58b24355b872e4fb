"""The ONNX twin of a TFLite model: the same graph, weights and quantisation exported by ``tf2onnx`` from the
.tflite file (``tf2onnx.convert.from_tflite``), with a card that carries the TFLite card's bands, scaling and
metrics. The shipped models' Keras weights are not kept, only their .tflite files, so the twin is made from those:
a full-int8 model stays full-int8 (QuantizeLinear and DequantizeLinear around int8 I/O, the same scales).

Needs the ``[train]`` extra (TensorFlow and tf2onnx); export once, then the twin runs on ONNX Runtime alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import warnings
from pathlib import Path

from rundir.errors import OrbitEdgeError

from .interpreter import RUNTIME_CHATTER, runtime_chatter_dropped
from .mlm import FRAMEWORKS
from .modelcard import NHWC, load_card, write_card
from .runtime import Model, host_benchmark

ONNX_OPSET = 17  # ONNX Runtime 1.17+ runs it on every provider; QDQ ops, Resize and Conv as TFLite needs them
EXPORT_DIR = Path("build") / "onnx"  # default home of exported twins (the shipped models' directory stays as shipped)
ABSL_CHATTER = ("I0000", "W0000", "WARNING: All log messages before absl::InitializeLog()")  # TensorFlow loading


def _chatter(line: str) -> bool:
    return line in RUNTIME_CHATTER or line.startswith(ABSL_CHATTER) or not line


def export_tflite(path: Path, out_dir: Path = EXPORT_DIR) -> Path:
    """Write ``out_dir/<stem>.onnx``, the ONNX twin of .tflite model ``path``, and its card ``<stem>.json`` when
    ``path`` has one; the twin's path. Re-exports only when the .tflite is newer than its twin.

    Raises OrbitEdgeError naming the package to install when tf2onnx is missing, and when tf2onnx cannot convert the
    model; InputFileError as Model does for the .tflite file."""
    path = Path(path)
    target = Path(out_dir) / f"{path.stem}.onnx"
    if target.is_file() and target.stat().st_mtime >= path.stat().st_mtime:
        return target
    Model(path)  # NOTE: the file is checked (and tried in a child) before tf2onnx's own interpreter reads it
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: its C++ INFO logs are noise here
    target.parent.mkdir(parents=True, exist_ok=True)
    with runtime_chatter_dropped(_chatter), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation, which tf2onnx uses to read the model
        try:
            import tf2onnx
        except ImportError as err:
            raise OrbitEdgeError(f"exporting {path.name} to ONNX needs tf2onnx and TensorFlow: "
                                 f"pip install -e '.[train]' ({err})") from None
        logging.getLogger("tf2onnx").setLevel(logging.ERROR)
        try:
            tf2onnx.convert.from_tflite(str(path), opset=ONNX_OPSET, output_path=str(target))
        except Exception as err:  # NOTE: tf2onnx raises whatever its converters raise
            raise OrbitEdgeError(f"{path}: tf2onnx cannot export it to ONNX: {type(err).__name__}: {err}") from None
    card_path = path.with_suffix(".json")
    if card_path.is_file():
        card = load_card(card_path)
        content = target.read_bytes()
        twin = Model(target, use_card=False)
        tensors = [dataclasses.replace(t, dim_order=t.dim_order or (NHWC if len(t.shape) == 4 else None))
                   for t in (card.inputs[0], card.outputs[0])]
        write_card(dataclasses.replace(card, inputs=(tensors[0],), outputs=(tensors[1],), sha256=hashlib.sha256(
            content).hexdigest(), size_bytes=len(content), ops=twin.op_names() or (), path=None,
            benchmark=host_benchmark(twin),
            model_file=target.name, framework=FRAMEWORKS[".onnx"],
            training={**card.training, "onnx": f"tf2onnx.convert.from_tflite({path.name}, opset={ONNX_OPSET})"}),
            target.with_suffix(".json"))
    return target
