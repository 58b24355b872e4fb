"""The interpreter wrapper (onboard/runtime/model.py), on the real tiny models in tests/data through the real LiteRT
interpreter: quantisation against an integer reference, float vs int8, the card checked against the model, and cards
built from a model."""

import dataclasses
import hashlib
import json
import shutil

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from onboard.pipeline import tiling
from onboard.runtime.interpreter import resolve_runtime
from onboard.runtime.modelcard import MODEL_DIR, load_card, write_card
from onboard.runtime.scaling import Scaling
from onboard.runtime.model import Model, build_card
from rundir.errors import InputFileError
from tests.tiny_models import DATA, FLOAT32, INT8, SHAPE, copy_model, edit_card, reflectance



@pytest.fixture(scope="module")
def int8_model():
    return Model(INT8)


@pytest.fixture(scope="module")
def float_model():
    return Model(FLOAT32)


def test_auto_resolves_ai_edge_litert_first(int8_model):
    assert resolve_runtime().name == "ai_edge_litert"
    assert int8_model.runtime.name == "ai_edge_litert"


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


def test_card_beside_the_model_is_found_and_checked(tmp_path):
    assert Model(copy_model(tmp_path, INT8, with_card=True)).card.name == "tiny-int8"
    assert Model(copy_model(tmp_path, FLOAT32, with_card=False)).card is None


@pytest.mark.parametrize("edit, problem", [
    (lambda c: c.update(sha256="0" * 64),
     f"sha256 is {'0' * 64} in the card but {hashlib.sha256(INT8.read_bytes()).hexdigest()}"),
    (lambda c: c["inputs"][0].update(shape=[1, 64, 64, 4]),
     r"inputs\[0\].shape is \[1, 64, 64, 4\] in the card but \[1, 32, 32, 4\]"),
    (lambda c: c["inputs"][0].update(dtype="uint8"), r"inputs\[0\].dtype is uint8 in the card but int8"),
    (lambda c: c["outputs"][0].update(shape=[1, 32, 32, 1]), r"outputs\[0\].shape is \[1, 32, 32, 1\]"),
    (lambda c: c["outputs"][0].update(dtype="float32"), r"outputs\[0\].dtype is float32 in the card but int8"),
    (lambda c: c.update(size_bytes=1), f"size_bytes is 1 in the card but {INT8.stat().st_size}"),
    # a card edited by hand: its one class read channel 0 as cloud (a clear channel), or its second channel, which
    # the output lacks, ended in an IndexError; card init already refused both
    (lambda c: c["outputs"][0].update(classes=["cloud"]), r"outputs\[0\].classes names 1 classes \['cloud'\] in the "
     r"card but the model's output has 2 channel\(s\): one name per channel, in order \(orbitedge card init "
     r"--classes\)"),
    (lambda c: c["outputs"][0].update(classes=["clear", "thin", "cloud"]), r"outputs\[0\].classes names 3 classes"),
])
def test_card_mismatch_names_both_files_and_the_field(tmp_path, edit, problem):
    path = edit_card(tmp_path, edit)
    with pytest.raises(InputFileError, match=problem) as err:
        Model(path)
    assert err.value.path == str(path) and f"does not match its card {path.with_suffix('.json')}" in str(err.value)


def test_a_card_activation_on_a_model_that_ends_in_its_own_sigmoid_is_refused_at_its_line(tmp_path):
    path = tmp_path / "cloud_rgb_int8.tflite"
    shutil.copyfile(MODEL_DIR / path.name, path)
    card = json.loads((MODEL_DIR / "cloud_rgb_int8.json").read_text())
    card["outputs"][0]["activation"] = "sigmoid"  # the output is LOGISTIC's already: a second one makes all 0.5..0.73
    path.with_suffix(".json").write_text(json.dumps(card, indent=1))
    with pytest.raises(InputFileError, match=r"line \d+: outputs\[0\].activation is sigmoid in the card, but the "
                                             r"model's output already comes out of its LOGISTIC \(sigmoid\)"):
        Model(path)
    with pytest.raises(InputFileError, match="activation softmax asked for, but the model's output already comes out"):
        build_card(path, name="x", version="1", task="semantic-segmentation", bands=("B", "G", "R"),
                   scaling=Scaling("toa_reflectance", 1.0, 0.0), training={}, metrics={}, activation="softmax")


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
    assert "card init" not in err.value.problem  # a shipped-form card: no card init to suggest


def test_a_user_model_retrained_after_its_card_was_written_suggests_card_init_force(tmp_path):
    from app.cli import main
    from tests.user_models import onnx_float16_nchw

    path = tmp_path / "mine.onnx"
    path.write_bytes(onnx_float16_nchw())
    assert main(["card", "init", str(path), "--task", "segmentation", "--bands", "B,G,R,NIR",
                 "--activation", "softmax"]) == 0
    path.write_bytes(onnx_float16_nchw(gain=0.9))  # retrained: the same shapes and size, other weights
    with pytest.raises(InputFileError) as err:
        Model(path)
    assert "assets.model.file:checksum is " in err.value.problem and "file:size" not in err.value.problem
    assert err.value.problem.endswith(f"; the model changed since its card was written (retrained?): write the card "
                                      f"again with orbitedge card init {path} --force and the options it was made "
                                      "with, then orbitedge card score it again")


def test_card_of_another_model_reports_every_mismatch(tmp_path):
    path = copy_model(tmp_path, FLOAT32, with_card=False)
    with pytest.raises(InputFileError) as err:
        Model(path, card_path=INT8.with_suffix(".json"))
    for field_name in ("inputs[0].dtype", "outputs[0].dtype", "size_bytes", "sha256"):
        assert field_name in err.value.problem


def test_a_twin_s_card_beside_a_model_is_named_as_written_for_the_twin(tmp_path):
    """X.onnx beside X.tflite and its card X.json: a stage checks each file against the card beside it, and a card
    written for the other file says so, not only that the size and sha256 differ."""
    from app.cli import main
    from tests.user_models import user_model

    model, twin = user_model("uint8.tflite", tmp_path), user_model("uint8.onnx", tmp_path)
    assert main(["card", "init", str(model), "--task", "segmentation", "--bands", "B,G,R,NIR",
                 "--activation", "softmax"]) == 0
    with pytest.raises(InputFileError) as err:
        Model(twin)
    assert err.value.problem.startswith(f"does not match its card {model.with_suffix('.json')} (written for "
                                        "uint8.tflite): ")
    assert "framework is TensorFlow Lite in the card but ONNX in the model" in err.value.problem
    assert Model(model).card.model_file == "uint8.tflite"  # its own card: no such note


def test_band_order_must_match_the_camera():
    assert Model(INT8, bands=("B", "G", "R", "NIR")).card.inputs[0].bands == ("B", "G", "R", "NIR")
    with pytest.raises(InputFileError, match=r"inputs\[0\].bands is \['B', 'G', 'R', 'NIR'\] in the card "
                                             r"but the camera gives \['R', 'G', 'B', 'NIR'\]"):
        Model(INT8, bands=("R", "G", "B", "NIR"))


def test_bands_cannot_be_checked_without_a_card(tmp_path):
    with pytest.raises(InputFileError, match="no model card"):
        Model(copy_model(tmp_path, INT8, with_card=False), bands=("B", "G", "R", "NIR"))


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


@settings(max_examples=20, deadline=None, derandomize=True, database=None)
@given(height_px=st.integers(1, 3 * SHAPE[0] + 7), width_px=st.integers(1, 3 * SHAPE[1] + 7),
       overlap_px=st.integers(0, SHAPE[0] // 2), seed=st.integers(0, 2**32 - 1))
def test_predict_tiled_gives_exactly_the_windows_of_predict(int8_model, float_model, height_px, width_px, overlap_px,
                                                            seed):
    """Quantising the frame once and dequantising the mosaic once is the same, pixel for pixel, as running
    ``predict`` window by window: any frame size (smaller or larger than a window), any overlap, int8 and float32."""
    image = np.random.default_rng(seed).uniform(-0.05, 1.2, (height_px, width_px, SHAPE[2])).astype(np.float32)
    for model in (int8_model, float_model):
        got = model.predict_tiled(image, overlap_px)
        assert got.dtype == np.float32 and got.shape[:2] == (height_px, width_px)
        np.testing.assert_array_equal(got, tiling.predict_tiled(image, model.predict, SHAPE[0], overlap_px))


def test_predict_tiled_refuses_an_image_of_other_bands(int8_model):
    with pytest.raises(ValueError, match=rf"image of shape \(40, 40, {SHAPE[2] + 1}\), expected \(H, W, {SHAPE[2]}\)"):
        int8_model.predict_tiled(np.zeros((40, 40, SHAPE[2] + 1), np.float32), 8)
    with pytest.raises(ValueError, match="expected"):
        int8_model.predict_tiled(np.zeros((40, 40), np.float32), 8)


# ------------------------------------------------------------------ one Model over two runtimes (users' models)


def test_the_same_model_on_litert_and_onnx_runtime_agrees_within_one_lsb(tmp_path):
    from tests.user_models import frames, user_model

    litert = Model(user_model("uint8.tflite", tmp_path), use_card=False)
    onnx = Model(user_model("uint8.onnx", tmp_path), use_card=False)
    assert (litert.runtime.name, onnx.runtime.name) == ("ai_edge_litert", "onnxruntime")
    assert litert.output_quantization == onnx.output_quantization
    lsb = litert.output_quantization[0]
    errors_lsb = np.stack([np.abs(litert.predict_tiled(f, 8) - onnx.predict_tiled(f, 8)) / lsb
                           for f in frames(4, seed=7, size_px=120)])
    assert np.mean(errors_lsb <= 1 + 1e-4) >= 0.99


def test_float16_models_in_either_runtime_and_layout_agree_to_float16_precision(tmp_path):
    from tests.user_models import frames, user_model

    tflite = Model(user_model("float16.tflite", tmp_path), use_card=False)  # float16 weights, float32 I/O, NHWC
    onnx = Model(user_model("float16.onnx", tmp_path), use_card=False)  # float16 I/O, NCHW
    frame = frames(1, seed=8, size_px=100)[0]
    logits = tflite.predict_tiled(frame, 8)
    assert onnx.predict_tiled(frame, 8).shape == logits.shape == (100, 100, 2)
    # float16 keeps 11 significant bits: logits up to ~20 are good to ~0.01
    np.testing.assert_allclose(onnx.predict_tiled(frame, 8), logits, atol=0.05)


def test_a_card_built_from_an_nchw_onnx_model_records_its_layout_and_dynamic_batch(tmp_path):
    from tests.user_models import user_model

    path = user_model("float16.onnx", tmp_path)
    card = build_card(path, name="user", version="1", task="segmentation", bands=("B", "G", "R", "NIR"),
                      scaling=Scaling("toa_reflectance", 1.0, 0.0), training={}, metrics={}, form="stac")
    assert card.inputs[0].shape == (-1, 4, 48, 48) and card.inputs[0].dim_order == ("batch", "channel", "height",
                                                                                    "width")
    assert card.framework == "ONNX" and card.model_file == "float16.onnx" and card.benchmark is None
    write_card(card, path.with_suffix(".json"))
    assert Model(path).card.inputs[0].channels_first


def test_a_model_file_of_another_kind_is_named(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"\x80\x02")
    with pytest.raises(InputFileError, match="expected a model file ending in .tflite or .onnx, found 'model.pt'"):
        Model(path)
    with pytest.raises(ValueError, match="the cuda provider runs ONNX models"):
        Model(INT8, delegate="cuda")


def _nhwc_in_nchw_out(tmp_path, channels_out):
    """An ONNX model with an NHWC (1, 16, 16, 4) input whose output is NCHW: the bands' mean, repeated
    ``channels_out`` times."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("ReduceMean", ["t"], ["m"], axes=[1], keepdims=1),
             helper.make_node("Tile", ["m", "repeats"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 16, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels_out, 16, 16])],
                              [numpy_helper.from_array(np.array([1, channels_out, 1, 1], np.int64), "repeats")])
    path = tmp_path / f"nchw_out_{channels_out}.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return path


def test_an_output_laid_out_unlike_the_input_is_read_as_its_shape_or_its_card_says(tmp_path):
    frame = np.random.default_rng(3).random((40, 40, 4), dtype=np.float32)
    nhwc, nchw = ("batch", "height", "width", "channel"), ("batch", "channel", "height", "width")
    # its shape tells: the input's 16 x 16 stands last
    path = _nhwc_in_nchw_out(tmp_path, 1)
    model = Model(path, use_card=False, channels=4)
    assert (model.input_shape, model.output_shape) == ((1, 16, 16, 4), (1, 16, 16, 1))
    np.testing.assert_allclose(model.predict_tiled(frame, 4)[..., 0], frame.mean(axis=-1), atol=1e-6)
    card = build_card(path, name="u", version="1", task="segmentation", bands=("B", "G", "R", "NIR"),
                      scaling=Scaling("toa_reflectance", 1.0, 0.0), training={}, metrics={}, form="stac")
    assert (card.inputs[0].dim_order, card.outputs[0].dim_order) == (nhwc, nchw)
    # 16 channels of 16 x 16: the shape cannot tell, so the output is read as the input is, unless its card says
    path = _nhwc_in_nchw_out(tmp_path, 16)
    assert Model(path, use_card=False, channels=4).output_shape == (1, 16, 16, 16)
    card = build_card(path, name="u", version="1", task="segmentation", bands=("B", "G", "R", "NIR"),
                      scaling=Scaling("toa_reflectance", 1.0, 0.0), training={}, metrics={}, form="stac")
    outputs = (dataclasses.replace(card.outputs[0], dim_order=nchw),)
    write_card(dataclasses.replace(card, outputs=outputs), path.with_suffix(".json"))
    model = Model(path)
    assert model.card.outputs[0].channels_first and model.output_shape == (1, 16, 16, 16)
    out = model.predict_tiled(frame, 4)
    np.testing.assert_allclose(out, np.repeat(frame.mean(axis=-1, keepdims=True), 16, axis=-1), atol=1e-6)


def test_a_tflite_output_is_nhwc_whatever_its_shape_suggests():
    from onboard.runtime.model import output_channels_first

    # (1, 1, 16, 16) out of a 16 x 16 input: NCHW by its shape in an ONNX model, NHWC (H = 1) in a TFLite one
    assert output_channels_first((1, 1, 16, 16), None, ".onnx", False, (16, 16))
    assert not output_channels_first((1, 1, 16, 16), None, ".tflite", False, (16, 16))
    assert not output_channels_first((1, 16, 16, 1), None, ".onnx", True, (16, 16))
    assert not output_channels_first((1, 16, 16), None, ".onnx", True, (16, 16))
    assert output_channels_first((1, 2, 32, 32), None, ".onnx", True, (16, 16))  # x2 super-resolution: as the input
    # an NCHW input and an NHWC x2 output (tf2onnx with inputs_as_nchw only): its height and width are the input's
    # doubled, at dimensions 1-2
    assert not output_channels_first((1, 32, 32, 1), None, ".onnx", True, (16, 16))
    assert output_channels_first((1, 1, 48, 32), None, ".onnx", False, (24, 16))  # x2 of a 24 x 16 window, NCHW
    assert output_channels_first((1, 32, 32, 32), None, ".onnx", True, (16, 16))  # both places: as the input
