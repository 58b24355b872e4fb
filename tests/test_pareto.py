"""Pareto fronts: domination, the front of a hand-made set, its defining property on random sets."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from app.pareto import dominates, front


def test_domination_needs_as_good_everywhere_and_better_somewhere():
    senses = ("max", "min")
    assert dominates((0.5, 0.1), (0.4, 0.1), senses)
    assert not dominates((0.5, 0.1), (0.5, 0.1), senses)  # equal: neither dominates
    assert not dominates((0.6, 0.2), (0.5, 0.1), senses)  # a trade-off
    assert dominates((0.6, 0.1), (0.5, 0.2), senses)


def test_the_front_of_a_hand_made_set():
    # saved (up) against clear pixels lost (down): c is beaten by b; e has no loss value and is on no front
    points = [(0.2, 0.00), (0.5, 0.02), (0.4, 0.05), (0.7, 0.10), (0.9, None), (0.7, 0.10)]
    assert front(points, ("max", "min")) == [0, 1, 3, 5]  # equal points are both kept
    assert front([(1.0, math.nan)], ("max", "min")) == []


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=25),
       st.tuples(*[st.sampled_from(("max", "min"))] * 3))
def test_nothing_dominates_the_front_and_the_front_dominates_the_rest(points, senses):
    best = front(points, senses)
    assert best
    for i in best:
        assert not any(dominates(p, points[i], senses) for p in points)
    for i in set(range(len(points))) - set(best):
        assert any(dominates(points[j], points[i], senses) for j in best)



@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6), st.one_of(st.none(), st.integers(0, 6))),
                max_size=40), st.tuples(*[st.sampled_from(("max", "min"))] * 3))
def test_the_cull_keeps_exactly_the_points_no_other_dominates(points, senses):
    # the definition itself, every pair compared: ties, repeated points and missing values included
    known = [i for i, p in enumerate(points) if None not in p]
    assert front(points, senses) == [i for i in known if not any(dominates(points[j], points[i], senses)
                                                                 for j in known)]
