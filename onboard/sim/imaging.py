"""Imaging opportunities: strips of frames over each target when it is within pointing reach and sunlit.

At each close approach of a satellite's ground track to a target, the camera points across track (within
``max_off_nadir_deg``) so that a strip of frames runs through the target centre along the ground track, from
``radius_km`` before to ``radius_km`` after it, with successive frames overlapping by ``forward_overlap_fraction``.
Frame centres lie on the geodesic through the target along the ground track (GeographicLib's direct problem,
Karney 2013, J. Geodesy 87, 43, through :class:`pyproj.Geod`), so a strip stays on the globe across a pole, and
every frame of a strip shares the target's grid (:func:`~onboard.sensing.projection.crs_for`: UTM, or UPS at the poles).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pyproj

from ..constants import WGS84_A_KM, WGS84_F
from ..scenario.config import TargetConfig
from ..scenario.spacecraft_config import CameraConfig
from ..orbit.ephemeris import Ephemeris, ground_speed_km_s
from ..orbit.passes import ClosestApproach, closest_approaches
from ..sensing.projection import crs_for
from ..orbit.sun import sun_azimuth_deg, sun_elevation_deg

_WGS84 = pyproj.Geod(a=WGS84_A_KM * 1e3, f=WGS84_F)  # the ellipsoid of onboard.constants


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
    epsg: int  # grid of the target (UTM zone or UPS, see projection.crs_for): every frame of a strip shares it
    sun_elevation_deg: float
    sun_azimuth_deg: float
    off_nadir_deg: float


def frame_spacing_km(camera: CameraConfig) -> float:
    """Along-track distance between the centres of a strip's frames, km: the frame's height at ``gsd_m`` less the
    forward overlap."""
    return camera.height_px * camera.gsd_m / 1000 * (1 - camera.forward_overlap_fraction)


def strip_frames(camera: CameraConfig, radius_km: float) -> int:
    """Frames in one strip over a target of ``radius_km``: centred on it and every :func:`frame_spacing_km` up to
    ``radius_km`` before and after it (those past the run's ends are not taken)."""
    return 2 * int(radius_km // frame_spacing_km(camera)) + 1


def plan_captures(ephemeris: Ephemeris, names: list[str], targets: list[TargetConfig], camera: CameraConfig,
                  start_utc: dt.datetime, duration_s: float) -> dict[str, list[Capture]]:
    """Every frame each satellite will try to take, in time order, keyed by satellite name."""
    spacing_km = frame_spacing_km(camera)
    plans: dict[str, list[Capture]] = {name: [] for name in names}
    passes: list[tuple[str, float, TargetConfig, ClosestApproach]] = []
    for target in targets:
        for approach in closest_approaches(ephemeris, names, target.lat_deg, target.lon_deg, duration_s):
            if approach.off_nadir_deg > camera.max_off_nadir_deg:
                continue
            passes.append((approach.satellite, approach.t_s, target, approach))
    index = {name: i for i, name in enumerate(names)}
    for sat, _, target, approach in sorted(passes, key=lambda p: (p[0], p[1], p[2].name)):
        n_half = strip_frames(camera, target.radius_km) // 2
        k = np.arange(-n_half, n_half + 1)
        speed_km_s = float(ground_speed_km_s(ephemeris, np.array([approach.t_s]))[index[sat], 0])
        t_s = approach.t_s + k * spacing_km / speed_km_s
        keep = (t_s >= 0) & (t_s < duration_s)
        if not keep.any():
            continue
        k, t_s = k[keep], t_s[keep]
        sun_el = sun_elevation_deg(target.lat_deg, target.lon_deg, start_utc, t_s)
        if float(np.median(sun_el)) < camera.min_sun_elevation_deg:
            continue
        sun_az = sun_azimuth_deg(target.lat_deg, target.lon_deg, start_utc, t_s)
        # Azimuth of the track at the target, clockwise from north; at a pole, north is along the target's meridian
        # in both the ENU basis of passes.closest_approaches and GeographicLib.
        azimuth_deg = math.degrees(math.atan2(*approach.along_track_unit_enu))
        lon, lat, _ = _WGS84.fwd(np.full(k.size, target.lon_deg), np.full(k.size, target.lat_deg),
                                 np.full(k.size, azimuth_deg), k * spacing_km * 1000.0)
        epsg = crs_for(target.lat_deg, target.lon_deg)
        pass_id = f"{sat}-p{len({c.pass_id for c in plans[sat]}):03d}"
        plans[sat] += [
            Capture(sat, pass_id, target.name, target.priority, float(t), float(la), float(lo), epsg,
                    float(el), float(az), float(approach.off_nadir_deg))
            for t, la, lo, el, az in zip(t_s, lat, lon, sun_el, sun_az)
        ]
    for sat in plans:
        plans[sat].sort(key=lambda c: c.t_s)
    return plans
