"""Orbits the orbit tests share (not a test file): the ISS element set of 2019-12-09, a 550 km sun-synchronous
orbit from elements, a Molniya element set, three ground stations, and skyfield's built-in timescale as the outside
reference."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from sgp4.api import WGS72, Satrec
from sgp4.earth_gravity import wgs72
from sgp4.exporter import export_tle
from skyfield.api import load

from onboard.orbit.elements import satrec_from_elements
from onboard.orbit.passes import GroundStation

TS = load.timescale(builtin=True)  # built-in leap seconds and UT1: downloads nothing

DAY_S = 86400.0

ISS_TLE = (
    "1 25544U 98067A   19343.69339541  .00001764  00000-0  38792-4 0  9991",
    "2 25544  51.6439 211.2001 0007417  17.6667  85.6398 15.50103472202482",
)

ISS_START_UTC = datetime(2019, 12, 9, 18, 0, tzinfo=timezone.utc)

SSO_START_UTC = datetime(2026, 3, 20, 0, 0, tzinfo=timezone.utc)

GEO_START_UTC = datetime(2026, 6, 21, 6, 0, tzinfo=timezone.utc)  # the start of tests/data/geostationary.yaml

STATIONS = {
    "svalbard": GroundStation("svalbard", 78.2298, 15.4078, 500.0, 5.0),
    "weilheim": GroundStation("weilheim", 47.8812, 11.0786, 600.0, 10.0),
    "malindi": GroundStation("malindi", -2.9956, 40.1944, 12.0, 0.0),
}


def sso_satrec() -> Satrec:
    """A 550 km sun-synchronous orbit, 10:30 descending (22:30 ascending) node, built from elements."""
    return satrec_from_elements(SSO_START_UTC, 550.0, sun_synchronous=True, ltan_h=22.5, phase_deg=40.0)


def molniya_tle() -> tuple[str, str]:
    """The two lines of a Molniya orbit, epoch ``GEO_START_UTC``: 12 h, e = 0.72, i = 63.4 deg, apogee over the
    north (argument of perigee 270 deg), perigee 1057 km and apogee 39294 km above WGS72's equatorial radius."""
    a_km = 26554.0
    source = Satrec()
    source.sgp4init(WGS72, "i", 99001, 2461212.75 - 2433281.5, 0.0, 0.0, 0.0, 0.72, math.radians(270.0),
                    math.radians(63.4), 0.0, math.sqrt(wgs72.mu / a_km**3) * 60.0, 0.0)
    return export_tle(source)
