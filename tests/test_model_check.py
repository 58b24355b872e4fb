"""What the interpreter cannot run (onboard/runtime/model_check.py), on real damaged and foreign models through the real
LiteRT interpreter: bad files, ops that would corrupt the heap, custom ops, input types, and the child-process trial
that turns a native crash into an error."""

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cli import main
from onboard.pipeline import cloud
from onboard.runtime import model_check
from onboard.runtime.interpreter import resolve_runtime
from onboard.runtime.model_check import IO_FLOAT_DTYPES, IO_QUANTIZED_DTYPES, ModelCrashError, UnsupportedModelError, run_in_child
from onboard.runtime.modelcard import MODEL_DIR
from onboard.runtime.model import Model
from rundir.errors import InputFileError
from tests.tiny_models import DATA, INT8, reflectance

ROOT = Path(__file__).parents[1]
# Models from other TFLite projects (copied from ../shared/field-cases/models): a TensorFlow Lite Micro keyword
# model with int8 SVDF state, and two with custom ops (TFLM's audio front end, Arm Vela's Ethos-U command stream).
CRASHER = DATA / "models" / "keyword_scrambled_8bit.tflite"
CUSTOM_OPS = {DATA / "models" / "audio_preprocessor_int8.tflite": "SignalWindow",
              DATA / "models" / "person_detect_vela.tflite": "ethos-u"}



@pytest.mark.parametrize("damage, problem", [
    (lambda data: b"", "0 bytes, too short"),
    (lambda data: data[:6], "6 bytes, too short"),
    (lambda data: b"\x00" * 4 + b"ONNX" + data[8:], "not a TFLite model: bytes 4..8 are b'ONNX'"),
    (lambda data: data[:len(data) // 2], "interpreter rejects the model"),
    (lambda data: data[:-16], "interpreter rejects the model"),
    (lambda data: data[:8] + np.random.default_rng(0).bytes(len(data) - 8), "interpreter rejects the model"),
    (lambda data: INT8.with_suffix(".json").read_bytes(), "not a TFLite model: bytes 4..8 are b'"),
])
def test_damaged_model_file_is_an_input_file_error(tmp_path, damage, problem):
    path = tmp_path / "damaged.tflite"
    path.write_bytes(damage(INT8.read_bytes()))
    with pytest.raises(InputFileError, match=problem) as err:
        Model(path)
    assert err.value.path == str(path) and str(path) in str(err.value)


def test_missing_model_file_is_an_input_file_error(tmp_path):
    with pytest.raises(InputFileError, match="no such model file") as err:
        Model(tmp_path / "nowhere.tflite")
    assert err.value.path == str(tmp_path / "nowhere.tflite")


def test_directory_in_place_of_a_model_is_an_input_file_error(tmp_path):
    (tmp_path / "model.tflite").mkdir()
    with pytest.raises(InputFileError, match="a folder, not a model file") as err:
        Model(tmp_path / "model.tflite")
    assert err.value.path == str(tmp_path / "model.tflite")


def test_flatbuffer_without_a_model_is_refused_before_the_interpreter_sees_it(tmp_path):
    # A valid TFLite flatbuffer: the root offset, "TFL3", a vtable (its size 6, the table's size 8, field 0 at 4)
    # and a Model table whose only field is version 3. LiteRT verifies it and then dies of SIGSEGV on the
    # missing subgraphs, so it runs in a child process.
    path = tmp_path / "hollow.tflite"
    path.write_bytes(struct.pack("<I", 16) + b"TFL3" + struct.pack("<HHH", 6, 8, 4) + b"\0\0" + struct.pack("<iI", 8, 3))
    child = subprocess.run([sys.executable, "-c", "import sys; from onboard.runtime.model import Model; Model(sys.argv[1])",
                            str(path)], capture_output=True, text=True, cwd=ROOT)
    assert child.returncode == 1, child.stderr
    assert f"InputFileError: {path}: a TFLite flatbuffer without subgraphs" in child.stderr


def test_int8_svdf_state_is_refused_before_it_corrupts_the_heap():
    # The raw interpreter dies of "double free or corruption" (SIGABRT) on the first invoke of this model: LiteRT's
    # full-integer SVDF reads weights_time and writes its state as int16, and both are int8 here.
    with pytest.raises(UnsupportedModelError) as err:
        Model(CRASHER)
    assert err.value.path == str(CRASHER) and str(err.value).startswith(f"{CRASHER}: orbitedge cannot run this model")
    svdf, output = err.value.problems
    assert svdf.startswith("SVDF ops 1, 3, 5, 7, 9, 10, 11: the weights_time (tensors 2, 10, 18, 26, 34, 39, 44) "
                           "is int8, expected int16 and the activation state (tensors 4, 12, 20, 28, 36, 41, 46) is "
                           "int8, expected int16")
    assert output.startswith("output (tensor 53) is int32; expected float32 or float16, or int8, uint8, int16")


@pytest.mark.parametrize("path", CUSTOM_OPS, ids=lambda p: p.stem)
def test_custom_ops_are_named_by_the_interpreter(path):
    with pytest.raises(InputFileError, match=f"the ai_edge_litert interpreter rejects the model: Encountered "
                                             f"unresolved custom op: {CUSTOM_OPS[path]}") as err:
        Model(path)
    assert err.value.path == str(path)


def invoke_unchecked() -> None:
    """Child target: the model on stdin through the bare LiteRT interpreter, invoked once on zeros, no checks."""
    interpreter = resolve_runtime().interpreter(model_content=sys.stdin.buffer.read())
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()


def sleep_a_minute() -> None:
    """Child target: a trial that hangs."""
    import time
    time.sleep(60)


def test_the_child_guard_turns_a_native_crash_into_an_error():
    # The crashing model itself, with no checks, through the guard Model uses: the child dies, this process lives.
    with pytest.raises(ModelCrashError) as err:
        run_in_child(CRASHER, "tests.test_model_check:invoke_unchecked", CRASHER.read_bytes())
    assert err.value.path == str(CRASHER) and err.value.ending in ("died of SIGABRT (Aborted)",
                                                                    "died of SIGSEGV (Segmentation fault)")
    assert f"{CRASHER}: loading the model and running it once in a child process, the process died of SIG" in \
        str(err.value)


def test_the_child_guard_names_an_abort_a_failure_and_a_hang(tmp_path):
    with pytest.raises(ModelCrashError, match=r"the process died of SIGABRT \(Aborted\)"):
        run_in_child(tmp_path / "m.tflite", "os:abort")
    with pytest.raises(ModelCrashError, match="exited with status 1, last printing 'ValueError: `model_path` or `model_content`"):
        run_in_child(tmp_path / "m.tflite", "tests.test_model_check:invoke_unchecked", b"")
    with pytest.raises(ModelCrashError, match="did not finish within 1 s"):
        run_in_child(tmp_path / "m.tflite", "tests.test_model_check:sleep_a_minute", timeout_s=1)


def test_a_model_runs_in_a_child_once_per_process_and_shipped_models_never(monkeypatch):
    monkeypatch.setattr(model_check, "_TRIED", set())
    first, again = Model(INT8), Model(INT8)
    assert first.trial_s > 0 and again.trial_s == 0
    assert Model(MODEL_DIR / "cloud_bgrn_int8.tflite").trial_s == 0  # trusted by its card's sha256


def input_type_offset(content: bytes) -> int:
    """Where the input tensor's type byte lies in a TFLite flatbuffer (schema: Tensor.type, field 1)."""
    graph = schema.Model.GetRootAs(content, 0).Subgraphs(0)
    tensor = graph.Tensors(graph.Inputs(0))
    return tensor._tab.Pos + tensor._tab.Offset(6)


TENSOR_TYPES = {value: name.lower() for name, value in vars(schema.TensorType).items() if not name.startswith("_")}


@settings(max_examples=12, deadline=None, database=None)
@given(st.sampled_from(sorted(TENSOR_TYPES)))
def test_any_input_type_loads_or_is_refused_naming_the_file(tmp_path_factory, tensor_type):
    content = bytearray(INT8.read_bytes())
    content[input_type_offset(content)] = tensor_type
    path = tmp_path_factory.mktemp("types") / f"input_{TENSOR_TYPES[tensor_type]}.tflite"
    path.write_bytes(content)
    try:
        model = Model(path)
    except InputFileError as err:
        assert err.path == str(path) and str(err).startswith(f"{path}: ")
    else:
        assert model.input_dtype.name in IO_FLOAT_DTYPES + IO_QUANTIZED_DTYPES


@settings(max_examples=15, deadline=None, database=None)
@given(st.data())
def test_damaged_flatbuffers_load_or_are_refused_never_crash(tmp_path_factory, data):
    content = bytearray(INT8.read_bytes())
    for _ in range(data.draw(st.integers(1, 4), label="bytes changed")):
        content[data.draw(st.integers(8, len(content) - 1))] = data.draw(st.integers(0, 255))
    content = content[:data.draw(st.integers(9, len(content)), label="length")]
    path = tmp_path_factory.mktemp("damaged") / "damaged.tflite"
    path.write_bytes(content)
    try:
        model = Model(path)
    except InputFileError as err:
        assert err.path == str(path)
    else:
        assert model.predict(reflectance(0)).shape == (32, 32, 2)


CLOUD_FILTER_SCENARIO = """\
name: corrupt_model
seed: 21
start_utc: 2026-06-21T00:00:00Z
duration_h: 8.5   # the first frame, over Sweden, is taken 8.2 h in
world: {source: synthetic, mean_cloud_cover: 0.6}
spacecraft:
  camera: {width_px: 256, height_px: 256, gsd_m: 10.0, bands: [B, G, R, NIR], max_off_nadir_deg: 40}
  storage: {capacity_mb: 2000}
  power: {battery_wh: 150, solar_w: 90, bus_idle_w: 25, radio_tx_w: 30}
  radio: {rate_mbps: 100}
satellites:
  - {name: sso-1, orbit: {altitude_km: 550, sun_synchronous: true, ltan_h: 10.5}}
ground_stations:
  - {name: svalbard, lat_deg: 78.23, lon_deg: 15.39}
targets:
  - {name: sweden, lat_deg: 59.30, lon_deg: 16.50, radius_km: 5}
pipeline:
  - stage: cloud_filter
  - stage: bent_pipe
"""


@pytest.mark.parametrize("damage, problem", [
    (lambda data: data[:1000], "the ai_edge_litert interpreter rejects the model"),
    (lambda data: CRASHER.read_bytes(), "orbitedge cannot run this model: SVDF ops 1, 3, 5"),
], ids=["truncated", "int8-svdf-state"])
def test_run_with_a_corrupt_cloud_model_exits_2_naming_the_file(tmp_path, monkeypatch, capsys, damage, problem):
    models = tmp_path / "models"
    shutil.copytree(cloud.MODEL_DIR, models, ignore=shutil.ignore_patterns("superres_*"))
    corrupt = models / "cloud_bgrn_int8.tflite"
    corrupt.write_bytes(damage(corrupt.read_bytes()))
    monkeypatch.setattr(cloud, "MODEL_DIR", models)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(CLOUD_FILTER_SCENARIO)
    for command in (["validate", str(scenario)], ["run", str(scenario), "--out", str(tmp_path / "run"), "--quiet"]):
        assert main(command) == 2  # refused before anything runs: validate opens the model files a stage will run
        err = capsys.readouterr().err
        assert f"  {scenario}:18: pipeline[0].model: expected a model file that loads and matches its card, found " \
               f"{corrupt}: {problem}" in err
        assert "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_a_model_whose_sizes_are_chosen_at_run_time_is_refused_saying_how_to_convert_it(tmp_path):
    """Keras's default input leaves height and width (and the batch) to run time; the windows orbitedge cuts need
    fixed sizes. The refusal says where the -1 is and how a converted model gets fixed sizes."""
    import keras
    import tensorflow as tf

    inputs = keras.Input((None, None, 4), batch_size=1)
    model = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same")(inputs))
    path = tmp_path / "dynamic.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    with pytest.raises(InputFileError) as err:
        Model(path)
    assert ("has shape signature [1, -1, -1, 4]; expected fixed sizes after the batch dimension (-1 is a size "
            "chosen at run time: convert the model from a fixed input size, e.g. a Keras Input with batch_size=1"
            in str(err.value))
