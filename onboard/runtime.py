"""One wrapper over the TFLite (LiteRT) interpreter: finds a runtime, loads a delegate, checks a model against its
card, and quantises inputs and dequantises outputs with each tensor's own scale and zero point.

Runtimes, tried in this order by ``"auto"``: ``ai_edge_litert`` (LiteRT), ``tflite_runtime``, ``tensorflow``
(``tf.lite``). Delegates: ``cpu`` (the runtime's default XNNPACK kernels, ``threads`` of them), ``edgetpu``
(``libedgetpu.so.1``; a model must first be compiled by ``edgetpu_compiler``) and ``external:PATH`` (any
delegate library, with ``delegate_options``).

Models the interpreter cannot run never take the process down without a word. Before allocating, each model's
ops are checked for operand types that make a LiteRT kernel overrun its buffers (KERNEL_OPERAND_DTYPES); after,
its one input and one output for what orbitedge can feed and read (float32, float16, or int8, uint8, int16 with a
per-tensor scale and zero point; fixed shapes). A model that is not shipped (its sha256 in no card of MODEL_DIR)
is first loaded and run once on zeros in a child process; a crash there (SIGABRT, SIGSEGV, a hang) becomes
ModelCrashError naming the file and the signal. Each model pays that once per process.

Model card: a JSON file beside the model (``<stem>.json``) or named explicitly. Its fields follow the STAC
Machine Learning Model extension where it has a name for them (``inputs`` is ``mlm:input``, ``outputs`` is
``mlm:output``, ``task`` one of ``mlm:tasks``, ``scaling`` a one-step ``value_scaling``), kept flat and small::

    {
      "name": "cloud-unet-int8",                  # str
      "version": "1.0.0",                         # str
      "task": "semantic-segmentation",            # str, an MLM task name where one fits
      "inputs": [{                                # exactly one input
        "name": "toa",                            # str
        "shape": [1, 256, 256, 4],                # list of int > 0, as the interpreter reports it (NHWC)
        "dtype": "int8",                          # tensor dtype in the model: float32, float16, (u)int8, int16, int32
        "bands": ["B", "G", "R", "NIR"],          # list of str: the channel order, len == shape[-1]
        "scaling": {"source": "toa_reflectance",  # str: the physical quantity the caller has
                    "scale": 1.0, "offset": 0.0}  # numbers: model input = scale * source + offset (before quantising)
      }],
      "outputs": [{                               # exactly one output
        "name": "cloud_logit", "shape": [1, 256, 256, 1], "dtype": "int8",
        "description": "per-pixel cloud logit"    # str, optional: what the channels mean and in what units
      }],
      "sha256": "<64 hex digits>",                # of the .tflite file
      "size_bytes": 123456,                       # int, of the .tflite file
      "ops": ["CONCATENATION", "CONV_2D"],        # list of str: the builtin operators in the model, sorted
      "training": {...},                          # object: data, seeds, steps, code version (free form)
      "metrics": {...}                            # object: held-out scores (free form, e.g. {"pixel_f1": 0.93})
    }
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import math
import os
import pickle
import re
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rundir.errors import InputFileError, OrbitEdgeError

MODEL_DIR = Path(__file__).with_name("models")  # the shipped models, each with its card beside it
RUNTIMES = ("ai_edge_litert", "tflite_runtime", "tensorflow")
DELEGATES = ("cpu", "edgetpu", "external:PATH")
EDGETPU_LIBRARY = "libedgetpu.so.1"
DELEGATE_SYMBOLS = ("tflite_plugin_create_delegate", "tflite_plugin_destroy_delegate")  # external delegate ABI
EDGETPU_HINT = (
    "install the Edge TPU runtime from Coral's apt repository: add "
    "'deb https://packages.cloud.google.com/apt coral-edgetpu-stable main' "
    "to /etc/apt/sources.list.d/coral-edgetpu.list, then `sudo apt-get update && sudo apt-get install libedgetpu1-std` "
    "(see https://coral.ai/docs/accelerator/get-started/); "
    "and compile the model with `edgetpu_compiler MODEL.tflite`, which writes MODEL_edgetpu.tflite "
    "(ops it cannot map stay on the CPU)"
)
CARD_DTYPES = ("float32", "float16", "int8", "uint8", "int16", "int32")
TFLITE_IDENTIFIER = b"TFL3"
MIN_MODEL_BYTES = 8  # a flatbuffer's root offset (4 bytes) and file identifier (4 bytes)
MODEL_SUBGRAPHS_FIELD = 2  # index of Model.subgraphs in the TFLite flatbuffer schema (schema.fbs)
# Tensor types orbitedge feeds and reads: floats as they are; integers through their per-tensor scale and zero
# point. int8 (uint8 in older models) and int16 are the activation types of LiteRT's full-integer and 16x8
# quantisation schemes (https://ai.google.dev/edge/litert/models/quantization_spec); int32 is their bias type.
IO_FLOAT_DTYPES = ("float32", "float16")
IO_QUANTIZED_DTYPES = ("int8", "uint8", "int16")
# LiteRT kernels that do not check an operand's type in Prepare and read or write it as another type in Eval,
# overrunning its buffer (a heap corruption: "double free or corruption", SIGABRT or SIGSEGV, no Python error).
# (op, type of operand 0) -> (operand index, its role, the type the kernel uses). Source: the LiteRT kernels.
KERNEL_OPERAND_DTYPES = {
    # tensorflow/lite/kernels/svdf.cc: with an int8 input, Eval hands weights_time and the activation state to
    # EvalIntegerSVDF as int16. TensorFlow Lite Micro's SVDF (tensorflow/lite/micro/kernels/svdf_common.cc) also
    # takes int8 for both, so int8-state models made for microcontrollers pass LiteRT's Prepare and then crash it.
    ("SVDF", "int8"): ((2, "weights_time", "int16"), (4, "activation state", "int16")),
}
TRIAL_TIMEOUT_S = 120.0  # one load and inference of an unchecked model in a child; the largest shipped takes < 1 s


class RuntimeUnavailableError(OrbitEdgeError):
    """No usable TFLite interpreter: carries each runtime tried and why it failed to import."""

    def __init__(self, tried: Mapping[str, str]):
        self.tried = dict(tried)
        reasons = "; ".join(f"{name}: {reason}" for name, reason in self.tried.items())
        super().__init__(f"no TFLite interpreter available ({reasons}); install one with `pip install ai-edge-litert`")


class DelegateError(OrbitEdgeError):
    """A delegate library that cannot be loaded: carries the delegate, the library, the reason and how to fix it."""

    def __init__(self, delegate: str, library: str, reason: str, hint: str = ""):
        self.delegate = delegate
        self.library = library
        self.reason = reason
        self.hint = hint
        message = f"cannot load the {delegate} delegate from {library}: {reason}"
        super().__init__(f"{message}; {hint}" if hint else message)


class UnsupportedModelError(InputFileError):
    """A model whose tensors or ops orbitedge or the runtime cannot run: carries the file and every problem (the
    tensor or op, what was expected and what was found)."""

    def __init__(self, path: str | Path, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__(path, "orbitedge cannot run this model: " + "; ".join(self.problems))


class ModelCrashError(InputFileError):
    """A model whose trial run in a child process died: carries the file, how the child ended (the signal, the exit
    status or the time limit) and the last thing it printed (glibc's or the interpreter's own words)."""

    def __init__(self, path: str | Path, ending: str, last_words: str):
        self.ending = ending
        self.last_words = last_words
        said = f", last printing {last_words!r}" if last_words else ""
        super().__init__(path, f"loading the model and running it once in a child process, the process {ending}"
                               f"{said}; the interpreter cannot run this model")


@dataclass(frozen=True)
class Runtime:
    """A resolved interpreter runtime: its name, Interpreter class and load_delegate function."""

    name: str
    interpreter: type
    load_delegate: Callable[..., Any]


def _import_ai_edge_litert() -> tuple[type, Callable[..., Any]]:
    from ai_edge_litert import interpreter
    return interpreter.Interpreter, interpreter.load_delegate


def _import_tflite_runtime() -> tuple[type, Callable[..., Any]]:
    from tflite_runtime import interpreter
    return interpreter.Interpreter, interpreter.load_delegate


def _import_tensorflow() -> tuple[type, Callable[..., Any]]:
    import tensorflow as tf
    return tf.lite.Interpreter, tf.lite.experimental.load_delegate


_IMPORTERS: dict[str, Callable[[], tuple[type, Callable[..., Any]]]] = {
    "ai_edge_litert": _import_ai_edge_litert,
    "tflite_runtime": _import_tflite_runtime,
    "tensorflow": _import_tensorflow,
}


def resolve_runtime(name: str = "auto") -> Runtime:
    """The runtime called ``name``, or with ``"auto"`` the first of RUNTIMES that imports.

    Raises ValueError for an unknown name and RuntimeUnavailableError when none of those asked for imports.
    """
    if name != "auto" and name not in RUNTIMES:
        raise ValueError(f"Unknown runtime {name!r}. Choose from {('auto', *RUNTIMES)}")
    tried = {}
    for candidate in RUNTIMES if name == "auto" else (name,):
        try:
            interpreter, load_delegate = _IMPORTERS[candidate]()
        except ImportError as err:
            tried[candidate] = str(err)
            continue
        return Runtime(candidate, interpreter, load_delegate)
    raise RuntimeUnavailableError(tried)


def _load_delegate_library(runtime: Runtime, delegate: str, library: str,
                           options: Mapping[str, str] | None, hint: str) -> Any:
    # NOTE: the library is opened and its entry points looked up with ctypes first: when either fails,
    # load_delegate of ai_edge_litert 2.x leaves a half-built Delegate whose __del__ prints a traceback.
    try:
        handle = ctypes.CDLL(library)
    except OSError as err:
        raise DelegateError(delegate, library, str(err), hint) from err
    missing = [symbol for symbol in DELEGATE_SYMBOLS if not hasattr(handle, symbol)]
    if missing:
        raise DelegateError(delegate, library, f"not a TFLite delegate: it lacks {', '.join(missing)}", hint)
    try:
        return runtime.load_delegate(library, dict(options or {}))
    except (ValueError, RuntimeError, OSError) as err:
        raise DelegateError(delegate, library, str(err), hint) from err


def load_delegates(delegate: str, runtime: Runtime, options: Mapping[str, str] | None = None) -> list[Any]:
    """The delegate objects to hand the interpreter for ``delegate`` (one of DELEGATES; ``cpu`` needs none).

    Raises ValueError for an unknown delegate and DelegateError when its library cannot be loaded.
    """
    check_delegate(delegate)
    if delegate == "cpu":
        return []
    if delegate == "edgetpu":
        return [_load_delegate_library(runtime, "edgetpu", EDGETPU_LIBRARY, options, EDGETPU_HINT)]
    library = delegate.removeprefix("external:")
    if not Path(library).is_file():
        raise DelegateError("external", library, "no such file", "give the path of the delegate's .so file")
    return [_load_delegate_library(runtime, "external", library, options, "")]


def check_delegate(delegate: str) -> None:
    """Raises ValueError, naming the choices, unless ``delegate`` is one of DELEGATES."""
    if delegate not in ("cpu", "edgetpu") and (not delegate.startswith("external:") or delegate == "external:"):
        raise ValueError(f"Unknown delegate {delegate!r}. Choose from {DELEGATES}")


# ---------------------------------------------------------------------------------------------- model card


@dataclass(frozen=True)
class Scaling:
    """How the model's real-valued input follows from a physical quantity: ``scale * source + offset``."""

    source: str
    scale: float
    offset: float

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Model input (float32) from ``values`` of the ``source`` quantity."""
        return (np.asarray(values, np.float32) * np.float32(self.scale) + np.float32(self.offset)).astype(np.float32)


@dataclass(frozen=True)
class TensorCard:
    """One input or output in a model card. ``bands`` and ``scaling`` are given for inputs only."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    bands: tuple[str, ...] | None = None
    scaling: Scaling | None = None
    description: str | None = None


@dataclass(frozen=True)
class Benchmark:
    """A model's latency on the reference host as ``benchmarks/models.py`` measured it (the card's ``benchmark``
    block): the median of ``runs`` single inferences with ``threads`` interpreter threads on ``host``."""

    host_latency_ms_p50: float  # ms
    runs: int
    threads: int
    host: str  # the machine, platform.machine()


@dataclass(frozen=True)
class ModelCard:
    """A validated model card (schema in this module's docstring); ``path`` is where it was read from."""

    name: str
    version: str
    task: str
    inputs: tuple[TensorCard, ...]
    outputs: tuple[TensorCard, ...]
    sha256: str
    size_bytes: int
    ops: tuple[str, ...]
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    benchmark: Benchmark | None = None  # set by benchmarks/models.py on shipped models

    @property
    def host_latency_s(self) -> float:
        """The median host latency of one inference from the ``benchmark`` block, s. InputFileError naming the
        card when it has none (``benchmarks/models.py`` measures it)."""
        if self.benchmark is None:
            raise InputFileError(self.path or self.name, "model card has no benchmark block (host_latency_ms_p50); "
                                 "measure it with python -m benchmarks.models")
        return self.benchmark.host_latency_ms_p50 / 1e3

    def to_json(self) -> dict[str, Any]:
        """The card as the JSON object of the schema (None-valued optional fields left out)."""
        def tensor(spec: TensorCard) -> dict[str, Any]:
            return {key: list(value) if isinstance(value, tuple) else value
                    for key, value in asdict(spec).items() if value is not None}
        return {"name": self.name, "version": self.version, "task": self.task,
                "inputs": [tensor(s) for s in self.inputs], "outputs": [tensor(s) for s in self.outputs],
                "sha256": self.sha256, "size_bytes": self.size_bytes, "ops": list(self.ops),
                "training": self.training, "metrics": self.metrics,
                **({"benchmark": asdict(self.benchmark)} if self.benchmark is not None else {})}


class _CardReader:
    """Reads a card's JSON object field by field, collecting every problem with its field path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def get(self, obj: Mapping[str, Any], key: str, where: str, kind: str,
            check: Callable[[Any], bool], required: bool = True) -> Any:
        if key not in obj:
            if required:
                self.problems.append(f"{where}{key}: missing (expected {kind})")
            return None
        value = obj[key]
        if not check(value):
            self.problems.append(f"{where}{key}: expected {kind}, found {value!r}")
            return None
        return value

    def benchmark(self, obj: Mapping[str, Any]) -> Benchmark | None:
        """The optional ``benchmark`` block, or None where the card has none."""
        raw = self.get(obj, "benchmark", "", "an object", lambda v: isinstance(v, dict), required=False)
        if raw is None:
            return None
        fields = (self.get(raw, "host_latency_ms_p50", "benchmark.", "a positive number", lambda v: _is_number(v) and v > 0),
                  self.get(raw, "runs", "benchmark.", "a positive integer", lambda v: _is_int(v) and v > 0),
                  self.get(raw, "threads", "benchmark.", "a positive integer", lambda v: _is_int(v) and v > 0),
                  self.get(raw, "host", "benchmark.", "a string", _is_str))
        return None if None in fields else Benchmark(*fields)

    def tensor(self, obj: Any, where: str, is_input: bool) -> TensorCard | None:
        if not isinstance(obj, dict):
            self.problems.append(f"{where.rstrip('.')}: expected an object, found {obj!r}")
            return None
        name = self.get(obj, "name", where, "a string", _is_str)
        shape = self.get(obj, "shape", where, "a list of positive integers",
                         lambda v: isinstance(v, list) and bool(v) and all(_is_int(d) and d > 0 for d in v))
        dtype = self.get(obj, "dtype", where, f"one of {CARD_DTYPES}", lambda v: v in CARD_DTYPES)
        description = self.get(obj, "description", where, "a string", _is_str, required=False)
        bands = scaling = None
        if is_input:
            bands = self.get(obj, "bands", where, "a list of band names",
                             lambda v: isinstance(v, list) and bool(v) and all(_is_str(b) for b in v))
            if bands is not None and shape is not None and len(bands) != shape[-1]:
                self.problems.append(f"{where}bands: {len(bands)} bands for {shape[-1]} channels (shape {shape})")
            raw = self.get(obj, "scaling", where, "an object", lambda v: isinstance(v, dict))
            if raw is not None:
                source = self.get(raw, "source", f"{where}scaling.", "a string", _is_str)
                scale = self.get(raw, "scale", f"{where}scaling.", "a finite non-zero number",
                                 lambda v: _is_number(v) and v != 0)
                offset = self.get(raw, "offset", f"{where}scaling.", "a finite number", _is_number)
                if None not in (source, scale, offset):
                    scaling = Scaling(source, float(scale), float(offset))
        if None in (name, shape, dtype) or (is_input and None in (bands, scaling)):
            return None
        return TensorCard(name, tuple(shape), dtype, tuple(bands) if bands else None, scaling, description)


def _is_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def shipped_card(name: str, model_dir: Path = MODEL_DIR) -> ModelCard:
    """The validated card of shipped model ``name`` (``model_dir/name.json``).
    InputFileError as :func:`load_card`."""
    return load_card(model_dir / f"{name}.json")


def load_card(path: str | Path) -> ModelCard:
    """Read and validate a model card. Raises InputFileError naming the file and every bad field."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise InputFileError(path, "model card not found") from err
    except (OSError, UnicodeDecodeError) as err:
        raise InputFileError(path, f"cannot read the model card: {err}") from err
    except json.JSONDecodeError as err:
        raise InputFileError(path, f"model card is not valid JSON: {err.msg} at line {err.lineno}") from err
    if not isinstance(obj, dict):
        raise InputFileError(path, f"model card must be a JSON object, found {type(obj).__name__}")
    reader = _CardReader()
    name = reader.get(obj, "name", "", "a string", _is_str)
    version = reader.get(obj, "version", "", "a string", _is_str)
    task = reader.get(obj, "task", "", "a string", _is_str)
    tensors = {}
    for key in ("inputs", "outputs"):
        items = reader.get(obj, key, "", "a list of exactly one object", lambda v: isinstance(v, list) and len(v) == 1)
        tensors[key] = [reader.tensor(item, f"{key}[{i}].", key == "inputs") for i, item in enumerate(items or [])]
    sha256 = reader.get(obj, "sha256", "", "64 lower-case hex digits",
                        lambda v: isinstance(v, str) and re.fullmatch("[0-9a-f]{64}", v) is not None)
    size_bytes = reader.get(obj, "size_bytes", "", "a positive integer", lambda v: _is_int(v) and v > 0)
    ops = reader.get(obj, "ops", "", "a list of operator names",
                     lambda v: isinstance(v, list) and all(_is_str(op) for op in v))
    training = reader.get(obj, "training", "", "an object", lambda v: isinstance(v, dict))
    metrics = reader.get(obj, "metrics", "", "an object", lambda v: isinstance(v, dict))
    benchmark = reader.benchmark(obj)
    if reader.problems:
        raise InputFileError(path, "bad model card: " + "; ".join(reader.problems))
    return ModelCard(name, version, task, tuple(tensors["inputs"]), tuple(tensors["outputs"]), sha256, size_bytes,
                     tuple(ops), training, metrics, path, benchmark)


def write_card(card: ModelCard, path: str | Path) -> None:
    """Write ``card`` as indented JSON (UTF-8, trailing newline)."""
    Path(path).write_text(json.dumps(card.to_json(), indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------- model


def read_model_file(path: str | Path) -> bytes:
    """The bytes of a .tflite file, after checking it exists, carries the TFLite flatbuffer identifier and has
    subgraphs.

    Raises InputFileError naming the file and what is wrong.
    """
    path = Path(path)
    try:
        content = path.read_bytes()
    except FileNotFoundError as err:
        raise InputFileError(path, "model file not found") from err
    except OSError as err:
        raise InputFileError(path, f"cannot read the model file: {err}") from err
    if len(content) < MIN_MODEL_BYTES:
        raise InputFileError(path, f"model file is {len(content)} bytes, too short to be a TFLite model (truncated?)")
    if content[4:8] != TFLITE_IDENTIFIER:
        raise InputFileError(path, f"not a TFLite model: bytes 4..8 are {content[4:8]!r}, "
                                   f"expected {TFLITE_IDENTIFIER!r}")
    if _lacks_subgraphs(content):
        raise InputFileError(path, "a TFLite flatbuffer without subgraphs: it holds no model")
    return content


def _lacks_subgraphs(content: bytes) -> bool:
    """True when the root table of a TFLite flatbuffer has no ``subgraphs`` field; False when it has one, or when
    the offsets are too broken to tell (the interpreter's verifier refuses those)."""
    # NOTE: LiteRT verifies such a model, then dereferences the missing subgraphs and the process dies (SIGSEGV).
    def read(fmt: str, at: int) -> int:
        if not 0 <= at <= len(content) - struct.calcsize(fmt):
            raise IndexError(at)
        return struct.unpack_from(fmt, content, at)[0]

    try:
        table = read("<I", 0)
        vtable = table - read("<i", table)
        entry = 4 + 2 * MODEL_SUBGRAPHS_FIELD  # a vtable: its size, the table's size, then one offset per field
        return entry + 2 > read("<H", vtable) or read("<H", vtable + entry) == 0
    except IndexError:
        return False


def _open_interpreter(path: Path, content: bytes, runtime: Runtime, delegates: list[Any],
                      threads: int) -> tuple[Any, tuple[str, ...] | None]:
    """An allocated interpreter over ``content`` and the model's operator names (None if the runtime hides them).

    The ops are checked against KERNEL_OPERAND_DTYPES before the tensors are allocated, the inputs and outputs
    against what orbitedge can feed and read (IO_FLOAT_DTYPES, IO_QUANTIZED_DTYPES) after: the interpreter's own
    refusal (an op it does not have) comes before the inputs orbitedge cannot feed. Raises UnsupportedModelError
    with every problem found, InputFileError when the interpreter rejects the model.
    """
    try:
        interpreter = runtime.interpreter(model_content=content, experimental_delegates=delegates or None,
                                          num_threads=threads)
        # Read before allocate_tensors, which hands the graph to the default XNNPACK delegate.
        details = interpreter._get_ops_details() if hasattr(interpreter, "_get_ops_details") else None
        ops = tuple(sorted({op["op_name"] for op in details})) if details is not None else None
        kernel = _kernel_problems(interpreter, details or [])
        if kernel:
            raise UnsupportedModelError(path, kernel + _io_problems(interpreter))
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as err:
        raise InputFileError(path, f"the {runtime.name} interpreter rejects the model: {_said(err)}") from err
    problems = _io_problems(interpreter)
    if problems:
        raise UnsupportedModelError(path, problems)
    return interpreter, ops


def _kernel_problems(interpreter: Any, ops: Sequence[Mapping[str, Any]]) -> list[str]:
    """Ops whose operand types would make a LiteRT kernel overrun a buffer (KERNEL_OPERAND_DTYPES): one sentence
    per op type, naming the op indices, and per operand role the tensors, the type found and the type expected."""
    dtypes = {int(t["index"]): np.dtype(t["dtype"]).name for t in interpreter.get_tensor_details()}
    found: dict[tuple[str, str], dict[int, None]] = {}  # (op, input type) -> op indices
    wrong: dict[tuple[str, str], dict[tuple[str, str, str], list[int]]] = {}  # -> (role, found, expected): tensors
    for op in ops:
        inputs = [int(i) for i in op["inputs"]]
        key = (op["op_name"], dtypes.get(inputs[0]) if inputs else None)
        for position, role, expected in KERNEL_OPERAND_DTYPES.get(key, ()):
            tensor = inputs[position] if position < len(inputs) else -1
            if tensor >= 0 and dtypes.get(tensor, expected) != expected:
                found.setdefault(key, {})[int(op["index"])] = None
                wrong.setdefault(key, {}).setdefault((role, dtypes[tensor], expected), []).append(tensor)
    sentences = []
    for (name, first), indices in found.items():
        kernel_types = " or ".join(dict.fromkeys(expected for _, _, expected in wrong[(name, first)]))
        model_types = " or ".join(dict.fromkeys(actual for _, actual, _ in wrong[(name, first)]))
        operands = " and ".join(f"the {role} (tensor{'s' * (len(tensors) > 1)} {', '.join(map(str, tensors))}) is "
                                f"{actual}, expected {expected}"
                                for (role, actual, expected), tensors in wrong[(name, first)].items())
        sentences.append(f"{name} op{'s' * (len(indices) > 1)} {', '.join(map(str, indices))}: {operands}; "
                         f"LiteRT's {name} kernel for {first} input uses these as {kernel_types} without checking "
                         "their type, overrunning their buffers, which kills the process (double free or corruption, "
                         f"or a segmentation fault); TensorFlow Lite Micro's {name} takes {model_types} there: "
                         "convert the model again for LiteRT")
    return sentences


def _io_problems(interpreter: Any) -> list[str]:
    """What orbitedge cannot feed or read in the model's inputs and outputs: their number (one of each), dtypes
    and quantisation (IO_FLOAT_DTYPES, or IO_QUANTIZED_DTYPES per tensor), and shapes (fixed, every size >= 1)."""
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    problems = []
    if (len(inputs), len(outputs)) != (1, 1):
        problems.append(f"it has {len(inputs)} inputs and {len(outputs)} outputs; expected one of each")
    for role, detail in [("input", d) for d in inputs] + [("output", d) for d in outputs]:
        what = f"{role} {detail['name']!r} (tensor {detail['index']})" if detail["name"] else \
            f"{role} (tensor {detail['index']})"
        dtype = np.dtype(detail["dtype"]).name
        scales = detail["quantization_parameters"]["scales"]
        if dtype in IO_QUANTIZED_DTYPES:
            if len(scales) == 0:
                problems.append(f"{what} is {dtype} without quantisation parameters; expected a per-tensor scale "
                                f"and zero point, by which orbitedge maps real values to {dtype} codes")
            elif len(scales) > 1:
                problems.append(f"{what} is quantised per channel ({len(scales)} scales); expected one per-tensor "
                                "scale and zero point")
            elif not (math.isfinite(scales[0]) and scales[0] > 0):
                problems.append(f"{what} has quantisation scale {scales[0]}; expected a finite scale > 0")
        elif dtype not in IO_FLOAT_DTYPES:
            problems.append(f"{what} is {dtype}; expected {' or '.join(IO_FLOAT_DTYPES)}, or "
                            f"{', '.join(IO_QUANTIZED_DTYPES)} with a per-tensor scale and zero point (the "
                            "activation types of LiteRT's float, full-integer and 16x8 schemes)")
        shape = [int(d) for d in detail["shape"]]
        signature = [int(d) for d in detail.get("shape_signature", detail["shape"])]
        if not shape or min(shape) < 1:
            problems.append(f"{what} has shape {shape}; expected at least one dimension, each of size >= 1")
        elif min(signature[1:], default=1) < 1:
            problems.append(f"{what} has shape signature {signature}; expected fixed sizes after the batch "
                            "dimension (-1 is a size chosen at run time)")
    return problems


def _quantization(detail: Mapping[str, Any]) -> tuple[float, int] | None:
    """(scale, zero point) of a per-tensor quantised integer tensor (checked by _io_problems), None for a float one."""
    if np.dtype(detail["dtype"]).name in IO_FLOAT_DTYPES:
        return None
    scale, zero_point = detail["quantization"]
    return float(scale), int(zero_point)


@functools.cache
def shipped_digests(model_dir: Path = MODEL_DIR) -> frozenset[str]:
    """The sha256 of every model shipped in ``model_dir``, as its card records it (cards that cannot be read are
    left out: loading their model reports them)."""
    digests = set()
    for card_path in model_dir.glob("*.json"):
        try:
            digests.add(json.loads(card_path.read_text(encoding="utf-8"))["sha256"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return frozenset(digests)


_TRIED: set[tuple[str, str, str]] = set()  # (sha256, runtime, delegate) of models that ran in a child in this process


def run_in_child(path: str | Path, target: str, stdin: bytes = b"", timeout_s: float = TRIAL_TIMEOUT_S) -> bytes:
    """Call ``target`` (``"module:function"``, no arguments) in a fresh Python process fed ``stdin``; the bytes it
    returns (b"" for None).

    The child's own standard output is sent to its standard error, so native code printing there cannot garble
    the result. Raises ModelCrashError naming ``path`` when the child dies of a signal (SIGABRT, SIGSEGV, ...),
    exits with a non-zero status or runs past ``timeout_s`` seconds, with the last line it printed.
    """
    module, function = target.split(":")
    code = ("import os\n"
            "result = os.fdopen(os.dup(1), 'wb')\n"
            "os.dup2(2, 1)\n"
            f"from {module} import {function} as target\n"
            "result.write(target() or b'')\n")
    root = str(Path(__file__).resolve().parents[1])  # so that the child imports this very onboard package
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
    try:
        child = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, env=env,
                               timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as err:
        raise ModelCrashError(path, f"did not finish within {timeout_s:g} s", _last_words(err.stderr)) from None
    if child.returncode < 0:
        number = -child.returncode
        ending = f"died of {signal.Signals(number).name} ({signal.strsignal(number)})"
    elif child.returncode > 0:
        ending = f"exited with status {child.returncode}"
    else:
        return child.stdout
    raise ModelCrashError(path, ending, _last_words(child.stderr))


def _last_words(stderr: bytes | None) -> str:
    """The last line a child printed, leaving out the interpreter's INFO lines."""
    lines = [line.strip() for line in (stderr or b"").decode("utf-8", "replace").splitlines()
             if line.strip() and not line.startswith("INFO: ")]
    return lines[-1][:300] if lines else ""


def try_in_child(path: Path, content: bytes, runtime: Runtime, delegate: str,
                 delegate_options: Mapping[str, str] | None, threads: int) -> float:
    """Load ``content`` and run it once on zeros in a child process, unless it is a shipped model (its sha256 is in
    a card of MODEL_DIR) or has already run there in this process with this runtime and delegate; the seconds spent.

    Raises what loading the model raises (UnsupportedModelError, InputFileError, DelegateError), or
    ModelCrashError when the child dies: a native crash of the interpreter never takes this process down.
    """
    digest = hashlib.sha256(content).hexdigest()
    key = (digest, runtime.name, delegate)
    if digest in shipped_digests() or key in _TRIED:
        return 0.0
    start_s = time.perf_counter()
    header = json.dumps({"path": str(path), "runtime": runtime.name, "delegate": delegate,
                         "delegate_options": dict(delegate_options or {}), "threads": threads}).encode()
    error = run_in_child(path, "onboard.runtime:_trial", header + b"\n" + content)
    if error:
        raise pickle.loads(error)
    _TRIED.add(key)
    return time.perf_counter() - start_s


def _invoke(interpreter: Any, path: Path, runtime: Runtime) -> None:
    """Invoke ``interpreter`` (its input set); InputFileError naming ``path`` when a kernel fails on this input,
    such as a GATHER whose indices, computed from the input, fall outside its table."""
    try:
        interpreter.invoke()
    except (ValueError, RuntimeError) as err:
        raise InputFileError(path, f"the {runtime.name} interpreter fails to run the model: {_said(err)}") from err


def _said(err: Exception) -> str:
    """The interpreter's error on one line: LiteRT glues "Node number N (OP) failed to ..." to the sentence before
    it, and puts line breaks inside."""
    return re.sub(r"(?<=[^\s.:;])(?=Node number \d)", "; ", " ".join(str(err).split()))


def _trial() -> bytes | None:
    """The child of try_in_child: reads its header line and the model from stdin, loads the model as Model does
    and invokes it once on zeros; the pickled OrbitEdgeError if that fails, else None."""
    header, content = sys.stdin.buffer.read().split(b"\n", 1)
    spec = json.loads(header)
    path = Path(spec["path"])
    try:
        runtime = resolve_runtime(spec["runtime"])
        delegates = load_delegates(spec["delegate"], runtime, spec["delegate_options"])
        interpreter, _ = _open_interpreter(path, content, runtime, delegates, spec["threads"])
        detail = interpreter.get_input_details()[0]
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        _invoke(interpreter, path, runtime)
    except OrbitEdgeError as err:
        return pickle.dumps(err)
    return None


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
        self._interpreter, self._ops = _open_interpreter(self.path, content, self.runtime, delegates, threads)
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
        q = np.round(np.asarray(x, np.float32) / np.float32(scale)) + zero_point
        return np.clip(q, limits.min, limits.max).astype(self.input_dtype)

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
        _invoke(self._interpreter, self.path, self.runtime)
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


def build_card(model_path: str | Path, *, name: str, version: str, task: str, input_name: str,
               bands: Sequence[str], scaling: Scaling, output_name: str, output_description: str,
               training: Mapping[str, Any], metrics: Mapping[str, Any]) -> ModelCard:
    """A card for the .tflite file at ``model_path``: shapes, dtypes, ops, size and sha256 read from the model,
    the rest as given. Raises InputFileError as Model does."""
    path = Path(model_path)
    content = read_model_file(path)
    runtime = resolve_runtime()
    try_in_child(path, content, runtime, "cpu", None, threads=1)
    interpreter, ops = _open_interpreter(path, content, runtime, [], threads=1)
    detail_in, detail_out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    inputs = (TensorCard(input_name, tuple(int(d) for d in detail_in["shape"]), np.dtype(detail_in["dtype"]).name,
                         tuple(bands), scaling),)
    outputs = (TensorCard(output_name, tuple(int(d) for d in detail_out["shape"]), np.dtype(detail_out["dtype"]).name,
                          description=output_description),)
    return ModelCard(name, version, task, inputs, outputs, hashlib.sha256(content).hexdigest(), len(content),
                     ops or (), dict(training), dict(metrics))
