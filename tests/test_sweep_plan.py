"""Planning a sweep (app.sweep_plan): the base scenario and its file checked, axis values and whole configurations
tried on it as --set would, the runs' Dask resources, and values written back as --set text and short labels."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.sweep_file import load_sweep
from app.sweep_plan import RUN_ID_PATTERN, distinct_labels, label_of, value_id, yaml_text
from onboard.scenario.yaml_source import load_yaml
from rundir.errors import ConfigError
from tests.sweep_cases import QUICKSTART, TINY, write_sweep


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
    assert list(found) == [("scenario", 2)]
    assert f"{(tmp_path / 'bad.yaml').resolve()}:8: duration_h: expected a number" in text
    # a sweep file given as the base: the problem is the whole file's, with no key to name
    found, _ = problems(write_sweep(tmp_path, f"name: a\nscenario: {write_sweep(tmp_path, TINY, 'other.yaml')}\n"))
    assert found[("scenario", 2)].found.startswith(f"{(tmp_path / 'other.yaml').resolve()}:")
    assert ": : " not in found[("scenario", 2)].found


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


SET_TWO_STAGES = "set: {pipeline: [{stage: cloud_filter, tile_px: 64}, {stage: encode, format: png}]}\n"


@pytest.mark.parametrize("alias", ["pipeline.0.threshold", "pipeline[-2].threshold", "pipeline.-2.threshold"])
def test_two_axes_that_set_one_key_however_written_are_refused(tmp_path, alias):
    # the later axis would set every run's threshold, while its labels named the earlier's values
    found, text = problems(write_sweep(tmp_path, f"""name: alias
scenario: {QUICKSTART}
{SET_TWO_STAGES}axes:
  pipeline[0].threshold: [0.3, 0.7]
  {alias}: [0.5]
"""))
    assert list(found) == [(f"axes.{alias}", 6)]
    assert found[(f"axes.{alias}", 6)].expected.startswith("one axis per scenario key (the later axis's value would "
                                                           "replace the earlier's in every run")
    assert found[(f"axes.{alias}", 6)].found == \
        f"{alias} (that is pipeline[0].threshold), also set by axes.pipeline[0].threshold (line 5)"


@pytest.mark.parametrize("block_first", [False, True])
def test_an_axis_inside_a_block_another_axis_sets_whole_is_refused(tmp_path, block_first):
    inner = "  pipeline[0].threshold: [0.3, 0.7]\n"
    block = ("  pipeline:\n    values: [[{stage: cloud_filter, tile_px: 64}, {stage: encode, format: png}], "
             "[{stage: bent_pipe}]]\n    labels: [cf, bp]\n")
    found, _ = problems(write_sweep(tmp_path, f"name: block\nscenario: {QUICKSTART}\naxes:\n"
                                              + (block + inner if block_first else inner + block)))
    issue, = found.values()
    assert issue.expected.startswith("no axis inside a block that another axis sets whole")
    if block_first:
        assert (issue.path, issue.line, issue.found) == (
            "axes.pipeline[0].threshold", 7, "pipeline[0].threshold, inside pipeline, which axes.pipeline (line 5) "
                                             "sets whole")
    else:
        assert (issue.path, issue.line, issue.found) == (
            "axes.pipeline", 6, "pipeline, which holds pipeline[0].threshold, set by axes.pipeline[0].threshold "
                                "(line 4)")


def test_axes_on_keys_side_by_side_are_planned(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, f"""name: apart
scenario: {QUICKSTART}
{SET_TWO_STAGES}axes:
  pipeline[0].threshold: [0.3, 0.7]
  pipeline.0.tile_px: [32, 64]
  pipeline[1].format: [png, tiff]
"""))
    assert len(sweep.runs) == 8
    assert all(re.fullmatch(RUN_ID_PATTERN, run.run_id) for run in sweep.runs)  # as --overwrite finds their locks


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


def test_sampled_values_a_hair_apart_get_labels_that_tell_them_apart(tmp_path):
    """50 thresholds drawn from 0.5 to 0.5000001 all read 0.5 in %g: tables and plots could not tell the
    configurations apart. Their labels take the digits that do (as many as 12), and no more."""
    sweep = load_sweep(write_sweep(tmp_path, f"""name: narrow
scenario: {QUICKSTART}
axes:
  pipeline[0].threshold: {{start: 0.5, stop: 0.5000001}}
sampling: {{method: random, samples: 50}}
"""))
    labels = [spec.labels["pipeline[0].threshold"] for spec in sweep.runs]
    assert len(set(labels)) == 50 and all(label.startswith("0.5000000") for label in labels)
    assert distinct_labels([0.3, 0.7, 0.30000000004, 2]) == {"0.3": "0.3", "0.7": "0.7", "0.30000000004":
                                                                   "0.30000000004", "2": "2"}
    assert distinct_labels([0.25, 0.75]) == {"0.25": "0.25", "0.75": "0.75"}
