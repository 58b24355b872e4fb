"""Small cloud models as a user would bring them (not the shipped ones), made once per test session: a 48 px window
(not the shipped 256), two classes (clear, cloud) as logits, in each format a user exports.

The float model is a bright-cloud rule a network can hold exactly: layer 1 (3x3, ReLU) copies the four bands,
layer 2 (3x3) gives the cloud logit ``CLOUD_GAIN * (mean of B, G, R - CLOUD_LEVEL)`` from the centre tap, plus
small seeded weights on the other taps, and the clear logit 0; softmax over the two is the cloud probability.

- ``uint8.tflite``: full-integer TFLite with uint8 input and output (TFLiteConverter, calibrated on seeded frames);
- ``float16.tflite``: TFLite with float16 weights (float32 I/O), the converter's float16 quantisation;
- ``uint8.onnx``: ``uint8.tflite`` exported by tf2onnx: uint8 I/O behind QuantizeLinear and DequantizeLinear;
- ``float16.onnx``: the float model written with onnx.helper as PyTorch exports: NCHW, a dynamic batch, float16 I/O.

Two not quite full-int8 TFLite models, made when first asked for (:func:`mixed_int8_model`):

- ``int8_float_inside.tflite``: int8 input and output, with a SIN between the layers that has no int8 kernel, so
  the converter (supported_ops TFLITE_BUILTINS_INT8 and TFLITE_BUILTINS) runs it in float32 between a DEQUANTIZE
  and a QUANTIZE;
- ``int8_float_io.tflite``: every op int8, behind float32 input and output (the converter's default I/O).
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import numpy as np

WINDOW_PX = 48
BANDS = ("B", "G", "R", "NIR")
CLOUD_GAIN = 20.0  # logit per unit of visible reflectance above CLOUD_LEVEL
CLOUD_LEVEL = 0.22
SEED = 16
CLASSES = ("clear", "cloud")


def weights() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(w1, b1, w2, b2) in Keras layout (3, 3, in, out)."""
    rng = np.random.default_rng(SEED)
    w1 = np.zeros((3, 3, 4, 4), np.float32)
    w1[1, 1] = np.eye(4)
    b1 = np.zeros(4, np.float32)
    w2 = rng.normal(0.0, 0.01, (3, 3, 4, 2)).astype(np.float32)
    w2[1, 1, :, 0] = 0.0
    w2[1, 1, :, 1] = [CLOUD_GAIN / 3] * 3 + [0.0]
    b2 = np.array([0.0, -CLOUD_GAIN * CLOUD_LEVEL], np.float32)
    return w1, b1, w2, b2


def frames(count: int, seed: int, size_px: int = WINDOW_PX) -> np.ndarray:
    """(count, size, size, 4) float32 reflectance-like frames: smooth fields in [0, 1.1], some bright (cloud)."""
    import cv2

    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0.0, 1.1, (count, 6, 6, 4)).astype(np.float32)
    return np.stack([cv2.resize(c, (size_px, size_px), interpolation=cv2.INTER_CUBIC) for c in coarse]).clip(0, 1.1)


def _keras():
    import keras

    inputs = keras.Input((WINDOW_PX, WINDOW_PX, 4), batch_size=1, name="toa")
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    outputs = keras.layers.Conv2D(2, 3, padding="same")(hidden)
    model = keras.Model(inputs, outputs)
    w1, b1, w2, b2 = weights()
    model.layers[1].set_weights([w1, b1])
    model.layers[2].set_weights([w2, b2])
    return model


def _keras_with_sin():
    """The user's model with a SIN (no int8 kernel in TFLite) between its two layers."""
    import keras
    import tensorflow as tf

    model = _keras()
    hidden = keras.layers.Lambda(tf.sin)(model.layers[1].output)
    return keras.Model(model.input, model.layers[2](hidden))


def _tflite(model, kind: str) -> bytes:
    import warnings

    import tensorflow as tf

    warnings.filterwarnings("ignore", "Statistics for quantized inputs", UserWarning)  # uint8 I/O: scales calibrated

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if kind == "float16":
        converter.target_spec.supported_types = [tf.float16]
        return converter.convert()
    calibration = frames(32, SEED + 1)
    converter.representative_dataset = lambda: ([f[None]] for f in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if kind == "int8_float_inside":
        converter.target_spec.supported_ops.append(tf.lite.OpsSet.TFLITE_BUILTINS)
    if kind != "int8_float_io":
        io_type = tf.uint8 if kind == "uint8" else tf.int8
        converter.inference_input_type = converter.inference_output_type = io_type
    return converter.convert()


@functools.cache
def _mixed(kind: str) -> bytes:
    return _tflite(_keras_with_sin() if kind == "int8_float_inside" else _keras(), kind)


def mixed_int8_model(kind: str, into: Path) -> Path:
    """Write ``int8_float_inside.tflite`` or ``int8_float_io.tflite`` (``kind`` without the suffix), with no card,
    into the directory ``into``; its path there."""
    into.mkdir(parents=True, exist_ok=True)
    path = into / f"{kind}.tflite"
    path.write_bytes(_mixed(kind))
    return path


def onnx_float16_nchw(height_px: int = WINDOW_PX, width_px: int = WINDOW_PX, outputs: int = len(CLASSES),
                      head: str | None = None, per_frame: bool = False, squeezed: bool = False,
                      gain: float = 1.0) -> bytes:
    """``float16.onnx``'s bytes, for windows of ``height_px`` x ``width_px``; with ``outputs`` 1, only its cloud
    logit; ``gain``: the logits times this (0.02: small logits, as an undertrained head gives); with ``head`` (an ONNX
    op such as Relu), that op applied to the logits; ``per_frame``: the logits averaged
    over the window, (batch, outputs) scores of the whole frame, as a classifier gives; ``squeezed`` (with
    ``outputs`` 1): the channel axis squeezed out, a (batch, H, W) map, as PyTorch exports ``logits.squeeze(1)``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w1, b1, w2, b2 = weights()
    w2, b2 = w2[..., len(CLASSES) - outputs:] * gain, b2[len(CLASSES) - outputs:] * gain
    init = [numpy_helper.from_array(np.transpose(w, (3, 2, 0, 1)).astype(np.float16), name)
            for w, name in ((w1, "w1"), (w2, "w2"))]
    init += [numpy_helper.from_array(b.astype(np.float16), name) for b, name in ((b1, "b1"), (b2, "b2"))]
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["h"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Conv", ["r", "w2", "b2"], ["logits"], pads=[1, 1, 1, 1])]
    nodes += [helper.make_node(head, ["logits"], ["out"])] if head else []
    out, shape = ("out" if head else "logits"), ["batch", outputs, height_px, width_px]
    if per_frame:
        nodes += [helper.make_node("GlobalAveragePool", [out], ["pooled"]),
                  helper.make_node("Flatten", ["pooled"], ["scores"])]
        out, shape = "scores", ["batch", outputs]
    if squeezed:
        init.append(numpy_helper.from_array(np.array([1], np.int64), "channel_axis"))
        nodes += [helper.make_node("Squeeze", [out, "channel_axis"], ["map"])]
        out, shape = "map", ["batch", height_px, width_px]
    graph = helper.make_graph(nodes, "user_cloud", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT16, ["batch", 4, height_px, width_px])], [helper.make_tensor_value_info(
            out, TensorProto.FLOAT16, shape)], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tests")
    onnx.checker.check_model(model)
    return model.SerializeToString()


def onnx_uint8_sigmoid(step: float) -> bytes:
    """A cloud model's bytes as a quantising exporter writes one (NCHW): a 1 x 1 convolution of the four bands to the
    cloud logit of the bright-cloud rule, its Sigmoid, and a QuantizeLinear to uint8 of quantisation scale ``step``
    (zero point 0): the (batch, 1, 48, 48) probability map out, 0 to 255 ``step``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    gain = np.array([CLOUD_GAIN / 3] * 3 + [0.0], np.float32).reshape(1, 4, 1, 1)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["logit"]), helper.make_node("Sigmoid", ["logit"], ["p"]),
         helper.make_node("QuantizeLinear", ["p", "step", "zero"], ["q"])], "uint8_sigmoid",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, WINDOW_PX, WINDOW_PX])],
        [helper.make_tensor_value_info("q", TensorProto.UINT8, ["batch", 1, WINDOW_PX, WINDOW_PX])],
        [numpy_helper.from_array(gain, "w"), numpy_helper.from_array(np.array([-CLOUD_GAIN * CLOUD_LEVEL],
                                                                              np.float32), "b"),
         numpy_helper.from_array(np.array(step, np.float32), "step"),
         numpy_helper.from_array(np.array(0, np.uint8), "zero")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tests")
    onnx.checker.check_model(model)
    return model.SerializeToString()


def onnx_misr(window_px: int, scale: int, out_scale: int | None = None) -> bytes:
    """A MISR model's bytes as PyTorch exports one (NCHW, float32): one window of ``window_px`` px of the planes
    folded at ``scale`` (scale² x 3 channels) in, a 3 x 3 convolution to ``out_scale``² channels (default ``scale``)
    and DepthToSpace: the correction, (1, 1, window_px x out_scale, window_px x out_scale), out."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    out_scale = out_scale or scale
    channels, side = scale * scale * 3, window_px * out_scale
    weights = np.random.default_rng(SEED).normal(0.0, 0.05, (out_scale * out_scale, channels, 3, 3))
    graph = helper.make_graph(
        [helper.make_node("Conv", ["planes", "w"], ["folded"], pads=[1, 1, 1, 1]),
         helper.make_node("DepthToSpace", ["folded"], ["correction"], blocksize=out_scale, mode="DCR")], "misr",
        [helper.make_tensor_value_info("planes", TensorProto.FLOAT, [1, channels, window_px, window_px])],
        [helper.make_tensor_value_info("correction", TensorProto.FLOAT, [1, 1, side, side])],
        [numpy_helper.from_array(weights.astype(np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tests")
    onnx.checker.check_model(model)
    return model.SerializeToString()


@functools.cache
def _made() -> Path:
    from onboard.runtime.onnx_export import export_tflite

    folder = Path(tempfile.mkdtemp(prefix="orbitedge-user-models-"))
    model = _keras()
    for kind in ("uint8", "float16"):
        (folder / f"{kind}.tflite").write_bytes(_tflite(model, kind))
    export_tflite(folder / "uint8.tflite", folder)
    (folder / "float16.onnx").write_bytes(onnx_float16_nchw())
    return folder


def user_model(name: str, into: Path) -> Path:
    """Copy user model ``name`` (``uint8.tflite``, ``float16.tflite``, ``uint8.onnx``, ``float16.onnx``), with no
    card, into the directory ``into``; its path there."""
    into.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(_made() / name, into / name))
