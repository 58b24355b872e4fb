"""ground.spacecraft: the report's ``spacecraft`` section (storage and power per satellite, from run.json's
satellite_summary and the sampled timeline) on a real run (tests/report_run.py) and on the tiny run of
tests/conftest.py given a starved satellite and a healthy one; its blocks as report.md shows them; None without a
satellite summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import jsonl
from ground.document import Heading, to_markdown
from ground.run_data import load_run
from ground.spacecraft import brownout_warning, spacecraft_blocks, spacecraft_section
from tests.report_run import sweep_run


def telemetry(run_dir: Path, name: str) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "telemetry" / name).read_text().splitlines()]


def test_a_real_runs_satellite():
    run = sweep_run()
    (craft,) = spacecraft_section(run)["satellites"]
    (summary,) = json.loads((run.run_dir / "telemetry" / "run.json").read_text())["satellite_summary"]
    samples = telemetry(run.run_dir, "timeline.jsonl")
    assert craft["satellite"] == summary["satellite"] == "sso-1"
    assert craft["frames_captured"] == craft["frames_planned"] == len(telemetry(run.run_dir, "captures.jsonl")) == 5
    assert craft["battery_min_wh"] == min(s["battery_wh"] for s in samples) == 150.0  # a full battery in sunlight
    assert max(s["storage_bytes"] for s in samples) <= craft["storage_peak_bytes"] <= craft["storage_capacity_bytes"]
    assert {k: craft[k] for k in ("storage_peak_bytes", "storage_capacity_bytes", "battery_min_soc", "brownout_s",
                                  "compute_deferred_frames", "compute_deferred_s", "energy_unmet_wh")} == \
        {k: summary[k] for k in ("storage_peak_bytes", "storage_capacity_bytes", "battery_min_soc", "brownout_s",
                                 "compute_deferred_frames", "compute_deferred_s", "energy_unmet_wh")}
    assert craft["captures_refused_storage_full"] == craft["captures_shed_brownout"] == 0


def test_the_real_runs_blocks_have_a_row_for_its_satellite():
    heading, _, table = spacecraft_blocks(spacecraft_section(sweep_run()))
    assert heading == Heading(2, "Storage and power")
    assert [row[:3] for row in table.rows] == [("sso-1", "5 / 5", "5 / 0 / 0")]
    assert len(table.header) == len(table.rows[0]) == 9


def summary(satellite: str, **fields) -> dict:
    """A run.json satellite_summary entry, healthy unless ``fields`` say otherwise."""
    return {"satellite": satellite, "frames_planned": 4, "frames_captured": 4, "compute_busy_s": 1.0,
            "compute_timing": "projected", "storage_peak_bytes": 250_000, "storage_capacity_bytes": 2_000_000_000,
            "battery_min_soc": 0.62, "brownout_s": 0.0, "energy_in_wh": 10.0, "energy_out_wh": 8.0,
            "energy_unmet_wh": 0.0, **fields}


@pytest.fixture
def starved_run(tiny_run: Path) -> Path:
    """The tiny run with two satellites: sat-1 starved (its memory refused 3 captures, 30 min of brown-out shed 2
    and deferred 4 frames' compute by 10 min; its battery sampled from 40 Wh down to 17 Wh), sat-2 healthy and
    never sampled."""
    info = json.loads((tiny_run / "telemetry" / "run.json").read_text())
    info["satellite_summary"] = [
        summary("sat-1", frames_planned=10, frames_captured=5, storage_peak_bytes=1_500_000_000, battery_min_soc=0.0,
                brownout_s=1800.0, energy_unmet_wh=12.5, captures_skipped={"storage_full": 3, "brownout": 2},
                compute_deferred_frames=4, compute_deferred_s=600.0),
        summary("sat-2")]
    (tiny_run / "telemetry" / "run.json").write_text(json.dumps(info))
    samples = telemetry(tiny_run, "timeline.jsonl")
    jsonl(tiny_run / "telemetry" / "timeline.jsonl", [{**s, "battery_wh": 40.0 - s["t_s"] / 300} for s in samples])
    return tiny_run


def test_each_satellite_is_reported_from_its_own_summary_and_samples(starved_run):
    starved, healthy = spacecraft_section(load_run(starved_run))["satellites"]
    assert starved == {  # the tiny run's ledger: sat-1's frames, one still on board
        "satellite": "sat-1", "frames_planned": 10, "frames_captured": 5, "frames_delivered": 2, "frames_dropped": 1,
        "frames_on_board": 1, "storage_peak_bytes": 1_500_000_000,
        "storage_capacity_bytes": 2_000_000_000, "captures_refused_storage_full": 3, "battery_min_soc": 0.0,
        "battery_min_wh": 17.0, "brownout_s": 1800.0, "captures_shed_brownout": 2, "compute_deferred_frames": 4,
        "compute_deferred_s": 600.0, "energy_unmet_wh": 12.5}  # the last sample, at 6900 s: 40 - 23 Wh
    assert (healthy["satellite"], healthy["battery_min_wh"]) == ("sat-2", None)  # no sample of sat-2
    assert healthy["captures_refused_storage_full"] == healthy["captures_shed_brownout"] == 0


def test_both_satellites_in_report_md(starved_run):
    assert to_markdown(spacecraft_blocks(spacecraft_section(load_run(starved_run)))).splitlines()[4:] == [
        "| satellite | captured / planned | delivered / dropped / on board | storage peak / capacity | "
        "refused: storage full | battery min | brown-out | shed: brown-out | compute deferred |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        "| sat-1 | 5 / 10 | 2 / 1 / 1 | 1.50 GB / 2.00 GB | 3 | 0.0 % | 30.0 min | 2 | 4 (10.0 min) |",
        "| sat-2 | 4 / 4 | 0 / 0 / 0 | 250.00 kB / 2.00 GB | 0 | 62.0 % | 0.0 s | 0 | 0 (0.0 s) |"]


def test_time_in_brown_out_is_a_warning_that_counts_its_cost(starved_run):
    section = spacecraft_section(load_run(starved_run))
    duration_s = json.loads((starved_run / "telemetry" / "run.json").read_text())["duration_s"]
    share = f"{100 * 1800.0 / duration_s:.1f} %"
    assert section["warnings"] == [  # sat-2 never browned out: no warning of its own
        f"sat-1 was in brown-out for 30.0 min ({share} of the run), its battery down to 0.0 %: 2 captures shed and 4 "
        "frames' compute deferred (10.0 min), so the power budget is a constraint of this run (spacecraft.power: "
        "solar_w, battery_wh, the loads); see Storage and power."]
    quiet = {**section["satellites"][0], "captures_shed_brownout": 0, "compute_deferred_frames": 0}
    assert "no capture or compute fell in it this time, but any would have been shed or deferred, so the power " \
           "budget has no margin" in brownout_warning(quiet, 3600.0)
    assert brownout_warning(section["satellites"][1], 3600.0) is None
    assert "warnings" not in spacecraft_section(sweep_run())  # a healthy run: no warning


def test_without_a_timeline_the_lowest_charge_is_unknown(starved_run):
    (starved_run / "telemetry" / "timeline.jsonl").unlink()
    section = spacecraft_section(load_run(starved_run))
    assert [s["battery_min_wh"] for s in section["satellites"]] == [None, None]
    assert section["satellites"][0]["battery_min_soc"] == 0.0


@pytest.mark.parametrize("run_json", ["without a summary", "absent", "not JSON"])
def test_no_section_without_a_satellite_summary(tiny_run, run_json):
    path = tiny_run / "telemetry" / "run.json"
    if run_json == "absent":
        path.unlink()
    elif run_json == "not JSON":
        path.write_text("{")
    run = load_run(tiny_run)
    assert (run.run_info is None) == (run_json != "without a summary")
    assert spacecraft_section(run) is None


def test_a_ledger_status_the_report_does_not_know_is_a_bad_line_left_out_of_the_satellites_counts(starved_run):
    """The per-satellite counts raised KeyError on such a row; it is now refused where it is read, naming its line."""
    path = starved_run / "telemetry" / "ledger.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    jsonl(path, [{**rows[0], "status": "lost"}, *rows[1:]])
    run = load_run(starved_run)
    assert [(a["kind"], a["line"]) for a in run.anomalies] == [("bad_line", 1)]
    assert "status: expected one of delivered, dropped, on_board" in run.anomalies[0]["detail"]
    craft = spacecraft_section(run)["satellites"][0]
    assert sum(craft[f"frames_{s}"] for s in ("delivered", "dropped", "on_board")) == len(rows) - 1
