"""Tests for onboard/orbit.py: passes against skyfield, textbook orbit and sun values, geometry round trips."""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sgp4.api import WGS72, Satrec
from sgp4.earth_gravity import wgs72
from sgp4.exporter import export_tle
from skyfield.api import EarthSatellite, load, wgs84
from skyfield.framelib import itrs

from onboard.orbit import (
    MIN_ALTITUDE_KM,
    SEMI_MAJOR_AXIS_TOLERANCE,
    ContactWindow,
    ElementSet,
    Ephemeris,
    GroundStation,
    PropagationError,
    closest_approaches,
    contact_windows,
    ecef_from_geodetic,
    element_set,
    epoch_offset_days,
    geodetic,
    implausible_orbit,
    ground_speed_km_s,
    satrec_from_elements,
    satrec_from_tle,
    sun_azimuth_deg,
    sun_direction_ecef,
    sun_elevation_deg,
    sun_synchronous_inclination_deg,
    sunlit,
    tle_epoch_utc,
)
from onboard.schema import load_yaml

TS = load.timescale(builtin=True)  # built-in leap seconds and UT1: downloads nothing
DAY_S = 86400.0
ONE_MM_KM = 1e-6
TWO_S = 2.0

ISS_TLE = (
    "1 25544U 98067A   19343.69339541  .00001764  00000-0  38792-4 0  9991",
    "2 25544  51.6439 211.2001 0007417  17.6667  85.6398 15.50103472202482",
)
ISS_START_UTC = datetime(2019, 12, 9, 18, 0, tzinfo=timezone.utc)
SSO_START_UTC = datetime(2026, 3, 20, 0, 0, tzinfo=timezone.utc)
STATIONS = {
    "svalbard": GroundStation("svalbard", 78.2298, 15.4078, 500.0, 5.0),
    "weilheim": GroundStation("weilheim", 47.8812, 11.0786, 600.0, 10.0),
    "malindi": GroundStation("malindi", -2.9956, 40.1944, 12.0, 0.0),
}


def sso_satrec() -> Satrec:
    """A 550 km sun-synchronous orbit, 10:30 descending (22:30 ascending) node, built from elements."""
    return satrec_from_elements(SSO_START_UTC, 550.0, sun_synchronous=True, ltan_h=22.5, phase_deg=40.0)


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


def test_twenty_satellites_five_stations_one_day_is_fast():
    satrecs = [satrec_from_elements(SSO_START_UTC, 500.0 + 15.0 * i, sun_synchronous=True, ltan_h=10.0,
                                    phase_deg=18.0 * i) for i in range(20)]
    stations = list(STATIONS.values()) + [GroundStation("fairbanks", 64.86, -147.85, 150.0, 5.0),
                                          GroundStation("hartebeesthoek", -25.89, 27.71, 1415.0, 10.0)]
    begin = time.perf_counter()
    windows = contact_windows(Ephemeris(satrecs, SSO_START_UTC), [f"s{i}" for i in range(20)], stations, DAY_S)
    assert time.perf_counter() - begin < 2.0
    assert len(windows) > 300


def test_sun_synchronous_inclination_at_550_km_is_textbook():
    assert sun_synchronous_inclination_deg(550.0) == pytest.approx(97.6, abs=0.05)
    assert sun_synchronous_inclination_deg(800.0) == pytest.approx(98.6, abs=0.05)
    with pytest.raises(ValueError, match="no sun-synchronous orbit"):
        sun_synchronous_inclination_deg(7000.0)


def test_sun_synchronous_node_drifts_one_turn_per_year():
    node_rate_deg_day = math.degrees(sso_satrec().nodedot) * 1440.0  # SGP4's own secular J2 rate
    assert node_rate_deg_day == pytest.approx(360.0 / 365.2422, rel=0.01)


def test_ltan_is_local_solar_time_at_the_ascending_node():
    satrec = satrec_from_elements(SSO_START_UTC, 550.0, sun_synchronous=True, ltan_h=22.5, phase_deg=0.0)
    r = Ephemeris([satrec], SSO_START_UTC).ecef_km(np.array([0.0]))[0, 0]
    sun = sun_direction_ecef(SSO_START_UTC, 0.0)
    solar_time_h = (12.0 + math.degrees(math.atan2(r[1], r[0]) - math.atan2(sun[1], sun[0])) / 15.0) % 24.0
    assert abs(r[2]) < 20.0  # at the node
    assert solar_time_h == pytest.approx(22.5, abs=2.0 / 60.0)


def test_phase_is_the_argument_of_latitude():
    satrec = satrec_from_elements(SSO_START_UTC, 550.0, inclination_deg=60.0, raan_deg=0.0, phase_deg=90.0)
    r = Ephemeris([satrec], SSO_START_UTC).ecef_km(np.array([0.0]))[0, 0]
    assert math.degrees(math.asin(r[2] / np.linalg.norm(r))) == pytest.approx(60.0, abs=0.2)


def test_elements_need_one_inclination_and_one_node():
    with pytest.raises(ValueError, match="inclination_deg and sun_synchronous"):
        satrec_from_elements(SSO_START_UTC, 550.0, inclination_deg=97.0, sun_synchronous=True, raan_deg=0.0)
    with pytest.raises(ValueError, match="raan_deg and ltan_h"):
        satrec_from_elements(SSO_START_UTC, 550.0, sun_synchronous=True)
    with pytest.raises(ValueError, match="perigee below the surface"):
        satrec_from_elements(SSO_START_UTC, 550.0, inclination_deg=50.0, raan_deg=0.0, eccentricity=0.2)
    with pytest.raises(ValueError, match="timezone-aware"):
        satrec_from_elements(datetime(2026, 1, 1), 550.0, inclination_deg=50.0, raan_deg=0.0)


def test_bad_tle_checksum_names_the_line():
    line2 = ISS_TLE[1][:-1] + "3"
    with pytest.raises(ValueError, match=r"TLE line 2 .*bad checksum: column 69 says 3, the line sums to 2"):
        satrec_from_tle(ISS_TLE[0], line2)


def with_checksum(line: str) -> str:
    """The line with a correct checksum digit in column 69."""
    return line[:68] + str(sum(int(c) if c.isdigit() else c == "-" for c in line[:68]) % 10)


@pytest.mark.parametrize("line1, problem", [
    (ISS_TLE[0] + "7", "TLE line 1 .*expected 69 characters, found 70"),
    (with_checksum(ISS_TLE[0].replace("19343.", "19400.")), "TLE line 1 .*epoch day 400.69339541 is outside 1..365"),
    (with_checksum(ISS_TLE[0].replace("19343.", "1934x.")), "TLE line 1 .*epoch '1934x.69339541' is not"),
    (with_checksum("2" + ISS_TLE[0][1:]), "TLE line 1 .*expected line number 1 in column 1, found '2'"),
    (ISS_TLE[0][:68], r"TLE line 1 .*expected 69 characters, found 68 \(if what is missing is column 69, the checksum "
                      r"digit, the line sums to 1\)"),
])
def test_bad_tle_line_names_the_problem(line1, problem):
    assert with_checksum(ISS_TLE[0]) == ISS_TLE[0]
    with pytest.raises(ValueError, match=problem):
        satrec_from_tle(line1, ISS_TLE[1])


def test_positions_match_skyfield_itrs():
    satrec = satrec_from_tle(*ISS_TLE)
    t_s = np.linspace(0.0, DAY_S, 97)
    ours = Ephemeris([satrec], ISS_START_UTC).ecef_km(t_s)[0]
    theirs = EarthSatellite.from_satrec(satrec, TS).at(TS.from_datetime(ISS_START_UTC) + t_s / DAY_S)
    # UT1-UTC (0.2 s) and skyfield's IAU 2000 precession-nutation differ from GMST by ~0.1 km.
    assert np.abs(ours - theirs.frame_xyz(itrs).km.T).max() < 0.2
    lat, lon, _ = geodetic(ours)
    sub = wgs84.subpoint_of(theirs)
    assert np.abs(lat - sub.latitude.degrees).max() < 0.005
    assert np.abs((lon - sub.longitude.degrees + 180.0) % 360.0 - 180.0).max() < 0.005


def test_a_decayed_satellite_raises_with_its_index_and_time():
    high_drag = Satrec()
    epoch_days = (SSO_START_UTC - datetime(1949, 12, 31, tzinfo=timezone.utc)).total_seconds() / DAY_S
    mean_motion_rad_min = math.sqrt(398600.8 / (6378.135 + 250.0) ** 3) * 60.0
    high_drag.sgp4init(WGS72, "i", 0, epoch_days, 0.05, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, mean_motion_rad_min, 0.0)
    ephemeris = Ephemeris([sso_satrec(), high_drag], SSO_START_UTC)
    with pytest.raises(PropagationError, match="satellite #1: SGP4 error 6 .* decayed") as caught:
        contact_windows(ephemeris, ["sso", "falling"], list(STATIONS.values()), 2 * DAY_S)
    assert caught.value.satellite_index == 1 and 0.0 < caught.value.t_s < DAY_S


def test_velocity_is_the_derivative_of_position():
    ephemeris = Ephemeris([satrec_from_tle(*ISS_TLE), sso_satrec()], ISS_START_UTC)
    t_s = np.array([100.0, 2000.0, 40000.0])
    half_s = 0.5
    numeric = (ephemeris.ecef_km(t_s + half_s) - ephemeris.ecef_km(t_s - half_s)) / (2 * half_s)
    assert np.abs(ephemeris.velocity_ecef_km_s(t_s) - numeric).max() < 1e-3  # 1 m/s
    r, v = ephemeris.state_ecef_paired(np.array([1, 0, 1]), t_s)
    assert np.array_equal(r, ephemeris.ecef_km(t_s)[[1, 0, 1], [0, 1, 2]])


def test_ground_speed_matches_the_sub_satellite_track():
    ephemeris = Ephemeris([sso_satrec()], SSO_START_UTC)
    t_s = np.array([500.0, 3000.0])
    speed = ground_speed_km_s(ephemeris, t_s)[0]
    lat, lon, _ = np.radians(geodetic(ephemeris.ecef_km(np.concatenate((t_s - 0.5, t_s + 0.5)))))
    lat, lon = lat[0].reshape(2, 2), lon[0].reshape(2, 2)
    central = np.arccos(np.sin(lat[0]) * np.sin(lat[1]) + np.cos(lat[0]) * np.cos(lat[1]) * np.cos(lon[1] - lon[0]))
    radius_km = np.linalg.norm(ecef_from_geodetic(np.degrees(lat[0]), np.degrees(lon[0]), 0.0), axis=-1)
    assert speed == pytest.approx(central * radius_km, rel=0.005)
    assert 6.8 < speed.min() and speed.max() < 7.2


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


# --- element sets as users paste them, and element sets that are no longer an orbit (issue 11, kinds A and A') -----

DATA = Path(__file__).parent / "data"
POLAR_FLATTENING_KM = 21.385  # WGS84 equatorial less polar radius: a perigee over a pole is this much higher


def field_case(name: str) -> tuple[ElementSet, datetime, float]:
    """The element set, start and duration (s) of a field-case scenario copied into tests/data."""
    scenario = yaml.safe_load((DATA / f"{name}.yaml").read_text())
    start = scenario["start_utc"]
    start = datetime.fromisoformat(start.replace("Z", "+00:00")) if isinstance(start, str) else start
    return element_set(scenario["satellites"][0]["orbit"]["tle"]), start, scenario["duration_h"] * 3600.0


def skyfield_height_km(satrec: Satrec, start_utc: datetime, t_s: float | np.ndarray) -> float | np.ndarray:
    """WGS84 height of SGP4's position at ``t_s`` (s since ``start_utc``) by skyfield, an outside reference, km."""
    t = TS.from_datetime(start_utc) + np.asarray(t_s) / DAY_S
    return wgs84.height_of(EarthSatellite.from_satrec(satrec, TS).at(t)).km


def test_three_line_field_case_parses_its_title_and_stays_an_orbit():
    tle, start, duration_s = field_case("tle_3line_name")
    assert tle.title == "OBJECT 511" and tle.line1.startswith("1 00511U") and tle.line2.startswith("2 00511")
    satrec = tle.satrec()
    assert implausible_orbit(satrec, start, duration_s) is None
    heights = skyfield_height_km(satrec, start, np.linspace(0.0, duration_s, 25))
    assert 900.0 < heights.min() and heights.max() < 1100.0  # a 13.69 rev/day, near-circular orbit at ~1000 km
    assert abs(epoch_offset_days(satrec, start, duration_s)) < 1.0


def test_decayed_field_case_is_refused_for_its_semi_major_axis():
    tle, start, duration_s = field_case("tle_decayed_garbage")
    satrec = tle.satrec()
    t_s, what = implausible_orbit(satrec, start, duration_s)
    assert t_s == 0.0 and what.startswith("semi-major axis") and "15.921462 rev/day" in what
    # SGP4 gives no error code, but a position billions of km out (skyfield's, too)
    distance_km = EarthSatellite.from_satrec(satrec, TS).at(TS.from_datetime(start)).distance().km
    assert distance_km > 1e9


def test_stale_field_case_is_refused_below_the_altitude_floor():
    tle, start, duration_s = field_case("tle_stale_epoch")
    satrec = tle.satrec()
    t_s, what = implausible_orbit(satrec, start, duration_s)
    assert "below the 150 km floor" in what and "semi-major axis" in what
    assert skyfield_height_km(satrec, start, t_s) < MIN_ALTITUDE_KM
    epoch = EarthSatellite.from_satrec(satrec, TS).epoch.utc_datetime()
    assert epoch_offset_days(satrec, start, duration_s) == pytest.approx(
        (start + timedelta(seconds=duration_s) - epoch).total_seconds() / DAY_S, abs=1e-6)
    assert epoch_offset_days(satrec, start, duration_s) == pytest.approx(1162.74, abs=0.01)
    assert abs((tle_epoch_utc(satrec) - epoch).total_seconds()) < 0.001


def test_epoch_offset_is_signed_and_takes_the_far_end_of_the_run():
    satrec = satrec_from_tle(*ISS_TLE)
    epoch = EarthSatellite.from_satrec(satrec, TS).epoch.utc_datetime()
    before = epoch - timedelta(days=10)
    assert epoch_offset_days(satrec, before, 2 * DAY_S) == pytest.approx(-10.0, abs=1e-6)
    assert epoch_offset_days(satrec, epoch - timedelta(days=1), 3 * DAY_S) == pytest.approx(2.0, abs=1e-6)


@pytest.mark.parametrize("lines, problem", [
    ([ISS_TLE[0]], "1 non-blank line"),
    ([], "0 non-blank line"),
    (["ISS", "(ZARYA)", *ISS_TLE], "4 non-blank line"),
    ([ISS_TLE[0], *ISS_TLE], "line 0 '1 25544U.*' is an element line, not a title"),
])
def test_element_sets_of_other_shapes_are_refused(lines, problem):
    with pytest.raises(ValueError, match=problem):
        element_set(lines)


def test_a_list_item_holding_several_lines_and_crlf_line_ends_are_read():
    assert element_set(["ISS (ZARYA)\r\n" + ISS_TLE[0], ISS_TLE[1] + "\r\n"]) == ElementSet("ISS (ZARYA)", *ISS_TLE)
    assert element_set("\r\n".join(ISS_TLE)) == ElementSet(None, *ISS_TLE)


def test_element_lines_that_yaml_folded_into_one_are_split_back():
    # A plain scalar over several lines (or --set tle="$(cat iss.tle)") reaches the loader as one line.
    data, _ = load_yaml("tle: 0 ISS (ZARYA)\n  " + "\n  ".join(ISS_TLE) + "\n", "f.yaml")
    assert element_set(data["tle"]) == ElementSet("ISS (ZARYA)", *ISS_TLE)
    assert element_set(" ".join(ISS_TLE)) == ElementSet(None, *ISS_TLE)
    with pytest.raises(ValueError, match="1 non-blank line"):
        element_set(" ".join(ISS_TLE)[1:])


def test_a_blank_title_is_no_title():
    assert element_set(["0 ", *ISS_TLE]) == ElementSet(None, *ISS_TLE)
    assert element_set(["0  ISS (ZARYA) ", *ISS_TLE]) == ElementSet("ISS (ZARYA)", *ISS_TLE)


@st.composite
def elements(draw, min_perigee_km: float = 200.0, max_perigee_km: float = 2000.0) -> Satrec:
    """An SGP4 record ('i' mode, WGS72) of random mean elements whose perigee height (above WGS72's equatorial radius)
    lies in the range: circular to Molniya-like (e <= 0.75), LEO to beyond GEO (a <= 45000 km). Inclination short of
    180 deg, where SGP4's short-period terms divide by 1 + cos i and its positions stop following the elements."""
    perigee_km = wgs72.radiusearthkm + draw(st.floats(min_perigee_km, max_perigee_km))
    a_km = draw(st.floats(perigee_km, min(45000.0, perigee_km / 0.25)))
    angle_rad = st.floats(0.0, 359.0).map(math.radians)
    satrec = Satrec()
    satrec.sgp4init(WGS72, "i", draw(st.integers(1, 99999)), draw(st.floats(20000.0, 30000.0)),  # 2004-2032
                    draw(st.one_of(st.just(0.0), st.floats(1e-6, 1e-4))), 0.0, 0.0, 1.0 - perigee_km / a_km,
                    draw(angle_rad), math.radians(draw(st.floats(0.0, 179.9))), draw(angle_rad),
                    math.sqrt(wgs72.mu / a_km**3) * 60.0, draw(angle_rad))
    return satrec


def pasted(draw, line1: str, line2: str, title: str | None):
    """The lines as a user pastes them: a list or a text block, with stray whitespace and blank lines, or folded by
    YAML into one line."""
    pad = st.text(" \t", max_size=3)
    head = [] if title is None else [draw(st.sampled_from(["", "0 "])) + title]
    lines = [draw(pad) + line + draw(pad) for line in [*head, line1, line2]]
    shape = draw(st.sampled_from(["list", "block", "folded"]))
    if shape == "list":
        return lines
    if shape == "folded":  # a plain YAML scalar over several lines: its line breaks become single spaces
        return " ".join(line.strip() for line in lines)
    return draw(st.sampled_from(["", "\n"])) + "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


# a title as catalogues print it (24 characters); "0" alone and a leading "0 " are the 3LE marker, not the title
TITLES = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=24).filter(
    lambda t: t.strip() not in ("", "0") and not t.strip().startswith("0 "))


@settings(max_examples=150, deadline=None)
@given(st.data(), elements(), st.one_of(st.none(), TITLES))
def test_pasted_element_sets_give_the_orbit_of_their_lines(data, source, title):
    line1, line2 = export_tle(source)
    parsed = element_set(pasted(data.draw, line1, line2, title))
    assert parsed == ElementSet(None if title is None else title.strip(), line1, line2)
    satrec, reference = parsed.satrec(), Satrec.twoline2rv(line1, line2, WGS72)
    jd, fr = np.full(5, satrec.jdsatepoch), satrec.jdsatepochF + np.linspace(-1.0, 1.0, 5)
    assert np.array_equal(satrec.sgp4_array(jd, fr)[1], reference.sgp4_array(jd, fr)[1])
    # the elements as drawn, to the TLE's printed precision: 8 decimals of rev/day, 7 of eccentricity
    assert satrec.no_kozai == pytest.approx(source.no_kozai, abs=0.6e-8 * 2.0 * math.pi / 1440.0)
    assert satrec.ecco == pytest.approx(source.ecco, abs=0.6e-7)


@settings(max_examples=100, deadline=None)
@given(elements(), st.floats(-7.0, 7.0), st.floats(60.0, DAY_S))
def test_orbits_propagated_near_their_epoch_are_never_refused(source, offset_days, duration_s):
    satrec = element_set(export_tle(source)).satrec()
    start = tle_epoch_utc(satrec) + timedelta(days=offset_days)
    assert implausible_orbit(satrec, start, duration_s) is None


def check_refusal(satrec: Satrec, start: datetime, duration_s: float) -> None:
    """The refusal says what failed, and skyfield agrees where it names an altitude."""
    refused = implausible_orbit(satrec, start, duration_s)
    assert refused is not None
    t_s, what = refused
    assert 0.0 <= t_s <= duration_s
    assert what.startswith(("SGP4 error", "altitude", "osculating perigee", "semi-major axis", "SGP4 gave"))
    if what.startswith("altitude"):
        assert skyfield_height_km(satrec, start, t_s) < MIN_ALTITUDE_KM + 0.01
    elif what.startswith("osculating perigee"):  # skyfield sees the dip over the next 1.5 orbits, every 10 s
        period_s = 2.0 * math.pi / satrec.no_kozai * 60.0
        heights = skyfield_height_km(satrec, start, np.arange(t_s, t_s + 1.5 * period_s, 10.0))
        # it dips below the floor (+ the poles' lower surface + short-period terms), or SGP4 finds it decayed (NaN)
        assert np.isnan(heights).any() or heights.min() < MIN_ALTITUDE_KM + POLAR_FLATTENING_KM + 5.0


@settings(max_examples=60, deadline=None)
@given(elements(min_perigee_km=-300.0, max_perigee_km=100.0), st.floats(-1.0, 1.0))
def test_perigee_below_the_floor_is_refused(source, offset_days):
    try:
        satrec = element_set(export_tle(source)).satrec()
    except ValueError as err:  # perigee under ground: SGP4 refuses the elements themselves
        assert "rejected by SGP4" in str(err)
        return
    # a whole orbit, so that the perigee is passed
    period_s = 2.0 * math.pi / satrec.no_kozai * 60.0
    check_refusal(satrec, tle_epoch_utc(satrec) + timedelta(days=offset_days), period_s * 1.05)


@settings(max_examples=40, deadline=None)
@given(st.floats(200.0, 350.0), st.floats(0.02, 0.5), st.floats(30.0, 2000.0))
def test_high_drag_propagated_long_after_its_epoch_is_refused(altitude_km, bstar, days):
    source = Satrec()
    a_km = wgs72.radiusearthkm + altitude_km
    source.sgp4init(WGS72, "i", 1, 25000.0, bstar, 0.0, 0.0, 0.001, 0.0, math.radians(97.0), 0.0,
                    math.sqrt(wgs72.mu / a_km**3) * 60.0, 0.0)
    satrec = element_set(["0 FALLING", *export_tle(source)]).satrec()
    check_refusal(satrec, tle_epoch_utc(satrec) + timedelta(days=days), 7200.0)


# WIND (1994-071A) two hours after launch, from Vallado et al. 2006's SGP4 verification set (AIAA 2006-6753,
# SGP4-VER.TLE): e = 0.97, a 19.7-day orbit with its perigee near 200 km. Its osculating perigee from SGP4's state is
# thousands of km under ground, but a run of a day, climbing from 10,000 km, never comes near it.
WIND_TLE = ("1 23333U 94071A   94305.49999999 -.00172956  26967-3  10000-3 0    15",
            "2 23333  28.7490   2.3720 9728298  30.4360   1.3500  0.07309491    70")


def test_a_perigee_the_run_does_not_pass_is_not_held_against_it():
    satrec = satrec_from_tle(*WIND_TLE)
    start = tle_epoch_utc(satrec)
    assert implausible_orbit(satrec, start, DAY_S) is None
    assert skyfield_height_km(satrec, start, np.arange(0.0, DAY_S + 1.0, 10.0)).min() > 3000.0


@settings(max_examples=40, deadline=None)
@given(elements(min_perigee_km=-300.0, max_perigee_km=100.0), st.floats(0.1, 0.9))
def test_a_run_that_ends_before_a_low_perigee_is_refused_only_where_skyfield_sees_it_low(source, to_perigee):
    # The run starts just after a perigee and ends a fraction of an orbit later, before the next one.
    try:
        satrec = element_set(export_tle(source)).satrec()
    except ValueError:
        return  # perigee under ground: SGP4 refuses the elements themselves (test_perigee_below_the_floor_is_refused)
    period_s = 2.0 * math.pi / satrec.no_kozai * 60.0
    t_s = np.arange(0.0, period_s, 10.0)
    heights = skyfield_height_km(satrec, tle_epoch_utc(satrec), t_s)
    if np.isnan(heights).any():
        return
    after_s = float(t_s[np.argmin(heights)]) + 600.0
    start = tle_epoch_utc(satrec) + timedelta(seconds=after_s)
    duration_s = to_perigee * (period_s - 1200.0)
    refused = implausible_orbit(satrec, start, duration_s)
    if refused is None:
        heights = skyfield_height_km(satrec, start, np.append(np.arange(0.0, duration_s, 10.0), duration_s))
        assert heights.min() > MIN_ALTITUDE_KM - 0.5
    else:
        assert not refused[1].startswith("osculating perigee")
        check_refusal(satrec, start, duration_s)


@pytest.mark.parametrize("field, value", [("mean_motion", "17.50000000"), ("mean_motion", "99.99999999"),
                                          ("eccentricity", "9500000")])
def test_garbage_elements_are_refused(field, value):
    line2 = ISS_TLE[1]
    start, end = {"mean_motion": (52, 63), "eccentricity": (26, 33)}[field]
    line2 = with_checksum(line2[:start] + value + line2[end:])
    try:
        satrec = satrec_from_tle(ISS_TLE[0], line2)
    except ValueError as err:
        assert "rejected by SGP4" in str(err)
        return
    check_refusal(satrec, ISS_START_UTC, 2 * 3600.0)
