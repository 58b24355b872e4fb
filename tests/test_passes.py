"""Tests for onboard/orbit/passes.py: contact windows against skyfield's find_events, closest approaches to a target abeam of
the track.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pytest
from sgp4.api import Satrec
from skyfield.api import EarthSatellite, wgs84

from onboard.orbit.elements import satrec_from_elements, satrec_from_tle
from onboard.orbit.ephemeris import Ephemeris
from onboard.orbit.frames import ecef_from_geodetic, geodetic
from onboard.constants import WGS84_E2
from onboard.orbit.passes import ContactWindow, GroundStation, closest_approaches, contact_windows, latitude_reach
from tests.orbit_cases import DAY_S, ISS_START_UTC, ISS_TLE, SSO_START_UTC, STATIONS, TS, sso_satrec


TWO_S = 2.0


def skyfield_passes(satrec: Satrec, station: GroundStation, start_utc: datetime, duration_s: float):
    """(AOS, TCA or None, LOS, max elevation deg or None) per pass from skyfield find_events, s since start."""
    satellite = EarthSatellite.from_satrec(satrec, TS)
    topos = wgs84.latlon(station.lat_deg, station.lon_deg, elevation_m=station.alt_m)
    t0 = TS.from_datetime(start_utc)
    times, events = satellite.find_events(topos, t0, TS.from_datetime(start_utc + timedelta(seconds=duration_s)),
                                          altitude_degrees=station.min_elevation_deg)
    elevations = (satellite - topos).at(times).altaz()[0].degrees
    passes = []
    aos, tca, top = (0.0, None, None) if events.size and events[0] != 0 else (None, None, None)
    for t_s, event, el in zip((times - t0) * DAY_S, events, elevations):
        if event == 0:
            aos, tca, top = t_s, None, None
        elif event == 1:
            tca, top = t_s, el
        else:
            passes.append((aos, tca, t_s, top))
            aos = None
    if aos is not None:
        passes.append((aos, tca, duration_s, top))
    return passes


@pytest.mark.parametrize("station_name", sorted(STATIONS))
@pytest.mark.parametrize("orbit", ["iss-tle", "sso-elements"])
def test_windows_match_skyfield_find_events(orbit, station_name):
    if orbit == "iss-tle":
        satrec, start_utc = satrec_from_tle(*ISS_TLE), ISS_START_UTC
    else:
        satrec, start_utc = sso_satrec(), SSO_START_UTC
    station = STATIONS[station_name]
    ours = contact_windows(Ephemeris([satrec], start_utc), [orbit], [station], DAY_S)
    theirs = skyfield_passes(satrec, station, start_utc, DAY_S)
    assert len(ours) == len(theirs)
    assert ours or (orbit, station_name) == ("iss-tle", "svalbard")  # 78 N is beyond the ISS's reach above 5 deg
    for window, (aos, tca, los, top) in zip(ours, theirs):
        assert abs(window.aos_t_s - aos) < TWO_S
        assert abs(window.los_t_s - los) < TWO_S
        if tca is not None:
            assert abs(window.tca_t_s - tca) < TWO_S
            assert window.max_elevation_deg == pytest.approx(top, abs=0.01)


def test_windows_sorted_disjoint_and_clipped_to_the_run():
    iss = satrec_from_tle(*ISS_TLE)
    stations = list(STATIONS.values())
    found = contact_windows(Ephemeris([iss], ISS_START_UTC), ["iss"], stations[1:2], DAY_S)
    # Start in the middle of one pass and end in the middle of another: both windows are clipped.
    start_utc = ISS_START_UTC + timedelta(seconds=found[0].tca_t_s)
    duration_s = found[-1].tca_t_s - found[0].tca_t_s
    satrecs = [iss, sso_satrec(), satrec_from_elements(ISS_START_UTC, 700.0, inclination_deg=53.0, raan_deg=10.0)]
    names = ["iss", "sso", "shell"]
    windows = contact_windows(Ephemeris(satrecs, start_utc), names, stations, duration_s)
    assert [w.aos_t_s for w in windows] == sorted(w.aos_t_s for w in windows)
    assert all(0.0 <= w.aos_t_s <= w.tca_t_s <= w.los_t_s <= duration_s for w in windows)
    for name in names:
        for station in stations:
            mine = [w for w in windows if (w.satellite, w.station) == (name, station.name)]
            assert all(a.los_t_s < b.aos_t_s for a, b in zip(mine, mine[1:]))
    clipped = [w for w in windows if (w.satellite, w.station) == ("iss", "weilheim")]
    assert clipped[0].aos_t_s == 0.0 and clipped[-1].los_t_s == duration_s
    assert all(w.max_elevation_deg >= STATIONS[w.station].min_elevation_deg - 1e-6 for w in windows)


def test_a_coarse_step_finds_the_same_passes():
    ephemeris = Ephemeris([satrec_from_tle(*ISS_TLE), sso_satrec()], ISS_START_UTC)
    stations = list(STATIONS.values())
    fine = contact_windows(ephemeris, ["iss", "sso"], stations, DAY_S, step_s=30.0)
    coarse = contact_windows(ephemeris, ["iss", "sso"], stations, DAY_S, step_s=600.0)  # longer than most passes
    assert len(coarse) == len(fine)
    for a, b in zip(fine, coarse):
        assert (a.satellite, a.station) == (b.satellite, b.station)
        assert max(abs(a.aos_t_s - b.aos_t_s), abs(a.los_t_s - b.los_t_s), abs(a.tca_t_s - b.tca_t_s)) < 0.1


def test_twenty_satellites_five_stations_one_day():
    """A constellation's day of passes (its speed: benchmarks/orbit.py): every pair has windows, TCA within each."""
    satrecs = [satrec_from_elements(SSO_START_UTC, 500.0 + 15.0 * i, sun_synchronous=True, ltan_h=10.0,
                                    phase_deg=18.0 * i) for i in range(20)]
    stations = list(STATIONS.values()) + [GroundStation("fairbanks", 64.86, -147.85, 150.0, 5.0),
                                          GroundStation("hartebeesthoek", -25.89, 27.71, 1415.0, 10.0)]
    windows = contact_windows(Ephemeris(satrecs, SSO_START_UTC), [f"s{i}" for i in range(20)], stations, DAY_S)
    assert len(windows) > 300
    assert all(w.aos_t_s <= w.tca_t_s <= w.los_t_s and w.aos_t_s < w.los_t_s for w in windows)
    assert {(w.satellite, w.station) for w in windows} == {(f"s{i}", st.name) for i in range(20) for st in stations}


def target_abeam(ephemeris: Ephemeris, t_s: float, offset_km: float) -> tuple[float, float]:
    """Geodetic (lat, lon) of the ground point ``offset_km`` right of the geocentric sub-satellite point at t_s."""
    r, v = ephemeris.state_ecef_paired(np.array([0]), np.array([t_s]))
    up = r[0] / np.linalg.norm(r[0])
    along = v[0] - (v[0] @ up) * up
    right = np.cross(along / np.linalg.norm(along), up)
    angle = offset_km / 6370.0
    direction = math.cos(angle) * up + math.sin(angle) * right
    surface_km = direction / math.sqrt((direction[0] ** 2 + direction[1] ** 2) / 6378.137**2
                                       + direction[2] ** 2 / 6356.752314245**2)
    lat, lon, _ = geodetic(surface_km)
    return float(lat), float(lon)


@pytest.mark.parametrize("offset_km", [-150.0, 0.0, 300.0])
def test_closest_approach_to_a_target_abeam_of_the_track(offset_km):
    ephemeris = Ephemeris([sso_satrec()], SSO_START_UTC)
    t0_s = 4000.0
    lat, lon = target_abeam(ephemeris, t0_s, offset_km)
    approaches = closest_approaches(ephemeris, ["sso"], lat, lon, 6 * 3600.0)
    best = min(approaches, key=lambda a: abs(a.cross_track_km))
    assert best.satellite == "sso"
    assert best.t_s == pytest.approx(t0_s, abs=0.1)
    target_radius_km = np.linalg.norm(ecef_from_geodetic(lat, lon, 0.0))
    assert best.cross_track_km == pytest.approx(offset_km * target_radius_km / 6370.0, abs=0.01)
    r = ephemeris.ecef_km(np.array([best.t_s]))[0, 0]
    to_target = ecef_from_geodetic(lat, lon, 0.0) - r
    off_nadir = math.degrees(math.acos(np.dot(to_target, -r) / np.linalg.norm(to_target) / np.linalg.norm(r)))
    assert best.off_nadir_deg == pytest.approx(off_nadir, abs=0.01)
    # The footprint's direction, from the points abeam of the track at the same offset one second either side.
    (lat0, lon0), (lat1, lon1) = (target_abeam(ephemeris, t0_s + dt_s, offset_km) for dt_s in (-1.0, 1.0))
    east, north = (lon1 - lon0) * math.cos(math.radians(lat)), lat1 - lat0
    assert np.allclose(best.along_track_unit_enu, np.array([east, north]) / math.hypot(east, north), atol=0.002)
    horizon_deg = math.degrees(math.asin(6378.137 / np.linalg.norm(r)))
    assert all(0.0 <= a.off_nadir_deg < horizon_deg and 0.0 < a.t_s < 6 * 3600.0 for a in approaches)
    assert [a.t_s for a in approaches] == sorted(a.t_s for a in approaches)


def test_contact_window_duration():
    window = ContactWindow("sat", "station", 10.0, 70.0, 30.0, 40.0)
    assert window.duration_s == 60.0


@pytest.mark.parametrize("orbit, max_off_nadir_deg, inside_deg", [("sso", 40.0, 0.3), ("sso", 10.0, 0.3),
                                                                   ("iss", 30.0, 0.3), ("high", 53.0, 1.0)])
def test_the_reach_in_latitude_bounds_what_closest_approaches_find(orbit, max_off_nadir_deg, inside_deg):
    """Two days of closest approaches over targets on six meridians: ``inside_deg`` inside the reach (SMAD's viewing
    geometry) the best look is within the limit; just past it (by the warning's margin and 0.02 deg) every look is
    wider, also for a 1500 km orbit looking 53 deg off nadir, near its horizon, where the mean apogee fell 0.17 deg
    short (SGP4 rises 5-12 km above it). Near the horizon the look changes little with the ground distance, so two
    days' tracks come within the limit only further inside."""
    from onboard.scenario.orbit_config import REACH_MARGIN_DEG

    satrec, start = {"sso": (sso_satrec(), SSO_START_UTC), "iss": (satrec_from_tle(*ISS_TLE), ISS_START_UTC),
                     "high": (satrec_from_elements(SSO_START_UTC, 1500.0, inclination_deg=50.0, raan_deg=0.0),
                              SSO_START_UTC)}[orbit]
    reach = latitude_reach(satrec, start, 2 * DAY_S, max_off_nadir_deg)
    assert reach.track_deg == pytest.approx({"sso": 180 - 97.59, "iss": 51.64, "high": 50.0}[orbit], abs=0.05)
    ephemeris = Ephemeris([satrec], start)

    def best_look_deg(geocentric_deg: float) -> float:
        geodetic_deg = math.degrees(math.atan(math.tan(math.radians(geocentric_deg)) / (1 - WGS84_E2)))
        return min(a.off_nadir_deg for lon in (0.0, 60.0, 120.0, 180.0, -120.0, -60.0)
                   for a in closest_approaches(ephemeris, ["s"], geodetic_deg, lon, 2 * DAY_S))

    bound_deg = reach.track_deg + reach.beyond_deg
    assert best_look_deg(bound_deg - inside_deg) < max_off_nadir_deg
    assert best_look_deg(bound_deg + REACH_MARGIN_DEG + 0.02) > max_off_nadir_deg
