"""The command line as a user meets it: exit codes, messages without tracebacks, help with examples."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from onboard.cli import COMMANDS, main

ROOT = Path(__file__).parents[1]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def orbitedge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "onboard.cli", *args], capture_output=True, text=True, cwd=ROOT)


def test_validate_ok():
    result = orbitedge("validate", str(QUICKSTART))
    assert result.returncode == 0 and "OK" in result.stdout


def test_validate_broken_scenario_exits_2_with_line_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(QUICKSTART.read_text().replace("gsd_m: 10.0", "gsd_m: ten"))
    line = next(i + 1 for i, l in enumerate(bad.read_text().splitlines()) if "gsd_m: ten" in l)
    result = orbitedge("validate", str(bad))
    assert result.returncode == 2
    assert f"bad.yaml:{line}: spacecraft.camera.gsd_m: expected a number, found str 'ten'" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_subcommand_has_help_with_an_example(name):
    result = orbitedge(name, "--help")
    assert result.returncode == 0 and "example:" in result.stdout and "orbitedge " in result.stdout


def test_missing_file_is_a_clean_error():
    result = orbitedge("run", "no/such.yaml")
    assert result.returncode == 2 and "no/such.yaml" in result.stderr and "Traceback" not in result.stderr


def test_run_refuses_a_used_directory(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "report.json").write_text("{}")
    result = orbitedge("run", str(QUICKSTART), "--out", str(tmp_path / "old"))
    assert result.returncode == 2 and "--overwrite" in result.stderr


def test_report_on_a_missing_run_directory(tmp_path):
    result = orbitedge("report", str(tmp_path / "nothing"))
    assert result.returncode == 2 and "nothing" in result.stderr and "Traceback" not in result.stderr


def test_run_json_summary_and_report_rerun(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(ROOT / "scenarios" / "landsat_parana.yaml"), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["scenario"] == "landsat_parana" and summary["ledger.captured"] > 0
    assert main(["report", str(out), "--format", "html", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == summary
    assert (out / "report.html").is_file()


def test_hardware_show_cites_sources(capsys):
    assert main(["hardware", "show", "host"]) == 0
    assert "sources:" in capsys.readouterr().out
