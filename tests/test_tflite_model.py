"""The LiteRT engine behind Model (onboard/runtime/tflite_model.py): tensors read from the interpreter, one window
written into its input buffer gives what the whole tensor gives, and the activation a model's output comes out of."""

import numpy as np

import pytest

from onboard.runtime.modelcard import MODEL_DIR
from onboard.runtime.tflite_model import TfliteEngine, output_activation
from tests.tiny_models import INT8


def test_tensors_and_windows():
    engine = TfliteEngine(INT8, INT8.read_bytes(), "cpu", 1, "auto", None)
    assert engine.input.shape == (1, 32, 32, 4) and engine.input.dtype == np.int8 and not engine.input.dynamic_batch
    scale, zero_point = engine.output.quantization
    assert scale > 0 and -128 <= zero_point <= 127 and engine.ops == ("CONV_2D",)
    q = np.random.default_rng(0).integers(-128, 128, (1, 32, 32, 4), dtype=np.int8)
    np.testing.assert_array_equal(engine.run_window(q[0]), engine.run(q)[0])


def test_the_shipped_cloud_model_is_known_to_end_in_its_sigmoid_and_the_tiny_one_in_a_convolution():
    shipped = MODEL_DIR / "cloud_bgrn_int8.tflite"
    assert TfliteEngine(shipped, shipped.read_bytes(), "cpu", 1, "auto", None).output_activation == \
        ("LOGISTIC", "sigmoid")
    assert TfliteEngine(INT8, INT8.read_bytes(), "cpu", 1, "auto", None).output_activation is None


def op(name, inputs, outputs):
    return {"op_name": name, "inputs": inputs, "outputs": outputs}


@pytest.mark.parametrize("ops, found", [
    ([op("CONV_2D", [0, 1], [2]), op("SOFTMAX", [2], [3]), op("RESHAPE", [3, 4], [5]), op("QUANTIZE", [5], [6])],
     ("SOFTMAX", "softmax")),  # through ops that only move or convert values
    ([op("LOGISTIC", [0], [2]), op("MUL", [2, 1], [6])], None),  # a probability scaled is no longer one
    ([op("CONV_2D", [0, 1], [6])], None),
    ([op("LOGISTIC", [0], [2])], None),  # not the output's op
    (None, None),  # a runtime that lists no ops
])
def test_the_output_activation_is_found_through_ops_that_only_move_values(ops, found):
    assert output_activation(ops, 6) == found
