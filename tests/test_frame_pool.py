"""onboard.sim.frame_pool: captures computed by worker processes ahead of the simulation are the same bytes as a serial
run's, whatever the number of workers and whichever captures the simulation skips."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cli import main
from benchmarks.same_behaviour import compare_runs
from onboard.scenario.config import load_scenario
from onboard.pipeline.runner import Pipeline
from onboard.sim.frame_pool import (FRAME_RECORDS_DIR, FramePool, FrameTask, capture_frame, default_workers,
                                     frame_records)
from onboard.sim.mission import Mission
from onboard.sim.recorder import write_frame_evaluation, write_frame_truth
from rundir.evaluation import evaluation_path
from rundir.truth import truth_path

ROOT = Path(__file__).parents[1]
SMALL = ("spacecraft.camera.width_px=96", "spacecraft.camera.height_px=96",
         "pipeline=[{stage: cloud_filter, tile_px: 32}, {stage: encode, format: png}]")


@pytest.fixture(scope="module")
def mission(tmp_path_factory) -> Mission:
    """The quickstart at 96 x 96 px with the cloud model and PNG: a real payload, world and pipeline."""
    return Mission(load_scenario(ROOT / "scenarios" / "quickstart.yaml", list(SMALL)),
                   tmp_path_factory.mktemp("pool"))


@pytest.fixture(scope="module")
def plans(mission) -> dict[str, list]:
    """Two satellites, five captures each, interleaved in time: the quickstart's first capture moved along."""
    first = next(caps[0] for caps in mission.plans.values() if caps)
    return {name: [dataclasses.replace(first, satellite=name, t_s=first.t_s + 10.0 * k + 3.0 * i)
                   for k in range(5)] for i, name in enumerate(("sat-a", "sat-b"))}


def serial(mission, task: FrameTask, records: Path):
    """The Work of ``task`` as a serial run makes it, its truth and evaluation records written in ``records``."""
    frame = capture_frame(mission.payload, task)
    work = mission.pipeline.run(frame, task.cap.priority)
    write_frame_truth(records, frame)
    write_frame_evaluation(records, work)
    return work


def arrays(path: Path) -> dict:
    with np.load(path) as npz:
        return {key: npz[key] for key in npz.files}


def same_records(frame_id: str, a: Path, b: Path) -> bool:
    """The truth and evaluation records of ``frame_id`` in ``a`` and ``b`` hold the same arrays."""
    for path in (truth_path, evaluation_path):
        one, other = arrays(path(a, frame_id)), arrays(path(b, frame_id))
        if one.keys() != other.keys() or not all(np.array_equal(one[k], other[k]) for k in one):
            return False
    return True


def same_work(pooled, records: Path, made, made_records: Path) -> bool:
    """A pool's Work and its records are a serial run's: the same products, decisions and records."""
    return (pooled.frame.frame_id == made.frame.frame_id and pooled.frame.dn.shape == made.frame.dn.shape
            and [t.payload for t in pooled.tiles] == [t.payload for t in made.tiles]
            and [(t.row0, t.col0, r) for t, r in pooled.dropped] == [(t.row0, t.col0, r) for t, r in made.dropped]
            and pooled.alternative_bytes == made.alternative_bytes and pooled.sim_stage_s == made.sim_stage_s
            and same_records(made.frame.frame_id, records, made_records))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(taken=st.lists(st.lists(st.booleans(), min_size=5, max_size=5), min_size=2, max_size=2),
       workers=st.integers(1, 2))
def test_every_take_is_the_serial_work_whatever_is_skipped(mission, plans, taken, workers, tmp_path_factory):
    made: dict[tuple[int, int, int], object] = {}
    names = list(plans)
    order = sorted((cap.t_s, i, j) for i, name in enumerate(names) for j, cap in enumerate(plans[name]))
    frames = [0, 0]
    folder = tmp_path_factory.mktemp("takes")
    with FramePool(workers, mission.payload, mission.scn.stages, mission.pipeline.ctx, plans,
                   folder / "pool") as pool:
        for _, i, j in order:
            if not taken[i][j]:
                continue  # skipped by the simulation: the frame numbers after it shift
            frames[i] += 1
            frame_id = f"{names[i]}-f{frames[i] - 1:05d}"
            work = pool.take(i, j, frames[i], frame_id)
            key = (i, j, frames[i])
            if key not in made:
                made[key] = serial(mission, FrameTask(i, names[i], frames[i], frame_id, plans[names[i]][j]),
                                   folder / "serial")
            assert same_work(work, work.records_dir, made[key], folder / "serial")


def test_a_skip_resubmits_the_satellites_later_captures_and_their_records_go(mission, plans, tmp_path):
    """What a worker wrote for a capture the simulation discards goes once the worker is done with it: kept to the
    end of the run, a 4096 x 3072 burst's records are about 1 GB a discard."""
    with FramePool(2, mission.payload, mission.scn.stages, mission.pipeline.ctx, plans, tmp_path / "pool") as pool:
        pool.take(0, 0, 1, "sat-a-f00000")  # 4 in flight: sat-b's first two, sat-a's next two
        in_flight = {key: task.records_dir for key, (task, _) in pool.flight.items()}
        # capture 1 of sat-a is skipped (storage full): capture 2, computed ahead as its 3rd frame, is its 2nd
        work = pool.take(0, 2, 2, "sat-a-f00001")
        assert pool.resubmitted == 1 and work.frame.frame_id == "sat-a-f00001"
        discarded = Path(in_flight[(0, 1)]), Path(in_flight[(0, 2)])  # skipped, and computed under another number
        deadline = time.monotonic() + 60.0
        while any(folder.exists() for folder in discarded) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(folder.exists() for folder in discarded)
        assert work.records_dir.exists()  # taken: its records wait to be moved into the run directory


def test_a_worker_writes_its_frames_records_and_sends_back_its_products_without_pixels(mission, plans, tmp_path):
    """A worker sent each capture back whole through a pipe: the burst, its truth and the report's baselines, some
    GB for a 4096 x 3072 burst of 8, and the simulation held up to 2 x workers of them. It now writes the frame's
    truth and evaluation records itself, each submission in a folder of its own, and sends back the products with
    the pixels shed; the records are those a serial run writes, and they go with the pool's folder."""
    records = tmp_path / "records"
    made = serial(mission, FrameTask(0, "sat-a", 1, "sat-a-f00000", plans["sat-a"][0]), tmp_path / "serial")
    with FramePool(1, mission.payload, mission.scn.stages, mission.pipeline.ctx, plans, records) as pool:
        work = pool.take(0, 0, 1, "sat-a-f00000")
        assert work.records_dir.parent == records
        assert same_work(work, work.records_dir, made, tmp_path / "serial")
    assert not records.exists()
    assert not work.evaluation
    assert work.frame.dn.strides == (0, 0, 0)
    assert all(t.dn.strides == (0, 0, 0) for t in work.tiles)


def test_a_worker_runs_the_pipeline_with_its_records_folder_to_spill_to(mission, plans, tmp_path, monkeypatch):
    """The images a stage makes for the report alone (super-resolution baselines: 1.6 GB of a 4096 x 3072 burst of
    8) go to files in the worker's records folder as they are made (Work.spill_dir), not into its memory."""
    seen, real = [], Pipeline.run
    monkeypatch.setattr(Pipeline, "run", lambda self, frame, priority=1, spill_dir=None:
                        seen.append(spill_dir) or real(self, frame, priority, spill_dir))
    task = FrameTask(0, "sat-a", 1, "sat-a-f00000", plans["sat-a"][0])
    work = frame_records(mission.payload, mission.pipeline, task, tmp_path / "records")
    assert seen == [tmp_path / "records"] and work.records_dir == tmp_path / "records"


def test_a_worker_killed_while_the_executor_reads_a_result_breaks_the_pool_instead_of_hanging(mission, plans,
                                                                                             tmp_path):
    """The hang of CPython 3.11's ProcessPoolExecutor when a worker is killed in the middle of sending its result:
    the executor's thread waits in ``recv`` for the rest of the message and never looks at the dead worker, so
    every future stays pending. Injected as it happens, deterministically: half a message in the result pipe (a
    header announcing more bytes than will ever come), then SIGKILL to the worker. ``take`` raises
    BrokenProcessPool after a watchdog period, and ``close`` returns; each is given a minute before the test
    calls it a hang."""
    pool = FramePool(1, mission.payload, mission.scn.stages, mission.pipeline.ctx, plans, tmp_path / "pool")
    writer = pool.executor._result_queue._writer  # this process's end of the workers' result pipe
    os.write(writer.fileno(), struct.pack("!i", 2**31 - 1) + b"\x80")  # written before the worker's first result
    [worker] = pool.executor._processes.values()
    worker.kill()
    worker.join()
    outcome: dict[str, BaseException] = {}

    def take() -> None:
        try:
            pool.take(0, 0, 1, "sat-a-f00000")
        except BaseException as err:  # noqa: B902 - handed to the test's thread
            outcome["error"] = err

    for step in (take, pool.close):
        thread = threading.Thread(target=step, daemon=True)
        thread.start()
        thread.join(60.0)
        assert not thread.is_alive(), f"{step.__name__} hung"
    assert isinstance(outcome.get("error"), BrokenProcessPool) and pool.broken
    assert f"worker process(es) [{worker.pid}] died" in str(outcome["error"])


def test_a_pool_needs_a_worker(mission, plans, tmp_path):
    with pytest.raises(ValueError, match="at least 1 worker"):
        FramePool(0, mission.payload, mission.scn.stages, mission.pipeline.ctx, plans, tmp_path / "pool")


def test_the_default_is_the_cores_this_process_may_use():
    assert default_workers() == len(os.sched_getaffinity(0))


def run(out: Path, workers: int, *overrides: str) -> dict:
    """The spacecraft's side of a storage_overflow run (the run directory the pool decides; no ground report)."""
    Mission(load_scenario(ROOT / "scenarios" / "storage_overflow.yaml", list(overrides)), out, workers=workers).run()
    return json.loads((out / "telemetry" / "run.json").read_text())


def test_a_run_is_the_same_bytes_with_any_number_of_workers(tmp_path):
    """storage_overflow with a 4 MB memory that stops imaging when full: most captures are skipped, so the pool's
    predicted frame numbers go wrong again and again; every file of the run directories still matches."""
    overrides = ("spacecraft.storage.policy=stop_imaging", "spacecraft.storage.capacity_mb=4")
    serial = run(tmp_path / "serial", 0, *overrides)
    pooled = run(tmp_path / "pooled", 2, *overrides)
    skipped = serial["satellite_summary"][0]["captures_skipped"].get("storage_full", 0)
    assert skipped > 0 and serial["satellite_summary"][0]["frames_captured"] > 0
    assert pooled["satellite_summary"] == serial["satellite_summary"]
    assert compare_runs(tmp_path / "serial", tmp_path / "pooled") == []
    assert not (tmp_path / "pooled" / FRAME_RECORDS_DIR).exists()  # the records workers wrote ahead: moved or gone


def test_workers_must_be_a_count(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(ROOT / "scenarios" / "quickstart.yaml"), "--workers", "two"])
    assert exit_info.value.code == 2 and "whole number of worker processes" in capsys.readouterr().err


@pytest.mark.parametrize("signum, when", [(signal.SIGINT, "telemetry/run.json"),
                                          (signal.SIGTERM, "telemetry/captures.jsonl")],
                         ids=["Ctrl-C as the pool starts", "SIGTERM to the group mid-run"])
def test_a_signal_to_the_whole_process_group_stops_the_run_with_no_traceback_and_no_process_left(tmp_path, signum,
                                                                                                  when):
    """The terminal's Ctrl-C (or ``timeout``'s SIGTERM) reaches every process of the group: the fork server as it
    imported this module, and the workers, printed tracebacks (a SIGTERM killed the workers, and the run said one
    had died of memory). The run alone acts on it: it stops, says it was interrupted, records why, and leaves no
    process behind. run.json is written just before the pool starts; captures.jsonl once frames come from it."""
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "run", str(ROOT / "scenarios" / "quickstart.yaml"),
                             "--out", str(out), "--quiet", "--workers", "2"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,  # its own process group
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as a terminal gives
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not ((out / when).is_file() and (out / when).stat().st_size > 0):
        time.sleep(0.01)
    os.killpg(proc.pid, signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, err
    reason = "Terminated" if signum == signal.SIGTERM else "KeyboardInterrupt"
    assert json.loads((out / "telemetry" / "run.json").read_text())["stopped"]["reason"] == reason
    deadline = time.monotonic() + 10  # the fork server and resource tracker see their pipes close, and end
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("processes of the run's group are still alive")
