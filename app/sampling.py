"""Where a trade study looks: each axis a list of values or a range (linear or logarithmic), and the configurations
drawn from the axes on a full grid, at random, or by Latin-hypercube sampling, all seeded.

Pure: no files, no YAML. Latin-hypercube sampling (McKay, Beckman and Conover, Technometrics 21(2), 1979) splits each
axis into ``n`` equal strata and puts exactly one of the ``n`` samples in each, independently permuted per axis.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

Method = Literal["grid", "random", "latin_hypercube"]
SIGNIFICANT_DIGITS = 12  # range values are written back as YAML text: 0.30000000000000004 becomes 0.3


@dataclass(frozen=True)
class Axis:
    """One scenario key and the values it takes: ``values`` (a list), or a range ``start``..``stop`` (both included)
    spaced ``scale`` linear or log, with ``num`` grid points (None: sampled continuously), rounded to integers when
    ``integer``."""

    key: str
    values: tuple[Any, ...] | None = None
    start: float | None = None
    stop: float | None = None
    num: int | None = None
    scale: Literal["linear", "log"] = "linear"
    integer: bool = False

    def grid(self) -> tuple[Any, ...]:
        """The values a grid takes: the list, or the range's ``num`` points."""
        if self.values is not None:
            return self.values
        if self.num is None:
            raise ValueError(f"axis {self.key}: a range needs num points on a grid")
        return tuple(self._number(u) for u in np.linspace(0.0, 1.0, self.num))

    def at(self, u: float) -> Any:
        """The value at ``u`` in [0, 1): the ``floor(u * n)``-th of a list, or the point that far along the range."""
        if self.values is not None:
            return self.values[min(int(u * len(self.values)), len(self.values) - 1)]
        return self._number(u)

    def _number(self, u: float) -> float | int:
        if self.scale == "log":
            lo, hi = math.log10(self.start), math.log10(self.stop)
            x = 10.0 ** (lo + u * (hi - lo))
        else:
            x = self.start + u * (self.stop - self.start)
        x = float(f"{x:.{SIGNIFICANT_DIGITS}g}")
        return int(round(x)) if self.integer else x


def unit_samples(method: Method, n: int, dims: int, seed: int) -> np.ndarray:
    """``(n, dims)`` float64 points in [0, 1): uniform at random, or a Latin hypercube (one point per stratum of
    width 1/n on every axis). Seeded by ``seed``: the same seed gives the same points."""
    rng = np.random.default_rng(seed)
    if method == "random":
        return rng.random((n, dims))
    if method == "latin_hypercube":
        columns = [(rng.permutation(n) + rng.random(n)) / n for _ in range(dims)]
        return np.stack(columns, axis=1) if columns else np.empty((n, 0))
    raise ValueError(f"Unknown sampling method {method!r}. Choose from grid, random, latin_hypercube")


def configurations(axes: list[Axis], method: Method, samples: int | None = None,
                   seed: int = 0) -> list[tuple[Any, ...]]:
    """The configurations, each a tuple of one value per axis (in axis order): every combination on a grid (the
    first axis varies slowest), or ``samples`` points drawn by ``method``. No axes: one empty configuration."""
    if method == "grid":
        return list(itertools.product(*(axis.grid() for axis in axes)))
    if samples is None or samples < 1:
        raise ValueError(f"{method} sampling needs samples >= 1, got {samples}")
    points = unit_samples(method, samples, len(axes), seed)
    return [tuple(axis.at(float(u)) for axis, u in zip(axes, row)) for row in points]
