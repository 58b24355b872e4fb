"""Pareto fronts: the configurations no other beats on every objective at once.

Pure. A point dominates another when it is at least as good on every objective and better on one (Deb, *Multi-
Objective Optimization using Evolutionary Algorithms*, 2001, definition 2.4); the front is the points nothing
dominates. Objectives are maximised or minimised each as ``senses`` says; a point with a missing value (None, NaN)
is on no front.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

Sense = Literal["max", "min"]


def _known(point: Sequence[float | None]) -> bool:
    return all(v is not None and math.isfinite(v) for v in point)


def dominates(a: Sequence[float], b: Sequence[float], senses: Sequence[Sense]) -> bool:
    """``a`` is at least as good as ``b`` on every objective and better on at least one."""
    better = False
    for x, y, sense in zip(a, b, senses):
        gain = x - y if sense == "max" else y - x
        if gain < 0:
            return False
        better = better or gain > 0
    return better


def front(points: Sequence[Sequence[float | None]], senses: Sequence[Sense]) -> list[int]:
    """Indices of the non-dominated points with every value known, in index order.

    The simple cull of Kung, Luccio & Preparata (1975, J. ACM 22(4)), as in Deb (2001, section 2.4.2): taken best
    first in lexicographic order of the objectives (each turned to be maximised), a point can be dominated only by
    one taken before it, and is dominated by one of those if and only if it is by one already on the front
    (domination is transitive). O(n log n + n f) for a front of f points, against O(n^2) comparing every pair."""
    signs = [1.0 if sense == "max" else -1.0 for sense in senses]
    known = [i for i, p in enumerate(points) if _known(p)]
    order = sorted(known, key=lambda i: [sign * v for sign, v in zip(signs, points[i])], reverse=True)
    best: list[int] = []
    for i in order:
        if not any(dominates(points[j], points[i], senses) for j in best):
            best.append(i)
    return sorted(best)

