"""Element sets: SGP4 records (WGS72) from two-line element sets or mean elements, their epochs, whether
SGP4 propagates them as an orbit over a run (plausibility), and whether their ground track moves at all (a
geostationary one does not).
"""

from __future__ import annotations

import math
import re
import sys
from datetime import datetime, timedelta
from typing import NamedTuple, Sequence

import numpy as np
from sgp4.api import SGP4_ERRORS, WGS72, Satrec
from sgp4.conveniences import sat_epoch_datetime
from sgp4.earth_gravity import wgs72
from sgp4.io import twoline2rv as parse_tle_strictly

from ..constants import DAY_S, EARTH_ROTATION_RAD_S, TROPICAL_YEAR_DAYS, WGS84_A_KM
from .ephemeris import Ephemeris, PropagationError, ground_speed_km_s, time_grid_s
from .frames import dot, geodetic, julian_date
from .sun import sun_equatorial


# A sun-synchronous node precesses once per tropical year, rad/s.
SUN_SYNCHRONOUS_NODE_RATE_RAD_S = 2.0 * math.pi / (TROPICAL_YEAR_DAYS * DAY_S)

_JD_SGP4_EPOCH0 = 2433281.5  # 1949 December 31 00:00 UT, the origin of ``Satrec.sgp4init`` epochs

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

# A ground track the camera can take strips of frames along moves faster than this at its fastest, km/s. A
# geostationary satellite is kept within +-0.1 deg of its station in longitude (ITU Radio Regulations, No. 22.6)
# and, by north-south station keeping, in latitude (+-0.1 deg, as the WARC-BS 1977 Final Acts asked of broadcasting
# satellites): the daily swing of its sub-satellite point in that box (inclination i, eccentricity e: amplitudes i
# and 2e rad, Soop 1994, "Handbook of Geostationary Orbits", Kluwer) moves at most R_E w_E (0.1 + 0.1) deg = 1.6 m/s
# (1.1 m/s by SGP4 for i = 0.1 deg, e = 0.0005). Every orbit that is not synchronous moves far faster (MEO at 8000
# km: 1.9 km/s), as do a geosynchronous one inclined 0.3 deg or more (2.6 m/s at its nodes; 81 m/s at 10 deg) and
# one drifting along the ring by more than 1.6 deg a day. Below 2 m/s the frames of a strip, 115 km apart for 256 px
# at 500 m (10 % overlap), would be 16 h apart.
MIN_GROUND_TRACK_SPEED_KM_S = 0.002

GROUND_TRACK_SAMPLES = 360  # one orbit sampled at every degree of mean anomaly


def _tle_checksum(line: str) -> int:
    """Modulo-10 sum of the digits of the first 68 characters, minus signs counting 1."""
    return sum(int(c) if c.isdigit() else c == "-" for c in line[:68]) % 10


# Line 2's angles and mean motion: (columns, 1-based as the format gives them, name, lowest, highest or None, whether
# the highest is allowed). NORAD two-line element set format (CelesTrak, "FAQs: Two-Line Element Set Format";
# Hoots & Roehrich 1980, Spacetrack Report No. 3).
TLE_LINE2_FIELDS = ((9, 16, "inclination", 0.0, 180.0, True), (18, 25, "right ascension of the ascending node", 0.0,
                    360.0, False), (35, 42, "argument of perigee", 0.0, 360.0, False),
                    (44, 51, "mean anomaly", 0.0, 360.0, False))


def _line2_problem(line: str) -> str | None:
    """Why line 2's angles or mean motion are out of their ranges (:data:`TLE_LINE2_FIELDS`; a mean motion of 0
    rev/day, no orbit at all, made SGP4 divide by zero), or None; a field that is no number is the parser's to say."""
    for first, last, name, low, high, closed in TLE_LINE2_FIELDS:
        try:
            value = float(line[first - 1:last])
        except ValueError:
            continue
        if not (low <= value <= high if closed else low <= value < high):
            return (f"columns {first}-{last}, {name} {value:.8g}: expected {low:g} to {high:g} degrees"
                    f"{'' if closed else f' (less than {high:g})'}")
    try:
        revs_per_day = float(line[52:63])
    except ValueError:
        return None
    return None if revs_per_day > 0.0 else f"columns 53-63, mean motion {revs_per_day:.8g}: expected > 0 rev/day"


class TleError(ValueError):
    """A two-line element set that cannot be read, and the element line (1 or 2) the problem is in: None for the set
    as a whole."""

    def __init__(self, message: str, element_line: int | None = None):
        super().__init__(message)
        self.element_line = element_line


def satrec_from_tle(line1: str, line2: str) -> Satrec:
    """SGP4 record (WGS72) from a two-line element set; TleError (a ValueError) naming the line and the problem if it
    is bad."""
    lines = (line1.rstrip(), line2.rstrip())
    for number, line in enumerate(lines, start=1):
        where = f"TLE line {number} {line!r}"
        if odd := next(((col, ch) for col, ch in enumerate(line, start=1) if not ch.isascii()), None):
            col, ch = odd  # text copied from a web page or a word processor: a typographic minus, a dash, a space
            raise TleError(f"{where}: expected ASCII characters (digits, letters, '.', '+', '-' and spaces), found "
                           f"{ch!r} (U+{ord(ch):04X}) in column {col}: retype it (a minus as '-')", number)
        if len(line) != 69:
            missing = (f" (if what is missing is column 69, the checksum digit, the line sums to "
                       f"{_tle_checksum(line)})") if len(line) == 68 else ""
            raise TleError(f"{where}: expected 69 characters, found {len(line)}{missing}", number)
        if line[0] != str(number):
            raise TleError(f"{where}: expected line number {number} in column 1, found {line[0]!r}", number)
        if not line[68].isdigit():
            raise TleError(f"{where}: expected a checksum digit in column 69, found {line[68]!r}", number)
        if _tle_checksum(line) != int(line[68]):
            raise TleError(
                f"{where}: bad checksum: column 69 says {line[68]}, the line sums to {_tle_checksum(line)}", number)
    if problem := _line2_problem(lines[1]):
        raise TleError(f"TLE line 2 {lines[1]!r}: {problem}", 2)
    if lines[0][2:7] != lines[1][2:7]:
        raise TleError(
            f"TLE line 2 {lines[1]!r}: catalogue number {lines[1][2:7]!r} differs from line 1's {lines[0][2:7]!r}", 2)
    try:
        year = int(lines[0][18:20])
        day_of_year = float(lines[0][20:32])
    except ValueError:
        raise TleError(f"TLE line 1 {lines[0]!r}: epoch {lines[0][18:32]!r} is not YYDDD.DDDDDDDD", 1) from None
    year += 2000 if year < 57 else 1900
    days_in_year = 366 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 365
    if not 1.0 <= day_of_year < days_in_year + 1:
        raise TleError(f"TLE line 1 {lines[0]!r}: epoch day {day_of_year} is outside 1..{days_in_year} of {year}", 1)
    try:
        # NOTE: the C++ parser reads "1X.5" as 1; the Python one checks field by field first.
        parse_tle_strictly(*lines, wgs72)
        satrec = Satrec.twoline2rv(*lines, WGS72)
    except ValueError as err:
        raise TleError(f"TLE {lines[0]!r} / {lines[1]!r}: {err}") from None
    if satrec.error:
        raise TleError(f"TLE line 2 {lines[1]!r}: elements rejected by SGP4: {SGP4_ERRORS[satrec.error]}", 2)
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
    t_s = time_grid_s(duration_s, step_s)
    jd, fr = julian_date(start_utc)
    error, r_km, v_km_s = satrec.sgp4_array(np.full(t_s.shape, jd), fr + t_s / DAY_S)
    finite = np.isfinite(r_km).all(axis=-1) & np.isfinite(v_km_s).all(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):  # NaN rows (error codes) compare False below
        altitude_km = geodetic(r_km)[2]
        r_norm = np.linalg.norm(r_km, axis=-1)
        inverse_a = 2.0 / r_norm - dot(v_km_s, v_km_s) / wgs72.mu  # 1/km, vis-viva; <= 0: unbound
        a_km = np.where(inverse_a > 0.0, 1.0 / inverse_a, np.inf)
        e_vector = ((dot(v_km_s, v_km_s) - wgs72.mu / r_norm)[:, None] * r_km
                    - dot(r_km, v_km_s)[:, None] * v_km_s) / wgs72.mu
        perigee_km = a_km * (1.0 - np.linalg.norm(e_vector, axis=-1)) - WGS84_A_KM
    mean_a_km = (wgs72.mu / (satrec.no_kozai / 60.0) ** 2) ** (1.0 / 3.0)
    a_off = finite & (np.abs(a_km - mean_a_km) > SEMI_MAJOR_AXIS_TOLERANCE * mean_a_km)
    low = altitude_km < MIN_ALTITUDE_KM
    # NOTE: a perigee counts where the run passes it, between a sample falling and the next rising: a very eccentric
    # orbit's osculating perigee strays far from the mean one (WIND, e 0.97: -4106 km a day from its perigee).
    radial_km2_s = dot(r_km, v_km_s)
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


def stationary_track(satrec: Satrec, start_utc: datetime) -> str | None:
    """What the ground track does, when its sub-satellite point never moves as fast as
    ``MIN_GROUND_TRACK_SPEED_KM_S`` over one orbit from ``start_utc`` (a geostationary satellite); else None.

    The speed over the rotating WGS84 surface (``ephemeris.ground_speed_km_s``, as imaging spaces a strip's frames by
    it) is sampled ``GROUND_TRACK_SAMPLES`` times over one period of the element set's mean motion: the speed
    depends on where in its orbit the satellite is, so one orbit holds its fastest (a Molniya's perigee, a
    geosynchronous orbit's nodes). None too when SGP4 fails within that orbit (an error code, or a position that is
    not a number): ``implausible_orbit`` judges the run.
    """
    period_s = 2.0 * math.pi / satrec.no_kozai * 60.0
    t_s = time_grid_s(period_s, period_s / GROUND_TRACK_SAMPLES)
    ephemeris = Ephemeris([satrec], start_utc)
    try:
        speed_km_s = ground_speed_km_s(ephemeris, t_s)[0]
    except PropagationError:
        return None
    top_km_s = float(speed_km_s.max())
    if top_km_s >= MIN_GROUND_TRACK_SPEED_KM_S or not np.isfinite(speed_km_s).all():
        return None
    lat_deg, lon_deg, _ = geodetic(ephemeris.ecef_km(np.zeros(1))[0, 0])
    sidereal_day_h = 2.0 * math.pi / EARTH_ROTATION_RAD_S / 3600.0
    return (f"its sub-satellite point, starting over lat {lat_deg:.2f}, lon {lon_deg:.2f}, moves at most "
            f"{top_km_s:.2g} km/s over one {period_s / 3600.0:.2f} h orbit (a sidereal day is {sidereal_day_h:.2f} h)")


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
    jd, fr = julian_date(epoch_utc)
    if ltan_h is not None:
        if not 0.0 <= ltan_h < 24.0:
            raise ValueError(f"ltan_h must be in [0, 24), found {ltan_h}")
        sun = sun_equatorial(jd, np.asarray(fr))
        raan_deg = math.degrees(math.atan2(sun[1], sun[0])) + 15.0 * (ltan_h - 12.0)
    true_anomaly = math.radians(phase_deg)
    eccentric_anomaly = math.atan2(math.sqrt(1.0 - eccentricity**2) * math.sin(true_anomaly),
                                   eccentricity + math.cos(true_anomaly))
    mean_anomaly = eccentric_anomaly - eccentricity * math.sin(eccentric_anomaly)
    inclination_rad = math.radians(inclination_deg)
    if inclination_rad < sys.float_info.min:  # subnormal (under 1.3e-306 deg): SGP4 gives NaN positions for it
        inclination_rad = 0.0
    satrec = Satrec()
    satrec.sgp4init(
        WGS72, "i", 0, (jd - _JD_SGP4_EPOCH0) + fr, 0.0, 0.0, 0.0, eccentricity, 0.0,
        inclination_rad, mean_anomaly % (2.0 * math.pi),
        _mean_motion_rad_s(a_km) * 60.0, math.radians(raan_deg % 360.0),
    )
    if satrec.error:
        raise ValueError(f"elements rejected by SGP4: {SGP4_ERRORS[satrec.error]}")
    return satrec
