"""rundir.run_info: telemetry/run.json as a RunInfo, written by the spacecraft and read back by the ground the same."""

from __future__ import annotations

import dataclasses
import json

import pytest

from rundir.files import write_json
from rundir.records import RecordError
from rundir.run_info import (CameraInfo, DownlinkInfo, ElementSet, HeldoutScores, ModelFile, ModelValidation,
                             RealScores, RealValidation, RunInfo, SatelliteSummary, StageEntry, Stopped)

SUMMARY = SatelliteSummary("sso-1", 45, 44, 2.759, "projected", 7688997, 2_000_000_000, 0.89111, 0.0, 1383.0,
                           671.589, 0.0, {"storage_full": 1}, 0, 0.0)
INFO = RunInfo(
    "quickstart", 42, "2026-06-21T00:00:00.000Z", 86400.0, True, 41.158, ["sso-1"], ["svalbard", "matera"],
    wall_stage_s={"encode": 5.144}, warnings=["a warning"],
    element_sets=[ElementSet("sso-1", None, "2026-02-11T05:54:01.512Z")], bands=["B", "G", "R", "NIR"],
    pipeline=["cloud_filter", "encode"], hardware="host",
    stages=[StageEntry("cloud_filter", {"method": "model", "model": "auto", "threshold": 0.5}),
            StageEntry("encode", {"format": "png", "bits_per_sample": None, "level": 3})],
    model_cards={"cloud_filter": ModelValidation(
        "cloud_bgrn_int8", "2.0.0", "caf4" * 16, HeldoutScores(0.9582, 0.0362, 120),
        RealValidation("shared/data/real_cloud_val: 9 tiles", 9, RealScores(0.3799, 0.2345, 0.0105, 0.2427), 0.0362,
                       {"Sentinel-2 MSI": RealScores(0.8525, 0.743, 0.0115, 0.9308)}, threshold=0.5))},
    models={"cloud_filter": ModelFile("cloud_bgrn_int8", "cloud-unet-bgrn-int8", "2.0.0", "caf4" * 16)},
    camera=CameraInfo(512, 512, 10.0, 12, 1572864, 1, None),
    downlink=DownlinkInfo(100.0, 11e6, 1024, 0.0), estimate_format="png", satellite_summary=[SUMMARY])


def test_run_json_reads_back_as_written(tmp_path):
    write_json(tmp_path / "run.json", INFO.to_json())
    data = json.loads((tmp_path / "run.json").read_text())
    assert RunInfo.parse(data, "telemetry/run.json") == INFO
    assert data["stages"][1] == {"stage": "encode", "format": "png", "bits_per_sample": None, "level": 3}
    assert data["camera"]["superres_scale"] is None and data["downlink"]["payload_bytes_per_s"] == 11e6
    # left out while None: stopped (a complete run) and the link budget (a constant-rate radio)
    assert "stopped" not in data and "link_budget" not in data["downlink"]


def test_a_stopped_run_and_a_link_budget_are_written_when_present():
    info = dataclasses.replace(INFO, complete=False, stopped=Stopped("KeyboardInterrupt", 1234.5),
                               downlink=DownlinkInfo(100.0, None, 1024, 0.0, {"g_t_db_k": 20.0}))
    data = json.loads(json.dumps(info.to_json()))
    assert data["stopped"] == {"reason": "KeyboardInterrupt", "simulated_s": 1234.5}
    assert data["downlink"]["link_budget"] == {"g_t_db_k": 20.0} and data["downlink"]["payload_bytes_per_s"] is None
    assert RunInfo.parse(data, "telemetry/run.json") == info


def test_the_ground_needs_only_the_run_s_identity():
    """A run.json with the first eight fields only (an older run) reads with empty stages, no camera, no summary."""
    needed = ("scenario", "seed", "start_utc", "duration_s", "complete", "wall_time_s", "satellites", "stations")
    data = {k: v for k, v in INFO.to_json().items() if k in needed}
    info = RunInfo.parse(data, "telemetry/run.json")
    assert (info.stages, info.camera, info.satellite_summary, info.stage("encode")) == ([], None, [], None)
    assert info.estimate_format is None  # a run from before the estimates' format was recorded


def test_a_stage_is_found_by_name_and_says_whether_it_runs_a_model():
    assert INFO.stage("encode").params["format"] == "png" and INFO.stage("superres") is None
    assert INFO.stage("cloud_filter").uses_model and not INFO.stage("encode").uses_model
    assert not StageEntry("cloud_filter", {"model": "auto", "method": "spectral"}).uses_model


@pytest.mark.parametrize("change, field, expected", [
    ({"complete": "yes"}, "complete", "true or false"),
    ({"camera": {**INFO.camera.to_json(), "gsd_m": "10"}}, "camera.gsd_m", "a number"),
    ({"stages": [{"format": "png"}]}, "stages[0].stage", "a string (the stage's name)"),
    ({"satellite_summary": [{"satellite": "sso-1"}]}, "satellite_summary[0].frames_planned",
     "a value (a required field)"),
    ({"stopped": {"reason": "KeyboardInterrupt", "simulated_s": None}}, "stopped.simulated_s", "a number"),
])
def test_a_bad_run_json_names_the_field(change, field, expected):
    with pytest.raises(RecordError) as err:
        RunInfo.parse({**INFO.to_json(), **change}, "telemetry/run.json")
    assert (err.value.path, err.value.line, err.value.field, err.value.expected) == (
        "telemetry/run.json", None, field, expected)
    assert str(err.value).startswith(f"telemetry/run.json: {field}: expected {expected}, found ")


def test_a_cards_validation_keeps_its_json_shape_each_sensor_beside_pooled(tmp_path):
    write_json(tmp_path / "run.json", INFO.to_json())
    card = json.loads((tmp_path / "run.json").read_text())["model_cards"]["cloud_filter"]
    assert card["real_validation"]["all Sentinel-2 MSI"] == {"f1": 0.8525, "iou": 0.743, "fpr": 0.0115,
                                                              "recall": 0.9308}
    assert "sensors" not in card["real_validation"] and card["synthetic_heldout"]["frames"] == 120
    no_real = dataclasses.replace(INFO.model_cards["cloud_filter"], real_validation=None)
    assert "real_validation" not in no_real.to_json()  # a card without real figures: the key is left out


@pytest.mark.parametrize("edit,field,expected", [
    (lambda c: c["synthetic_heldout"].pop("frames"), "model_cards.cloud_filter.synthetic_heldout.frames",
     "a value (a required field)"),
    (lambda c: c["real_validation"]["all Sentinel-2 MSI"].update(recall="high"),
     "model_cards.cloud_filter.real_validation.all Sentinel-2 MSI.recall", "a number"),
    (lambda c: c.update(real_validation=[]), "model_cards.cloud_filter.real_validation", "a JSON object"),
])
def test_a_bad_card_validation_names_its_field(edit, field, expected):
    data = json.loads(json.dumps(INFO.to_json()))
    edit(data["model_cards"]["cloud_filter"])
    with pytest.raises(RecordError) as err:
        RunInfo.parse(data, "telemetry/run.json")
    assert (err.value.field, err.value.expected) == (field, expected)



def test_a_model_file_is_labelled_by_path_card_and_digest():
    model = INFO.models["cloud_filter"]
    assert model.label == "cloud_bgrn_int8 (cloud-unet-bgrn-int8 2.0.0, sha256 caf4caf4caf4)"
    with pytest.raises(RecordError, match=r"models\.cloud_filter\.sha256"):
        RunInfo.parse({**INFO.to_json(), "models": {"cloud_filter": {**model.to_json(), "sha256": 7}}}, "run.json")


def test_a_link_budget_without_a_constant_rate_reads_back():
    # scenarios/xband_acm.yaml: link_budget and no rate_mbps; the ground once refused its run.json as a bad file
    info = dataclasses.replace(INFO, downlink=DownlinkInfo(None, None, 1024, 0.0, {"g_t_db_k": 28.0}))
    data = json.loads(json.dumps(info.to_json()))
    assert data["downlink"]["rate_mbps"] is None and RunInfo.parse(data, "telemetry/run.json") == info
