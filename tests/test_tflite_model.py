"""The LiteRT engine behind Model (onboard/runtime/tflite_model.py): tensors read from the interpreter, and one window
written into its input buffer gives what the whole tensor gives."""

import numpy as np

from onboard.runtime.tflite_model import TfliteEngine
from tests.tiny_models import INT8


def test_tensors_and_windows():
    engine = TfliteEngine(INT8, INT8.read_bytes(), "cpu", 1, "auto", None)
    assert engine.input.shape == (1, 32, 32, 4) and engine.input.dtype == np.int8 and not engine.input.dynamic_batch
    scale, zero_point = engine.output.quantization
    assert scale > 0 and -128 <= zero_point <= 127 and engine.ops == ("CONV_2D",)
    q = np.random.default_rng(0).integers(-128, 128, (1, 32, 32, 4), dtype=np.int8)
    np.testing.assert_array_equal(engine.run_window(q[0]), engine.run(q)[0])
