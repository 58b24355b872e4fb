"""onboard.sim.satellite: the SimPy processes of one spacecraft, on real SimPy, storage and battery models."""

from __future__ import annotations

import datetime as dt
import gc
from pathlib import Path
from types import SimpleNamespace

import pytest
import simpy

from onboard.pipeline.tile import Work
from onboard.sim import satellite
from onboard.sim.mission import Mission
from onboard.scenario.config import load_scenario
from onboard.sim.power import Power, Sunlight
from onboard.sim.recorder import Recorder
from onboard.sim.satellite import Payload, Satellite
from onboard.sim.storage import Storage

ROOT = Path(__file__).parents[1]
START = dt.datetime(2026, 6, 21, tzinfo=dt.timezone.utc)
IDLE_W = 36.0


@pytest.fixture(scope="module")
def camera():
    return load_scenario(ROOT / "scenarios" / "quickstart.yaml").spacecraft.camera


def make_satellite(env, recorder, capacity_bytes: float, soc: float = 1.0, sunlit: bool = False) -> Satellite:
    power = Power(env, 100.0, soc, 50.0, idle_loads_w={"bus": IDLE_W}, active_loads_w={"camera": 10.0},
                  brownout_soc_fraction=0.2, sunlight=Sunlight.constant(sunlit))
    storage = Storage(env, capacity_bytes, "stop_imaging", recorder.evicted)
    return Satellite(0, "sat-1", storage, power, simpy.Resource(env, capacity=1), simpy.Store(env))


def plan(t_s: float) -> SimpleNamespace:
    return SimpleNamespace(t_s=t_s, priority=1)


def test_payload_counts_the_burst_frames(camera):
    single = Payload(camera, None, START, 1, 0)
    burst = Payload(camera, None, START, 1, 2)
    assert (single.burst_frames, single.capture_bytes) == (1, camera.raw_bytes)
    assert burst.burst_frames == camera.burst.frames and burst.capture_bytes == camera.burst.frames * camera.raw_bytes


def test_housekeeping_samples_every_step_and_drains_the_battery_in_eclipse(tmp_path, camera):
    env = simpy.Environment()
    sat = make_satellite(env, Recorder(tmp_path, START, camera), 1e9)
    timeline = []
    env.process(satellite.housekeeping(env, sat, 60.0, timeline.append))
    env.run(until=600.0)
    assert [s.t_s for s in timeline] == [60.0 * i for i in range(10)]
    drained_wh = IDLE_W * 540.0 / 3600.0  # nine whole steps integrated by t = 540 s
    assert timeline[-1].battery_wh == pytest.approx(100.0 - drained_wh, abs=1e-4)
    assert not any(s.sunlit for s in timeline)


def test_imaging_sheds_in_brownout_and_is_refused_by_a_full_memory(tmp_path, camera):
    env = simpy.Environment()
    recorder = Recorder(tmp_path, START, camera)
    payload = Payload(camera, None, START, 1, 0)
    full = make_satellite(env, recorder, capacity_bytes=payload.capture_bytes - 1)
    env.process(satellite.imaging(env, full, [plan(10.0), plan(20.0)], payload, recorder))
    low = make_satellite(env, recorder, 1e9, soc=0.1)
    # the first step finds the battery below 20 %
    env.process(satellite.housekeeping(env, low, 5.0, lambda sample: None))
    env.process(satellite.imaging(env, low, [plan(10.0), plan(20.0)], payload, recorder))
    env.run(until=30.0)
    assert full.skipped == {"storage_full": 2} and full.frames_taken == 0
    assert low.skipped == {"brownout": 2} and low.frames_taken == 0
    assert recorder.ledger.rows(30.0, {}) == []  # nothing was captured


def test_a_processed_frame_leaves_memory_with_its_work(tmp_path):
    """After a real (short, serial) mission, no frame's Work (its pixels, its encoded products) is still held: not
    by the storage item it waited in, nor by a satellite's imaging or compute process waiting for its next frame."""
    scenario = load_scenario(ROOT / "scenarios" / "quickstart.yaml",
                             ["duration_h=10", "pipeline=[{stage: encode, format: png}]"])
    mission = Mission(scenario, tmp_path / "run")
    info = mission.run()
    gc.collect()
    assert info.satellite_summary[0].frames_captured > 0
    assert [o for o in gc.get_objects() if isinstance(o, Work)] == []
    assert all(item.data is not None for sat in mission.sats for item in sat.storage.items)  # products: their lines


def test_a_serial_run_spills_the_report_s_images_beside_the_evaluation_records(tmp_path, monkeypatch):
    """Without the frame pool (--workers 0, the default with measured timing) a 4096 x 3072 burst's four baselines
    stayed in memory (1.6 GB); the compute process now runs the pipeline with the run's evaluation folder to spill
    them to, as a pool's worker does with its records folder."""
    from onboard.pipeline import spill

    made, real = [], spill.SpilledImage.__init__
    monkeypatch.setattr(spill.SpilledImage, "__init__", lambda image, shape, folder:
                        made.append(folder) or real(image, shape, folder))
    scenario = load_scenario(ROOT / "scenarios" / "quickstart.yaml",
                             ["duration_h=10", "spacecraft.camera.width_px=64", "spacecraft.camera.height_px=64"])
    Mission(scenario, tmp_path / "run").run()
    assert made and set(made) == {tmp_path / "run" / "evaluation"}
    assert not [p for p in (tmp_path / "run" / "evaluation").iterdir() if p.suffix != ".npz"]  # unnamed: gone


def test_a_run_stopped_while_a_frames_pixels_are_made_never_took_that_frame(tmp_path, monkeypatch):
    """Ctrl-C lands while the 4th capture's pixels are being made (injected: the camera raises it), with the raw
    frame already in storage: it was never taken, so it leaves storage again, and the stopped run's storage is the
    ledger's bytes on board (it ended one capture above them)."""
    import json

    from app.cli import main

    calls = []

    def interrupted_fourth(payload, task):
        calls.append(task.frame_id)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(payload, task)

    real = satellite.capture_frame
    monkeypatch.setattr(satellite, "capture_frame", interrupted_fourth)
    out = tmp_path / "run"
    status = main(["run", str(ROOT / "scenarios" / "storage_overflow.yaml"), "--out", str(out), "--quiet",
                   "--workers", "0", "--set", "spacecraft.radio.rate_mbps=0.3"])
    assert status == 130 and len(calls) == 4
    report = json.loads((out / "report.json").read_text())
    samples = [json.loads(line) for line in (out / "telemetry" / "timeline.jsonl").read_text().splitlines()]
    assert samples[-1]["storage_bytes"] == report["bandwidth"]["bytes_on_board"] > 0
    info = json.loads((out / "telemetry" / "run.json").read_text())
    (sat,) = info["satellite_summary"]
    assert sat["frames_captured"] == report["ledger"]["captured"] == 3  # the 4th was never taken
    assert sat["frames_planned"] == 3 + sum(sat["captures_skipped"].values())


def test_storage_never_evicts_the_frame_the_computer_is_working_on(tmp_path):
    """A flight CPU slower than the captures of a long strip, and a memory that holds few frames: drop_oldest
    evicted the oldest raw frame, the one in the computer, so the computer worked on frames thrown away (21 s busy
    against 9.8 s of processed frames in a trial). The frame in compute is held as one on the air is: every second
    the computer was busy belongs to a processed frame."""
    import json

    scenario = load_scenario(ROOT / "scenarios" / "quickstart.yaml", [
        "duration_h=9.9", "spacecraft.compute.hardware=flight-cpu", "spacecraft.storage.capacity_mb=4",
        "spacecraft.camera.width_px=1024",
        "targets=[{name: paris, lat_deg: 48.86, lon_deg: 2.35, radius_km: 40, priority: 2}]",
        "pipeline=[{stage: encode, format: png}]"])
    info = Mission(scenario, tmp_path / "run").run()
    (sat,) = info.satellite_summary
    processing = (tmp_path / "run" / "telemetry" / "processing.jsonl").read_text()
    records = [json.loads(line) for line in processing.splitlines()]
    assert 0 < len(records) < sat.frames_captured  # the memory did overflow: frames were evicted
    assert sat.compute_busy_s == pytest.approx(sum(r["compute_s"] for r in records), abs=1e-3)  # run.json: ms
