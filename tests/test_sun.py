"""Tests for onboard/orbit/sun.py: the sun's position against textbook values (equinox noon, Meeus example 25.a) and Earth's
shadow.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np
import pytest

from onboard.orbit.sun import sun_azimuth_deg, sun_direction_ecef, sun_elevation_deg, sunlit


def test_sun_at_solar_noon_on_the_march_equinox():
    # 2026 March 20: equinox 14:46 UTC; equation of time -7.5 min, so solar noon at Greenwich is 12:07:30 UTC.
    noon_utc = datetime(2026, 3, 20, 12, 7, 30, tzinfo=timezone.utc)
    assert sun_elevation_deg(0.0, 0.0, noon_utc, 0.0) == pytest.approx(90.0, abs=0.3)
    assert sun_elevation_deg(45.0, 0.0, noon_utc, 0.0) == pytest.approx(45.0, abs=0.3)
    assert sun_azimuth_deg(45.0, 0.0, noon_utc, 0.0) == pytest.approx(180.0, abs=1.0)
    # Six hours earlier the sun rises due east on the equator.
    assert sun_elevation_deg(0.0, 0.0, noon_utc, -6 * 3600.0) == pytest.approx(0.0, abs=0.5)
    assert sun_azimuth_deg(0.0, 0.0, noon_utc, -6 * 3600.0) == pytest.approx(90.0, abs=0.5)
    lat = np.array([0.0, 45.0])[:, None]
    assert sun_elevation_deg(lat, 0.0, noon_utc, np.array([0.0, 60.0, 120.0])).shape == (2, 3)


def test_sun_declination_matches_meeus_example_25a():
    # Meeus, Astronomical Algorithms, example 25.a: 1992 October 13.0 TD, apparent declination -7 deg 47' 06".
    sun = sun_direction_ecef(datetime(1992, 10, 12, 23, 59, 1, tzinfo=timezone.utc), 0.0)
    assert math.degrees(math.asin(sun[2])) == pytest.approx(-(7 + 47 / 60 + 6 / 3600), abs=0.01)


def test_sunlit_outside_the_shadow_cylinder():
    sun = np.array([1.0, 0.0, 0.0])
    r_km = np.array([[7000.0, 0.0, 0.0], [-7000.0, 0.0, 0.0], [-7000.0, 6400.0, 0.0], [-7000.0, 0.0, 6300.0],
                     [0.0, 0.0, 7000.0]])
    assert sunlit(r_km, sun).tolist() == [True, False, True, False, True]
