"""ONNX Runtime behind Model (onboard/runtime/onnx_model.py), on user-style models made in the tests: integer I/O read
through QuantizeLinear/DequantizeLinear, float16 NCHW with a dynamic batch as PyTorch exports it, the providers
and what orbitedge refuses, each with the file and the reason."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onboard.runtime.interpreter import DelegateError
from onboard.runtime.model_check import UnsupportedModelError
from onboard.runtime.onnx_model import OnnxEngine, output_activation, provider_list
from onboard.runtime.model import Model
from rundir.errors import InputFileError
from tests.user_models import WINDOW_PX, frames, user_model

HAS_CUDA = "CUDAExecutionProvider" in __import__("onnxruntime").get_available_providers()


def write(tmp_path, graph, name="m.onnx"):
    path = tmp_path / name
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return path


def test_uint8_io_is_quantised_with_the_scales_of_its_dequantize_and_quantize_nodes(tmp_path):
    model = Model(user_model("uint8.onnx", tmp_path), use_card=False)
    proto = onnx.load(model.path)
    scales = {i.name: numpy_helper.to_array(i).item() for i in proto.graph.initializer if i.dims == []}
    dequantize = next(n for n in proto.graph.node if n.op_type == "DequantizeLinear" and
                      scales.get(n.input[1]) == pytest.approx(model.input_quantization[0]))
    assert model.input_dtype == np.uint8 and model.output_dtype == np.uint8
    assert model.input_quantization == (pytest.approx(scales[dequantize.input[1]]), 0)
    assert model.runtime.name == "onnxruntime" and "QuantizeLinear" in model.op_names()
    x = frames(1, 0)[0]
    q = model.quantize(x)
    assert q.dtype == np.uint8 and abs(int(q[0, 0, 0]) - round(float(x[0, 0, 0]) / model.input_quantization[0])) <= 1


def test_float16_nchw_with_a_dynamic_batch_is_fed_and_read_as_nhwc(tmp_path):
    model = Model(user_model("float16.onnx", tmp_path), use_card=False)
    assert model.input_shape == (1, WINDOW_PX, WINDOW_PX, 4) and model.output_shape == (1, WINDOW_PX, WINDOW_PX, 2)
    assert model.input_dtype == np.float16 and not model.is_quantized
    x = frames(1, 1)[0]
    logits = model.predict(x)
    # the centre taps hold the rule; the other taps' weights are 0.01-small
    rule = 20.0 * (x[..., :3].mean(-1) - 0.22)
    assert logits.shape == (WINDOW_PX, WINDOW_PX, 2)
    assert np.abs(logits[8:-8, 8:-8, 1] - rule[8:-8, 8:-8]).max() < 0.3


@pytest.mark.parametrize("name", ["uint8.onnx", "float16.onnx"])
def test_a_model_that_keeps_its_tensors_in_an_external_data_file_runs_as_the_same_model_inline(tmp_path, name):
    """Large exports (PyTorch's among them) keep the weights in a file beside the .onnx: ONNX Runtime, given the
    model's bytes, could not find it ("model_path must not be empty"). Every tensor outside, the scales and zero
    points too; without the file, one line naming it."""
    inline = user_model(name, tmp_path / "inline")
    external = tmp_path / "external" / name
    external.parent.mkdir()
    onnx.save_model(onnx.load(str(inline)), str(external), save_as_external_data=True, location="weights.bin",
                    size_threshold=0)
    assert onnx.load(str(external), load_external_data=False).graph.initializer[0].data_location == \
        TensorProto.EXTERNAL
    x = frames(1, 1)[0]
    ours, theirs = Model(external, use_card=False), Model(inline, use_card=False)
    assert (ours.input_shape, ours.input_dtype) == (theirs.input_shape, theirs.input_dtype)
    assert np.array_equal(ours.predict(x), theirs.predict(x))
    (external.parent / "weights.bin").unlink()
    with pytest.raises(InputFileError) as err:
        Model(external, use_card=False)
    assert str(err.value) == (f"{external}: expected the external data file the model keeps its tensors in beside it, "
                              f"in {external.parent}, found no weights.bin")


@pytest.mark.skipif(HAS_CUDA, reason="this ONNX Runtime has the CUDA provider")
@pytest.mark.parametrize("delegate, package", [("cuda", "onnxruntime-gpu"), ("tensorrt", "pip install tensorrt")])
def test_a_missing_gpu_provider_names_the_package_to_install(tmp_path, delegate, package):
    with pytest.raises(DelegateError, match=package) as err:
        Model(user_model("float16.onnx", tmp_path), use_card=False, delegate=delegate)
    assert "AzureExecutionProvider" in str(err.value) or "CPUExecutionProvider" in str(err.value)


def test_tensorrt_caches_its_engines_beside_the_model(tmp_path):
    pytest.importorskip("onnxruntime")
    if "TensorrtExecutionProvider" not in __import__("onnxruntime").get_available_providers():
        with pytest.raises(DelegateError):
            provider_list("tensorrt", tmp_path)
        return
    (trt, options), *rest = provider_list("tensorrt", tmp_path)
    assert options["trt_engine_cache_path"] == str(tmp_path / "trt_cache") and rest[-1] == "CPUExecutionProvider"


def test_an_unknown_provider_names_the_choices(tmp_path):
    with pytest.raises(ValueError, match="Choose from \\('cpu', 'cuda', 'tensorrt'\\)"):
        Model(user_model("float16.onnx", tmp_path), use_card=False, delegate="edgetpu")


def test_not_an_onnx_file_is_named(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\x08\x07garbage that protobuf cannot parse \xff\xff\xff")
    with pytest.raises(InputFileError, match="not an ONNX model") as err:
        Model(path)
    assert err.value.path == str(path)
    path.write_bytes(user_model("uint8.tflite", tmp_path / "tflite").read_bytes())  # a TFLite model named .onnx
    with pytest.raises(InputFileError) as err:
        Model(path)
    assert err.value.problem == "not an ONNX model: a TFLite model (file identifier TFL3 at bytes 4-8): name it .tflite"


def test_integer_io_without_quantisation_and_two_inputs_are_refused_with_every_reason(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["c"])], "g",
        [helper.make_tensor_value_info(n, TensorProto.INT8, [1, 8, 8, 4]) for n in ("a", "b")],
        [helper.make_tensor_value_info("c", TensorProto.INT8, [1, 8, 8, 4])])
    with pytest.raises(UnsupportedModelError) as err:
        Model(write(tmp_path, graph))
    assert "2 inputs and 1 outputs" in err.value.problem
    assert "input 'a' is int8 without quantisation parameters (it is read by Add, not a DequantizeLinear)" \
        in err.value.problem
    assert "output 'c' is int8 without quantisation parameters (it is written by Add, not a QuantizeLinear)" \
        in err.value.problem


def test_a_size_chosen_at_run_time_beyond_the_batch_is_refused(tmp_path):
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, "h", "w"])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, "h", "w"])])
    with pytest.raises(UnsupportedModelError, match=r"input 'x' has shape \[1, 4, -1, -1\]"):
        Model(write(tmp_path, graph))


def test_engine_runs_windows_and_whole_tensors_alike(tmp_path):
    path = user_model("float16.onnx", tmp_path)
    engine = OnnxEngine(path, path.read_bytes(), "cpu", threads=1)
    x = np.random.default_rng(0).uniform(0, 1, (1, 4, WINDOW_PX, WINDOW_PX)).astype(np.float16)
    np.testing.assert_array_equal(engine.run_window(x[0]), engine.run(x)[0])
    assert engine.input.dynamic_batch and engine.input.shape == (1, 4, WINDOW_PX, WINDOW_PX)


@pytest.mark.parametrize("nodes, found", [
    ([helper.make_node("Sigmoid", ["x"], ["p"]), helper.make_node("Identity", ["p"], ["y"])], ("Sigmoid", "sigmoid")),
    ([helper.make_node("Softmax", ["x"], ["p"], axis=1),
      helper.make_node("Transpose", ["p"], ["y"], perm=[0, 2, 3, 1])], ("Softmax", "softmax")),
    ([helper.make_node("Sigmoid", ["x"], ["p"]), helper.make_node("Neg", ["p"], ["y"])], None),
    ([helper.make_node("Relu", ["x"], ["y"])], None),
])
def test_the_output_activation_is_found_through_layout_ops(nodes, found):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    assert output_activation(helper.make_model(graph), "y") == found


def test_a_user_model_that_ends_in_logits_has_no_output_activation(tmp_path):
    assert Model(user_model("float16.onnx", tmp_path), use_card=False).output_activation is None
