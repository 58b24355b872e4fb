"""Imaging opportunities: strips of frames over each target when it is within pointing reach and sunlit.

At each close approach of a satellite's ground track to a target, the camera points across track (within
``max_off_nadir_deg``) so that a strip of frames runs through the target centre along the ground track, from
``radius_km`` before to ``radius_km`` after it, with successive frames overlapping by ``forward_overlap_fraction``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from . import orbit
from .config import CameraConfig, TargetConfig
from .projection import epsg_code, utm_zone

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Capture:
    """One planned frame: when, where (frame centre) and why."""

    satellite: str
    pass_id: str
    target: str
    priority: int
    t_s: float
    lat_deg: float
    lon_deg: float
    epsg: int  # UTM zone of the target: every frame of a strip shares it
    sun_elevation_deg: float
    sun_azimuth_deg: float
    off_nadir_deg: float


def plan_captures(ephemeris: orbit.Ephemeris, names: list[str], targets: list[TargetConfig], camera: CameraConfig,
                  start_utc: dt.datetime, duration_s: float) -> dict[str, list[Capture]]:
    """Every frame each satellite will try to take, in time order, keyed by satellite name."""
    spacing_km = camera.height_px * camera.gsd_m / 1000 * (1 - camera.forward_overlap_fraction)
    plans: dict[str, list[Capture]] = {name: [] for name in names}
    passes: list[tuple[str, float, TargetConfig, orbit.ClosestApproach]] = []
    for target in targets:
        for approach in orbit.closest_approaches(ephemeris, names, target.lat_deg, target.lon_deg, duration_s):
            if approach.off_nadir_deg > camera.max_off_nadir_deg:
                continue
            passes.append((approach.satellite, approach.t_s, target, approach))
    index = {name: i for i, name in enumerate(names)}
    for sat, _, target, approach in sorted(passes, key=lambda p: (p[0], p[1], p[2].name)):
        n_half = int(target.radius_km // spacing_km)
        k = np.arange(-n_half, n_half + 1)
        speed_km_s = float(orbit.ground_speed_km_s(ephemeris, np.array([approach.t_s]))[index[sat], 0])
        t_s = approach.t_s + k * spacing_km / speed_km_s
        keep = (t_s >= 0) & (t_s < duration_s)
        if not keep.any():
            continue
        k, t_s = k[keep], t_s[keep]
        sun_el = orbit.sun_elevation_deg(target.lat_deg, target.lon_deg, start_utc, t_s)
        if float(np.median(sun_el)) < camera.min_sun_elevation_deg:
            continue
        sun_az = orbit.sun_azimuth_deg(target.lat_deg, target.lon_deg, start_utc, t_s)
        east_km = k * spacing_km * approach.along_track_unit_enu[0]
        north_km = k * spacing_km * approach.along_track_unit_enu[1]
        lat = target.lat_deg + np.degrees(north_km / EARTH_RADIUS_KM)
        lon = target.lon_deg + np.degrees(east_km / (EARTH_RADIUS_KM * math.cos(math.radians(target.lat_deg))))
        lon = (lon + 180.0) % 360.0 - 180.0
        zone, south = utm_zone(target.lon_deg, target.lat_deg)
        pass_id = f"{sat}-p{len({c.pass_id for c in plans[sat]}):03d}"
        plans[sat] += [
            Capture(sat, pass_id, target.name, target.priority, float(t), float(la), float(lo), epsg_code(zone, south),
                    float(el), float(az), float(approach.off_nadir_deg))
            for t, la, lo, el, az in zip(t_s, lat, lon, sun_el, sun_az)
        ]
    for sat in plans:
        plans[sat].sort(key=lambda c: c.t_s)
    return plans
