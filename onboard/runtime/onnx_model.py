"""ONNX Runtime as the second runtime behind :class:`onboard.runtime.model.Model`: an ONNX file opened on an execution
provider, its one input and one output read as tensors orbitedge can feed and read.

Providers (``delegate`` of a Model on an .onnx file): ``cpu`` (CPUExecutionProvider, ``threads`` intra-op
threads), ``cuda`` (CUDAExecutionProvider) and ``tensorrt`` (TensorrtExecutionProvider, which builds a TensorRT
engine for the GPU on first use and caches it in ``<model dir>/trt_cache/``, so later sessions start in
seconds). A provider this ONNX Runtime lacks is a DelegateError naming the package to install.

An integer input or output is quantised: the graph feeds it to a DequantizeLinear (or takes it from a
QuantizeLinear), through layout-only ops (Transpose, Reshape, ...), with one scale and zero point. That is how
``tf2onnx`` exports a full-integer TFLite model and how ONNX Runtime's QDQ quantiser keeps integer I/O.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rundir.errors import InputFileError, OrbitEdgeError

from .interpreter import DelegateError
from .model_check import (IO_FLOAT_DTYPES, IO_QUANTIZED_DTYPES, Tensor, UnsupportedModelError, activation_behind,
                          run_in_child, said)
from .modelcard import shipped_digests

RUNTIME_NAME = "onnxruntime"
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
GPU_HINT = ("install ONNX Runtime built for the GPU: `pip uninstall onnxruntime && pip install onnxruntime-gpu` "
            "(on a Jetson: the onnxruntime-gpu wheel for your JetPack from NVIDIA's Jetson AI Lab index)")
PROVIDER_HINTS = {"cuda": GPU_HINT + " and the CUDA and cuDNN libraries it names",
                  "tensorrt": GPU_HINT + ", and TensorRT (`pip install tensorrt`; JetPack ships it on a Jetson)"}
# Ops that move values, never change them: a (De)QuantizeLinear may sit behind them at the graph's edge.
LAYOUT_OPS = ("Transpose", "Reshape", "Identity", "Squeeze", "Unsqueeze", "Flatten", "DepthToSpace", "SpaceToDepth")
ACTIVATION_OPS = {"Sigmoid": "sigmoid", "Softmax": "softmax"}  # ops whose outputs are already probabilities
TRT_CACHE_DIR = "trt_cache"  # beside the model: TensorRT engines and timing caches, built once per model and GPU
ONNX_TYPES = {"float": "float32", "double": "float64"}  # ONNX Runtime's tensor type names that numpy spells otherwise
_TRIED: set[tuple[str, str]] = set()  # (sha256, provider) of models that ran once in a child in this process


@dataclass(frozen=True)
class OnnxRuntime:
    """The ONNX Runtime package as a Model's ``runtime``: its name and version."""

    name: str
    version: str


def _onnx() -> Any:
    try:
        import onnx
    except ImportError as err:
        raise OrbitEdgeError(f"reading an ONNX model needs the onnx package: `pip install onnx` ({err})") from None
    return onnx


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as err:
        raise OrbitEdgeError(f"running an ONNX model needs ONNX Runtime: `pip install onnxruntime` ({err})") from None
    return onnxruntime


def load_onnx_runtime() -> None:
    """Import ONNX Runtime and the onnx reader now (a benchmark's first model must not time their import);
    OrbitEdgeError naming the one that is missing."""
    _onnx(), _ort()


def read_onnx(path: Path, content: bytes) -> Any:
    """The ModelProto of ``content``; InputFileError naming ``path`` when it is not an ONNX model with a graph."""
    onnx = _onnx()
    try:
        proto = onnx.load_from_string(content)
    except Exception as err:  # NOTE: protobuf raises its own DecodeError, and others for broken nesting
        if content[4:8] == b"TFL3":  # the FlatBuffers file identifier of a TFLite model (schema.fbs)
            raise InputFileError(path, "not an ONNX model: a TFLite model (file identifier TFL3 at bytes 4-8): name "
                                       "it .tflite") from None
        raise InputFileError(path, f"not an ONNX model: protobuf cannot parse it ({said(err)})") from None
    if not proto.graph.node or not proto.graph.input or not proto.graph.output:
        raise InputFileError(path, "an ONNX file without a graph (no nodes, inputs or outputs): it holds no model")
    return proto


def _scalar(proto: Any, name: str) -> float | int | None:
    """The value of a one-element initializer or Constant called ``name``, None if there is none."""
    from onnx import numpy_helper

    for init in proto.graph.initializer:
        if init.name == name:
            values = numpy_helper.to_array(init).ravel()
            return values[0].item() if values.size == 1 else None
    for node in proto.graph.node:
        if node.op_type == "Constant" and name in node.output and node.attribute:
            values = numpy_helper.to_array(node.attribute[0].t).ravel()
            return values[0].item() if values.size == 1 else None
    return None


def _quantization(proto: Any, name: str, is_input: bool) -> tuple[float, int] | None | str:
    """(scale, zero point) of the integer graph input (or output) ``name``: the DequantizeLinear that reads it (the
    QuantizeLinear that writes it), through layout-only ops; a sentence saying why not otherwise."""
    nodes = list(proto.graph.node)
    current, hops = name, 0
    while hops < len(nodes):
        hops += 1
        if is_input:
            consumers = [n for n in nodes if current in n.input]
            if len(consumers) != 1:
                return f"it feeds {len(consumers)} ops, expected one DequantizeLinear"
            node = consumers[0]
        else:
            producers = [n for n in nodes if current in n.output]
            if len(producers) != 1:
                return "no single op writes it"
            node = producers[0]
        wanted = "DequantizeLinear" if is_input else "QuantizeLinear"
        if node.op_type == wanted:
            scale = _scalar(proto, node.input[1])
            zero_point = _scalar(proto, node.input[2]) if len(node.input) > 2 else 0
            if scale is None or zero_point is None:
                return f"its {wanted} has no per-tensor scale and zero point (per-axis quantisation?)"
            return float(scale), int(zero_point)
        if node.op_type not in LAYOUT_OPS:
            return f"it is {'read' if is_input else 'written'} by {node.op_type}, not a {wanted}"
        current = node.output[0] if is_input else node.input[0]
    return "no QuantizeLinear or DequantizeLinear found"


def output_activation(proto: Any, name: str) -> tuple[str, str] | None:
    """``(op, activation)`` when graph output ``name`` comes out of an op that makes probabilities (Sigmoid: sigmoid,
    Softmax: softmax; ACTIVATION_OPS), through layout-only ops and (De)QuantizeLinear; None otherwise."""
    producers = {output: (node.op_type, node.input[0] if node.input else None)
                 for node in proto.graph.node for output in node.output}
    return activation_behind(name, producers, ACTIVATION_OPS, (*LAYOUT_OPS, "QuantizeLinear", "DequantizeLinear"))


def tensor_of(proto: Any, value: Any, is_input: bool, problems: list[str]) -> Tensor | None:
    """The Tensor of session input or output ``value`` (ONNX Runtime's NodeArg, whose shape has its own shape
    inference behind it); appends what orbitedge cannot feed or read to ``problems``."""
    role = "input" if is_input else "output"
    what = f"{role} {value.name!r}"
    kind = value.type.removeprefix("tensor(").removesuffix(")")
    dtype = ONNX_TYPES.get(kind, kind)
    dims = [d if isinstance(d, int) and d > 0 else -1 for d in value.shape]
    found = len(problems)
    if not dims or min(dims[1:], default=1) < 1:
        problems.append(f"{what} has shape {dims} (-1: a size chosen at run time); expected fixed sizes after the "
                        "batch dimension")
    quantization = None
    if dtype in IO_QUANTIZED_DTYPES:
        quantization = _quantization(proto, value.name, is_input)
        if isinstance(quantization, str):
            problems.append(f"{what} is {dtype} without quantisation parameters ({quantization}); expected a "
                            f"per-tensor scale and zero point, by which orbitedge maps real values to {dtype} codes")
        elif not (np.isfinite(quantization[0]) and quantization[0] > 0):
            problems.append(f"{what} has quantisation scale {quantization[0]}; expected a finite scale > 0")
    elif dtype not in IO_FLOAT_DTYPES:
        problems.append(f"{what} is {dtype}; expected {' or '.join(IO_FLOAT_DTYPES)}, or "
                        f"{', '.join(IO_QUANTIZED_DTYPES)} behind a (De)QuantizeLinear with one scale and zero point")
    if len(problems) > found:
        return None
    return Tensor(value.name, (1, *dims[1:]) if dims[0] < 1 else tuple(dims), np.dtype(dtype),
                  quantization, dims[0] < 1)


def io_tensors(path: Path, proto: Any, session: Any) -> tuple[Tensor, Tensor]:
    """The model's one input and one output; UnsupportedModelError with every problem otherwise."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    problems: list[str] = []
    if (len(inputs), len(outputs)) != (1, 1):
        problems.append(f"it has {len(inputs)} inputs and {len(outputs)} outputs; expected one of each")
    tensors = [tensor_of(proto, v, True, problems) for v in inputs] + [tensor_of(proto, v, False, problems)
                                                                     for v in outputs]
    if problems:
        raise UnsupportedModelError(path, problems)
    return tensors[0], tensors[1]


def check_provider(delegate: str) -> None:
    """Raises ValueError, naming the choices, unless ``delegate`` is one of PROVIDERS."""
    if delegate not in PROVIDERS:
        raise ValueError(f"Unknown ONNX Runtime provider {delegate!r}. Choose from {tuple(PROVIDERS)}")


def provider_list(delegate: str, model_dir: Path) -> list[Any]:
    """The providers to hand a session for ``delegate``, most preferred first, CPU last; DelegateError naming the
    package to install when this ONNX Runtime lacks the provider."""
    check_provider(delegate)
    ort = _ort()
    available = ort.get_available_providers()
    wanted = PROVIDERS[delegate]
    if wanted not in available:
        raise DelegateError(f"onnx-{delegate}", wanted, f"this ONNX Runtime ({ort.__version__}) has only "
                            f"{', '.join(available)}", PROVIDER_HINTS[delegate])
    if delegate == "tensorrt":
        cache = str(model_dir / TRT_CACHE_DIR)
        return [(wanted, {"trt_engine_cache_enable": True, "trt_engine_cache_path": cache,
                          "trt_timing_cache_enable": True, "trt_timing_cache_path": cache}),
                PROVIDERS["cuda"], PROVIDERS["cpu"]]
    return [wanted] if delegate == "cpu" else [wanted, PROVIDERS["cpu"]]


def external_data_files(path: Path, proto: Any) -> list[str]:
    """The files the model ``proto`` (of the file ``path``) keeps tensors in (ONNX external data: a model of 2 GB
    or more must, and exporters such as PyTorch's may for any size), each once, as its ``location`` writes it
    (relative to the model's folder; ONNX, "External Data"). InputFileError naming those not beside the model."""
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    tensors = [*proto.graph.initializer, *(a.t for n in proto.graph.node for a in n.attribute if a.HasField("t"))]
    files = list(dict.fromkeys(ExternalDataInfo(t).location for t in tensors if uses_external_data(t)))
    missing = [f for f in files if not (path.parent / f).is_file()]
    if missing:
        raise InputFileError(path, f"expected the external data file{'s' if len(missing) > 1 else ''} the model keeps "
                                   f"its tensors in beside it, in {path.parent}, found no {', '.join(missing)}")
    return files


def load_external_data(path: Path, proto: Any) -> None:
    """Read the tensors ``proto`` (of the file ``path``) keeps in external data files into it, in place, so that
    its quantisation scales and zero points read as the inline ones do; InputFileError naming the model when a file
    is short or outside its folder."""
    from onnx.external_data_helper import load_external_data_for_model

    try:
        load_external_data_for_model(proto, str(path.parent))
    except Exception as err:  # NOTE: onnx raises ValueError, OSError and its own checker errors here
        raise InputFileError(path, f"cannot read the model's external data: {said(err)}") from None


def open_session(path: Path, content: bytes, delegate: str, threads: int, external: bool = False) -> Any:
    """An ONNX Runtime session over ``content`` on ``delegate``'s provider with ``threads`` intra-op threads; with
    ``external`` (the model keeps tensors in other files: :func:`external_data_files`), over the file ``path``,
    whose folder ONNX Runtime finds them in (the bytes alone do not say where). DelegateError when the provider is
    missing or fails to start; InputFileError when ONNX Runtime rejects the model."""
    ort = _ort()
    providers = provider_list(delegate, path.parent)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its graph-optimiser warnings are not the user's concern
    # Fuse int8-activation QDQ nodes (S8S8) into QLinear kernels on x86 too, as on ARM: by default x86 converts
    # only some int8 activations to uint8 and runs the other QDQ Convs in float, whose rounding of exact ties differs
    # from LiteRT's (ONNX Runtime's session option "session.qdqisint8allowed", onnxruntime_session_options_config_keys.h)
    options.add_session_config_entry("session.qdqisint8allowed", "1")
    try:
        session = ort.InferenceSession(str(path) if external else content, sess_options=options, providers=providers)
    except Exception as err:  # NOTE: onnxruntime raises its own Fail, InvalidGraph, NotImplemented, ... classes
        raise InputFileError(path, f"ONNX Runtime rejects the model: {said(err)}") from None
    if PROVIDERS[delegate] not in session.get_providers():
        raise DelegateError(f"onnx-{delegate}", PROVIDERS[delegate], "ONNX Runtime fell back to "
                            f"{', '.join(session.get_providers())}: the provider's libraries did not load",
                            PROVIDER_HINTS.get(delegate, ""))
    return session


class OnnxEngine:
    """An ONNX model on an ONNX Runtime session: ``run`` takes the input tensor in the model's own shape and dtype
    and returns the output tensor. A model that is not shipped first runs once in a child process (``trial``;
    ``trial_s`` the seconds that took). ``output_activation``: :func:`output_activation`. Raises as
    :func:`read_onnx`, :func:`io_tensors`, :func:`open_session` and :func:`try_in_child`."""

    def __init__(self, path: Path, content: bytes, delegate: str, threads: int, trial: bool = True):
        proto = read_onnx(path, content)
        check_provider(delegate)
        external = bool(external_data_files(path, proto))
        if external:
            load_external_data(path, proto)
        self.trial_s = try_in_child(path, content, delegate, threads) if trial else 0.0
        self.ops: tuple[str, ...] | None = tuple(sorted({node.op_type for node in proto.graph.node}))
        self.runtime = OnnxRuntime(RUNTIME_NAME, _ort().__version__)
        self._session = open_session(path, content, delegate, threads, external)
        self.input, self.output = io_tensors(path, proto, self._session)
        self.output_activation = output_activation(proto, self.output.name)
        self._path = path

    def run(self, q: np.ndarray) -> np.ndarray:
        """The raw output for the raw input ``q`` (the input's shape and dtype). InputFileError naming the model when
        ONNX Runtime fails on this input."""
        try:
            return self._session.run([self.output.name], {self.input.name: q})[0]
        except Exception as err:  # NOTE: onnxruntime's own exception classes
            raise InputFileError(self._path, f"ONNX Runtime fails to run the model: {said(err)}") from None

    def run_window(self, window: np.ndarray) -> np.ndarray:
        """The output, without its batch dimension, for one window without its batch dimension."""
        return self.run(window[None])[0]


def try_in_child(path: Path, content: bytes, delegate: str, threads: int) -> float:
    """Open and run ``content`` once on zeros in a child process (see :func:`onboard.runtime.model_check.run_in_child`),
    unless it is a shipped model or ran there already in this process on this provider; the seconds spent.
    Raises what opening it raises, or ModelCrashError when the child dies."""
    digest = hashlib.sha256(content).hexdigest()
    if digest in shipped_digests() or (digest, delegate) in _TRIED:
        return 0.0
    start_s = time.perf_counter()
    header = f"{path}\n{delegate}\n{threads}\n".encode()
    error = run_in_child(path, "onboard.runtime.onnx_model:_trial", header + content)
    if error:
        raise pickle.loads(error)
    _TRIED.add((digest, delegate))
    return time.perf_counter() - start_s


def _trial() -> bytes | None:
    """The child of try_in_child: opens the model as Model does and runs it once on zeros; the pickled
    OrbitEdgeError if that fails, else None."""
    path, delegate, threads, content = sys.stdin.buffer.read().split(b"\n", 3)
    try:
        engine = OnnxEngine(Path(path.decode()), content, delegate.decode(), int(threads), trial=False)
        engine.run(np.zeros(engine.input.shape, engine.input.dtype))
    except OrbitEdgeError as err:
        return pickle.dumps(err)
    return None

