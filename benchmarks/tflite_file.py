"""What a .tflite file holds, read through TFLite's own flatbuffer schema (``tensorflow.lite.python.
schema_py_generated``, the [train] extra): its operators, constant tensors and convolution weights, and whether it
meets the Edge TPU compiler's documented constraints; and the cloud U-Net rebuilt in Keras from the shipped float32
file. Used by the optimisation benchmark (``benchmarks/optimise.py``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from onboard.runtime.model import Model
from onboard.runtime.modelcard import MODEL_DIR
from training.train_cloud import MODEL_PX, VARIANTS, TrainConfig, build_unet

SHIPPED_FLOAT32 = MODEL_DIR / "cloud_bgrn_float32.tflite"
BANDS = VARIANTS["bgrn"]
# The Edge TPU compiler's requirements and supported operations, as documented by Coral ("TensorFlow models on the
# Edge TPU", sections "Model requirements" and "Supported operations"), keyed by TFLite builtin operator name.
EDGETPU_SOURCE = "https://coral.ai/docs/edgetpu/models-intro/#supported-operations"
EDGETPU_REQUIREMENTS = (
    "tensor parameters quantised to 8-bit fixed point (int8 or uint8): a full-integer model",
    "tensor sizes constant at compile time (no dynamic shapes)",
    "model parameters such as bias tensors constant at compile time",
    "tensors of 1, 2 or 3 dimensions; a tensor of more may have a size > 1 only in its 3 innermost dimensions",
    "only the supported operations below, within their limits",
)
NO_FUSED_ACTIVATION = "no fused activation function"
SAME_DILATION = "the same dilation in x and y"
EDGETPU_OPS = {
    "ADD": "", "AVERAGE_POOL_2D": NO_FUSED_ACTIVATION,
    "CONCATENATION": f"{NO_FUSED_ACTIVATION}; a compile-time constant input must be all zeros and one of only 2 inputs",
    "CONV_2D": SAME_DILATION, "DEPTHWISE_CONV_2D": SAME_DILATION, "EXPAND_DIMS": "",
    "FULLY_CONNECTED": "the default weights format only; one-dimensional output", "L2_NORMALIZATION": "",
    "LOGISTIC": "", "UNIDIRECTIONAL_SEQUENCE_LSTM": "unidirectional LSTM only", "MAXIMUM": "",
    "MAX_POOL_2D": NO_FUSED_ACTIVATION,
    "MEAN": "no reduction over the batch dimension; a reduction over z needs z a multiple of 4",
    "MINIMUM": "", "MUL": "", "PACK": "not along the batch dimension", "PAD": "not in the batch dimension",
    "PRELU": "alpha one-dimensional (only its innermost dimension > 1)", "QUANTIZE": "",
    "REDUCE_MAX": "not over the batch dimension", "REDUCE_MIN": "not over the batch dimension", "RELU": "",
    "RELU6": "", "RELU_N1_TO_1": "", "RESHAPE": "some reshapes of large tensors may not be mapped",
    "RESIZE_BILINEAR": "3-dimensional input and output; depending on the sizes it may not be mapped (precision)",
    "RESIZE_NEAREST_NEIGHBOR": "3-dimensional input and output; depending on the sizes it may not be mapped",
    "RSQRT": "", "SLICE": "", "SOFTMAX": "1-D input of at most 16,000 elements", "SPACE_TO_DEPTH": "",
    "SPLIT": "not along the batch dimension", "SQUEEZE": "",
    "STRIDED_SLICE": "all strides 1, ellipsis-axis mask 0 and new-axis mask 0", "SUB": "",
    "SUM": "not over the batch dimension", "SQUARED_DIFFERENCE": "", "TANH": "", "TRANSPOSE": "", "TRANSPOSE_CONV": "",
}
# the operators whose limits edgetpu_constraints reads from the file itself
CHECKED_LIMITS = ("AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D")


def flatbuffer(path: Path):
    """The .tflite file at ``path`` through TFLite's flatbuffer schema (its object API, ``ModelT``)."""
    from tensorflow.lite.python import schema_py_generated as schema

    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(path.read_bytes(), 0))


def _enum_names(enum: type) -> dict[int, str]:
    return {value: name for name, value in vars(enum).items() if not name.startswith("_")}


def operators(model) -> list[tuple[str, Any]]:
    """(builtin operator name, operator) of the main subgraph, in execution order."""
    from tensorflow.lite.python import schema_py_generated as schema

    names = _enum_names(schema.BuiltinOperator)
    codes = model.operatorCodes
    return [(names[max(codes[op.opcodeIndex].builtinCode, codes[op.opcodeIndex].deprecatedBuiltinCode)], op)
            for op in model.subgraphs[0].operators]


def constant(model, index: int) -> np.ndarray | None:
    """The data of tensor ``index`` of the main subgraph as its dtype and shape; None for a tensor without data."""
    from tensorflow.lite.python import schema_py_generated as schema

    tensor = model.subgraphs[0].tensors[index]
    data = model.buffers[tensor.buffer].data
    if data is None or len(data) == 0:
        return None
    dtype = np.dtype(_enum_names(schema.TensorType)[tensor.type].lower())
    return np.asarray(data, np.uint8).view(dtype).reshape(tensor.shape)


def conv_weights(path: Path) -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """(op name, kernel, bias) of every CONV_2D and DEPTHWISE_CONV_2D of a .tflite file, in execution order, with
    the file's layouts: CONV_2D (out, kh, kw, in), DEPTHWISE_CONV_2D (1, kh, kw, channels)."""
    model = flatbuffer(path)
    found = []
    for name, op in operators(model):
        if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            bias = constant(model, int(op.inputs[2])) if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
            found.append((name, constant(model, int(op.inputs[1])), bias))
    return found


def conv_zero_fraction(path: Path) -> float:
    """The smallest share of exact zeros among the .tflite file's convolution kernels (quantised or not)."""
    return min(float(np.mean(kernel == 0)) for _, kernel, _ in conv_weights(path))


def _op_problems(model, name: str, op) -> list[str]:
    """Where one operator breaks the limits of EDGETPU_OPS that the file shows (the ops of CHECKED_LIMITS)."""
    options, limit, problems = op.builtinOptions, EDGETPU_OPS.get(name, ""), []
    if NO_FUSED_ACTIVATION in limit and options.fusedActivationFunction != 0:
        problems.append(f"{name} with a fused activation")
    if limit == SAME_DILATION and options.dilationHFactor != options.dilationWFactor:
        problems.append(f"{name} with dilation {options.dilationHFactor} x {options.dilationWFactor}")
    if name == "CONCATENATION":
        constants = [constant(model, int(i)) for i in op.inputs]
        if any(c is not None for c in constants) and (len(op.inputs) != 2 or any(c is not None and np.any(c != 0)
                                                                                 for c in constants)):
            problems.append("CONCATENATION with a constant input other than one of two, all zeros")
    return problems


def edgetpu_constraints(path: Path) -> dict[str, Any]:
    """Whether a .tflite file meets EDGETPU_REQUIREMENTS and EDGETPU_OPS as far as the file shows: tensor types
    (int8 or uint8; int32 only as constants: biases, sizes), static shapes, activation ranks, operators, and the
    limits of CHECKED_LIMITS. Limits of present operators that only the compiler can judge are listed as
    ``unchecked_limits``; ``op_versions`` gives each operator's version, which the documentation does not bound."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = flatbuffer(path)
    graph = model.subgraphs[0]
    types = _enum_names(schema.TensorType)
    wrong_types = Counter(types[t.type].lower() for i, t in enumerate(graph.tensors)
                          if types[t.type] not in ("INT8", "UINT8")
                          and not (types[t.type] == "INT32" and constant(model, i) is not None))
    problems = [f"{n} {dtype} tensors" for dtype, n in sorted(wrong_types.items())]
    if any(t.shapeSignature is not None and np.any(np.asarray(t.shapeSignature) < 0) for t in graph.tensors):
        problems.append("dynamic tensor shapes")
    if any(len(t.shape) > 3 and np.any(np.asarray(t.shape[:-3]) > 1) and constant(model, i) is None
           for i, t in enumerate(graph.tensors)):  # activations: every conv model's kernels are 4-D
        problems.append("activations with a size > 1 outside their 3 innermost dimensions")
    ops = operators(model)
    present = sorted({name for name, _ in ops})
    problems += [f"{name} is not a supported operation" for name in present if name not in EDGETPU_OPS]
    problems += [problem for name, op in ops if name in CHECKED_LIMITS for problem in _op_problems(model, name, op)]
    return {"met": not problems, "problems": list(dict.fromkeys(problems)),
            "unchecked_limits": {name: EDGETPU_OPS[name] for name in present
                                 if EDGETPU_OPS.get(name) and name not in CHECKED_LIMITS},
            "op_versions": {name: int(model.operatorCodes[op.opcodeIndex].version) for name, op in ops}}


def conv_layers(model) -> list:
    """The Conv2D and DepthwiseConv2D layers of a Keras model, in the model's (topological) layer order."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))]


def shipped_keras(path: Path = SHIPPED_FLOAT32):
    """``build_unet`` in the exported shape (1, MODEL_PX, MODEL_PX, 4), carrying the weights of the float32 .tflite
    at ``path``.

    The converter folded each batch normalisation into the convolution before it, so each BatchNormalization layer
    becomes the identity after the folded kernel: scale 1, offset the op's bias, moving mean 0, moving variance
    1 - epsilon (sqrt(variance + epsilon) = 1). Ops and layers are matched in order (both run from input to output)
    and each kernel's shape is checked; ValueError when the file does not fit the architecture."""
    import keras

    model = build_unet(len(BANDS), MODEL_PX, 1, TrainConfig().widths)
    weights = conv_weights(path)
    if len(weights) != len(conv_layers(model)):
        raise ValueError(f"{path}: {len(weights)} convolutions, the U-Net has {len(conv_layers(model))}")
    pending = iter(weights)
    bias = None
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            _, kernel, bias = next(pending)
            kernel = np.transpose(kernel, (1, 2, 3, 0))  # -> (kh, kw, in, out) or (kh, kw, channels, 1)
            if kernel.shape != tuple(layer.kernel.shape):
                raise ValueError(f"{path}: kernel {kernel.shape} where {layer.name} takes {tuple(layer.kernel.shape)}")
            layer.set_weights([kernel, bias] if layer.use_bias else [kernel])
        elif isinstance(layer, keras.layers.BatchNormalization):
            ones = np.ones_like(bias)
            layer.set_weights([ones, bias, np.zeros_like(bias), ones - np.float32(layer.epsilon)])
    return model


def reproduction_error(model, windows: np.ndarray, path: Path = SHIPPED_FLOAT32) -> float:
    """Largest |probability difference| between the Keras ``model`` and the .tflite at ``path`` (LiteRT, one
    thread) over ``windows`` (N, MODEL_PX, MODEL_PX, 4) of TOA reflectance."""
    shipped = Model(path)
    keras_out = np.concatenate([model(w[None], training=False).numpy() for w in windows.astype(np.float32)])
    litert_out = np.stack([shipped.predict(w) for w in windows.astype(np.float32)])
    return float(np.abs(keras_out - litert_out).max())
