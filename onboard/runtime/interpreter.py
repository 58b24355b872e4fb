"""The TFLite (LiteRT) interpreter runtime and its delegates: which runtime to use and which delegate libraries to
hand it.

Runtimes, tried in this order by ``"auto"``: ``ai_edge_litert`` (LiteRT), ``tflite_runtime``, ``tensorflow``
(``tf.lite``). Delegates: ``cpu`` (the runtime's default XNNPACK kernels, ``threads`` of them), ``edgetpu``
(``libedgetpu.so.1``; a model must first be compiled by ``edgetpu_compiler``) and ``external:PATH`` (any
delegate library, with ``delegate_options``).

The runtime's C++ code announces on the process's standard error (file descriptor 2, below Python's
``sys.stderr``) that it created its default XNNPACK delegate; :func:`runtime_chatter_dropped` keeps that line
off the terminal and passes everything else on.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rundir.errors import OrbitEdgeError

RUNTIMES = ("ai_edge_litert", "tflite_runtime", "tensorflow")
DELEGATES = ("cpu", "edgetpu", "external:PATH")
EDGETPU_LIBRARY = "libedgetpu.so.1"
DELEGATE_SYMBOLS = ("tflite_plugin_create_delegate", "tflite_plugin_destroy_delegate")  # external delegate ABI
# Lines the runtime prints on every interpreter it creates, whatever the model: news to no one.
RUNTIME_CHATTER = ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",)
EDGETPU_HINT = (
    "install the Edge TPU runtime from Coral's apt repository: add "
    "'deb https://packages.cloud.google.com/apt coral-edgetpu-stable main' "
    "to /etc/apt/sources.list.d/coral-edgetpu.list, then `sudo apt-get update && sudo apt-get install libedgetpu1-std` "
    "(see https://coral.ai/docs/accelerator/get-started/); "
    "and compile the model with `edgetpu_compiler MODEL.tflite`, which writes MODEL_edgetpu.tflite "
    "(ops it cannot map stay on the CPU)"
)


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


@contextlib.contextmanager
def runtime_chatter_dropped(chatter: Callable[[str], bool] = lambda line: line in RUNTIME_CHATTER) -> Iterator[None]:
    """Within the block, what native code writes to file descriptor 2 goes to a temporary file; on leaving it, every
    line for which ``chatter`` is false (by default, all but RUNTIME_CHATTER) is written to ``sys.stderr``, so real
    errors and warnings still surface, after the block. A process that dies inside the block loses what it printed there: a model that is not shipped is tried
    in a child first (onboard.runtime.model_check.try_in_child), which does not drop anything."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode("utf-8", "replace").splitlines(keepends=True)
                    if not chatter(line.strip())]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
