"""benchmarks/tflite_file.py: the shipped models' flatbuffers read right, the Edge TPU check passes the full-int8
model and names what the float32 one lacks, and the Keras U-Net rebuilt from the shipped float32 file reproduces it."""

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="TFLite's flatbuffer schema comes with the [train] extra")

from benchmarks import tflite_file  # noqa: E402
from onboard.runtime.modelcard import MODEL_DIR  # noqa: E402
from training.cloud_data import make_frames  # noqa: E402
from training.train_cloud import MODEL_PX  # noqa: E402

PROBABILITY_TOLERANCE = 1e-4  # as optimise.REPRODUCE_TOLERANCE: float32 rounding through two runtimes


@pytest.fixture(scope="module")
def rebuilt():
    return tflite_file.shipped_keras()


@pytest.fixture(scope="module")
def windows():
    return make_frames("heldout", 2, MODEL_PX, seed=5).bands(tflite_file.BANDS)


def test_the_edgetpu_check_passes_the_shipped_int8_model_and_names_what_the_float32_one_lacks():
    int8 = tflite_file.edgetpu_constraints(MODEL_DIR / "cloud_bgrn_int8.tflite")
    assert int8["met"] and int8["problems"] == []
    assert set(int8["op_versions"]) <= set(tflite_file.EDGETPU_OPS)
    assert "RESIZE_BILINEAR" in int8["unchecked_limits"]  # the compiler may keep it on the CPU
    float32 = tflite_file.edgetpu_constraints(MODEL_DIR / "cloud_bgrn_float32.tflite")
    assert not float32["met"] and any(p.endswith("float32 tensors") for p in float32["problems"])


def test_conv_weights_are_read_in_the_file_layouts():
    weights = tflite_file.conv_weights(MODEL_DIR / "cloud_bgrn_int8.tflite")
    assert [name for name, _, _ in weights[:3]] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D"]
    assert weights[0][1].shape == (16, 3, 3, 4) and weights[0][1].dtype == np.int8
    assert weights[1][1].shape == (1, 3, 3, 16) and weights[0][2].dtype == np.int32
    assert 0.0 <= tflite_file.conv_zero_fraction(MODEL_DIR / "cloud_bgrn_int8.tflite") < 0.5  # not pruned


def test_the_rebuilt_keras_model_reproduces_the_shipped_float32_model(rebuilt, windows):
    assert tflite_file.reproduction_error(rebuilt, windows) < PROBABILITY_TOLERANCE
    # the measure can fail: the output logit's bias off by 3 moves the probabilities far beyond the tolerance
    output = tflite_file.conv_layers(rebuilt)[-1]
    kernel, bias = output.get_weights()
    output.set_weights([kernel, bias - np.float32(3.0)])
    try:
        assert tflite_file.reproduction_error(rebuilt, windows) > 100 * PROBABILITY_TOLERANCE
    finally:
        output.set_weights([kernel, bias])
