"""One wrapper over the TFLite (LiteRT) interpreter: a model checked against its card, with real-valued
``predict`` that quantises inputs and dequantises outputs with each tensor's own scale and zero point; and the card
of a new model, read from the model itself."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rundir.errors import InputFileError

from .interpreter import check_delegate, load_delegates, resolve_runtime
from .model_check import IO_FLOAT_DTYPES, invoke, open_interpreter, read_model_file, try_in_child
from .modelcard import ModelCard, Scaling, TensorCard, load_card
from .tiling import predict_tiled


def _quantization(detail: Mapping[str, Any]) -> tuple[float, int] | None:
    """(scale, zero point) of a per-tensor quantised integer tensor (checked by _io_problems), None for a float one."""
    if np.dtype(detail["dtype"]).name in IO_FLOAT_DTYPES:
        return None
    scale, zero_point = detail["quantization"]
    return float(scale), int(zero_point)


class Model:
    """A .tflite model on an interpreter, checked against its card, with real-valued ``predict``.

    path: the .tflite file. card_path: its model card; None looks for ``<stem>.json`` beside the model and
    uses it if present. delegate: one of DELEGATES. threads: CPU threads for the interpreter and XNNPACK.
    runtime: ``"auto"`` or one of RUNTIMES. delegate_options: key/value options for the delegate library.
    bands: the camera's band order; when given, the card's input bands must equal it.
    A model that is not shipped (its sha256 in no card of MODEL_DIR) first loads and runs once in a child
    process (try_in_child), once per process; ``trial_s`` is the wall time that took, in seconds (0 when skipped).
    ``init_s`` is the wall time in seconds to read, check and load the model, load the delegate and
    allocate the tensors, without the trial.

    Raises InputFileError for a missing, truncated, corrupt or rejected model, for a bad card, and for a
    model that differs from its card; its subclasses UnsupportedModelError for tensors or ops orbitedge or the
    runtime cannot run, and ModelCrashError when the trial run crashed; DelegateError when the delegate cannot
    be loaded.
    """

    def __init__(self, path: str | Path, card_path: str | Path | None = None, delegate: str = "cpu",
                 threads: int = 1, runtime: str = "auto", delegate_options: Mapping[str, str] | None = None,
                 bands: Sequence[str] | None = None):
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        start_s = time.perf_counter()
        self.path = Path(path)
        self.delegate = delegate
        self.threads = threads
        content = read_model_file(self.path)
        if card_path is None and self.path.with_suffix(".json").is_file():
            card_path = self.path.with_suffix(".json")
        self.card = load_card(card_path) if card_path is not None else None
        self.runtime = resolve_runtime(runtime)
        check_delegate(delegate)
        # NOTE: before this process loads the delegate, so that a device only one process may open is free.
        self.trial_s = try_in_child(self.path, content, self.runtime, delegate, delegate_options, threads)
        delegates = load_delegates(delegate, self.runtime, delegate_options)
        self._interpreter, self._ops = open_interpreter(self.path, content, self.runtime, delegates, threads)
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self.input_quantization = _quantization(self._input)
        self.output_quantization = _quantization(self._output)
        self._check_card(content, bands)
        self.init_s = time.perf_counter() - start_s - self.trial_s

    def _check_card(self, content: bytes, bands: Sequence[str] | None) -> None:
        if self.card is None:
            if bands is not None:
                raise InputFileError(self.path, f"no model card ({self.path.with_suffix('.json').name}) "
                                                f"to check the camera's bands {list(bands)} against")
            return
        card_in, card_out = self.card.inputs[0], self.card.outputs[0]
        problems = []
        for field_name, in_card, in_model in (
                ("inputs[0].shape", list(card_in.shape), list(self.input_shape)),
                ("inputs[0].dtype", card_in.dtype, self.input_dtype.name),
                ("outputs[0].shape", list(card_out.shape), list(self.output_shape)),
                ("outputs[0].dtype", card_out.dtype, self.output_dtype.name),
                ("size_bytes", self.card.size_bytes, len(content)),
                ("sha256", self.card.sha256, hashlib.sha256(content).hexdigest())):
            if in_card != in_model:
                problems.append(f"{field_name} is {in_card} in the card but {in_model} in the model")
        if bands is not None and list(card_in.bands) != list(bands):
            problems.append(f"inputs[0].bands is {list(card_in.bands)} in the card but the camera gives {list(bands)}")
        if problems:
            raise InputFileError(self.path, f"does not match its card {self.card.path}: " + "; ".join(problems))

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of the input tensor, batch first, e.g. (1, 256, 256, 4)."""
        return tuple(int(d) for d in self._input["shape"])

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of the output tensor, batch first."""
        return tuple(int(d) for d in self._output["shape"])

    @property
    def input_dtype(self) -> np.dtype:
        """dtype of the input tensor inside the model (int8 for a full-int8 model)."""
        return np.dtype(self._input["dtype"])

    @property
    def output_dtype(self) -> np.dtype:
        """dtype of the output tensor inside the model."""
        return np.dtype(self._output["dtype"])

    @property
    def is_quantized(self) -> bool:
        """True when the input or the output tensor is quantised (int8 I/O)."""
        return self.input_quantization is not None or self.output_quantization is not None

    def op_names(self) -> tuple[str, ...] | None:
        """The model's operator names (e.g. "CONV_2D"), sorted and unique; None if the runtime cannot list them.

        With an explicit delegate (edgetpu, external) the ops it took over show as that delegate's node.
        """
        return self._ops

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """``x`` (float, real input scale) as the input tensor's dtype: ``round(x / scale) + zero_point``, clipped."""
        if self.input_quantization is None:
            return np.asarray(x, self.input_dtype)
        scale, zero_point = self.input_quantization
        limits = np.iinfo(self.input_dtype)
        q = np.divide(np.asarray(x, np.float32), np.float32(scale), dtype=np.float32)
        np.round(q, out=q)  # in place: a third of the time of the same expression with temporaries
        q += np.float32(zero_point)
        np.clip(q, limits.min, limits.max, out=q)
        return q.astype(self.input_dtype)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """Output tensor values as float32 in real units: ``(q - zero_point) * scale``."""
        if self.output_quantization is None:
            return np.asarray(q, np.float32)
        scale, zero_point = self.output_quantization
        return ((q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)).astype(np.float32)

    def invoke_raw(self, q: np.ndarray) -> np.ndarray:
        """Run the model on an input already in the tensor's dtype and full shape; returns the raw output tensor.
        InputFileError naming the model when a kernel fails on this input (the trial ran zeros only)."""
        self._interpreter.set_tensor(self._input["index"], q)
        invoke(self._interpreter, self.path, self.runtime)
        return self._interpreter.get_tensor(self._output["index"])

    def predict(self, x: np.ndarray) -> np.ndarray:
        """float32 output in real units for ``x`` in the model's real input scale (see the card's ``scaling``).

        ``x`` has the input shape, or that shape without its batch dimension of 1, in which case the output
        comes without it too. Quantised tensors use their own scale and zero point; float ones pass through.
        """
        x = np.asarray(x)
        batched = x.shape == self.input_shape
        if not batched and (self.input_shape[0] != 1 or x.shape != self.input_shape[1:]):
            raise ValueError(f"{self.path.name}: input of shape {x.shape}, expected {self.input_shape} "
                             f"or {self.input_shape[1:]}")
        y = self.dequantize(self.invoke_raw(self.quantize(x.reshape(self.input_shape))))
        return y if batched else y[0]

    def predict_tiled(self, image: np.ndarray, overlap_px: int, scale: int = 1) -> np.ndarray:
        """float32 (H * scale, W * scale, K) output in real units for an (H, W, C) ``image`` of any size, in the
        model's real input scale, through sliding windows of the model's square input with ``overlap_px`` and
        cropped edges (:func:`onboard.tiling.predict_tiled`).

        The same values as ``tiling.predict_tiled(image, self.predict, ...)``, since quantising and dequantising
        act pixel by pixel, but the frame is quantised once, each window is copied once, straight into the
        interpreter's input buffer, and only the stitched output is dequantised. Raises ValueError when ``image``
        is not (H, W, C) with the model's C, or the model's input is not one square window.
        """
        _, window_px, width_px, channels = self.input_shape
        if self.input_shape[0] != 1 or window_px != width_px:
            raise ValueError(f"{self.path.name}: input {self.input_shape}, expected one square window (1, n, n, C)")
        if image.ndim != 3 or image.shape[2] != channels:
            raise ValueError(f"{self.path.name}: image of shape {image.shape}, expected (H, W, {channels})")
        input_buffer = self._interpreter.tensor(self._input["index"])

        def run(window: np.ndarray) -> np.ndarray:
            input_buffer()[0] = window  # NOTE: the view is dropped before invoke, as the interpreter requires
            invoke(self._interpreter, self.path, self.runtime)
            return self._interpreter.get_tensor(self._output["index"])[0]

        return self.dequantize(predict_tiled(self.quantize(image), run, window_px, overlap_px, scale))


def build_card(model_path: str | Path, *, name: str, version: str, task: str, input_name: str,
               bands: Sequence[str], scaling: Scaling, output_name: str, output_description: str,
               training: Mapping[str, Any], metrics: Mapping[str, Any]) -> ModelCard:
    """A card for the .tflite file at ``model_path``: shapes, dtypes, ops, size and sha256 read from the model,
    the rest as given. Raises InputFileError as Model does."""
    path = Path(model_path)
    content = read_model_file(path)
    runtime = resolve_runtime()
    try_in_child(path, content, runtime, "cpu", None, threads=1)
    interpreter, ops = open_interpreter(path, content, runtime, [], threads=1)
    detail_in, detail_out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    inputs = (TensorCard(input_name, tuple(int(d) for d in detail_in["shape"]), np.dtype(detail_in["dtype"]).name,
                         tuple(bands), scaling),)
    outputs = (TensorCard(output_name, tuple(int(d) for d in detail_out["shape"]), np.dtype(detail_out["dtype"]).name,
                          description=output_description),)
    return ModelCard(name, version, task, inputs, outputs, hashlib.sha256(content).hexdigest(), len(content),
                     ops or (), dict(training), dict(metrics))
