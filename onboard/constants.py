"""Physical constants, each with its unit and source, written once for the spacecraft side.

The ground segment (``ground/``) does not import ``onboard``; it needs none of these today.
"""

from __future__ import annotations

import math

DAY_S = 86400.0
"""Seconds in a day of UTC without leap seconds (SI day), s."""

WGS84_A_KM = 6378.137
"""WGS84 semi-major (equatorial) axis, km (NIMA TR8350.2, 3rd ed., 2000, table 3.1)."""

WGS84_F = 1.0 / 298.257223563
"""WGS84 flattening, dimensionless (NIMA TR8350.2, table 3.1)."""

WGS84_B_KM = WGS84_A_KM * (1.0 - WGS84_F)
"""WGS84 semi-minor (polar) axis ``a (1 - f)``, km (NIMA TR8350.2, table 3.3)."""

WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
"""WGS84 first eccentricity squared ``f (2 - f)``, dimensionless (NIMA TR8350.2, table 3.3)."""

JD_J2000 = 2451545.0
"""Julian date of the J2000.0 epoch, 2000-01-01 12:00 TT, days (IAU 1976; Vallado 2013, "Fundamentals of
Astrodynamics", sect. 3.5)."""

GMST_1982_S = (67310.54841, 8640184.812866, 0.093104, -6.2e-6)
"""IAU 1982 GMST polynomial in Julian centuries T of UT1 from J2000: seconds of time ``c0 + c1 T + c2 T^2 + c3 T^3``
(Aoki et al. 1982, A&A 105:359; AIAA 2006-6753 appendix C)."""

EARTH_ROTATION_RAD_S = 2.0 * math.pi * (1.0 + GMST_1982_S[1] / (DAY_S * 36525.0)) / DAY_S
"""Earth's rotation rate relative to the mean equinox: the rate of GMST, rad/s (IAU 1982 GMST polynomial, Aoki et
al. 1982, A&A 105:359; Vallado 2013, "Fundamentals of Astrodynamics", eq. 3-45)."""

SPEED_OF_LIGHT_M_S = 299_792_458.0
"""Speed of light in vacuum, m/s, exact (SI brochure, 9th edition, 2019)."""

BOLTZMANN_DB = 10.0 * math.log10(1.380649e-23)
"""Boltzmann's constant k = 1.380649e-23 J/K (exact, SI 2019) in dB: -228.60 dBW/(Hz K)."""

TROPICAL_YEAR_DAYS = 365.2421897
"""Mean tropical year, days (Vallado 2013, "Fundamentals of Astrodynamics", sect. 3.6)."""

EARTH_MEAN_RADIUS_KM = 6371.0088
"""Earth's mean radius ``(2a + b) / 3`` of WGS84, km (Moritz 2000, "Geodetic Reference System 1980", J. Geodesy
74:128)."""

EARTH_MU_KM3_S2 = 398600.4418
"""Earth's gravitational parameter GM, km^3/s^2 (WGS84 / EGM96, NIMA TR8350.2, table 3.1)."""
