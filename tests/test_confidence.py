"""Means with confidence intervals (ground.confidence): Student's t against scipy, an interval by hand, and the
interval's properties over many value lists."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from ground.confidence import Estimate, estimate, t_critical, t_within


@pytest.mark.parametrize("dof", [1, 2, 3, 4, 5, 7, 10, 19, 30, 61, 200])
def test_student_t_matches_scipy(dof):
    assert t_critical(dof) == pytest.approx(stats.t.ppf(0.975, dof), abs=1e-9)
    assert t_critical(dof, 0.9) == pytest.approx(stats.t.ppf(0.95, dof), abs=1e-9)
    for t in (0.1, 1.0, 2.5, 10.0):
        assert t_within(t, dof) == pytest.approx(stats.t.cdf(t, dof) - stats.t.cdf(-t, dof), abs=1e-12)


def test_a_mean_and_its_interval_by_hand():
    est = estimate([1.0, 2.0, 3.0, None, math.nan])  # sd 1, n 3: 4.303 / sqrt(3)
    assert (est.mean, est.n) == (2.0, 3)
    assert est.half_width == pytest.approx(4.302652729749464 / math.sqrt(3), abs=1e-12)
    assert (est.low, est.high) == (pytest.approx(2.0 - est.half_width), pytest.approx(2.0 + est.half_width))
    assert estimate([5.0]) == Estimate(5.0, None, 1) and estimate([None]) == Estimate(None, None, 0)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(-10**9, 10**9).map(lambda mm: mm / 1000), min_size=2, max_size=20))  # figures to 1e-3
def test_the_interval_holds_the_mean_and_is_zero_only_for_equal_values(values):
    est = estimate(values)
    assert min(values) - 1e-6 <= est.mean <= max(values) + 1e-6
    assert est.half_width >= 0 and (est.half_width == 0) == (max(values) == min(values))


def test_an_interval_is_clipped_to_the_values_the_figure_can_take():
    wide = estimate([0.05, 0.84])  # two replicates of a share: t = 12.7 reaches far past 0 and 1
    assert wide.low < 0.0 and wide.high > 1.0
    assert wide.clipped(0.0, 1.0) == (0.0, 1.0)
    assert wide.clipped(None, 1.0) == (wide.low, 1.0) and wide.clipped() == (wide.low, wide.high)
    narrow = estimate([0.40, 0.42, 0.41])
    assert narrow.clipped(0.0, 1.0) == (narrow.low, narrow.high)  # inside: untouched
    assert estimate([0.5]).clipped(0.0, 1.0) is None and estimate([]).clipped(0.0, 1.0) is None
