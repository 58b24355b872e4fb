"""ground.compute: the report's ``compute`` section, read from telemetry/processing.jsonl and run.json, on a real run
(tests/report_run.py) and on the tiny run of tests/conftest.py given stage times of known medians; its blocks as
report.md shows them; a run that processed no frame; None without processing records or run.json."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from conftest import jsonl
from ground.compute import compute_blocks, compute_section, queue_warning
from ground.document import Heading, to_markdown
from ground.run_data import load_run
from tests.report_run import sweep_run


def processing(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "telemetry" / "processing.jsonl").read_text().splitlines()]


def test_stage_times_are_those_of_the_processing_records():
    run = sweep_run()
    section = compute_section(run)
    records = processing(run.run_dir)
    assert section["frames"] == len(records) == 5
    assert (section["timing"], section["hardware"]) == ("projected", "host")
    assert list(section["stages"]) == ["cloud_filter", "encode"]
    for name, stage in section["stages"].items():
        sim_s = [r["compute_stage_s"][name] for r in records]
        wall_s = [r["wall_s"][name] for r in records]
        assert stage["frames"] == 5
        assert stage["total_s"] == pytest.approx(sum(sim_s), abs=1e-9)
        assert (stage["p50_s"], stage["max_s"]) == (statistics.median(sim_s), max(sim_s))
        assert stage["wall_p50_s"] == statistics.median(wall_s)
        assert 0 < stage["p50_s"] <= stage["max_s"] <= stage["total_s"]


def test_the_stage_totals_make_the_satellites_busy_time():
    run = sweep_run()
    section = compute_section(run)
    (satellite,) = section["satellites"]
    assert satellite["satellite"] == "sso-1" and run.run_info.duration_s == 900.0
    busy_s = satellite["compute_busy_s"]
    assert sum(s["total_s"] for s in section["stages"].values()) == pytest.approx(busy_s, abs=1e-3)  # run.json: ms
    assert satellite["utilisation"] == pytest.approx(busy_s / 900.0, rel=1e-12)


def test_the_real_runs_blocks_name_its_stages_and_satellite():
    section = compute_section(sweep_run())
    heading, paragraph, table = compute_blocks(section)
    assert heading == Heading(2, "On-board compute")
    assert paragraph.text.startswith("Stage times per frame, projected for the host profile from the reference host "
                                     "(5 frames). sso-1 busy ")
    assert paragraph.text.endswith(f" ({section['satellites'][0]['utilisation']:.3%} of the run). No frame waited "
                                   "for the computer after its capture. The host wall time is this machine's for the "
                                   "whole stage, the work done only to score it on the ground (evaluation data) "
                                   "included.")
    assert table.header == ("stage", "projected p50", "projected max", "projected total", "host wall p50")
    assert [row[0] for row in table.rows] == ["cloud_filter", "encode"]


def summary(satellite: str, busy_s: float) -> dict:
    """A run.json satellite_summary entry: ``busy_s`` of compute, the rest of no concern here."""
    return {"satellite": satellite, "frames_planned": 4, "frames_captured": 4, "compute_busy_s": busy_s,
            "compute_timing": "projected", "storage_peak_bytes": 1, "storage_capacity_bytes": 2, "battery_min_soc": 1.0,
            "brownout_s": 0.0, "energy_in_wh": 1.0, "energy_out_wh": 1.0, "energy_unmet_wh": 0.0}


@pytest.fixture
def rpi4_run(tiny_run: Path) -> Path:
    """The tiny run projected for a Raspberry Pi 4, three times slower than the host that ran it: a cloud filter on
    three frames (2, 7 and 3 s: a median of 3 s, a mean of 4 s), super-resolution on two (40 and 50 s); sat-1 busy
    for their 102 s, of the run's 7200 s."""
    info = json.loads((tiny_run / "telemetry" / "run.json").read_text())
    info.update(hardware="rpi4", satellite_summary=[summary("sat-1", 102.0)])
    (tiny_run / "telemetry" / "run.json").write_text(json.dumps(info))
    stage_s = [{"cloud_filter": 2.0, "superres": 40.0}, {"cloud_filter": 7.0, "superres": 50.0}, {"cloud_filter": 3.0}]
    jsonl(tiny_run / "telemetry" / "processing.jsonl", [
        {"frame_id": f"sat-1-f{f:06d}", "satellite": "sat-1", "stages": [*s, "encode"], "burst_frames": 1,
         "compute_s": sum(s.values()), "compute_timing": "projected", "compute_stage_s": s,
         "wall_s": {name: t / 3 for name, t in s.items()}, "tiles_kept": 1, "tiles_dropped": 0,
         "alternative_bytes": {}} for f, s in enumerate(stage_s)])
    return tiny_run


def test_a_projected_run_in_report_md(rpi4_run):
    section = compute_section(load_run(rpi4_run))
    assert section["stages"]["cloud_filter"] == {"frames": 3, "total_s": 12.0, "p50_s": 3.0, "max_s": 7.0,
                                                 "wall_p50_s": pytest.approx(1.0)}
    assert section["satellites"] == [{"satellite": "sat-1", "compute_busy_s": 102.0,
                                      "utilisation": pytest.approx(102.0 / 7200.0)}]
    assert to_markdown(compute_blocks(section)).splitlines() == [
        "## On-board compute", "",
        "Stage times per frame, projected for the rpi4 profile from the reference host (3 frames). "
        "sat-1 busy 1.7 min (1.417% of the run). 1 frame was never taken up before the end. The host wall time is "
        "this machine's for the whole stage, the work done only to score it on the ground (evaluation data) "
        "included.", "",
        "| stage | projected p50 | projected max | projected total | host wall p50 |",
        "|---|---:|---:|---:|---:|",
        "| cloud_filter | 3.0 s | 7.0 s | 12.0 s | 1.0 s |",
        "| superres | 45.0 s | 50.0 s | 1.5 min | 15.0 s |"]


def test_measured_times_are_said_to_be_measured(rpi4_run):
    records = processing(rpi4_run)
    jsonl(rpi4_run / "telemetry" / "processing.jsonl", [{**r, "compute_timing": "measured"} for r in records])
    section = compute_section(load_run(rpi4_run))
    _, paragraph, table = compute_blocks(section)
    assert section["timing"] == "measured"
    assert paragraph.text.startswith("Stage times per frame, MEASURED on the device that ran this simulation "
                                     "(3 frames).")
    assert table.header == ("stage", "measured p50", "measured max", "measured total", "host wall p50")


def test_records_of_both_timings_are_both_named(rpi4_run):
    records = processing(rpi4_run)
    records[0]["compute_timing"] = "measured"
    jsonl(rpi4_run / "telemetry" / "processing.jsonl", records)
    assert compute_section(load_run(rpi4_run))["timing"] == ["measured", "projected"]


def test_a_run_without_duration_has_no_utilisation(rpi4_run):
    info = json.loads((rpi4_run / "telemetry" / "run.json").read_text())
    (rpi4_run / "telemetry" / "run.json").write_text(json.dumps({**info, "duration_s": 0.0}))
    section = compute_section(load_run(rpi4_run))
    assert section["satellites"][0]["utilisation"] is None
    assert "sat-1 busy 1.7 min (n/a of the run)." in compute_blocks(section)[1].text


def test_a_record_from_before_stage_times_is_refused_by_name_and_the_rest_counted(rpi4_run):
    """A processing record without per-stage times (a run directory from before them) cannot say what each stage
    cost: it is a bad_line anomaly naming the key, and the section is made of the other records."""
    records = processing(rpi4_run)
    del records[2]["compute_stage_s"]
    jsonl(rpi4_run / "telemetry" / "processing.jsonl", records)
    run = load_run(rpi4_run)
    [problem] = [a for a in run.anomalies if a["kind"] == "bad_line"]
    assert "line 3: compute_stage_s: expected a value" in problem["detail"]
    section = compute_section(run)
    assert section["frames"] == 2 and section["stages"]["cloud_filter"]["frames"] == 2


@pytest.mark.parametrize("records", [None, []], ids=["no processing.jsonl", "an empty processing.jsonl"])
def test_a_run_that_processed_no_frame_still_names_its_computer_and_the_frames_it_never_took_up(tiny_run, records):
    """The section was left out, so `run --json` gave hardware null for a scenario that names one, compare showed
    no busy time, and a computer that never took up a frame before the end went unsaid."""
    path = tiny_run / "telemetry" / "processing.jsonl"
    path.unlink()
    if records is not None:
        jsonl(path, records)
    info = json.loads((tiny_run / "telemetry" / "run.json").read_text())
    (tiny_run / "telemetry" / "run.json").write_text(json.dumps({**info, "hardware": "rpi4"}))
    run = load_run(tiny_run)
    assert run.processing == records
    section = compute_section(run)
    assert (section["hardware"], section["timing"], section["frames"], section["stages"]) == ("rpi4", None, 0, {})
    assert section["queue"]["never_computed"] == 1  # the frame on board at the end
    text = to_markdown(compute_blocks(section))
    assert "No frame was processed on board (rpi4 profile)." in text and "1 frame was never taken up" in text
    assert "|" not in text  # no table of stages


def test_a_run_stopped_before_any_frame_without_profile_or_satellites_says_only_that(tiny_run):
    (tiny_run / "telemetry" / "processing.jsonl").unlink()
    (tiny_run / "telemetry" / "ledger.jsonl").write_text("")
    section = compute_section(load_run(tiny_run))  # the tiny run.json names no hardware and no satellite summary
    assert to_markdown(compute_blocks(section)).strip().endswith("No frame was processed on board.")


def test_no_section_without_processing_records_or_run_json(tiny_run):
    (tiny_run / "telemetry" / "processing.jsonl").unlink()
    (tiny_run / "telemetry" / "run.json").unlink()
    assert compute_section(load_run(tiny_run)) is None


def test_the_wait_for_the_computer_is_its_queue_in_capture_order():
    """One computer takes the frames in capture order: each waits until the frame before it is done (its capture
    time plus its wait plus its compute time), or not at all; recomputed here from captures.jsonl and
    processing.jsonl, and the section's figures are the records' median and maximum."""
    run = sweep_run()
    records = processing(run.run_dir)
    captures = {c["frame_id"]: c["t_s"] for c in map(json.loads, (run.run_dir / "telemetry" / "captures.jsonl")
                                                     .read_text().splitlines())}
    free_at_s = 0.0
    for record in sorted(records, key=lambda r: captures[r["frame_id"]]):
        start_s = max(captures[record["frame_id"]], free_at_s)
        assert record["compute_wait_s"] == pytest.approx(start_s - captures[record["frame_id"]], abs=2e-3)
        free_at_s = start_s + record["compute_s"]
    queue = compute_section(run)["queue"]
    waits = [r["compute_wait_s"] for r in records]
    assert (queue["frames"], queue["wait_p50_s"], queue["wait_max_s"]) == (5, statistics.median(waits), max(waits))
    assert queue["never_computed"] == 0 and queue["latency_p50_s"] > 0


def test_a_computer_that_holds_the_frames_back_is_warned():
    queue = {"frames": 40, "wait_p50_s": 30.0, "wait_max_s": 95.0, "compute_p50_s": 4.0, "never_computed": 0,
             "latency_p50_s": 50.0}
    assert queue_warning(queue) == (
        "the on-board computer did not keep up with the captures: frames waited 30.0 s for it in the median (at most "
        "1.6 min) against a median capture-to-ground latency of 50.0 s. The pipeline takes 4.0 s per capture (the "
        "median): a faster computer, fewer captures per pass or a cheaper pipeline would bring the products down "
        "sooner.")
    assert queue_warning({**queue, "wait_p50_s": 24.9}) is None  # under half the latency: the link's
    assert "; 3 frames were still waiting for it at the end." in queue_warning({**queue, "never_computed": 3})
    assert queue_warning({**queue, "wait_p50_s": 1.0, "never_computed": 3}) is None  # the last captures
    assert queue_warning({**queue, "wait_p50_s": None, "latency_p50_s": None}) is None  # an older run


def test_the_warnings_time_per_capture_is_the_median_frames_not_a_sum_of_stage_medians(rpi4_run):
    """The warning added the stages' medians, each over its own frames (super-resolution ran on two of the three
    here): 3 + 45 = 48 s per capture, where the median frame took 42 s (2 + 40; the others 57 and 3). It is now the
    median of each processed frame's compute_s, all its stages together."""
    section = compute_section(load_run(rpi4_run))
    assert sum(stage["p50_s"] for stage in section["stages"].values()) == 48.0
    assert section["queue"]["compute_p50_s"] == 42.0
    warning = queue_warning({**section["queue"], "wait_p50_s": 100.0, "wait_max_s": 120.0, "latency_p50_s": 150.0})
    assert "The pipeline takes 42.0 s per capture (the median)" in warning
