"""Runtime and delegate resolution (onboard/runtime/interpreter.py) with the real LiteRT interpreter: the runtimes tried,
the delegate libraries refused with how to fix them, and errors that survive SimPy and pickling."""

import ctypes.util
import os
import importlib.util
import pickle

import numpy as np
import pytest

from onboard.runtime.interpreter import DelegateError, RuntimeUnavailableError, load_delegates, resolve_runtime
from onboard.runtime.model import Model
from rundir.errors import InputFileError
from tests.tiny_models import INT8


def test_unknown_runtime_lists_choices():
    with pytest.raises(ValueError, match=r"'litert'.*'auto', 'ai_edge_litert', 'tflite_runtime', 'tensorflow'"):
        resolve_runtime("litert")


@pytest.mark.skipif(importlib.util.find_spec("tflite_runtime") is not None, reason="tflite_runtime is installed")
def test_missing_runtime_says_what_failed():
    with pytest.raises(RuntimeUnavailableError, match="tflite_runtime: No module named 'tflite_runtime'") as err:
        resolve_runtime("tflite_runtime")
    assert list(err.value.tried) == ["tflite_runtime"]


@pytest.mark.skipif(ctypes.util.find_library("edgetpu") is not None, reason="libedgetpu is installed here")
def test_edgetpu_without_libedgetpu_says_how_to_install_it():
    with pytest.raises(DelegateError) as err:
        Model(INT8, delegate="edgetpu")
    assert err.value.library == "libedgetpu.so.1"
    for hint in ("libedgetpu.so.1", "sudo apt-get install libedgetpu1-std", "coral-edgetpu-stable", "edgetpu_compiler"):
        assert hint in str(err.value)


def test_external_delegate_must_be_a_delegate_library(tmp_path):
    runtime = resolve_runtime()
    with pytest.raises(DelegateError, match="no such file"):
        load_delegates(f"external:{tmp_path / 'absent.so'}", runtime)
    not_a_delegate = np._core._multiarray_umath.__file__  # a shared library without the delegate entry points
    with pytest.raises(DelegateError, match="not a TFLite delegate: it lacks tflite_plugin_create_delegate"):
        load_delegates(f"external:{not_a_delegate}", runtime)


@pytest.mark.parametrize("err", [InputFileError("m.tflite", "truncated"), DelegateError("edgetpu", "libedgetpu.so.1",
                                 "not found", "install it"), RuntimeUnavailableError({"tflite_runtime": "no module"})],
                         ids=lambda e: type(e).__name__)
def test_errors_survive_simpy_reraising_and_pickling(err):
    # SimPy re-raises an error from inside a process as type(err)(*err.args); pickle rebuilds it the same way.
    for copy in (type(err)(*err.args), pickle.loads(pickle.dumps(err))):
        assert type(copy) is type(err) and str(copy) == str(err) and vars(copy) == vars(err)


def test_unknown_delegate_lists_choices():
    with pytest.raises(ValueError, match=r"'gpu'.*'cpu', 'edgetpu', 'external:PATH'"):
        Model(INT8, delegate="gpu")


def test_the_xnnpack_line_is_dropped_and_every_other_line_still_surfaces(capfd):
    from onboard.runtime.interpreter import RUNTIME_CHATTER, runtime_chatter_dropped

    with runtime_chatter_dropped():
        os.write(2, f"{RUNTIME_CHATTER[0]}\nERROR: a real problem\n".encode())
    assert capfd.readouterr().err == "ERROR: a real problem\n"
    Model(INT8)  # the interpreter itself prints the line on allocate_tensors
    assert "XNNPACK" not in capfd.readouterr().err
