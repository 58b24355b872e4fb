"""One wrapper over the model runtimes, LiteRT (TFLite) and ONNX Runtime: a model checked against its card, with
real-valued ``predict`` that quantises inputs and dequantises outputs with each tensor's own scale and zero point,
in NHWC whatever the model's own layout; and the card of a new model, read from the model itself."""

from __future__ import annotations

import functools
import hashlib
import platform
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rundir.errors import InputFileError

from . import mlm
from .interpreter import check_delegate
from .json_fields import FieldReader
from .model_check import read_model_bytes, read_model_file
from .modelcard import NCHW, NHWC, Benchmark, ModelCard, TensorCard, doubled_activation, load_card
from .onnx_model import PROVIDERS, OnnxEngine, check_provider
from .tflite_model import TfliteEngine
from .scaling import Scaling
from ..pipeline.tiling import predict_tiled

FORMATS = (".tflite", ".onnx")
# what a stage's check expects of its ``model`` (a ConfigIssue's ``expected`` begins so): a sweep resumed after a
# model file broke leaves the file to each run that loads it (app.sweep_command)
MODEL_LOADS = "a model file that loads and matches its card"
ONNX_RUNTIME = "onnxruntime"
CARD_BENCHMARK_RUNS = 20  # timed inferences behind a new card's host latency, after CARD_BENCHMARK_WARMUP
CARD_BENCHMARK_WARMUP = 3


def is_model_file(name: str) -> bool:
    """True when a stage's ``model`` parameter names a model file (a user's) rather than a shipped model."""
    return Path(name).suffix.lower() in FORMATS


def cached_model(path: Path, threads: int, bands: tuple[str, ...] | None = None, by_name: bool = False) -> Model:
    """``Model(path, threads=threads, bands=bands, by_name=by_name)`` on the host CPU, made once per process while
    neither the model file nor its card changes (a stage's validation and its run share it)."""
    stamps = tuple(p.stat().st_mtime_ns if p.is_file() else None for p in (path, path.with_suffix(".json")))
    return _cached_model(path, stamps, threads, bands, by_name)


@functools.cache
def _cached_model(path: Path, stamps: tuple[int | None, ...], threads: int, bands: tuple[str, ...] | None,
                  by_name: bool) -> Model:
    return Model(path, bands=bands, threads=threads, by_name=by_name)


def model_format(path: Path) -> str:
    """``.tflite`` or ``.onnx``, from the file name. InputFileError for any other."""
    if path.suffix.lower() not in FORMATS:
        raise InputFileError(path, f"expected a model file ending in {' or '.join(FORMATS)}, found {path.name!r}")
    return path.suffix.lower()


def channels_first(shape: tuple[int, ...], card: TensorCard | None, fmt: str, channels: int | None = None) -> bool:
    """Whether an image tensor is (batch, channel, height, width): as its card's ``dim_order`` says, else, for an
    ONNX model (PyTorch exports NCHW), when exactly one of its second and last sizes is ``channels`` (the input
    channels the caller knows: the bands given to ``card init``) and that is the second, or, when that does not
    tell, its last two sizes are equal and the second differs from them; a TFLite model is NHWC."""
    if card is not None and card.dim_order is not None:
        return card.channels_first
    if fmt != ".onnx" or len(shape) != 4:
        return False
    if channels is not None and (shape[1] == channels) != (shape[3] == channels):
        return shape[1] == channels
    return shape[2] == shape[3] and shape[1] != shape[2]


def output_channels_first(shape: tuple[int, ...], card: TensorCard | None, fmt: str, input_first: bool,
                          input_hw: tuple[int, ...]) -> bool:
    """Whether a model's output ``shape`` is (batch, channel, height, width): never unless 4-D; as its card's
    ``dim_order`` says; a TFLite model's is NHWC; else where the input's (height, width) ``input_hw``, or a whole
    multiple of both (a super-resolution model's output), stands at its dimensions 2-3 and not at 1-2 (channels
    first) or the other way (last); else (another size, or both) as the input (``input_first``)."""
    if len(shape) != 4:
        return False
    if card is not None and card.dim_order is not None:
        return card.channels_first
    if fmt != ".onnx":
        return False

    def scaled(sizes: tuple[int, ...]) -> bool:  # (h * s, w * s) of the input's (h, w), s a whole number
        return len(input_hw) == 2 and all(n > 0 and size % n == 0 for size, n in zip(sizes, input_hw)) and \
            sizes[0] // input_hw[0] == sizes[1] // input_hw[1]
    last, middle = scaled(tuple(shape[2:4])), scaled(tuple(shape[1:3]))
    return last if last != middle else input_first


def _nhwc(shape: tuple[int, ...], first: bool) -> tuple[int, ...]:
    return (shape[0], shape[2], shape[3], shape[1]) if first else shape


class Model:
    """A .tflite or .onnx model on its runtime, checked against its card, with real-valued ``predict``.

    path: the model file. card_path: its model card; None looks for ``<stem>.json`` beside the model and uses it if
    present. delegate: for a .tflite model one of ``interpreter.DELEGATES``; for an .onnx model one of
    ``onnx_model.PROVIDERS`` (cpu, cuda, tensorrt). threads: CPU threads for the runtime. runtime: ``"auto"``, one
    of ``interpreter.RUNTIMES`` for a .tflite model, or ``"onnxruntime"``. delegate_options: key/value options for a
    TFLite delegate library. bands: the camera's band order; when given, the card's input bands must equal it, or,
    with ``by_name`` (a caller that picks the card's bands out of the camera's by name), all be among it.
    use_card: False reads no card beside the model (a model being carded). channels: its input channels, to tell
    an ONNX model's NCHW from NHWC where no card's ``dim_order`` says (:func:`channels_first`; default: the
    card's band count).

    Shapes and arrays are NHWC (batch, height, width, channel) whatever the model's own layout: an NCHW model (its
    card's ``dim_order``, or the shape of an ONNX model) has its input and output transposed around each run.
    ``output_activation``: ``(op, activation)`` when the model's output already comes out of a sigmoid or softmax
    op (its outputs are probabilities, and its card may name no ``activation``), else None.
    A model that is not shipped (its sha256 in no card of MODEL_DIR) first loads and runs once in a child process,
    once per process; ``trial_s`` is the wall time that took, in seconds (0 when skipped). ``init_s`` is the wall
    time in seconds to read, check and load the model, load the delegate and allocate the tensors, without the trial;
    the same work with or without a card, which is read before it and checked against the model after it.

    Raises InputFileError for a missing, truncated, corrupt or rejected model, for a bad card, and for a model that
    differs from its card (naming the card's field, its line and both values); its subclasses UnsupportedModelError
    for tensors or ops orbitedge or the runtime cannot run, and ModelCrashError when the trial run crashed;
    DelegateError when the delegate or execution provider cannot be loaded; ValueError for an unknown delegate.
    """

    def __init__(self, path: str | Path, card_path: str | Path | None = None, delegate: str = "cpu",
                 threads: int = 1, runtime: str = "auto", delegate_options: Mapping[str, str] | None = None,
                 bands: Sequence[str] | None = None, use_card: bool = True, channels: int | None = None,
                 by_name: bool = False):
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.path = Path(path)
        self.delegate = delegate
        self.threads = threads
        self.format = model_format(self.path)
        if card_path is None and use_card and self.path.with_suffix(".json").is_file():
            card_path = self.path.with_suffix(".json")
        # NOTE: before the init timer: reading a STAC card imports and runs pystac, which is no work of the runtime's
        self.card = load_card(card_path) if card_path is not None else None
        start_s = time.perf_counter()
        content = read_model_file(self.path) if self.format == ".tflite" else read_model_bytes(self.path)
        if self.format == ".onnx":
            if runtime not in ("auto", ONNX_RUNTIME):
                raise ValueError(f"{self.path.name}: an ONNX model runs on {ONNX_RUNTIME}, not {runtime!r}")
            check_provider(delegate)
            self._engine: Any = OnnxEngine(self.path, content, delegate, threads)
        else:
            if delegate in PROVIDERS and delegate != "cpu":
                raise ValueError(f"{self.path.name}: the {delegate} provider runs ONNX models; export this TFLite "
                                 "model to ONNX first (onboard.runtime.onnx_export)")
            check_delegate(delegate)
            self._engine = TfliteEngine(self.path, content, delegate, threads, runtime, delegate_options)
        self.runtime = self._engine.runtime
        self.trial_s = self._engine.trial_s
        self.output_activation: tuple[str, str] | None = self._engine.output_activation
        card_in = self.card.inputs[0] if self.card else None
        card_out = self.card.outputs[0] if self.card else None
        if channels is None and card_in is not None and card_in.bands:
            channels = len(card_in.bands)
        self._in_first = channels_first(self._engine.input.shape, card_in, self.format, channels)
        in_hw = _nhwc(self._engine.input.shape, self._in_first)[1:3] if len(self._engine.input.shape) == 4 else ()
        self._out_first = output_channels_first(self._engine.output.shape, card_out, self.format,
                                                self._in_first, in_hw)
        self.input_quantization = self._engine.input.quantization
        self.output_quantization = self._engine.output.quantization
        self.init_s = time.perf_counter() - start_s - self.trial_s
        self._check_card(content, bands, by_name)

    def _check_card(self, content: bytes, bands: Sequence[str] | None, by_name: bool) -> None:
        if self.card is None:
            if bands is not None:
                raise InputFileError(self.path, f"no model card ({self.path.with_suffix('.json').name}) "
                                                f"to check the camera's bands {list(bands)} against")
            return
        card_in, card_out = self.card.inputs[0], self.card.outputs[0]
        engine_in, engine_out = self._engine.input, self._engine.output

        shape_in, shape_out = self.card_shapes
        checks = [("inputs[0].shape", list(card_in.shape), list(shape_in)),
                  ("inputs[0].dtype", card_in.dtype, engine_in.dtype.name),
                  ("outputs[0].shape", list(card_out.shape), list(shape_out)),
                  ("outputs[0].dtype", card_out.dtype, engine_out.dtype.name),
                  ("size_bytes", self.card.size_bytes, len(content)),
                  ("sha256", self.card.sha256, hashlib.sha256(content).hexdigest())]
        if self.card.framework is not None:
            checks.append(("framework", self.card.framework, mlm.FRAMEWORKS[self.format]))
        problems = [(field, f"is {in_card} in the card but {in_model} in the model")
                    for field, in_card, in_model in checks if in_card != in_model]
        channels = self.output_shape[-1]
        if card_out.classes and len(card_out.classes) != channels:  # names read as channels by their place
            problems.append(("outputs[0].classes", f"names {len(card_out.classes)} classes "
                             f"{list(card_out.classes)} in the card but the model's output has {channels} "
                             f"channel(s): one name per channel, in order (orbitedge card init --classes)"))
        if card_out.activation is not None and self.output_activation is not None:
            problems.append(("outputs[0].activation", f"is {card_out.activation} in the card, but "
                             + doubled_activation(card_out.activation, self.output_activation)))
        missing = [band for band in card_in.bands if band not in (bands or ())]
        if bands is not None and (missing if by_name else list(card_in.bands) != list(bands)):
            problems.append(("inputs[0].bands", f"is {list(card_in.bands)} in the card but the camera gives "
                                                f"{list(bands)}" + (f": no {', '.join(missing)} (the model's bands are "
                                                                    "picked from the camera's by name)" * by_name)))
        if problems:
            named = Path(self.card.model_file or self.path.name).name  # a twin's card (X.tflite's, beside X.onnx)
            written = f" (written for {named})" if named != self.path.name else ""
            changed = self.card.form == "stac" and not written and {"sha256", "size_bytes"} & {f for f, _ in problems}
            raise InputFileError(self.path, f"does not match its card {self.card.path}{written}: "
                                 + "; ".join(card_field(self.card, field, text) for field, text in problems)
                                 + (f"; the model changed since its card was written (retrained?): write the card "
                                    f"again with orbitedge card init {self.path} --force and the options it was made "
                                    "with, then orbitedge card score it again" if changed else ""))

    @property
    def card_shapes(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The input's and the output's shape as the model's card records them: the tensors' own layout, with -1 for
        a dynamic batch (which runs as 1)."""
        return tuple((-1 if t.dynamic_batch else t.shape[0], *t.shape[1:])  # type: ignore[return-value]
                     for t in (self._engine.input, self._engine.output))

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of the input tensor, NHWC, batch first, e.g. (1, 256, 256, 4) (a dynamic batch is 1)."""
        return _nhwc(self._engine.input.shape, self._in_first)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of the output tensor, batch first (NHWC for an image)."""
        return _nhwc(self._engine.output.shape, self._out_first)

    @property
    def input_dtype(self) -> np.dtype:
        """dtype of the input tensor inside the model (int8 for a full-int8 model)."""
        return self._engine.input.dtype

    @property
    def output_dtype(self) -> np.dtype:
        """dtype of the output tensor inside the model."""
        return self._engine.output.dtype

    @property
    def is_quantized(self) -> bool:
        """True when the input or the output tensor is quantised (int8 I/O)."""
        return self.input_quantization is not None or self.output_quantization is not None

    def op_names(self) -> tuple[str, ...] | None:
        """The model's operator names (e.g. "CONV_2D", or ONNX "Conv"), sorted and unique; None if the runtime
        cannot list them. With an explicit TFLite delegate (edgetpu, external) the ops it took over show as that
        delegate's node."""
        return self._engine.ops

    def not_full_int8(self) -> str | None:
        """None for a full-int8 model, every op on int8 or uint8 tensors (:func:`tflite_model.not_full_int8`); else
        what was found: the tensors that are not 8-bit, or, for an ONNX model, that it is one (its int8 is float
        ops between DequantizeLinear and QuantizeLinear, and edgetpu_compiler takes TFLite models only)."""
        if self.format == ".onnx":
            return ("an ONNX model (its int8 is float ops between DequantizeLinear and QuantizeLinear; "
                    "edgetpu_compiler takes TFLite models only)")
        return self._engine.not_full_int8

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
        """Run the model on an input already in the tensor's dtype and full NHWC shape; returns the raw output
        tensor (NHWC for an image). InputFileError naming the model when the runtime fails on this input."""
        if self._in_first:
            q = np.ascontiguousarray(q.transpose(0, 3, 1, 2))
        out = self._engine.run(q)
        return out.transpose(0, 2, 3, 1) if self._out_first else out

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
        cropped edges (:func:`onboard.pipeline.tiling.predict_tiled`).

        The same values as ``tiling.predict_tiled(image, self.predict, ...)``, since quantising and dequantising
        act pixel by pixel, but the frame is quantised once, each window goes once to the runtime (straight into
        the TFLite interpreter's input buffer), and only the stitched output is dequantised. Raises ValueError when
        ``image`` is not (H, W, C) with the model's C, or the model's input is not one square window.
        """
        _, window_px, width_px, channels = self.input_shape
        if self.input_shape[0] != 1 or window_px != width_px or len(self.output_shape) != 4:
            raise ValueError(f"{self.path.name}: input {self.input_shape} and output {self.output_shape}, expected "
                             "one square window in (1, n, n, C) and an image out")
        if image.ndim != 3 or image.shape[2] != channels:
            raise ValueError(f"{self.path.name}: image of shape {image.shape}, expected (H, W, {channels})")

        def run(window: np.ndarray) -> np.ndarray:
            out = self._engine.run_window(np.ascontiguousarray(window.transpose(2, 0, 1)) if self._in_first else window)
            return out.transpose(1, 2, 0) if self._out_first else out

        return self.dequantize(predict_tiled(self.quantize(image), run, window_px, overlap_px, scale))


def card_field(card: ModelCard, field: str, text: str) -> str:
    """``line N: PATH text`` for flat-card field ``field`` of ``card``: its path and line in the card's file."""
    text_of_file = card.path.read_text(encoding="utf-8") if card.path and card.path.is_file() else None
    translate = mlm.stac_path if card.form == "stac" else None
    return FieldReader(text_of_file, translate).located(field, text, separator=" ")


def host_benchmark(model: Model, runs: int = CARD_BENCHMARK_RUNS, warmup: int = CARD_BENCHMARK_WARMUP) -> Benchmark:
    """The model's median latency of ``runs`` single inferences on this machine after ``warmup``, as a card's
    ``benchmark`` block (the simulation's stage time for the model comes from it)."""
    q = model.quantize(np.zeros(model.input_shape, np.float32))
    for _ in range(warmup):
        model.invoke_raw(q)
    times_ms = []
    for _ in range(runs):
        start = time.perf_counter()
        model.invoke_raw(q)
        times_ms.append((time.perf_counter() - start) * 1e3)
    return Benchmark(round(statistics.median(times_ms), 4), runs, model.threads, platform.machine())


def build_card(model_path: str | Path, *, name: str, version: str, task: str, input_name: str | None = None,
               bands: Sequence[str], scaling: Scaling, output_name: str | None = None,
               output_description: str | None = None, training: Mapping[str, Any], metrics: Mapping[str, Any],
               classes: Sequence[str] | None = None, activation: str | None = None, architecture: str = "unknown",
               accelerator: str | None = None, form: str = "flat", benchmark: bool = False) -> ModelCard:
    """A card for the .tflite or .onnx file at ``model_path``: shapes, dtypes, layout, ops, size and sha256 read
    from the model, the host latency measured when ``benchmark``, the rest as given (the tensors' own names where
    ``input_name`` or ``output_name`` is None). ``form``: ``flat`` (the shipped cards) or ``stac`` (a STAC MLM Item,
    which also records the file name and the framework). Raises InputFileError as Model does, when the number of
    ``bands`` differs from the model's input channels, and when ``activation`` would follow the model's own sigmoid
    or softmax (:attr:`Model.output_activation`)."""
    path = Path(model_path)
    model = Model(path, use_card=False, channels=len(bands))
    content = path.read_bytes()
    engine_in, engine_out = model._engine.input, model._engine.output
    if activation is not None and model.output_activation is not None:
        raise InputFileError(path, f"activation {activation} asked for, but "
                             + doubled_activation(activation, model.output_activation))
    if len(bands) != model.input_shape[-1]:
        raise InputFileError(path, f"{len(bands)} bands given ({', '.join(bands)}) for a model input of "
                                   f"{model.input_shape[-1]} channels (input shape {list(engine_in.shape)})")
    image_order = NCHW if model._in_first else NHWC
    out_order = (NCHW if model._out_first else NHWC) if len(engine_out.shape) == 4 else None

    shape_in, shape_out = model.card_shapes
    stac = form == "stac"
    inputs = (TensorCard(input_name or engine_in.name, shape_in, engine_in.dtype.name, tuple(bands), scaling,
                         dim_order=image_order if stac or model._in_first else None),)
    outputs = (TensorCard(output_name or engine_out.name, shape_out, engine_out.dtype.name,
                          description=output_description,
                          dim_order=out_order if (stac or model._out_first) and out_order else None,
                          classes=tuple(classes) if classes else None, activation=activation),)
    return ModelCard(name, version, task, inputs, outputs, hashlib.sha256(content).hexdigest(), len(content),
                     model.op_names() or (), dict(training), dict(metrics),
                     benchmark=host_benchmark(model) if benchmark else None, form=form,
                     model_file=path.name if stac else None, framework=mlm.FRAMEWORKS[model.format] if stac else None,
                     architecture=architecture, accelerator=accelerator)
