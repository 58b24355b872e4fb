"""The satellites' config (onboard/scenario/orbit_config.py) through real scenarios: exactly one orbit definition, three-line
TLEs pasted as lists or text naming the satellite, element sets that are no longer orbits refused, and runs far from
a TLE's epoch warned of (issue 11, kinds A and A'); a geostationary satellite, whose ground track does not move for
strips of frames, refused."""

import datetime as dt
import math
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from onboard.scenario.config import load_scenario
from onboard.scenario.orbit_config import OrbitConfig
from rundir.errors import ConfigError
from tests.scenario_files import issues, write

QUICKSTART = Path(__file__).parents[1] / "scenarios" / "quickstart.yaml"


def test_orbit_needs_exactly_one_definition(tmp_path):
    text = QUICKSTART.read_text().replace("      sun_synchronous: true\n", "      sun_synchronous: true\n      inclination_deg: 97\n")
    _, err = issues(write(tmp_path, text))
    assert "satellites[0].orbit.inclination_deg: expected exactly one of inclination_deg or sun_synchronous" in str(err)




TLE_DATA = Path(__file__).parent / "data"
OBJECT_511 = ("1 00511U 62049D   26042.24585084  .00000071  00000-0  72510-4 0  9995",
              "2 00511  80.4307 316.8090 0031021 302.1739 213.9845 13.68550625162350")  # epoch 2026-02-11T05:54:01Z


def tle_scenario(tmp_path, tle_yaml: str, start_utc: str = "2026-02-11T06:00:00Z", name: str | None = "oldsat"):
    """The three-line field case with its satellite's ``tle:`` block (YAML text, indented 6) and name replaced."""
    text = (TLE_DATA / "tle_3line_name.yaml").read_text()
    head, rest = text.split("      tle:\n", 1)
    tail = rest[rest.index("ground_stations:"):]
    head = head.replace("2026-02-11T06:00:00Z", start_utc)
    if name is None:
        head = head.replace("  - name: oldsat\n    orbit:\n", "  - orbit:\n")
    return write(tmp_path, head + "      tle:" + tle_yaml + tail)


@pytest.mark.parametrize("case, satellite, found", [
    ("tle_decayed_garbage", "obj-55897", "semi-major axis 2.17815e+10 km, not within 2% of the 6674 km its mean "
                                         "motion of 15.921462 rev/day implies; the run ends 21.8 days after the TLE "
                                         "epoch 2025-02-27T02:58:39Z, over the 7-day limit"),
    ("tle_stale_epoch", "vigoride-6", "below the 150 km floor; semi-major axis"),
])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_element_sets_that_are_no_longer_orbits_exit_2_naming_the_satellite(tmp_path, capsys, case, satellite,
                                                                          found, command):
    from app.cli import main

    path = TLE_DATA / f"{case}.yaml"
    out = tmp_path / "run"
    assert main([command, str(path), *(["--out", str(out), "--quiet"] if command == "run" else [])]) == 2
    err = capsys.readouterr().err
    assert f"{path}:19: satellites[0].orbit.tle: expected a TLE that SGP4 propagates as an orbit over the whole " \
           f"run, found satellite '{satellite}' at " in err
    assert found in err and "Traceback" not in err
    assert not out.exists()  # refused before anything ran


def test_mean_elements_that_decay_are_named_as_elements():
    with pytest.raises(ConfigError) as err:
        load_scenario(QUICKSTART, ["satellites[0].orbit.altitude_km=160"])
    (issue,) = err.value.issues
    assert (issue.path, issue.expected) == ("satellites[0].orbit",
                                            "mean elements that SGP4 propagates as an orbit over the whole run")
    assert "below the 150 km floor" in issue.found


def test_stale_field_case_says_how_stale(tmp_path):
    _, err = issues(TLE_DATA / "tle_stale_epoch.yaml")
    assert "altitude 127.4 km, below the 150 km floor" in str(err)
    assert "the run ends 1162.7 days after the TLE epoch 2023-04-15T08:10:08Z, over the 7-day limit" in str(err)


def test_three_line_tle_keeps_the_name_and_the_title():
    scenario = load_scenario(TLE_DATA / "tle_3line_name.yaml")
    sat = scenario.satellites[0]
    assert (sat.name, sat.orbit.title, scenario.warnings) == ("oldsat", "OBJECT 511", ())


@pytest.mark.parametrize("tle_yaml, title", [
    ('\n        - "0 OBJECT 511"\n' + "".join(f'        - "{line}"\n' for line in OBJECT_511), "OBJECT 511"),
    (" |\n        0 ISS (ZARYA)\n" + "".join(f"        {line}\n" for line in OBJECT_511), "ISS (ZARYA)"),
    (" |2\n\n          OBJECT 511  \n" + "".join(f"        {line}   \n" for line in OBJECT_511) + "\n", "OBJECT 511"),
    (" >-\n        OBJECT 511\n\n" + "\n\n".join(f"        {line}" for line in OBJECT_511) + "\n", "OBJECT 511"),
    ('\n        - "0 ÜBER-SAT 1"\n' + "".join(f'        - "{line}"\n' for line in OBJECT_511), "ÜBER-SAT 1"),
])
def test_three_line_tle_pasted_as_list_or_text_names_an_unnamed_satellite(tmp_path, tle_yaml, title):
    scenario = load_scenario(tle_scenario(tmp_path, tle_yaml, name=None))
    sat = scenario.satellites[0]
    assert sat.orbit.title == title
    assert sat.name == {"OBJECT 511": "OBJECT-511", "ISS (ZARYA)": "ISS-ZARYA", "ÜBER-SAT 1": "UBER-SAT-1"}[title]
    satrec = sat.orbit.satrec(scenario.start_utc)
    assert (satrec.satnum, satrec.no_kozai) == (511, pytest.approx(13.68550625 * 2 * 3.141592653589793 / 1440, rel=1e-12))


@pytest.mark.parametrize("tle_yaml, path, found", [
    ('\n        - "* * *"\n' + "".join(f'        - "{line}"\n' for line in OBJECT_511),
     "satellites[0].name", "found a title '* * *' without letters or digits"),
    ("".join(f'\n        - "{line}"' for line in OBJECT_511) + "\n", "satellites[0].name", "found neither"),
    (" ISS (ZARYA)\n", "satellites[0].orbit.tle", "1 non-blank line(s)"),
    (" {a: 1}\n", "satellites[0].orbit.tle", "expected a list or a string, found dict"),
    ("".join(f'\n        - "{line}"' for line in (OBJECT_511[0], *OBJECT_511)) + "\n", "satellites[0].orbit.tle",
     "is an element line, not a title"),
])
def test_tle_that_cannot_name_or_define_the_satellite_is_a_config_error(tmp_path, tle_yaml, path, found):
    paths, err = issues(tle_scenario(tmp_path, tle_yaml, name=None))
    assert {p for p, _ in paths} == {path}
    assert found in str(err)


def test_a_run_far_from_the_epoch_warns_in_stderr_run_json_and_report(tmp_path, capsys):
    import json

    from app.cli import main

    path = tle_scenario(tmp_path, "".join(f'\n        - "{line}"' for line in OBJECT_511) + "\n",
                        start_utc="2026-02-21T06:00:00Z")
    warning = (f"{path}:14: satellites[0].orbit.tle: expected a TLE epoch within 7 days of the run (SGP4's error "
               "grows by 1-3 km a day from it), found satellite 'oldsat': the run ends 10.1 days after the TLE epoch "
               "2026-02-11T05:54:01Z, over the 7-day limit; positions and passes drift: use a recent TLE")
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().err == f"orbitedge: warning: {warning}\n"
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out)]) == 0
    assert f"orbitedge: warning: {warning}\n" in capsys.readouterr().err
    assert main(["run", str(path), "--out", str(out), "--overwrite", "--quiet"]) == 0
    assert capsys.readouterr().err == ""  # --quiet: nothing but errors
    run_info = json.loads((out / "telemetry" / "run.json").read_text())
    assert run_info["warnings"] == [warning]
    assert run_info["element_sets"] == [{"satellite": "oldsat", "title": None, "epoch_utc": "2026-02-11T05:54:01.512Z"}]
    # the run's own warning first; this short run captures nothing, which the report also says
    assert json.loads((out / "report.json").read_text())["warnings"] == [warning, (
        "nothing was captured: no capture was planned, since no target passed within the camera's reach "
        "(spacecraft.camera.max_off_nadir_deg) with the sun above spacecraft.camera.min_sun_elevation_deg in the time "
        "simulated; check the targets, the orbits, start_utc and duration_h.")]
    report = (out / "report.md").read_text()
    assert f"**WARNING: {warning}**" in report.split("| run |")[0]  # near the top, before the run table


@settings(max_examples=40, deadline=None)
@given(st.floats(-30.0, 30.0), st.floats(0.1, 72.0))
def test_stale_warning_exactly_beyond_seven_days_from_the_epoch(offset_days, duration_h):
    import datetime as dt
    import tempfile

    from skyfield.api import EarthSatellite, load

    from onboard.orbit.elements import STALE_EPOCH_DAYS, satrec_from_tle

    epoch = EarthSatellite.from_satrec(satrec_from_tle(*OBJECT_511), load.timescale(builtin=True)).epoch.utc_datetime()
    start = (epoch + dt.timedelta(days=offset_days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    tle_yaml = "".join(f'\n        - "{line}"' for line in OBJECT_511) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = tle_scenario(Path(tmp), tle_yaml, start_utc=start)
        path.write_text(path.read_text().replace("duration_h: 2", f"duration_h: {duration_h!r}"))
        scenario = load_scenario(path)
    far_days = max(abs(offset_days), abs(offset_days + duration_h / 24.0))
    assume(abs(far_days - STALE_EPOCH_DAYS) > 1e-6)  # NOTE: within a tenth of a second either answer is right
    assert (len(scenario.warnings) == 1) == (far_days > STALE_EPOCH_DAYS)


def test_elements_become_the_sgp4_record_they_describe():
    """Mean motion from Kepler's third law with WGS72's mu (398600.8 km^3/s^2) and equatorial radius (6378.135 km),
    the angles as given, the epoch at the run's start."""
    start = dt.datetime(2026, 6, 21, 9, 40, tzinfo=dt.timezone.utc)
    orbit = OrbitConfig(altitude_km=700.0, inclination_deg=53.0, raan_deg=120.0, phase_deg=30.0)
    assert orbit.check() == [] and orbit.title is None
    satrec = orbit.satrec(start)
    a_km = 6378.135 + 700.0
    assert satrec.no_kozai == pytest.approx(math.sqrt(398600.8 / a_km**3) * 60.0, rel=1e-9)  # rad/min
    assert (math.degrees(satrec.inclo), math.degrees(satrec.nodeo)) == pytest.approx((53.0, 120.0), abs=1e-9)
    assert satrec.jdsatepoch + satrec.jdsatepochF == pytest.approx(2461212.902778, abs=1e-6)  # 2026-06-21 09:40 UTC


@pytest.mark.parametrize("fields,path,found", [
    ({"altitude_km": 550.0, "inclination_deg": 97.6, "sun_synchronous": True, "raan_deg": 0.0}, "inclination_deg",
     "both"),
    ({"altitude_km": 550.0, "sun_synchronous": True}, "ltan_h", "neither"),
    ({"inclination_deg": 53.0}, "altitude_km", "neither"),
])
def test_a_config_that_is_not_one_orbit_says_which_field(fields, path, found):
    [issue] = OrbitConfig(**fields).check()
    assert (issue.path, issue.found) == (path, found)


GEOSTATIONARY = TLE_DATA / "geostationary.yaml"  # a user's trial: 35786 km, inclined 0.05 deg, a 6 h run


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_geostationary_satellite_exits_2_at_its_orbit_saying_its_track_does_not_move(tmp_path, capsys, command):
    from app.cli import main

    out = tmp_path / "run"
    assert main([command, str(GEOSTATIONARY), *(["--out", str(out), "--quiet"] if command == "run" else [])]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"orbitedge: error: {GEOSTATIONARY}: 1 problem(s)\n  {GEOSTATIONARY}:15: satellites[0].orbit: expected a "
        "ground track that moves, at 0.002 km/s or more at its fastest: the camera takes strips of frames along it, "
        "spaced by its motion, found satellite 'geo-1': its sub-satellite point, starting over lat 0.00, lon 0.56, "
        "moves at most 0.00056 km/s over one 23.93 h orbit (a sidereal day is 23.93 h): a geostationary orbit, which "
        "strip imaging cannot use (a geosynchronous orbit inclined 0.3 deg or more moves enough)\n")
    assert not out.exists()  # refused before anything ran


def test_a_geostationary_tle_is_refused_at_its_tle(tmp_path):
    from sgp4.api import WGS72, Satrec
    from sgp4.earth_gravity import wgs72
    from sgp4.exporter import export_tle

    source = Satrec()  # 35786 km, equatorial, epoch 2026-02-11T06:00Z, the field case's start
    source.sgp4init(WGS72, "i", 99002, 2461082.75 - 2433281.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                    math.sqrt(wgs72.mu / (wgs72.radiusearthkm + 35786.0) ** 3) * 60.0, 0.0)
    paths, err = issues(tle_scenario(tmp_path, "".join(f'\n        - "{line}"' for line in export_tle(source)) + "\n"))
    assert paths == {("satellites[0].orbit.tle", 14)}
    assert "found satellite 'oldsat': its sub-satellite point, starting over lat 0.00, lon " in str(err)


@pytest.mark.parametrize("overrides", [
    ["satellites[0].orbit.inclination_deg=10"],  # a figure-8 of +-10 deg: 0.08 km/s at its nodes
    ["satellites[0].orbit.inclination_deg=0.3"],  # +-0.3 deg: 0.0026 km/s
    ["satellites[0].orbit.altitude_km=8000", "satellites[0].orbit.inclination_deg=30"],  # MEO: 1.9 km/s
])
def test_orbits_whose_track_moves_are_not_refused(overrides):
    assert load_scenario(GEOSTATIONARY, overrides).satellites[0].name == "geo-1"


def test_a_molniya_tle_is_not_refused(tmp_path):
    from tests.orbit_cases import molniya_tle

    text = GEOSTATIONARY.read_text().replace(
        "    orbit: {altitude_km: 35786, inclination_deg: 0.05, raan_deg: 0, phase_deg: 0}\n",
        "    orbit:\n      tle:\n" + "".join(f'        - "{line}"\n' for line in molniya_tle()))
    assert load_scenario(write(tmp_path, text)).satellites[0].orbit.tle is not None


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_no_shipped_satellite_has_a_stationary_track(path):
    scenario = load_scenario(path)
    assert all(sat.stationary_track(scenario.start_utc) is None for sat in scenario.satellites)


def test_a_target_no_camera_can_reach_is_a_warning_at_its_latitude():
    """quickstart's 550 km SSO (ground tracks to 82.4 deg) with 40 deg of pointing reaches 86.9 deg: the pole and
    87.5 deg are named, 86 deg is not; a second satellite in a polar orbit reaches them all."""
    targets = ("targets=[{name: pole, lat_deg: 90, lon_deg: 0, radius_km: 3}, {name: near, lat_deg: 86, lon_deg: 0, "
               "radius_km: 3}, {name: south, lat_deg: -87.5, lon_deg: 10, radius_km: 3}]")
    scenario = load_scenario(QUICKSTART, [targets])
    assert [w.split(": expected")[0].rsplit(": ", 1)[1] for w in scenario.warnings] == [
        "targets[0].lat_deg", "targets[2].lat_deg"]
    assert ("at most 86.9 deg of geocentric latitude here (ground tracks up to 82.4 deg, and 40 deg off nadir reaches "
            "4.5 deg beyond), found 90 deg ('pole', 90.0 deg geocentric): no capture can be planned over it"
            ) in scenario.warnings[0]
    polar = "satellites=[{name: sso, orbit: {altitude_km: 550, sun_synchronous: true, ltan_h: 10.5}}, " \
            "{name: polar, orbit: {altitude_km: 550, inclination_deg: 90, raan_deg: 0}}]"
    assert not any("targets[" in w for w in load_scenario(QUICKSTART, [targets, polar]).warnings)
