"""Scenario validation: every problem at once, each with its YAML path and line."""

from pathlib import Path

import pytest

from onboard.config import load_scenario
from rundir.errors import ConfigError

SCENARIOS = sorted(Path(__file__).parents[1].joinpath("scenarios").glob("*.yaml"))
QUICKSTART = Path(__file__).parents[1] / "scenarios" / "quickstart.yaml"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenarios_validate_and_have_a_seed(path):
    scenario = load_scenario(path)
    assert isinstance(scenario.seed, int)
    assert scenario.stages[-1].name in ("bent_pipe", "encode")


def write(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def issues(path, overrides=()):
    with pytest.raises(ConfigError) as err:
        load_scenario(path, list(overrides))
    return {(i.path, i.line) for i in err.value.issues}, err.value


def test_all_errors_reported_with_path_and_line(tmp_path):
    text = QUICKSTART.read_text()  # quickstart
    text = text.replace("gsd_m: 10.0", "gsd_m: -3").replace("rate_mbps: 100 ", "rate_mbps: fast ")
    text = text.replace("policy: drop_oldest", "policy: hoard")
    found, err = issues(write(tmp_path, text))
    lines = text.splitlines()
    expected = {"spacecraft.camera.gsd_m": "gsd_m: -3", "spacecraft.radio.rate_mbps": "rate_mbps: fast",
                "spacecraft.storage.policy": "policy: hoard"}
    for path, needle in expected.items():
        line = next(i + 1 for i, l in enumerate(lines) if needle in l)
        assert (path, line) in found
    assert "expected a value > 0, found int -3" in str(err)


def test_unknown_and_missing_keys(tmp_path):
    text = QUICKSTART.read_text().replace("  radio:\n", "  radiio:\n")
    found, err = issues(write(tmp_path, text))
    paths = {p for p, _ in found}
    assert "spacecraft.radiio" in paths and "spacecraft.radio" in paths
    assert "unknown key 'radiio'" in str(err)
    assert "the key is missing" in str(err)


def test_override_sets_nested_keys_and_list_items():
    scenario = load_scenario(QUICKSTART, ["spacecraft.radio.rate_mbps=55", "satellites.0.orbit.altitude_km=600",
                                             "pipeline[2].format=tiff", "seed=9"])
    assert scenario.spacecraft.radio.rate_mbps == 55
    assert scenario.satellites[0].orbit.altitude_km == 600
    assert scenario.stages[2].params.format == "tiff"
    assert scenario.seed == 9


def test_override_with_bad_value_is_a_config_error():
    found, err = issues(QUICKSTART, ["duration_h=-1"])
    assert found == {("duration_h", None)}
    assert err.issues[0].override == "--set duration_h=-1"
    assert "  --set duration_h=-1: duration_h: expected a value > 0, found int -1" in str(err)


@pytest.mark.parametrize("text,needle", [
    ("", "empty file"),
    ("a: [1,\n b: 2", "valid YAML"),
    ("- 1\n- 2\n", "a mapping of scenario keys"),
    ("name: x\nname: y\n", "duplicate key"),
])
def test_malformed_files(tmp_path, text, needle):
    _, err = issues(write(tmp_path, text))
    assert needle in str(err)


def test_binary_garbage(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(b"name: x\n\xff\xfe\x00garbage")
    found, err = issues(path)
    assert "binary data" in str(err) and found == {("", 2)}


def test_pipeline_rules(tmp_path):
    text = QUICKSTART.read_text().replace("  - stage: encode\n    format: png", "  - stage: encode\n  - stage: bent_pipe\n  - stage: blur")
    _, err = issues(write(tmp_path, text))
    assert "pipeline[4].stage: expected one of bent_pipe, cloud_filter, encode, superres" in str(err)
    assert "found str 'blur'" in str(err)


def test_encoder_must_be_last(tmp_path):
    text = QUICKSTART.read_text().replace("  - stage: encode\n    format: png", "  - stage: encode\n  - stage: bent_pipe")
    _, err = issues(write(tmp_path, text))
    assert "pipeline[2].stage: expected an encoder (encode) only as the last stage" in str(err)


def test_orbit_needs_exactly_one_definition(tmp_path):
    text = QUICKSTART.read_text().replace("      sun_synchronous: true\n", "      sun_synchronous: true\n      inclination_deg: 97\n")
    _, err = issues(write(tmp_path, text))
    assert "satellites[0].orbit.inclination_deg: expected exactly one of inclination_deg or sun_synchronous" in str(err)


def test_png_needs_1_3_or_4_bands(tmp_path):
    text = QUICKSTART.read_text().replace("bands: [B, G, R, NIR]", "bands: [G, NIR]")
    _, err = issues(write(tmp_path, text))
    assert "pipeline[2].format: expected tiff for a camera with 2 or more than 4 bands" in str(err)


# --- element sets: three lines, pasted text, and orbits that are no longer orbits (issue 11, kinds A and A') ---------

import yaml  # noqa: E402  (this block was appended; the imports above belong to the other tests)
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

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
])
def test_three_line_tle_pasted_as_list_or_text_names_an_unnamed_satellite(tmp_path, tle_yaml, title):
    scenario = load_scenario(tle_scenario(tmp_path, tle_yaml, name=None))
    sat = scenario.satellites[0]
    assert sat.orbit.title == title
    assert sat.name == {"OBJECT 511": "OBJECT-511", "ISS (ZARYA)": "ISS-ZARYA"}[title]
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
    assert main(["run", str(path), "--out", str(out), "--quiet"]) == 0
    assert f"orbitedge: warning: {warning}\n" in capsys.readouterr().err
    run_info = json.loads((out / "telemetry" / "run.json").read_text())
    assert run_info["warnings"] == [warning]
    assert run_info["element_sets"] == [{"satellite": "oldsat", "title": None, "epoch_utc": "2026-02-11T05:54:01.512Z"}]
    assert json.loads((out / "report.json").read_text())["warnings"] == [warning]
    report = (out / "report.md").read_text()
    assert f"**WARNING: {warning}**" in report.split("| run |")[0]  # near the top, before the run table


@settings(max_examples=40, deadline=None)
@given(st.floats(-30.0, 30.0), st.floats(0.1, 72.0))
def test_stale_warning_exactly_beyond_seven_days_from_the_epoch(offset_days, duration_h):
    import datetime as dt
    import tempfile

    from skyfield.api import EarthSatellite, load

    from onboard.elements import STALE_EPOCH_DAYS, satrec_from_tle

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


# --- YAML as people type it, --set values, every problem at once (issue 11, kinds E and F, item 7) -----------------

DATA = Path(__file__).parent / "data"
BASE = DATA / "base.yaml"  # the field cases' base scenario


def line_with(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_scientific_notation_is_a_number():
    radio = load_scenario(DATA / "yaml_sci_notation.yaml").spacecraft.radio
    assert radio.rate_mbps == 1000.0 and radio.frame_error_rate == 1e-5
    assert radio.payload_bytes_per_s == 1000e6 / 8 * (1 - 0.1)  # 1 Mbps = 1e6 bit/s, 10 % protocol overhead


def test_names_yaml_1_1_typed_are_refused_as_written_at_their_lines_with_how_to_quote_them():
    path = DATA / "yaml_implicit_types.yaml"
    found, err = issues(path)
    text = path.read_text()
    assert found == {("satellites[0].name", line_with(text, "name: 00511")),
                     ("ground_stations[0].name", line_with(text, "name: NO")),
                     ("targets[0].name", line_with(text, "name: on"))}
    for written, reading in (("00511", "int 329"), ("NO", "bool False"), ("on", "bool True")):
        assert f"found {written} (YAML reads it as {reading}): quote it, '{written}', to keep it text" in str(err)


def test_names_quoted_are_the_text(tmp_path):
    text = (DATA / "yaml_implicit_types.yaml").read_text()
    for name in ("00511", "NO", "on"):
        text = text.replace(f"name: {name},", f"name: '{name}',").replace(f"name: {name}\n", f"name: '{name}'\n")
    scenario = load_scenario(write(tmp_path, text))
    assert (scenario.satellites[0].name, scenario.ground_stations[0].name, scenario.targets[0].name) == ("00511", "NO", "on")


def test_leap_second_in_the_file_names_the_next_second():
    found, err = issues(DATA / "yaml_leap_second.yaml")
    assert found == {("start_utc", 3)}
    (issue,) = err.issues
    assert issue.found.startswith("2016-12-31T23:59:60Z (a leap second, as IERS Bulletin C announces them")
    assert issue.found.endswith("use 2017-01-01T00:00:00Z)")


@pytest.mark.parametrize("key, value", [
    ("start_utc", "2016-12-31T23:59:60Z"), ("start_utc", "2026-13-01"), ("duration_h", "!!int abc"),
    ("duration_h", "0550"), ("seed", "on"), ("targets[0].name", "NO"), ("targets[0].lat_deg", "91"),
    ("spacecraft.storage.policy", "off"), ("spacecraft.camera.bands", "[B, G, X]"), ("satellites[0].orbit", "[]"),
])
def test_a_set_value_gets_the_same_issue_as_the_same_value_in_the_file(tmp_path, key, value):
    text = BASE.read_text()
    in_file = {"start_utc": ("start_utc: 2026-06-21T00:00:00Z", f"start_utc: {value}"),
               "duration_h": ("duration_h: 2", f"duration_h: {value}"), "seed": ("seed: 1", f"seed: {value}"),
               "targets[0].name": ("name: paris", f"name: {value}"), "targets[0].lat_deg": ("lat_deg: 48.86", f"lat_deg: {value}"),
               "spacecraft.storage.policy": ("{capacity_mb: 500}", f"{{capacity_mb: 500, policy: {value}}}"),
               "spacecraft.camera.bands": ("bands: [B, G, R, NIR]", f"bands: {value}"),
               "satellites[0].orbit": ("orbit: {altitude_km: 550, sun_synchronous: true, ltan_h: 10.5}", f"orbit: {value}")}
    old, new = in_file[key]
    _, from_file = issues(write(tmp_path, text.replace(old, new)))
    _, from_set = issues(BASE, [f"{key}={value}"])
    own = [i for i in from_set.issues if i.override]
    assert [(i.path, i.expected, i.found) for i in own] == [(i.path, i.expected, i.found) for i in from_file.issues]
    assert all(i.line is None and i.override == f"--set {key}={value}" for i in own)
    assert f"  --set {key}={value}: {own[0].path}: expected " in str(from_set)


def test_set_values_that_are_right_are_used():
    scenario = load_scenario(BASE, ["spacecraft.radio.rate_mbps=1e3", "seed=0x1F", "targets[0].name='NO'",
                                    "start_utc=2017-01-01T00:00:00Z", "spacecraft.camera.width_px=1.28e2"])
    assert scenario.spacecraft.radio.rate_mbps == 1000.0 and scenario.seed == 31
    assert scenario.targets[0].name == "NO" and scenario.spacecraft.camera.width_px == 128
    assert scenario.start_utc.isoformat() == "2017-01-01T00:00:00+00:00"


def test_validate_reports_every_problem_at_once(tmp_path):
    """A wrong hardware name, a camera band order the cloud model was not made for, a name YAML 1.1 reads as a
    boolean and a bad --set value: one run lists all four, by line, the --set last."""
    text = BASE.read_text()
    text = text.replace("  storage:", "  compute: {hardware: jetson-nanoo}\n  storage:")
    text = text.replace("bands: [B, G, R, NIR]", "bands: [R, G, B, NIR]")
    text = text.replace("name: paris", "name: on")
    text = text.replace("pipeline:\n", "pipeline:\n  - stage: cloud_filter\n    model: cloud_bgrn_int8\n")
    path = write(tmp_path, text)
    found, err = issues(path, ["duration_h=abc"])
    assert [(i.path, i.line) for i in err.issues] == [
        ("spacecraft.compute.hardware", line_with(text, "jetson-nanoo")),
        ("targets[0].name", line_with(text, "name: on")),
        ("pipeline[0].model", line_with(text, "model: cloud_bgrn_int8")),
        ("duration_h", None)]
    message = str(err)
    assert "found 'jetson-nanoo'" in message and "a model for the camera's bands ['R', 'G', 'B', 'NIR']" in message
    assert "found on (YAML reads it as bool True): quote it" in message
    assert message.endswith("  --set duration_h=abc: duration_h: expected a number, found str 'abc'")


def test_unique_names_are_checked_when_another_section_is_wrong(tmp_path):
    text = BASE.read_text().replace("duration_h: 2", "duration_h: two")
    text = text.replace("targets:\n", "targets:\n  - {name: paris, lat_deg: 1, lon_deg: 2, radius_km: 2}\n")
    found, _ = issues(write(tmp_path, text))
    assert found == {("duration_h", line_with(text, "duration_h")), ("targets[1].name", line_with(text, "name: paris, lat_deg: 48"))}
