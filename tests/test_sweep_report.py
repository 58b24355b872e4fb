"""A sweep's report: the configurations ranked with their intervals, the Pareto front, an axis plot each, the failed
runs; Markdown and HTML."""

import dataclasses

from app.figures import fmt_figure
from app.sweep_file import load_sweep
from app.sweep_plots import _oracle_best_x, oracle_drawn
from app.sweep_report import (_runs_text, failure_text, fmt_estimate, front_text, joint_front, lead_text, pareto_note,
                              pareto_paragraph, ranked_table, report_blocks, write_sweep_report)
from app.sweep_results import ConfigSummary
from ground.confidence import Estimate
from ground.document import Image, Paragraph, Table, to_markdown
from tests.sweep_cases import made_sweep, write_sweep


def config(i, saved, lost, energy, latency):
    names = ("saved_vs_single_frame_fraction", "clear_pixels_lost_fraction", "energy_per_mb_wh", "latency_p90_s")
    return ConfigSummary(i, {}, 1, 0, {n: Estimate(v, None, 1) for n, v in zip(names, (saved, lost, energy, latency))})


def test_the_joint_front_weighs_all_four_figures():
    configs = [config(0, 0.5, 0.01, 10.0, 100.0), config(1, 0.5, 0.01, 12.0, 100.0),  # 1: more energy, beaten by 0
               config(2, 0.3, 0.01, 9.0, 100.0), config(3, 0.6, None, 9.0, 50.0)]
    assert joint_front(configs) == {0, 2}
    alone = ConfigSummary(0, {}, 1, 0, {"saved_vs_single_frame_fraction": Estimate(0.5, None, 1)})
    assert joint_front([alone]) == set()
    no_energy = [config(0, 0.5, 0.01, None, 100.0), config(1, 0.5, 0.02, None, 90.0), config(2, 0.4, 0.02, None, 95.0)]
    assert joint_front(no_energy) == {0, 1}  # a figure no configuration has is left out: 2 is beaten by 1


def test_the_front_in_words():
    assert front_text([config(2, 0.5, 0.01, 10.0, 100.0), config(0, 0.6, 0.02, 10.0, 100.0)]) == "configs 0, 2"
    assert front_text([]) == "none (no configuration has a complete run)"
    assert front_text([ConfigSummary(0, {}, 0, 2, {})]) == "none (no configuration has a complete run)"
    assert front_text([config(0, None, 0.01, 10.0, 100.0)]) == (
        "none (no run gives saved_vs_single_frame_fraction and one of clear_pixels_lost_fraction, energy_per_mb_wh, "
        "latency_p90_s)")
    assert front_text([config(0, 0.5, 0.01, None, None), config(1, 0.5, None, None, 100.0)]) == (
        "none (no configuration has all of saved_vs_single_frame_fraction, clear_pixels_lost_fraction, latency_p90_s)")
    assert pareto_note([config(0, 0.5, 0.01, None, None), config(1, 0.5, None, None, 100.0)]) == (
        "Pareto: * on the joint front of saved_vs_single_frame_fraction (higher is better) and "
        "clear_pixels_lost_fraction, latency_p90_s (lower is better): no other configuration is at least as good on "
        "every one of these 3 figures and better on one, each compared as the table shows it (a difference the table "
        "does not show decides nothing). Pareto front: none (no configuration has all of "
        "saved_vs_single_frame_fraction, clear_pixels_lost_fraction, latency_p90_s).")


NAMES = ("saved_fraction", "saved_vs_single_frame_fraction", "clear_pixels_lost_fraction", "energy_per_mb_wh",
         "latency_p90_s", "oracle_saved_vs_single_frame_fraction", "oracle_clear_pixels_lost_fraction")


def labelled(i, label, values, complete=2, failed=0):
    return ConfigSummary(i, {"pipeline[0].threshold": label}, complete, failed,
                         {n: Estimate(v, None if v is None else 0.01, 0 if v is None else 2)
                          for n, v in zip(NAMES, values)})


TIED = [labelled(0, "0.3", (0.5, 0.5, 0.02, 3.0, 100.0, 0.45, 0.01)),  # ties with 1 and is beaten by it
        labelled(1, "0.5", (0.5, 0.5, 0.01, 3.0, 100.0, 0.47, 0.005)),
        labelled(2, "0.7", (0.4, 0.4, 0.0, 2.0, 90.0, 0.38, 0.0)),
        labelled(3, "0.9", (None,) * 7, complete=0), labelled(4, "1.0", (None,) * 7, complete=0, failed=2)]
ROWS = ([{"status": "complete"}] * 6 + [{"status": "failed", "run_id": f"c004-r{r}", "error": "x"} for r in (0, 1)]
        + [{"status": "pending"}] * 2)


def test_a_figure_from_fewer_runs_than_the_runs_column_counts_says_so(tmp_path):
    """One of a configuration's two complete runs delivered nothing, so its energy per MB is one run's: the table
    showed it as it shows a one-replicate figure, beside "runs 2"."""
    sweep = load_sweep(write_sweep(tmp_path))
    short = dataclasses.replace(TIED[2], figures={**TIED[2].figures, "energy_per_mb_wh": Estimate(2.0, None, 1)})
    (row,) = ranked_table(sweep, [short])[0].rows
    assert row[6:9] == ("2 Wh/MB (1 of 2 runs)", "1.5 min ± 0.01 s", "2")


def test_ties_share_a_rank_and_configurations_not_run_are_unranked_last(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path))
    table = ranked_table(sweep, TIED)[0]
    assert table.header == ("rank", "config", "pipeline[0].threshold", "saved_vs_single_frame_fraction",
                            "saved_fraction", "clear_pixels_lost_fraction", "energy_per_mb_wh",
                            "latency_p90_s", "runs", "Pareto")
    assert table.rows == (
        ("=1", "1", "0.5", "50.0 % ± 1.0 %", "50.0 % ± 1.0 %", "1.0 % ± 1.0 %", "3 Wh/MB ± 0.01 Wh/MB",
         "1.7 min ± 0.01 s", "2", "*"),
        ("=1", "0", "0.3", "50.0 % ± 1.0 %", "50.0 % ± 1.0 %", "2.0 % ± 1.0 %", "3 Wh/MB ± 0.01 Wh/MB",
         "1.7 min ± 0.01 s", "2", ""),
        ("3", "2", "0.7", "40.0 % ± 1.0 %", "40.0 % ± 1.0 %", "0.0 % [0.0 %, 1.0 %]", "2 Wh/MB ± 0.01 Wh/MB",
         "1.5 min ± 0.01 s", "2", "*"),
        ("not run yet", "3", "0.9", "n/a", "n/a", "n/a", "n/a", "n/a", "0", ""),
        ("no complete run", "4", "1.0", "n/a", "n/a", "n/a", "n/a", "n/a", "0 (2 failed)", ""))
    text = to_markdown(report_blocks(sweep, ROWS, TIED, ["clear_pixels_lost_fraction"], []))
    assert ("one replicate gives the value alone, and a figure from fewer of the complete runs than the runs column "
            "counts says how many, (1 of 2 runs). Pareto: * on the joint front of saved_vs_single_frame_fraction "
            "(higher is better) and clear_pixels_lost_fraction, energy_per_mb_wh, latency_p90_s (lower is better): no "
            "other configuration is at least as good on every one of these 4 figures and better on one, each compared "
            "as the table shows it (a difference the table does not show decides nothing). Configurations whose "
            "saved_vs_single_frame_fraction shows the same share a rank (=2), those on the Pareto front first, then by "
            "config number. Those without a value of saved_vs_single_frame_fraction come last, "
            "unranked: not run yet, no complete run "
            "(every run made failed) or no value (their runs do not give it).\n") in text


def test_the_pareto_caption_says_what_the_front_and_the_oracle_are(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path))
    blocks = report_blocks(sweep, ROWS, TIED, ["clear_pixels_lost_fraction", "latency_p90_s"], [])
    caption = blocks[blocks.index(next(b for b in blocks if isinstance(b, Image))) - 1]
    assert caption == Paragraph(
        "Bandwidth saved (saved_vs_single_frame_fraction, higher is better) against clear_pixels_lost_fraction, "
        "latency_p90_s (lower is better), one panel each. Red and numbered: the configurations starred in the table, "
        "on the joint front of all 4 figures (no other configuration is at least as good on every one and better on "
        "one), so a red point can lie behind another in one panel; grey: the others. Green, the oracle (true cloud "
        "mask, same tile policy): each configuration's pipeline fed the true cloud mask under its own tile policy "
        "(oracle_saved_vs_single_frame_fraction, oracle_clear_pixels_lost_fraction); against "
        "clear_pixels_lost_fraction an x joined to its configuration by a dotted line; against latency_p90_s a "
        "dashed line at the highest oracle saving. It is a reference, not a bound: the model's mask can save more, "
        "or lose fewer clear pixels, than the true one under the same tile policy.")
    assert "bound:" not in to_markdown(blocks).replace("not a bound:", "")


def test_the_pareto_caption_names_only_the_oracle_marks_the_plot_draws():
    # what the plot draws (app.sweep_plots.oracle_drawn) is what the caption says, panel by panel
    assert [oracle_drawn(TIED, p) for p in ("clear_pixels_lost_fraction", "energy_per_mb_wh")] == ["marks", "line"]
    caption = pareto_paragraph(TIED, ["energy_per_mb_wh", "latency_p90_s"])
    assert "an x joined" not in caption and "against energy_per_mb_wh, latency_p90_s a dashed line" in caption
    no_y = [labelled(c.config, "x", (0.5, 0.5, 0.02, 3.0, 100.0, 0.45, None)) for c in TIED[:2]]
    assert oracle_drawn(no_y, "clear_pixels_lost_fraction") == "line"
    assert "against clear_pixels_lost_fraction a dashed line" in pareto_paragraph(no_y, ["clear_pixels_lost_fraction"])
    # a configuration off every front (a replicate that delivered nothing: all of nothing "saved") sets no line
    # (the plot's axes are in per cent)
    unfit = dataclasses.replace(labelled(2, "y", (0.5, 0.5, 0.02, 3.0, 100.0, 0.67, None)), unfit="delivered no frame")
    assert _oracle_best_x([*no_y, unfit]) == 45.0 and oracle_drawn([unfit], "latency_p90_s") is None
    no_oracle = [labelled(c.config, "x", (0.5, 0.5, 0.02, 3.0, 100.0, None, None)) for c in TIED[:2]]
    assert oracle_drawn(no_oracle, "clear_pixels_lost_fraction") is None
    assert "oracle" not in pareto_paragraph(no_oracle, ["clear_pixels_lost_fraction", "latency_p90_s"])


def test_an_estimate_in_its_unit():
    assert fmt_estimate("saved_fraction", Estimate(0.4512, 0.0231, 2)) == "45.1 % ± 2.3 %"
    assert fmt_estimate("latency_p90_s", Estimate(143.0, None, 1)) == "2.4 min"
    assert fmt_estimate("cloud_f1", Estimate(None, None, 0)) == "n/a"
    # 2 replicates (t = 12.7) printed cloud_f1 44.6 % ± 558.1 %: an interval past 0 % or 100 % is shown clipped
    assert fmt_estimate("cloud_f1", Estimate(0.446, 5.581, 2)) == "44.6 % [0.0 %, 100.0 %]"
    assert fmt_estimate("clear_pixels_lost_fraction", Estimate(0.115, 0.200, 2)) == "11.5 % [0.0 %, 31.5 %]"
    assert fmt_estimate("saved_vs_single_frame_fraction", Estimate(0.444, 2.261, 2)) == "44.4 % [-181.7 %, 100.0 %]"
    assert fmt_estimate("energy_per_mb_wh", Estimate(3.271, 13.37, 2)) == "3.271 Wh/MB [0 Wh/MB, 16.64 Wh/MB]"


def test_the_first_two_are_told_apart_or_not_by_their_replicates():
    def rows_of(first, second):
        return [{"config": c, "replicate": r, "status": "complete", "saved_vs_single_frame_fraction": v}
                for c, values in ((0, first), (1, second)) for r, v in enumerate(values)]

    configs = [config(0, 0.5, 0.01, 3.0, 100.0), config(1, 0.48, 0.01, 3.0, 100.0)]  # ranked: 0 then 1
    objective = "saved_vs_single_frame_fraction"
    apart = lead_text(configs, rows_of((0.30, 0.50, 0.70), (0.28, 0.47, 0.675)), objective)
    assert apart == ("The first two set against each other replicate by replicate (replicate r has the same seed in "
                     "both: the same sky and camera noise): config 0's saved_vs_single_frame_fraction less config 1's "
                     "is 2.5 %, 95 % CI 1.3 % to 3.7 % over 3 replicates, which excludes 0: the first leads on these "
                     "replicates.")
    mixed = lead_text(configs, rows_of((0.30, 0.50, 0.70), (0.35, 0.40, 0.69)), objective)
    assert mixed.endswith("over 3 replicates, which holds 0: these replicates do not tell the two apart.")
    assert lead_text(configs, rows_of((0.30,), (0.28,)), objective) is None  # one replicate: no interval
    assert lead_text(configs[:1], rows_of((0.3, 0.5), ()), objective) is None
    tied = [config(0, 0.5004, 0.01, 3.0, 100.0), config(1, 0.4996, 0.01, 3.0, 100.0)]  # both "50.0 %": =1 says it
    assert lead_text(tied, rows_of((0.30, 0.50), (0.28, 0.47)), objective) is None


def test_a_failed_run_shows_its_problem_not_the_line_that_heads_it():
    """A ConfigError's first line says only "FILE: 1 problem(s)"; the problem, with its cause at the end, follows."""
    error = ("ConfigError: /work/main/scenarios/quickstart.yaml: 1 problem(s)\n  --set pipeline[0].model=/tmp/m/b.tflite: "
             "pipeline[0].model: expected a model file that loads and matches its card (orbitedge card init MODEL "
             "writes one), found /tmp/m/b.tflite: not a TFLite model: bytes 4..8 are b'O\\xf5\\xe9\\xf2', expected "
             "b'TFL3'")
    text = failure_text(error)
    assert text.startswith("ConfigError: --set pipeline[0].model=/tmp/m/b.tflite: pipeline[0].model: expected a ")
    assert text.endswith("not a TFLite model: bytes 4..8 are b'O\\xf5\\xe9\\xf2', expected b'TFL3'")
    assert " ... " in text and len(text) <= 240
    many = "ConfigError: s.yaml: 5 problem(s)\n" + "\n".join(f"  s.yaml:{i}: k{i}: expected 1, found {i}"
                                                             for i in range(5))
    assert failure_text(many) == ("ConfigError: s.yaml:0: k0: expected 1, found 0; s.yaml:1: k1: expected 1, found 1; "
                                  "s.yaml:2: k2: expected 1, found 2; and 2 more")
    assert failure_text("InputFileError: imagery.tif: truncated\nTraceback ...") == \
        "InputFileError: imagery.tif: truncated"  # no indented lines: the first line
    long = "Dask lost 4 workers while they held it " + "and more " * 40
    assert failure_text(long, 60) == "Dask lost 4 workers while they held it and more and ..."  # at a word


def test_no_front_when_every_configuration_is_unfit():
    unfit = [dataclasses.replace(config(i, 0.5, 0.01, 3.0, 100.0), unfit="captured no frame") for i in (0, 1)]
    assert front_text(unfit) == "none (every configuration with a complete run is unfit to win: see why under the table)"


def test_the_report_of_a_real_sweep(tmp_path):
    outcome, _ = made_sweep()
    text = (outcome.out / "sweep.md").read_text()
    assert text.startswith("# orbitedge sweep: tiny\n")
    assert "grid sampling of 2 configurations x 2 replicate(s) = 4 runs: 4 complete, 0 failed" in text
    assert "## Configurations ranked by saved_vs_single_frame_fraction (highest first)" in text
    assert "![Pareto front](plots/pareto.png)" in text and "(plots/axis-0-pipeline-0-threshold.png)" in text
    assert (outcome.out / "plots" / "pareto.png").is_file() and "## Failed runs" not in text
    table = next(b for b in ranked_table(outcome.sweep, outcome.configs) if isinstance(b, Table))
    assert [row[2] for row in table.rows] == [c.labels["pipeline[0].threshold"] for c in outcome.configs]
    best = outcome.configs[0].figures["saved_vs_single_frame_fraction"]
    assert table.rows[0][3] == fmt_estimate("saved_vs_single_frame_fraction", best) != fmt_figure(
        "saved_vs_single_frame_fraction", best.mean)  # with its interval
    assert table.header[3:9] == ("saved_vs_single_frame_fraction", "saved_fraction", "clear_pixels_lost_fraction",
                                 "energy_per_mb_wh", "latency_p90_s", "cloud_f1")  # every figure the front weighs
    paths = write_sweep_report(outcome.sweep, outcome.rows, outcome.configs, tmp_path, "html")
    page = paths[0].read_text()
    assert paths[0] == tmp_path / "sweep.html" and "<h1" in page
    assert "(<code>orbitedge report</code> works on any)" in page and "`" not in page
    assert all(p.is_file() for p in paths)


def test_failed_runs_are_listed_with_their_error():
    outcome, _ = made_sweep()
    rows = [dict(r) for r in outcome.rows]
    rows[1].update(status="failed", error="InputFileError: imagery.tif: truncated\nTraceback ...")
    rows[2].update(status="failed", error="ConfigError: q.yaml: 1 problem(s)\n  q.yaml:3: seed: expected an integer, "
                                          "found 'x'")
    blocks = report_blocks(outcome.sweep, rows, outcome.configs, [], [])
    text = to_markdown(blocks)
    assert "2 complete, 2 failed" in text and "| c000-r1 | InputFileError: imagery.tif: truncated |" in text
    assert "| c001-r0 | ConfigError: q.yaml:3: seed: expected an integer, found 'x' |" in text
    assert not any(isinstance(b, Image) for b in blocks)


def test_the_runs_warnings_are_listed_once_each_with_the_runs_that_give_them():
    outcome, _ = made_sweep()
    rows = [dict(r) for r in outcome.rows]
    for row in rows[:3]:
        row["warnings"] = ["nothing was captured of the 3 captures planned."]
    rows[2]["warnings"] = rows[2]["warnings"] + ["The link drops frames."]
    text = to_markdown(report_blocks(outcome.sweep, rows, outcome.configs, [], []))
    assert "## Run warnings" in text
    assert "| nothing was captured of the 3 captures planned. | c000-r0, c000-r1, c001-r0 (3 of 4 complete runs) |" \
        in text and "| The link drops frames. | c001-r0 (1 of 4 complete runs) |" in text
    assert _runs_text([f"c{i:03d}-r0" for i in range(9)], 20) == \
        "c000-r0, c001-r0, c002-r0, c003-r0, c004-r0, c005-r0, and 3 more (9 of 20 complete runs)"
    quiet = [dict(r, warnings=[]) for r in outcome.rows]
    assert "Run warnings" not in to_markdown(report_blocks(outcome.sweep, quiet, outcome.configs, [], []))
