"""Passes: contact windows of satellites over ground stations, and closest approaches of ground tracks to
ground targets, found on an ephemeris sampled in time and refined by bisection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, NamedTuple

import numpy as np

from ..constants import WGS84_B_KM
from .ephemeris import Ephemeris, time_grid_s
from .frames import dot, ecef_from_geodetic, enu_basis, unit_vectors


_TOLERANCE_S = 0.02  # bisection stops when every bracket is narrower than this: roots within 0.01 s


@dataclass(frozen=True)
class GroundStation:
    """A ground antenna: WGS84 position and the elevation mask below which it cannot track."""

    name: str
    lat_deg: float
    lon_deg: float
    alt_m: float
    min_elevation_deg: float

    @property
    def ecef_km(self) -> np.ndarray:
        """(3,) float64 Earth-fixed position, km."""
        return ecef_from_geodetic(self.lat_deg, self.lon_deg, self.alt_m / 1000.0)


@dataclass(frozen=True)
class ContactWindow:
    """One pass of a satellite above a station's elevation mask, times in s since ``start_utc``."""

    satellite: str
    station: str
    aos_t_s: float
    los_t_s: float
    max_elevation_deg: float
    tca_t_s: float

    @property
    def duration_s(self) -> float:
        """Time from acquisition to loss of signal, s."""
        return self.los_t_s - self.aos_t_s


class ClosestApproach(NamedTuple):
    """The moment a satellite's ground track passes closest to a ground target.

    ``cross_track_km`` is the ground distance from the track to the target, positive when the target lies right of
    the track (looking along the motion). ``off_nadir_deg`` is the angle at the satellite between (geocentric) nadir
    and the target. ``along_track_unit_enu`` is the direction of the track, carried across to the target, as a unit
    (east, north) vector in the target's local horizon: the way a footprint pointed at the target moves.
    """

    satellite: str
    t_s: float
    cross_track_km: float
    off_nadir_deg: float
    along_track_unit_enu: tuple[float, float]


def _bisect(lo_s: np.ndarray, hi_s: np.ndarray, root_after: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Roots bracketed by [lo_s, hi_s] (N,), s, to ``_TOLERANCE_S``; ``root_after(t)`` says where the root is > t."""
    lo, hi = lo_s.copy(), hi_s.copy()
    while lo.size and (hi - lo).max() > _TOLERANCE_S:
        mid = 0.5 * (lo + hi)
        after = root_after(mid)
        lo = np.where(after, mid, lo)
        hi = np.where(after, hi, mid)
    return 0.5 * (lo + hi)


def _windows_from_events(
    pair: np.ndarray, t_s: np.ndarray, in_view_first: np.ndarray, in_view_last: np.ndarray, end_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair, AOS and LOS (W,), sorted by (pair, AOS), from refined mask crossings (N,), adding a rise at 0 for the
    pairs in view at the start (P,) and a set at ``end_s`` for those in view at the end (P,)."""
    start_pair, end_pair = np.flatnonzero(in_view_first), np.flatnonzero(in_view_last)
    event_pair = np.concatenate((pair, start_pair, end_pair))
    event_t = np.concatenate((t_s, np.zeros(start_pair.size), np.full(end_pair.size, end_s)))
    order = np.lexsort((event_t, event_pair))  # per pair, events alternate rise, set, rise, ...
    return event_pair[order][0::2], event_t[order][0::2], event_t[order][1::2]


def _best_in_windows(
    window_pair: np.ndarray, aos_s: np.ndarray, los_s: np.ndarray,
    cand_pair: np.ndarray, cand_t_s: np.ndarray, cand_value: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Time and value (W,) of the highest candidate (N,) inside each window (W,); windows sorted by (pair, AOS),
    each holding at least one candidate."""
    if not aos_s.size:
        return aos_s, aos_s
    span_s = max(float(los_s.max()), float(cand_t_s.max())) + 1.0
    cand_key = cand_pair * span_s + cand_t_s
    window = np.searchsorted(window_pair * span_s + aos_s, cand_key, side="right") - 1
    inside = (window >= 0) & (cand_key <= (window_pair * span_s + los_s)[np.maximum(window, 0)])
    window, t_s, value = window[inside], cand_t_s[inside], cand_value[inside]
    order = np.lexsort((value, window))
    last = order[np.flatnonzero(np.append(window[order][1:] != window[order][:-1], True))]
    return t_s[last], value[last]


class _StationPairs:
    """Every satellite-station pair of an ephemeris and G stations, pair p = satellite * G + station: the margin of
    the satellite's elevation above the station's mask, and whether the elevation rises."""

    def __init__(self, ephemeris: Ephemeris, stations: list[GroundStation]):
        self.ephemeris = ephemeris
        self.n_stations = len(stations)
        self.station_km = np.array([s.ecef_km for s in stations]).reshape(self.n_stations, 3)
        self.station_up = np.array([enu_basis(s.lat_deg, s.lon_deg)[2] for s in stations]).reshape(self.n_stations, 3)
        self.sin_mask = np.sin(np.radians([s.min_elevation_deg for s in stations]))

    def margin_and_rising(self, pair: np.ndarray, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """sin(elevation) - sin(mask), positive while in view, and whether elevation increases; each (N,)."""
        r, v = self.ephemeris.state_ecef_paired(pair // self.n_stations, t_s)
        station = pair % self.n_stations
        d, up = r - self.station_km[station], self.station_up[station]
        d_up, d_d = dot(d, up), dot(d, d)
        return d_up / np.sqrt(d_d) - self.sin_mask[station], dot(v, up) * d_d - d_up * dot(d, v) > 0.0

    def refine(
        self, pair: np.ndarray, lo: np.ndarray, hi: np.ndarray, is_peak: np.ndarray, is_rise: np.ndarray
    ) -> np.ndarray:
        """Bisect brackets (N,): elevation maxima where ``is_peak``, else rising or setting mask crossings."""
        def root_after(t_s: np.ndarray) -> np.ndarray:
            margin, rising = self.margin_and_rising(pair, t_s)
            return np.where(is_peak, rising, (margin >= 0.0) != is_rise)
        return _bisect(lo, hi, root_after)

    def sample(self, t_grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Margin, range (km) and rising, each (P, T), of every pair at times ``t_grid`` (T,), s, and each
        satellite's top ground-relative speed over them (S,), km/s."""
        station_km, station_up = self.station_km, self.station_up
        r, v = self.ephemeris.state_ecef(t_grid)
        r_t, v_t = r.transpose(0, 2, 1), v.transpose(0, 2, 1)  # (S, 3, T): products with stations come out (S, G, T)
        d_d = dot(r, r)[:, None, :] - 2.0 * station_km @ r_t + dot(station_km, station_km)[:, None]
        d_up = station_up @ r_t - dot(station_km, station_up)[:, None]
        d_v = dot(r, v)[:, None, :] - station_km @ v_t
        range_km = np.sqrt(d_d)
        margin = d_up / range_km - self.sin_mask[:, None]
        rising = (station_up @ v_t) * d_d - d_up * d_v > 0.0
        margin, range_km, rising = (a.reshape(-1, t_grid.size) for a in (margin, range_km, rising))
        return margin, range_km, rising, np.linalg.norm(v, axis=-1).max(axis=1)


def _reachable_peaks(
    n_stations: int, t_grid: np.ndarray, margin: np.ndarray, range_km: np.ndarray, rising: np.ndarray,
    top_speed_km_s: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Pair and sample index k (N,) of each elevation maximum in [t_k, t_k+1] that could reach the mask, from the
    samples (P, T) of ``_StationPairs.sample``."""
    # NOTE: |d sin(elevation)/dt| <= speed / range, so a maximum bracketed by samples further below the mask than
    # that allows within one step cannot be a pass; skipping those halves the work. 10% covers speeds between
    # samples.
    peak_pair, k = np.nonzero(rising[:, :-1] & ~rising[:, 1:])  # elevation peaks in [t_k, t_k+1]
    step = t_grid[1] - t_grid[0]
    top_speed = 1.1 * top_speed_km_s[peak_pair // n_stations]
    near_km = np.minimum(range_km[peak_pair, k], range_km[peak_pair, k + 1]) - top_speed * step
    top_margin = np.maximum(margin[peak_pair, k], margin[peak_pair, k + 1])
    reachable = (near_km <= 0.0) | (top_margin + top_speed * step / np.maximum(near_km, 1e-9) >= 0.0)
    return peak_pair[reachable], k[reachable]


def _peaks_and_crossings(
    pairs: _StationPairs, t_grid: np.ndarray, in_view: np.ndarray, peak_pair: np.ndarray, k: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Elevation maxima bracketed by samples k, k + 1 (N,) and the mask crossings between samples of ``in_view``
    (P, T), all refined together: peak times and margins (N,), crossing pairs and times (C,)."""
    cross_pair, cross_k = np.nonzero(in_view[:, 1:] != in_view[:, :-1])
    n_peaks = peak_pair.size
    roots = pairs.refine(np.concatenate((peak_pair, cross_pair)),
                         np.concatenate((t_grid[k], t_grid[cross_k])),
                         np.concatenate((t_grid[k + 1], t_grid[cross_k + 1])),
                         np.arange(n_peaks + cross_pair.size) < n_peaks,
                         np.concatenate((np.zeros(n_peaks, bool), in_view[cross_pair, cross_k + 1])))
    peak_t, cross_t = roots[:n_peaks], roots[n_peaks:]
    peak_margin, _ = pairs.margin_and_rising(peak_pair, peak_t)
    return peak_t, peak_margin, cross_pair, cross_t


def _missed_passes(
    pairs: _StationPairs, t_grid: np.ndarray, in_view: np.ndarray, peak_pair: np.ndarray, k: np.ndarray,
    peak_t: np.ndarray, peak_margin: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs and refined mask crossings (2M,), rises first, of the M passes that begin and end between two samples
    (a maximum above the mask with neither bracketing sample in view)."""
    missed = (peak_margin >= 0.0) & ~in_view[peak_pair, k] & ~in_view[peak_pair, k + 1]  # a pass between samples
    n_missed = int(missed.sum())
    missed_pair = np.tile(peak_pair[missed], 2)
    missed_t = pairs.refine(missed_pair,
                            np.concatenate((t_grid[k[missed]], peak_t[missed])),
                            np.concatenate((peak_t[missed], t_grid[k[missed] + 1])),
                            np.zeros(2 * n_missed, bool),
                            np.arange(2 * n_missed) < n_missed)
    return missed_pair, missed_t


def contact_windows(
    ephemeris: Ephemeris, names: list[str], stations: list[GroundStation], duration_s: float, step_s: float = 120.0
) -> list[ContactWindow]:
    """Passes of every satellite over every station within [0, duration_s], sorted by AOS.

    Elevation and its rate are sampled every ``step_s`` (s) for all satellite-station pairs at once. Maxima (the
    rate turns negative) that could reach the mask are refined by bisection on the sign of the rate, so that passes
    shorter than ``step_s`` are not missed; mask crossings by bisection on the sign of the margin; all brackets
    together, to 0.01 s. Windows open at 0 or close at ``duration_s`` when a pass is under way there. Assumes at
    most one elevation maximum or minimum per step, true of any LEO orbit at 30 s.
    """
    if len(names) != len(ephemeris):
        raise ValueError(f"{len(names)} names for {len(ephemeris)} satellites")
    pairs = _StationPairs(ephemeris, stations)
    n_stations = pairs.n_stations
    t_grid = time_grid_s(duration_s, step_s)
    margin, range_km, rising, top_speed_km_s = pairs.sample(t_grid)
    in_view = margin >= 0.0  # all (P, T), pair p = satellite * G + station
    peak_pair, k = _reachable_peaks(n_stations, t_grid, margin, range_km, rising, top_speed_km_s)
    peak_t, peak_margin, cross_pair, cross_t = _peaks_and_crossings(pairs, t_grid, in_view, peak_pair, k)
    missed_pair, missed_t = _missed_passes(pairs, t_grid, in_view, peak_pair, k, peak_t, peak_margin)

    window_pair, aos, los = _windows_from_events(
        np.concatenate((cross_pair, missed_pair)), np.concatenate((cross_t, missed_t)),
        in_view[:, 0], in_view[:, -1], t_grid[-1])
    # Every window holds its own AOS and LOS as candidates, so each has a maximum even when clipped.
    all_pairs = np.arange(margin.shape[0])
    tca, best_margin = _best_in_windows(
        window_pair, aos, los,
        np.concatenate((peak_pair, all_pairs, all_pairs, window_pair, window_pair)),
        np.concatenate((peak_t, np.zeros(all_pairs.size), np.full(all_pairs.size, t_grid[-1]), aos, los)),
        np.concatenate((peak_margin, margin[:, 0], margin[:, -1], np.zeros(2 * aos.size))))
    max_el = np.degrees(np.arcsin(np.clip(best_margin + pairs.sin_mask[window_pair % n_stations], -1.0, 1.0)))

    satellite, station = window_pair // n_stations, window_pair % n_stations
    return [
        ContactWindow(names[satellite[i]], stations[station[i]].name, float(aos[i]), float(los[i]),
                      float(max_el[i]), float(tca[i]))
        for i in np.lexsort((station, satellite, aos))
    ]


def _closing(r_km: np.ndarray, v_km_s: np.ndarray, target_unit: np.ndarray) -> np.ndarray:
    """Whether the angle at Earth's centre between positions (..., 3) and a target direction (3,) shrinks, (...):
    the sign of d/dt (r.g / |r|)."""
    return dot(v_km_s, target_unit) * dot(r_km, r_km) - dot(r_km, target_unit) * dot(r_km, v_km_s) > 0.0


def closest_approaches(
    ephemeris: Ephemeris,
    names: list[str],
    target_lat_deg: float,
    target_lon_deg: float,
    duration_s: float,
    step_s: float = 10.0,
) -> list[ClosestApproach]:
    """Times within (0, duration_s) at which each ground track passes closest to a ground target, sorted by time.

    Closest means a local minimum of the angle at Earth's centre between satellite and target (spherical Earth
    through the target's WGS84 surface point), sampled every ``step_s`` (s) and refined by bisection to 0.01 s.
    Only approaches with the target above the satellite's horizon are returned.
    """
    if len(names) != len(ephemeris):
        raise ValueError(f"{len(names)} names for {len(ephemeris)} satellites")
    target_km = ecef_from_geodetic(target_lat_deg, target_lon_deg, 0.0)
    target_r_km = float(np.linalg.norm(target_km))
    target_unit = target_km / target_r_km
    east, north, _ = enu_basis(target_lat_deg, target_lon_deg)

    t_grid = time_grid_s(duration_s, step_s)
    closing = ephemeris.over_time(t_grid, lambda r, v, _: _closing(r, v, target_unit))  # (S, T)
    satellite, k = np.nonzero(closing[:, :-1] & ~closing[:, 1:])  # closest in [t_k, t_k+1]
    t = _bisect(t_grid[k], t_grid[k + 1],
                lambda t_s: _closing(*ephemeris.state_ecef_paired(satellite, t_s), target_unit))
    r, v = ephemeris.state_ecef_paired(satellite, t)
    r_norm = np.linalg.norm(r, axis=-1)
    up = r / r_norm[:, None]
    cos_gamma = np.clip(dot(up, target_unit), -1.0, 1.0)
    visible = cos_gamma > target_r_km / r_norm
    gamma = np.arccos(cos_gamma)
    off_nadir = np.degrees(np.arctan2(target_r_km * np.sin(gamma), r_norm - target_r_km * cos_gamma))
    # At closest approach the target lies in the plane of up and (along x up), so ``along`` is horizontal at the
    # target too: the way a footprint on the target moves.
    along = unit_vectors(v - dot(v, up)[:, None] * up)
    # Measured out of the ground track's great circle, the cross-track distance ignores along-track time errors.
    cross_track_km = target_r_km * np.arcsin(np.clip(dot(np.cross(along, up), target_unit), -1.0, 1.0))
    along_enu = unit_vectors(np.stack((along @ east, along @ north), axis=-1))
    return [
        ClosestApproach(names[satellite[i]], float(t[i]), float(cross_track_km[i]),
                        float(off_nadir[i]), (float(along_enu[i, 0]), float(along_enu[i, 1])))
        for i in np.lexsort((satellite, t)) if visible[i]
    ]


class LatitudeReach(NamedTuple):
    """How far towards a pole a satellite's camera reaches, deg: the highest geocentric latitude of its ground track
    (``track_deg``) and the Earth-central angle a look at the pointing limit reaches beyond it (``beyond_deg``)."""

    track_deg: float
    beyond_deg: float


def latitude_reach(satrec: Any, start_utc: datetime, duration_s: float, max_off_nadir_deg: float) -> LatitudeReach:
    """How far towards a pole ``satrec`` (an ``sgp4.api.Satrec``) reaches with a look ``max_off_nadir_deg`` off
    nadir: the ground track to the inclination (180 deg less it when retrograde), and beyond it the Earth-central
    angle of that look from the highest point of the orbit, so that a target above ``track_deg + beyond_deg``
    (geocentric) never comes within the look of nadir at a closest approach.

    Spherical-Earth viewing geometry (Wertz, Larson, Space Mission Analysis and Design, 3rd ed., eqs. 5-16 to 5-18):
    ``sin rho = R / r``, ``cos eps = sin eta / sin rho``, ``lambda = 90 deg - eta - eps``, and the horizon
    ``90 deg - rho`` for a look past it. An upper bound: the polar radius (the smallest R) and the largest radius SGP4
    gives over one period from ``start_utc``, or over the run's ``duration_s`` when shorter, within which SGP4 is
    known to propagate (sampled every 10 s; 5-12 km above the mean apogee ``a (1 + e)`` with J2's short-period terms,
    worth 0.17 deg near the horizon from 1500 km) give the widest reach."""
    period_s = 2.0 * math.pi / satrec.no_kozai * 60.0  # mean motion, rad/min
    r_km = Ephemeris([satrec], start_utc).over_time(time_grid_s(min(period_s, duration_s), 10.0),
                                                    lambda r, v, t: np.linalg.norm(r, axis=-1))
    sin_rho = WGS84_B_KM / float(r_km.max())
    sin_eta = math.sin(math.radians(max_off_nadir_deg))
    if sin_eta >= sin_rho:
        beyond_deg = 90.0 - math.degrees(math.asin(sin_rho))
    else:
        beyond_deg = 90.0 - max_off_nadir_deg - math.degrees(math.acos(sin_eta / sin_rho))
    inclination_deg = math.degrees(satrec.inclo)
    return LatitudeReach(min(inclination_deg, 180.0 - inclination_deg), beyond_deg)
