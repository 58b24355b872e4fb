"""Ephemerides: SGP4 (the ``sgp4`` package, vectorised over satellites with ``SatrecArray``) propagated to
Earth-fixed positions and ground-relative velocities at any times of a run.

Simulation time ``t_s`` is float seconds since a timezone-aware ``start_utc``, counted without leap seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

import numpy as np
from sgp4.api import SGP4_ERRORS, Satrec, SatrecArray

from rundir.errors import OrbitEdgeError

from ..constants import DAY_S
from .frames import dot, ellipsoid_radius_km, gmst_rad, julian_date, teme_to_ecef


CHUNK_STATES = 1 << 18  # satellite-times :meth:`Ephemeris.over_time` propagates at once: 6 MB an (S, Tc, 3) array


class PropagationError(OrbitEdgeError):
    """SGP4 could not propagate a satellite (decayed or invalid elements) at time ``t_s``."""

    def __init__(self, satellite_index: int, t_s: float, code: int):
        self.satellite_index = satellite_index
        self.t_s = t_s
        self.code = code
        super().__init__(f"satellite #{satellite_index}: SGP4 error {code} at t = {t_s:.1f} s: {SGP4_ERRORS[code]}")


class Ephemeris:
    """Earth-fixed positions and velocities of S satellites at any times since ``start_utc``."""

    def __init__(self, satrecs: list[Satrec], start_utc: datetime):
        if not satrecs:
            raise ValueError("an ephemeris needs at least one satellite")
        self.satrecs = tuple(satrecs)
        self.start_utc = start_utc
        self._jd, self._fr = julian_date(start_utc)
        self._array = SatrecArray(list(satrecs))

    def __len__(self) -> int:
        return len(self.satrecs)

    def _check(self, error: np.ndarray, satellite_index: np.ndarray, t_s: np.ndarray) -> None:
        """Raise PropagationError for the first nonzero SGP4 error code; arguments broadcast together."""
        if error.any():
            i = np.flatnonzero(error)[0]
            satellite_index, t_s = (np.broadcast_to(a, error.shape).ravel() for a in (satellite_index, t_s))
            raise PropagationError(int(satellite_index[i]), float(t_s[i]), int(error.ravel()[i]))

    def state_ecef(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions, km, and ground-relative velocities, km/s, both (S, T, 3), at times ``t_s`` (T,), s."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        if t.ndim != 1:
            raise ValueError(f"t_s must be a scalar or 1-D, found shape {t.shape}")
        fr = self._fr + t / DAY_S
        error, r, v = self._array.sgp4(np.full_like(fr, self._jd), fr)
        self._check(error, np.arange(len(self))[:, None], t[None, :])
        return teme_to_ecef(r, v, gmst_rad(self._jd, fr)[None, :])

    def over_time(self, t_s: np.ndarray, fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
                  ) -> np.ndarray:
        """``fn(r, v, t)`` of the positions, km, and ground-relative velocities, km/s, (S, Tc, 3) of every satellite
        at consecutive chunks ``t`` (Tc,) of ``t_s`` (T,), s, joined along axis 1 into (S, T, ...). For an ``fn``
        that works time by time (each output column depends on its own time only), the same values as ``fn`` of
        :meth:`state_ecef` at all times at once, with at most :data:`CHUNK_STATES` satellite-times propagated at a
        time: memory stays flat in the number of satellites and the length of the run."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        chunk = max(1, CHUNK_STATES // len(self))
        return np.concatenate([fn(*self.state_ecef(t[a:a + chunk]), t[a:a + chunk])
                               for a in range(0, t.size, chunk)], axis=1)

    def ecef_km(self, t_s: np.ndarray) -> np.ndarray:
        """(S, T, 3) Earth-fixed positions (TEME rotated by GMST), km, at times ``t_s`` (T,), s."""
        return self.state_ecef(t_s)[0]

    def state_ecef_paired(self, satellite_index: np.ndarray, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions, km, and ground-relative velocities, km/s, (N, 3), of satellite ``satellite_index[n]`` at
        ``t_s[n]``, s: one time per satellite entry, not every satellite at every time."""
        index = np.asarray(satellite_index, dtype=int)
        order = np.argsort(index, kind="stable")
        t = np.asarray(t_s, dtype=float)[order]
        fr = self._fr + t / DAY_S
        jd = np.full_like(fr, self._jd)
        r = np.empty(t.shape + (3,))
        v = np.empty(t.shape + (3,))
        bounds = np.searchsorted(index[order], np.arange(len(self) + 1))
        for s, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            if b > a:
                error, r[a:b], v[a:b] = self.satrecs[s].sgp4_array(jd[a:b], fr[a:b])
                self._check(error, s, t[a:b])
        r, v = teme_to_ecef(r, v, gmst_rad(self._jd, fr))
        unsorted_r, unsorted_v = np.empty_like(r), np.empty_like(v)
        unsorted_r[order], unsorted_v[order] = r, v
        return unsorted_r, unsorted_v


def ground_speed_km_s(ephemeris: Ephemeris, t_s: np.ndarray) -> np.ndarray:
    """(S, T) speed of the (geocentric) sub-satellite point over the rotating Earth's surface, km/s, at ``t_s``."""
    r, v = ephemeris.state_ecef(t_s)
    r_norm = np.linalg.norm(r, axis=-1)
    radial = dot(v, r) / r_norm
    horizontal = np.sqrt(np.maximum(dot(v, v) - radial**2, 0.0))
    return horizontal * ellipsoid_radius_km(r) / r_norm


def time_grid_s(duration_s: float, step_s: float) -> np.ndarray:
    """Times 0..duration_s inclusive, evenly spaced no further apart than ``step_s``, s."""
    if duration_s <= 0.0 or step_s <= 0.0:
        raise ValueError(f"duration_s and step_s must be positive, found {duration_s} and {step_s}")
    return np.linspace(0.0, duration_s, max(2, math.ceil(duration_s / step_s) + 1))
