"""Scenario validation: every problem at once, each with its YAML path and line; and the tables of every key."""

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from app.run_setup import write_resolved
from onboard.runtime.modelcard import MODEL_DIR
from onboard.scenario.config import key_table, load_scenario
from rundir.errors import ConfigError
from tests.scenario_files import issues, write
from tests.test_plugins import EXAMPLE, TRIAGE, dist_info
from tests.test_raster import UTM33, write_raster

SCENARIOS = sorted(Path(__file__).parents[1].joinpath("scenarios").glob("*.yaml"))
QUICKSTART = Path(__file__).parents[1] / "scenarios" / "quickstart.yaml"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_shipped_scenarios_validate_and_have_a_seed(path):
    scenario = load_scenario(path)
    assert isinstance(scenario.seed, int)
    assert scenario.stages[-1].name in ("bent_pipe", "encode")


def test_a_seed_beyond_64_bits_is_refused_where_the_run_would_record_it_unreadably():
    """2^63 ran, and the ground then refused the run's own run.json (seed: expected an integer)."""
    with pytest.raises(ConfigError) as err:
        load_scenario(QUICKSTART, ["seed=9223372036854775808"])
    [issue] = err.value.issues
    assert (issue.path, issue.expected) == ("seed", "a value <= 9223372036854775807")
    assert load_scenario(QUICKSTART, ["seed=9223372036854775807"]).seed == 2**63 - 1


@pytest.mark.parametrize("key, bad", [("ground_stations", "lat_deg=400"), ("targets", "radius_km=-1"),
                                      ("satellites", "orbit.altitude_km=-5")])
def test_a_duplicate_name_is_reported_beside_another_problem_in_its_list(key, bad):
    """A second item named as the first was reported only once the list had no other problem: fixing one error
    revealed the next."""
    constellation = QUICKSTART.parent / "constellation_xband.yaml"
    first = load_scenario(constellation)
    name = getattr(first, key)[0].name
    with pytest.raises(ConfigError) as err:
        load_scenario(constellation, [f"{key}[1].name={name}", f"{key}[1].{bad}"])
    found = {issue.path: issue.found for issue in err.value.issues}
    assert found[f"{key}[1].name"].startswith(f"duplicate {name!r}") and f"{key}[1].{bad.split('=')[0]}" in found


def test_a_satellite_named_by_its_tle_title_is_a_duplicate_of_one_named_so():
    """A satellite with no name takes its three-line TLE's title (OBJECT 511 -> OBJECT-511): two of them, or one and
    a satellite named so, would write the same product files."""
    tle = ("tle: ['OBJECT 511', '1 00511U 62049D   26042.24585084  .00000071  00000-0  72510-4 0  9995', "
           "'2 00511  80.4307 316.8090 0031021 302.1739 213.9845 13.68550625162350']")
    case = QUICKSTART.parent.parent / "tests" / "data" / "tle_3line_name.yaml"
    for second in (f"{{orbit: {{{tle}}}}}", f"{{name: OBJECT-511, orbit: {{{tle}}}}}"):
        with pytest.raises(ConfigError) as err:
            load_scenario(case, [f"satellites=[{{orbit: {{{tle}}}}}, {second}]"])
        assert [(i.path, i.found) for i in err.value.issues if "duplicate" in i.found] == \
            [("satellites[1].name", "duplicate 'OBJECT-511'")]


def test_names_that_differ_only_in_case_are_duplicates():
    """POLAR and polar validated, and name product files that are one file on macOS and Windows."""
    constellation = QUICKSTART.parent / "constellation_xband.yaml"
    with pytest.raises(ConfigError) as err:
        load_scenario(constellation, ["satellites[1].name=EO-A1"])
    [issue] = err.value.issues
    assert (issue.path, issue.found) == ("satellites[1].name", "duplicate 'EO-A1' (as 'eo-a1' but for case: the same "
                                                               "file names where case is ignored)")


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


def test_a_key_written_twice_is_reported_with_every_other_problem(tmp_path):
    text = QUICKSTART.read_text().replace("gsd_m: 10.0", "gsd_m: -3")
    text = text.replace("\nseed: ", "\nseed: 7\nseed: ", 1)
    found, err = issues(write(tmp_path, text))
    lines = text.splitlines()
    second_seed = [i + 1 for i, l in enumerate(lines) if l.startswith("seed:")][1]
    gsd = next(i + 1 for i, l in enumerate(lines) if "gsd_m: -3" in l)
    assert {("seed", second_seed), ("spacecraft.camera.gsd_m", gsd)} <= set(found)
    assert "expected unique keys, found duplicate key 'seed'" in str(err)


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


def test_a_timeline_step_under_a_second_is_refused():
    """1e-6 s validated, and a run wrote 225 MB of timeline in 40 s (a 1 h run: 3.6e9 lines)."""
    found, err = issues(QUICKSTART, ["timeline_step_s=1e-6"])
    assert "  --set timeline_step_s=1e-6: timeline_step_s: expected a value >= 1, found float 1e-6" in str(err)


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


@pytest.mark.parametrize("encoding, found", [
    ("utf-16", "UTF-16 text (byte-order mark FF FE): save it as UTF-8"),
    ("latin-1", "text in another encoding (byte 0xE9 at column 10: invalid continuation byte; Latin-1 or "
                "Windows-1252?): save it as UTF-8")])
def test_text_in_another_encoding_is_named_as_such_not_as_binary_data(tmp_path, encoding, found):
    path = tmp_path / "s.yaml"
    path.write_bytes("seed: 3\nname: café\n".encode(encoding))
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    [issue] = err.value.issues
    assert (issue.expected, issue.found) == ("a UTF-8 YAML text file", found)
    assert issue.line == (1 if encoding == "utf-16" else 2)


def test_pipeline_rules(tmp_path):
    text = QUICKSTART.read_text().replace("  - stage: encode\n    format: png", "  - stage: encode\n  - stage: bent_pipe\n  - stage: blur")
    _, err = issues(write(tmp_path, text))
    assert "pipeline[4].stage: expected one of bent_pipe, cloud_filter, encode, superres" in str(err)
    assert "found str 'blur'" in str(err)


def test_encoder_must_be_last(tmp_path):
    text = QUICKSTART.read_text().replace("  - stage: encode\n    format: png", "  - stage: encode\n  - stage: bent_pipe")
    _, err = issues(write(tmp_path, text))
    assert "pipeline[2].stage: expected an encoder (encode) only as the last stage" in str(err)


def test_png_needs_1_3_or_4_bands(tmp_path):
    text = QUICKSTART.read_text().replace("bands: [B, G, R, NIR]", "bands: [G, NIR]")
    _, err = issues(write(tmp_path, text))
    assert "pipeline[2].format: expected tiff for a camera with 2 or more than 4 bands" in str(err)


# --- YAML as people type it, --set values, every problem at once (issue 11, kinds E and F, item 7) -----------------

DATA = Path(__file__).parent / "data"
BASE = DATA / "base.yaml"  # the field cases' base scenario


def line_with(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


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


def test_merge_keys_repeat_a_block_and_its_problems_are_at_the_lines_that_wrote_them(tmp_path):
    path = DATA / "yaml_merge_keys.yaml"
    scenario = load_scenario(path)
    first, second = scenario.satellites
    assert second.orbit == dataclasses.replace(first.orbit, phase_deg=180.0)
    assert [(g.name, g.lat_deg) for g in scenario.ground_stations] == [("svalbard", 78.23), ("svalbard-2", 78.23)]
    text = path.read_text().replace("altitude_km: 550", "altitude_km: -550").replace("svalbard-2", "'on'")
    text = text.replace("phase_deg: 180", "phase_deg: east")
    found, _ = issues(write(tmp_path, text))
    assert found == {("satellites[0].orbit.altitude_km", line_with(text, "&orb")),
                     ("satellites[1].orbit.altitude_km", line_with(text, "&orb")),  # the merged value: its line
                     ("satellites[1].orbit.phase_deg", line_with(text, "phase_deg: east"))}


def test_leap_second_in_the_file_names_the_next_second():
    found, err = issues(DATA / "yaml_leap_second.yaml")
    assert found == {("start_utc", 3)}
    (issue,) = err.issues
    assert issue.found.startswith("2016-12-31T23:59:60Z (a leap second, as IERS Bulletin C announces them")
    assert issue.found.endswith("use 2017-01-01T00:00:00Z)")


@pytest.mark.parametrize("start, found", [
    ("0226-06-21T00:00:00Z", "0226-06-21T00:00:00Z"),  # 2026 with a digit missing: the report's dates broke
    ("9999-12-31T23:00:00Z", "9999-12-31T23:00:00Z"),  # the end overflowed Python's dates
    ("2099-12-31T23:00:00Z", "2099-12-31T23:00:00Z, ending in 2100"),
    ("1956-12-31T00:00:00Z", "1956-12-31T00:00:00Z"),
])
def test_a_start_outside_the_supported_years_is_refused_at_its_line(tmp_path, start, found):
    text = BASE.read_text().replace("start_utc: 2026-06-21T00:00:00Z", f"start_utc: {start}")
    keys, err = issues(write(tmp_path, text))
    assert keys == {("start_utc", 3)}
    (issue,) = err.issues
    assert issue.expected.startswith("a run within the years 1957 to 2099") and issue.found == found
    assert load_scenario(BASE, ["start_utc=1957-01-01T00:00:00Z"]).start_utc.year == 1957
    assert load_scenario(BASE, ["start_utc=2099-12-31T21:00:00Z"]).start_utc.year == 2099  # a 2 h run ends in 2099


@pytest.mark.parametrize("key, value", [
    ("start_utc", "2016-12-31T23:59:60Z"), ("start_utc", "2026-13-01"), ("start_utc", "0226-06-21T00:00:00Z"),
    ("duration_h", "!!int abc"),
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
    text = text.replace("bands: [B, G, R, NIR]", "bands: [R, G, B]")
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
    assert "found 'jetson-nanoo'" in message and "a model for the camera's bands ['R', 'G', 'B']" in message
    assert "found on (YAML reads it as bool True): quote it" in message
    assert message.endswith("  --set duration_h=abc: duration_h: expected a number, found str 'abc'")


def test_unique_names_are_checked_when_another_section_is_wrong(tmp_path):
    text = BASE.read_text().replace("duration_h: 2", "duration_h: two")
    text = text.replace("targets:\n", "targets:\n  - {name: paris, lat_deg: 1, lon_deg: 2, radius_km: 2}\n")
    found, _ = issues(write(tmp_path, text))
    assert found == {("duration_h", line_with(text, "duration_h")), ("targets[1].name", line_with(text, "name: paris, lat_deg: 48"))}


def test_superres_on_cloudy_bursts_without_a_cloud_filter_is_a_warning_at_its_stage(tmp_path):
    assert load_scenario(QUICKSTART).warnings == ()  # cloud_filter comes first
    text = QUICKSTART.read_text()
    start = text.index("  - stage: cloud_filter")
    end = text.index("  - stage: superres")
    path = write(tmp_path, text[:start] + text[end:])  # the same pipeline without its cloud filter
    [warning] = load_scenario(path).warnings
    line = text[:start].count("\n") + 1
    assert warning == (f"{path}:{line}: pipeline[0]: expected a cloud_filter stage before superres when the bursts "
                       "are cloudy (cloud that moves between frames is otherwise fused and registered as ground), "
                       "found superres with no cloud_filter before it; clouds: world.mean_cloud_cover 0.35, "
                       "spacecraft.camera.burst.frame_cloud_cover 0.05")
    clear = ["world.mean_cloud_cover=0", "spacecraft.camera.burst.frame_cloud_cover=0"]
    assert load_scenario(path, clear).warnings == ()  # no cloud anywhere: nothing to filter
    [only_drift] = load_scenario(path, clear[:1]).warnings
    assert only_drift.endswith("clouds: spacecraft.camera.burst.frame_cloud_cover 0.05")


def test_storage_that_cannot_hold_one_capture_is_refused_at_its_line(tmp_path):
    """Every capture would be skipped as storage_full and the run would image nothing. The quickstart's capture
    is a burst of 8 frames of 256 x 256 x 4 samples at 12 bits (3.15 MB); one frame alone, without superres."""
    text = QUICKSTART.read_text().replace("capacity_mb: 2000", "capacity_mb: 3")
    found, err = issues(write(tmp_path, text))
    assert found == {("spacecraft.storage.capacity_mb", line_with(text, "capacity_mb: 3"))}
    assert err.issues[0].expected == ("room for one capture's raw frames, at least 3.14573 MB (256 x 256 px x 4 bands "
                                      "x 12 bit x 8 burst frames (superres))")
    assert err.issues[0].found == "3 MB: every capture would be skipped"
    single = ["pipeline=[{stage: cloud_filter}, {stage: encode, format: png}]"]
    assert load_scenario(write(tmp_path, text), single).spacecraft.storage.capacity_mb == 3  # 0.39 MB a frame
    found, _ = issues(QUICKSTART, [*single, "spacecraft.storage.capacity_mb=0.39"])
    assert found == {("spacecraft.storage.capacity_mb", None)}
    assert load_scenario(QUICKSTART, [*single, "spacecraft.storage.capacity_mb=0.394"]).warnings == ()


def test_a_warning_on_a_set_value_names_the_set():
    override = "pipeline=[{stage: superres}, {stage: encode, format: png}]"
    [warning] = load_scenario(QUICKSTART, [override]).warnings
    assert warning.startswith(f"{QUICKSTART}: --set {override}: pipeline[0]: expected a cloud_filter stage")


def test_an_unknown_key_a_set_makes_names_the_set_not_a_line_of_the_file():
    found, err = issues(QUICKSTART, ["nosuch.key=1"])
    assert found == {("nosuch", None)} and err.issues[0].override == "--set nosuch.key=1"
    assert "  --set nosuch.key=1: nosuch: expected one of the keys name," in str(err)


def test_the_key_tables_list_every_plugin_that_loads_and_say_why_one_does_not(tmp_path):
    """``python -m onboard.scenario.config`` (the README's key tables) with the example plugin and a broken one
    installed: every table, the example's parameters, and the broken plugin's row naming it and its import error."""
    site = dist_info(tmp_path / "site", "broken-plugin", "0.0.1", ["broken = broken_plugin:Broken"])
    (site / "broken_plugin.py").write_text("raise ImportError('this plugin needs libfoo 2.0')\n")
    dist_info(site, "orbitedge-scene-triage", "0.1.0", [TRIAGE])
    root = Path(__file__).parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (root, site, EXAMPLE)))}
    done = subprocess.run([sys.executable, "-m", "onboard.scenario.config"], capture_output=True, text=True, env=env,
                          cwd=tmp_path)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith(key_table() + "\n\n| plugin stage | parameter |")
    rows = [r for r in done.stdout.splitlines() if r.startswith("| `broken` ") or r.startswith("| `scene_triage` ")]
    assert rows[0] == ("| `broken` (broken-plugin 0.0.1) | | | | not loaded: stage plugin 'broken = "
                       "broken_plugin:Broken' (entry point group orbitedge.stages, distribution broken-plugin 0.0.1): "
                       "failed to import: ImportError: this plugin needs libfoo 2.0 |")
    assert [r.split(" | ")[1] for r in rows[1:]] == ["`model`", "`discard`", "`confidence`"]


@pytest.mark.parametrize("sweep", sorted(Path(__file__).parents[1].joinpath("sweeps").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_a_sweep_file_given_as_a_scenario_is_named_as_one(sweep):
    with pytest.raises(ConfigError) as err:
        load_scenario(sweep)
    (issue,) = err.value.issues  # one line that says what the file is, not every scenario key missing
    assert issue.found == f"a sweep file (scenario: names its base scenario): run it with `orbitedge sweep {sweep}`"


def test_a_sweep_file_without_axes_is_named_as_one_too(tmp_path):
    sweep = tmp_path / "one.yaml"
    sweep.write_text("name: one\nscenario: ../scenarios/quickstart.yaml\nreplicates: 3\n")  # axes are optional
    with pytest.raises(ConfigError) as err:
        load_scenario(sweep)
    assert [i.found for i in err.value.issues] == [f"a sweep file (scenario: names its base scenario): run it with "
                                                   f"`orbitedge sweep {sweep}`"]


# --- image files are opened whatever else is wrong, never on a part whose own keys are wrong -------------------------

def imagery_scenario(tmp_path: Path, world: str, *, duration: str = "duration_h: 2", rate: str = "100") -> Path:
    """BASE with ``world`` (YAML lines below ``world:``), a 3-band ``rgb.tif`` and a 1-band ``one.tif`` (uint16,
    UTM 33N, 20 m) beside it, ``duration`` for its duration_h line and ``rate`` as the radio's rate_mbps."""
    write_raster(tmp_path / "rgb.tif", np.full((3, 8, 8), 50, np.uint16), "EPSG:32633", UTM33)
    write_raster(tmp_path / "one.tif", np.full((8, 8), 50, np.uint16), "EPSG:32633", UTM33)
    text = BASE.read_text().replace("duration_h: 2\n", f"{duration}\nworld:\n{world}")
    return write(tmp_path, text.replace("rate_mbps: 100", f"rate_mbps: {rate}"))


WORLD = ("  source: geotiff\n  bands: {B: {file: rgb.tif, band: 4}, G: {file: rgb.tif, band: 2}, R: absent.tif}\n"
         "  dn_scale: 1.0e-4\n")


def test_image_files_are_opened_when_unrelated_keys_are_wrong(tmp_path, capsys):
    """A typo'd key and a wrong radio rate do not hide the band past the file's count, the missing file, nor the
    camera band the imagery lacks: one validate lists them all, at their lines, exit status 2."""
    path = imagery_scenario(tmp_path, WORLD)
    _, alone = issues(path)
    path = imagery_scenario(tmp_path, WORLD, duration="duraton_h: 2", rate="fast")
    found, err = issues(path)
    text = path.read_text()
    files = {(i.path, i.line, i.expected, i.found) for i in err.issues if i.path.startswith("world.")}
    assert files == {(i.path, i.line, i.expected, i.found) for i in alone.issues if i.path.startswith("world.")}
    assert found == {("duration_h", 1), ("duraton_h", 4), ("world.bands.B", 7), ("world.bands.R", 7),
                     ("spacecraft.camera.bands", line_with(text, "camera:")),
                     ("spacecraft.radio.rate_mbps", line_with(text, "rate_mbps: fast"))}
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr().err
    assert f"{path}:4: duraton_h: expected one of the keys name, seed," in out
    assert (f"{path}:7: world.bands.B: expected a band from 1 to 3 (1-based, as GDAL counts), found 'rgb.tif': band 4; "
            "the file has 3 bands") in out
    assert f"{path}:7: world.bands.R: expected an existing image file (relative to the scenario), found 'absent.tif'" \
        in out
    assert "found ['NIR'] not in world.bands" in out and "Traceback" not in out


def test_no_image_file_is_opened_for_a_world_part_whose_own_keys_are_wrong(tmp_path, capsys):
    """A band entry with a band 0, one with an unknown key, and a mask whose bit rules are wrong are reported as
    themselves, and their files are not opened; a sound entry beside them still is. A wrong dn_scale (which the bands'
    checks read) leaves every band unopened, not the mask."""
    world = ("  source: geotiff\n  bands: {B: {file: one.tif, band: 0}, G: {file: absent.tif, band: 1, fiel: 2},"
             " R: {file: rgb.tif, band: 7}, NIR: one.tif}\n  mask: absent.tif\n"
             "  mask_bits: [{bits: 99, equals: 1, cloud: thin}]\n  dn_scale: 1.0e-4\n")
    path = imagery_scenario(tmp_path, world, duration="duration_h: -2")
    _, err = issues(path)
    assert [(i.path, i.line, i.found.split(":")[0]) for i in err.issues] == [
        ("duration_h", 4, "int -2"), ("world.bands.B.band", 7, "int 0"),
        ("world.bands.G.fiel", 7, "unknown key 'fiel'"), ("world.bands.R", 7, "'rgb.tif'"),
        ("world.mask_bits[0].bits", 9, "99")]  # absent.tif, as G's file and as the mask: not opened
    assert "band 7; the file has 3 bands" in err.issues[3].found
    path = imagery_scenario(tmp_path, world.replace("bits: 99", "bits: 0").replace("1.0e-4", "-1"))
    _, err = issues(path)
    assert [(i.path, i.found) for i in err.issues] == [
        ("world.bands.B.band", "int 0"), ("world.bands.G.fiel", "unknown key 'fiel'"),
        ("world.mask", f"'absent.tif' ({tmp_path / 'absent.tif'}): no such file"),  # the path it tried
        ("world.dn_scale", "int -1")]  # rgb.tif's band 7: not opened
    assert main(["validate", str(path)]) == 2 and "Traceback" not in capsys.readouterr().err


def test_ram_that_cannot_hold_one_frame_is_refused_at_the_hardware_line_with_every_other_problem():
    """20000 x 20000 px x 4 bands of DN and reflectance, 9155.27 MiB a frame, on jetson-orin-nano's 8192 MiB
    (onboard.scenario.working_memory); mass memory cannot hold the frame either."""
    xband = QUICKSTART.with_name("xband_acm.yaml")
    text = xband.read_text()
    found, err = issues(xband, ["spacecraft.camera.width_px=20000", "spacecraft.camera.height_px=20000"])
    assert found == {("spacecraft.compute.hardware", line_with(text, "hardware: jetson-orin-nano")),
                     ("spacecraft.storage.capacity_mb", line_with(text, "capacity_mb: 1000"))}
    assert "at least 9155.27 MiB" in str(err) and "found jetson-orin-nano with memory_mb 8192 (MiB)" in str(err)


def test_a_burst_the_hardware_holds_only_window_by_window_is_a_warning_at_the_hardware_line(tmp_path):
    """Bursts of 8 at 4096 x 4096 px hold 2048 MiB as the superres stage holds them, past coral-devboard's 1024."""
    text = QUICKSTART.read_text().replace("hardware: host", "hardware: coral-devboard")
    path = write(tmp_path, text)
    assert load_scenario(path).warnings == ()  # 256 x 256 px: 8 MiB
    [warning] = load_scenario(path, ["spacecraft.camera.width_px=4096", "spacecraft.camera.height_px=4096"]).warnings
    assert warning.startswith(f"{path}:{line_with(text, 'hardware: coral-devboard')}: spacecraft.compute.hardware: "
                              "expected RAM for the burst as the simulated superres stage holds it, at least 2048 MiB")


def test_the_resolved_scenario_names_relative_files_by_their_absolute_paths_and_loads_from_a_run_directory(tmp_path):
    """Image files and a user's model file written relative to the scenario reach the resolved scenario (the
    run directory's scenario.yaml) as absolute paths, so that it loads from there; shipped model names stay."""
    parana = QUICKSTART.with_name("landsat_parana.yaml")
    resolved = load_scenario(parana).resolved
    bands = resolved["world"]["bands"]
    assert all(Path(f).is_absolute() and Path(f).is_file() for f in bands.values())
    given = parana.parent / "../../shared/data/landsat8_p224_r077_r078/LC08_L1TP_224077_20200518_20200518_01_RT_B2.TIF"
    assert Path(bands["B"]).samefile(given) and ".." not in Path(bands["B"]).parts  # ../shared kept as a link
    (tmp_path / "mission" / "models").mkdir(parents=True)
    for suffix in (".tflite", ".json"):
        (tmp_path / "mission" / "models" / f"mine{suffix}").write_bytes(
            (MODEL_DIR / f"cloud_bgrn_int8{suffix}").read_bytes())
    path = tmp_path / "mission" / "s.yaml"
    path.write_text(QUICKSTART.read_text())
    resolved = load_scenario(path, ["pipeline[0].model=models/mine.tflite"]).resolved
    assert resolved["pipeline"][0]["model"] == str(tmp_path / "mission" / "models" / "mine.tflite")
    assert resolved["pipeline"][1].get("model", "auto") == "auto"
    (tmp_path / "run").mkdir()
    write_resolved(tmp_path / "run", load_scenario(path, ["pipeline[0].model=models/mine.tflite"]))
    again = load_scenario(tmp_path / "run" / "scenario.yaml")
    assert again.stages[0].params.model == str(tmp_path / "mission" / "models" / "mine.tflite")


def test_a_linked_model_keeps_its_link_and_a_shipped_name_stays_a_name_even_beside_a_file_of_that_name(tmp_path):
    """A model linked into place (git-annex, DVC) is named by the link, beside which its card is; ``model: auto``
    names the shipped model whatever files lie beside the scenario."""
    store, mission = tmp_path / "store", tmp_path / "mission"
    (mission / "models").mkdir(parents=True)
    store.mkdir()
    (store / "blob_1234").write_bytes((MODEL_DIR / "cloud_bgrn_int8.tflite").read_bytes())
    (mission / "models" / "mine.tflite").symlink_to(store / "blob_1234")
    (mission / "models" / "mine.json").write_bytes((MODEL_DIR / "cloud_bgrn_int8.json").read_bytes())
    (mission / "auto").write_text("not a model")
    path = mission / "s.yaml"
    path.write_text(QUICKSTART.read_text())
    resolved = load_scenario(path, ["pipeline[0].model=models/../models/mine.tflite"]).resolved
    assert resolved["pipeline"][0]["model"] == str(mission / "models" / "mine.tflite")
    assert load_scenario(path, ["pipeline[0].model=auto"]).resolved["pipeline"][0]["model"] == "auto"


@pytest.mark.parametrize("name", ["../../escape", "/tmp/abs", "..", ".", "a\\b", '"a\\tb"', "m\ufeffy", "a\u200bb"])
def test_a_scenario_name_that_is_a_path_is_refused_at_its_line(name):
    """runs/<name> is the default run directory: a name with a path in it would write outside runs/."""
    found, err = issues(QUICKSTART, [f"name={name}"])
    assert [i.path for i in err.issues] == ["name"] and "a name that names one folder" in str(err)


def test_a_scenario_name_with_spaces_or_dots_inside_is_fine():
    assert load_scenario(QUICKSTART, ["name=my mission v1.2"]).name == "my mission v1.2"


def test_a_device_given_as_the_scenario_is_a_clean_error(capsys):
    assert main(["validate", "/dev/zero"]) == 2
    err = capsys.readouterr().err
    assert "expected a readable scenario file, found not a regular file (a device or a pipe)" in err
