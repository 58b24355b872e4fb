"""A run's scenario settings: its scenario.yaml flattened to the keys --set takes, those that differ between runs
(numbers as numbers, a key one run lacks), and a scenario.yaml that is missing or unreadable."""

import shutil

import pytest

from app.run_setup import RESOLVED_SCENARIO
from app.settings import differing, flat, read_settings
from rundir.errors import InputFileError
from tests.sweep_cases import made_sweep


def test_flat_keys_are_those_set_takes():
    data = {"seed": 3, "world": {"mean_cloud_cover": 0.5}, "spacecraft": {"camera": {"bands": ["B", "G"]}},
            "pipeline": [{"stage": "cloud_filter", "threshold": 0.5}, {"stage": "encode", "format": "png"}],
            "targets": []}
    assert flat(data) == {"seed": 3, "world.mean_cloud_cover": 0.5, "spacecraft.camera.bands": ["B", "G"],
                          "pipeline[0].stage": "cloud_filter", "pipeline[0].threshold": 0.5,
                          "pipeline[1].stage": "encode", "pipeline[1].format": "png", "targets": []}


def test_the_settings_that_differ():
    a = {"duration_h": 0.3, "spacecraft.radio.rate_mbps": 100, "pipeline[0].threshold": 0.5, "seed": 42}
    b = {"duration_h": 0.35, "spacecraft.radio.rate_mbps": 0.5, "seed": 42, "downlink.order": "value_density"}
    assert differing([a, b]) == {"duration_h": ["0.3", "0.35"], "spacecraft.radio.rate_mbps": ["100", "0.5"],
                                 "pipeline[0].threshold": ["0.5", None], "downlink.order": [None, "value_density"]}
    assert differing([{"rate_mbps": 1}, {"rate_mbps": 1.0}, None]) == {}  # the same number; no scenario.yaml
    assert differing([{"rate_mbps": 1}, None, {"rate_mbps": 2}]) == {"rate_mbps": ["1", None, "2"]}
    assert differing([{"w": {"a": 1, "b": 2}}, {"w": {"b": 2, "a": 1}}]) == {}
    assert differing([None, None]) == {} == differing([])


def test_a_real_run_directory(tmp_path):
    outcome, _ = made_sweep()
    run_dir = outcome.out / "runs" / "c001-r0"
    settings = read_settings(run_dir)
    assert settings["pipeline[0].threshold"] == 0.7 and settings["duration_h"] == 0.25  # the axis and the sweep's set
    assert settings["spacecraft.camera.bands"] == ["B", "G", "R", "NIR"] and settings["seed"] == 42
    assert differing([read_settings(outcome.out / "runs" / r) for r in ("c000-r0", "c001-r0", "c001-r1")]) == {
        "seed": ["42", "42", "43"], "pipeline[0].threshold": ["0.3", "0.7", "0.7"]}
    copy = shutil.copytree(run_dir, tmp_path / "copy")
    (copy / RESOLVED_SCENARIO).unlink()
    assert read_settings(copy) is None


@pytest.mark.parametrize("text, problem", [
    # the line and the problem in validate's words, not PyYAML's five lines with a caret in "<unicode string>"
    (b"a: [1, 2\n", "not a readable scenario: line 2: expected valid YAML, found expected ',' or ']', but got "
                    "'<stream end>' (while parsing a flow sequence opened on line 1)"),
    (b"a: 1\nb: \xff\n", "not a readable scenario: line 2: expected a UTF-8 YAML text file"),
    (b"a: 1\na: 2\n", "not a readable scenario: line 2: expected unique keys, found duplicate key 'a'"),
    (b"- 1\n- 2\n", "expected a mapping, found list")])
def test_an_unreadable_scenario_is_named_with_its_line(tmp_path, text, problem):
    (tmp_path / RESOLVED_SCENARIO).write_bytes(text)
    with pytest.raises(InputFileError) as err:
        read_settings(tmp_path)
    assert err.value.path == str(tmp_path / RESOLVED_SCENARIO) and problem in err.value.problem
