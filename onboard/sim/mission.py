"""A mission run: wires the SimPy model of every satellite and station from a Scenario.

:class:`Mission` builds what the scenario describes (ephemeris, contact windows, capture plans, the world, the
pipeline, each satellite's storage and battery) and starts, per satellite, the four processes of
:mod:`onboard.sim.satellite` and :func:`onboard.downlink.downlink`; the :class:`~onboard.sim.recorder.Recorder` writes
the run directory (products to ``RUN/downlink``, truth to ``RUN/truth``, housekeeping to ``RUN/telemetry``; see
the README for the layout).
"""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import BrokenExecutor
from pathlib import Path
from typing import Any, Callable

import numpy as np
import simpy

from rundir.errors import OrbitEdgeError
from rundir.files import signals_held
from rundir.run_info import CameraInfo, DownlinkInfo, ElementSet, RunInfo, SatelliteSummary, StageEntry, Stopped

from ..orbit import elements, ephemeris, passes, sun
from ..runtime import hardware
from . import imaging, link_budget, satellite
from ..scenario.config import Scenario
from .downlink import Link, downlink
from .frame_pool import FRAME_RECORDS_DIR, FramePool
from ..sensing.imagery import world_from_config
from ..pipeline.runner import Pipeline
from ..pipeline.stages import Context
from .power import Power, Sunlight
from .recorder import Recorder, iso_utc
from .satellite import Payload, Satellite
from .storage import Storage
from ..sensing.world import BAND_CENTRES_UM, SYNTHETIC_BANDS, SyntheticWorld, World

Progress = Callable[[float, float], None]
LINK_STREAM = 0x11A4  # random stream of the link's frame errors, apart from the camera noise
SUNLIT_STEP_S = 30.0  # s, the sampling of each satellite's sunlight (Earth's cylindrical shadow, onboard.orbit.sun)


WORLD_SOURCES = ("synthetic", "geotiff")


def build_world(cfg: Any, seed: int, base_dir: Path = Path(".")) -> World:
    """The world a scenario's ``world`` block (a :class:`~onboard.scenario.config.WorldConfig`) names: the synthetic Earth,
    seeded by the scenario ``seed``, or real imagery (:class:`~onboard.sensing.imagery.ImageryWorld`) with file paths
    relative to ``base_dir``. ValueError for an unknown ``source``; InputFileError for an image file it cannot use."""
    if cfg.source == "synthetic":
        return SyntheticWorld(seed=seed, mean_cloud_cover=cfg.mean_cloud_cover, cloud_height_m=cfg.cloud_height_m)
    if cfg.source == "geotiff":
        return world_from_config(cfg, base_dir)
    raise ValueError(f"Unknown world source {cfg.source!r}. Choose from {WORLD_SOURCES}")


def build_pipeline(scenario: Scenario, profile: hardware.HardwareProfile | None = None) -> Pipeline:
    """The scenario's on-board pipeline, every stage constructed (its models loaded) for the spacecraft's camera
    and computer (``profile``: its hardware profile, loaded when not given). Raises StageFault when a plugin
    stage's constructor fails."""
    craft = scenario.spacecraft
    camera, profile = craft.camera, profile or hardware.load_profile(craft.compute.hardware)
    return Pipeline(scenario.stages, Context(
        bands=tuple(camera.bands), bit_depth=camera.bit_depth,
        reflectance_per_dn=camera.reflectance_max / camera.dn_max, cpu_relative=profile.cpu_relative,
        int8_conv_relative=profile.int8_conv_relative, timing=craft.compute.timing,
        scenario_dir=Path(scenario.source_file).parent, pointing_jitter_px=camera.burst.jitter_px,
        band_centres_um=tuple(round(float(BAND_CENTRES_UM[SYNTHETIC_BANDS.index(b)]), 4) for b in camera.bands)))


class RealtimeOverrun(OrbitEdgeError):
    """The device running a real-time simulation fell behind the wall clock."""

    def __init__(self, simulated_s: float, factor: float, detail: str):
        self.simulated_s = simulated_s
        self.factor = factor
        super().__init__(f"real-time run fell behind at simulated t = {simulated_s:.1f} s (factor {factor:g} wall s "
                         f"per simulated s): {detail.rstrip('.')}. This device cannot keep up at this factor; the run directory "
                         "holds the partial run (telemetry/run.json complete: false)")


class Mission:
    """Everything one run needs; ``run()`` executes it and writes the run directory."""

    def __init__(self, scenario: Scenario, run_dir: Path, progress: Progress | None = None,
                 realtime_factor: float | None = None, workers: int = 0):
        self.scn = scenario
        self.workers = workers  # frame-pool worker processes (onboard.sim.frame_pool); 0: every frame in this process
        self.finished = False  # the run's last records written: telemetry/run.json says complete
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.realtime_factor = realtime_factor  # wall seconds per simulated second, strict; None: as fast as possible
        self.env = (simpy.RealtimeEnvironment(factor=realtime_factor, strict=True) if realtime_factor
                    else simpy.Environment())
        self.start_utc = scenario.start_utc
        self.duration_s = scenario.duration_s
        craft = scenario.spacecraft
        self.profile = hardware.load_profile(craft.compute.hardware)
        self.camera = craft.camera
        self.pipeline = build_pipeline(scenario, self.profile)
        self.payload = Payload(self.camera, build_world(scenario.world, scenario.seed, Path(scenario.source_file).parent),
                               self.start_utc, scenario.seed, self.pipeline.burst_scale)
        self.names = [s.name for s in scenario.satellites]
        self.ephemeris = ephemeris.Ephemeris([s.orbit.satrec(self.start_utc) for s in scenario.satellites], self.start_utc)
        self.stations = [passes.GroundStation(g.name, g.lat_deg, g.lon_deg, g.alt_m, g.min_elevation_deg)
                         for g in scenario.ground_stations]
        self.windows = passes.contact_windows(self.ephemeris, self.names, self.stations, self.duration_s)
        self.plans = imaging.plan_captures(self.ephemeris, self.names, scenario.targets, craft.camera,
                                           self.start_utc, self.duration_s)
        self.recorder = Recorder(self.run_dir, self.start_utc, self.camera)
        self.wall_stage_s: dict[str, float] = {}
        self.antennas = {g.name: simpy.Resource(self.env, capacity=1) for g in scenario.ground_stations}
        grid_s = np.arange(0.0, self.duration_s + SUNLIT_STEP_S, SUNLIT_STEP_S)
        lit = self.ephemeris.over_time(  # (S, T)
            grid_s, lambda r, _, t_s: sun.sunlit(r, sun.sun_direction_ecef(self.start_utc, t_s)))
        self.sats = [self._satellite(i, name, lit[i]) for i, name in enumerate(self.names)]

    def _satellite(self, index: int, name: str, lit: np.ndarray) -> Satellite:
        """Satellite ``index`` (``name``), whose sunlight ``lit`` (T,) is sampled every :data:`SUNLIT_STEP_S`."""
        craft = self.scn.spacecraft
        power = Power(self.env, craft.power.battery_wh, craft.power.initial_soc_fraction, craft.power.solar_w,
                      idle_loads_w={"bus": craft.power.bus_idle_w, "computer": self.profile.power_w.idle},
                      active_loads_w={"camera": craft.camera.power_w,
                                      "radio": craft.power.radio_tx_w + self.profile.power_w.transmit - self.profile.power_w.idle,
                                      "compute": max(0.0, self.profile.power_w.compute - self.profile.power_w.idle)},
                      brownout_soc_fraction=craft.power.brownout_soc_fraction,
                      sunlight=Sunlight(lit, SUNLIT_STEP_S))
        storage = Storage(self.env, craft.storage.capacity_mb * 1e6, craft.storage.policy, self.recorder.evicted,
                          self.scn.downlink.order)
        return Satellite(index, name, storage, power, simpy.Resource(self.env, capacity=1), simpy.Store(self.env))

    # --- run -----------------------------------------------------------------------------------------------------

    def run(self) -> RunInfo:
        """Simulate the whole scenario and write the run directory; returns telemetry/run.json's record."""
        wall_start = time.perf_counter()
        self.recorder.start(self._run_info(complete=False, wall_s=0.0, at_end=False))
        pool, stopped = None, True
        try:
            with signals_held(redeliver=True):  # the frame pool starts whole, to be stopped: a Ctrl-C meanwhile waits
                pool = FramePool(self.workers, self.payload, self.scn.stages, self.pipeline.ctx, self.plans,
                                 self.recorder.run_dir / FRAME_RECORDS_DIR) if self.workers else None
            self._start_processes(pool)
            if self.realtime_factor:
                self.env.sync()  # the wall clock starts now, not when the scenario was planned
            self._simulate()
            stopped = False
        except BaseException as err:  # Ctrl-C, SIGTERM, a real-time overrun: leave a consistent, partial run
            overrun = isinstance(err, RuntimeError) and not isinstance(err, BrokenExecutor) and self.realtime_factor
            with signals_held(redeliver=False):  # the partial record whole: a second Ctrl-C stops nothing more
                self._finish(wall_start, complete=False,
                             stopped=RealtimeOverrun.__name__ if overrun else type(err).__name__)
            if overrun:
                raise RealtimeOverrun(self.env.now, self.realtime_factor, str(err)) from None
            raise
        finally:
            if stopped and pool is not None:
                pool.close()
        # the pool closed and the last records written whole: a Ctrl-C meanwhile acts once they are, on a finished
        # run (it lost them, and the run read as a partial one with no ledger)
        with signals_held(redeliver=True):
            if pool is not None:
                pool.close()  # frames still in flight at the end are never taken
            info = self._finish(wall_start, complete=True)
            self.finished = True
        return info

    def _start_processes(self, pool: FramePool | None) -> None:
        """Each satellite's imaging, compute, housekeeping and downlink processes (imaging takes its frames' pixels
        from ``pool`` when there is one)."""
        radio = self.scn.spacecraft.radio
        timing = self.scn.spacecraft.compute.timing
        for sat in self.sats:
            sat_windows = [w for w in self.windows if w.satellite == sat.name]
            self.env.process(satellite.imaging(self.env, sat, self.plans[sat.name], self.payload, self.recorder, pool))
            self.env.process(satellite.compute(self.env, sat, self.pipeline, self.recorder, timing, self.wall_stage_s))
            self.env.process(satellite.housekeeping(self.env, sat, self.scn.timeline_step_s, self.recorder.sampled))
            link = Link(radio.payload_bytes_per_s or 0.0, radio.frame_bytes, radio.link_frame_error_rate)
            self.env.process(downlink(self.env, sat_windows, self.antennas, sat.storage, link, sat.power.busy,
                                      self.recorder.delivered, self.recorder.contacts,
                                      np.random.default_rng([self.scn.seed, sat.index, LINK_STREAM]),
                                      self._pass_rates(sat.index, sat_windows)))

    def _pass_rates(self, index: int, windows: list[passes.ContactWindow]) -> list[link_budget.PassRates] | None:
        """Each window's rate under ``spacecraft.radio.link_budget`` (each station with its own G/T when it has
        one), or None for the constant ``rate_mbps``."""
        radio = self.scn.spacecraft.radio
        if radio.link_budget is None:
            return None
        configs = {g.name: g for g in self.scn.ground_stations}
        stations = {s.name: s for s in self.stations}
        return [link_budget.pass_rates(self.ephemeris, index, stations[w.station], w,
                                       link_budget.budget_of(radio.link_budget, configs[w.station].g_t_db_k),
                                       1.0 - radio.protocol_overhead_fraction, radio.payload_bytes_per_s)
                for w in windows]

    def _simulate(self) -> None:
        steps = 200
        for i in range(1, steps + 1):
            self.env.run(until=self.duration_s * i / steps)
            if self.progress:
                self.progress(self.env.now, self.duration_s)

    def _finish(self, wall_start: float, complete: bool, stopped: str | None = None) -> RunInfo:
        """Each satellite's energy balance closed at the end (the compute of a frame still in the computer counted as
        far as it went) and a last timeline sample, then the recorder's closing files and run.json (``complete``,
        and why it ``stopped`` early)."""
        for sat in self.sats:
            if sat.in_compute is not None:  # its products never came, but the computer's time and energy were spent
                sat.computed(self.env.now - sat.in_compute[1])
            sat.power.close(self.env.now)
            self.recorder.sampled(satellite.sample(self.env, sat))
        info = self._run_info(complete=complete, wall_s=time.perf_counter() - wall_start)
        if stopped:
            info = dataclasses.replace(info, stopped=Stopped(stopped, round(self.env.now, 3)))
        self.recorder.finish(self.env.now, [item for sat in self.sats for item in sat.storage.items], info)
        return info

    def _run_info(self, complete: bool, wall_s: float, at_end: bool = True) -> RunInfo:
        """telemetry/run.json's record: at the start (``at_end`` False: no satellite summary yet), or at the end of
        a run, ``complete`` or stopped."""
        craft = self.scn.spacecraft
        radio = craft.radio
        return RunInfo(
            scenario=self.scn.name, seed=self.scn.seed, start_utc=iso_utc(self.start_utc),
            duration_s=self.duration_s, complete=complete, wall_time_s=round(wall_s, 3),
            wall_stage_s={k: round(v, 3) for k, v in sorted(self.wall_stage_s.items())},
            satellites=list(self.names), stations=[g.name for g in self.stations], warnings=list(self.scn.warnings),
            element_sets=[ElementSet(s.name, s.orbit.title, iso_utc(elements.tle_epoch_utc(satrec)))
                          for s, satrec in zip(self.scn.satellites, self.ephemeris.satrecs) if s.orbit.tle is not None],
            bands=list(craft.camera.bands), pipeline=self.pipeline.names, hardware=self.profile.name,
            stages=[StageEntry(s.name, dataclasses.asdict(s.params)) for s in self.scn.stages],
            model_cards={s.name: s.model_card for s in self.pipeline.stages if s.model_card},
            models={s.name: s.model_file for s in self.pipeline.stages if s.model_file},
            camera=CameraInfo(craft.camera.width_px, craft.camera.height_px, craft.camera.gsd_m,
                              craft.camera.bit_depth, self.camera.raw_bytes, self.payload.burst_frames,
                              self.payload.burst_scale),
            downlink=DownlinkInfo(radio.rate_mbps, radio.payload_bytes_per_s, radio.frame_bytes,
                                  radio.link_frame_error_rate,
                                  dataclasses.asdict(radio.link_budget) if radio.link_budget else None),
            estimate_format=self.pipeline.estimate_format,
            satellite_summary=[self._sat_summary(s, complete) for s in self.sats] if at_end else [])

    def _sat_summary(self, sat: Satellite, complete: bool) -> SatelliteSummary:
        """One satellite's figures at the end, or at the stop of a run that did not complete (its captures planned
        then those the simulation reached: each taken or skipped)."""
        p = sat.power
        reached = sat.frames_taken + sum(sat.skipped.values())
        return SatelliteSummary(
            satellite=sat.name, frames_planned=len(self.plans[sat.name]) if complete else reached,
            frames_captured=sat.frames_taken,
            captures_skipped=dict(sorted(sat.skipped.items())), compute_busy_s=round(sat.compute_s, 3),
            compute_timing=self.scn.spacecraft.compute.timing, storage_peak_bytes=int(sat.storage.peak_bytes),
            storage_capacity_bytes=int(sat.storage.capacity_bytes), compute_deferred_frames=sat.deferred_frames,
            compute_deferred_s=round(sat.deferred_s, 1), frame_in_compute=sat.in_compute and sat.in_compute[0],
            battery_min_soc=round(p.min_soc, 5),
            brownout_s=round(p.brownout_s, 1), energy_in_wh=round(p.energy_in_wh, 3),
            energy_out_wh=round(p.energy_out_wh, 3), energy_unmet_wh=round(p.unmet_wh, 3))
