"""The HIL pytest plugin (onboard.runtime.hil): frame-period arithmetic against hand-computed values, device probing,
and the options, markers and fixtures as pytest runs them (in a subprocess, through the pytest11 entry point)."""

import ctypes.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from onboard.runtime import hil
from rundir.errors import OrbitEdgeError

HAS_EDGETPU = ctypes.util.find_library("edgetpu") is not None
ONE_M_S = 1.0
ONE_MS = 1e-3

PLUGIN_USER = '''
import numpy as np
import pytest

@pytest.mark.hil
def test_tiny_model_on_device(device, interpreter, hil_metrics):
    model = interpreter("{model}")
    assert model.invoke_raw(model.quantize(np.zeros(model.input_shape))).shape == model.output_shape
    hil_metrics.record("tiny", latency_ms=1.5, deadline_ms=10.0)
    assert device.name == "host" and device.delegate == "cpu" and device.threads == 1

@pytest.mark.requires_device("edgetpu")
def test_only_on_the_edge_tpu():
    pass
'''


def test_ground_speed_of_a_550_km_circular_orbit():
    # sqrt(398600.4418 / 6921.0088) km/s = 7.58897 km/s at the orbit, times 6371.0088 / 6921.0088 at the ground
    assert abs(hil.ground_speed_m_s(550.0) - 6985.8) < ONE_M_S


def test_frame_period_of_a_256_px_10_m_camera_with_10_percent_overlap():
    # 256 px * 10 m * 0.9 = 2304 m of new ground per frame at 6985.8 m/s
    assert abs(hil.frame_period_s(256, 10.0, 0.1, 550.0) - 2304 / 6985.8) < ONE_MS


def test_host_is_present_with_the_cpu_delegate_and_one_thread():
    dut = hil.probe("host")
    assert (dut.name, dut.delegate, dut.threads, dut.missing) == ("host", "cpu", 1, None)
    assert dut.runtime and dut.machine["machine"]


@pytest.mark.skipif(HAS_EDGETPU, reason="libedgetpu is installed here")
def test_edgetpu_absence_names_the_library_and_how_to_install_it():
    dut = hil.probe("edgetpu")
    assert dut.delegate == "edgetpu" and "libedgetpu.so.1" in dut.missing and "libedgetpu1-std" in dut.missing


@pytest.mark.skipif(hil.is_jetson(), reason="this is a Jetson")
def test_jetson_absence_says_why():
    assert "/etc/nv_tegra_release" in hil.probe("jetson").missing


def test_the_edge_tpu_uses_the_compiled_model_and_refuses_to_time_an_uncompiled_one(tmp_path):
    """Without its compiled twin the model ran uncompiled, every op on the CPU, and the CPU's latency was recorded
    as the Edge TPU's."""
    model = tmp_path / "cloud_bgrn_int8.tflite"
    with pytest.raises(OrbitEdgeError, match="no compiled model cloud_bgrn_int8_edgetpu.tflite in .*edgetpu_compiler"):
        hil.compiled_model(model, tmp_path)
    (tmp_path / "cloud_bgrn_int8_edgetpu.tflite").write_bytes(b"")
    assert hil.compiled_model(model, tmp_path) == tmp_path / "cloud_bgrn_int8_edgetpu.tflite"
    assert hil.compiled_model(tmp_path / "x_edgetpu.tflite", tmp_path / "elsewhere") == tmp_path / "x_edgetpu.tflite"


def run_pytest(tmp_path: Path, *args: str, env: dict[str, str] | None = None,
               model: Path = Path(__file__).parent / "data" / "tiny_int8.tflite") -> subprocess.CompletedProcess:
    """pytest in a subprocess on a small test file that uses the plugin's markers and fixtures on ``model``."""
    (tmp_path / "test_user.py").write_text(PLUGIN_USER.format(model=model))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *args,
                           str(tmp_path / "test_user.py")], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, **(env or {})})


def test_plugin_on_host_runs_hil_tests_and_writes_metrics(tmp_path):
    metrics = tmp_path / "out" / "hil.json"
    result = run_pytest(tmp_path, "--hil-device", "host", "--hil-metrics", str(metrics))
    assert "1 passed, 1 skipped" in result.stdout, result.stdout + result.stderr
    assert "requires edgetpu; the device under test is host" in result.stdout
    doc = json.loads(metrics.read_text())
    assert doc["device"]["name"] == "host" and doc["device"]["missing"] is None
    (record,) = doc["records"]
    assert record["name"] == "tiny" and math.isclose(record["latency_ms"], 1.5)
    assert record["test"].endswith("test_tiny_model_on_device")


@pytest.mark.skipif(HAS_EDGETPU, reason="libedgetpu is installed here")
def test_plugin_skips_hil_tests_naming_the_missing_library(tmp_path):
    result = run_pytest(tmp_path, "-m", "hil", env={hil.ENV_DEVICE: "edgetpu"})
    assert "1 skipped, 1 deselected" in result.stdout, result.stdout + result.stderr
    assert "edgetpu absent" in result.stdout and "libedgetpu.so.1" in result.stdout


def test_an_unknown_device_in_the_environment_is_a_usage_error(tmp_path):
    result = run_pytest(tmp_path, env={hil.ENV_DEVICE: "gpu"})
    assert result.returncode == 4 and "choose one of host, edgetpu, jetson, onnx-cuda, onnx-tensorrt" in result.stderr


@pytest.mark.parametrize("option, value, found", [
    ("--hil-delegate", "external:/no/such/libdelegate.so", "expected the path of the delegate's .so file, found no "
                                                          "such file"),
    ("--hil-models", "/no/such/models", "expected a folder of models, found no such folder")])
def test_a_path_that_names_nothing_is_a_usage_error_not_a_session_of_skips(tmp_path, option, value, found):
    """A mistyped delegate .so skipped every test as its device absent, and the session passed (exit 0)."""
    result = run_pytest(tmp_path, "--hil-device", "host", option, value)
    assert result.returncode == 4 and f"{option} {value}: {found}" in result.stderr, result.stdout + result.stderr


def test_a_model_that_crashes_the_interpreter_ends_the_session_with_exit_2_and_the_reason(tmp_path):
    # The bare interpreter dies of "double free or corruption" on this model and takes pytest with it.
    crasher = Path(__file__).parent / "data" / "models" / "keyword_scrambled_8bit.tflite"
    result = run_pytest(tmp_path, "--hil-device", "host", model=crasher)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"orbitedge HIL: {crasher}: orbitedge cannot run this model: SVDF ops 1, 3, 5" in result.stdout
    assert "int8, expected int16" in result.stdout and "Traceback" not in result.stdout + result.stderr


@pytest.mark.skipif("CUDAExecutionProvider" in __import__("onnxruntime").get_available_providers(),
                    reason="this ONNX Runtime has the CUDA provider")
@pytest.mark.parametrize("name", ["onnx-cuda", "onnx-tensorrt"])
def test_an_onnx_gpu_device_is_absent_naming_the_package_to_install(name):
    dut = hil.probe(name)
    assert dut.delegate == name.removeprefix("onnx-") and "onnxruntime-gpu" in dut.missing


def test_the_onnx_devices_find_the_twin_in_the_models_folder_or_beside_the_model(tmp_path):
    model = tmp_path / "cloud_bgrn_int8.tflite"
    (tmp_path / "twins").mkdir()
    for twin in (tmp_path / "cloud_bgrn_int8.onnx", tmp_path / "twins" / "cloud_bgrn_int8.onnx"):
        twin.write_bytes(b"")
    assert hil.onnx_twin(model, tmp_path / "twins") == tmp_path / "twins" / "cloud_bgrn_int8.onnx"
    assert hil.onnx_twin(model, tmp_path / "elsewhere") == tmp_path / "cloud_bgrn_int8.onnx"


def test_the_interpreter_fixture_runs_a_users_onnx_model_on_the_host(tmp_path):
    from tests.user_models import user_model

    model = user_model("uint8.onnx", tmp_path / "models")
    result = run_pytest(tmp_path, "--hil-device", "host", model=model)
    assert "1 passed, 1 skipped" in result.stdout, result.stdout + result.stderr


NUMPY_RECORDS = '''
import numpy as np
import pytest

@pytest.mark.hil
def test_records_numpy_figures(hil_metrics):
    p90 = np.percentile(np.array([4.0, 5.0, 6.0]), 90)
    hil_metrics.record("tiny", latency_ms_p90=p90, within_deadline=p90 <= 10.3, windows=np.int64(25),
                       per_window_ms=np.array([1.5, 2.5]), by_band_ms={"B": [np.float32(1.5)]})

@pytest.mark.hil
def test_records_a_key_of_the_records_own(hil_metrics):
    hil_metrics.record("tiny", device="mine")

@pytest.mark.hil
def test_records_what_json_cannot_hold(hil_metrics):
    hil_metrics.record("tiny", shape=object())

@pytest.mark.hil
def test_after_it(hil_metrics):
    hil_metrics.record("after", latency_ms=1.0)
'''


def test_numpy_figures_are_recorded_as_numbers_and_a_value_json_cannot_hold_fails_its_test(tmp_path):
    """`p90 <= deadline` is a numpy bool: recording it passed the test, then crashed the session at its end with an
    internal traceback, writing no metrics."""
    (tmp_path / "test_np.py").write_text(NUMPY_RECORDS)
    metrics = tmp_path / "hil.json"
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hil-device", "host",
                             "--hil-metrics", str(metrics), "test_np.py"], capture_output=True, text=True,
                            cwd=tmp_path)
    assert "2 failed, 2 passed" in result.stdout and "INTERNALERROR" not in result.stdout, result.stdout
    assert "hil_metrics.record('tiny'): expected numbers, text, booleans or lists of them" in result.stdout
    assert "hil_metrics.record('tiny'): device: the record's own keys" in result.stdout
    first, after = json.loads(metrics.read_text())["records"]
    assert (first["latency_ms_p90"], first["within_deadline"], first["windows"], first["per_window_ms"],
            first["by_band_ms"]) == (5.8, True, 25, [1.5, 2.5], {"B": [1.5]})
    assert after["name"] == "after"


def test_under_xdist_the_workers_records_are_written(tmp_path):
    """With -n 2 the records stayed in the worker processes: "0 record(s) written", and no latency table."""
    metrics = tmp_path / "hil.json"
    result = run_pytest(tmp_path, "-n", "2", "--hil-device", "host", "--hil-metrics", str(metrics))
    assert "1 passed, 1 skipped" in result.stdout and "1 record(s) written" in result.stdout, result.stdout
    doc = json.loads(metrics.read_text())
    assert doc["device"]["name"] == "host" and doc["device"]["runtime"] and [r["name"] for r in doc["records"]] == \
        ["tiny"]


@pytest.mark.parametrize("delegate, found", [
    ("gpu", "Unknown delegate 'gpu'"),
    ("external:{not_a_delegate}", "external:{not_a_delegate}: ")])
def test_a_delegate_that_is_none_or_does_not_load_is_a_usage_error(tmp_path, delegate, found):
    """--hil-delegate gpu errored in every test with a traceback; a file that is no delegate skipped every test as
    "host absent", and the session passed."""
    not_a_delegate = tmp_path / "libnot_a_delegate.so"
    not_a_delegate.write_bytes(b"\x7fELF not really")
    delegate, found = (text.format(not_a_delegate=not_a_delegate) for text in (delegate, found))
    result = run_pytest(tmp_path, "--hil-device", "host", "--hil-delegate", delegate)
    assert result.returncode == 4 and f"--hil-delegate {delegate}: " in result.stderr, result.stdout + result.stderr
    assert found in result.stderr and "Traceback" not in result.stderr


REQUIRES = '''
import pytest

@pytest.mark.requires_device("coral-usb")
def test_misspelled():
    pass

@pytest.mark.requires_device()
def test_unnamed():
    pass

@pytest.mark.requires_device("host")
def test_host():
    pass
'''


def test_a_requires_device_name_that_is_no_device_errs_in_its_test_rather_than_skipping_everywhere(tmp_path):
    (tmp_path / "test_requires.py").write_text(REQUIRES)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hil-device", "host",
                             "test_requires.py"], capture_output=True, text=True, cwd=tmp_path)
    assert "1 passed, 2 errors" in result.stdout, result.stdout
    assert ("requires_device: expected one or more of host, edgetpu, jetson, onnx-cuda, onnx-tensorrt, found "
            "'coral-usb'") in result.stdout and "found none" in result.stdout


def test_a_model_name_that_is_no_shipped_model_names_the_shipped_ones(tmp_path):
    result = run_pytest(tmp_path, "--hil-device", "host", model=Path("cloud_bgrn_int9"))
    assert result.returncode == 2 and "unknown model 'cloud_bgrn_int9'; choose a shipped model (cloud_bgrn_float32" \
        in result.stdout, result.stdout


CRASH = '''
import os
import pytest

@pytest.mark.hil
def test_a(hil_metrics):
    hil_metrics.record("a", latency_ms=1.0)

@pytest.mark.hil
def test_b():
    os._exit(1)
'''


def test_under_xdist_a_worker_that_crashes_loses_only_the_test_it_crashed_in(tmp_path):
    """Records travelled with the worker's end of session: a worker that crashed took every record with it."""
    (tmp_path / "test_crash.py").write_text(CRASH)
    metrics = tmp_path / "hil.json"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "1", "--hil-device", "host",
                    "--hil-metrics", str(metrics), "test_crash.py"], capture_output=True, text=True, cwd=tmp_path)
    assert [r["name"] for r in json.loads(metrics.read_text())["records"]] == ["a"]


def test_under_xdist_a_model_that_cannot_load_says_why(tmp_path):
    """pytest.exit in a worker ended as "worker 'gw1' crashed", the reason lost."""
    result = run_pytest(tmp_path, "-n", "2", "--hil-device", "host", model=Path("cloud_bgrn_int9"))
    assert result.returncode != 0 and "orbitedge HIL: unknown model 'cloud_bgrn_int9'" in result.stdout, result.stdout
