"""A mission run: builds the SimPy model of every satellite and station from a Scenario and writes the run directory.

Per satellite, four processes share its storage and battery: imaging (frames at planned times), compute (the
pipeline on a one-job resource, timed by the hardware profile), downlink (contact windows) and power (energy
balance and the telemetry timeline). Products reach ``RUN/downlink``, truth ``RUN/truth`` and housekeeping
``RUN/telemetry``; see the README for the layout.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import simpy

from rundir.codec import EXTENSIONS, Georef, packed_size_bytes, sidecars
from rundir.errors import OrbitEdgeError
from rundir.files import jsonl_line, write_json, write_jsonl, write_npz
from rundir.manifest import Footprint, ManifestLine, TileGeometry

from . import burst, camera, hardware, imaging, orbit
from .config import Scenario
from .downlink import ContactLog, Link, ProductStore, downlink
from .imagery import world_from_config
from .ledger import Ledger
from .pipeline import Context, Pipeline, Work, tile_georef
from .power import Power
from .projection import GridFootprint
from .storage import Item, Storage
from .world import BAND_CENTRES_UM, SYNTHETIC_BANDS, SyntheticWorld, World

Progress = Callable[[float, float], None]
FRAME_READOUT_S = 0.5  # camera powered per frame: exposure, readout and write to mass memory
LINK_STREAM = 0x11A4  # random stream of the link's frame errors, apart from the camera noise


WORLD_SOURCES = ("synthetic", "geotiff")


def build_world(cfg: Any, seed: int, base_dir: Path = Path(".")) -> World:
    """The world a scenario's ``world`` block (a :class:`~onboard.config.WorldConfig`) names: the synthetic Earth,
    seeded by the scenario ``seed``, or real imagery (:class:`~onboard.imagery.ImageryWorld`) with file paths
    relative to ``base_dir``. ValueError for an unknown ``source``; InputFileError for an image file it cannot use."""
    if cfg.source == "synthetic":
        return SyntheticWorld(seed=seed, mean_cloud_cover=cfg.mean_cloud_cover, cloud_height_m=cfg.cloud_height_m)
    if cfg.source == "geotiff":
        return world_from_config(cfg, base_dir)
    raise ValueError(f"Unknown world source {cfg.source!r}. Choose from {WORLD_SOURCES}")


class RealtimeOverrun(OrbitEdgeError):
    """The device running a real-time simulation fell behind the wall clock."""

    def __init__(self, simulated_s: float, factor: float, detail: str):
        self.simulated_s = simulated_s
        self.factor = factor
        super().__init__(f"real-time run fell behind at simulated t = {simulated_s:.1f} s (factor {factor:g} wall s "
                         f"per simulated s): {detail.rstrip('.')}. This device cannot keep up at this factor; the run directory "
                         "holds the partial run (telemetry/run.json complete: false)")


def iso_utc(when: dt.datetime) -> str:
    """ISO 8601 UTC with milliseconds and a Z."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass
class Satellite:
    """The SimPy state of one spacecraft."""

    index: int
    name: str
    storage: Storage
    power: Power
    computer: simpy.Resource
    queue: simpy.Store
    computing: bool = False
    transmitting: bool = False
    skipped: dict[str, int] = field(default_factory=dict)  # captures not taken, by reason
    compute_s: float = 0.0
    deferred_frames: int = 0  # frames whose compute waited out a brown-out
    deferred_s: float = 0.0  # total time they waited
    timeline: list[dict[str, Any]] = field(default_factory=list)


class Mission:
    """Everything one run needs; ``run()`` executes it and writes the run directory."""

    def __init__(self, scenario: Scenario, run_dir: Path, progress: Progress | None = None,
                 realtime_factor: float | None = None):
        self.scn = scenario
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
        self.pipeline = Pipeline(scenario.stages, Context(
            bands=tuple(craft.camera.bands), bit_depth=craft.camera.bit_depth,
            reflectance_per_dn=self.camera.reflectance_max / self.camera.dn_max,
            cpu_relative=self.profile.cpu_relative, int8_conv_relative=self.profile.int8_conv_relative,
            timing=craft.compute.timing,
            band_centres_um=tuple(round(float(BAND_CENTRES_UM[SYNTHETIC_BANDS.index(b)]), 4) for b in craft.camera.bands)))
        self.world = build_world(scenario.world, scenario.seed, Path(scenario.source_file).parent)
        self.burst_scale = self.pipeline.burst_scale
        self.burst_frames = craft.camera.burst.frames if self.burst_scale else 1
        self.capture_bytes = self.burst_frames * self.camera.raw_bytes
        self.names = [s.name for s in scenario.satellites]
        self.ephemeris = orbit.Ephemeris([s.orbit.satrec(self.start_utc) for s in scenario.satellites], self.start_utc)
        self.stations = [orbit.GroundStation(g.name, g.lat_deg, g.lon_deg, g.alt_m, g.min_elevation_deg)
                         for g in scenario.ground_stations]
        self.windows = orbit.contact_windows(self.ephemeris, self.names, self.stations, self.duration_s)
        self.plans = imaging.plan_captures(self.ephemeris, self.names, scenario.targets, craft.camera,
                                           self.start_utc, self.duration_s)
        self.ledger = Ledger()
        self.contacts: list[ContactLog] = []
        self.wall_stage_s: dict[str, float] = {}
        self.antennas = {g.name: simpy.Resource(self.env, capacity=1) for g in scenario.ground_stations}
        self.sats = [self._satellite(i, name) for i, name in enumerate(self.names)]

    def _satellite(self, index: int, name: str) -> Satellite:
        craft = self.scn.spacecraft
        step_s = 30.0
        grid_s = np.arange(0.0, self.duration_s + step_s, step_s)
        r = self.ephemeris.ecef_km(grid_s)[index]
        lit = orbit.sunlit(r, orbit.sun_direction_ecef(self.start_utc, grid_s))

        def sunlit(t_s: float) -> bool:
            return bool(lit[min(int(t_s // step_s), len(lit) - 1)])

        power = Power(self.env, craft.power.battery_wh, craft.power.initial_soc_fraction, craft.power.solar_w,
                      idle_loads_w={"bus": craft.power.bus_idle_w, "computer": self.profile.power_w.idle},
                      active_loads_w={"camera": craft.camera.power_w,
                                      "radio": craft.power.radio_tx_w + self.profile.power_w.transmit - self.profile.power_w.idle,
                                      "compute": max(0.0, self.profile.power_w.compute - self.profile.power_w.idle)},
                      brownout_soc_fraction=craft.power.brownout_soc_fraction, sunlit=sunlit)
        storage = Storage(self.env, craft.storage.capacity_mb * 1e6, craft.storage.policy, self._evicted)
        return Satellite(index, name, storage, power, simpy.Resource(self.env, capacity=1), simpy.Store(self.env))

    # --- processes ---------------------------------------------------------------------------------------------

    def _imaging(self, sat: Satellite):
        for cap in self.plans[sat.name]:
            if self.env.now < cap.t_s:
                yield self.env.timeout(cap.t_s - self.env.now)
            if sat.power.brownout:
                sat.skipped["brownout"] = sat.skipped.get("brownout", 0) + 1
                continue
            frame_id = f"{sat.name}-f{self._frames_taken[sat.name]:05d}"
            raw = Item(frame_id, (frame_id,), self.capture_bytes, cap.priority, "raw")
            if not sat.storage.put(raw):
                sat.skipped["storage_full"] = sat.skipped.get("storage_full", 0) + 1
                continue
            self._frames_taken[sat.name] += 1
            footprint = GridFootprint.centred(cap.lat_deg, cap.lon_deg, cap.epsg, self.camera.gsd_m,
                                              self.camera.width_px, self.camera.height_px)
            rng = np.random.default_rng([self.scn.seed, sat.index, self._frames_taken[sat.name]])
            frame = self._capture(footprint, cap, rng, frame_id, sat.name)
            raw.data = (frame, cap)
            self.ledger.captured(frame_id, sat.name, cap.t_s)
            self._write_capture(frame, cap)
            sat.power.busy("camera", FRAME_READOUT_S * self.burst_frames)
            yield sat.queue.put(raw)

    def _capture(self, footprint: GridFootprint, cap: imaging.Capture, rng: np.random.Generator, frame_id: str,
                 satellite: str) -> camera.Frame:
        """One frame, or with a superres stage a burst of K frames (the frame is then its frame 0)."""
        when = self.start_utc + dt.timedelta(seconds=cap.t_s)
        if not self.burst_scale:
            return camera.capture(self.camera, self.world, footprint, when, cap.sun_elevation_deg, cap.sun_azimuth_deg,
                                  rng, frame_id, satellite, cap.t_s)
        cfg = self.scn.spacecraft.camera.burst
        shot = burst.capture_burst(self.camera, self.world, footprint, when, cap.sun_elevation_deg,
                                   cap.sun_azimuth_deg, rng, k=cfg.frames, scale=self.burst_scale,
                                   mtf_nyquist=cfg.mtf_nyquist, jitter_px=cfg.jitter_px,
                                   frame_cloud_cover=cfg.frame_cloud_cover, cloud_drift_px=cfg.cloud_drift_px)
        return camera.Frame(frame_id, satellite, cap.t_s, when, footprint, shot.lr_dn[0], shot.truth_lr, shot)

    def _compute(self, sat: Satellite):
        while True:
            raw = yield sat.queue.get()
            if raw not in sat.storage.items:
                continue  # evicted while queued: already dropped in the ledger
            if sat.power.brownout:  # compute waits for the battery: the frame is deferred, not lost
                waited_from = self.env.now
                yield from sat.power.wait_until_powered()
                sat.deferred_frames += 1
                sat.deferred_s += self.env.now - waited_from
            if raw not in sat.storage.items:
                continue
            frame, cap = raw.data
            with sat.computer.request() as req:
                yield req
                work = self.pipeline.run(frame, cap.priority)
                sat.computing = True
                yield self.env.timeout(work.sim_s)
                sat.computing = False
            sat.power.busy("compute", work.sim_s)
            sat.compute_s += work.sim_s
            for stage, wall in work.wall_s.items():
                self.wall_stage_s[stage] = self.wall_stage_s.get(stage, 0.0) + wall
            if raw in sat.storage.items:
                sat.storage.remove(raw)
                self._store_products(sat, work, cap)

    def _store_products(self, sat: Satellite, work: Work, cap: imaging.Capture) -> None:
        frame = work.frame
        if work.evaluation:
            write_npz(self.run_dir / "evaluation" / f"{frame.frame_id}.npz", work.evaluation)
        self.ledger.processed(frame.frame_id, len(work.tiles), [reason for _, reason in work.dropped])
        self._processing.write(jsonl_line({
            "frame_id": frame.frame_id, "satellite": frame.satellite, "stages": work.stages, "burst_frames": work.frames,
            "compute_s": round(work.sim_s, 6), "compute_timing": self.scn.spacecraft.compute.timing,
            "compute_stage_s": {k: round(v, 6) for k, v in work.sim_stage_s.items()},
            "wall_s": {k: round(v, 6) for k, v in work.wall_s.items()},
            "tiles_kept": len(work.tiles), "tiles_dropped": len(work.dropped),
            "alternative_bytes": work.alternative_bytes}))
        for idx, tile in enumerate(work.tiles):
            georef = tile_georef(frame, tile, self.pipeline.ctx)
            line = self._manifest_line(frame, cap, tile, idx, work.stages, georef)
            # a PNG's georeferencing travels as sidecar files, sent down and counted with the product
            line = self.products.stage(line, tile.payload, sidecars(line.file, tile.format, tile.dn.shape[-1], georef))
            item = Item(line.id, (frame.frame_id,), line.bytes, tile.priority, "product", data=line)
            if not sat.storage.put(item):
                self.products.discard(line)
                self.ledger.dropped(frame.frame_id, "storage_full")

    def _manifest_line(self, frame: Any, cap: imaging.Capture, tile: Any, idx: int, stages: list[str],
                       georef: Georef) -> ManifestLine:
        """The product's manifest line as made: ``sha256``, ``bytes`` and ``sidecars`` come when it is stored."""
        h, w, n_bands = tile.dn.shape
        image = tile.kind == "image"
        scale = int(tile.meta.get("scale", 1))
        if not image:
            product_id = f"{frame.frame_id}-{tile.kind}"
        elif "burst_frame" in tile.meta:  # one frame of a raw burst
            product_id = f"{frame.frame_id}-b{tile.meta['burst_frame']:02d}-t{idx:02d}"
        else:
            product_id = f"{frame.frame_id}-t{idx:02d}"
        raw_frames = int(tile.meta.get("burst_frames", 1))  # frames of the burst one product stands for
        return ManifestLine(
            id=product_id, file=product_id + EXTENSIONS[tile.format], satellite=frame.satellite,
            frame_ids=(frame.frame_id,), pass_id=cap.pass_id, target=cap.target,
            capture_t_s=round(cap.t_s, 3), capture_utc=iso_utc(frame.time_utc),
            format=tile.format, kind=tile.kind, dtype=tile.dn.dtype.name,
            bit_depth=tile.meta.get("bit_depth", self.camera.bit_depth), bands=tuple(georef.bands), shape=(h, w, n_bands),
            tile=TileGeometry(tile.row0, tile.col0, h, w, self.camera.height_px * scale, self.camera.width_px * scale),
            footprint=Footprint(georef.epsg, georef.x0_m, georef.y0_m, georef.gsd_m, w, h),
            scale=scale,
            raw_bytes=raw_frames * packed_size_bytes((h // scale) * (w // scale) * n_bands, self.camera.bit_depth)
            if image else 0,
            stages=tuple(stages), priority=tile.priority, retransmitted_bytes=0,
            reflectance_per_dn=georef.reflectance_per_dn if image else None,
            band_centres_um=tuple(georef.centres_um) if image else None,
            **{key: tile.meta[key] for key in ("cloud_fraction", "masked", "burst_frame", "burst_frames")
               if key in tile.meta})

    def _delivered(self, item: Item, t_s: float, station: str) -> None:
        line = dataclasses.replace(item.data, downlink_t_s=round(t_s, 3),
                                   downlink_utc=iso_utc(self.start_utc + dt.timedelta(seconds=t_s)), station=station,
                                   retransmitted_bytes=int(round(item.retransmitted_bytes)))
        self.products.deliver(line)
        self.ledger.delivered(item.frame_ids[0])

    def _evicted(self, item: Item, reason: str) -> None:
        if item.kind == "product":
            self.products.discard(item.data)
        for frame_id in item.frame_ids:
            self.ledger.dropped(frame_id, reason)

    def _power(self, sat: Satellite):
        step_s = self.scn.timeline_step_s
        while True:
            self._sample(sat)
            t0 = self.env.now
            yield self.env.timeout(step_s)
            sat.power.step(t0, self.env.now)

    def _sample(self, sat: Satellite) -> None:
        p = sat.power
        sat.timeline.append({"satellite": sat.name, "t_s": round(self.env.now, 3), "storage_bytes": int(sat.storage.used_bytes),
                             "battery_wh": round(p.energy_wh, 4), "battery_soc": round(p.soc, 5),
                             "sunlit": p.sunlit(self.env.now), "brownout": p.brownout, "computing": sat.computing})

    # --- run -----------------------------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Simulate the whole scenario and write the run directory; returns telemetry/run.json's content."""
        wall_start = time.perf_counter()
        for sub in ("truth", "telemetry", "evaluation"):
            (self.run_dir / sub).mkdir(parents=True, exist_ok=True)
        self.products = ProductStore(self.run_dir)
        self._captures = open(self.run_dir / "telemetry" / "captures.jsonl", "w", encoding="utf-8")
        self._processing = open(self.run_dir / "telemetry" / "processing.jsonl", "w", encoding="utf-8")
        self._frames_taken = {name: 0 for name in self.names}
        info = self._run_info(complete=False, wall_s=0.0)
        write_json(self.run_dir / "telemetry" / "run.json", info)
        for sat in self.sats:
            sat_windows = [w for w in self.windows if w.satellite == sat.name]
            self.env.process(self._imaging(sat))
            self.env.process(self._compute(sat))
            self.env.process(self._power(sat))
            radio = self.scn.spacecraft.radio
            link = Link(radio.payload_bytes_per_s, radio.frame_bytes, radio.link_frame_error_rate)
            self.env.process(downlink(self.env, sat_windows, self.antennas, sat.storage, link, sat.power.busy,
                                      self._delivered, self.contacts,
                                      np.random.default_rng([self.scn.seed, sat.index, LINK_STREAM])))
        if self.realtime_factor:
            self.env.sync()  # the wall clock starts now, not when the scenario was planned
        try:
            self._simulate()
        except BaseException as err:  # Ctrl-C, SIGTERM, a real-time overrun: leave a consistent, partial run
            self._finish(wall_start, complete=False, stopped=type(err).__name__)
            if isinstance(err, RuntimeError) and self.realtime_factor:
                raise RealtimeOverrun(self.env.now, self.realtime_factor, str(err)) from None
            raise
        return self._finish(wall_start, complete=True)

    def _simulate(self) -> None:
        steps = 200
        for i in range(1, steps + 1):
            self.env.run(until=self.duration_s * i / steps)
            if self.progress:
                self.progress(self.env.now, self.duration_s)

    def _finish(self, wall_start: float, complete: bool, stopped: str | None = None) -> dict[str, Any]:
        """Close the files and write the telemetry and run.json (``complete``, and why it ``stopped`` early)."""
        for sat in self.sats:
            self._sample(sat)
        self._captures.close()
        self._processing.close()
        self.products.close()
        self._write_telemetry()
        info = self._run_info(complete=complete, wall_s=time.perf_counter() - wall_start)
        if stopped:
            info["stopped"] = {"reason": stopped, "simulated_s": round(self.env.now, 3)}
        write_json(self.run_dir / "telemetry" / "run.json", info)
        return info

    def _write_capture(self, frame: Any, cap: imaging.Capture) -> None:
        fp = frame.footprint
        row = {"frame_id": frame.frame_id, "satellite": frame.satellite, "pass_id": cap.pass_id, "target": cap.target,
               "t_s": round(cap.t_s, 3), "utc": iso_utc(frame.time_utc), "raw_bytes": self.capture_bytes,
               "burst_frames": self.burst_frames,
               "footprint": {"epsg": fp.epsg, "x0_m": fp.x0_m, "y0_m": fp.y0_m, "gsd_m": fp.gsd_m,
                             "width_px": fp.width_px, "height_px": fp.height_px},
               "centre_lat_deg": round(cap.lat_deg, 6), "centre_lon_deg": round(cap.lon_deg, 6),
               "sun_elevation_deg": round(cap.sun_elevation_deg, 3), "off_nadir_deg": round(cap.off_nadir_deg, 3)}
        self._captures.write(jsonl_line(row))
        self._captures.flush()  # whole lines on disk as the run goes: an interrupted run keeps them
        truth = frame.truth
        high_res = {}
        if frame.burst is not None:
            high_res = {"hr_reflectance": frame.burst.hr_truth, "hr_clear": frame.burst.hr_clear,
                        "shifts_px": frame.burst.shifts_px}
        write_npz(self.run_dir / "truth" / f"{frame.frame_id}.npz", {
            "cloud": truth.cloud, "shadow": truth.shadow, "landcover": truth.landcover, "valid": truth.valid, **high_res})

    def _write_telemetry(self) -> None:
        tel = self.run_dir / "telemetry"
        on_board: dict[str, int] = {}
        for sat in self.sats:
            for item in sat.storage.items:
                for frame_id in item.frame_ids:
                    unsent = 1.0 - item.sent_bytes / item.on_air_bytes if item.on_air_bytes else 1.0
                    on_board[frame_id] = on_board.get(frame_id, 0) + int(item.size_bytes * unsent)
        write_jsonl(tel / "ledger.jsonl", self.ledger.rows(self.env.now, on_board))
        write_jsonl(tel / "contacts.jsonl", [c.row() for c in sorted(self.contacts, key=lambda c: (c.aos_t_s, c.satellite, c.station))])
        write_jsonl(tel / "timeline.jsonl", [row for sat in self.sats for row in sat.timeline])

    def _run_info(self, complete: bool, wall_s: float) -> dict[str, Any]:
        craft = self.scn.spacecraft
        return {
            "scenario": self.scn.name, "seed": self.scn.seed, "start_utc": iso_utc(self.start_utc),
            "duration_s": self.duration_s, "complete": complete, "wall_time_s": round(wall_s, 3),
            "wall_stage_s": {k: round(v, 3) for k, v in sorted(self.wall_stage_s.items())},
            "satellites": self.names, "stations": [g.name for g in self.stations],
            "warnings": list(self.scn.warnings),
            "element_sets": [{"satellite": s.name, "title": s.orbit.title,
                              "epoch_utc": iso_utc(orbit.tle_epoch_utc(satrec))}
                             for s, satrec in zip(self.scn.satellites, self.ephemeris.satrecs) if s.orbit.tle is not None],
            "bands": list(craft.camera.bands), "pipeline": self.pipeline.names, "hardware": self.profile.name,
            "stages": [{"stage": s.name, **dataclasses.asdict(s.params)} for s in self.scn.stages],
            "model_cards": {s.name: s.model_card for s in self.pipeline.stages if s.model_card},
            "camera": {"width_px": craft.camera.width_px, "height_px": craft.camera.height_px, "gsd_m": craft.camera.gsd_m,
                       "bit_depth": craft.camera.bit_depth, "raw_frame_bytes": self.camera.raw_bytes,
                       "burst_frames": self.burst_frames, "superres_scale": self.burst_scale},
            "downlink": {"rate_mbps": craft.radio.rate_mbps, "payload_bytes_per_s": craft.radio.payload_bytes_per_s,
                         "frame_bytes": craft.radio.frame_bytes, "frame_error_rate": craft.radio.link_frame_error_rate},
            "satellite_summary": [self._sat_summary(s) for s in self.sats] if complete else [],
        }

    def _sat_summary(self, sat: Satellite) -> dict[str, Any]:
        p = sat.power
        return {"satellite": sat.name, "frames_planned": len(self.plans[sat.name]), "frames_captured": self._frames_taken[sat.name],
                "captures_skipped": dict(sorted(sat.skipped.items())), "compute_busy_s": round(sat.compute_s, 3),
                "compute_timing": self.scn.spacecraft.compute.timing, "storage_peak_bytes": int(sat.storage.peak_bytes),
                "storage_capacity_bytes": int(sat.storage.capacity_bytes),
                "compute_deferred_frames": sat.deferred_frames, "compute_deferred_s": round(sat.deferred_s, 1),
                "battery_min_soc": round(p.min_soc, 5), "brownout_s": round(p.brownout_s, 1),
                "energy_in_wh": round(p.energy_in_wh, 3), "energy_out_wh": round(p.energy_out_wh, 3),
                "energy_unmet_wh": round(p.unmet_wh, 3)}

