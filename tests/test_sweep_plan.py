"""Planning a sweep (app.sweep_plan): the base scenario and its file checked, axis values and whole configurations
tried on it as --set would, the runs' Dask resources, and values written back as --set text and short labels."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.sweep_file import load_sweep
from app.sweep_plan import label_of, value_id, yaml_text
from onboard.scenario.yaml_source import load_yaml
from rundir.errors import ConfigError
from tests.sweep_cases import QUICKSTART, write_sweep


def problems(path):
    with pytest.raises(ConfigError) as err:
        load_sweep(path)
    return {(i.path, i.line): i for i in err.value.issues}, str(err.value)


def test_the_base_scenario_and_its_file_are_checked(tmp_path):
    found, _ = problems(write_sweep(tmp_path, "name: a\nscenario: nowhere.yaml\n"))
    assert found[("scenario", 2)].found == f"'nowhere.yaml': no such file ({(tmp_path / 'nowhere.yaml').resolve()})"
    (tmp_path / "scenarios").mkdir()
    found, _ = problems(write_sweep(tmp_path, "name: a\nscenario: scenarios\n"))
    assert found[("scenario", 2)].found == f"'scenarios': a folder ({(tmp_path / 'scenarios').resolve()})"
    (tmp_path / "bad.yaml").write_text(QUICKSTART.read_text().replace("duration_h: 24", "duration_h: many"))
    found, text = problems(write_sweep(tmp_path, "name: a\nscenario: bad.yaml\n"))
    assert list(found) == [("scenario", 2)] and "bad.yaml:8: duration_h: expected a number" in text


def test_configurations_are_checked_whole(tmp_path):
    # each value is fine alone; the RGB camera with the 4-band model is not
    found, text = problems(write_sweep(tmp_path, f"""name: pairs
scenario: {QUICKSTART}
axes:
  spacecraft.camera.bands: [[B, G, R, NIR], [B, G, R]]
  pipeline[0].model: [auto, cloud_bgrn_int8]
"""))
    assert list(found) == [("axes", 4)]
    assert "configuration 3 (spacecraft.camera.bands=[B, G, R], pipeline[0].model=cloud_bgrn_int8)" in text


def test_measured_runs_need_their_device_as_a_dask_resource(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, f"""name: hil
scenario: {QUICKSTART}
set: {{spacecraft.compute.timing: measured}}
axes:
  spacecraft.compute.hardware: [host, coral-usb]
  pipeline: {{values: [[{{stage: encode, format: png}}], [{{stage: bent_pipe}}]], labels: [png, raw]}}
"""))
    assert [(r.resources, r.labels["pipeline"]) for r in sweep.runs] == [
        ({"host": 1}, "png"), ({"host": 1}, "raw"), ({"coral-usb": 1}, "png"), ({"coral-usb": 1}, "raw")]
    assert sweep.runs[0].overrides[-1] == "pipeline=[{stage: encode, format: png}]"


@settings(max_examples=60, deadline=None)
@given(st.recursive(st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(),
                              st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.text("abcdefgh_", min_size=1, max_size=6), inner, max_size=3), max_leaves=8))
def test_a_value_as_set_text_reads_back_the_same(value):
    assert load_yaml(yaml_text(value), "--set")[0] == value


def test_values_equal_as_numbers_or_written_in_another_key_order_are_one_value():
    assert value_id(1) == value_id(1.0) == value_id(1e0) != value_id(1.5)
    assert value_id({"stage": "encode", "format": "png"}) == value_id({"format": "png", "stage": "encode"})
    assert value_id([{"a": 2.0, "b": 1}]) == value_id([{"b": 1.0, "a": 2}]) != value_id([{"a": 2, "b": 3}])


def test_labels_are_short():
    assert label_of(0.30000) == "0.3" and label_of("coral-usb") == "coral-usb"
    assert label_of([{"stage": "cloud_filter", "threshold": 0.4}, {"stage": "encode"}]) == "cloud_filter>encode"
    assert label_of({"a": 1}) == "{a: 1}"
