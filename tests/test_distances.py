"""benchmarks/distances.py against cases with known answers: Gaussians a shift apart, quantile functions a shift
apart, spectra a factor apart, and the power spectrum of a pure sine."""

import numpy as np
import pytest

from benchmarks.distances import (SPECTRUM_PX, frechet_distance, log_spectral_distance, power_spectrum,
                                  wasserstein_1d)


def test_distances_are_zero_for_identical_samples_and_grow_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(0.1, 0.02, (4000, 4))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, a + 0.05) == pytest.approx(0.1, abs=0.005)  # |shift| = 0.05 * sqrt(4)
    assert wasserstein_1d(a[:, 0], a[:, 0] + 0.03) == pytest.approx(0.03, abs=1e-6)
    spectrum = np.array([1e-6, 1e-7, 1e-8])
    assert log_spectral_distance(spectrum * 10, spectrum) == pytest.approx(10.0)  # x10 in power is 10 dB


def test_the_power_of_a_sine_sits_in_its_frequency_bin():
    n = SPECTRUM_PX
    cycles_per_px = 0.125
    wave = 0.01 * np.sin(2 * np.pi * cycles_per_px * np.arange(n))[None, :].repeat(n, 0)
    image = np.repeat(wave[..., None], 3, axis=2)
    freq, power = power_spectrum([image])
    peak = int(np.argmax(power))
    assert freq[peak] == pytest.approx(cycles_per_px, rel=0.25)  # the bins are a factor 1.38 wide
    assert power[peak] > 100 * np.median(power)
    assert power_spectrum([np.zeros((n - 1, n, 3))])[1].sum() == 0  # no whole patch: nothing counted
