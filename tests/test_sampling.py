"""Sampling a trade study's axes: grids, ranges (linear, log, integer), random and Latin-hypercube draws."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.sampling import Axis, configurations, unit_samples


def test_a_grid_is_every_combination_the_first_axis_slowest():
    axes = [Axis("a", (1, 2)), Axis("b", ("x", "y", "z"))]
    assert configurations(axes, "grid") == [(1, "x"), (1, "y"), (1, "z"), (2, "x"), (2, "y"), (2, "z")]
    assert configurations([], "grid") == [()]


def test_ranges_on_a_grid_linear_log_and_integer():
    assert Axis("t", start=0.1, stop=0.9, num=5).grid() == (0.1, 0.3, 0.5, 0.7, 0.9)  # no 0.30000000000000004
    assert Axis("r", start=10, stop=1000, num=3, scale="log").grid() == (10.0, 100.0, 1000.0)
    assert Axis("px", start=16, stop=128, num=4, scale="log", integer=True).grid() == (16, 32, 64, 128)
    assert all(isinstance(v, int) for v in Axis("px", start=16, stop=128, num=4, integer=True).grid())
    with pytest.raises(ValueError, match="needs num"):
        Axis("t", start=0.1, stop=0.9).grid()


def test_a_value_at_a_fraction_of_the_axis():
    listed = Axis("k", ("a", "b", "c", "d"))
    assert [listed.at(u) for u in (0.0, 0.24, 0.25, 0.99, 1.0)] == ["a", "a", "b", "d", "d"]
    assert Axis("r", start=1, stop=100, scale="log").at(0.5) == pytest.approx(10.0, rel=1e-12)
    assert Axis("t", start=2, stop=4).at(0.25) == 2.5


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 40), dims=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_a_latin_hypercube_puts_one_sample_in_each_stratum_of_every_axis(n, dims, seed):
    points = unit_samples("latin_hypercube", n, dims, seed)
    assert points.shape == (n, dims)
    assert ((points >= 0) & (points < 1)).all()
    for column in points.T:
        assert sorted(np.floor(column * n).astype(int)) == list(range(n))


def test_draws_are_seeded():
    for method in ("random", "latin_hypercube"):
        a, b = unit_samples(method, 8, 3, 7), unit_samples(method, 8, 3, 7)
        assert np.array_equal(a, b)
        assert not np.array_equal(a, unit_samples(method, 8, 3, 8))
    with pytest.raises(ValueError, match="Unknown sampling method 'sobol'"):
        unit_samples("sobol", 4, 2, 0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), samples=st.integers(1, 30))
def test_drawn_configurations_stay_on_their_axes(seed, samples):
    axes = [Axis("list", (32, 64, 128)), Axis("lin", start=0.2, stop=0.8),
            Axis("log", start=1.0, stop=1000.0, scale="log"), Axis("int", start=16, stop=256, integer=True)]
    for method in ("random", "latin_hypercube"):
        configs = configurations(axes, method, samples, seed)
        assert len(configs) == samples
        for listed, lin, log, whole in configs:
            assert listed in (32, 64, 128)
            assert 0.2 <= lin <= 0.8 and 1.0 <= log <= 1000.0 and 16 <= whole <= 256
            assert isinstance(whole, int) and math.isfinite(log)
    with pytest.raises(ValueError, match="needs samples"):
        configurations(axes, "random")
