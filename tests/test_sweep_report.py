"""A sweep's report: the configurations ranked with their intervals, the Pareto front, an axis plot each, the failed
runs; Markdown and HTML."""

from app.sweep_report import fmt_estimate, joint_front, ranked_table, report_blocks, write_sweep_report
from app.sweep_results import ConfigSummary, Estimate
from ground.document import Image, Table, to_markdown
from tests.sweep_cases import made_sweep


def config(i, saved, lost, energy, latency):
    names = ("saved_vs_single_frame_fraction", "clear_pixels_lost_fraction", "energy_per_mb_wh", "latency_p90_s")
    return ConfigSummary(i, {}, 1, 0, {n: Estimate(v, None, 1) for n, v in zip(names, (saved, lost, energy, latency))})


def test_the_joint_front_weighs_all_four_figures():
    configs = [config(0, 0.5, 0.01, 10.0, 100.0), config(1, 0.5, 0.01, 12.0, 100.0),  # 1: more energy, beaten by 0
               config(2, 0.3, 0.01, 9.0, 100.0), config(3, 0.6, None, 9.0, 50.0)]
    assert joint_front(configs) == {0, 2}
    alone = ConfigSummary(0, {}, 1, 0, {"saved_vs_single_frame_fraction": Estimate(0.5, None, 1)})
    assert joint_front([alone]) == set()


def test_an_estimate_in_its_unit():
    assert fmt_estimate("saved_fraction", Estimate(0.4512, 0.0231, 2)) == "45.1 % ± 2.3 %"
    assert fmt_estimate("latency_p90_s", Estimate(143.0, None, 1)) == "2.4 min"
    assert fmt_estimate("cloud_f1", Estimate(None, None, 0)) == "n/a"


def test_the_report_of_a_real_sweep(tmp_path):
    outcome, _ = made_sweep()
    text = (outcome.out / "sweep.md").read_text()
    assert text.startswith("# orbitedge sweep: tiny\n")
    assert "grid sampling of 2 configurations x 2 replicate(s) = 4 runs: 4 complete, 0 failed" in text
    assert "## Configurations ranked by saved_fraction (highest first)" in text
    assert "![Pareto front](plots/pareto.png)" in text and "(plots/axis-0-pipeline-0-threshold.png)" in text
    assert (outcome.out / "plots" / "pareto.png").is_file() and "## Failed runs" not in text
    table = next(b for b in ranked_table(outcome.sweep, outcome.configs) if isinstance(b, Table))
    assert [row[2] for row in table.rows] == [c.labels["pipeline[0].threshold"] for c in outcome.configs]
    best = outcome.configs[0].figures["saved_fraction"]
    assert table.rows[0][3] == fmt_estimate("saved_fraction", best) and " ± " in table.rows[0][3]
    paths = write_sweep_report(outcome.sweep, outcome.rows, outcome.configs, tmp_path, "html")
    assert paths[0] == tmp_path / "sweep.html" and "<h1" in paths[0].read_text()
    assert all(p.is_file() for p in paths)


def test_failed_runs_are_listed_with_their_error():
    outcome, _ = made_sweep()
    rows = [dict(r) for r in outcome.rows]
    rows[1].update(status="failed", error="InputFileError: imagery.tif: truncated\nTraceback ...")
    blocks = report_blocks(outcome.sweep, rows, outcome.configs, [], [])
    text = to_markdown(blocks)
    assert "3 complete, 1 failed" in text and "| c000-r1 | InputFileError: imagery.tif: truncated |" in text
    assert not any(isinstance(b, Image) for b in blocks)
