"""Domain randomisation of training crops: each perturbation does what its physics says, and stays in range."""

import numpy as np
import pytest

from training import augment

BANDS = ("B", "G", "R", "NIR")


def crops(n: int = 400) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = np.empty((n, 8, 8, 4), np.float32)
    x[:] = np.array([0.08, 0.07, 0.05, 0.3], np.float32)  # vegetation TOA
    x[:, :4] = 0.8  # and a bright cloud core in the top half
    return x + rng.normal(0, 0.001, x.shape).astype(np.float32)


def test_shape_dtype_and_determinism():
    x = crops()
    a = augment.randomise(x, BANDS, np.random.default_rng(1))
    b = augment.randomise(x, BANDS, np.random.default_rng(1))
    assert a.shape == x.shape and a.dtype == np.float32 and np.array_equal(a, b)
    assert (a >= 0).all() and not np.array_equal(a, x)
    assert np.array_equal(x, crops())  # the input is left alone


def test_gains_stay_within_their_spread():
    x = crops()
    ratio = augment.randomise(x, BANDS, np.random.default_rng(2))[:, 6:, :, 3] / x[:, 6:, :, 3]  # NIR 0.3
    lo = (1 - augment.BAND_GAIN_SPREAD) * augment.COMMON_GAIN_RANGE[0]
    nir_haze = augment.HAZE_PATH_550_RANGE[1] * (0.842 / 0.55) ** -1.3 / 0.3  # haze adds a little NIR too
    hi = (1 + augment.BAND_GAIN_SPREAD) * augment.COMMON_GAIN_RANGE[1] + nir_haze
    median = np.median(ratio, axis=(1, 2))
    assert lo - 0.02 < median.min() < lo + 0.1 and hi - 0.15 < median.max() < hi + 0.02  # noise and stripes aside


def test_haze_is_bluest_and_saturation_clips_blue_and_green_only():
    x = crops(2000)
    y = augment.randomise(x, BANDS, np.random.default_rng(3))
    rise = (y - x)[:, 6:].mean(axis=(1, 2))  # clear ground
    hazy = rise[:, 0] - rise[:, 3] > 0.02
    assert hazy.mean() > 0.1  # some crops carry extra haze, more in B than in NIR
    cores = y[:, :4]
    clipped = cores[..., 0].max(axis=(1, 2)) < augment.SATURATION_BLUE_RANGE[1] + 1e-3
    share = clipped.mean()
    assert share == pytest.approx(augment.SATURATION_SHARE, abs=0.04)
    # clipped cores turn yellow: blue at most green, both below red
    assert np.median(cores[clipped][..., 0]) <= np.median(cores[clipped][..., 2])


def test_rgb_crops_have_no_nir_to_touch():
    x = crops(50)[..., :3]
    y = augment.randomise(x, ("B", "G", "R"), np.random.default_rng(4))
    assert y.shape == x.shape
