"""A mission run: builds the SimPy model of every satellite and station from a Scenario and writes the run directory.

Per satellite, four processes share its storage and battery: imaging (frames at planned times), compute (the
pipeline on a one-job resource, timed by the hardware profile), downlink (contact windows) and power (energy
balance and the telemetry timeline). Products reach ``RUN/downlink``, truth ``RUN/truth`` and housekeeping
``RUN/telemetry``; see the README for the layout.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import simpy
import yaml

from . import camera, hardware, imaging, orbit
from .codec import EXTENSIONS
from .config import Scenario
from .downlink import ContactLog, ProductStore, downlink
from .ledger import Ledger
from .pipeline import Context, Pipeline, Work
from .power import Power
from .projection import GridFootprint
from .storage import Item, Storage
from .world import GeoTiffWorld, SyntheticWorld, World

Progress = Callable[[float, float], None]
FRAME_READOUT_S = 0.5  # camera powered per frame: exposure, readout and write to mass memory


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
    timeline: list[dict[str, Any]] = field(default_factory=list)


class Mission:
    """Everything one run needs; ``run()`` executes it and writes the run directory."""

    def __init__(self, scenario: Scenario, run_dir: Path, progress: Progress | None = None):
        self.scn = scenario
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.env = simpy.Environment()
        self.start_utc = scenario.start_utc
        self.duration_s = scenario.duration_s
        craft = scenario.spacecraft
        self.profile = hardware.load_profile(craft.compute.hardware)
        self.camera = camera.CameraSpec(
            width_px=craft.camera.width_px, height_px=craft.camera.height_px, gsd_m=craft.camera.gsd_m,
            bands=tuple(craft.camera.bands), bit_depth=craft.camera.bit_depth, psf_sigma_px=craft.camera.psf_sigma_px,
            read_noise_dn=craft.camera.read_noise_dn, full_well_e=craft.camera.full_well_e)
        self.pipeline = Pipeline(scenario.stages, Context(
            bands=tuple(craft.camera.bands), bit_depth=craft.camera.bit_depth,
            reflectance_per_dn=self.camera.reflectance_max / self.camera.dn_max,
            cpu_relative=self.profile.cpu_relative, int8_conv_relative=self.profile.int8_conv_relative))
        self.world = make_world(scenario.world, scenario.seed, Path(scenario.source_file).parent)
        self.names = [s.name for s in scenario.satellites]
        self.ephemeris = orbit.Ephemeris([_satrec(s.orbit, self.start_utc) for s in scenario.satellites], self.start_utc)
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
                      active_loads_w={"camera": craft.camera.power_w, "radio": craft.power.radio_tx_w,
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
            raw = Item(frame_id, (frame_id,), self.camera.raw_bytes, cap.priority, "raw")
            if not sat.storage.put(raw):
                sat.skipped["storage_full"] = sat.skipped.get("storage_full", 0) + 1
                continue
            self._frames_taken[sat.name] += 1
            footprint = GridFootprint.centred(cap.lat_deg, cap.lon_deg, cap.epsg, self.camera.gsd_m,
                                              self.camera.width_px, self.camera.height_px)
            rng = np.random.default_rng([self.scn.seed, sat.index, self._frames_taken[sat.name]])
            frame = camera.capture(self.camera, self.world, footprint, self.start_utc + dt.timedelta(seconds=cap.t_s),
                                   cap.sun_elevation_deg, cap.sun_azimuth_deg, rng, frame_id, sat.name, cap.t_s)
            raw.data = (frame, cap)
            self.ledger.captured(frame_id, sat.name, cap.t_s)
            self._write_capture(frame, cap)
            sat.power.busy("camera", FRAME_READOUT_S)
            yield sat.queue.put(raw)

    def _compute(self, sat: Satellite):
        while True:
            raw = yield sat.queue.get()
            if raw not in sat.storage.items:
                continue  # evicted while queued: already dropped in the ledger
            yield from sat.power.wait_until_powered()
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
            np.savez_compressed(self.run_dir / "evaluation" / f"{frame.frame_id}.npz", **work.evaluation)
        self.ledger.processed(frame.frame_id, len(work.tiles), [reason for _, reason in work.dropped])
        for idx, tile in enumerate(work.tiles):
            line = self._manifest_line(frame, cap, tile, idx, work.stages)
            self.products.stage(line, tile.payload)
            item = Item(line["id"], (frame.frame_id,), line["bytes"], tile.priority, "product", data=line)
            if not sat.storage.put(item):
                self.products.discard(line)
                self.ledger.dropped(frame.frame_id, "storage_full")

    def _manifest_line(self, frame: Any, cap: imaging.Capture, tile: Any, idx: int, stages: list[str]) -> dict[str, Any]:
        h, w, n_bands = tile.dn.shape
        fp = frame.footprint
        image = tile.kind == "image"
        product_id = f"{frame.frame_id}-t{idx:02d}" if image else f"{frame.frame_id}-{tile.kind}"
        bit_depth = tile.meta.get("bit_depth", self.camera.bit_depth)
        line = {
            "id": product_id, "file": product_id + EXTENSIONS[tile.format], "satellite": frame.satellite,
            "frame_ids": [frame.frame_id], "pass_id": cap.pass_id, "target": cap.target,
            "capture_t_s": round(cap.t_s, 3), "capture_utc": iso_utc(frame.time_utc),
            "format": tile.format, "kind": tile.kind, "dtype": tile.dn.dtype.name, "bit_depth": bit_depth,
            "bands": list(tile.meta.get("bands", self.camera.bands)), "shape": [h, w, n_bands],
            "tile": {"row0": tile.row0, "col0": tile.col0, "height": h, "width": w,
                     "frame_height": self.camera.height_px, "frame_width": self.camera.width_px},
            "footprint": {"epsg": fp.epsg, "x0_m": fp.x0_m + tile.col0 * fp.gsd_m, "y0_m": fp.y0_m - tile.row0 * fp.gsd_m,
                          "gsd_m": fp.gsd_m, "width_px": w, "height_px": h},
            "raw_bytes": (h * w * n_bands * self.camera.bit_depth + 7) // 8 if image else 0,
            "stages": list(stages), "priority": tile.priority, "retransmitted_bytes": 0,
        }
        if image:
            line["reflectance_per_dn"] = self.camera.reflectance_max / self.camera.dn_max
        for key in ("cloud_fraction", "masked"):
            if key in tile.meta:
                line[key] = tile.meta[key]
        return line

    def _delivered(self, item: Item, t_s: float, station: str) -> None:
        line = dict(item.data)
        line["downlink_t_s"] = round(t_s, 3)
        line["downlink_utc"] = iso_utc(self.start_utc + dt.timedelta(seconds=t_s))
        line["station"] = station
        line["retransmitted_bytes"] = int(round(item.retransmitted_bytes))
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
        self._frames_taken = {name: 0 for name in self.names}
        info = self._run_info(complete=False, wall_s=0.0)
        _write_json(self.run_dir / "telemetry" / "run.json", info)
        for sat in self.sats:
            sat_windows = [w for w in self.windows if w.satellite == sat.name]
            self.env.process(self._imaging(sat))
            self.env.process(self._compute(sat))
            self.env.process(self._power(sat))
            self.env.process(downlink(self.env, sat_windows, self.antennas, sat.storage,
                                      self.scn.spacecraft.radio.payload_bytes_per_s, sat.power.busy,
                                      self._delivered, self.contacts))
        steps = 200
        for i in range(1, steps + 1):
            self.env.run(until=self.duration_s * i / steps)
            if self.progress:
                self.progress(self.env.now, self.duration_s)
        for sat in self.sats:
            self._sample(sat)
        self._captures.close()
        self.products.close()
        self._write_telemetry()
        info = self._run_info(complete=True, wall_s=time.perf_counter() - wall_start)
        _write_json(self.run_dir / "telemetry" / "run.json", info)
        return info

    def _write_capture(self, frame: Any, cap: imaging.Capture) -> None:
        fp = frame.footprint
        row = {"frame_id": frame.frame_id, "satellite": frame.satellite, "pass_id": cap.pass_id, "target": cap.target,
               "t_s": round(cap.t_s, 3), "utc": iso_utc(frame.time_utc), "raw_bytes": self.camera.raw_bytes,
               "footprint": {"epsg": fp.epsg, "x0_m": fp.x0_m, "y0_m": fp.y0_m, "gsd_m": fp.gsd_m,
                             "width_px": fp.width_px, "height_px": fp.height_px},
               "centre_lat_deg": round(cap.lat_deg, 6), "centre_lon_deg": round(cap.lon_deg, 6),
               "sun_elevation_deg": round(cap.sun_elevation_deg, 3), "off_nadir_deg": round(cap.off_nadir_deg, 3)}
        self._captures.write(json.dumps(row, sort_keys=True) + "\n")
        truth = frame.truth
        np.savez_compressed(self.run_dir / "truth" / f"{frame.frame_id}.npz", cloud=truth.cloud, shadow=truth.shadow,
                            landcover=truth.landcover, valid=truth.valid)

    def _write_telemetry(self) -> None:
        tel = self.run_dir / "telemetry"
        on_board: dict[str, int] = {}
        for sat in self.sats:
            for item in sat.storage.items:
                for frame_id in item.frame_ids:
                    on_board[frame_id] = on_board.get(frame_id, 0) + int(item.size_bytes - item.sent_bytes)
        _write_jsonl(tel / "ledger.jsonl", self.ledger.rows(self.env.now, on_board))
        _write_jsonl(tel / "contacts.jsonl", [c.row() for c in sorted(self.contacts, key=lambda c: (c.aos_t_s, c.satellite, c.station))])
        _write_jsonl(tel / "timeline.jsonl", [row for sat in self.sats for row in sat.timeline])

    def _run_info(self, complete: bool, wall_s: float) -> dict[str, Any]:
        craft = self.scn.spacecraft
        return {
            "scenario": self.scn.name, "seed": self.scn.seed, "start_utc": iso_utc(self.start_utc),
            "duration_s": self.duration_s, "complete": complete, "wall_time_s": round(wall_s, 3),
            "wall_stage_s": {k: round(v, 3) for k, v in sorted(self.wall_stage_s.items())},
            "satellites": self.names, "stations": [g.name for g in self.stations],
            "bands": list(craft.camera.bands), "pipeline": self.pipeline.names, "hardware": self.profile.name,
            "stages": [{"stage": s.name, **dataclasses.asdict(s.params)} for s in self.scn.stages],
            "camera": {"width_px": craft.camera.width_px, "height_px": craft.camera.height_px, "gsd_m": craft.camera.gsd_m,
                       "bit_depth": craft.camera.bit_depth, "raw_frame_bytes": self.camera.raw_bytes},
            "downlink": {"rate_mbps": craft.radio.rate_mbps, "payload_bytes_per_s": craft.radio.payload_bytes_per_s},
            "satellite_summary": [self._sat_summary(s) for s in self.sats] if complete else [],
        }

    def _sat_summary(self, sat: Satellite) -> dict[str, Any]:
        p = sat.power
        return {"satellite": sat.name, "frames_planned": len(self.plans[sat.name]), "frames_captured": self._frames_taken[sat.name],
                "captures_skipped": dict(sorted(sat.skipped.items())), "compute_busy_s": round(sat.compute_s, 3),
                "compute_timing": "projected", "storage_peak_bytes": int(sat.storage.peak_bytes),
                "storage_capacity_bytes": int(sat.storage.capacity_bytes),
                "battery_min_soc": round(p.min_soc, 5), "brownout_s": round(p.brownout_s, 1),
                "energy_in_wh": round(p.energy_in_wh, 3), "energy_out_wh": round(p.energy_out_wh, 3),
                "energy_unmet_wh": round(p.unmet_wh, 3)}


def make_world(cfg: Any, seed: int, base_dir: Path) -> World:
    """The scenario's world: the synthetic Earth, or real imagery with paths relative to the scenario file."""
    if cfg.source == "synthetic":
        return SyntheticWorld(seed=seed, mean_cloud_cover=cfg.mean_cloud_cover, cloud_height_m=cfg.cloud_height_m)
    sun = 1.0 if cfg.scene_sun_elevation_deg is None else math.sin(math.radians(cfg.scene_sun_elevation_deg))
    return GeoTiffWorld(bands={b: base_dir / p for b, p in cfg.bands.items()},
                        mask=None if cfg.mask is None else base_dir / cfg.mask,
                        dn_scale=cfg.dn_scale / sun, dn_offset=cfg.dn_offset / sun)


def _satrec(cfg: Any, start_utc: dt.datetime):
    if cfg.tle is not None:
        return orbit.satrec_from_tle(*cfg.tle)
    return orbit.satrec_from_elements(start_utc, cfg.altitude_km, cfg.inclination_deg, cfg.sun_synchronous,
                                      cfg.raan_deg, cfg.ltan_h, cfg.phase_deg, cfg.eccentricity)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)
