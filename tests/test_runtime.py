"""The interpreter wrapper, on the real tiny models in tests/data (made by tests/data/make_tiny_models.py) through
the real LiteRT interpreter: quantisation against an integer reference, float vs int8, bad files, cards, delegates."""

import ctypes.util
import dataclasses
import hashlib
import importlib.util
import json
import pickle
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
from onboard import cloud, runtime
from onboard.runtime import (
    DelegateError, Model, ModelCrashError, RuntimeUnavailableError, Scaling, UnsupportedModelError, build_card,
    load_card, load_delegates, resolve_runtime, run_in_child, write_card,
)
from rundir.errors import InputFileError

ROOT = Path(__file__).parents[1]
DATA = Path(__file__).parent / "data"
INT8 = DATA / "tiny_int8.tflite"
FLOAT32 = DATA / "tiny_float32.tflite"
SHAPE = (32, 32, 4)
# Models from other TFLite projects (copied from ../shared/field-cases/models): a TensorFlow Lite Micro keyword
# model with int8 SVDF state, and two with custom ops (TFLM's audio front end, Arm Vela's Ethos-U command stream).
CRASHER = DATA / "models" / "keyword_scrambled_8bit.tflite"
CUSTOM_OPS = {DATA / "models" / "audio_preprocessor_int8.tflite": "SignalWindow",
              DATA / "models" / "person_detect_vela.tflite": "ethos-u"}


@pytest.fixture(scope="module")
def int8_model():
    return Model(INT8)


@pytest.fixture(scope="module")
def float_model():
    return Model(FLOAT32)


def reflectance(seed: int) -> np.ndarray:
    """A (32, 32, 4) float32 TOA reflectance frame, uniform in [0, 1)."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, SHAPE).astype(np.float32)


def copy_model(tmp_path: Path, source: Path, with_card: bool) -> Path:
    target = tmp_path / source.name
    shutil.copyfile(source, target)
    if with_card:
        shutil.copyfile(source.with_suffix(".json"), target.with_suffix(".json"))
    return target


# ------------------------------------------------------------------------------------------ runtime and model


def test_auto_resolves_ai_edge_litert_first(int8_model):
    assert resolve_runtime().name == "ai_edge_litert"
    assert int8_model.runtime.name == "ai_edge_litert"


def test_unknown_runtime_lists_choices():
    with pytest.raises(ValueError, match=r"'litert'.*'auto', 'ai_edge_litert', 'tflite_runtime', 'tensorflow'"):
        resolve_runtime("litert")


@pytest.mark.skipif(importlib.util.find_spec("tflite_runtime") is not None, reason="tflite_runtime is installed")
def test_missing_runtime_says_what_failed():
    with pytest.raises(RuntimeUnavailableError, match="tflite_runtime: No module named 'tflite_runtime'") as err:
        resolve_runtime("tflite_runtime")
    assert list(err.value.tried) == ["tflite_runtime"]


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
def test_tensorflow_runtime_gives_the_same_result(int8_model):
    pytest.importorskip("tensorflow", reason="tensorflow (the [train] extra) is not installed")
    model = Model(INT8, runtime="tensorflow")
    assert model.runtime.name == "tensorflow"
    x = reflectance(11)
    np.testing.assert_array_equal(model.predict(x), int8_model.predict(x))


def test_model_describes_itself(int8_model, float_model):
    assert int8_model.input_shape == (1, *SHAPE) and int8_model.output_shape == (1, 32, 32, 2)
    assert int8_model.input_dtype == np.int8 and int8_model.output_dtype == np.int8 and int8_model.is_quantized
    assert float_model.input_dtype == np.float32 and not float_model.is_quantized
    assert float_model.input_quantization is None and float_model.output_quantization is None
    assert int8_model.op_names() == ("CONV_2D",) == int8_model.card.ops
    assert int8_model.card.path == INT8.with_suffix(".json")
    assert 0 < int8_model.init_s < 5


# ------------------------------------------------------------------------------------------ quantisation


def test_quantize_uses_the_input_tensors_scale_and_zero_point(int8_model):
    scale, zero_point = int8_model.input_quantization
    codes = np.arange(-128, 128, dtype=np.int8)
    on_grid = (codes.astype(np.float32) - zero_point) * np.float32(scale)
    np.testing.assert_array_equal(int8_model.quantize(on_grid), codes)
    # Values off the grid round to the nearest code; values beyond the range saturate.
    np.testing.assert_array_equal(int8_model.quantize(on_grid[10:12] + 0.4 * scale), codes[10:12])
    np.testing.assert_array_equal(int8_model.quantize(np.array([-1e3, 1e3], np.float32)), [-128, 127])


def test_dequantize_uses_the_output_tensors_scale_and_zero_point(int8_model):
    scale, zero_point = int8_model.output_quantization
    codes = np.array([-128, zero_point, 127], np.int8)
    expected = np.array([(-128 - zero_point) * scale, 0.0, (127 - zero_point) * scale], np.float32)
    np.testing.assert_allclose(int8_model.dequantize(codes), expected, rtol=1e-6)


def test_card_scaling_maps_the_physical_quantity_to_the_model_input():
    scaling = Scaling(source="toa_reflectance", scale=2.0, offset=-1.0)
    model_input = scaling.apply(np.array([0.0, 0.25, 1.0]))
    assert model_input.dtype == np.float32
    np.testing.assert_array_equal(model_input, [-1.0, -0.5, 1.0])


def integer_conv3x3(interpreter, q: np.ndarray, scale_in: float, zero_in: int, weights: dict, bias: dict,
                    output: dict, relu: bool) -> np.ndarray:
    """TFLite int8 CONV_2D (SAME, stride 1) in numpy: int32 accumulation of (q - zero_in) x int8 weights + bias,
    requantised by scale_in * weight_scale[o] / output_scale, fused ReLU as a clamp at the output zero point."""
    w = interpreter.get_tensor(weights["index"]).astype(np.int64)  # (O, 3, 3, I)
    acc = np.broadcast_to(interpreter.get_tensor(bias["index"]).astype(np.int64), (*q.shape[:2], w.shape[0])).copy()
    x = np.pad(q.astype(np.int64) - zero_in, ((1, 1), (1, 1), (0, 0)))
    for dy in range(3):
        for dx in range(3):
            acc += x[dy:dy + q.shape[0], dx:dx + q.shape[1]] @ w[:, dy, dx, :].T
    weight_scale = weights["quantization_parameters"]["scales"].astype(np.float64)
    scale_out, zero_out = output["quantization"]
    requantised = np.round(acc * (scale_in * weight_scale / scale_out)) + zero_out
    return np.clip(requantised, zero_out if relu else -128, 127).astype(np.int64)


def test_int8_model_matches_an_integer_reference_within_one_lsb(int8_model):
    interpreter = resolve_runtime().interpreter(model_path=str(INT8))
    interpreter.allocate_tensors()
    by_shape = {tuple(int(d) for d in t["shape"]): t for t in interpreter.get_tensor_details()}
    hidden = by_shape[(1, 32, 32, 8)]
    scale_in, zero_in = int8_model.input_quantization
    scale_out, _ = int8_model.output_quantization
    for seed in range(4):
        x = reflectance(seed)
        q = int8_model.quantize(x)
        h = integer_conv3x3(interpreter, q, scale_in, zero_in, by_shape[(8, 3, 3, 4)], by_shape[(8,)], hidden, True)
        raw = integer_conv3x3(interpreter, h, hidden["quantization"][0], hidden["quantization"][1],
                              by_shape[(2, 3, 3, 8)], by_shape[(2,)], by_shape[(1, 32, 32, 2)], False)
        reference = int8_model.dequantize(raw.astype(np.int8))
        # XNNPACK requantises in float32, the reference in float64: a rounding tie may land one code apart.
        np.testing.assert_allclose(int8_model.predict(x), reference, rtol=0, atol=1.01 * scale_out)
        assert np.mean(np.abs(int8_model.predict(x) - reference) < 0.5 * scale_out) >= 0.99


def test_float32_and_int8_twins_agree(int8_model, float_model):
    # Three roundings (input, hidden, output) and per-channel int8 weights: on average well under one output
    # LSB, a handful of LSB at worst.
    lsb = int8_model.output_quantization[0]
    errors_lsb = np.stack([np.abs(int8_model.predict(x) - float_model.predict(x)) / lsb
                           for x in map(reflectance, range(20))])
    assert errors_lsb.mean() < 0.5
    assert np.percentile(errors_lsb, 99) < 2.0
    assert errors_lsb.max() < 16.0


def test_batch_dimension_is_optional(int8_model):
    x = reflectance(3)
    batched = int8_model.predict(x[None])
    assert batched.shape == (1, 32, 32, 2) and batched.dtype == np.float32
    np.testing.assert_array_equal(int8_model.predict(x), batched[0])
    raw = int8_model.invoke_raw(int8_model.quantize(x[None]))
    assert raw.dtype == np.int8
    np.testing.assert_array_equal(int8_model.predict(x), int8_model.dequantize(raw)[0])
    with pytest.raises(ValueError, match=r"tiny_int8.tflite: input of shape \(16, 16, 4\)"):
        int8_model.predict(x[:16, :16])


def test_threads_give_the_same_result(int8_model):
    x = reflectance(4)
    np.testing.assert_array_equal(Model(INT8, threads=2).predict(x), int8_model.predict(x))
    with pytest.raises(ValueError, match="threads"):
        Model(INT8, threads=0)


# ------------------------------------------------------------------------------------------ bad model files


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
    with pytest.raises(InputFileError, match="model file not found") as err:
        Model(tmp_path / "nowhere.tflite")
    assert err.value.path == str(tmp_path / "nowhere.tflite")


def test_directory_in_place_of_a_model_is_an_input_file_error(tmp_path):
    (tmp_path / "model.tflite").mkdir()
    with pytest.raises(InputFileError, match="cannot read the model file") as err:
        Model(tmp_path / "model.tflite")
    assert err.value.path == str(tmp_path / "model.tflite")


def test_flatbuffer_without_a_model_is_refused_before_the_interpreter_sees_it(tmp_path):
    # A valid TFLite flatbuffer: the root offset, "TFL3", a vtable (its size 6, the table's size 8, field 0 at 4)
    # and a Model table whose only field is version 3. LiteRT verifies it and then dies of SIGSEGV on the
    # missing subgraphs, so it runs in a child process.
    path = tmp_path / "hollow.tflite"
    path.write_bytes(struct.pack("<I", 16) + b"TFL3" + struct.pack("<HHH", 6, 8, 4) + b"\0\0" + struct.pack("<iI", 8, 3))
    child = subprocess.run([sys.executable, "-c", "import sys; from onboard.runtime import Model; Model(sys.argv[1])",
                            str(path)], capture_output=True, text=True, cwd=ROOT)
    assert child.returncode == 1, child.stderr
    assert f"InputFileError: {path}: a TFLite flatbuffer without subgraphs" in child.stderr


# ------------------------------------------------------------------------------------------ models the runtime cannot run


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
        run_in_child(CRASHER, "tests.test_runtime:invoke_unchecked", CRASHER.read_bytes())
    assert err.value.path == str(CRASHER) and err.value.ending in ("died of SIGABRT (Aborted)",
                                                                    "died of SIGSEGV (Segmentation fault)")
    assert f"{CRASHER}: loading the model and running it once in a child process, the process died of SIG" in \
        str(err.value)


def test_the_child_guard_names_an_abort_a_failure_and_a_hang(tmp_path):
    with pytest.raises(ModelCrashError, match=r"the process died of SIGABRT \(Aborted\)"):
        run_in_child(tmp_path / "m.tflite", "os:abort")
    with pytest.raises(ModelCrashError, match="exited with status 1, last printing 'ValueError: `model_path` or `model_content`"):
        run_in_child(tmp_path / "m.tflite", "tests.test_runtime:invoke_unchecked", b"")
    with pytest.raises(ModelCrashError, match="did not finish within 1 s"):
        run_in_child(tmp_path / "m.tflite", "tests.test_runtime:sleep_a_minute", timeout_s=1)


def test_a_model_runs_in_a_child_once_per_process_and_shipped_models_never(monkeypatch):
    monkeypatch.setattr(runtime, "_TRIED", set())
    first, again = Model(INT8), Model(INT8)
    assert first.trial_s > 0 and again.trial_s == 0
    assert Model(runtime.MODEL_DIR / "cloud_bgrn_int8.tflite").trial_s == 0  # trusted by its card's sha256


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
        assert model.input_dtype.name in runtime.IO_FLOAT_DTYPES + runtime.IO_QUANTIZED_DTYPES


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


# ------------------------------------------------------------------------------------------ model cards


def test_card_beside_the_model_is_found_and_checked(tmp_path):
    assert Model(copy_model(tmp_path, INT8, with_card=True)).card.name == "tiny-int8"
    assert Model(copy_model(tmp_path, FLOAT32, with_card=False)).card is None


def edit_card(tmp_path: Path, edit) -> Path:
    """Copy the int8 model and its card to tmp_path, apply ``edit`` to the card's JSON object; the model path."""
    path = copy_model(tmp_path, INT8, with_card=True)
    card = json.loads(path.with_suffix(".json").read_text())
    edit(card)
    path.with_suffix(".json").write_text(json.dumps(card))
    return path


@pytest.mark.parametrize("edit, problem", [
    (lambda c: c.update(sha256="0" * 64),
     f"sha256 is {'0' * 64} in the card but {hashlib.sha256(INT8.read_bytes()).hexdigest()}"),
    (lambda c: c["inputs"][0].update(shape=[1, 64, 64, 4]),
     r"inputs\[0\].shape is \[1, 64, 64, 4\] in the card but \[1, 32, 32, 4\]"),
    (lambda c: c["inputs"][0].update(dtype="uint8"), r"inputs\[0\].dtype is uint8 in the card but int8"),
    (lambda c: c["outputs"][0].update(shape=[1, 32, 32, 1]), r"outputs\[0\].shape is \[1, 32, 32, 1\]"),
    (lambda c: c["outputs"][0].update(dtype="float32"), r"outputs\[0\].dtype is float32 in the card but int8"),
    (lambda c: c.update(size_bytes=1), f"size_bytes is 1 in the card but {INT8.stat().st_size}"),
])
def test_card_mismatch_names_both_files_and_the_field(tmp_path, edit, problem):
    path = edit_card(tmp_path, edit)
    with pytest.raises(InputFileError, match=problem) as err:
        Model(path)
    assert err.value.path == str(path) and f"does not match its card {path.with_suffix('.json')}" in str(err.value)


def test_model_changed_after_its_card_was_written_fails_the_sha256_check(tmp_path):
    path = copy_model(tmp_path, INT8, with_card=True)
    interpreter = resolve_runtime().interpreter(model_path=str(INT8))
    interpreter.allocate_tensors()
    weights = next(t for t in interpreter.get_tensor_details() if tuple(t["shape"]) == (8, 3, 3, 4))
    content = bytearray(INT8.read_bytes())
    content[bytes(content).find(interpreter.get_tensor(weights["index"]).tobytes())] ^= 0x01  # one weight, one LSB
    path.write_bytes(content)
    card_sha256 = hashlib.sha256(INT8.read_bytes()).hexdigest()
    with pytest.raises(InputFileError, match=f"sha256 is {card_sha256} in the card but "
                                             f"{hashlib.sha256(content).hexdigest()} in the model") as err:
        Model(path)
    assert err.value.path == str(path) and "size_bytes" not in err.value.problem


def test_card_of_another_model_reports_every_mismatch(tmp_path):
    path = copy_model(tmp_path, FLOAT32, with_card=False)
    with pytest.raises(InputFileError) as err:
        Model(path, card_path=INT8.with_suffix(".json"))
    for field_name in ("inputs[0].dtype", "outputs[0].dtype", "size_bytes", "sha256"):
        assert field_name in err.value.problem


def test_band_order_must_match_the_camera():
    assert Model(INT8, bands=("B", "G", "R", "NIR")).card.inputs[0].bands == ("B", "G", "R", "NIR")
    with pytest.raises(InputFileError, match=r"inputs\[0\].bands is \['B', 'G', 'R', 'NIR'\] in the card "
                                             r"but the camera gives \['R', 'G', 'B', 'NIR'\]"):
        Model(INT8, bands=("R", "G", "B", "NIR"))


def test_bands_cannot_be_checked_without_a_card(tmp_path):
    with pytest.raises(InputFileError, match="no model card"):
        Model(copy_model(tmp_path, INT8, with_card=False), bands=("B", "G", "R", "NIR"))


def test_bad_card_lists_every_bad_field(tmp_path):
    def edit(card):
        del card["sha256"]
        card["inputs"][0]["shape"] = [1, -32, 32, 4]
        card["inputs"][0]["bands"] = ["B", "G", "R"]
        card["inputs"][0]["scaling"]["scale"] = 0
        card["outputs"][0]["dtype"] = "int4"
        card["metrics"] = [0.9]

    path = edit_card(tmp_path, edit).with_suffix(".json")
    with pytest.raises(InputFileError) as err:
        load_card(path)
    assert err.value.path == str(path)
    for problem in ("sha256: missing", "inputs[0].shape: expected a list of positive integers, found [1, -32, 32, 4]",
                    "inputs[0].scaling.scale: expected a finite non-zero number, found 0",
                    "outputs[0].dtype: expected one of", "metrics: expected an object, found [0.9]"):
        assert problem in err.value.problem


def test_band_count_must_match_channels(tmp_path):
    path = edit_card(tmp_path, lambda c: c["inputs"][0].update(bands=["R", "G", "B"])).with_suffix(".json")
    with pytest.raises(InputFileError, match=r"inputs\[0\].bands: 3 bands for 4 channels"):
        load_card(path)


@pytest.mark.parametrize("text, problem", [("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object")])
def test_unreadable_card(tmp_path, text, problem):
    path = tmp_path / "card.json"
    path.write_text(text)
    with pytest.raises(InputFileError, match=problem):
        load_card(path)


def test_missing_card_named_explicitly(tmp_path):
    with pytest.raises(InputFileError, match="model card not found") as err:
        Model(INT8, card_path=tmp_path / "absent.json")
    assert err.value.path == str(tmp_path / "absent.json")


def test_card_round_trips_and_matches_a_fresh_build(tmp_path):
    card = load_card(INT8.with_suffix(".json"))
    write_card(card, tmp_path / "copy.json")
    assert load_card(tmp_path / "copy.json") == dataclasses.replace(card, path=tmp_path / "copy.json")
    fresh = build_card(INT8, name=card.name, version=card.version, task=card.task, input_name=card.inputs[0].name,
                       bands=card.inputs[0].bands, scaling=card.inputs[0].scaling, output_name=card.outputs[0].name,
                       output_description=card.outputs[0].description, training=card.training, metrics=card.metrics)
    assert fresh.to_json() == card.to_json()


# ------------------------------------------------------------------------------------------ delegates


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


# ------------------------------------------------------------------------------------------ through the command line

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
    cloud.load_model.cache_clear()  # a model loaded by an earlier test is cached by name
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(CLOUD_FILTER_SCENARIO)
    for command in (["validate", str(scenario)], ["run", str(scenario), "--out", str(tmp_path / "run"), "--quiet"]):
        assert main(command) == 2  # refused before anything runs: validate opens the model files a stage will run
        err = capsys.readouterr().err
        assert f"  {scenario}:18: pipeline[0].model: expected a model file that loads and matches its card, found " \
               f"{corrupt}: {problem}" in err
        assert "Traceback" not in err
    assert not (tmp_path / "run").exists()


GATHER = DATA / "models" / "gather_from_input.tflite"  # made by tests/data/make_gather_model.py


def test_a_kernel_that_fails_on_an_input_is_an_input_file_error_naming_the_model():
    # The trial in a child runs zeros, which this model takes; 0.5 is index 50 of its 16-entry GATHER table.
    model = Model(GATHER)
    assert np.array_equal(model.predict(np.zeros((1, 8), np.float32)), np.zeros((1, 8), np.float32))
    with pytest.raises(InputFileError) as err:
        model.predict(np.full((1, 8), 0.5, np.float32))
    assert err.value.path == str(GATHER)
    assert err.value.problem == ("the ai_edge_litert interpreter fails to run the model: gather index out of bounds; "
                                 "Node number 2 (GATHER) failed to invoke.")


def test_shipped_cards_carry_their_host_latency_and_write_back_byte_for_byte(tmp_path):
    for path in sorted(runtime.MODEL_DIR.glob("*.json")):
        card = runtime.shipped_card(path.stem)
        raw = json.loads(path.read_text())["benchmark"]
        assert card.benchmark == runtime.Benchmark(**raw)
        assert card.host_latency_s == pytest.approx(raw["host_latency_ms_p50"] / 1e3, abs=1e-9)
        write_card(card, tmp_path / path.name)  # benchmarks/models.py writes the measured latency this way
        assert (tmp_path / path.name).read_bytes() == path.read_bytes()


def test_a_bad_benchmark_block_is_named_and_a_card_without_one_has_no_latency(tmp_path):
    def edit(card):
        card["benchmark"] = {"host_latency_ms_p50": -1.0, "runs": 30, "threads": "one", "host": "x86_64"}

    path = edit_card(tmp_path, edit).with_suffix(".json")
    with pytest.raises(InputFileError) as err:
        load_card(path)
    for problem in ("benchmark.host_latency_ms_p50: expected a positive number, found -1.0",
                    "benchmark.threads: expected a positive integer, found 'one'"):
        assert problem in err.value.problem
    (tmp_path / "plain").mkdir()
    plain = edit_card(tmp_path / "plain", lambda c: c.pop("benchmark", None)).with_suffix(".json")
    assert load_card(plain).benchmark is None
    with pytest.raises(InputFileError, match="no benchmark block") as err:
        load_card(plain).host_latency_s
    assert err.value.path == str(plain)
