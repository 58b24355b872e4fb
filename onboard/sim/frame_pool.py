"""The pixel work of a mission on every core: captures rendered, imaged and processed in worker processes while the
discrete-event simulation stays in one process.

A capture's pixels depend only on what it is (satellite, frame number, the planned :class:`~onboard.sim.imaging.Capture`)
and on the scenario, never on the simulation's state: :func:`frame_records` renders the world, images it and runs
the pipeline, with the frame's noise drawn from seed ``[seed, satellite index, frame number]``. So the pool computes
them ahead of the simulation, in capture-time order over all satellites, and the simulation collects each result
when it takes that capture (``FramePool.take``), blocking in wall time only, never in simulated time. The results
are the same bytes as a serial run's whatever the number of workers.

What the simulation decides can still change a frame: a capture skipped (brown-out, storage full) shifts the frame
numbers of that satellite's later captures. The pool predicts the numbers as if nothing were skipped; when a take
finds another number, that satellite's computations in flight are discarded and submitted again with the right
numbers. At most ``2 * workers`` captures are in flight, so memory does not grow with the number of satellites.

Workers start from a clean, single-threaded fork server (``multiprocessing``'s forkserver, this module preloaded),
not from the simulation's process, whose threads (GDAL, OpenCV, a runtime's) a fork would copy mid-flight. Each
receives the payload (camera, world) and the stage configurations once, and builds its own
:class:`~onboard.pipeline.runner.Pipeline` with its own model interpreters.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import select
import shutil
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from multiprocessing import forkserver
from pathlib import Path
from typing import Any, Callable

import numpy as np

from rundir.files import signals_blocked, signals_held

from ..sensing import burst, camera
from .imaging import Capture
from ..pipeline.runner import Pipeline
from ..pipeline.tile import Work, hollow
from .recorder import write_frame_evaluation, write_frame_truth
from ..sensing.projection import GridFootprint

_WORKER: dict[str, Any] = {}  # in a worker process: its payload and pipeline
FRAME_RECORDS_DIR = ".frame-pool"  # in the run directory, while the run goes: the records workers wrote ahead
# How often a take that waits checks that every worker is alive: the executor itself can miss a worker's death (see
# FramePool._result), and then the run would wait for ever.
WATCHDOG_S = 5.0
WAIT_S = 0.25  # how long a take waits at a time with Ctrl-C held off: the most it delays one (FramePool.take)


def default_workers() -> int:
    """The cores this process may run on (``os.sched_getaffinity``), the ``--workers`` default."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class FrameTask:
    """One capture to compute: satellite ``sat_index`` (named ``satellite``), its ``frame_number``-th frame (1-based,
    the noise seed), ``frame_id`` and the planned capture ``cap``; with ``records_dir`` the worker writes the frame's
    truth and evaluation records there (:func:`frame_records`)."""

    sat_index: int
    satellite: str
    frame_number: int
    frame_id: str
    cap: Capture
    records_dir: str | None = None  # where a pool's worker writes the frame's truth and evaluation records


def frame_id(satellite: str, frame_number: int) -> str:
    """The id of a satellite's ``frame_number``-th frame (1-based): ``NAME-fNNNNN``, counted from 0."""
    return f"{satellite}-f{frame_number - 1:05d}"


def capture_frame(payload: Any, task: FrameTask, spill_dir: Path | None = None) -> camera.Frame:
    """The frame of ``task`` seen by ``payload`` (a satellite.Payload): the footprint centred on the capture, the
    noise from seed ``[payload.seed, task.sat_index, task.frame_number]``; in burst mode a burst of K frames (the
    frame is then its frame 0), its high-res truth spilled to a file in ``spill_dir`` when that is given
    (:func:`onboard.sensing.burst.capture_burst`)."""
    cam, cap = payload.camera, task.cap
    footprint = GridFootprint.centred(cap.lat_deg, cap.lon_deg, cap.epsg, cam.gsd_m, cam.width_px, cam.height_px)
    rng = np.random.default_rng([payload.seed, task.sat_index, task.frame_number])
    when = payload.start_utc + dt.timedelta(seconds=cap.t_s)
    if not payload.burst_scale:
        return camera.capture(cam, payload.world, footprint, when, cap.sun_elevation_deg, cap.sun_azimuth_deg, rng,
                              task.frame_id, task.satellite, cap.t_s)
    cfg = cam.burst
    shot = burst.capture_burst(cam, payload.world, footprint, when, cap.sun_elevation_deg, cap.sun_azimuth_deg, rng,
                               k=cfg.frames, scale=payload.burst_scale, mtf_nyquist=cfg.mtf_nyquist,
                               jitter_px=cfg.jitter_px, frame_cloud_cover=cfg.frame_cloud_cover,
                               cloud_drift_px=cfg.cloud_drift_px, spill_dir=spill_dir)
    return camera.Frame(task.frame_id, task.satellite, cap.t_s, when, footprint, shot.lr_dn[0], shot.truth_lr, shot)


def frame_records(payload: Any, pipeline: Pipeline, task: FrameTask, records_dir: Path,
                  captured: Callable[[], None] | None = None) -> Work:
    """The Work of ``task`` as a serial run makes it (``pipeline`` run on :func:`capture_frame`), with the frame's
    records written in ``records_dir`` (laid out as a run directory) and its pixels shed
    (:meth:`~onboard.pipeline.tile.Work.shed_pixels`): what a worker sends back is
    the products, not the burst, its truth and the report's baselines (some GB for a 4096 x 3072 burst of 8). The
    truth (:func:`onboard.sim.recorder.write_frame_truth`) is written as soon as the frame is captured and let go
    before the pipeline runs, which never reads it (a burst's high-resolution truth is 0.8 GB at 4096 x 3072 x2,
    spilled to a file in ``records_dir`` as soon as it is rendered);
    the evaluation record (:func:`~onboard.sim.recorder.write_frame_evaluation`) once the pipeline is done, the
    images a stage made for it alone spilled to files in ``records_dir`` meanwhile (``Work.spill_dir``).
    ``captured()``, when given, is called once the frame is captured (benchmarks/large_frames.py reads the peak
    memory of imaging there)."""
    frame = capture_frame(payload, task, records_dir)
    if captured is not None:
        captured()
    write_frame_truth(records_dir, frame)
    frame = without_truth(frame)  # the only reference to the truth goes
    work = pipeline.run(frame, task.cap.priority, spill_dir=records_dir)
    if work.evaluation:
        write_frame_evaluation(records_dir, work)
    work.shed_pixels()
    work.records_dir = records_dir
    return work


def without_truth(frame: camera.Frame) -> camera.Frame:
    """``frame`` with its truth (and its burst's high-resolution truth and clear mask) hollow: only the pixels the
    pipeline reads."""
    shot = frame.burst
    return replace(frame, truth=hollow(frame.truth),
                   burst=None if shot is None else replace(shot, hr_truth=hollow(shot.hr_truth),
                                                           hr_clear=hollow(shot.hr_clear),
                                                           truth_lr=hollow(shot.truth_lr)))


def _init_worker(payload: Any, stage_configs: tuple[Any, ...], ctx: Any, run_pid: int) -> None:
    threading.Thread(target=_exit_with, args=(run_pid,), name="run-watch", daemon=True).start()
    _WORKER["payload"] = payload
    _WORKER["pipeline"] = Pipeline(stage_configs, ctx)


def _exit_with(run_pid: int) -> None:
    """End this worker when the run's process ``run_pid`` ends. Its signals blocked (:class:`FramePool`), a worker
    outlived a run killed outright (SIGKILL: the out-of-memory killer), waiting for work for ever, and a SIGTERM to
    its group no longer ended it. Waits on a pidfd (Linux 5.3: ``os.pidfd_open``), else asks every second;
    multiprocessing's parent sentinel is no use here, as a fork server's child gets it closed from the start."""
    try:
        select.select([os.pidfd_open(run_pid)], [], [])
    except (AttributeError, OSError):
        while _alive(run_pid):
            time.sleep(1.0)
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _work(task: FrameTask) -> Work:
    return frame_records(_WORKER["payload"], _WORKER["pipeline"], task, Path(task.records_dir))


class FramePool:
    """``workers`` processes computing the captures of ``plans`` ({satellite name: its captures in time order},
    satellites in index order) ahead of the simulation.

    ``take(sat_index, plan_index, frame_number, frame_id)`` returns the Work of that capture (its ``frame`` is the
    captured frame); ``close()`` stops the workers (also on an error: a ``with`` block does it). In
    ``records_dir`` (a folder of the run directory's file system, made and in the end removed here) each worker
    writes its frame's truth and evaluation records into a folder of its own and sends the Work back without its
    pixels (:func:`frame_records`, ``Work.records_dir``); the simulation moves the records into the run directory
    when it takes the frame (:meth:`onboard.sim.recorder.Recorder.captured`, ``spill``), and a capture discarded
    (skipped, or renumbered by a skip) loses its folder once its worker is done with it."""

    def __init__(self, workers: int, payload: Any, stage_configs: tuple[Any, ...], ctx: Any,
                 plans: dict[str, list[Capture]], records_dir: Path):
        if workers < 1:
            raise ValueError(f"a frame pool needs at least 1 worker, got {workers}")
        self.records_dir, self.submitted = records_dir, 0
        shutil.rmtree(records_dir, ignore_errors=True)  # of an earlier run stopped outright
        records_dir.mkdir(parents=True)
        self.names = list(plans)
        self.plans = [plans[name] for name in self.names]
        self.order = sorted((cap.t_s, i, j) for i, caps in enumerate(self.plans) for j, cap in enumerate(caps))
        self.cursor = 0  # next entry of ``order`` to submit
        self.now_s = 0.0  # the time of the latest take: earlier captures are taken or skipped
        self.taken: set[tuple[int, int]] = set()  # taken ahead of the cursor
        self.window = 2 * workers
        # per satellite: the (frame_number, plan_index) the prediction starts from; plan j is frame
        # base_frame + (j - base_plan) if nothing in between is skipped
        self.base = [(1, 0) for _ in self.plans]
        self.flight: dict[tuple[int, int], tuple[FrameTask, Future]] = {}
        self.resubmitted = 0  # computations discarded because a skip changed the frame numbers
        self.broken = False  # a worker died unnoticed by the executor (_result)
        context = multiprocessing.get_context("forkserver")  # workers fork from a clean, single-threaded server
        context.set_forkserver_preload([__name__])
        # The server, and so every worker, keeps SIGINT and SIGTERM blocked: the terminal's Ctrl-C reaches the whole
        # process group, and interrupted them with a traceback as they imported or loaded their models (a SIGTERM to
        # the group killed them, and the run reported a worker dead); the simulation acts on either, and stops
        # them (close()).
        with signals_blocked((signal.SIGINT, signal.SIGTERM)):
            forkserver.ensure_running()
        self.executor = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                            initargs=(payload, stage_configs, ctx, os.getpid()))
        self._fill()

    def __enter__(self) -> FramePool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers at once: the frames they are computing are never taken (a run stopped by Ctrl-C, SIGTERM
        or an error, or at its end). The live workers are killed and this process's end of the result pipe closed,
        so that the management thread's ``recv`` ends also after a death the executor missed (:meth:`_result`): the
        executor then marks itself broken and cleans up, and shutting down, or this process's exit, does not wait
        for ever. Nothing is cancelled: the executor fails every pending future as it breaks (cancelling them first
        makes its thread raise InvalidStateError, CPython 3.11). Ctrl-C and SIGTERM are held off meanwhile (see
        :meth:`take`)."""
        with signals_held(redeliver=True):
            self.flight.clear()
            for process in list((self.executor._processes or {}).values()):
                process.kill()
            self.executor._result_queue._writer.close()
            self.executor.shutdown(wait=True)
            shutil.rmtree(self.records_dir, ignore_errors=True)

    def _task(self, i: int, j: int) -> FrameTask:
        base_frame, base_plan = self.base[i]
        number = base_frame + (j - base_plan)
        return FrameTask(i, self.names[i], number, frame_id(self.names[i], number), self.plans[i][j])

    def _submit(self, i: int, j: int) -> None:
        task = self._task(i, j)
        self.submitted += 1  # a folder per submission: one discarded may still be writing
        task = replace(task, records_dir=str(self.records_dir / str(self.submitted)))
        self.flight[(i, j)] = (task, self.executor.submit(_work, task))

    def _fill(self) -> None:
        with signals_held(redeliver=True):  # see take
            self._fill_window()

    def _fill_window(self) -> None:
        while len(self.flight) < self.window and self.cursor < len(self.order):
            t_s, i, j = self.order[self.cursor]
            self.cursor += 1
            if t_s >= self.now_s and (i, j) not in self.taken:
                self._submit(i, j)

    def take(self, sat_index: int, plan_index: int, frame_number: int, frame_id: str) -> Work:
        """The Work of satellite ``sat_index``'s capture ``plan_index``, taken as its ``frame_number``-th frame
        named ``frame_id``; waits (in wall time) for the worker computing it. Raises what the worker raised: a
        StageFault of its pipeline (the simulation raises it when its compute reaches the frame).

        Ctrl-C and SIGTERM are held off (:func:`rundir.files.signals_held`) while this process is in the
        executor's code, and act between its calls, within WAIT_S: an interrupt raised inside a future's or the
        executor's lock (between acquiring it and the ``with`` that releases it) kept it locked, and the executor's
        management thread then waited for it for ever as the run stopped (seen with CPython 3.11)."""
        with signals_held(redeliver=True):
            future = self._future(sat_index, plan_index, frame_number, frame_id)
        try:
            work = self._result(future)
        except Exception:  # a stage's fault: the simulation goes on to it, and the pool with it (not after Ctrl-C)
            if not self.broken:
                self._fill()
            raise
        self._fill()
        return work

    def _future(self, sat_index: int, plan_index: int, frame_number: int, frame_id: str) -> Future:
        """The future of :meth:`take`'s capture: captures passed untaken cancelled, those a skip renumbered
        submitted again, and this one submitted if it is beyond the window."""
        t_s = self.now_s = self.plans[sat_index][plan_index].t_s
        for key in [k for k, (task, _) in self.flight.items() if task.cap.t_s < t_s]:
            self._discard(key)  # captures whose time has passed untaken: skipped
        if self._task(sat_index, plan_index).frame_number != frame_number:  # a skip shifted the numbers
            self.base[sat_index] = (frame_number, plan_index)
            for key in [k for k in self.flight if k[0] == sat_index]:
                self._discard(key)
                self.resubmitted += 1
                self._submit(*key)
        if (sat_index, plan_index) not in self.flight:  # beyond the window: the simulation caught up with the pool
            self._submit(sat_index, plan_index)
            self.taken.add((sat_index, plan_index))
        task, future = self.flight.pop((sat_index, plan_index))
        if task.frame_id != frame_id:
            raise RuntimeError(f"frame pool: capture {plan_index} of {self.names[sat_index]} computed as "
                               f"{task.frame_id}, taken as {frame_id}")
        return future

    def _discard(self, key: tuple[int, int]) -> None:
        """Drop the capture ``key`` in flight: cancelled if it has not started, and its records folder removed once
        its worker is done with it (at once if it never started)."""
        task, future = self.flight.pop(key)
        future.cancel()
        future.add_done_callback(lambda _, folder=task.records_dir: shutil.rmtree(folder, ignore_errors=True))

    def _result(self, future: Future) -> Work:
        """``future.result()``, waited for WAIT_S at a time with signals held (see :meth:`take`), checking every
        WATCHDOG_S that no worker has died: BrokenProcessPool if one has.

        ProcessPoolExecutor finds a dead worker by its sentinel, unless the worker was killed (SIGKILL: the
        out-of-memory killer) while writing a result into the executor's pipe: its management thread then waits,
        in ``recv``, for the rest of a message that never comes, and every future stays pending (seen with
        CPython 3.11). ``executor._processes`` is the executor's own table of its workers."""
        waited_s = 0.0
        while True:
            with signals_held(redeliver=True):
                try:
                    return future.result(timeout=WAIT_S)
                except TimeoutError:
                    waited_s += WAIT_S
            if waited_s >= WATCHDOG_S:
                waited_s = 0.0
                dead = sorted(pid for pid, process in list(self.executor._processes.items())
                              if process.exitcode is not None)
                if dead:
                    self.broken = True
                    raise BrokenProcessPool(f"frame-pool worker process(es) {dead} died; the executor did not "
                                            "notice (killed while sending a result)")
