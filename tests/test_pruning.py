"""benchmarks/pruning.py: magnitude masks zero the smallest half of each conv kernel of the shipped model rebuilt in
Keras, and the pruned variant holds those zeros through its fine-tune while the kept weights train."""

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="pruning needs the [train] extra: pip install -e '.[train]'")

from benchmarks import pruning, tflite_file  # noqa: E402
from training.cloud_data import make_frames  # noqa: E402


@pytest.fixture(scope="module")
def rebuilt():
    return tflite_file.shipped_keras()


def test_magnitude_masks_zero_the_smallest_half_of_each_kernel(rebuilt):
    for kernel, mask in pruning.magnitude_masks(rebuilt, 0.5):
        weights = np.abs(kernel.numpy())
        assert mask.shape == weights.shape and (mask == 0).mean() >= 0.5
        assert weights[mask == 1].min() >= weights[mask == 0].max()


def test_pruning_holds_the_zeros_through_the_fine_tune(rebuilt):
    frames = make_frames("train", 2, 128, seed=3)
    pruned = pruning.prune(rebuilt, frames, steps=3, learning_rate=1e-3)
    masks = pruning.magnitude_masks(rebuilt, 0.5)
    layers = tflite_file.conv_layers(pruned)
    assert len(layers) == len(masks) == 24
    moved = 0.0
    for layer, (original, mask) in zip(layers, masks):
        kernel = layer.kernel.numpy()
        assert (kernel == 0).mean() >= 0.5
        assert np.all(kernel[mask == 0] == 0)  # the pruned weights are the original's smallest, and stay zero
        moved = max(moved, float(np.abs(kernel[mask == 1] - original.numpy()[mask == 1]).max()))
    assert moved > 0  # the kept weights did train
