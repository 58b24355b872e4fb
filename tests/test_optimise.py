"""benchmarks/optimise.py's parts that the table rests on: the Keras model rebuilt from the shipped float32 .tflite
reproduces it, the pruned variant holds half of every conv kernel at zero through its fine-tune, and the Edge TPU
check reads the shipped models right."""

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the optimisation table needs the [train] extra: pip install -e '.[train]'")

from benchmarks import optimise  # noqa: E402
from onboard.runtime.modelcard import MODEL_DIR  # noqa: E402
from training.cloud_data import make_frames  # noqa: E402

PROBABILITY_TOLERANCE = 1e-4  # as optimise.REPRODUCE_TOLERANCE: float32 rounding through two runtimes


@pytest.fixture(scope="module")
def rebuilt():
    return optimise.shipped_keras()


@pytest.fixture(scope="module")
def windows():
    return make_frames("heldout", 2, optimise.MODEL_PX, seed=5).bands(optimise.BANDS)


def test_the_rebuilt_keras_model_reproduces_the_shipped_float32_model(rebuilt, windows):
    assert optimise.reproduction_error(rebuilt, windows) < PROBABILITY_TOLERANCE
    # the measure can fail: the output logit's bias off by 3 moves the probabilities far beyond the tolerance
    output = optimise.conv_layers(rebuilt)[-1]
    kernel, bias = output.get_weights()
    output.set_weights([kernel, bias - np.float32(3.0)])
    try:
        assert optimise.reproduction_error(rebuilt, windows) > 100 * PROBABILITY_TOLERANCE
    finally:
        output.set_weights([kernel, bias])


def test_magnitude_masks_zero_the_smallest_half_of_each_kernel(rebuilt):
    for kernel, mask in optimise.magnitude_masks(rebuilt, 0.5):
        weights = np.abs(kernel.numpy())
        assert mask.shape == weights.shape and (mask == 0).mean() >= 0.5
        assert weights[mask == 1].min() >= weights[mask == 0].max()


def test_pruning_holds_the_zeros_through_the_fine_tune(rebuilt):
    frames = make_frames("train", 2, 128, seed=3)
    pruned = optimise.prune(rebuilt, frames, steps=3, learning_rate=1e-3)
    masks = optimise.magnitude_masks(rebuilt, 0.5)
    layers = optimise.conv_layers(pruned)
    assert len(layers) == len(masks) == 24
    moved = 0.0
    for layer, (original, mask) in zip(layers, masks):
        kernel = layer.kernel.numpy()
        assert (kernel == 0).mean() >= 0.5
        assert np.all(kernel[mask == 0] == 0)  # the pruned weights are the original's smallest, and stay zero
        moved = max(moved, float(np.abs(kernel[mask == 1] - original.numpy()[mask == 1]).max()))
    assert moved > 0  # the kept weights did train


def test_the_edgetpu_check_passes_the_shipped_int8_model_and_names_what_the_float32_one_lacks():
    int8 = optimise.edgetpu_constraints(MODEL_DIR / "cloud_bgrn_int8.tflite")
    assert int8["met"] and int8["problems"] == []
    assert set(int8["op_versions"]) <= set(optimise.EDGETPU_OPS)
    assert "RESIZE_BILINEAR" in int8["unchecked_limits"]  # the compiler may keep it on the CPU
    float32 = optimise.edgetpu_constraints(MODEL_DIR / "cloud_bgrn_float32.tflite")
    assert not float32["met"] and any(p.endswith("float32 tensors") for p in float32["problems"])


def test_conv_weights_are_read_in_the_file_layouts():
    weights = optimise.conv_weights(MODEL_DIR / "cloud_bgrn_int8.tflite")
    assert [name for name, _, _ in weights[:3]] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D"]
    assert weights[0][1].shape == (16, 3, 3, 4) and weights[0][1].dtype == np.int8
    assert weights[1][1].shape == (1, 3, 3, 16) and weights[0][2].dtype == np.int32
