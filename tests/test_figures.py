"""The figures a sweep collects: read from report.json and run.json, the oracle's saving by hand, errors that name the
file, units in the format."""

import json
import re

import pytest

from app.figures import (FIGURES, burst_frames, figure_table, figures_of, fmt_bounds, fmt_figure, interval,
                         oracle_saved_vs_single_frame_fraction, read_run, retired_figure, shown_value, unfinished_frames,
                         unfit_reason)
from ground.confidence import Estimate, estimate
from rundir.errors import InputFileError
from rundir.run_info import RunInfo, SatelliteSummary
from tests.sweep_cases import made_sweep

REPORT = {
    "scenario": "s", "seed": 1, "complete": True,
    "bandwidth": {"saved_fraction": 0.8, "downlinked_bytes": 2_000_000},
    "comparison": {"rows": [{"pipeline": "bent_pipe_single", "saved_fraction": 0.0},
                            {"pipeline": "this_run", "saved_fraction": 0.4, "clear_pixels_lost_fraction": 0.02}]},
    "cloud": {"pixel": {"f1": 0.97}, "tile_selection_saved_fraction": 0.25,
              "oracle": {"tile_selection_saved_fraction": 0.4, "clear_pixels_lost_fraction": 0.01}},
    "superres": {"product": "model_int8", "cpsnr_db": {"model_int8": 47.5, "bicubic": 44.0}},
    "latency_s": {"p90": 143.0}, "ledger": {"delivered": 14}, "on_board": {"bytes": 0},
    "compute": {"satellites": [{"compute_busy_s": 2.0}, {"compute_busy_s": 1.5}]},
    "value": {"value_per_byte": 0.5, "oracle_value_per_byte": 0.15},  # an estimate without a cloud mask: all clear
}
RUN_INFO = RunInfo(
    scenario="two", seed=1, start_utc="2026-06-21T00:00:00Z", duration_s=3600.0, complete=True, wall_time_s=1.0,
    satellites=["a", "b"], stations=["s"],
    satellite_summary=[SatelliteSummary(satellite=name, frames_planned=1, frames_captured=1, compute_busy_s=1.0,
                                        compute_timing="profile", storage_peak_bytes=1, storage_capacity_bytes=2,
                                        battery_min_soc=0.5, brownout_s=0.0, energy_in_wh=1.0, energy_out_wh=out_wh,
                                        energy_unmet_wh=0.0) for name, out_wh in (("a", 100.0), ("b", 50.0))])


def test_each_figure_reads_its_place():
    got = figures_of(REPORT, RUN_INFO)
    assert got["saved_vs_single_frame_fraction"] == 0.4 and got["saved_fraction"] == 0.8
    assert got["clear_pixels_lost_fraction"] == 0.02 and got["oracle_clear_pixels_lost_fraction"] == 0.01
    assert (got["cloud_f1"], got["cpsnr_db"], got["latency_p90_s"]) == (0.97, 47.5, 143.0)
    assert (got["energy_wh"], got["energy_per_mb_wh"], got["compute_busy_s"]) == (150.0, 75.0, 3.5)
    assert got["oracle_value_per_byte"] == 0.15  # the products valued at their truth, not the spacecraft's estimate
    # the model kept 75 % of the bent-pipe tile bytes and sent 60 % of the baseline; the oracle keeps 60 %
    assert got["oracle_saved_vs_single_frame_fraction"] == pytest.approx(1 - 0.6 * 0.6 / 0.75, abs=1e-12)
    empty = figures_of({}, None)
    assert set(empty) == set(FIGURES) and all(v is None for v in empty.values())


def test_a_per_byte_figure_is_what_it_names_over_the_bytes_and_a_total():
    """energy_per_mb_wh is energy_wh over the delivered MB: the Wh in it make it a total (compare stars it only
    among runs of the same work) and name what it divides (compare stars it only for a run that also leads that)."""
    per_byte = [f for f in FIGURES.values() if f.per_byte_of]
    assert [(f.name, f.per_byte_of) for f in per_byte] == [("energy_per_mb_wh", "energy_wh")]
    for f in per_byte:
        over = FIGURES[f.per_byte_of]
        assert f.total and over.total and f.better == over.better
        mb = REPORT["bandwidth"]["downlinked_bytes"] / 1e6
        assert f.read(REPORT, RUN_INFO) == over.read(REPORT, RUN_INFO) / mb


def test_the_oracle_when_the_model_kept_nothing():
    kept_none = {**REPORT, "comparison": {"rows": [{"pipeline": "this_run", "saved_fraction": 1.0}]},
                 "cloud": {"tile_selection_saved_fraction": 1.0, "oracle": {"tile_selection_saved_fraction": 1.0}}}
    assert oracle_saved_vs_single_frame_fraction(kept_none, None) == 1.0
    kept_none["cloud"]["oracle"]["tile_selection_saved_fraction"] = 0.5  # the oracle keeps tiles of unknown bytes
    assert oracle_saved_vs_single_frame_fraction(kept_none, None) is None


def test_a_real_run_directory():
    outcome, _ = made_sweep()
    run_dir = outcome.out / "runs" / "c000-r0"
    report, info = read_run(run_dir)
    got = figures_of(report, info)
    this_run = next(r for r in report["comparison"]["rows"] if r["pipeline"] == "this_run")
    assert got["saved_vs_single_frame_fraction"] == this_run["saved_fraction"]
    assert got["saved_fraction"] == report["bandwidth"]["saved_fraction"]
    assert got["energy_wh"] == pytest.approx(sum(s.energy_out_wh for s in info.satellite_summary), abs=1e-9)
    assert got["frames_delivered"] == report["ledger"]["delivered"] > 0
    assert got["cpsnr_db"] is None  # no superres stage


def test_runs_unfit_to_win_say_why():
    """Each reason on a real run's report altered one way: a run that delivered nothing saves everything it captured,
    and one that lost all its clear ground is no better, so neither may win on bytes saved."""
    outcome, _ = made_sweep()
    report, _ = read_run(outcome.out / "runs" / "c000-r0")
    assert report["complete"] and unfit_reason(report) is None

    def altered(**ledger):
        return {**report, "ledger": {**report["ledger"], **ledger}}

    assert unfit_reason({**report, "complete": False}).startswith("is incomplete")
    assert unfit_reason(altered(captured=0)) == "captured no frame"
    assert unfit_reason(altered(delivered=0)) == "delivered no frame (it saves all it captured)"
    rows = [{**r, "clear_pixels_lost_fraction": 1.0} if r["pipeline"] == "this_run" else r
            for r in report["comparison"]["rows"]]
    assert unfit_reason({**report, "comparison": {**report["comparison"], "rows": rows}}) == \
        "delivered none of its clear ground (clear_pixels_lost_fraction 100 %)"


def test_unfinished_frames_are_those_no_comparison_row_counts():
    """Left on board, lost to full storage or failing the ground's checks: captured, but in no row."""
    assert unfinished_frames({"ledger": {"captured": 26}, "comparison": {"frames": 18}}) == 8
    assert unfinished_frames({"ledger": {"captured": 15}, "comparison": {"frames": 15}}) == 0
    assert unfinished_frames({"ledger": {"captured": 15}}) is None and unfinished_frames({}) is None


def test_the_frames_bent_pipe_counts_per_scene_are_one_without_a_burst_row():
    """A run without bursts has no bent_pipe row (it would be bent_pipe_single's again): one frame per scene."""
    def report(**rows):
        return {"comparison": {"rows": [{"pipeline": name, "bytes": size} for name, size in rows.items()]}}

    assert burst_frames(report(bent_pipe=8000, bent_pipe_single=1000, this_run=900)) == 8.0
    assert burst_frames(report(bent_pipe_single=1000, this_run=900)) == 1.0
    assert burst_frames(report(bent_pipe_single=None, this_run=900)) is None and burst_frames({}) is None


def test_one_name_one_meaning():
    """A figure named as a report.json key reads that key: compare's saved_fraction was this_run's saving against
    one raw frame per scene (-76.9 %) beside the report's bandwidth.saved_fraction (77.9 %)."""
    outcome, _ = made_sweep()
    for run_dir in sorted(p.parent for p in (outcome.out / "runs").glob("*/report.json")):
        report, info = read_run(run_dir)
        got = figures_of(report, info)
        shared = [(section, name) for section, block in report.items() if isinstance(block, dict)
                  for name in got if name in block and not isinstance(block[name], (dict, list))]
        assert ("bandwidth", "saved_fraction") in shared and ("value", "oracle_value_per_byte") in shared
        assert all(got[name] == report[section][name] for section, name in shared), shared


def test_retired_names_say_what_to_use():
    oracle = retired_figure("oracle_saved_fraction")
    assert oracle.startswith("the figure oracle_saved_fraction is now oracle_saved_vs_single_frame_fraction (")
    assert "is now saved_fraction" in retired_figure("saved_vs_captured_fraction")
    assert "is now oracle_value_per_byte" in retired_figure("value_per_byte")
    assert retired_figure("cloud_f1") is None
    assert not set(FIGURES) & {"oracle_saved_fraction", "saved_vs_captured_fraction", "value_per_byte"}


def test_unreadable_runs_are_named(tmp_path):
    with pytest.raises(InputFileError, match=r"nowhere: no such run directory"):
        read_run(tmp_path / "nowhere")
    (tmp_path / "file").write_text("")
    with pytest.raises(InputFileError, match=r"file: not a run directory: a file"):
        read_run(tmp_path / "file")
    with pytest.raises(InputFileError, match=r"not a run directory: it has neither downlink/ nor telemetry/"):
        read_run(tmp_path)
    (tmp_path / "downlink").mkdir()
    with pytest.raises(InputFileError, match=r"not a run directory: its downlink/ is empty"):
        read_run(tmp_path)
    (tmp_path / "telemetry").mkdir()
    with pytest.raises(InputFileError, match=r"not a run directory: its downlink/ and telemetry/ are empty"):
        read_run(tmp_path)
    (tmp_path / "downlink" / "manifest.jsonl").write_text("")
    with pytest.raises(InputFileError, match=r"report.json: no report.json: run `orbitedge report`"):
        read_run(tmp_path)
    (tmp_path / "report.json").write_text("{")
    with pytest.raises(InputFileError, match="report.json: not a readable report"):
        read_run(tmp_path)
    (tmp_path / "report.json").write_text(json.dumps(REPORT))
    assert read_run(tmp_path) == (REPORT, None)  # no telemetry/run.json
    (tmp_path / "telemetry" / "run.json").write_text(json.dumps({"scenario": "x"}))
    with pytest.raises(InputFileError, match=r"run.json: .*seed: expected"):
        read_run(tmp_path)


@pytest.mark.parametrize("edit, problem", [
    (lambda r: {}, "no 'complete': true or false"),
    (lambda r: [1, 2], "expected a JSON object, found a list"),  # it said "no 'complete'"
    (lambda r: {**r, "seed": [1]}, "its scenario and seed are 's' and [1], expected a name and a number"),
    (lambda r: {**r, "bandwidth": {**r["bandwidth"], "saved_fraction": "lots"}},
     "its saved_fraction is 'lots', expected a number"),
    (lambda r: {**r, "ledger": {"delivered": "14"}}, "its frames_delivered is '14', expected a number"),
    (lambda r: {**r, "compute": {"satellites": [{"compute_busy_s": "2 s"}]}},
     "its compute_busy_s cannot be read (TypeError: unsupported operand type(s) for +: 'int' and 'str')"),
])
def test_a_report_json_edited_out_of_shape_is_named_not_a_traceback(tmp_path, edit, problem):
    """compare, sweep results and the --json summaries read each run's report.json: one whose values are not what
    orbitedge writes names its file and the value, as a clear error (exit 2 from the command line)."""
    (tmp_path / "downlink").mkdir()
    (tmp_path / "downlink" / "manifest.jsonl").write_text("")
    (tmp_path / "report.json").write_text(json.dumps(edit(REPORT)))
    with pytest.raises(InputFileError, match=re.escape(problem)):
        read_run(tmp_path)


def test_values_are_formatted_in_their_units():
    assert fmt_figure("saved_fraction", 0.4512) == "45.1 %"
    assert fmt_figure("latency_p90_s", 0.0173) == "0.0173 s" and fmt_figure("latency_p90_s", 144.0) == "2.4 min"
    assert fmt_figure("downlinked_bytes", 10_435_855) == "10.44 MB"
    assert fmt_figure("energy_per_mb_wh", 17.5395) == "17.54 Wh/MB" and fmt_figure("cpsnr_db", None) == "n/a"
    assert all(f"| `{name}` |" in figure_table() for name in FIGURES)


def test_a_value_as_shown_is_the_number_the_table_prints():
    """The Pareto front and the ranking compare these: 149.11 s and 149.12 s both print "2.5 min", 0.004 Wh/MB
    prints."""
    assert shown_value("latency_p90_s", 149.11) == shown_value("latency_p90_s", 149.12) == 150.0
    assert shown_value("latency_p90_s", 12.345) == 12.3 and shown_value("latency_p90_s", 7300.0) == 2.03 * 3600
    assert shown_value("saved_vs_single_frame_fraction", 0.44487) == pytest.approx(0.445, abs=1e-15)
    assert shown_value("saved_fraction", 0.6706) == shown_value("saved_fraction", 0.6714)  # both "67.1 %"
    assert shown_value("energy_per_mb_wh", 4.9594) == 4.959 != shown_value("energy_per_mb_wh", 4.9634)
    assert shown_value("downlinked_bytes", 10_435_855) == 10.44e6 and shown_value("downlinked_bytes", 512) == 512
    assert shown_value("cloud_f1", None) is None
    for name, value in (("saved_fraction", -1.175), ("cpsnr_db", 47.634), ("on_board_bytes", 5_220_000),
                        ("oracle_value_per_byte", 0.198142), ("compute_busy_s", 6.97)):
        assert fmt_figure(name, shown_value(name, value)) == fmt_figure(name, value)  # nothing hidden, nothing added


def test_an_interval_stays_within_what_the_figure_can_take():
    f1 = estimate([0.05, 0.84])  # 2 replicates: t = 12.7, 44.5 % +- 501.9 %
    assert interval("cloud_f1", f1) == (0.0, 1.0)
    saved = Estimate(0.444, 2.261, 2)  # a saving can be below 0 (more bytes than the baseline), never above 100 %
    assert interval("saved_vs_single_frame_fraction", saved) == (pytest.approx(0.444 - 2.261), 1.0)
    assert interval("energy_per_mb_wh", Estimate(3.271, 13.37, 2)) == (0.0, pytest.approx(16.641))
    assert interval("cpsnr_db", Estimate(30.0, 40.0, 2)) == (-10.0, 70.0)  # no bound
    assert interval("cloud_f1", Estimate(0.9, None, 1)) is None
    assert [fmt_bounds(n) for n in ("cloud_f1", "saved_fraction", "latency_p90_s", "cpsnr_db")] == \
        ["0 % to 100 %", "at most 100 %", "0 or more", "any"]
    assert "| `cloud_f1` | fraction | higher | 0 % to 100 % | per-pixel F1" in figure_table()
