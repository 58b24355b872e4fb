"""rundir.run_info: telemetry/run.json as a RunInfo, written by the spacecraft and read back by the ground the same."""

from __future__ import annotations

import dataclasses
import json

import pytest

from rundir.files import write_json
from rundir.records import RecordError
from rundir.run_info import (CameraInfo, DownlinkInfo, ElementSet, RunInfo, SatelliteSummary, StageEntry,
                             Stopped)

SUMMARY = SatelliteSummary("sso-1", 45, 44, 2.759, "projected", 7688997, 2_000_000_000, 0.89111, 0.0, 1383.0,
                           671.589, 0.0, {"storage_full": 1}, 0, 0.0)
INFO = RunInfo(
    "quickstart", 42, "2026-06-21T00:00:00.000Z", 86400.0, True, 41.158, ["sso-1"], ["svalbard", "matera"],
    wall_stage_s={"encode": 5.144}, warnings=["a warning"],
    element_sets=[ElementSet("sso-1", None, "2026-02-11T05:54:01.512Z")], bands=["B", "G", "R", "NIR"],
    pipeline=["cloud_filter", "encode"], hardware="host",
    stages=[StageEntry("cloud_filter", {"method": "model", "model": "auto", "threshold": 0.5}),
            StageEntry("encode", {"format": "png", "bits_per_sample": None, "level": 3})],
    model_cards={"cloud_filter": {"name": "cloudnet", "benchmark": {"host_latency_ms_p50": 3.5}}},
    camera=CameraInfo(512, 512, 10.0, 12, 1572864, 1, None),
    downlink=DownlinkInfo(100.0, 11e6, 1024, 0.0), satellite_summary=[SUMMARY])


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
