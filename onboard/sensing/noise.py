"""Procedural noise in world coordinates: integer hashes and fractal value-noise fields.

The synthetic world (:mod:`onboard.sensing.world`) evaluates its fields in world coordinates, the UTM coordinates of each
point in its own zone (north-hemisphere convention, :func:`world_axes`), so a field depends only on (place, time,
seed): footprints that share pixels get bit-identical values there, whatever their extent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .projection import FALSE_NORTHING_SOUTH_M, UPS_ZONE, GridFootprint

_MASK64 = (1 << 64) - 1


def mix(*values: int) -> int:
    """A 64-bit key from a sequence of integers (splitmix64 steps)."""
    h = 0x243F6A8885A308D3
    for value in values:
        h = ((h ^ (value & _MASK64)) + 0x9E3779B97F4A7C15) & _MASK64
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _MASK64
        h ^= h >> 31
    return h


def hash01(key: int, a: np.ndarray, b: np.ndarray, draws: int = 1) -> Any:
    """Uniform float32 draws in [0, 1) for each pair of broadcastable int64 arrays ``a``, ``b``: a pure function of
    them. One array, or a tuple of ``draws`` (at most 2) independent arrays."""
    h = (np.asarray(a, dtype=np.int64).view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ (
        np.asarray(b, dtype=np.int64).view(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)) ^ np.uint64(key)
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    units = [((h >> np.uint64(40 - 24 * k)) & np.uint64(0xFFFFFF)).astype(np.float32) * np.float32(2.0**-24)
             for k in range(draws)]
    return units[0] if draws == 1 else tuple(units)


def unit(key: int, k: int) -> float:
    """A uniform float in [0, 1) from a key and an index."""
    return (mix(key, k) >> 11) / 2.0**53


def _cubic_taps(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Catmull-Rom taps at lattice positions ``p`` (n,): first of 4 node indices (n,) int64, weights (n, 4) float32."""
    i = np.floor(p)
    f = (p - i).astype(np.float32)
    f2 = f * f
    f3 = f2 * f
    weights = np.empty((p.size, 4), dtype=np.float32)
    weights[:, 0] = (-f3 + 2 * f2 - f) / 2
    weights[:, 1] = (3 * f3 - 5 * f2 + 2) / 2
    weights[:, 2] = (-3 * f3 + 4 * f2 + f) / 2
    weights[:, 3] = (f3 - f2) / 2
    return i.astype(np.int64) - 1, weights


# Mean over positions of the sum of squared 2-D Catmull-Rom weights: variance of interpolated i.i.d. unit noise.
_CUBIC_VARIANCE = float(np.mean(np.sum(_cubic_taps(np.arange(4096) / 4096)[1].astype(np.float64) ** 2, axis=1))) ** 2
_FOUR = np.arange(4)


def _interpolate(grid: np.ndarray, taps_u: tuple[np.ndarray, np.ndarray], taps_v: tuple[np.ndarray, np.ndarray],
                 first_u: int, first_v: int) -> np.ndarray:
    """Separable cubic interpolation of ``grid`` (rows = v nodes from ``first_v``, cols = u nodes from ``first_u``).

    Each output value is a fixed-order sum over its own 4 x 4 nodes, so it does not depend on the grid's extent.
    """
    (iu, wu), (iv, wv) = taps_u, taps_v
    along_u = np.einsum("mwk,wk->mw", grid[:, (iu - first_u)[:, None] + _FOUR], wu)
    return np.einsum("hkw,hk->hw", along_u[(iv - first_v)[:, None] + _FOUR], wv)


def sample_lattice(nodes: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """(H, W) float32 Catmull-Rom interpolation of ``nodes`` (R, C) at fractional node positions ``rows`` (H,) and
    ``cols`` (W,), each in [1, R - 2) and [1, C - 2) so that all four taps lie on the lattice. Only the requested
    points are computed, however far apart the nodes are in pixels (a lattice of kilometre cells under a camera of
    centimetre pixels). ValueError for a position whose taps fall off the lattice."""
    taps_v, taps_u = _cubic_taps(np.asarray(rows, np.float64)), _cubic_taps(np.asarray(cols, np.float64))
    for (first, _), size, what in ((taps_v, nodes.shape[0], "rows"), (taps_u, nodes.shape[1], "cols")):
        if first.size and (first.min() < 0 or first.max() + 4 > size):
            raise ValueError(f"{what}: positions need nodes {first.min()}..{first.max() + 3} of a lattice of {size}")
    return _interpolate(nodes, taps_u, taps_v, 0, 0)


@dataclass(frozen=True)
class Fractal:
    """A sum of value-noise octaves in world metres, normalised to zero mean and unit variance.

    Octave k has lattice spacing ``wavelengths_m[k]`` (times ``stretch_u`` along u), a random phase, and drifts at
    ``drift_m_s[k]``. Coarser octaves are sampled at the nodes of the next finer one and added there, so only the
    finest lattice is interpolated at every pixel; each node's value depends on its global index only.
    """

    key: int
    wavelengths_m: tuple[float, ...]  # coarse to fine
    amplitudes: tuple[float, ...]
    phases: np.ndarray  # (K, 2) in lattice cells
    drift_m_s: np.ndarray  # (K, 2) (u, v) velocity
    stretch_u: float = 1.0

    def evaluate(self, zone: int, u_m: np.ndarray, v_m: np.ndarray, t_s: float, min_wavelength_m: float) -> np.ndarray:
        """(H, W) float32 field at the grid of world coordinates ``u_m`` (W,) x ``v_m`` (H,), time ``t_s``.

        Octaves finer than ``min_wavelength_m`` are left out (the coarsest is always kept).
        """
        used = [k for k, w in enumerate(self.wavelengths_m) if w >= min_wavelength_m] or [0]
        levels = []
        qu, qv = u_m, v_m
        for k in reversed(used):  # fine to coarse: which nodes each level needs
            su, sv = self.wavelengths_m[k] * self.stretch_u, self.wavelengths_m[k]
            du, dv = self.drift_m_s[k] * t_s
            taps_u = _cubic_taps((qu - du) / su - self.phases[k, 0])
            taps_v = _cubic_taps((qv - dv) / sv - self.phases[k, 1])
            nodes_u = np.arange(taps_u[0].min(), taps_u[0].max() + 4)
            nodes_v = np.arange(taps_v[0].min(), taps_v[0].max() + 4)
            levels.append((k, taps_u, taps_v, nodes_u, nodes_v))
            qu = (nodes_u + self.phases[k, 0]) * su + du
            qv = (nodes_v + self.phases[k, 1]) * sv + dv
        grid = None
        for level, (k, _, _, nodes_u, nodes_v) in reversed(list(enumerate(levels))):  # coarse to fine: node values
            fresh = (hash01(mix(self.key, zone, k), nodes_u[None, :], nodes_v[:, None]) * 2 - 1) * self.amplitudes[k]
            if grid is not None:
                _, coarse_u, coarse_v, coarse_nodes_u, coarse_nodes_v = levels[level + 1]
                fresh += _interpolate(grid, coarse_u, coarse_v, coarse_nodes_u[0], coarse_nodes_v[0])
            grid = fresh
        _, taps_u, taps_v, nodes_u, nodes_v = levels[0]
        sigma = math.sqrt(sum(self.amplitudes[k] ** 2 for k in used) / 3.0 * _CUBIC_VARIANCE)
        return _interpolate(grid, taps_u, taps_v, nodes_u[0], nodes_v[0]) * np.float32(1.0 / sigma)

    def resolved_share(self, min_wavelength_m: float) -> float:
        """Standard deviation of the field seen by pixels of ``min_wavelength_m / 2``, relative to the full field's
        (1 where every octave is resolved). The octaves ``evaluate`` leaves out average away inside a pixel; where
        even the coarsest is finer than ``min_wavelength_m``, its variance falls as the pixel area it averages
        over grows, (wavelength / min_wavelength_m)^2. Multiply ``evaluate``'s unit-variance field by it for a
        texture whose contrast is set at full resolution."""
        power = [a * a for a in self.amplitudes]
        kept = sum(p for w, p in zip(self.wavelengths_m, power) if w >= min_wavelength_m)
        if kept == 0.0:
            kept = power[0] * (self.wavelengths_m[0] / min_wavelength_m) ** 2
        return math.sqrt(kept / sum(power))


def fractal(seed: int, name: str, octaves: Sequence[tuple[float, float]], wind_m_s: tuple[float, float] = (0.0, 0.0),
            stretch_u: float = 1.0) -> Fractal:
    """A :class:`Fractal` with (wavelength_m, amplitude) ``octaves``; each drifts within ~5 % of ``wind_m_s``."""
    key = mix(seed, *name.encode())
    rng = np.random.default_rng(key)
    speed = math.hypot(*wind_m_s)
    drift = np.asarray(wind_m_s, dtype=np.float64) * (1.0 + 0.05 * rng.standard_normal((len(octaves), 1)))
    drift += 0.05 * speed * rng.standard_normal((len(octaves), 2))
    return Fractal(key, tuple(w for w, _ in octaves), tuple(a for _, a in octaves), rng.random((len(octaves), 2)),
                   drift, stretch_u)


def ladder(coarsest_m: float, finest_m: float, gain: float, amplitude: float = 1.0) -> list[tuple[float, float]]:
    """Octaves halving in wavelength from ``coarsest_m`` to ``finest_m``, amplitude times ``gain`` each step."""
    n = int(math.floor(math.log2(coarsest_m / finest_m))) + 1
    return [(coarsest_m / 2**k, amplitude * gain**k) for k in range(n)]


def world_axes(footprint: GridFootprint) -> tuple[np.ndarray, np.ndarray]:
    """World coordinates of a footprint in a UTM zone: u = easting (W,), v = northing (H,) with no false northing.

    ValueError for a UPS footprint: world coordinates are UTM, and :meth:`~onboard.sensing.world.SyntheticWorld.render`
    resamples a UPS footprint from the UTM zones it covers (the UPS false northing is not the UTM one)."""
    if footprint.zone == UPS_ZONE:
        raise ValueError(f"world coordinates are UTM; EPSG:{footprint.epsg} is UPS and must be resampled from UTM")
    u, v = footprint.pixel_centres_m()
    return u, (v - FALSE_NORTHING_SOUTH_M if footprint.south else v)
