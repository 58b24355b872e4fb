"""``orbitedge sweep``: the plan, a finished sweep resumed (its summary, JSON, quiet), runs failed at the end as exit 1
and named with --retry-failed, bad input as exit 2, a folder not a sweep's refused, and Ctrl-C or SIGTERM as one line,
the results so far written."""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cli import main
from app.summary import PLAN_KEYS, SCHEMA_VERSION
from app.sweep_command import failure_lines, sweep_options
from app.sweep import MARKER, sweep_state
from app.sweep_file import load_sweep
from app.sweep_results import rank_labels
from rundir.files import LOCK_FILE
from tests.lock_holder import lock_holder
from tests.sweep_cases import QUICKSTART, ROOT, TINY, made_sweep, with_a_blocked_run, write_sweep


def test_the_plan_lists_every_run(tmp_path, capsys):
    outcome, _ = made_sweep()
    assert main(["sweep", str(outcome.sweep.file), "--plan"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "c000-r0  seed 42  pipeline[0].threshold=0.3", "c000-r1  seed 43  pipeline[0].threshold=0.3",
        "c001-r0  seed 42  pipeline[0].threshold=0.7", "c001-r1  seed 43  pipeline[0].threshold=0.7"]
    assert main(["sweep", str(outcome.sweep.file), "--plan", "--quiet"]) == 0
    assert capsys.readouterr().out == ""  # it validates, and prints nothing but errors
    assert main(["sweep", str(outcome.sweep.file), "--plan", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"schema_version", "kind", *PLAN_KEYS} and printed["kind"] == "plan"
    assert (printed["schema_version"], printed["sweep"]) == (SCHEMA_VERSION, "tiny")
    plan = printed["runs"]
    assert all(set(r) == {"run_id", "config", "replicate", "seed", "values", "labels", "overrides", "resources"}
               for r in plan)
    assert [(r["run_id"], r["seed"], r["values"]) for r in plan] == [
        ("c000-r0", 42, {"pipeline[0].threshold": 0.3}), ("c000-r1", 43, {"pipeline[0].threshold": 0.3}),
        ("c001-r0", 42, {"pipeline[0].threshold": 0.7}), ("c001-r1", 43, {"pipeline[0].threshold": 0.7})]
    assert "pipeline[0].threshold=0.7" in plan[3]["overrides"] and plan[3]["resources"] == {}


def test_a_finished_sweep_resumed(capsys, monkeypatch):
    outcome, _ = made_sweep()
    argv = ["sweep", str(outcome.sweep.file), "--out", str(outcome.out)]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("tiny: 4 runs, 0 made now in ") and lines[0].endswith("4 complete (4 before), 0 failed")
    assert lines[1] == "  best by saved_vs_single_frame_fraction (higher is better):"  # the default objective
    first = rank_labels(outcome.configs, "saved_vs_single_frame_fraction")[0]  # =1 when both save the same
    assert first in ("1", "=1") and lines[2].startswith(f"    {first}. config {outcome.configs[0].config}: "
                                                         "pipeline[0].threshold=")
    assert lines[-2:] == [f"  wrote  {outcome.out / 'results.csv'}", f"  wrote  {outcome.out / 'sweep.md'}"]  # not below
    monkeypatch.chdir(outcome.out)
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == ["  wrote  results.csv", "  wrote  sweep.md"]
    assert main(argv + ["--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["schema_version"], summary["kind"], summary["runs"]["skipped"]) == (SCHEMA_VERSION, "sweep", 4)
    assert main(argv + ["--quiet"]) == 0
    assert capsys.readouterr() == ("", "")


def test_a_wrong_scheduler_address_is_exit_2_and_leaves_no_folder(tmp_path, capsys):
    """Checked before the folder is touched (an address nothing answers at is refused the same way, after 20 s);
    the folders the command made for the sweep go, a folder the user made stays."""
    sweep_file = write_sweep(tmp_path, TINY)
    refused = "orbitedge: error: --scheduler: expected a scheduler address such as "
    for out in (tmp_path / "out", tmp_path / "new" / "deeper" / "out"):
        assert main(["sweep", str(sweep_file), "--out", str(out), "--scheduler", "foo"]) == 2
        assert capsys.readouterr().err.startswith(refused)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.yaml"]
    mine = tmp_path / "mine"
    mine.mkdir()
    assert main(["sweep", str(sweep_file), "--out", str(mine), "--scheduler", "foo", "--overwrite"]) == 2
    assert capsys.readouterr().err.startswith(refused) and mine.is_dir() and not any(mine.iterdir())


def test_a_second_sweep_into_a_folder_another_is_writing_into_is_refused_and_touches_nothing(tmp_path, capsys):
    """The same command started twice (two terminals, a job relaunched while the first still ran): both made every
    run into the same run directories at once, and damaged some. The second is refused, naming the first's pid,
    and changes nothing; once the first is gone, the command works."""
    outcome, _ = made_sweep()
    out = tmp_path / "copy"
    shutil.copytree(outcome.out, out)
    def contents():
        return {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != LOCK_FILE}

    before = contents()
    holder = lock_holder(out)
    try:
        argv = ["sweep", str(outcome.sweep.file), "--out", str(out)]
        assert main(argv) == 2
        assert capsys.readouterr().err == (f"orbitedge: error: {out}: another orbitedge process (pid {holder.pid}) is "
                                           "writing into this folder; wait until it ends, or choose another folder\n")
        assert contents() == before
    finally:
        holder.communicate("", timeout=30)
    assert main(argv) == 0


def test_a_run_whose_report_was_damaged_is_made_again_on_resume(tmp_path, capsys):
    """A complete run whose report.json no longer reads (edited, cut short) counted as complete, and the resumed
    sweep stopped at the end on it with exit 2 and no results, every time. It is made again, as a run whose report
    is missing is."""
    outcome, _ = made_sweep()
    out = tmp_path / "copy"
    shutil.copytree(outcome.out, out)
    (out / "runs" / "c001-r0" / "report.json").write_text('{"trunc')
    assert main(["sweep", str(outcome.sweep.file), "--out", str(out)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("tiny: 4 runs, 1 made now on 1 worker in ")
    assert first.endswith("4 complete (3 before), 0 failed")
    assert json.loads((out / "runs" / "c001-r0" / "report.json").read_text())["complete"] is True
    marker = json.loads((out / "runs" / "c001-r0" / MARKER).read_text())
    assert marker["status"] == "complete" and len(marker["attempts"]) == 2
    assert (out / "results.csv").read_bytes() == (outcome.out / "results.csv").read_bytes()


def test_runs_of_an_earlier_plan_with_more_replicates_are_named_and_left_out(tmp_path, capsys):
    """The sweep file edited from 2 replicates to 1 and run again into the same folder: the replicate-1 run folders
    stayed without a word. They are named, as left out of the results, in the terminal and in --json."""
    outcome, _ = made_sweep()
    out = tmp_path / "copy"
    shutil.copytree(outcome.out, out)
    (out / "failed").mkdir(exist_ok=True)  # and a run of a third configuration that failed
    (out / "failed" / "c002-r0.json").write_text(json.dumps({"run_id": "c002-r0", "error": "boom"}))
    fewer = write_sweep(tmp_path, TINY.replace("replicates: 2", "replicates: 1"))
    assert main(["sweep", str(fewer), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("2 complete (2 before), 0 failed")
    assert lines[1] == (f"  not in this plan: 3 runs of an earlier plan in {out} (c000-r1, c001-r1, c002-r0), left "
                        "out of the results; --overwrite removes them")
    assert main(["sweep", str(fewer), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["other_runs"] == ["c000-r1", "c001-r1", "c002-r0"] and summary["runs"]["total"] == 2
    assert (out / "runs" / "c001-r1" / "report.json").is_file()  # left in place
    assert main(["sweep", str(outcome.sweep.file), "--out", str(out), "--json"]) == 0  # the first plan again
    assert json.loads(capsys.readouterr().out)["other_runs"] == ["c002-r0"]


def test_a_finished_sweep_needs_no_scheduler_to_write_its_report_again(tmp_path, capsys):
    """Nothing left to do: the cluster is not asked for (it may be gone), the report is written again."""
    outcome, _ = made_sweep()
    out = tmp_path / "copy"
    shutil.copytree(outcome.out, out)
    argv = ["sweep", str(outcome.sweep.file), "--out", str(out), "--scheduler", "tcp://127.0.0.1:1", "--format", "html"]
    assert main(argv) == 0 and (out / "sweep.html").is_file()


def test_runs_failed_at_the_end_are_exit_1_and_named_with_retry_failed(tmp_path, capsys):
    reference, out = with_a_blocked_run(tmp_path)
    argv = ["sweep", str(reference.sweep.file), "--out", str(out), "--workers", "1"]
    assert main(argv) == 1  # not 0: a batch job sees it; not 2 (bad input) nor 130 (interrupted)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("3 complete (3 before), 1 failed") and lines[1] == (
        f"  failed: c001-r1, each with its error in {out / 'failed'}/RUN.json; the same command with --retry-failed "
        "makes them again")
    assert lines[2].startswith(f"    c001-r1: InputFileError: {out / 'runs' / 'c001-r1'}: is in the way of this "
                               "sweep's run")  # the error itself, not only where it is kept
    # config 1 has seed 42 alone, config 0 seeds 42 and 43: it is not ranked against config 0 on another sky
    why = "has 1 of its 2 replicates (1 failed): it lacks the skies of seed 43 that others are measured on"
    assert f"  Unfit to win (config 1 {why}): these configurations rank after the others that have a value and are " \
           "on no Pareto front." in lines
    assert lines[lines.index("  best by saved_vs_single_frame_fraction (higher is better):") + 2].startswith(
        "    2. config 1: pipeline[0].threshold=0.7: ")
    summary = json.loads((out / "sweep.json").read_text())
    assert [(c["config"], c["unfit"], c["off_front"], c["pareto"]) for c in summary["configurations"]] == \
        [(0, None, None, True), (1, why, why, False)]
    assert f"config 1 {why}" in (out / "sweep.md").read_text()
    assert main(argv + ["--quiet"]) == 1  # still failed: errors are what --quiet prints, on stderr
    assert capsys.readouterr() == ("", "orbitedge: " + "\n".join(lines[1:3]).lstrip() + "\n")
    (out / "runs" / "c001-r1").unlink()
    assert main(argv + ["--retry-failed", "--quiet"]) == 0


def test_the_failed_runs_errors_are_each_said_once_with_their_runs():
    bad_seed = "ConfigError: q.yaml: 1 problem(s)\n  q.yaml:3: seed: expected an integer, found '{}'"
    rows = ([{"run_id": f"c{i:03d}-r0", "status": "failed", "error": "OSError: disk full"} for i in range(7)]
            + [{"run_id": f"c{i:03d}-r1", "status": "failed", "error": bad_seed.format(i)} for i in range(4)]
            + [{"run_id": "c000-r2", "status": "complete"}])
    assert failure_lines(rows) == [
        "    c000-r0, c001-r0, c002-r0, c003-r0, c004-r0 and 2 more: OSError: disk full",
        "    c000-r1: ConfigError: q.yaml:3: seed: expected an integer, found '0'",
        "    c001-r1: ConfigError: q.yaml:3: seed: expected an integer, found '1'",
        "    and 2 other errors"]
    assert failure_lines(rows[-1:]) == []


def test_bad_input_is_exit_2_with_every_problem(tmp_path, capsys):
    path = write_sweep(tmp_path, f"name: x\nscenario: {QUICKSTART}\naxes:\n  spacecraft.camera.gsd: [5, 10]\n")
    assert main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"orbitedge: error: {path}: 1 problem(s)\n  {path}:4: axes.spacecraft.camera.gsd: "
                          "expected a scenario key (at spacecraft.camera.gsd: one of the keys width_px")
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", str(path), "--workers", "0"])
    assert exit_.value.code == 2 and "expected a whole number of workers, 1 or more" in capsys.readouterr().err


def test_the_options_parse_and_a_worker_count_must_be_a_whole_number_above_zero(capsys):
    parser = argparse.ArgumentParser(prog="orbitedge sweep")
    sweep_options(parser)
    args = parser.parse_args(["study.yaml", "--workers", "3", "--format", "html", "--plan"])
    assert (args.sweep_file, args.workers, args.format, args.plan, args.memory_limit) == \
        (Path("study.yaml"), 3, "html", True, "auto")
    for bad in ("0", "-1", "two", "1.5"):
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(["study.yaml", "--workers", bad])
        assert exit_.value.code == 2
        assert f"{bad!r}: expected a whole number of workers, 1 or more" in capsys.readouterr().err


def test_a_memory_limit_is_checked_when_parsed(capsys):
    parser = argparse.ArgumentParser(prog="orbitedge sweep")
    sweep_options(parser)
    for good in ("auto", "2GiB", "500 MB", "4e9", "0"):
        assert parser.parse_args(["study.yaml", "--memory-limit", good]).memory_limit == good
    for bad in ("lots", "-1GB", "2 parsecs", "100MB", "1KB"):  # 100MB hung: a worker restarted before any run
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(["study.yaml", f"--memory-limit={bad}", "--plan"])
        assert exit_.value.code == 2 and f"{bad!r}: expected auto or a size in bytes" in capsys.readouterr().err


def test_an_output_folder_that_is_a_file_is_exit_2_before_the_cluster_starts(tmp_path, capsys):
    path = write_sweep(tmp_path, f"name: x\nscenario: {QUICKSTART}\nreplicates: 1\n")
    (tmp_path / "taken").write_text("x")
    assert main(["sweep", str(path), "--out", str(tmp_path / "taken")]) == 2
    assert capsys.readouterr().err == f"orbitedge: error: --out {tmp_path / 'taken'}: expected a folder, found a file\n"


def test_overwrite_of_a_folder_not_a_sweeps_deletes_nothing(tmp_path, capsys, monkeypatch):
    path = write_sweep(tmp_path, f"name: x\nscenario: {QUICKSTART}\n")
    project = tmp_path / "proj"
    (project / "runs" / "my-precious-run" / "telemetry").mkdir(parents=True)
    (project / "runs" / "my-precious-run" / "telemetry" / "run.json").write_text("d")
    (project / "failed").mkdir()
    (project / "failed" / "my-notes.txt").write_text("n")
    monkeypatch.chdir(project)
    assert main(["sweep", str(path), "--out", ".", "--overwrite"]) == 2
    assert capsys.readouterr().err == (
        f"orbitedge: error: --out {project}: expected a new or empty folder, or an earlier sweep's (with sweep.json "
        f"or runs/*/{MARKER}), found a folder holding failed, runs; nothing was deleted (--overwrite removes only "
        "what a sweep made): choose another --out\n")
    assert sorted(str(p.relative_to(project)) for p in project.rglob("*")) == [
        "failed", "failed/my-notes.txt", "runs", "runs/my-precious-run", "runs/my-precious-run/telemetry",
        "runs/my-precious-run/telemetry/run.json"]


def a_run_under_way(out, process, timeout_s=120):
    """Wait until a run of ``out`` is making its mission (its marker running, telemetry/ there)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and process.poll() is None:
        for marker in out.glob(f"runs/*/{MARKER}"):
            try:
                if json.loads(marker.read_text())["status"] == "running" and (marker.parent / "telemetry").is_dir():
                    return
            except (OSError, ValueError):
                pass
        time.sleep(0.1)
    raise AssertionError(f"no run under way in {out}: {process.poll()=}")


@pytest.mark.parametrize("stop, options", [("SIGTERM to the command", []),
                                           ("Ctrl-C to its process group", ["--json"]),
                                           ("SIGTERM to the command", ["--overwrite"])])
def test_a_stopped_sweep_says_one_line_and_keeps_what_was_done(tmp_path, stop, options):
    path = write_sweep(tmp_path, TINY)
    out = tmp_path / "out"
    # a shell's background job (make test under nohup, CI) starts with SIGINT ignored, which Python then keeps:
    # the command gets the default action back, as a terminal's foreground command has it
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "sweep", str(path), "--out", str(out), "--workers",
                                "1", *options], cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        a_run_under_way(out, process)
        if stop.startswith("SIGTERM"):
            process.send_signal(signal.SIGTERM)
        else:
            os.killpg(process.pid, signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130
    # with --overwrite the same command would start afresh, throwing the finished runs away: it says so
    again = "the same command without --overwrite resumes (with it, it starts afresh)" if "--overwrite" in options \
        else "the same command resumes"
    assert stderr.startswith("orbitedge: interrupted: ") and stderr.endswith(
        f" of 4 runs complete in {out}; {again}\n") and stderr.count("\n") == 1
    summary = json.loads((out / "sweep.json").read_text())
    assert summary["runs"]["pending"] >= 1 and (out / "results.csv").is_file()
    assert (json.loads(stdout) if "--json" in options else stdout) == (summary if "--json" in options else "")
    assert stderr.startswith(f"orbitedge: interrupted: {summary['runs']['complete']} of 4 ")  # as results.csv counts
    assert len(sweep_state(load_sweep(path), out).todo) == summary["runs"]["pending"]  # the same command resumes


def test_a_ctrl_c_while_the_workers_start_is_still_one_line(tmp_path):
    """The terminal's Ctrl-C reaches the whole process group: a worker process that took it while importing, before
    Dask's preload made it ignore SIGINT, printed a KeyboardInterrupt traceback. Ctrl-C as the first worker process
    appears."""
    import psutil

    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "app.cli", "sweep", str(write_sweep(tmp_path, TINY)), "--out",
                                str(out), "--workers", "2"], cwd=ROOT, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while not any("spawn_main" in " ".join(child.cmdline()) for child in psutil.Process(process.pid).children()):
            assert time.monotonic() < deadline and process.poll() is None, "no worker process started"
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130 and "Traceback" not in stderr
    assert stderr.startswith("orbitedge: interrupted: ") and stderr.count("\n") == 1


def test_what_the_runs_warn_of_reaches_the_terminal_the_report_and_the_json(tmp_path, capsys):
    # 36 s after the start nothing has come within the camera's reach: each run warns that nothing was captured
    path = write_sweep(tmp_path, TINY.replace("duration_h: 0.25", "duration_h: 0.01").replace("replicates: 2",
                                                                                               "replicates: 1"))
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("  warnings: 2 of 2 complete runs warn of something (the sweep report's Run warnings), "
                               "e.g. nothing was captured")
    report = (tmp_path / "out" / "sweep.md").read_text()
    assert "## Run warnings" in report and "| c000-r0, c001-r0 (2 of 2 complete runs) |" in report
    summary = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert all(r["summary"]["warnings"][0].startswith("nothing was captured") for r in summary["run_results"])


def test_a_model_file_broken_after_the_sweep_began_fails_only_its_own_runs_on_resume(tmp_path, capsys):
    """A model of one axis value overwritten after the sweep began refused the whole sweep file (exit 2): the
    other value's pending run could not be made, nor the report written again. Resumed, that run is made, the
    broken model's pending run fails with its error (exit 1), and its complete run stands; a sweep not yet begun is
    still refused at once, with no folder made."""
    shipped = ROOT / "onboard" / "runtime" / "models" / "cloud_bgrn_int8"
    for name in ("a", "b"):
        for suffix in (".tflite", ".json"):
            shutil.copy(shipped.with_suffix(suffix), (tmp_path / name).with_suffix(suffix))
    sweep_file = write_sweep(tmp_path, TINY.replace("replicates: 2", "").replace(
        "pipeline[0].threshold: [0.3, 0.7]", f"pipeline[0].model: [{tmp_path / 'a.tflite'}, {tmp_path / 'b.tflite'}]"))
    out = tmp_path / "sweep"
    argv = ["sweep", str(sweep_file), "--out", str(out), "--workers", "1", "--quiet"]
    assert main(argv) == 0
    broken = bytearray((tmp_path / "b.tflite").read_bytes())
    broken[4:8] = b"Tm\xf3\xa5"
    (tmp_path / "b.tflite").write_bytes(broken)
    assert main(argv) == 0  # both runs complete: nothing to make, the report written again
    shutil.rmtree(out / "runs" / "c000-r0")
    assert main(argv) == 0 and (out / "runs" / "c000-r0" / "report.json").is_file()
    shutil.rmtree(out / "runs" / "c001-r0")
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "failed: c001-r0" in err and err.rstrip().endswith("not a TFLite model: bytes 4..8 are b'Tm\\xf3\\xa5', "
                                                             "expected b'TFL3'")
    assert json.loads((out / "failed" / "c001-r0.json").read_text())
    assert main(["sweep", str(sweep_file), "--out", str(tmp_path / "new"), "--workers", "1"]) == 2
    assert "expected a model file that loads" in capsys.readouterr().err and not (tmp_path / "new").exists()
