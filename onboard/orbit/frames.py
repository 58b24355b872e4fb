"""Earth-fixed frames: Julian dates, Greenwich mean sidereal time, TEME to Earth-fixed, WGS84 geodetic
coordinates and the local horizon (east, north, up).

SGP4 gives TEME positions, which are rotated Earth-fixed by the IAU 1982 Greenwich mean sidereal time, as Vallado
and skyfield do. Polar motion and UT1-UTC are ignored (under 0.5 km on the ground).
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np
from sgp4.api import jday

from ..constants import DAY_S, EARTH_ROTATION_RAD_S, GMST_1982_S, JD_J2000, WGS84_A_KM, WGS84_B_KM, WGS84_E2


def julian_date(time_utc: datetime) -> tuple[float, float]:
    """Whole (ending in .5) and fractional Julian date of a timezone-aware datetime, UTC."""
    if time_utc.tzinfo is None or time_utc.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware UTC datetime, found naive {time_utc.isoformat()}")
    u = time_utc.astimezone(timezone.utc)
    return jday(u.year, u.month, u.day, u.hour, u.minute, u.second + u.microsecond * 1e-6)


def gmst_rad(jd: float, fr: np.ndarray) -> np.ndarray:
    """Greenwich mean sidereal time (IAU 1982, AIAA 2006-6753 appendix C), rad, for Julian date ``jd + fr``."""
    t = (jd - JD_J2000 + fr) / 36525.0
    c0, c1, c2, c3 = GMST_1982_S
    g = c0 + (c1 + (c2 + c3 * t) * t) * t
    return (jd % 1.0 + fr + g / DAY_S % 1.0) % 1.0 * (2.0 * math.pi)


def teme_to_ecef(r_km: np.ndarray, v_km_s: np.ndarray, gmst_rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotate TEME position and velocity (..., 3) Earth-fixed by GMST (...); velocity relative to the ground."""
    c, s = np.cos(gmst_rad), np.sin(gmst_rad)
    r = np.empty(np.broadcast_shapes(r_km.shape, c.shape + (3,)))
    v = np.empty_like(r)
    r[..., 0] = c * r_km[..., 0] + s * r_km[..., 1]
    r[..., 1] = c * r_km[..., 1] - s * r_km[..., 0]
    r[..., 2] = r_km[..., 2]
    v[..., 0] = c * v_km_s[..., 0] + s * v_km_s[..., 1] + EARTH_ROTATION_RAD_S * r[..., 1]
    v[..., 1] = c * v_km_s[..., 1] - s * v_km_s[..., 0] - EARTH_ROTATION_RAD_S * r[..., 0]
    v[..., 2] = v_km_s[..., 2]
    return r, v


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot product over the last axis, with broadcasting."""
    return np.einsum("...i,...i->...", a, b)


def unit_vectors(a: np.ndarray) -> np.ndarray:
    """Vectors (..., 3) scaled to unit length."""
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def ecef_from_geodetic(lat_deg: np.ndarray, lon_deg: np.ndarray, alt_km: np.ndarray) -> np.ndarray:
    """(..., 3) Earth-fixed position, km, of WGS84 geodetic coordinates (broadcast together)."""
    lat, lon = np.radians(lat_deg), np.radians(lon_deg)
    n_km = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * np.sin(lat) ** 2)
    return np.stack(
        ((n_km + alt_km) * np.cos(lat) * np.cos(lon),
         (n_km + alt_km) * np.cos(lat) * np.sin(lon),
         (n_km * (1.0 - WGS84_E2) + alt_km) * np.sin(lat)),
        axis=-1,
    )


def geodetic(r_ecef_km: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """WGS84 (lat_deg, lon_deg in (-180, 180], alt_km) of Earth-fixed positions (..., 3), km; each (...)."""
    r = np.asarray(r_ecef_km, dtype=float)
    x, y, z = r[..., 0], r[..., 1], r[..., 2]
    p = np.hypot(x, y)
    lat = np.arctan2(z, p * (1.0 - WGS84_E2))
    # NOTE: fixed-point iteration on the geodetic latitude converges by a factor ~e2 each step; 5 steps reach 1e-12.
    for _ in range(5):
        n_km = WGS84_A_KM / np.sqrt(1.0 - WGS84_E2 * np.sin(lat) ** 2)
        lat = np.arctan2(z + WGS84_E2 * n_km * np.sin(lat), p)
    alt_km = p * np.cos(lat) + z * np.sin(lat) - WGS84_A_KM * np.sqrt(1.0 - WGS84_E2 * np.sin(lat) ** 2)
    return np.degrees(lat), np.degrees(np.arctan2(y, x)), alt_km


def enu_basis(lat_deg: np.ndarray, lon_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit east, north and up (geodetic normal) vectors (..., 3) in Earth-fixed axes."""
    lat, lon = np.broadcast_arrays(np.radians(lat_deg), np.radians(lon_deg))
    east = np.stack((-np.sin(lon), np.cos(lon), np.zeros_like(lon)), axis=-1)
    north = np.stack((-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)), axis=-1)
    up = np.stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)), axis=-1)
    return east, north, up


def ellipsoid_radius_km(direction: np.ndarray) -> np.ndarray:
    """Distance from Earth's centre to the WGS84 surface along directions (..., 3), km."""
    u = unit_vectors(direction)
    return 1.0 / np.sqrt((u[..., 0] ** 2 + u[..., 1] ** 2) / WGS84_A_KM**2 + u[..., 2] ** 2 / WGS84_B_KM**2)
