"""``orbitedge compare``: real runs side by side, the best of each row marked, JSON, and a missing report named."""

import json
import shutil

from app.cli import main
from app.compare import best_of, compare_table
from tests.sweep_cases import made_sweep


def test_two_runs_side_by_side():
    outcome, _ = made_sweep()
    a, b = outcome.out / "runs" / "c000-r0", outcome.out / "runs" / "c001-r0"
    lines = compare_table([a, b]).splitlines()
    assert lines[0].split() == ["c000-r0", "c001-r0"]
    rows = {line[:42].strip(): line[42:].split("  ") for line in lines[1:-1]}
    assert rows["pipeline"][-1].strip() == "cloud_filter>encode" and rows["seed"][-1].strip() == "42"
    cloud_f1 = [cell.strip() for cell in rows["cloud_f1 (higher)"] if cell.strip()]
    f1 = [r["cloud_f1"] for r in outcome.rows if r["run_id"] in ("c000-r0", "c001-r0")]
    assert cloud_f1[f1.index(max(f1))].endswith(" *") and not cloud_f1[f1.index(min(f1))].endswith("*")
    assert lines[-1].strip().startswith("* the best of the row")


def test_the_best_of_a_row():
    assert best_of("saved_fraction", [0.1, 0.3, None]) == {1}
    assert best_of("latency_p90_s", [10.0, 3.0]) == {1}
    assert best_of("saved_fraction", [0.3, 0.1, 0.3]) == {0, 2}  # two runs tie for the best: both marked
    assert best_of("latency_p90_s", [3.0, 3.0]) == set() and best_of("cloud_f1", [0.9, None]) == set()
    assert best_of("cloud_f1", [None, None]) == set()


def test_values_that_print_the_same_tie():
    """150 s and 151 s both print 2.5 min: no star for one of two equal-looking values."""
    assert best_of("latency_p90_s", [151.0, 150.0]) == set()
    assert best_of("latency_p90_s", [151.0, 150.0, 200.0]) == {0, 1}
    assert best_of("saved_fraction", [0.77883, 0.77901]) == set()  # both 77.9 %


def test_json_and_a_missing_report(tmp_path, capsys):
    outcome, _ = made_sweep()
    run = outcome.out / "runs" / "c000-r1"
    assert main(["compare", str(run), str(run), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["kind"] == "compare" and len(printed["runs"]) == 2
    assert printed["runs"][0]["figures"]["cloud_f1"] == printed["runs"][0]["summary"]["cloud.f1"]
    shutil.copytree(run / "telemetry", tmp_path / "bare" / "telemetry")
    assert main(["compare", str(run), str(tmp_path / "bare")]) == 2
    assert "bare/report.json: no report.json: run `orbitedge report`" in capsys.readouterr().err
