"""The terminal: tqdm bars with elapsed time and ETA that keep ticking, shown only on a terminal; --quiet prints
nothing but errors."""

import json
import time

from app.cli import main
from app.progress import ground_bar, simulation_bar, sweep_bar, wanted
from tests.sweep_cases import QUICKSTART


def test_bars_show_only_on_a_terminal_and_never_quiet(capsys):
    assert not wanted(quiet=False)  # stderr is captured here: not a terminal
    assert not wanted(quiet=True)
    with simulation_bar(False, 24.0) as show, sweep_bar(False, 4, 0) as runs, ground_bar(False, ["a"]) as steps:
        assert show is None and runs is None and steps is None
    assert capsys.readouterr() == ("", "")


def test_the_simulation_bar_counts_simulated_hours_with_elapsed_and_eta(capsys):
    with simulation_bar(True, 2.0) as show:
        show(1800.0, 7200.0)
        show(3600.0, 7200.0)
    err = capsys.readouterr().err
    assert "simulation:  50%|" in err and "1.00/2.00 h simulated [00:00<00:0" in err


def test_a_bar_keeps_ticking_while_the_work_holds_the_thread(capsys):
    with ground_bar(True, ["verifying", "plots"]) as show:
        show("verifying")
        time.sleep(1.3)  # one heavy step: the ticker redraws meanwhile
    draws = capsys.readouterr().err.count("ground segment: 0/2 steps |")
    assert draws >= 3  # the first draw, two ticks


def test_the_ground_bar_counts_steps_names_the_one_under_way_and_ends_done(capsys):
    with ground_bar(True, ["verifying", "bandwidth", "plots", "documents"]) as show:
        show("verifying")
        show("bandwidth")
        show("plots")
        time.sleep(0.7)  # the ticker's next redraw
        assert "ground segment: 2/4 steps |" in capsys.readouterr().err
    err = capsys.readouterr().err
    assert "ground segment: 4/4 steps |" in err and ", done]" in err


def test_the_sweep_bar_shows_running_and_failed(capsys):
    with sweep_bar(True, 4, 2) as show:
        show({"done": 1, "failed": 1, "running": 2, "total": 4})
    err = capsys.readouterr().err
    assert "sweep (2 done before): 2/4 runs |" in err and ", 2 running, 1 failed]" in err


def test_the_sweep_bar_says_when_no_worker_has_joined(capsys):
    """A scheduler with no worker yet (dask-jobqueue's come late) held the runs with nothing said."""
    with sweep_bar(True, 4, 0) as show:
        show({"done": 0, "failed": 0, "running": 0, "total": 4, "workers": 0})
    assert "0 running, 0 failed, waiting for a worker to join the scheduler (dask worker ADDRESS)]" in \
        capsys.readouterr().err


def test_quiet_prints_nothing_and_json_only_the_summary(tmp_path, capfd):
    argv = ["run", str(QUICKSTART), "--out", str(tmp_path / "run"), "--set", "duration_h=0.25",
            "--set", "start_utc=2026-06-21T08:10:00Z", "--set", "spacecraft.camera.width_px=128",
            "--set", "spacecraft.camera.height_px=128", "--set", "pipeline=[{stage: cloud_filter}, {stage: encode}]"]
    assert main(argv + ["--quiet"]) == 0  # the cloud model ran on three frames, the ground scored them
    assert capfd.readouterr() == ("", "")
    assert main(argv + ["--quiet", "--json", "--overwrite"]) == 0
    out, err = capfd.readouterr()
    assert err == "" and json.loads(out)["ledger.captured"] > 0
