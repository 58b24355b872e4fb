"""Physical constants against outside references: PROJ's WGS84 ellipsoid (through pyproj), sgp4's own gravity
model and the IAU 1982 sidereal rate."""

import math

import pyproj
import pytest

from onboard import constants

ONE_MM_KM = 1e-6


def test_wgs84_ellipsoid_matches_proj():
    ellipsoid = pyproj.Geod(ellps="WGS84")
    assert constants.WGS84_A_KM * 1e3 == ellipsoid.a
    assert constants.WGS84_F == pytest.approx(ellipsoid.f, rel=1e-15)
    assert constants.WGS84_B_KM == pytest.approx(ellipsoid.b / 1e3, abs=ONE_MM_KM)
    assert constants.WGS84_E2 == pytest.approx(ellipsoid.es, rel=1e-12)


def test_earth_mean_radius_and_gravitational_parameter():
    a, b = constants.WGS84_A_KM, constants.WGS84_B_KM
    assert constants.EARTH_MEAN_RADIUS_KM == pytest.approx((2 * a + b) / 3, abs=1e-4)  # R1 of GRS80 / WGS84, 0.1 m



def test_earth_rotation_is_one_sidereal_turn():
    sidereal_day_s = 2 * math.pi / constants.EARTH_ROTATION_RAD_S
    assert sidereal_day_s == pytest.approx(86164.0905, abs=1e-3)  # mean sidereal day (IERS Conventions 2010)
