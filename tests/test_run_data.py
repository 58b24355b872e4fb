"""ground.run_data: a run directory read into RunData (products verified, telemetry read, what is missing noted)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml

from conftest import FRAME_RAW_BYTES
from ground.report import build_report, write_report
from ground.run_data import load_run
from rundir.telemetry import OPTIONAL_FILES, TELEMETRY_FILES
from rundir.errors import InputFileError


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("folder", ["truth", "evaluation"])
def test_a_damaged_scoring_file_is_named_before_the_report_writes_anything(tiny_run, folder):
    """A truth/ or evaluation/ file cut short stopped the report halfway: the mosaics were made again (from the
    products that now verify) while report.json still told of the last report's."""
    write_report(tiny_run)
    mosaics = {p.name: p.stat().st_mtime_ns for p in (tiny_run / "mosaics").iterdir()}
    damaged = tiny_run / folder / "sat-1-f000000.npz"  # as the spacecraft writes them: deflated arrays
    damaged.parent.mkdir(exist_ok=True)
    np.savez_compressed(damaged, cloud=np.random.default_rng(0).integers(0, 3, (64, 64), np.uint8))
    damaged.write_bytes(damaged.read_bytes()[:1000])
    (tiny_run / "downlink" / "manifest.jsonl").write_text("")
    with pytest.raises(InputFileError, match="not a readable .npz archive of arrays") as err:
        load_run(tiny_run)
    assert err.value.path == str(damaged)
    assert {p.name: p.stat().st_mtime_ns for p in (tiny_run / "mosaics").iterdir()} == mosaics


def test_a_whole_run_is_read(tiny_run):
    run = load_run(tiny_run)
    assert run.missing == [] and run.anomalies == []
    assert run.run_info.to_json().items() >= json.loads((tiny_run / "telemetry" / "run.json").read_text()).items()
    assert run.link is None  # no link budget in this run: an optional file
    for name in (name for name in TELEMETRY_FILES if name not in OPTIONAL_FILES):  # each record writes back its line
        expected = lines(tiny_run / "telemetry" / f"{name}.jsonl")
        assert [{key: record.to_json()[key] for key in line} for record, line in zip(getattr(run, name), expected)] \
            == expected and len(getattr(run, name)) == len(expected)
    manifest = lines(tiny_run / "downlink" / "manifest.jsonl")
    assert [line.id for line in run.delivered] == [line["id"] for line in manifest]
    assert [m["tif"] for m in run.mosaics] == ["mosaics/sat-1-p000.tif"]
    assert (tiny_run / "mosaics" / "sat-1-p000.tif").is_file()


def test_absent_parts_are_listed_once(tiny_run):
    shutil.rmtree(tiny_run / "telemetry")
    (tiny_run / "scenario.yaml").unlink()
    run = load_run(tiny_run)
    assert run.missing == ["telemetry/", "scenario.yaml"]  # no telemetry/*.jsonl entry under an absent telemetry/
    assert run.run_info is None and run.scenario is None and run.ledger is None and run.timeline is None
    (tiny_run / "telemetry").mkdir()
    required = [name for name in TELEMETRY_FILES if name not in OPTIONAL_FILES]
    assert load_run(tiny_run).missing == ["telemetry/run.json", "scenario.yaml",
                                          *(f"telemetry/{name}.jsonl" for name in required)]


@pytest.mark.parametrize("text, detail", [("[1, 2]", "expected a mapping, found list"), ("{", "cannot parse")])
def test_a_bad_run_json_is_an_anomaly(tiny_run, text, detail):
    (tiny_run / "telemetry" / "run.json").write_text(text)
    run = load_run(tiny_run)
    assert run.run_info is None and "telemetry/run.json" not in run.missing
    [found] = run.anomalies
    assert (found["kind"], found["file"]) == ("bad_file", "telemetry/run.json") and detail in found["detail"]


def test_a_scenario_yaml_that_does_not_parse_is_named_with_its_line(tiny_run):
    """PyYAML's own text named '"<unicode string>", line 1' rather than the file and its line."""
    (tiny_run / "scenario.yaml").write_text("name: x\nseed: 1\nworld: {source: [synthetic\n")
    [found] = load_run(tiny_run).anomalies
    assert (found["kind"], found["file"], found["line"]) == ("bad_file", "scenario.yaml", 4)
    assert found["detail"].startswith("cannot parse: ") and "<unicode string>" not in found["detail"]


def test_a_row_its_record_refuses_is_left_out_as_a_bad_line(tiny_run):
    """The ledger's second row has a count as text and the contact lost its LOS: each a bad_line naming line and
    field; the other rows are read."""
    ledger = lines(tiny_run / "telemetry" / "ledger.jsonl")
    ledger[1]["products_delivered"] = "2"
    contacts = lines(tiny_run / "telemetry" / "contacts.jsonl")
    del contacts[0]["los_t_s"]
    for name, rows in (("ledger", ledger), ("contacts", contacts)):
        (tiny_run / "telemetry" / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = load_run(tiny_run)
    assert [r.frame_id for r in run.ledger] == [ledger[i]["frame_id"] for i in (0, 2, 3)] and run.contacts == []
    assert [(a["kind"], a["file"], a["line"], a["detail"]) for a in run.anomalies] == [
        ("bad_line", "telemetry/ledger.jsonl", 2, 'line 2: products_delivered: expected an integer, found "2"'),
        ("bad_line", "telemetry/contacts.jsonl", 1,
         "line 1: los_t_s: expected a value (a required field), found nothing: the key is missing")]


def test_a_run_json_with_a_field_of_the_wrong_type_is_a_bad_file(tiny_run):
    info = json.loads((tiny_run / "telemetry" / "run.json").read_text())
    (tiny_run / "telemetry" / "run.json").write_text(json.dumps({**info, "camera": {"gsd_m": 10.0}}))
    run = load_run(tiny_run)
    assert run.run_info is None
    [found] = run.anomalies
    assert (found["kind"], found["file"], found["detail"]) == (
        "bad_file", "telemetry/run.json", "camera.width_px: expected a value (a required field), found nothing: the "
        "key is missing")


@pytest.mark.parametrize("make", [lambda p: p / "absent", lambda p: p])
def test_not_a_run_directory_names_it(tmp_path, make):
    with pytest.raises(InputFileError) as err:
        load_run(make(tmp_path))
    assert err.value.path == str(make(tmp_path))


def test_a_timeline_row_beyond_64_bits_is_a_bad_line_and_the_rest_is_read(tiny_run):
    """The timeline is held in int64 and float64 columns: a storage count that does not fit is a bad_line."""
    samples = lines(tiny_run / "telemetry" / "timeline.jsonl")
    samples[0]["storage_bytes"] = 10**30
    (tiny_run / "telemetry" / "timeline.jsonl").write_text("".join(json.dumps(s) + "\n" for s in samples))
    run = load_run(tiny_run)
    assert len(run.timeline) == len(samples) - 1 and list(run.timeline.t_s) == [s["t_s"] for s in samples[1:]]
    assert [(a["kind"], a["line"], a["detail"]) for a in run.anomalies] == [
        ("bad_line", 1, f"line 1: storage_bytes: expected an integer, found {10**30}")]


def test_a_file_given_as_the_run_directory_is_named_as_a_file(tmp_path):
    (tmp_path / "run.log").write_text("x")
    with pytest.raises(InputFileError, match="run.log: not a run directory: a file"):
        load_run(tmp_path / "run.log")
    with pytest.raises(InputFileError, match="nowhere: no such run directory"):
        load_run(tmp_path / "nowhere")


def test_a_frame_whose_product_failed_the_ground_checks_is_left_out_of_every_section(tiny_run):
    # one of frame 0's products deleted from downlink/: bandwidth, comparison and the clear-ground frames (cloud
    # section, oracle) all leave frame 0 out, and the ledger counts it unverified
    import dataclasses

    import numpy as np

    from ground import clear_ground
    from ground.bandwidth import bandwidth_section
    from ground.comparison import comparison
    from ground.frame_ledger import ledger_section
    from rundir.run_info import CameraInfo
    from rundir.truth import write_truth

    manifest = [json.loads(line) for line in (tiny_run / "downlink" / "manifest.jsonl").read_text().splitlines()]
    frames = sorted({m["frame_ids"][0] for m in manifest})
    for frame_id in frames:
        write_truth(tiny_run, frame_id, np.zeros((16, 32), np.uint8), np.zeros((16, 32), bool),
                    np.zeros((16, 32), np.uint8), np.ones((16, 32), bool))
    whole = load_run(tiny_run)
    assert whole.finished == set(frames) and "warnings" not in ledger_section(whole)
    (tiny_run / "downlink" / next(m["file"] for m in manifest if m["frame_ids"][0] == frames[0])).unlink()
    run = load_run(tiny_run)
    run.run_info = dataclasses.replace(run.run_info, camera=CameraInfo(32, 16, 10.0, 0, 384, 1, None))
    assert run.finished == set(frames[1:])
    assert [f.frame_id for f in clear_ground.frames(run)] == frames[1:]
    assert comparison(run, {})["frames"] == len(frames) - 1
    ledger = ledger_section(run)
    assert ledger["frames_unverified"] == 1 and "failed the ground's checks" in ledger["warnings"][0]
    assert bandwidth_section(run)["raw_bytes_lost"] == FRAME_RAW_BYTES
    assert bandwidth_section(whole)["raw_bytes_lost"] == 0


@pytest.mark.parametrize("world, truth", [
    (None, "synthetic"), ({"source": "synthetic"}, "synthetic"),
    ({"source": "geotiff", "bands": {"R": "r.tif"}, "mask": "m.tif"}, "imagery_mask"),
    ({"source": "geotiff", "bands": {"R": "r.tif"}, "mask": {"file": "qa.tif", "band": 1}}, "imagery_mask"),
    ({"source": "geotiff", "bands": {"R": "r.tif"}}, None)])
def test_the_cloud_truth_is_named_by_the_scenario_s_world(tiny_run, world, truth):
    """The synthetic world's, the cloud mask given with real imagery, or none (real imagery without a mask)."""
    scenario = yaml.safe_load((tiny_run / "scenario.yaml").read_text()) or {}
    scenario.pop("world", None)
    (tiny_run / "scenario.yaml").write_text(yaml.safe_dump({**scenario, **({"world": world} if world else {})}))
    assert load_run(tiny_run).cloud_truth == truth


def test_a_scenario_value_of_the_wrong_type_is_a_bad_file_read_as_absent(tiny_run):
    """scenario.yaml edited by hand (``world: 5``) stopped the report with a traceback; each value the ground reads
    of the wrong type is now an anomaly, and its default is taken."""
    scenario = yaml.safe_load((tiny_run / "scenario.yaml").read_text())
    scenario |= {"world": 5, "seed": "forty-two", "downlink": {"order": ["value_density"]}}
    (tiny_run / "scenario.yaml").write_text(yaml.safe_dump(scenario))
    run = load_run(tiny_run)
    assert [(a["kind"], a["file"], a["detail"]) for a in run.anomalies] == [
        ("bad_file", "scenario.yaml", "seed: expected int, found str 'forty-two'; read as absent"),
        ("bad_file", "scenario.yaml", "world: expected a mapping, found int 5; read as absent"),
        ("bad_file", "scenario.yaml", "downlink.order: expected str, found list ['value_density']; read as absent")]
    assert run.cloud_truth == "synthetic" and "world" not in run.scenario and run.scenario["downlink"] == {}
    warning = build_report(tiny_run)["ground"]["warning"]
    assert warning.startswith("3 records of the run could not be read (scenario.yaml)")
