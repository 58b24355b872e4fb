"""The versioned JSON summaries: every key documented, the figures where the report has them, the hardware profile,
and ``report --json`` printing the run summary."""

import json
import shutil
import subprocess
import sys

from app.cli import main
from app.figures import read_run
from app.summary import (COMPARE_KEYS, PLAN_KEYS, RUN_KEYS, SCHEMA_VERSION, SWEEP_KEYS, hardware_of, run_summary,
                         schema_table, summary_lines)
from tests.sweep_cases import made_sweep


def test_a_run_summary_of_a_real_report():
    outcome, _ = made_sweep()
    report, _ = read_run(outcome.out / "runs" / "c000-r0")
    summary = run_summary(report)
    assert set(summary) == {"schema_version", "kind", *RUN_KEYS}
    assert (summary["schema_version"], summary["kind"], summary["scenario"]) == (SCHEMA_VERSION, "run", "quickstart")
    assert summary["cloud.f1"] == report["cloud"]["pixel"]["f1"]
    assert summary["ledger.captured"] == report["ledger"]["captured"] > 0
    assert summary["comparison"] == report["comparison"]["rows"] and summary["superres.cpsnr_db"] is None
    assert summary["hardware"] == {"profile": "host", "timing": "projected", "delegate": "cpu", "cpu_relative": 1.0,
                                   "int8_conv_relative": 1.0, "power_w": {"idle": 3.0, "compute": 12.0, "transmit": 3.0}}


def test_the_hardware_without_a_compute_section_or_a_known_profile():
    assert hardware_of({}) is None
    assert hardware_of({"compute": {"hardware": "my-board", "timing": "measured"}}) == {"profile": "my-board",
                                                                                       "timing": "measured"}
    summary = run_summary({"superres": {"product": "model_int8", "cpsnr_db": {"model_int8": 47.8}}})
    assert summary["superres.cpsnr_db"] == 47.8 and summary["hardware"] is None and summary["comparison"] is None


def test_report_json_prints_the_run_summary(tmp_path, capsys):
    outcome, _ = made_sweep()
    run_dir = tmp_path / "run"
    shutil.copytree(outcome.out / "runs" / "c001-r0", run_dir)
    assert main(["report", str(run_dir), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == run_summary(read_run(run_dir)[0]) and printed["schema_version"] == SCHEMA_VERSION


def test_the_schema_is_printed_for_the_readme():
    table = schema_table()
    assert all(f"| `{key}` |" in table for key in ("schema_version", "kind", *RUN_KEYS, *SWEEP_KEYS, *PLAN_KEYS,
                                                    *COMPARE_KEYS))
    titles = table.split("\n\n")[::2]  # each document's title, then its table
    assert titles == ["Run (`run --json`, `report --json`):", "Sweep (`sweep --json`):",
                      "Plan (`sweep --plan --json`):", "Comparison (`compare --json`):"]
    assert [line for line in table.splitlines() if line.startswith("| `kind` |")] == [
        "| `kind` | `run` |", "| `kind` | `sweep` |", "| `kind` | `plan` |", "| `kind` | `compare` |"]
    printed = subprocess.run([sys.executable, "-m", "app.summary"], capture_output=True, text=True, check=True)
    assert printed.stdout == table + "\n"


def test_the_summary_of_a_stopped_run_gives_the_time_simulated():
    report = {"scenario": "quickstart", "seed": 42, "complete": False, "duration_s": 86400.0,
              "stopped": {"reason": "KeyboardInterrupt", "simulated_s": 35244.0},
              "bandwidth": {"raw_bytes": 10, "downlinked_bytes": 5, "saved_fraction": 0.5},
              "ledger": {"captured": 2, "delivered": 1, "dropped": 0, "on_board": 1, "balanced": True},
              "latency_s": {"p50": 60.0, "p90": 60.0, "max": 60.0}, "on_board": {"bytes": 5, "max_age_s": 60.0}}
    assert summary_lines(report)[0] == ("quickstart (seed 42): INCOMPLETE, 9.79 h simulated of 24.00 h "
                                        "(KeyboardInterrupt)")
    summary = run_summary(report)  # --json says why and when too, not only complete: false
    assert summary["complete"] is False
    assert summary["stopped"] == {"reason": "KeyboardInterrupt", "simulated_s": 35244.0}
    assert run_summary({**report, "complete": True, "stopped": None})["stopped"] is None


def test_the_summary_of_a_run_killed_outright_says_it_cannot_account_for_its_frames():
    """A run killed by SIGKILL at about 10 h read "INCOMPLETE, 24.00 h simulated" and "None delivered"."""
    report = {"scenario": "quickstart", "seed": 42, "complete": False, "duration_s": 86400.0, "stopped": None,
              "bandwidth": {"raw_bytes": 10, "downlinked_bytes": 5, "saved_fraction": 0.5},
              "ledger": {"captured": 8, "delivered": None, "dropped": None, "on_board": None, "balanced": None},
              "latency_s": {"p50": 60.0, "p90": 60.0, "max": 60.0}, "on_board": {"bytes": None, "max_age_s": None}}
    lines = summary_lines(report)
    assert lines[0] == ("quickstart (seed 42): INCOMPLETE, stopped at an unknown time of 24.00 h (no record of its "
                        "end: killed outright?)")
    assert "  frames                     8 captured: none accounted for (no telemetry/ledger.jsonl)" in lines
    assert any("(saved 50.0 % against bent-pipe for the products delivered: no ledger says which frames finished)"
               in line for line in lines)  # not "for the frames the pipeline finished", of which none is known


def test_the_summary_says_when_the_report_has_warnings():
    report = {"scenario": "s3", "seed": 9, "complete": True, "duration_s": 3600.0,
              "bandwidth": {"raw_bytes": 10, "downlinked_bytes": 5, "saved_fraction": 0.5},
              "ledger": {"captured": 8, "delivered": 8, "dropped": 0, "on_board": 0, "balanced": True},
              "latency_s": {"p50": 60.0, "p90": 60.0, "max": 60.0}, "on_board": {"bytes": 0, "max_age_s": None}}
    assert not any("warnings" in line for line in summary_lines(report))
    report["warnings"] = ["46 of the 54 captures planned were not taken (storage_full: 46): ..."]
    expected = "  warnings                   1, at the top of the report (report.json warnings)"
    assert summary_lines(report)[-1] == expected


def test_the_frames_line_says_which_drops_were_lost_on_board_rather_than_decided():
    """storage_overflow.yaml: 8 frames evicted from full memory are "dropped" in the ledger, by no stage's choice."""
    report = {"scenario": "s", "seed": 1, "complete": True, "duration_s": 3600.0,
              "bandwidth": {"raw_bytes": 10, "downlinked_bytes": 5, "saved_fraction": 0.5},
              "ledger": {"captured": 26, "delivered": 15, "dropped": 11, "on_board": 0, "balanced": True,
                         "dropped_by_reason": {"cloudy": 3, "storage_full": 8},
                         "products_decided_by_stage": {"cloud_filter": {"cloudy": 40}}},
              "latency_s": {"p50": 60.0, "p90": 60.0, "max": 60.0}, "on_board": {"bytes": 0, "max_age_s": None}}
    frames = next(line for line in summary_lines(report) if line.startswith("  frames"))
    assert frames.endswith("26 captured: 15 delivered, 11 dropped (8 lost on board: storage_full), 0 on board "
                           "(balanced)")
    report["ledger"]["dropped_by_reason"] = {"cloudy": 11}  # every drop the filter's: nothing to add
    assert "11 dropped, 0 on board" in next(line for line in summary_lines(report) if line.startswith("  frames"))
    report["ledger"]["frames_unverified"] = 2  # delivered, but their products failed the ground's checks
    assert "15 delivered (2 failed the ground's checks), 11 dropped" in next(
        line for line in summary_lines(report) if line.startswith("  frames"))


def test_the_summary_of_a_burst_run_gives_the_saving_against_one_frame_per_scene_too():
    report = {"scenario": "quickstart", "seed": 42, "complete": True, "duration_s": 86400.0,
              "bandwidth": {"raw_bytes": 10, "downlinked_bytes": 5, "saved_fraction": 0.779},
              "ledger": {"captured": 2, "delivered": 2, "dropped": 0, "on_board": 0, "balanced": True},
              "latency_s": {"p50": 60.0, "p90": 60.0, "max": 60.0}, "on_board": {"bytes": 0, "max_age_s": None},
              "comparison": {"rows": [{"pipeline": "this_run", "saved_fraction": -0.769,
                                       "saved_vs_burst_fraction": 0.779}]}}
    assert summary_lines(report)[2].endswith("(saved 77.9 % against bent-pipe for the frames the pipeline finished; "
                                             "-76.9 % against one raw frame per scene, image bytes alone)")
    report["comparison"]["rows"][0]["saved_fraction"] = 0.779  # single frames: one baseline, said once
    assert summary_lines(report)[2].endswith("for the frames the pipeline finished)")
    report["comparison"]["rows"][0].update(saved_fraction=0.5, saved_vs_burst_fraction=None)  # no burst: no figure
    assert summary_lines(report)[2].endswith("for the frames the pipeline finished)")


def test_the_summary_opens_with_the_verdicts_headline_wrapped():
    """The terminal answers the question first: the verdict's headline, not its caveats, wrapped under its key."""
    report = {"scenario": "quickstart", "seed": 42, "complete": True, "duration_s": 86400.0,
              "verdict": ("On-board AI (cloud_filter > encode) sends 3.1x MORE image bytes (10.12 MB) than the best "
                          "lossless codec on one frame per scene (JPEG-LS, 3.21 MB): it costs downlink here, and "
                          "loses 0.2 % of clear ground. The link was not the constraint: the passes were busy."),
              "bandwidth": {"raw_bytes": 10, "downlinked_bytes": 5, "saved_fraction": 0.5},
              "ledger": {"captured": 2, "delivered": 2, "dropped": 0, "on_board": 0, "balanced": True},
              "latency_s": {"p50": 60.0, "p90": 60.0, "max": 60.0}, "on_board": {"bytes": 0, "max_age_s": None}}
    head, verdict, *rest = summary_lines(report, width=80)
    lines = verdict.split("\n")
    assert lines[0].startswith("  verdict                    On-board AI (cloud_filter > encode) sends 3.1x MORE")
    assert all(len(line) <= 80 for line in lines) and all(line.startswith(" " * 29) for line in lines[1:])
    assert " ".join(line.strip() for line in lines).endswith("loses 0.2 % of clear ground.")
    assert rest[0].startswith("  bent-pipe bytes")


def test_the_summary_gives_the_bent_pipe_bytes_the_saving_is_against():
    """A saving over the finished frames beside bent-pipe bytes of every capture would not divide out: when the
    two bases differ, the terminal gives both (found by an audit of cubesat_sband: 320.86 MB shown, the saving
    against 150.99 MB)."""
    report = {"scenario": "cubesat_sband", "seed": 7, "complete": True, "duration_s": 86400.0,
              "bandwidth": {"raw_bytes": 320_864_256, "raw_bytes_finished": 150_994_944,
                            "downlinked_bytes": 124_119_684, "saved_fraction": 1 - 124_119_684 / 150_994_944},
              "ledger": {"captured": 51, "delivered": 24, "dropped": 0, "on_board": 27, "balanced": True},
              "latency_s": {"p50": 60.0, "p90": 60.0, "max": 60.0}, "on_board": {"bytes": 0, "max_age_s": None}}
    _, bent_pipe, downlinked, *_ = summary_lines(report)
    assert bent_pipe.endswith("320.86 MB for every capture, 150.99 MB for the frames the pipeline finished")
    assert downlinked.endswith("124.12 MB, sidecars included (saved 17.8 % against bent-pipe for the frames the "
                               "pipeline finished)")
    report["bandwidth"]["raw_bytes_finished"] = 320_864_256  # every frame finished: one figure
    assert summary_lines(report)[1].endswith("bent-pipe bytes            320.86 MB")
