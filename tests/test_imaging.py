"""Imaging plans: strips of frames along the ground track, on the globe at the poles, in the target's UTM or UPS grid;
a target imaged exactly on the passes within pointing reach and in daylight (off-nadir angles from skyfield).

Distances are GeographicLib geodesics (pyproj.Geod); the polar field case runs through the real simulation, and its
mosaics are read back with rasterio (GDAL)."""

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pyproj
import pytest
import rasterio
from skyfield.api import EarthSatellite, load, wgs84
from skyfield.framelib import itrs

from app.cli import main
from onboard.orbit import elements, ephemeris, sun
from onboard.scenario.config import TargetConfig
from onboard.sim.imaging import plan_captures
from onboard.sensing.projection import UPS_SOUTH_EPSG, GridFootprint, crs_for, to_grid
from onboard.scenario.spacecraft_config import CameraConfig

DATA = Path(__file__).parent / "data"
GEOD = pyproj.Geod(ellps="WGS84")
ONE_MM = 1e-3
DURATION_S = 6 * 3600.0
CAMERA = CameraConfig(width_px=128, height_px=128, gsd_m=10.0, bands=["B", "G", "R", "NIR"], max_off_nadir_deg=40.0,
                      min_sun_elevation_deg=-10.0)


TS = load.timescale(builtin=True)  # built-in leap seconds and UT1: downloads nothing
ISS_TLE = (
    "1 25544U 98067A   19343.69339541  .00001764  00000-0  38792-4 0  9991",
    "2 25544  51.6439 211.2001 0007417  17.6667  85.6398 15.50103472202482",
)
ISS_START_UTC = dt.datetime(2019, 12, 9, 18, 0, tzinfo=dt.timezone.utc)
ANGLE_MARGIN_DEG = 0.5  # passes this close to a limit are left out of the rule checks: they may fall either way


def polar_orbit(start_utc: dt.datetime) -> ephemeris.Ephemeris:
    """A 700 km polar orbit (inclination 90.3 deg, like the field case's): over both poles every revolution."""
    return ephemeris.Ephemeris([elements.satrec_from_elements(start_utc, 700.0, inclination_deg=90.3, raan_deg=0.0)],
                           start_utc)


def centre_latlon(footprint: GridFootprint) -> tuple[float, float]:
    """(lat_deg, lon_deg) of a footprint's centre through PROJ (pyproj), not through orbitedge's projection code."""
    x_min, y_min, x_max, y_max = footprint.bounds_m
    lon, lat = pyproj.Transformer.from_crs(footprint.epsg, 4326, always_xy=True).transform((x_min + x_max) / 2,
                                                                                          (y_min + y_max) / 2)
    return float(lat), float(lon)


def distance_m(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Geodesic distance(s) in metres between points (degrees, broadcastable)."""
    lat1, lon1, lat2, lon2 = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lat1, lon1, lat2, lon2)))
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.mark.parametrize("lat_deg, lon_deg, radius_km", [
    (-90.0, 0.0, 2.0), (-90.0, 137.0, 5.0), (90.0, -45.0, 5.0),  # at a pole, with any longitude
    (-89.9, 179.99, 30.0), (85.0, -179.99, 700.0),  # strips across a pole, near the antimeridian
    (-80.0, 10.0, 50.0), (84.0, 20.0, 50.0), (83.99, 20.0, 50.0),  # on the UTM / UPS limits (Svalbard band X)
    (45.0, 6.0, 30.0),  # mid-latitudes, on a zone boundary
])
def test_strips_stay_on_the_globe_and_on_the_track(lat_deg, lon_deg, radius_km):
    start_utc = dt.datetime(2020, 12 if lat_deg < 0 else 6, 21, tzinfo=dt.timezone.utc)  # the target's summer
    target = TargetConfig(name="t", lat_deg=lat_deg, lon_deg=lon_deg, radius_km=radius_km)
    captures = plan_captures(polar_orbit(start_utc), ["sat"], [target], CAMERA, start_utc, DURATION_S)["sat"]
    assert captures, "a polar orbit passes every target within 40 deg off nadir in 6 h"
    spacing_m = CAMERA.height_px * CAMERA.gsd_m * (1 - CAMERA.forward_overlap_fraction)
    for pass_id in sorted({c.pass_id for c in captures}):
        strip = [c for c in captures if c.pass_id == pass_id]
        lat = np.array([c.lat_deg for c in strip])
        lon = np.array([c.lon_deg for c in strip])
        assert np.all(np.abs(lat) <= 90.0) and np.all(np.abs(lon) <= 180.0)
        assert {c.epsg for c in strip} == {crs_for(lat_deg, lon_deg)}
        # frames a fixed ground distance apart along the track, the middle one on the target
        assert np.abs(distance_m(lat[:-1], lon[:-1], lat[1:], lon[1:]) - spacing_m).max() < ONE_MM
        assert distance_m(lat_deg, lon_deg, lat, lon).min() < ONE_MM
        assert distance_m(lat_deg, lon_deg, lat, lon).max() <= radius_km * 1000.0 + ONE_MM
        # no further frame fits: a strip the run does not cut ends within one spacing of radius_km on both sides
        ends_m = distance_m(lat_deg, lon_deg, lat[[0, -1]], lon[[0, -1]])
        if strip[0].t_s > 60 and strip[-1].t_s < DURATION_S - 60:
            assert (ends_m > radius_km * 1000.0 - spacing_m).all()
        # each frame's grid is centred on its planned point, to within a pixel
        for c in strip:
            centre = centre_latlon(GridFootprint.centred(c.lat_deg, c.lon_deg, c.epsg, CAMERA.gsd_m, CAMERA.width_px,
                                                         CAMERA.height_px))
            assert distance_m(c.lat_deg, c.lon_deg, *centre) < CAMERA.gsd_m * math.sqrt(2) / 0.994


def test_polar_target_gets_frames_on_the_globe_and_a_ups_mosaic(tmp_path):
    """Field case H: a target at 90 S was imaged in UTM 20 000 km away and got no mosaic; now its frames are centred
    around the pole in UPS South and each pass makes a mosaic in EPSG:32761."""
    out = tmp_path / "run"
    assert main(["run", str(DATA / "edge_south_pole.yaml"), "--out", str(out), "--quiet"]) == 0
    captures = [json.loads(line) for line in (out / "telemetry" / "captures.jsonl").read_text().splitlines()]
    assert captures
    half_diagonal_m = math.hypot(128, 128) * 10.0 / 2.0 / 0.994  # UPS scale at the pole: 0.994
    for capture in captures:
        footprint = GridFootprint(**capture["footprint"])
        assert footprint.epsg == UPS_SOUTH_EPSG
        lat, lon = centre_latlon(footprint)
        assert -90.0 <= lat <= -89.9 and abs(lon) <= 180.0
        assert distance_m(-90.0, 0.0, lat, lon) <= 2000.0 + half_diagonal_m  # radius_km 2 around the pole
    report = json.loads((out / "report.json").read_text())
    assert report["mosaics"]["count"] >= 1
    pole_x_m, pole_y_m = to_grid(-90.0, 0.0, UPS_SOUTH_EPSG)
    for mosaic in report["mosaics"]["passes"]:
        with rasterio.open(out / mosaic["tif"]) as ds:
            assert ds.crs.to_epsg() == UPS_SOUTH_EPSG
            assert ds.res == (10.0, 10.0)
            left, bottom, right, top = ds.bounds
            assert left <= pole_x_m <= right and bottom <= pole_y_m <= top  # the strip runs across the pole


def test_targets_and_stations_at_the_poles_validate_with_any_longitude(capsys):
    poles = ("targets=[{name: n, lat_deg: 90, lon_deg: -180, radius_km: 5}, "
             "{name: s, lat_deg: -90, lon_deg: 137.5, radius_km: 5}]")
    station = "ground_stations=[{name: g, lat_deg: 90, lon_deg: 180, min_elevation_deg: 0}]"
    assert main(["validate", str(DATA / "edge_south_pole.yaml"), "--set", poles, "--set", station]) == 0
    assert "2 target(s)" in capsys.readouterr().out


def skyfield_off_nadir_deg(satrec, start_utc: dt.datetime, t_s: np.ndarray, lat_deg: float,
                           lon_deg: float) -> np.ndarray:
    """Angle at the satellite between geocentric nadir and a ground target at ``t_s`` (s since ``start_utc``), deg,
    from skyfield's SGP4 positions in ITRS (an outside reference for the geometry); 180 while the target is below
    the satellite's horizon (it would be seen through the Earth)."""
    position = EarthSatellite.from_satrec(satrec, TS).at(TS.from_datetime(start_utc) + np.asarray(t_s) / 86400.0)
    r_km = position.frame_xyz(itrs).km.T.reshape(-1, 3)
    ground_km = wgs84.latlon(lat_deg, lon_deg).itrs_xyz.km
    look_km = ground_km - r_km
    cosine = np.sum(-r_km * look_km, axis=-1) / (np.linalg.norm(r_km, axis=-1) * np.linalg.norm(look_km, axis=-1))
    visible = np.sum(-look_km * ground_km, axis=-1) > 0.0  # the satellite above the target's (geocentric) horizon
    return np.where(visible, np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))), 180.0)


@pytest.mark.parametrize("max_off_nadir_deg, min_sun_elevation_deg", [(45.0, 10.0), (60.0, 15.0), (40.0, -10.0)])
def test_a_target_is_imaged_exactly_on_passes_within_reach_in_daylight(max_off_nadir_deg, min_sun_elevation_deg):
    """Every pass of the ISS over a target (a minimum of the off-nadir angle by skyfield, sampled every 5 s over two
    days) within ``max_off_nadir_deg`` with the sun at least ``min_sun_elevation_deg`` over the target gets one
    strip, at that time; every other pass gets none."""
    satrec = elements.satrec_from_tle(*ISS_TLE)
    lat_deg, lon_deg, duration_s = 45.0, 6.0, 2 * 86400.0
    camera = CameraConfig(width_px=128, height_px=128, gsd_m=10.0, bands=["B", "G", "R", "NIR"],
                          max_off_nadir_deg=max_off_nadir_deg, min_sun_elevation_deg=min_sun_elevation_deg)
    target = TargetConfig(name="t", lat_deg=lat_deg, lon_deg=lon_deg, radius_km=3.0)
    captures = plan_captures(ephemeris.Ephemeris([satrec], ISS_START_UTC), ["iss"], [target], camera, ISS_START_UTC,
                             duration_s)["iss"]
    strips = {pass_id: [c for c in captures if c.pass_id == pass_id] for pass_id in {c.pass_id for c in captures}}
    t_s = np.arange(0.0, duration_s, 5.0)
    angle = skyfield_off_nadir_deg(satrec, ISS_START_UTC, t_s, lat_deg, lon_deg)
    minima = np.flatnonzero((angle[1:-1] < angle[:-2]) & (angle[1:-1] <= angle[2:])) + 1
    expected, excluded = 0, 0
    for i in minima:
        sun_deg = float(sun.sun_elevation_deg(lat_deg, lon_deg, ISS_START_UTC, t_s[i]))
        near = [s for s in strips.values() if abs(s[len(s) // 2].t_s - t_s[i]) < 30.0]
        reach, light = angle[i] - max_off_nadir_deg, sun_deg - min_sun_elevation_deg
        if abs(reach) < ANGLE_MARGIN_DEG or abs(light) < ANGLE_MARGIN_DEG:
            continue
        if reach < 0 and light > 0:
            expected += 1
            assert len(near) == 1, f"pass at {t_s[i]:.0f} s ({angle[i]:.1f} deg off nadir, sun {sun_deg:.1f} deg)"
        else:
            excluded += 1
            assert not near, f"pass at {t_s[i]:.0f} s ({angle[i]:.1f} deg off nadir, sun {sun_deg:.1f} deg)"
    assert expected >= 1 and excluded >= 1  # the family has both kinds of pass
    for strip in strips.values():
        middle = strip[len(strip) // 2]  # on the target (the strip is centred on it)
        assert distance_m(lat_deg, lon_deg, middle.lat_deg, middle.lon_deg) < ONE_MM
        theirs = float(skyfield_off_nadir_deg(satrec, ISS_START_UTC, np.array([middle.t_s]), lat_deg, lon_deg)[0])
        assert middle.off_nadir_deg == pytest.approx(theirs, abs=0.05)
        assert theirs <= max_off_nadir_deg + 0.05
        assert np.median([c.sun_elevation_deg for c in strip]) >= min_sun_elevation_deg


def test_validate_says_how_many_frames_a_pass_over_a_target_takes(capsys):
    """quickstart: 3 km strips of 256 px frames at 10 m with 10 % overlap, 2.304 km apart: 2 x floor(3 / 2.304) + 1
    = 3 frames; at 1 cm, 2.304 m apart, 2 x 1302 + 1 = 2605 (such a run crawls: validate says so before it)."""
    quickstart = str(Path(__file__).parents[1] / "scenarios" / "quickstart.yaml")
    assert main(["validate", quickstart]) == 0
    assert "12 target(s), up to 3 frame(s) a pass over one, pipeline" in capsys.readouterr().out
    assert main(["validate", quickstart, "--set", "spacecraft.camera.gsd_m=0.01"]) == 0
    assert "up to 2605 frame(s) a pass over one" in capsys.readouterr().out
