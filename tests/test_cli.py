"""The command line as a user meets it: exit codes, messages without tracebacks, help with examples."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import COMMANDS, main

ROOT = Path(__file__).parents[1]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def orbitedge(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], capture_output=True, text=True, cwd=ROOT)


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


@pytest.mark.parametrize("name", [*sorted(COMMANDS), "card init", "card score"])
def test_every_subcommand_has_help_with_an_example(name):
    result = orbitedge(*name.split(), "--help")
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


def test_report_on_a_run_directory_it_cannot_write_says_so_and_what_to_do(tiny_run, capsys, monkeypatch):
    """On a read-only share the report stopped at its first mosaic with only "Read-only file system". Fault
    injected: the kernel's answer for that folder (root writes a chmod 555 folder all the same)."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == tiny_run and mode == os.W_OK
                        else real(path, mode))
    assert main(["report", str(tiny_run)]) == 2
    assert capsys.readouterr().err == (
        f"orbitedge: error: {tiny_run}: not writable (a read-only file system or share?): the report writes "
        "report.json, report.md, mosaics/, plots/ and stac/ into the run directory and nothing else there; copy it "
        "somewhere writable (cp -r) and report the copy\n")
    assert not (tiny_run / "report.json").exists() and not (tiny_run / "mosaics").exists()


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


def test_a_reader_that_goes_away_stops_the_command_quietly():
    """`orbitedge ... | head`: the pipe's reader closes before the command writes; it stops with the SIGPIPE status
    (128 + 13), no traceback."""
    child = subprocess.Popen([sys.executable, "-m", "app.cli", "hardware", "show", "host"], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    child.stdout.close()
    err = child.stderr.read()
    assert child.wait() == 141
    assert err == ""


# --- --set values and YAML as people type it (issue 11, kinds E and F) --------------------------------------------

DATA = ROOT / "tests" / "data"


@pytest.mark.parametrize("override, found", [
    ("start_utc=2016-12-31T23:59:60Z", "found 2016-12-31T23:59:60Z (a leap second, as IERS Bulletin C announces "
                                       "them; Python datetimes, on which the simulation runs, have no second 60: use "
                                       "2017-01-01T00:00:00Z)"),
    ("start_utc=2026-13-01", "found 2026-13-01 (month must be in 1..12)"),
])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_set_time_the_same_clear_error_as_in_the_file(tmp_path, command, override, found):
    out = tmp_path / "run"
    result = orbitedge(command, str(DATA / "base.yaml"), "--set", override,
                       *(["--out", str(out), "--quiet"] if command == "run" else []))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"orbitedge: error: {DATA / 'base.yaml'}: 1 problem(s)\n  --set {override}: start_utc: "
                             f"expected an ISO 8601 UTC time like 2026-06-21T00:00:00Z, {found}\n")
    assert not out.exists()


@pytest.mark.parametrize("command", ["validate", "run"])
def test_set_explicit_tag_it_cannot_read(tmp_path, capsys, command):
    args = ["--out", str(tmp_path / "run"), "--quiet"] if command == "run" else []
    assert main([command, str(DATA / "base.yaml"), "--set", "duration_h=!!int abc", *args]) == 2
    err = capsys.readouterr().err
    assert "  --set duration_h=!!int abc: duration_h: expected a number, found !!int abc (invalid literal for int() " \
           "with base 10: 'abc')\n" in err


@pytest.mark.parametrize("value, problem", [("-=y", "-: expected one of the keys name, seed"),
                                            ("--overwrite", "<document>: expected --set KEY.PATH=VALUE")])
def test_a_set_value_that_looks_like_an_option_is_checked_as_a_set(capsys, value, problem):
    """argparse would stop at ``--set -=y`` with its own usage error; the value reaches the scenario's checks."""
    assert main(["validate", str(DATA / "base.yaml"), "--set", value]) == 2
    assert f"  --set {value}: {problem}" in capsys.readouterr().err


def test_leap_second_in_the_file(capsys):
    path = DATA / "yaml_leap_second.yaml"
    assert main(["validate", str(path)]) == 2
    assert f"  {path}:3: start_utc: expected an ISO 8601 UTC time like 2026-06-21T00:00:00Z, found " \
           "2016-12-31T23:59:60Z (a leap second" in capsys.readouterr().err


def test_yaml_1_1_field_cases(capsys):
    assert main(["validate", str(DATA / "yaml_sci_notation.yaml")]) == 0
    assert "OK" in capsys.readouterr().out
    path = DATA / "yaml_implicit_types.yaml"
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"orbitedge: error: {path}: 3 problem(s)\n")
    assert f"  {path}:11: satellites[0].name: expected a non-empty string, found 00511 (YAML reads it as int 329): " \
           "quote it, '00511', to keep it text\n" in err
    assert f"  {path}:14: ground_stations[0].name: expected a non-empty string, found NO (YAML reads it as bool " \
           "False): quote it, 'NO', to keep it text\n" in err
    assert f"  {path}:16: targets[0].name: expected a non-empty string, found on" in err


def test_set_on_the_command_line_help():
    text = " ".join(orbitedge("validate", "--help").stdout.split())  # argparse wraps the help
    assert "VALUE is YAML, checked as if it were in the file" in text
    assert "quote text that YAML reads as another type: --set \"targets[0].name='NO'\"" in text


def test_bench_json_replaces_an_earlier_bench_report_but_no_other_file(tmp_path, capsys):
    from tests.tiny_models import INT8, copy_model

    model = copy_model(tmp_path, INT8, with_card=True)
    victim = tmp_path / "scenario.yaml"
    victim.write_text(QUICKSTART.read_text())
    assert main(["bench", str(model), "--runs", "2", "--json", str(victim)]) == 2
    assert capsys.readouterr().err == (f"orbitedge: error: --json {victim}: the file is there and is not an earlier "
                                       "bench report; expected a new path or a bench report to replace, found another "
                                       "file (left as it is)\n")
    assert victim.read_text() == QUICKSTART.read_text()
    report = tmp_path / "bench.json"
    for _ in range(2):  # made, then replaced
        assert main(["bench", str(model), "--runs", "2", "--json", str(report)]) == 0
        assert len(json.loads(report.read_text())["models"]) == 1


@pytest.mark.parametrize("options", [["--runtime", "both"], ["--runtime", "onnxruntime"], ["--device", "onnx-cuda"]])
def test_bench_checks_its_onnx_dir_up_front_as_other_outputs_are(tmp_path, capsys, options):
    from tests.tiny_models import INT8, copy_model

    model = copy_model(tmp_path, INT8, with_card=True)  # no ONNX twin beside it: bench would export one
    twins = tmp_path / "twins"
    twins.write_text("a file where the folder should be")
    assert main(["bench", str(model), *options, "--onnx-dir", str(twins)]) == 2
    assert capsys.readouterr().err == f"orbitedge: error: --onnx-dir {twins}: expected a folder, found a file\n"
    nested = twins / "onnx"
    assert main(["bench", str(model), *options, "--onnx-dir", str(nested)]) == 2
    assert capsys.readouterr().err.startswith(f"orbitedge: error: --onnx-dir {nested}: cannot make the folder: ")


@pytest.mark.parametrize("argv, command", [(["run", "scenarios/quickstart.yaml", "--bogus"], "run"),
                                           (["sweep", "sweeps/threshold.yaml", "--set", "duration_h=1"], "sweep"),
                                           (["compare", "runs/a", "--bogus"], "compare")])
def test_an_option_the_command_does_not_take_is_named_under_that_commands_usage(argv, command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.startswith(f"usage: orbitedge {command} ")
    assert f"orbitedge {command}: error: unrecognized arguments: {' '.join(argv[2:])}" in err


def test_an_option_before_the_command_is_named_under_the_top_level_usage(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--quiet", "run", "scenarios/quickstart.yaml"])
    err = capsys.readouterr().err  # run takes --quiet, but after its name
    assert exit_.value.code == 2 and err.startswith("usage: orbitedge [-h] COMMAND")
    assert "orbitedge: error: unrecognized arguments: --quiet" in err


def test_report_on_a_sweeps_folder_points_at_its_report_and_its_runs(tmp_path, capsys):
    (tmp_path / "sweep.json").write_text('{"kind": "sweep"}')
    (tmp_path / "sweep.md").write_text("# sweep\n")
    assert main(["report", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"orbitedge: error: {tmp_path}: not a run directory: a sweep's folder; see its "
                                       f"sweep.md, or give one of its run directories ({tmp_path / 'runs'}/*)\n")


@pytest.mark.parametrize("entry", ["console script", "python -m app.cli"])
def test_ctrl_c_while_the_command_loads_exits_130_without_a_traceback(entry):
    # fault injected: Ctrl-C as one of the command's modules is imported, the first ~0.3 s of every command
    launch = ("from app.cli import main; sys.exit(main())" if entry == "console script"
              else "import runpy; runpy.run_module('app.cli', run_name='__main__')")
    code = ("import sys\n"
            "class CtrlC:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'app.compare':\n"
            "            raise KeyboardInterrupt\n"
            "sys.meta_path.insert(0, CtrlC())\n"
            f"sys.argv = ['orbitedge', 'validate', {str(QUICKSTART)!r}]\n{launch}\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert (result.returncode, result.stdout, result.stderr) == (130, "", "orbitedge: interrupted\n")
