"""Satellite orbits: SGP4 ephemerides, Earth-fixed geometry, the sun, ground-station contacts and target passes.

SGP4 (the ``sgp4`` package, vectorised over satellites with ``SatrecArray``) gives TEME positions, which are
rotated Earth-fixed by the IAU 1982 Greenwich mean sidereal time, as Vallado and skyfield do. Polar motion and
UT1-UTC are ignored (under 0.5 km on the ground). Simulation time ``t_s`` is float seconds since a
timezone-aware ``start_utc``, counted without leap seconds.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, NamedTuple, Sequence

import numpy as np
from sgp4.api import SGP4_ERRORS, WGS72, Satrec, SatrecArray, jday
from sgp4.conveniences import sat_epoch_datetime
from sgp4.earth_gravity import wgs72
from sgp4.io import twoline2rv as parse_tle_strictly

from rundir.errors import OrbitEdgeError

from .constants import DAY_S, EARTH_ROTATION_RAD_S, TROPICAL_YEAR_DAYS, WGS84_A_KM, WGS84_B_KM, WGS84_E2

# A sun-synchronous node precesses once per tropical year, rad/s.
SUN_SYNCHRONOUS_NODE_RATE_RAD_S = 2.0 * math.pi / (TROPICAL_YEAR_DAYS * DAY_S)
_JD_J2000 = 2451545.0
_JD_SGP4_EPOCH0 = 2433281.5  # 1949 December 31 00:00 UT, the origin of ``Satrec.sgp4init`` epochs
_TOLERANCE_S = 0.02  # bisection stops when every bracket is narrower than this: roots within 0.01 s

# An element set is stale beyond a week from its epoch. SGP4 with a TLE is good to about 1 km at epoch and its
# error grows, mostly along track, by 1-3 km a day in LEO (Kelso 2007, "Validation of SGP4 and IS-GPS-200D against
# GPS precision ephemerides", AAS 07-127; Vallado & Cefola 2012, "Two-line element sets: practice and use",
# IAC-12-C1.6.12): after 7 days 7-20 km, 1-3 s of pass timing and many frame footprints. Catalogues refresh LEO
# element sets daily, so a fresher one is always at hand.
STALE_EPOCH_DAYS = 7.0
# Below 150 km drag brings a satellite down within about a day (King-Hele 1987, "Satellite Orbits in an
# Atmosphere", Blackie), and SGP4's own density function is fitted above 156 km (Hoots & Roehrich 1980, Spacetrack
# Report #3, which patches its parameter s below that).
MIN_ALTITUDE_KM = 150.0
# The osculating semi-major axis swings about the mean one by J2 short-period terms of at most 0.3 % (Kozai 1959,
# AJ 64:367; 0.28 % was the largest over 3000 random LEO-to-HEO orbits propagated 14 days at 1 min). 2 % (140 km in
# LEO) is far outside that, and a 3 % change of the orbital period: only an element set propagated into re-entry or
# a diverged propagation gets there.
SEMI_MAJOR_AXIS_TOLERANCE = 0.02
PLAUSIBILITY_STEP_S = 60.0  # the orbit is checked every minute: under 1/85 of the shortest (LEO) period


class PropagationError(OrbitEdgeError):
    """SGP4 could not propagate a satellite (decayed or invalid elements) at time ``t_s``."""

    def __init__(self, satellite_index: int, t_s: float, code: int):
        self.satellite_index = satellite_index
        self.t_s = t_s
        self.code = code
        super().__init__(f"satellite #{satellite_index}: SGP4 error {code} at t = {t_s:.1f} s: {SGP4_ERRORS[code]}")


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


def _julian_date(time_utc: datetime) -> tuple[float, float]:
    """Whole (ending in .5) and fractional Julian date of a timezone-aware datetime, UTC."""
    if time_utc.tzinfo is None or time_utc.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware UTC datetime, found naive {time_utc.isoformat()}")
    u = time_utc.astimezone(timezone.utc)
    return jday(u.year, u.month, u.day, u.hour, u.minute, u.second + u.microsecond * 1e-6)


def _gmst_rad(jd: float, fr: np.ndarray) -> np.ndarray:
    """Greenwich mean sidereal time (IAU 1982, AIAA 2006-6753 appendix C), rad, for Julian date ``jd + fr``."""
    t = (jd - _JD_J2000 + fr) / 36525.0
    g = 67310.54841 + (8640184.812866 + (0.093104 - 6.2e-6 * t) * t) * t
    return (jd % 1.0 + fr + g / DAY_S % 1.0) % 1.0 * (2.0 * math.pi)


def _teme_to_ecef(r_km: np.ndarray, v_km_s: np.ndarray, gmst_rad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dot product over the last axis, with broadcasting."""
    return np.einsum("...i,...i->...", a, b)


def _unit(a: np.ndarray) -> np.ndarray:
    """Vectors (..., 3) scaled to unit length."""
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def _tle_checksum(line: str) -> int:
    """Modulo-10 sum of the digits of the first 68 characters, minus signs counting 1."""
    return sum(int(c) if c.isdigit() else c == "-" for c in line[:68]) % 10


def satrec_from_tle(line1: str, line2: str) -> Satrec:
    """SGP4 record (WGS72) from a two-line element set; ValueError naming the line and the problem if it is bad."""
    lines = (line1.rstrip(), line2.rstrip())
    for number, line in enumerate(lines, start=1):
        where = f"TLE line {number} {line!r}"
        if len(line) != 69:
            missing = (f" (if what is missing is column 69, the checksum digit, the line sums to "
                       f"{_tle_checksum(line)})") if len(line) == 68 else ""
            raise ValueError(f"{where}: expected 69 characters, found {len(line)}{missing}")
        if line[0] != str(number):
            raise ValueError(f"{where}: expected line number {number} in column 1, found {line[0]!r}")
        if not line[68].isdigit():
            raise ValueError(f"{where}: expected a checksum digit in column 69, found {line[68]!r}")
        if _tle_checksum(line) != int(line[68]):
            raise ValueError(
                f"{where}: bad checksum: column 69 says {line[68]}, the line sums to {_tle_checksum(line)}")
    if lines[0][2:7] != lines[1][2:7]:
        raise ValueError(
            f"TLE line 2 {lines[1]!r}: catalogue number {lines[1][2:7]!r} differs from line 1's {lines[0][2:7]!r}")
    try:
        year = int(lines[0][18:20])
        day_of_year = float(lines[0][20:32])
    except ValueError:
        raise ValueError(f"TLE line 1 {lines[0]!r}: epoch {lines[0][18:32]!r} is not YYDDD.DDDDDDDD") from None
    year += 2000 if year < 57 else 1900
    days_in_year = 366 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 365
    if not 1.0 <= day_of_year < days_in_year + 1:
        raise ValueError(f"TLE line 1 {lines[0]!r}: epoch day {day_of_year} is outside 1..{days_in_year} of {year}")
    try:
        # NOTE: the C++ parser reads "1X.5" as 1; the Python one checks field by field first.
        parse_tle_strictly(*lines, wgs72)
        satrec = Satrec.twoline2rv(*lines, WGS72)
    except ValueError as err:
        raise ValueError(f"TLE {lines[0]!r} / {lines[1]!r}: {err}") from None
    if satrec.error:
        raise ValueError(f"TLE line 2 {lines[1]!r}: elements rejected by SGP4: {SGP4_ERRORS[satrec.error]}")
    return satrec


class ElementSet(NamedTuple):
    """A TLE as catalogues publish it: the two element lines and, in a three-line set, the title (line 0)."""

    title: str | None
    line1: str
    line2: str

    def satrec(self) -> Satrec:
        """The SGP4 record (WGS72); ValueError as ``satrec_from_tle``."""
        return satrec_from_tle(self.line1, self.line2)


_ELEMENT_LINE = re.compile(r"[12] .{67}")
# NOTE: YAML folds the line breaks of a plain scalar written over several lines (and of a `--set tle=$(cat f)`)
# into single spaces; element lines have fixed widths, so the two lines are the last 2 x 69 characters.
_FOLDED = re.compile(r"(?:(.*?) )?(1 .{67}) (2 .{67})")


def element_set(text: str | Sequence[str]) -> ElementSet:
    """Parse a TLE given as a list of lines or as one text block (``tle: |`` in YAML), two or three lines.

    Blank lines, line ends (LF or CRLF) and the whitespace around each line are dropped; list items are split at
    line ends too. A single line holding the element lines joined by a space (YAML folds a plain scalar written over
    several lines so), after a title or not, is split back into them. With three lines the first is the title (line 0),
    with or without the ``0 `` that CelesTrak's and Space-Track's 3LE files put before it; an empty title is None.
    The element lines themselves are checked by ``satrec_from_tle``. ValueError for another number of lines, or a
    first line of three that is an element line rather than a title.
    """
    joined = text if isinstance(text, str) else "\n".join(text)  # NOTE: a list item may hold several lines too
    lines = [line.strip() for line in joined.splitlines() if line.strip()]
    folded = _FOLDED.fullmatch(lines[0]) if len(lines) == 1 else None
    if folded:
        lines = [line for line in folded.groups() if line is not None]
    if len(lines) == 2:
        return ElementSet(None, *lines)
    if len(lines) != 3:
        raise ValueError(f"{len(lines)} non-blank line(s): expected 2 TLE lines, or 3 with the title (line 0) first")
    if _ELEMENT_LINE.fullmatch(lines[0]):
        raise ValueError(f"line 0 {lines[0]!r} is an element line, not a title: expected 2 TLE lines, or 3 with the "
                         "title (line 0) first")
    title = lines[0][2:] if lines[0].startswith("0 ") or lines[0] == "0" else lines[0]
    return ElementSet(title.strip() or None, lines[1], lines[2])


def tle_epoch_utc(satrec: Satrec) -> datetime:
    """The epoch of an SGP4 record, a timezone-aware UTC datetime (sgp4's own conversion)."""
    return sat_epoch_datetime(satrec)


def epoch_offset_days(satrec: Satrec, start_utc: datetime, duration_s: float) -> float:
    """Signed days from the epoch to the time in [start, start + duration_s] furthest from it: positive when the
    run lies after the epoch, negative when it lies before. Compare its magnitude with ``STALE_EPOCH_DAYS``."""
    epoch = tle_epoch_utc(satrec)
    ends = [(start_utc + timedelta(seconds=t_s) - epoch).total_seconds() / DAY_S for t_s in (0.0, duration_s)]
    return max(ends, key=abs)


def implausible_orbit(satrec: Satrec, start_utc: datetime, duration_s: float,
                      step_s: float = PLAUSIBILITY_STEP_S) -> tuple[float, str] | None:
    """The first time, s since ``start_utc``, and what is wrong there, when SGP4's state is not an orbit; else None.

    The state is sampled every ``step_s`` (s) over [0, duration_s] and refused at the first sample with an SGP4 error
    code, a position that is not finite, a WGS84 altitude below ``MIN_ALTITUDE_KM``, an osculating perigee below it
    when the run passes that perigee before the next sample (radius a(1 - e) from the state vector, less the WGS84
    equatorial radius, at a sample whose radial velocity is negative and the next one's is not: a dip between
    samples is seen too), or
    an osculating semi-major axis (vis-viva) more than ``SEMI_MAJOR_AXIS_TOLERANCE`` from the one Kepler's third law
    gives for the element set's mean motion. Both use WGS72's mu, as SGP4 does (Vallado et al. 2006, AIAA 2006-6753).
    The description lists every test that sample fails.
    """
    t_s = _time_grid_s(duration_s, step_s)
    jd, fr = _julian_date(start_utc)
    error, r_km, v_km_s = satrec.sgp4_array(np.full(t_s.shape, jd), fr + t_s / DAY_S)
    finite = np.isfinite(r_km).all(axis=-1) & np.isfinite(v_km_s).all(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN rows (error codes) compare False below
        altitude_km = geodetic(r_km)[2]
        r_norm = np.linalg.norm(r_km, axis=-1)
        inverse_a = 2.0 / r_norm - _dot(v_km_s, v_km_s) / wgs72.mu  # 1/km, vis-viva; <= 0: unbound
        a_km = np.where(inverse_a > 0.0, 1.0 / inverse_a, np.inf)
        e_vector = ((_dot(v_km_s, v_km_s) - wgs72.mu / r_norm)[:, None] * r_km
                    - _dot(r_km, v_km_s)[:, None] * v_km_s) / wgs72.mu
        perigee_km = a_km * (1.0 - np.linalg.norm(e_vector, axis=-1)) - WGS84_A_KM
    mean_a_km = (wgs72.mu / (satrec.no_kozai / 60.0) ** 2) ** (1.0 / 3.0)
    a_off = finite & (np.abs(a_km - mean_a_km) > SEMI_MAJOR_AXIS_TOLERANCE * mean_a_km)
    low = altitude_km < MIN_ALTITUDE_KM
    # NOTE: a perigee counts where the run passes it, between a sample falling and the next rising: a very eccentric
    # orbit's osculating perigee strays far from the mean one (WIND, e 0.97: -4106 km a day from its perigee).
    radial_km2_s = _dot(r_km, v_km_s)
    passes_perigee = np.append((radial_km2_s[:-1] < 0.0) & (radial_km2_s[1:] >= 0.0), False)
    low_perigee = ~a_off & passes_perigee & (perigee_km < MIN_ALTITUDE_KM)
    bad = (error != 0) | ~finite | low | low_perigee | a_off
    if not bad.any():
        return None
    k = int(np.flatnonzero(bad)[0])
    if error[k]:
        return float(t_s[k]), f"SGP4 error {error[k]}: {SGP4_ERRORS[int(error[k])]}"
    if not finite[k]:
        return float(t_s[k]), "SGP4 gave a position that is not a number"
    found = []
    if low[k]:
        found.append(f"altitude {altitude_km[k]:.1f} km, below the {MIN_ALTITUDE_KM:g} km floor")
    elif low_perigee[k]:
        found.append(f"osculating perigee {perigee_km[k]:.1f} km above the equator's radius, below the "
                     f"{MIN_ALTITUDE_KM:g} km floor")
    if a_off[k]:
        a_text = f"{a_km[k]:.6g} km" if np.isfinite(a_km[k]) else "unbound (hyperbolic)"
        found.append(f"semi-major axis {a_text}, not within {SEMI_MAJOR_AXIS_TOLERANCE:.0%} of the "
                     f"{mean_a_km:.0f} km its mean motion of {satrec.no_kozai * 1440.0 / (2.0 * math.pi):.8g} "
                     "rev/day implies")
    return float(t_s[k]), "; ".join(found)


def _semi_major_axis_km(altitude_km: float) -> float:
    """Semi-major axis for a mean altitude above the WGS72 equatorial radius, km."""
    return wgs72.radiusearthkm + altitude_km


def _mean_motion_rad_s(semi_major_axis_km: float) -> float:
    """Keplerian mean motion with the WGS72 gravitational parameter, rad/s."""
    return math.sqrt(wgs72.mu / semi_major_axis_km**3)


def sun_synchronous_inclination_deg(altitude_km: float, eccentricity: float = 0.0) -> float:
    """Inclination whose J2 nodal precession follows the mean sun (one turn per tropical year), deg.

    ``altitude_km`` is the semi-major axis less the WGS72 equatorial radius. ValueError above ~5970 km, where no
    sun-synchronous orbit exists.
    """
    a_km = _semi_major_axis_km(altitude_km)
    p_km = a_km * (1.0 - eccentricity**2)
    node_rate_per_cos_i = -1.5 * _mean_motion_rad_s(a_km) * wgs72.j2 * (wgs72.radiusearthkm / p_km) ** 2
    cos_i = SUN_SYNCHRONOUS_NODE_RATE_RAD_S / node_rate_per_cos_i
    if not -1.0 <= cos_i <= 1.0:
        raise ValueError(f"no sun-synchronous orbit at altitude {altitude_km} km (J2 precession too slow)")
    return math.degrees(math.acos(cos_i))


def _sun_equatorial(jd: float, fr: np.ndarray) -> np.ndarray:
    """Sun direction (..., 3), unit, equator and equinox of date; Astronomical Almanac low precision (~0.01 deg)."""
    n = jd - _JD_J2000 + fr
    mean_longitude = np.radians(280.460 + 0.9856474 * n)
    mean_anomaly = np.radians(357.528 + 0.9856003 * n)
    ecliptic_longitude = mean_longitude + np.radians(1.915 * np.sin(mean_anomaly) + 0.020 * np.sin(2 * mean_anomaly))
    obliquity = np.radians(23.439 - 4.0e-7 * n)
    sin_lon = np.sin(ecliptic_longitude)
    return np.stack((np.cos(ecliptic_longitude), np.cos(obliquity) * sin_lon, np.sin(obliquity) * sin_lon), axis=-1)


def satrec_from_elements(
    epoch_utc: datetime,
    altitude_km: float,
    inclination_deg: float | None = None,
    sun_synchronous: bool = False,
    raan_deg: float | None = None,
    ltan_h: float | None = None,
    phase_deg: float = 0.0,
    eccentricity: float = 0.0,
) -> Satrec:
    """SGP4 record (WGS72, 'i' mode, no drag) from mean elements at ``epoch_utc``.

    Give ``inclination_deg`` or ``sun_synchronous=True``, and ``raan_deg`` or ``ltan_h`` (local time of the
    ascending node, hours; RAAN = sun's right ascension at epoch + 15 deg/h x (LTAN - 12 h)). ``altitude_km`` is the
    semi-major axis less the WGS72 equatorial radius; mean motion follows from Kepler's third law. ``phase_deg`` is
    the argument of latitude at epoch; perigee is put at the ascending node. ValueError on inconsistent input.
    """
    if (inclination_deg is None) == (not sun_synchronous):
        raise ValueError("give exactly one of inclination_deg and sun_synchronous=True")
    if (raan_deg is None) == (ltan_h is None):
        raise ValueError("give exactly one of raan_deg and ltan_h")
    if not 0.0 <= eccentricity < 1.0:
        raise ValueError(f"eccentricity must be in [0, 1), found {eccentricity}")
    a_km = _semi_major_axis_km(altitude_km)
    if a_km * (1.0 - eccentricity) <= wgs72.radiusearthkm:
        raise ValueError(f"perigee below the surface: altitude_km {altitude_km}, eccentricity {eccentricity}")
    if sun_synchronous:
        inclination_deg = sun_synchronous_inclination_deg(altitude_km, eccentricity)
    if not 0.0 <= inclination_deg <= 180.0:
        raise ValueError(f"inclination_deg must be in [0, 180], found {inclination_deg}")
    jd, fr = _julian_date(epoch_utc)
    if ltan_h is not None:
        if not 0.0 <= ltan_h < 24.0:
            raise ValueError(f"ltan_h must be in [0, 24), found {ltan_h}")
        sun = _sun_equatorial(jd, np.asarray(fr))
        raan_deg = math.degrees(math.atan2(sun[1], sun[0])) + 15.0 * (ltan_h - 12.0)
    true_anomaly = math.radians(phase_deg)
    eccentric_anomaly = math.atan2(math.sqrt(1.0 - eccentricity**2) * math.sin(true_anomaly),
                                   eccentricity + math.cos(true_anomaly))
    mean_anomaly = eccentric_anomaly - eccentricity * math.sin(eccentric_anomaly)
    satrec = Satrec()
    satrec.sgp4init(
        WGS72, "i", 0, (jd - _JD_SGP4_EPOCH0) + fr, 0.0, 0.0, 0.0, eccentricity, 0.0,
        math.radians(inclination_deg), mean_anomaly % (2.0 * math.pi),
        _mean_motion_rad_s(a_km) * 60.0, math.radians(raan_deg % 360.0),
    )
    if satrec.error:
        raise ValueError(f"elements rejected by SGP4: {SGP4_ERRORS[satrec.error]}")
    return satrec


class Ephemeris:
    """Earth-fixed positions and velocities of S satellites at any times since ``start_utc``."""

    def __init__(self, satrecs: list[Satrec], start_utc: datetime):
        if not satrecs:
            raise ValueError("an ephemeris needs at least one satellite")
        self.satrecs = tuple(satrecs)
        self.start_utc = start_utc
        self._jd, self._fr = _julian_date(start_utc)
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
        return _teme_to_ecef(r, v, _gmst_rad(self._jd, fr)[None, :])

    def ecef_km(self, t_s: np.ndarray) -> np.ndarray:
        """(S, T, 3) Earth-fixed positions (TEME rotated by GMST), km, at times ``t_s`` (T,), s."""
        return self.state_ecef(t_s)[0]

    def velocity_ecef_km_s(self, t_s: np.ndarray) -> np.ndarray:
        """(S, T, 3) velocities relative to the rotating Earth, km/s, at times ``t_s`` (T,), s."""
        return self.state_ecef(t_s)[1]

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
        r, v = _teme_to_ecef(r, v, _gmst_rad(self._jd, fr))
        unsorted_r, unsorted_v = np.empty_like(r), np.empty_like(v)
        unsorted_r[order], unsorted_v[order] = r, v
        return unsorted_r, unsorted_v


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


def _enu_basis(lat_deg: np.ndarray, lon_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit east, north and up (geodetic normal) vectors (..., 3) in Earth-fixed axes."""
    lat, lon = np.broadcast_arrays(np.radians(lat_deg), np.radians(lon_deg))
    east = np.stack((-np.sin(lon), np.cos(lon), np.zeros_like(lon)), axis=-1)
    north = np.stack((-np.sin(lat) * np.cos(lon), -np.sin(lat) * np.sin(lon), np.cos(lat)), axis=-1)
    up = np.stack((np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)), axis=-1)
    return east, north, up


def sun_direction_ecef(start_utc: datetime, t_s: np.ndarray) -> np.ndarray:
    """(*t_s.shape, 3) unit Earth-fixed vectors towards the sun at ``t_s``, s since ``start_utc`` (~0.01 deg)."""
    jd, fr = _julian_date(start_utc)
    fr_t = fr + np.asarray(t_s, dtype=float) / DAY_S
    sun = _sun_equatorial(jd, fr_t)
    gmst = _gmst_rad(jd, fr_t)
    c, s = np.cos(gmst), np.sin(gmst)
    return np.stack((c * sun[..., 0] + s * sun[..., 1], -s * sun[..., 0] + c * sun[..., 1], sun[..., 2]), axis=-1)


def sun_elevation_deg(lat_deg: np.ndarray, lon_deg: np.ndarray, start_utc: datetime, t_s: np.ndarray) -> np.ndarray:
    """Geometric sun elevation (no refraction), deg, at ground points at ``t_s``, s; arguments broadcast together."""
    _, _, up = _enu_basis(lat_deg, lon_deg)
    return np.degrees(np.arcsin(np.clip(_dot(up, sun_direction_ecef(start_utc, t_s)), -1.0, 1.0)))


def sun_azimuth_deg(lat_deg: np.ndarray, lon_deg: np.ndarray, start_utc: datetime, t_s: np.ndarray) -> np.ndarray:
    """Sun azimuth, deg in [0, 360) clockwise from north, at ground points at ``t_s``, s; arguments broadcast."""
    east, north, _ = _enu_basis(lat_deg, lon_deg)
    sun = sun_direction_ecef(start_utc, t_s)
    return np.degrees(np.arctan2(_dot(east, sun), _dot(north, sun))) % 360.0


def sunlit(r_ecef_km: np.ndarray, sun_dir_ecef: np.ndarray) -> np.ndarray:
    """Boolean (...): positions (..., 3), km, outside Earth's cylindrical shadow for unit sun vectors (..., 3)."""
    along_km = _dot(r_ecef_km, sun_dir_ecef)
    across2_km2 = _dot(r_ecef_km, r_ecef_km) - along_km**2
    return (along_km > 0.0) | (across2_km2 > WGS84_A_KM**2)


def _ellipsoid_radius_km(direction: np.ndarray) -> np.ndarray:
    """Distance from Earth's centre to the WGS84 surface along directions (..., 3), km."""
    u = _unit(direction)
    return 1.0 / np.sqrt((u[..., 0] ** 2 + u[..., 1] ** 2) / WGS84_A_KM**2 + u[..., 2] ** 2 / WGS84_B_KM**2)


def ground_speed_km_s(ephemeris: Ephemeris, t_s: np.ndarray) -> np.ndarray:
    """(S, T) speed of the (geocentric) sub-satellite point over the rotating Earth's surface, km/s, at ``t_s``."""
    r, v = ephemeris.state_ecef(t_s)
    r_norm = np.linalg.norm(r, axis=-1)
    radial = _dot(v, r) / r_norm
    horizontal = np.sqrt(np.maximum(_dot(v, v) - radial**2, 0.0))
    return horizontal * _ellipsoid_radius_km(r) / r_norm


def _bisect(lo_s: np.ndarray, hi_s: np.ndarray, root_after: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Roots bracketed by [lo_s, hi_s] (N,), s, to ``_TOLERANCE_S``; ``root_after(t)`` says where the root is > t."""
    lo, hi = lo_s.copy(), hi_s.copy()
    while lo.size and (hi - lo).max() > _TOLERANCE_S:
        mid = 0.5 * (lo + hi)
        after = root_after(mid)
        lo = np.where(after, mid, lo)
        hi = np.where(after, hi, mid)
    return 0.5 * (lo + hi)


def _time_grid_s(duration_s: float, step_s: float) -> np.ndarray:
    """Times 0..duration_s inclusive, evenly spaced no further apart than ``step_s``, s."""
    if duration_s <= 0.0 or step_s <= 0.0:
        raise ValueError(f"duration_s and step_s must be positive, found {duration_s} and {step_s}")
    return np.linspace(0.0, duration_s, max(2, math.ceil(duration_s / step_s) + 1))


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
    n_stations = len(stations)
    station_km = np.array([s.ecef_km for s in stations]).reshape(n_stations, 3)
    station_up = np.array([_enu_basis(s.lat_deg, s.lon_deg)[2] for s in stations]).reshape(n_stations, 3)
    sin_mask = np.sin(np.radians([s.min_elevation_deg for s in stations]))

    def margin_and_rising(pair: np.ndarray, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """sin(elevation) - sin(mask), positive while in view, and whether elevation increases; each (N,)."""
        r, v = ephemeris.state_ecef_paired(pair // n_stations, t_s)
        station = pair % n_stations
        d, up = r - station_km[station], station_up[station]
        d_up, d_d = _dot(d, up), _dot(d, d)
        return d_up / np.sqrt(d_d) - sin_mask[station], _dot(v, up) * d_d - d_up * _dot(d, v) > 0.0

    def refine(
        pair: np.ndarray, lo: np.ndarray, hi: np.ndarray, is_peak: np.ndarray, is_rise: np.ndarray
    ) -> np.ndarray:
        """Bisect brackets (N,): elevation maxima where ``is_peak``, else rising or setting mask crossings."""
        def root_after(t_s: np.ndarray) -> np.ndarray:
            margin, rising = margin_and_rising(pair, t_s)
            return np.where(is_peak, rising, (margin >= 0.0) != is_rise)
        return _bisect(lo, hi, root_after)

    t_grid = _time_grid_s(duration_s, step_s)
    r, v = ephemeris.state_ecef(t_grid)
    r_t, v_t = r.transpose(0, 2, 1), v.transpose(0, 2, 1)  # (S, 3, T): products with stations come out (S, G, T)
    d_d = _dot(r, r)[:, None, :] - 2.0 * station_km @ r_t + _dot(station_km, station_km)[:, None]
    d_up = station_up @ r_t - _dot(station_km, station_up)[:, None]
    d_v = _dot(r, v)[:, None, :] - station_km @ v_t
    range_km = np.sqrt(d_d)
    margin = d_up / range_km - sin_mask[:, None]
    rising = (station_up @ v_t) * d_d - d_up * d_v > 0.0
    margin, range_km, rising = (a.reshape(-1, t_grid.size) for a in (margin, range_km, rising))
    in_view = margin >= 0.0  # all (P, T), pair p = satellite * G + station

    # NOTE: |d sin(elevation)/dt| <= speed / range, so a maximum bracketed by samples further below the mask than
    # that allows within one step cannot be a pass; skipping those halves the work. 10% covers speeds between
    # samples.
    peak_pair, k = np.nonzero(rising[:, :-1] & ~rising[:, 1:])  # elevation peaks in [t_k, t_k+1]
    step = t_grid[1] - t_grid[0]
    top_speed = 1.1 * np.linalg.norm(v, axis=-1).max(axis=1)[peak_pair // n_stations]
    near_km = np.minimum(range_km[peak_pair, k], range_km[peak_pair, k + 1]) - top_speed * step
    top_margin = np.maximum(margin[peak_pair, k], margin[peak_pair, k + 1])
    reachable = (near_km <= 0.0) | (top_margin + top_speed * step / np.maximum(near_km, 1e-9) >= 0.0)
    peak_pair, k = peak_pair[reachable], k[reachable]

    cross_pair, cross_k = np.nonzero(in_view[:, 1:] != in_view[:, :-1])
    n_peaks = peak_pair.size
    roots = refine(np.concatenate((peak_pair, cross_pair)),
                   np.concatenate((t_grid[k], t_grid[cross_k])),
                   np.concatenate((t_grid[k + 1], t_grid[cross_k + 1])),
                   np.arange(n_peaks + cross_pair.size) < n_peaks,
                   np.concatenate((np.zeros(n_peaks, bool), in_view[cross_pair, cross_k + 1])))
    peak_t, cross_t = roots[:n_peaks], roots[n_peaks:]
    peak_margin, _ = margin_and_rising(peak_pair, peak_t)

    missed = (peak_margin >= 0.0) & ~in_view[peak_pair, k] & ~in_view[peak_pair, k + 1]  # a pass between samples
    n_missed = int(missed.sum())
    missed_pair = np.tile(peak_pair[missed], 2)
    missed_t = refine(missed_pair,
                      np.concatenate((t_grid[k[missed]], peak_t[missed])),
                      np.concatenate((peak_t[missed], t_grid[k[missed] + 1])),
                      np.zeros(2 * n_missed, bool),
                      np.arange(2 * n_missed) < n_missed)

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
    max_el = np.degrees(np.arcsin(np.clip(best_margin + sin_mask[window_pair % n_stations], -1.0, 1.0)))

    satellite, station = window_pair // n_stations, window_pair % n_stations
    return [
        ContactWindow(names[satellite[i]], stations[station[i]].name, float(aos[i]), float(los[i]),
                      float(max_el[i]), float(tca[i]))
        for i in np.lexsort((station, satellite, aos))
    ]


def _closing(r_km: np.ndarray, v_km_s: np.ndarray, target_unit: np.ndarray) -> np.ndarray:
    """Whether the angle at Earth's centre between positions (..., 3) and a target direction (3,) shrinks, (...):
    the sign of d/dt (r.g / |r|)."""
    return _dot(v_km_s, target_unit) * _dot(r_km, r_km) - _dot(r_km, target_unit) * _dot(r_km, v_km_s) > 0.0


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
    east, north, _ = _enu_basis(target_lat_deg, target_lon_deg)

    t_grid = _time_grid_s(duration_s, step_s)
    closing = _closing(*ephemeris.state_ecef(t_grid), target_unit)  # (S, T)
    satellite, k = np.nonzero(closing[:, :-1] & ~closing[:, 1:])  # closest in [t_k, t_k+1]
    t = _bisect(t_grid[k], t_grid[k + 1],
                lambda t_s: _closing(*ephemeris.state_ecef_paired(satellite, t_s), target_unit))
    r, v = ephemeris.state_ecef_paired(satellite, t)
    r_norm = np.linalg.norm(r, axis=-1)
    up = r / r_norm[:, None]
    cos_gamma = np.clip(_dot(up, target_unit), -1.0, 1.0)
    visible = cos_gamma > target_r_km / r_norm
    gamma = np.arccos(cos_gamma)
    off_nadir = np.degrees(np.arctan2(target_r_km * np.sin(gamma), r_norm - target_r_km * cos_gamma))
    # At closest approach the target lies in the plane of up and (along x up), so ``along`` is horizontal at the
    # target too: the way a footprint on the target moves.
    along = _unit(v - _dot(v, up)[:, None] * up)
    # Measured out of the ground track's great circle, the cross-track distance ignores along-track time errors.
    cross_track_km = target_r_km * np.arcsin(np.clip(_dot(np.cross(along, up), target_unit), -1.0, 1.0))
    along_enu = _unit(np.stack((along @ east, along @ north), axis=-1))
    return [
        ClosestApproach(names[satellite[i]], float(t[i]), float(cross_track_km[i]),
                        float(off_nadir[i]), (float(along_enu[i, 0]), float(along_enu[i, 1])))
        for i in np.lexsort((satellite, t)) if visible[i]
    ]
