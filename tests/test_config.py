"""Scenario validation: every problem at once, each with its YAML path and line."""

from pathlib import Path

import pytest

from onboard.config import load_scenario
from onboard.errors import ConfigError

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
