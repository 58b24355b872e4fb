"""app.run_command (`orbitedge run`): what a run stopped before its end leaves, with faults injected where they
land (a full disk, Ctrl-C and SIGTERM at each step, a frame-pool worker killed, a file-size limit), an earlier run
replaced with --overwrite kept until the new one completes, and the lock that keeps two runs out of one folder."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.run_command import WORKER_DIED
from app.summary import run_summary

ROOT = Path(__file__).parents[1]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def interrupted(*args, **kwargs):
    """A fault to inject: Ctrl-C in the function it replaces."""
    raise KeyboardInterrupt


def short_run(out: Path) -> int:
    """``orbitedge run`` of the quickstart's first 10 h, single frames to PNG, in this process: its exit status."""
    return main(["run", str(QUICKSTART), "--out", str(out), "--quiet", "--workers", "0", "--set", "duration_h=10",
                 "--set", "pipeline=[{stage: encode, format: png}]"])


def test_a_full_disk_mid_run_ends_in_a_partial_report_not_a_traceback(tmp_path, monkeypatch, capsys):
    # fault injected: the third product the spacecraft stores meets a full disk (ENOSPC), as on a small volume
    import errno

    import onboard.sim.downlink as downlink

    stored = []

    def full_disk(path, write):
        stored.append(path)
        if len(stored) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return write_atomic(path, write)

    write_atomic = downlink.write_atomic
    monkeypatch.setattr(downlink, "write_atomic", full_disk)
    out = tmp_path / "run"
    status = short_run(out)
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert f"orbitedge: {stored[2]}: No space left on device; writing the partial report of {out}" in err
    report = json.loads((out / "report.json").read_text())
    assert report["complete"] is False and report["stopped"]["reason"] == "OSError"
    assert report["ledger"]["balanced"] is True


def test_ctrl_c_while_the_report_is_written_says_the_run_is_complete_and_how_to_report_it(tmp_path, monkeypatch,
                                                                                          capsys):
    """The simulation is done and written when the ground report starts (12 s to minutes): a Ctrl-C there said only
    "interrupted", as if the run were lost. Fault injected: the report is interrupted as it starts."""
    import ground.report

    monkeypatch.setattr(ground.report, "write_report", interrupted)
    out = tmp_path / "run"
    status = short_run(out)
    err = capsys.readouterr().err
    assert status == 130 and "Traceback" not in err
    assert f"interrupted before the report was written; the run is complete: `orbitedge report {out}` writes it" in err
    assert json.loads((out / "telemetry" / "run.json").read_text())["complete"] is True
    monkeypatch.undo()
    assert main(["report", str(out), "--quiet"]) == 0 and json.loads((out / "report.json").read_text())["complete"]


def test_ctrl_c_as_the_last_records_are_written_leaves_the_run_complete(tmp_path, monkeypatch, capsys, ctrl_c):
    """The simulation is over and its ledger, contacts and run.json are being written: a Ctrl-C there cut them
    short, and the run read as a partial one with no ledger. Fault injected: Ctrl-C in the middle of the writes."""
    import os
    import signal

    from onboard.sim import recorder

    finish = recorder.Recorder.finish

    def ctrl_c_midway(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)
        return finish(self, *args, **kwargs)

    monkeypatch.setattr(recorder.Recorder, "finish", ctrl_c_midway)
    out = tmp_path / "run"
    assert short_run(out) == 130
    assert capsys.readouterr().err == (f"orbitedge: interrupted before the report was written; the run is complete: "
                                       f"`orbitedge report {out}` writes it\n")
    assert json.loads((out / "telemetry" / "run.json").read_text())["complete"] is True
    assert (out / "telemetry" / "ledger.jsonl").is_file() and not (out / "report.json").exists()


def test_ctrl_c_while_the_mission_is_set_up_leaves_nothing(tmp_path, monkeypatch, capsys):
    """Before the simulation starts there is nothing to report: the ground wrote a report of nothing ("None (seed
    None)") into a folder that then passed for a run. Fault injected: Ctrl-C as the mission is set up."""
    from onboard.sim import mission

    monkeypatch.setattr(mission.Mission, "__init__", interrupted)
    out = tmp_path / "run"
    assert main(["run", str(QUICKSTART), "--out", str(out), "--quiet", "--workers", "0"]) == 130
    assert capsys.readouterr().err == (f"orbitedge: interrupted before the simulation started; nothing was written "
                                       f"to {out}\n")
    assert not out.exists()


@pytest.mark.parametrize("where", ["run_lock", "bound_heap"])
def test_ctrl_c_before_the_mission_is_set_up_leaves_nothing_either(tmp_path, monkeypatch, capsys, where):
    """A Ctrl-C in the first seconds (the lock, the mission's imports) said only "orbitedge: interrupted" and left
    the --out folder it had made, empty. Fault injected: Ctrl-C as the lock is taken, or the heap bounded (the
    imports are inside the handler test_ctrl_c_while_the_mission_is_set_up_leaves_nothing exercises)."""
    import app.run_command

    monkeypatch.setattr(app.run_command, where, interrupted)
    out = tmp_path / "run"
    assert main(["run", str(QUICKSTART), "--out", str(out), "--quiet", "--workers", "2"]) == 130
    assert capsys.readouterr().err == (f"orbitedge: interrupted before the simulation started; nothing was written "
                                       f"to {out}\n")
    assert not out.exists()


def test_ctrl_c_after_the_report_is_no_interruption_before_the_simulation(tmp_path, monkeypatch, capsys):
    """The handler that catches a Ctrl-C while the lock is taken caught one from the run's summary too, once the run
    and its report were complete, and said "interrupted before the simulation started; nothing was written".
    Fault injected: Ctrl-C as the summary is printed."""
    import app.run_command

    monkeypatch.setattr(app.run_command, "print_summary", interrupted)
    out = tmp_path / "run"
    assert main(["run", str(QUICKSTART), "--out", str(out), "--quiet", "--set", "duration_h=2"]) == 130
    assert capsys.readouterr().err == "orbitedge: interrupted\n"
    assert json.loads((out / "report.json").read_text())["complete"] is True


def test_ctrl_c_once_the_earlier_run_is_aside_puts_it_back(tmp_path, monkeypatch, capsys):
    """A Ctrl-C between replacing the earlier run and the simulation's start deleted it and the folder (the README
    promised it kept). Fault injected: Ctrl-C as the resolved scenario is written, the earlier run moved aside."""
    import app.run_command

    out = tmp_path / "run"
    assert short_run(out) == 0
    earlier = (out / "report.json").read_text()
    monkeypatch.setattr(app.run_command, "_write_resolved", interrupted)
    assert short_run_over(out) == 130
    assert capsys.readouterr().err == (f"orbitedge: interrupted before the simulation started; nothing of it is left "
                                       f"in {out}, and the earlier run is back\n")
    assert (out / "report.json").read_text() == earlier and not (tmp_path / ".run.earlier").exists()


def test_an_output_folder_that_cannot_be_made_is_said_before_the_mission_is_set_up(tmp_path, monkeypatch, capsys):
    """The mission (ephemerides, world, models: minutes for a large scenario) was set up first."""
    from onboard.sim import mission

    def never(*args, **kwargs):
        raise AssertionError("the mission was set up")

    monkeypatch.setattr(mission.Mission, "__init__", never)
    (tmp_path / "a_file").write_text("")
    out = tmp_path / "a_file" / "run"
    assert main(["run", str(QUICKSTART), "--out", str(out), "--quiet"]) == 2
    assert capsys.readouterr().err.startswith(f"orbitedge: error: --out {out}: cannot make the folder")


def test_a_read_only_run_directory_is_a_clean_error(tmp_path, monkeypatch, capsys):
    # fault injected (the tests run as root, whom permissions do not stop): the file system refuses the first write
    import errno

    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "write_text", read_only)
    assert main(["run", str(QUICKSTART), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    out = tmp_path / "run"
    assert capsys.readouterr().err == (f"orbitedge: error: {out / 'scenario.yaml'}: Read-only file system; nothing "
                                       f"was simulated, and nothing of it is left in {out}\n")
    assert not (tmp_path / "run").exists()


def test_a_frame_pool_worker_killed_mid_run_ends_in_a_partial_report(tmp_path):
    # fault injected: SIGKILL to a worker of the frame pool, as the kernel's out-of-memory killer sends it
    import os
    import signal
    import time

    from benchmarks.large_frames import children

    out = tmp_path / "run"
    # PYTHONFAULTHANDLER: should the run hang, the SIGABRT below makes it print every thread's stack
    run = subprocess.Popen([sys.executable, "-m", "app.cli", "run", str(QUICKSTART), "--out", str(out), "--quiet",
                            "--workers", "2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    try:
        # the pool's workers are the children of its fork server (multiprocessing's "forkserver" start method), a
        # child of the run; they inherit the server's command line
        captures, workers = out / "telemetry" / "captures.jsonl", []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (workers and captures.is_file() and captures.stat().st_size):
            servers = [p for p in children(run.pid) if b"forkserver" in Path(f"/proc/{p}/cmdline").read_bytes()]
            workers = [w for server in servers for w in children(server)]
            time.sleep(0.05)
        os.kill(workers[0], signal.SIGKILL)
        try:
            _, err = run.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            run.send_signal(signal.SIGABRT)
            try:
                err = run.communicate(timeout=30)[1]
            except subprocess.TimeoutExpired as hung:  # a child of the run still holds its stderr open
                err = "(stderr still open after 30 s) " + (hung.stderr or b"").decode(errors="replace")
            pytest.fail(f"the run did not end within 300 s of its worker's death; its threads:\n{err}")
    finally:
        run.kill()
        run.wait()
    assert run.returncode == 2 and "Traceback" not in err, err
    assert f"orbitedge: {WORKER_DIED}; writing the partial report" in err
    report = json.loads((out / "report.json").read_text())
    assert report["complete"] is False and report["stopped"]["reason"] == "BrokenProcessPool"
    assert report["ledger"]["balanced"] is True


def _report_refused(run_dir, *args, **kwargs):
    import errno

    raise OSError(errno.ENOSPC, "No space left on device", str(run_dir / "report.json"))


@pytest.mark.parametrize("fault, status, said", [
    (_report_refused, 2, "orbitedge: error: {out}: the partial report could not be written ({out}/report.json: No "
                         "space left on device); make room, then `orbitedge report {out}` writes it\n"),
    (interrupted, 130, "orbitedge: interrupted while writing the partial report of {out}; it is not whole: `orbitedge "
                       "report {out}` writes it\n")], ids=["full disk", "second Ctrl-C"])
def test_a_partial_report_that_cannot_be_written_says_how_to_write_it_later(tmp_path, monkeypatch, capsys, fault,
                                                                            status, said):
    # fault injected: Ctrl-C mid-run, then the disk refuses the partial report, or a second Ctrl-C stops it
    import ground.report
    import onboard.sim.mission

    monkeypatch.setattr(onboard.sim.mission.Mission, "_simulate", interrupted)  # Ctrl-C as it starts
    monkeypatch.setattr(ground.report, "write_report", fault)
    out = tmp_path / "run"
    assert main(["run", str(QUICKSTART), "--out", str(out), "--quiet", "--workers", "0"]) == status
    assert capsys.readouterr().err.endswith(said.format(out=out))
    assert json.loads((out / "telemetry" / "run.json").read_text())["complete"] is False  # the run itself is kept



def test_an_interrupted_overwrite_keeps_the_earlier_run_and_says_where(tmp_path, monkeypatch, capsys):
    """--overwrite deleted the earlier run as the new one began: a SIGTERM a few seconds in left only a partial run.
    Fault injected: the simulation stopped as it starts (the handler raises where SIGTERM would)."""
    import onboard.sim.mission

    out = tmp_path / "run"
    assert short_run(out) == 0
    earlier = (out / "report.json").read_text()
    monkeypatch.setattr(onboard.sim.mission.Mission, "_simulate", interrupted)
    assert main(["run", str(QUICKSTART), "--out", str(out / "downlink" / ".."), "--overwrite", "--quiet",
                 "--workers", "0"]) == 130
    aside = tmp_path / ".run.earlier"
    assert (f"the earlier run it replaces is kept in {aside} until a run there completes (to keep it instead: "
            f"rm -r {out} && mv {aside} {out})") in capsys.readouterr().err
    assert (aside / "report.json").read_text() == earlier
    assert json.loads((out / "report.json").read_text())["complete"] is False
    monkeypatch.undo()
    assert short_run_over(out) == 0 and not aside.exists()  # a replacement that completes removes it


def test_sigterm_while_report_writes_says_interrupted(tmp_path, monkeypatch, capsys):
    """SIGTERM (a job scheduler, `timeout`) killed `orbitedge report` and a run's report with no word, exit 143.
    Fault injected: SIGTERM as the report starts."""
    import os
    import signal

    import ground.report

    out, before = tmp_path / "run", signal.getsignal(signal.SIGTERM)
    assert short_run(out) == 0
    write_report = ground.report.write_report

    def terminated(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        return write_report(*args, **kwargs)

    monkeypatch.setattr(ground.report, "write_report", terminated)
    assert main(["report", str(out), "--quiet"]) == 130
    assert capsys.readouterr().err == (f"orbitedge: interrupted; the report of {out} is not whole: `orbitedge report "
                                       f"{out}` writes it again\n")
    assert short_run_over(out) == 130
    assert "interrupted before the report was written; the run is complete" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_run_or_report_into_a_folder_another_run_is_writing_is_refused(tmp_path, capsys):
    """A second `run --out X --overwrite` while the first ran moved the first's files from under it, and the first
    exited 0 on a directory that held the second's partial run. The first holds the folder's lock beside it."""
    import os

    from rundir.files import run_lock

    out = tmp_path / "run"
    assert short_run(out) == 0
    before = (out / "report.json").read_text()
    with run_lock(out):  # as a run still writing into it holds it
        assert short_run_over(out) == 2
        assert main(["report", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count(f"orbitedge: error: {out}: another orbitedge process (pid {os.getpid()}) is writing into this "
                     "folder; wait until it ends, or choose another folder") == 2
    assert (out / "report.json").read_text() == before and not (tmp_path / ".run.earlier").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".run.lock", "run"]  # beside the run, not in it


def short_run_over(out: Path) -> int:
    """:func:`short_run` with --overwrite."""
    return main(["run", str(QUICKSTART), "--out", str(out), "--overwrite", "--quiet", "--workers", "0", "--set",
                 "duration_h=10", "--set", "pipeline=[{stage: encode, format: png}]"])


def test_an_interrupted_run_with_json_prints_the_partial_runs_summary(tmp_path, monkeypatch, capsys):
    import onboard.sim.mission

    monkeypatch.setattr(onboard.sim.mission.Mission, "_simulate", interrupted)  # Ctrl-C as it starts
    out = tmp_path / "run"
    assert main(["run", str(QUICKSTART), "--out", str(out), "--json", "--workers", "0"]) == 130
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary == run_summary(json.loads((out / "report.json").read_text()))  # the partial report's
    assert summary["complete"] is False and "writing the partial report" in captured.err


def test_measured_stage_times_with_workers_are_warned_of_in_the_terminal_and_the_report(tmp_path, capsys):
    """`compute.timing: measured` with --workers 2 gave the cloud filter's and super-resolution's stage times 1.4 to
    2.4 times those of --workers 0 on a 2-core host (the workers time their frames side by side), under the
    report's "MEASURED on the device", with no word of it. One worker times one frame at a time: no warning."""
    fast = ["--set", "duration_h=10", "--set", "pipeline=[{stage: encode, format: png}]",
            "--set", "spacecraft.compute.timing=measured"]
    out = tmp_path / "run"
    assert main(["run", str(QUICKSTART), "--out", str(out), "--workers", "2", *fast]) == 0
    err = capsys.readouterr().err
    assert "--workers 2: spacecraft.compute.timing: expected --workers 0 or 1 with measured stage times" in err
    assert "--workers 2: spacecraft.compute.timing" in json.loads((out / "report.json").read_text())["warnings"][0]
    assert main(["run", str(QUICKSTART), "--out", str(tmp_path / "one"), "--workers", "1", *fast]) == 0
    assert "--workers" not in capsys.readouterr().err


@pytest.mark.parametrize("factor", ["inf", "1e400", "1e308", "2e6", "0", "-1", "nan"])
def test_a_realtime_factor_out_of_range_is_refused_before_any_work(tmp_path, capsys, factor):
    """--realtime inf (or 1e400) ended in a traceback from SimPy's clock (sleep(NaN)), and 1e308 in an OverflowError,
    leaving a run directory with no report; 0, -1 and nan were refused. Every factor outside (0, 1e6] is now
    refused, exit 2, before the run directory is made."""
    out = tmp_path / "run"
    assert main(["run", str(ROOT / "scenarios" / "quickstart.yaml"), "--out", str(out), "--realtime", factor]) == 2
    err = capsys.readouterr().err
    assert "--realtime: expected a factor > 0 and at most 1e+06 (wall seconds per simulated second), found" in err
    assert "Traceback" not in err and not out.exists()
