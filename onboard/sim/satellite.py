"""The satellite processes: SimPy generators that image, compute and keep house on one spacecraft.

Each satellite runs four processes sharing its :class:`Satellite` state (storage, battery, computer): imaging
(:func:`imaging`: frames at the planned times), compute (:func:`compute`: the pipeline on a one-job resource,
timed by the hardware profile), downlink (:func:`onboard.downlink.downlink`: contact windows) and power
(:func:`housekeeping`: energy balance and the telemetry timeline). :class:`onboard.sim.mission.Mission` wires them;
what they produce goes to the run directory through the :class:`~onboard.sim.recorder.Recorder`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable

import simpy

from rundir.evaluation import EVALUATION_DIR
from rundir.telemetry import TimelineSample

from . import frame_pool
from .frame_pool import FramePool, FrameTask, capture_frame
from .imaging import Capture
from ..pipeline.runner import Pipeline
from ..pipeline.stages import StageFault, tile_georef
from ..pipeline.tile import Work
from .power import Power
from .recorder import Recorder
from .storage import Item, Storage
from ..sensing.world import World

FRAME_READOUT_S = 0.5  # camera powered per frame: exposure, readout and write to mass memory


@dataclass
class Satellite:
    """The SimPy state of one spacecraft."""

    index: int
    name: str
    storage: Storage
    power: Power
    computer: simpy.Resource
    queue: simpy.Store
    in_compute: tuple[str, float] | None = None  # (frame id, simulated time the computer took it up), or idle
    frames_taken: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # captures not taken, by reason
    compute_s: float = 0.0
    deferred_frames: int = 0  # frames whose compute waited out a brown-out
    deferred_s: float = 0.0  # total time they waited

    @property
    def computing(self) -> bool:
        return self.in_compute is not None

    def computed(self, seconds: float) -> None:
        """``seconds`` of the computer's work: its busy time and, through the battery, its energy."""
        self.compute_s += seconds
        self.power.busy("compute", seconds)


@dataclass(frozen=True)
class Payload:
    """The imager every satellite carries and what it sees: the scenario's CameraConfig ``camera``, the ``world``,
    the scenario start (aware UTC) and ``seed``, and the burst mode (``burst_scale`` 0: single frames)."""

    camera: Any
    world: World
    start_utc: dt.datetime
    seed: int
    burst_scale: int

    @property
    def burst_frames(self) -> int:
        """Frames per capture: the burst's K with a superres stage, else 1."""
        return self.camera.burst.frames if self.burst_scale else 1

    @property
    def capture_bytes(self) -> int:
        """Bytes one capture takes in storage (bit-packed raw frames)."""
        return self.burst_frames * self.camera.raw_bytes


def imaging(env: simpy.Environment, sat: Satellite, plans: list[Capture], payload: Payload,
            recorder: Recorder, pool: FramePool | None = None):
    """Take the planned captures (time order) unless in brown-out or storage is full; each frame is stored raw,
    recorded and queued for compute. Frame ``n`` of satellite ``i`` draws its noise from seed ``[seed, i, n + 1]``
    (:func:`onboard.sim.frame_pool.capture_frame`). With a ``pool`` the frame comes from its workers, already processed
    (or with the StageFault a stage raised on it there, which :func:`compute` raises when it reaches the frame, as
    it would running the pipeline itself); else it is captured here and processed by :func:`compute`.

    A run stopped (Ctrl-C, SIGTERM, a fault) while a frame's pixels were being made never took that frame: its raw
    bytes leave storage again, so that the stopped run's storage holds only frames in its ledger (what the policy
    evicted to make room for it stays dropped, as recorded)."""
    for plan_index, cap in enumerate(plans):
        if env.now < cap.t_s:
            yield env.timeout(cap.t_s - env.now)
        if sat.power.brownout:
            sat.skipped["brownout"] = sat.skipped.get("brownout", 0) + 1
            continue
        frame_id = frame_pool.frame_id(sat.name, sat.frames_taken + 1)
        raw = Item(frame_id, (frame_id,), payload.capture_bytes, cap.priority, "raw")
        if not sat.storage.put(raw):
            sat.skipped["storage_full"] = sat.skipped.get("storage_full", 0) + 1
            continue
        task = FrameTask(sat.index, sat.name, sat.frames_taken + 1, frame_id, cap)
        try:
            frame, work = _pixels(sat, plan_index, task, payload, pool)
        except BaseException:
            sat.storage.remove(raw)
            raise
        sat.frames_taken += 1
        recorder.captured(frame, cap, payload.capture_bytes, payload.burst_frames,
                          work.records_dir if isinstance(work, Work) else None)
        if isinstance(work, Work):
            recorder.spill(work)  # computed ahead: only its products wait in memory for the compute slot
            frame = work.frame  # without its pixels
        raw.data = (frame, cap, work)
        sat.power.busy("camera", FRAME_READOUT_S * payload.burst_frames)
        yield sat.queue.put(raw)
        del raw, frame, work  # the queue has the capture: nothing of it waits here for the next one


def _pixels(sat: Satellite, plan_index: int, task: FrameTask, payload: Payload,
            pool: FramePool | None) -> tuple[Any, Work | StageFault | None]:
    """The frame of ``task`` (the satellite's ``plan_index``-th planned capture) and, from ``pool``, its Work (or the
    StageFault a stage raised on it in a worker: :func:`compute` raises it on reaching the frame, where a serial
    run's pipeline raises it, so the run stops at the same moment); without a pool, captured here and no Work."""
    work: Work | StageFault | None = None
    if pool is not None:
        try:
            work = pool.take(sat.index, plan_index, task.frame_number, task.frame_id)
        except StageFault as fault:
            work = fault
    return (work.frame if isinstance(work, Work) else capture_frame(payload, task)), work


def compute(env: simpy.Environment, sat: Satellite, pipeline: Pipeline, recorder: Recorder, timing: str,
            wall_stage_s: dict[str, float]):
    """Run the pipeline on each queued frame still in storage, one at a time (waiting out brown-outs); the raw
    frame leaves storage and its products enter it. Host wall seconds per stage add up in ``wall_stage_s``.

    Once a frame is done (processed, or evicted while it waited), its item lets go of the frame and its Work: this
    process waits for the next frame, maybe for hours, and would otherwise keep the last one's pixels or products
    in memory, one frame per satellite."""
    while True:
        raw = yield sat.queue.get()
        if raw in sat.storage.items:  # else evicted while queued: already dropped in the ledger
            yield from _compute_frame(env, sat, raw, pipeline, recorder, timing, wall_stage_s)
        raw.data = None


def _compute_frame(env: simpy.Environment, sat: Satellite, raw: Item, pipeline: Pipeline, recorder: Recorder,
                   timing: str, wall_stage_s: dict[str, float]):
    """:func:`compute` of one queued frame ``raw``, in storage when this starts: once the computer takes it up it
    is locked there (no storage policy evicts it) until its products replace it."""
    if sat.power.brownout:  # compute waits for the battery: the frame is deferred, not lost
        waited_from = env.now
        yield from sat.power.wait_until_powered()
        sat.deferred_frames += 1
        sat.deferred_s += env.now - waited_from
    if raw not in sat.storage.items:
        return
    raw.locked = True  # the computer reads it from mass memory: no policy evicts it until its products are stored
    frame, cap, work = raw.data
    with sat.computer.request() as req:
        yield req
        wait_s = env.now - cap.t_s  # behind other frames, or a brown-out
        if work is None:  # no frame pool: processed here, the report's images spilled beside the evaluation records
            work = pipeline.run(frame, cap.priority, spill_dir=recorder.run_dir / EVALUATION_DIR)
        elif isinstance(work, StageFault):  # computed ahead in a worker, where a stage failed on it
            raise work
        sat.in_compute = (raw.item_id, env.now)
        yield env.timeout(work.sim_s)
        sat.in_compute = None
    sat.computed(work.sim_s)
    for stage, wall in work.wall_s.items():
        wall_stage_s[stage] = wall_stage_s.get(stage, 0.0) + wall
    sat.storage.remove(raw)
    store_products(sat, work, cap, pipeline, recorder, timing, wait_s)


def store_products(sat: Satellite, work: Work, cap: Capture, pipeline: Pipeline, recorder: Recorder,
                   timing: str, compute_wait_s: float) -> None:
    """Record a processed frame (``compute_wait_s``: simulated seconds from its capture until the computer took it
    up) and put each of its products into storage (refused ones are dropped)."""
    frame = work.frame
    recorder.processed(work, timing, compute_wait_s)
    for idx, tile in enumerate(work.tiles):
        georef = tile_georef(frame, tile, pipeline.ctx)
        line = recorder.stored(frame, cap, tile, idx, work.stages, georef)
        item = Item(line.id, (frame.frame_id,), line.bytes, tile.priority, "product", value=line.value or 0,
                    data=line)
        if not sat.storage.put(item):
            recorder.refused(line, frame.frame_id)


def housekeeping(env: simpy.Environment, sat: Satellite, step_s: float,
                 record: Callable[[TimelineSample], None]):
    """Every ``step_s`` seconds: a timeline sample (to ``record``, e.g. :meth:`Recorder.sampled`), then the
    battery's energy balance over the step."""
    while True:
        record(sample(env, sat))
        t0 = env.now
        yield env.timeout(step_s)
        sat.power.step(t0, env.now)


def sample(env: simpy.Environment, sat: Satellite) -> TimelineSample:
    """The satellite's state now: a line of its timeline (telemetry/timeline.jsonl)."""
    p = sat.power
    return TimelineSample(sat.name, round(env.now, 3), int(sat.storage.used_bytes), round(p.energy_wh, 4),
                          round(p.soc, 5), p.sunlight.at(env.now), p.brownout, sat.computing)
