"""A sweep's results: ranking, and results.csv read back from the run directories of a real sweep."""

import csv
import dataclasses

import pytest

from app.figures import figures_of, read_run
from app.sweep_report import backlog_text, burst_text, ranking_note, unfit_text
from app.sweep_results import (ConfigSummary, backlogged, columns, joint_front, missing_replicates, off_front_reasons,
                               paired_lead, rank, rank_labels, run_rows, summaries, unfit_reasons, write_results)
from ground.confidence import Estimate, estimate
from tests.sweep_cases import made_sweep


def test_ranking_follows_the_objective_direction():
    def config(i, saved, lost):
        return ConfigSummary(i, {}, 1, 0, {"saved_fraction": Estimate(saved, None, 1),
                                           "clear_pixels_lost_fraction": Estimate(lost, None, 1)})

    configs = [config(0, 0.2, 0.01), config(1, None, None), config(2, 0.5, 0.03), config(3, 0.5, 0.00)]
    assert [c.config for c in rank(configs, "saved_fraction")] == [2, 3, 0, 1]
    assert [c.config for c in rank(configs, "clear_pixels_lost_fraction")] == [3, 0, 2, 1]


def four(i, saved, lost, energy=3.0, latency=100.0, complete=1, failed=0):
    """A configuration with the four Pareto figures, ranked by saved_fraction (= saved)."""
    names = ("saved_fraction", "saved_vs_single_frame_fraction", "clear_pixels_lost_fraction", "energy_per_mb_wh",
             "latency_p90_s")
    return ConfigSummary(i, {}, complete, failed, {n: Estimate(v, None, 1)
                                                   for n, v in zip(names, (saved, saved, lost, energy, latency))})


def test_ties_go_to_the_pareto_front_first_and_share_a_rank():
    # 0 and 1 tie on saved_fraction; 1 loses fewer clear pixels, so 0 is dominated and goes after 1
    configs = [four(0, 0.5, 0.02), four(1, 0.5, 0.01), four(2, 0.4, 0.00), four(3, 0.2, 0.05), four(4, 0.2, 0.05)]
    assert joint_front(configs) == {1, 2}
    ranked = rank(configs, "saved_fraction")
    assert [c.config for c in ranked] == [1, 0, 2, 3, 4]  # 3 and 4 tie and are equal: by index
    assert rank_labels(ranked, "saved_fraction") == ["=1", "=1", "3", "=4", "=4"]


def test_a_configuration_that_leaves_frames_on_board_is_on_no_front_and_ranks_after_the_others():
    """A 0.05 Mbit/s link that leaves frames on board saves more of the frames it finished: it must not come out
    best."""
    slow = dataclasses.replace(four(0, 0.79, 0.0, latency=6000.0), frames_unfinished=6.5)
    fast = [four(1, 0.78, 0.0), four(2, 0.70, 0.0)]
    configs = [slow, *fast]
    assert backlogged(configs) == {0: 6.5} and backlogged(fast) == {}
    assert joint_front(configs) == {1}
    assert joint_front([dataclasses.replace(slow, frames_unfinished=0.0), *fast]) == {0, 1}
    assert [c.config for c in rank(configs, "saved_fraction")] == [1, 2, 0]
    assert "Configs 0 (6.5) leave frames unfinished, on board at the end or lost on board (per run, against 0 for " \
           "the others)" in backlog_text(configs)
    assert backlog_text(fast) is None


def test_a_configuration_that_delivered_nothing_is_on_no_front_and_ranks_after_the_others():
    """A threshold that drops every tile saves 100 % of the bytes and loses all the clear ground: it must not come out
    best by saved_fraction, nor sit on the Pareto front as its saving's extreme."""
    why = "delivered no frame (it saves all it captured)"
    dropped_all = dataclasses.replace(four(0, 1.0, 1.0), unfit=why)
    others = [four(1, 0.6, 0.02), four(2, 0.4, 0.0)]
    configs = [dropped_all, *others]
    assert joint_front(configs) == {1, 2}
    assert joint_front([dataclasses.replace(dropped_all, unfit=None), *others]) == {0, 1, 2}
    assert [c.config for c in rank(configs, "saved_fraction")] == [1, 2, 0]
    assert [c.config for c in rank(configs, "clear_pixels_lost_fraction")] == [2, 1, 0]
    assert unfit_text(configs).startswith(f"Unfit to win (config 0 {why}): these configurations rank after")
    assert unfit_text(others) is None
    assert unfit_text(configs) in ranking_note("saved_fraction", configs)


def test_the_front_and_the_ranking_compare_the_figures_as_shown():
    """Config 1 stayed on the front by 5 ms of p90 latency, "2.5 min" for both, and a tie on saved_fraction printed
    "67.1 %" twice ranked one above the other: what the table does not show decides nothing."""
    configs = [four(0, 0.6714, 0.319, energy=4.96, latency=149.115), four(1, 0.6706, 0.320, energy=4.96,
                                                                            latency=149.110)]
    assert joint_front(configs) == {0}  # 0.1 % more saved, 0.1 % fewer clear pixels lost; the 5 ms are not shown
    assert joint_front([configs[0], dataclasses.replace(configs[1], figures={
        **configs[1].figures, "energy_per_mb_wh": Estimate(4.959, None, 1)})]) == {0, 1}  # 0.001 Wh/MB is shown
    ranked = rank(configs[::-1], "saved_fraction")
    assert [c.config for c in ranked] == [0, 1] and rank_labels(ranked, "saved_fraction") == ["=1", "=1"]
    assert [c.config for c in rank(configs, "latency_p90_s")] == [0, 1]  # tied as shown: the front's first


def test_why_a_configuration_ranks_after_the_others_and_is_on_no_front():
    """sweep.json said "unfit": null for a configuration ranked 5th for the frames it left on board: each reason is
    said, and a backlog ranks it after the others only where the objective leaves those frames out."""
    slow = dataclasses.replace(four(0, 0.79, 0.0), frames_unfinished=5.0)
    empty = dataclasses.replace(four(1, 1.0, 1.0), unfit="delivered no frame (it saves all it captured)")
    configs = [slow, empty, four(2, 0.5, 0.0)]
    off = off_front_reasons(configs)
    assert off == {0: "leaves 5 frames unfinished per run (on board at the end or lost on board) against 0 for "
                      "others: its figures measured on the finished frames leave them out", 1: empty.unfit}
    assert unfit_reasons(configs, "saved_fraction") == off
    assert unfit_reasons(configs, "frames_delivered") == {1: empty.unfit}  # it counts the frames left behind


def test_a_configuration_missing_replicates_others_have_is_unfit_to_win():
    """Model B's runs 2 and 3 failed: it ranked first on its one clear sky over model A's three skies."""
    outcome, _ = made_sweep()
    rows = [dict(r) for r in outcome.rows]
    rows[3].update({"status": "failed", "error": "InputFileError: b.tflite: not a TFLite model"})
    rows[3].update(dict.fromkeys(outcome.sweep.figures))
    why = "has 1 of its 2 replicates (1 failed): it lacks the skies of seed 43 that others are measured on"
    by_config = {0: rows[:2], 1: rows[2:]}
    assert missing_replicates(by_config) == {1: why}
    configs = summaries(outcome.sweep, rows)
    assert {c.config: c.unfit for c in configs} == {0: None, 1: why}
    assert [c.config for c in configs] == [0, 1] and 1 not in joint_front(configs)

    def short(*statuses):  # c000-r0, c000-r1, c001-r0, c001-r1
        return missing_replicates({0: [dict(r, status=s) for r, s in zip(rows[:2], statuses[:2])],
                                   1: [dict(r, status=s) for r, s in zip(rows[2:], statuses[2:])]})

    assert short("complete", "complete", "pending", "pending") == {}  # config 1 has none: unranked, not unfit
    assert short("complete", "failed", "complete", "failed") == {}  # both lack seed 43: compared on the same sky
    assert short("complete", "complete", "complete", "pending") == {
        1: "has 1 of its 2 replicates (1 not run yet): it lacks the skies of seed 43 that others are measured on"}
    assert short("complete", "failed", "failed", "complete") == {  # each lacks a sky the other has
        0: "has 1 of its 2 replicates (1 failed): it lacks the skies of seed 43 that others are measured on",
        1: "has 1 of its 2 replicates (1 failed): it lacks the skies of seed 42 that others are measured on"}


def test_an_unfit_configuration_shares_no_rank_with_one_ranked_on_its_value():
    configs = [four(0, 0.5, 0.01), dataclasses.replace(four(1, 0.5, 0.01), unfit="captured no frame"),
               four(2, 0.3, 0.01)]
    ranked = rank(configs, "saved_fraction")
    assert [c.config for c in ranked] == [0, 2, 1] and rank_labels(ranked, "saved_fraction") == ["1", "2", "3"]


def test_the_first_two_are_set_against_each_other_replicate_by_replicate():
    rows = [{"config": c, "replicate": r, "status": "complete", "saved_fraction": v}
            for c, values in ((0, (0.30, 0.50, 0.70)), (1, (0.28, 0.47, 0.675))) for r, v in enumerate(values)]
    lead = paired_lead(rows, 0, 1, "saved_fraction")  # the skies differ by 40 %, the configurations by 2 % on each
    assert lead == estimate([0.30 - 0.28, 0.50 - 0.47, 0.70 - 0.675]) and lead.low > 0
    rows[2]["status"] = "failed"  # replicate 2 of config 0: paired over the two both have
    assert paired_lead(rows, 0, 1, "saved_fraction") == estimate([0.30 - 0.28, 0.50 - 0.47])
    assert paired_lead(rows, 1, 0, "saved_fraction").n == 2 and paired_lead(rows, 0, 1, "cloud_f1").n == 0


def test_saved_fraction_over_bursts_of_different_sizes_is_said_to_have_different_baselines():
    """Bent-pipe of a K = 8 burst is 8 raw frames: the superres pipeline's 72 % saved sat first while it sent 2.2x
    the cloud filter's bytes. The sweep's default objective sets every configuration against one frame per scene."""
    burst = [dataclasses.replace(four(0, 0.72, 0.0), burst_frames=8.0), dataclasses.replace(four(1, 0.18, 0.0),
                                                                                            burst_frames=1.0)]
    text = burst_text("saved_fraction", burst)
    assert text.startswith("The configurations' bent-pipe counts different frames per scene (config 0 8, config 1 "
                           "1), so saved_fraction sets each against its own baseline")
    assert text in ranking_note("saved_fraction", burst)
    assert burst_text("saved_vs_single_frame_fraction", burst) is None
    assert burst_text("saved_fraction", [dataclasses.replace(c, burst_frames=1.0) for c in burst]) is None


def test_configurations_without_a_complete_run_are_unranked_and_last():
    configs = [four(0, None, None, None, None, complete=0, failed=0), four(1, 0.1, 0.02),
               four(2, None, None, None, None, complete=0, failed=2), four(3, None, 0.01, complete=2),
               four(4, 0.3, 0.01)]
    ranked = rank(configs, "saved_fraction")
    assert [c.config for c in ranked] == [4, 1, 0, 2, 3]
    assert rank_labels(ranked, "saved_fraction") == ["1", "2", "not run yet", "no complete run", "no value"]


def test_rows_and_results_csv_of_a_real_sweep():
    outcome, _ = made_sweep()
    sweep, out = outcome.sweep, outcome.out
    rows = run_rows(sweep, out)
    assert [(r["run_id"], r["status"], r["pipeline[0].threshold"]) for r in rows] == [
        ("c000-r0", "complete", "0.3"), ("c000-r1", "complete", "0.3"), ("c001-r0", "complete", "0.7"),
        ("c001-r1", "complete", "0.7")]
    for row in rows:
        assert {k: row[k] for k in sweep.figures} == figures_of(*read_run(out / "runs" / row["run_id"]))
    with open(out / "results.csv", newline="") as f:
        read = list(csv.DictReader(f))
    assert list(read[0]) == columns(sweep)
    assert [float(r["cloud_f1"]) for r in read] == [r["cloud_f1"] for r in rows]  # full precision
    configs = summaries(sweep, rows)
    assert sorted(c.config for c in configs) == [0, 1] and all(c.complete == 2 for c in configs)
    assert all(r["unfit"] is None for r in rows) and all(c.unfit is None for c in configs)
    assert {r["burst_frames"] for r in rows} == {c.burst_frames for c in configs} == {1.0}
    rows[3]["unfit"] = "delivered no frame (it saves all it captured)"  # one replicate of config 1 delivered nothing
    assert {c.config: c.unfit for c in summaries(sweep, rows)} == {0: None, 1: rows[3]["unfit"]}
    f1 = next(c for c in configs if c.config == 0).figures["cloud_f1"]
    assert f1 == estimate([rows[0]["cloud_f1"], rows[1]["cloud_f1"]])


def test_runs_not_made_and_failed_runs_have_their_rows(tmp_path):
    outcome, _ = made_sweep()
    sweep = outcome.sweep
    (tmp_path / "failed").mkdir()
    (tmp_path / "failed" / "c000-r1.json").write_text('{"error": "OSError: disk full"}')
    rows = run_rows(sweep, tmp_path)
    assert [r["status"] for r in rows] == ["pending", "failed", "pending", "pending"]
    assert rows[1]["error"] == "OSError: disk full" and rows[0]["saved_fraction"] is None
    paths = write_results(sweep, rows, tmp_path)
    text = (tmp_path / "results.csv").read_text().splitlines()
    assert paths[0] == tmp_path / "results.csv" and text[2].endswith(",OSError: disk full")
    configs = summaries(sweep, rows)
    assert [c.config for c in configs] == [0, 1]  # no complete run: unranked, by index
    assert rank_labels(configs, "saved_fraction") == ["no complete run", "not run yet"]


def test_results_parquet_holds_the_same_rows(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason="results.parquet is written only when pyarrow is installed")
    outcome, _ = made_sweep()
    paths = write_results(outcome.sweep, outcome.rows, tmp_path)
    assert paths == [tmp_path / "results.csv", tmp_path / "results.parquet"]
    table = pq.read_table(paths[1]).to_pylist()
    assert table == [{k: row[k] for k in columns(outcome.sweep)} for row in outcome.rows]
