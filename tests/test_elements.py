"""Tests for onboard/orbit/elements.py: element sets: TLE parsing as users paste them, mean elements (sun-synchronous, LTAN,
phase), the plausibility check against skyfield, and stationary (geostationary) ground tracks.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sgp4.api import WGS72, Satrec
from sgp4.earth_gravity import wgs72
from sgp4.exporter import export_tle
from skyfield.api import EarthSatellite, wgs84

from onboard.orbit.elements import (MIN_ALTITUDE_KM, MIN_GROUND_TRACK_SPEED_KM_S, ElementSet, element_set,
                                   epoch_offset_days, implausible_orbit, satrec_from_elements, satrec_from_tle,
                                   stationary_track, sun_synchronous_inclination_deg, tle_epoch_utc)
from onboard.orbit.ephemeris import Ephemeris
from onboard.scenario.yaml_source import load_yaml
from onboard.orbit.sun import sun_direction_ecef
from tests.orbit_cases import DAY_S, GEO_START_UTC, ISS_START_UTC, ISS_TLE, SSO_START_UTC, TS, molniya_tle, sso_satrec




def with_checksum(line: str) -> str:
    """The line with a correct checksum digit in column 69."""
    return line[:68] + str(sum(int(c) if c.isdigit() else c == "-" for c in line[:68]) % 10)

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


@pytest.mark.parametrize("odd", ["\u2212", "\u2013"])  # a minus sign, an en dash
def test_a_character_that_is_not_ascii_is_named_with_its_column(odd):
    """A Unicode minus copied from a web page read "bad checksum: column 69 says 5, the line sums to 4", which named
    neither the character nor where it is."""
    line2 = ISS_TLE[1][:8] + odd + ISS_TLE[1][9:]
    with pytest.raises(ValueError, match=rf"TLE line 2 .*: expected ASCII characters .*, found '{odd}' "
                                         rf"\(U\+{ord(odd):04X}\) in column 9: retype it"):
        satrec_from_tle(ISS_TLE[0], line2)


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


# --- element sets as users paste them, and element sets that are no longer an orbit (issue 11, kinds A and A') -----

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


def skyfield_top_ground_speed_km_s(satrec: Satrec, start_utc: datetime, step_s: float) -> float:
    """The fastest the WGS84 sub-satellite point (skyfield's, an outside reference) moves over one orbit, from
    geodesic steps of ``step_s`` (s), km/s."""
    import pyproj

    t_s = np.arange(0.0, 2.0 * math.pi / satrec.no_kozai * 60.0 + step_s, step_s)
    point = wgs84.subpoint_of(EarthSatellite.from_satrec(satrec, TS).at(TS.from_datetime(start_utc) + t_s / DAY_S))
    lat, lon = point.latitude.degrees, point.longitude.degrees
    _, _, step_m = pyproj.Geod(ellps="WGS84").inv(lon[:-1], lat[:-1], lon[1:], lat[1:])
    return float(step_m.max() / 1000.0 / step_s)


def test_a_geostationary_track_is_stationary_at_the_speed_skyfield_sees():
    satrec = satrec_from_elements(GEO_START_UTC, 35786.0, 0.05, raan_deg=0.0)  # tests/data/geostationary.yaml
    found = stationary_track(satrec, GEO_START_UTC)
    assert found is not None and found.startswith("its sub-satellite point, starting over lat 0.00, lon 0.56, ")
    assert found.endswith("km/s over one 23.93 h orbit (a sidereal day is 23.93 h)")
    speed_km_s = float(found.split("moves at most ")[1].split(" km/s")[0])
    # 1 cm/s: the text's two digits; skyfield's chords of 10 min fall short of the top by 0.5 %
    assert speed_km_s == pytest.approx(skyfield_top_ground_speed_km_s(satrec, GEO_START_UTC, 600.0), abs=1e-5)


@pytest.mark.parametrize("name, satrec, step_s", [
    ("geosynchronous, inclined 10 deg", satrec_from_elements(GEO_START_UTC, 35786.0, 10.0, raan_deg=0.0), 600.0),
    ("geosynchronous, inclined 0.3 deg", satrec_from_elements(GEO_START_UTC, 35786.0, 0.3, raan_deg=0.0), 600.0),
    ("drifting 2 deg a day along the ring", satrec_from_elements(GEO_START_UTC, 35626.0, 0.0, raan_deg=0.0), 600.0),
    ("Molniya", satrec_from_tle(*molniya_tle()), 10.0),
    ("MEO, 8000 km", satrec_from_elements(GEO_START_UTC, 8000.0, 30.0, raan_deg=0.0), 60.0),
    ("ISS", satrec_from_tle(*ISS_TLE), 10.0),
])
def test_orbits_whose_track_moves_are_not_stationary_and_skyfield_agrees(name, satrec, step_s):
    start = GEO_START_UTC if name != "ISS" else ISS_START_UTC
    assert stationary_track(satrec, start) is None
    assert skyfield_top_ground_speed_km_s(satrec, start, step_s) > MIN_GROUND_TRACK_SPEED_KM_S


@settings(max_examples=40, deadline=None)
@given(st.floats(200.0, 39999.0), st.floats(0.0, 180.0), st.floats(0.0, 359.0), st.floats(0.0, 0.02))
def test_an_orbit_away_from_geostationary_is_never_stationary(altitude_km, inclination_deg, phase_deg, eccentricity):
    satrec = satrec_from_elements(GEO_START_UTC, altitude_km, inclination_deg, raan_deg=0.0, phase_deg=phase_deg,
                                  eccentricity=eccentricity)
    sidereal_day_s = 2.0 * math.pi / 7.292115e-5  # Earth's rotation rate (IERS Conventions 2010, table 1.1)
    period_s = 2.0 * math.pi / satrec.no_kozai * 60.0
    # a period 0.5 % off a sidereal day drifts 1.8 deg a day (2.3 m/s); inclined 0.5 deg: 4 m/s; e = 0.004: 3.7 m/s
    moves = abs(period_s / sidereal_day_s - 1.0) > 0.005 or inclination_deg > 0.5 or eccentricity > 0.004
    if moves:
        assert stationary_track(satrec, GEO_START_UTC) is None


@settings(max_examples=30, deadline=None)
@given(st.floats(35756.0, 35816.0), st.floats(0.0, 0.1, allow_subnormal=False), st.floats(0.0, 0.0005),
       st.floats(0.0, 359.0), st.floats(0.0, 359.0))
def test_a_satellite_kept_in_its_geostationary_box_is_stationary(altitude_km, inclination_deg, eccentricity,
                                                                 raan_deg, phase_deg):
    # +-30 km from the synchronous altitude drifts 0.4 deg a day at most; i <= 0.1 deg and 2e <= 0.06 deg: ITU's box
    satrec = satrec_from_elements(GEO_START_UTC, altitude_km, inclination_deg, raan_deg=raan_deg,
                                  phase_deg=phase_deg, eccentricity=eccentricity)
    assert stationary_track(satrec, GEO_START_UTC) is not None


def test_an_inclination_below_the_smallest_normal_float_in_radians_is_an_equatorial_orbit():
    """1e-307 deg is 1.7e-309 rad, a subnormal float, for which SGP4 gives NaN positions with no error code: the
    orbit is equatorial (found by hypothesis in the geostationary-box test)."""
    satrec = satrec_from_elements(GEO_START_UTC, 35756.0, 2.2250738585072014e-308, raan_deg=0.0)
    assert satrec.inclo == 0.0 and stationary_track(satrec, GEO_START_UTC) is not None
    assert satrec_from_elements(GEO_START_UTC, 35756.0, 1e-300, raan_deg=0.0).inclo > 0.0  # a normal float: kept


@pytest.mark.parametrize("columns, value, problem", [
    ((53, 63), " 0.00000000", "columns 53-63, mean motion 0: expected > 0 rev/day"),
    ((9, 16), "180.0001", "columns 9-16, inclination 180.0001: expected 0 to 180 degrees"),
    ((18, 25), "360.0000", "columns 18-25, right ascension of the ascending node 360: expected 0 to 360 degrees"),
    ((35, 42), "-17.6667", "columns 35-42, argument of perigee -17.6667: expected 0 to 360 degrees"),
])
def test_line_2_fields_out_of_their_ranges_are_named_by_their_columns(columns, value, problem):
    """Given as elements, inclination 190 was refused; in a TLE it flew, and a mean motion of 0 divided by zero."""
    from tests.test_fuzz import ISS_TLE, _fix_checksum

    first, last = columns
    line2 = _fix_checksum(ISS_TLE[1][:first - 1] + value + ISS_TLE[1][last:])
    with pytest.raises(ValueError, match=re.escape(f"TLE line 2 {line2!r}: {problem}")):
        satrec_from_tle(ISS_TLE[0], line2)
    assert satrec_from_tle(*ISS_TLE).error == 0


def test_a_tle_error_carries_the_element_line_it_is_in():
    """The scenario places it at that line's item from this, not from the message's words."""
    from onboard.orbit.elements import TleError
    from tests.test_fuzz import ISS_TLE, _fix_checksum

    cases = [((ISS_TLE[0][:68] + "0", ISS_TLE[1]), 1), ((ISS_TLE[0], ISS_TLE[1][:68] + "0"), 2),
             ((ISS_TLE[0], _fix_checksum(ISS_TLE[1][:2] + "99999" + ISS_TLE[1][7:])), 2),
             ((ISS_TLE[0], _fix_checksum(ISS_TLE[1][:53] + "X" + ISS_TLE[1][54:])), None)]
    for lines, element_line in cases:
        with pytest.raises(TleError) as err:
            satrec_from_tle(*lines)
        assert err.value.element_line == element_line, str(err.value)
