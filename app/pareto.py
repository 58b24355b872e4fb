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
    """Indices of the non-dominated points with every value known, in index order. O(n^2)."""
    known = [i for i, p in enumerate(points) if _known(p)]
    return [i for i in known if not any(dominates(points[j], points[i], senses) for j in known if j != i)]

