"""Tests for onboard/orbit/frames.py: WGS84 geodetic round trips and Earth-fixed positions against skyfield."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skyfield.api import wgs84

from onboard.orbit.frames import ecef_from_geodetic, geodetic


ONE_MM_KM = 1e-6


@settings(max_examples=300, deadline=None)
@given(st.floats(-90.0, 90.0), st.floats(-179.999, 180.0), st.floats(-0.5, 40000.0))
def test_geodetic_round_trip(lat_deg, lon_deg, alt_km):
    r = ecef_from_geodetic(lat_deg, lon_deg, alt_km)
    lat, lon, alt = geodetic(r)
    assert np.linalg.norm(ecef_from_geodetic(lat, lon, alt) - r) < ONE_MM_KM
    assert alt == pytest.approx(alt_km, abs=ONE_MM_KM)
    assert lat == pytest.approx(lat_deg, abs=1e-9)
    if abs(lat_deg) < 89.999:
        assert (lon - lon_deg + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.floats(-90.0, 90.0), st.floats(-180.0, 180.0), st.floats(-400.0, 9000.0))
def test_ecef_from_geodetic_matches_skyfield(lat_deg, lon_deg, alt_m):
    theirs = wgs84.latlon(lat_deg, lon_deg, elevation_m=alt_m).itrs_xyz.km
    assert np.linalg.norm(ecef_from_geodetic(lat_deg, lon_deg, alt_m / 1000.0) - theirs) < ONE_MM_KM
