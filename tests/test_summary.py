"""The versioned JSON summaries: every key documented, the figures where the report has them, the hardware profile,
and ``report --json`` printing the run summary."""

import json
import shutil
import subprocess
import sys

from app.cli import main
from app.figures import read_run
from app.summary import RUN_KEYS, SCHEMA_VERSION, hardware_of, run_summary, schema_table
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
    assert all(f"| `{key}` |" in table for key in ("schema_version", "kind", *RUN_KEYS))
    printed = subprocess.run([sys.executable, "-m", "app.summary"], capture_output=True, text=True, check=True)
    assert printed.stdout == table + "\n"
