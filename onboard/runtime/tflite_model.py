"""The TFLite (LiteRT) runtime behind :class:`onboard.runtime.model.Model`: a .tflite file, checked, tried in a child
process unless shipped, and opened on an interpreter with its delegate, its one input and one output read as
tensors orbitedge can feed and read (:mod:`onboard.runtime.model_check` holds the checks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .interpreter import check_delegate, load_delegates, resolve_runtime
from .model_check import IO_FLOAT_DTYPES, Tensor, activation_behind, invoke, open_interpreter, try_in_child

EIGHT_BIT = ("int8", "uint8")  # the tensor types of a full-integer model: int8 (LiteRT's), uint8 (older converters')
CONVERTERS = ("QUANTIZE", "DEQUANTIZE")  # ops that convert between 8-bit and other tensors, computing nothing else
ACTIVATION_OPS = {"LOGISTIC": "sigmoid", "SOFTMAX": "softmax"}  # ops whose outputs are already probabilities
PASS_THROUGH_OPS = (*CONVERTERS, "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "DEPTH_TO_SPACE")  # move values only


def _tensor(detail: Mapping[str, Any]) -> Tensor:
    """A Tensor from the interpreter's details of a tensor (per-tensor quantisation checked by model_check)."""
    dtype = np.dtype(detail["dtype"])
    quantization = None
    if dtype.name not in IO_FLOAT_DTYPES:
        scale, zero_point = detail["quantization"]
        quantization = (float(scale), int(zero_point))
    return Tensor(detail["name"], tuple(int(d) for d in detail["shape"]), dtype, quantization)


def not_full_int8(ops: Sequence[Mapping[str, Any]] | None, tensors: Sequence[Mapping[str, Any]],
                  inputs: Sequence[int], outputs: Sequence[int]) -> str | None:
    """None when every op of the model runs on 8-bit tensors (int8 or uint8), as the Edge TPU compiler requires
    (Coral, "TensorFlow models on the Edge TPU", Model requirements: "Tensor parameters are quantized (8-bit
    fixed-point numbers; int8 or uint8)", https://coral.ai/docs/edgetpu/models-intro/#model-requirements); else
    what is not, e.g. ``float32 input and output`` (int8 inside, converted with float I/O) or ``float32 tensors
    inside: 2 of 11 (ops SIN)`` (int8 I/O around float ops between a DEQUANTIZE and a QUANTIZE).

    ops: the interpreter's op details (``op_name``, ``inputs``, ``outputs``), None where the runtime lists none;
    tensors: its tensor details; inputs, outputs: the model's input and output tensor indices. The tensors judged
    are the model's inputs and every tensor an op computes; constants (weights, int32 biases and sizes) only feed
    ops, and where the runtime lists no ops, every tensor but the int32 ones is judged."""
    dtype = {int(t["index"]): np.dtype(t["dtype"]).name for t in tensors}
    computed = ({int(i) for op in ops for i in op["outputs"]} | set(inputs) if ops is not None
                else {i for i, name in dtype.items() if name != "int32"})
    wide = {i for i in computed if dtype[i] not in EIGHT_BIT}
    ends = [(role, dtype[i]) for role, indices in (("input", inputs), ("output", outputs))
            for i in indices if i in wide]
    found = [f"{ends[0][1]} input and output"] if len(ends) == 2 and ends[0][1] == ends[1][1] else \
        [f"{name} {role}" for role, name in ends]
    inside = wide - set(inputs) - set(outputs)
    for name in sorted({dtype[i] for i in inside}):
        these = {i for i in inside if dtype[i] == name}
        on = sorted({op["op_name"] for op in ops or () if these & {int(i) for i in (*op["inputs"], *op["outputs"])}})
        computing = [op for op in on if op not in CONVERTERS] or on
        found.append(f"{name} tensors inside: {len(these)} of {len(computed)}"
                     + (f" (ops {', '.join(computing)})" if computing else ""))
    return "; ".join(found) or None


def output_activation(ops: Sequence[Mapping[str, Any]] | None, output: int) -> tuple[str, str] | None:
    """``(op, activation)`` when the model's ``output`` tensor comes out of an op that makes probabilities (LOGISTIC:
    sigmoid, SOFTMAX: softmax; ACTIVATION_OPS), through ops that only convert or move values (PASS_THROUGH_OPS);
    None otherwise, and where the runtime lists no ops."""
    producers = {int(i): (op["op_name"], int(op["inputs"][0]) if len(op["inputs"]) else None)
                 for op in ops or () for i in op["outputs"]}
    return activation_behind(output, producers, ACTIVATION_OPS, PASS_THROUGH_OPS)


class TfliteEngine:
    """A .tflite model on an interpreter: ``run`` takes the input tensor in the model's own shape and dtype and
    returns the output tensor; ``run_window`` writes one window straight into the interpreter's input buffer.
    ``ops``: the op names, sorted (None if the runtime hides them); ``not_full_int8``: :func:`not_full_int8`;
    ``output_activation``: :func:`output_activation`.

    Raises as :class:`onboard.runtime.model.Model` documents; ``trial_s`` is the time its child-process trial took.
    """

    def __init__(self, path: Path, content: bytes, delegate: str, threads: int, runtime: str,
                 delegate_options: Mapping[str, str] | None):
        self.runtime = resolve_runtime(runtime)
        check_delegate(delegate)
        # NOTE: before this process loads the delegate, so that a device only one process may open is free.
        self.trial_s = try_in_child(path, content, self.runtime, delegate, delegate_options, threads)
        delegates = load_delegates(delegate, self.runtime, delegate_options)
        self._interpreter, ops = open_interpreter(path, content, self.runtime, delegates, threads)
        self.ops = tuple(sorted({op["op_name"] for op in ops})) if ops is not None else None
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self.input, self.output = _tensor(self._input), _tensor(self._output)
        self.not_full_int8 = not_full_int8(ops, self._interpreter.get_tensor_details(), [self._input["index"]],
                                           [self._output["index"]])
        self.output_activation = output_activation(ops, int(self._output["index"]))
        self._path = path

    def run(self, q: np.ndarray) -> np.ndarray:
        """The raw output for the raw input ``q``; InputFileError naming the model when a kernel fails on it."""
        self._interpreter.set_tensor(self._input["index"], q)
        invoke(self._interpreter, self._path, self.runtime)
        return self._interpreter.get_tensor(self._output["index"])

    def run_window(self, window: np.ndarray) -> np.ndarray:
        """The output, without its batch dimension, for one window without its batch dimension."""
        self._interpreter.tensor(self._input["index"])()[0] = window  # NOTE: the view is dropped before invoke
        invoke(self._interpreter, self._path, self.runtime)
        return self._interpreter.get_tensor(self._output["index"])[0]
