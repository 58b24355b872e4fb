"""The sun as seen from the Earth: its direction, elevation and azimuth at ground points, and Earth's shadow.

Simulation time ``t_s`` is float seconds since a timezone-aware ``start_utc``, counted without leap seconds.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from ..constants import DAY_S, JD_J2000, WGS84_A_KM
from .frames import dot, enu_basis, gmst_rad, julian_date


def sun_equatorial(jd: float, fr: np.ndarray) -> np.ndarray:
    """Sun direction (..., 3), unit, equator and equinox of date; Astronomical Almanac low precision (~0.01 deg)."""
    n = jd - JD_J2000 + fr
    mean_longitude = np.radians(280.460 + 0.9856474 * n)
    mean_anomaly = np.radians(357.528 + 0.9856003 * n)
    ecliptic_longitude = mean_longitude + np.radians(1.915 * np.sin(mean_anomaly) + 0.020 * np.sin(2 * mean_anomaly))
    obliquity = np.radians(23.439 - 4.0e-7 * n)
    sin_lon = np.sin(ecliptic_longitude)
    return np.stack((np.cos(ecliptic_longitude), np.cos(obliquity) * sin_lon, np.sin(obliquity) * sin_lon), axis=-1)


def sun_direction_ecef(start_utc: datetime, t_s: np.ndarray) -> np.ndarray:
    """(*t_s.shape, 3) unit Earth-fixed vectors towards the sun at ``t_s``, s since ``start_utc`` (~0.01 deg)."""
    jd, fr = julian_date(start_utc)
    fr_t = fr + np.asarray(t_s, dtype=float) / DAY_S
    sun = sun_equatorial(jd, fr_t)
    gmst = gmst_rad(jd, fr_t)
    c, s = np.cos(gmst), np.sin(gmst)
    return np.stack((c * sun[..., 0] + s * sun[..., 1], -s * sun[..., 0] + c * sun[..., 1], sun[..., 2]), axis=-1)


def sun_elevation_deg(lat_deg: np.ndarray, lon_deg: np.ndarray, start_utc: datetime, t_s: np.ndarray) -> np.ndarray:
    """Geometric sun elevation (no refraction), deg, at ground points at ``t_s``, s; arguments broadcast together."""
    _, _, up = enu_basis(lat_deg, lon_deg)
    return np.degrees(np.arcsin(np.clip(dot(up, sun_direction_ecef(start_utc, t_s)), -1.0, 1.0)))


def sun_azimuth_deg(lat_deg: np.ndarray, lon_deg: np.ndarray, start_utc: datetime, t_s: np.ndarray) -> np.ndarray:
    """Sun azimuth, deg in [0, 360) clockwise from north, at ground points at ``t_s``, s; arguments broadcast."""
    east, north, _ = enu_basis(lat_deg, lon_deg)
    sun = sun_direction_ecef(start_utc, t_s)
    return np.degrees(np.arctan2(dot(east, sun), dot(north, sun))) % 360.0


def sunlit(r_ecef_km: np.ndarray, sun_dir_ecef: np.ndarray) -> np.ndarray:
    """Boolean (...): positions (..., 3), km, outside Earth's cylindrical shadow for unit sun vectors (..., 3)."""
    along_km = dot(r_ecef_km, sun_dir_ecef)
    across2_km2 = dot(r_ecef_km, r_ecef_km) - along_km**2
    return (along_km > 0.0) | (across2_km2 > WGS84_A_KM**2)
