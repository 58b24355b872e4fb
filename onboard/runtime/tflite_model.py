"""The TFLite (LiteRT) runtime behind :class:`onboard.runtime.model.Model`: a .tflite file, checked, tried in a child
process unless shipped, and opened on an interpreter with its delegate, its one input and one output read as
tensors orbitedge can feed and read (:mod:`onboard.runtime.model_check` holds the checks)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .interpreter import check_delegate, load_delegates, resolve_runtime
from .model_check import IO_FLOAT_DTYPES, Tensor, invoke, open_interpreter, try_in_child


def _tensor(detail: Mapping[str, Any]) -> Tensor:
    """A Tensor from the interpreter's details of a tensor (per-tensor quantisation checked by model_check)."""
    dtype = np.dtype(detail["dtype"])
    quantization = None
    if dtype.name not in IO_FLOAT_DTYPES:
        scale, zero_point = detail["quantization"]
        quantization = (float(scale), int(zero_point))
    return Tensor(detail["name"], tuple(int(d) for d in detail["shape"]), dtype, quantization)


class TfliteEngine:
    """A .tflite model on an interpreter: ``run`` takes the input tensor in the model's own shape and dtype and
    returns the output tensor; ``run_window`` writes one window straight into the interpreter's input buffer.

    Raises as :class:`onboard.runtime.model.Model` documents; ``trial_s`` is the time its child-process trial took.
    """

    def __init__(self, path: Path, content: bytes, delegate: str, threads: int, runtime: str,
                 delegate_options: Mapping[str, str] | None):
        self.runtime = resolve_runtime(runtime)
        check_delegate(delegate)
        # NOTE: before this process loads the delegate, so that a device only one process may open is free.
        self.trial_s = try_in_child(path, content, self.runtime, delegate, delegate_options, threads)
        delegates = load_delegates(delegate, self.runtime, delegate_options)
        self._interpreter, self.ops = open_interpreter(path, content, self.runtime, delegates, threads)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self.input, self.output = _tensor(self._input), _tensor(self._output)
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
