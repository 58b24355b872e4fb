"""What the interpreter cannot run, found before it can take the process down: the static checks of a model's file,
ops and tensors, and the trial run of a model that is not shipped in a child process.

Models the interpreter cannot run never take the process down without a word. Before allocating, each model's
ops are checked for operand types that make a LiteRT kernel overrun its buffers (KERNEL_OPERAND_DTYPES); after,
its one input and one output for what orbitedge can feed and read (float32, float16, or int8, uint8, int16 with a
per-tensor scale and zero point; fixed shapes). A model that is not shipped (its sha256 in no card of MODEL_DIR)
is first loaded and run once on zeros in a child process; a crash there (SIGABRT, SIGSEGV, a hang) becomes
ModelCrashError naming the file and the signal. Each model pays that once per process.
"""

from __future__ import annotations

import contextlib
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
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rundir.errors import InputFileError, OrbitEdgeError

from .interpreter import Runtime, load_delegates, resolve_runtime, runtime_chatter_dropped
from .modelcard import shipped_digests

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


@dataclass(frozen=True)
class Tensor:
    """One input or output of a model as orbitedge feeds or reads it: its shape in the model (a dynamic batch read
    as 1, ``dynamic_batch`` True), its dtype and its quantisation (scale, zero point), None for a float one."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    quantization: tuple[float, int] | None
    dynamic_batch: bool = False


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
        printed = f", last printing {last_words!r}" if last_words else ""
        super().__init__(path, f"loading the model and running it once in a child process, the process {ending}"
                               f"{printed}; the interpreter cannot run this model")


NO_MODEL_FILE = "no such model file"
A_FOLDER = "a folder, not a model file"


def read_model_bytes(path: Path) -> bytes:
    """The bytes of the model file ``path`` (.tflite or .onnx). InputFileError, in the words every command uses, when
    there is no such file, a folder is there, or the system refuses the read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputFileError(path, NO_MODEL_FILE) from None
    except IsADirectoryError:
        raise InputFileError(path, A_FOLDER) from None
    except OSError as err:
        raise InputFileError(path, f"cannot read the model file: {err.strerror or err}") from None


def read_model_file(path: str | Path) -> bytes:
    """The bytes of a .tflite file, after checking it exists, carries the TFLite flatbuffer identifier and has
    subgraphs.

    Raises InputFileError naming the file and what is wrong.
    """
    path = Path(path)
    content = read_model_bytes(path)
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


def open_interpreter(path: Path, content: bytes, runtime: Runtime, delegates: list[Any], threads: int,
                     quiet: bool = True) -> tuple[Any, list[dict[str, Any]] | None]:
    """An allocated interpreter over ``content`` and the model's ops as the interpreter details them before any
    delegate takes them (``op_name``, ``inputs`` and ``outputs`` tensor indices; None if the runtime hides them).

    The ops are checked against KERNEL_OPERAND_DTYPES before the tensors are allocated, the inputs and outputs
    against what orbitedge can feed and read (IO_FLOAT_DTYPES, IO_QUANTIZED_DTYPES) after: the interpreter's own
    refusal (an op it does not have) comes before the inputs orbitedge cannot feed. ``quiet``: the runtime's
    chatter on creating an interpreter is dropped (:func:`onboard.runtime.interpreter.runtime_chatter_dropped`). Raises
    UnsupportedModelError with every problem found, InputFileError when the interpreter rejects the model.
    """
    try:
        with runtime_chatter_dropped() if quiet else contextlib.nullcontext():
            interpreter = runtime.interpreter(model_content=content, experimental_delegates=delegates or None,
                                              num_threads=threads)
            # Read before allocate_tensors, which hands the graph to the default XNNPACK delegate.
            details = interpreter._get_ops_details() if hasattr(interpreter, "_get_ops_details") else None
            kernel = _kernel_problems(interpreter, details or [])
            if kernel:
                raise UnsupportedModelError(path, kernel + _io_problems(interpreter))
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as err:
        raise InputFileError(path, f"the {runtime.name} interpreter rejects the model: {said(err)}") from err
    problems = _io_problems(interpreter)
    if problems:
        raise UnsupportedModelError(path, problems)
    return interpreter, details


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
                            "dimension (-1 is a size chosen at run time: convert the model from a fixed input size, "
                            "e.g. a Keras Input with batch_size=1, whose later layers then have fixed sizes too)")
    return problems



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
    root = str(Path(__file__).resolve().parents[2])  # so that the child imports this very onboard package
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
    error = run_in_child(path, "onboard.runtime.model_check:_trial", header + b"\n" + content)
    if error:
        raise pickle.loads(error)
    _TRIED.add(key)
    return time.perf_counter() - start_s


def invoke(interpreter: Any, path: Path, runtime: Runtime) -> None:
    """Invoke ``interpreter`` (its input set); InputFileError naming ``path`` when a kernel fails on this input,
    such as a GATHER whose indices, computed from the input, fall outside its table."""
    try:
        interpreter.invoke()
    except (ValueError, RuntimeError) as err:
        raise InputFileError(path, f"the {runtime.name} interpreter fails to run the model: {said(err)}") from err


def said(err: Exception) -> str:
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
        interpreter, _ = open_interpreter(path, content, runtime, delegates, spec["threads"], quiet=False)
        detail = interpreter.get_input_details()[0]
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        invoke(interpreter, path, runtime)
    except OrbitEdgeError as err:
        return pickle.dumps(err)
    return None


def activation_behind(output: Any, producers: Mapping[Any, tuple[str, Any]], activations: Mapping[str, str],
                      pass_through: Collection[str]) -> tuple[str, str] | None:
    """``(op, activation)`` when tensor ``output`` comes out of an op of ``activations`` (op name -> the activation
    it applies), through ops of ``pass_through`` (ops that only move or convert values); None otherwise.
    ``producers``: tensor -> (name of the op that writes it, that op's first input, None if it has none)."""
    for _ in range(len(producers)):  # each op at most once: a graph has no cycle, a malformed one ends here
        if output not in producers:
            return None
        op, first = producers[output]
        if op in activations:
            return op, activations[op]
        if op not in pass_through or first is None:
            return None
        output = first
    return None
