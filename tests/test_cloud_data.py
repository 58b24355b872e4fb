"""Cloud training frames: a pure function of (split, seed, count, size), splits apart in zones and world seeds,
TOA reflectance through the real camera, and labels that are the world's own cloud truth (shadows are not cloud)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onboard.orbit import sun
from onboard.scenario.spacecraft_config import CameraConfig
from onboard.sensing import camera
from onboard.sensing.projection import GridFootprint, epsg_code, utm_zone
from rundir.truth import CLOUD_CLEAR, CLOUD_THICK, CLOUD_THIN, LANDCOVER_CLASSES
from onboard.sensing.world import SYNTHETIC_BANDS, SyntheticWorld
from training import cloud_data
from training.cloud_data import CloudFrames, make_frames

FRAME_PX = 48
COUNT = 4
SEED = 3
ONE_SECOND_H = 1.0 / 3600.0


@pytest.fixture(scope="module")
def frames() -> dict[str, CloudFrames]:
    return {split: make_frames(split, COUNT, FRAME_PX, SEED) for split in cloud_data.SPLITS}


def same(a: CloudFrames, b: CloudFrames) -> bool:
    return (a.toa.tobytes() == b.toa.tobytes() and a.cloud.tobytes() == b.cloud.tobytes()
            and a.landcover.tobytes() == b.landcover.tobytes() and a.draws == b.draws)


def test_frames_are_a_pure_function_of_their_arguments(frames):
    assert same(make_frames("train", COUNT, FRAME_PX, SEED), frames["train"])
    other_seed = make_frames("train", COUNT, FRAME_PX, SEED + 1)
    assert not np.array_equal(other_seed.toa, frames["train"].toa)
    assert not {d.world_seed for d in other_seed.draws} & {d.world_seed for d in frames["train"].draws}


def test_a_shorter_set_is_the_start_of_a_longer_one(frames):
    shorter = make_frames("heldout", 2, FRAME_PX, SEED)
    longer = frames["heldout"]
    assert same(shorter, CloudFrames(longer.toa[:2], longer.cloud[:2], longer.landcover[:2], longer.draws[:2]))


def test_shapes_dtypes_and_value_ranges(frames):
    for split, f in frames.items():
        assert f.toa.shape == (COUNT, FRAME_PX, FRAME_PX, len(SYNTHETIC_BANDS)) and f.toa.dtype == np.float16
        assert f.cloud.shape == f.landcover.shape == (COUNT, FRAME_PX, FRAME_PX)
        assert f.cloud.dtype == f.landcover.dtype == np.uint8 and len(f.draws) == COUNT
        assert np.isfinite(f.toa).all() and f.toa.min() >= 0.0
        assert f.toa.max() <= np.float16(CameraConfig.reflectance_max)  # the DN range calibrated back
        assert set(np.unique(f.cloud)) <= {CLOUD_CLEAR, CLOUD_THIN, CLOUD_THICK}
        assert f.landcover.max() < len(LANDCOVER_CLASSES)
        assert f.label.dtype == bool and np.array_equal(f.label, f.cloud != CLOUD_CLEAR)


def test_no_frames_and_bad_arguments():
    empty = make_frames("train", 0, FRAME_PX, SEED)
    assert empty.toa.shape == (0, FRAME_PX, FRAME_PX, 4) and empty.cloud.shape == (0, FRAME_PX, FRAME_PX)
    assert empty.draws == []
    with pytest.raises(ValueError, match="Unknown split 'validation'. Choose from"):
        make_frames("validation", 1, FRAME_PX, SEED)
    with pytest.raises(ValueError, match="count must be >= 0, got -1"):
        make_frames("train", -1, FRAME_PX, SEED)
    with pytest.raises(ValueError, match="Unknown split"):
        cloud_data.in_split("test", 3)


def test_the_splits_share_neither_zones_nor_world_seeds(frames):
    heldout = {zone for zone in range(1, 61) if cloud_data.in_split("heldout", zone)}
    train = {zone for zone in range(1, 61) if cloud_data.in_split("train", zone)}
    assert heldout == set(range(3, 58, 6)) == cloud_data.HELDOUT_ZONES and len(heldout) == 10
    assert train == set(range(1, 61)) - heldout
    seeds = {"train": cloud_data.TRAIN_WORLD_SEEDS, "heldout": cloud_data.HELDOUT_WORLD_SEEDS}
    assert not set(seeds["train"]) & set(seeds["heldout"])
    for split, f in frames.items():
        for draw in f.draws:
            assert cloud_data.in_split(split, utm_zone(draw.lon_deg, draw.lat_deg)[0])
            assert draw.world_seed in seeds[split]


def test_draws_lie_in_their_documented_ranges(frames):
    ranges = {"mean_cloud_cover": cloud_data.MEAN_CLOUD_COVER_RANGE, "cirrus_share": cloud_data.CIRRUS_SHARE_RANGE,
              "deck_share": cloud_data.DECK_SHARE_RANGE, "cloud_height_m": cloud_data.CLOUD_HEIGHT_RANGE_M,
              "gsd_m": cloud_data.GSD_RANGE_M, "psf_sigma_px": cloud_data.PSF_SIGMA_RANGE_PX,
              "read_noise_dn": cloud_data.READ_NOISE_RANGE_DN, "full_well_e": cloud_data.FULL_WELL_RANGE_E,
              "lat_deg": cloud_data.LATITUDE_RANGE_DEG}
    for f in frames.values():
        for draw in f.draws:
            for field, (low, high) in ranges.items():
                assert low <= getattr(draw, field) <= high, field
            assert draw.gsd_m == round(draw.gsd_m, 1)  # to 0.1 m, as the cards give it
            assert draw.sun_elevation_deg >= cloud_data.MIN_SUN_ELEVATION_DEG


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(cloud_data.SPLITS), st.integers(0, 2**32))
def test_a_sunlit_place_is_in_its_split_by_day_in_the_sun(split, seed):
    lat, lon, time_utc, elevation = cloud_data.draw_sunlit_place(split, np.random.default_rng(seed))
    assert cloud_data.in_split(split, utm_zone(lon, lat)[0])
    assert cloud_data.LATITUDE_RANGE_DEG[0] <= lat <= cloud_data.LATITUDE_RANGE_DEG[1]
    assert elevation >= cloud_data.MIN_SUN_ELEVATION_DEG
    assert elevation == pytest.approx(float(sun.sun_elevation_deg(lat, lon, time_utc, 0.0)), abs=1e-9)
    start = cloud_data.YEAR_START_UTC
    assert start - timedelta(hours=12) <= time_utc < start + timedelta(days=365, hours=12)
    local_h = ((time_utc - start).total_seconds() / 3600.0 + lon / 15.0) % 24.0  # local mean solar time
    low, high = cloud_data.LOCAL_SOLAR_TIME_RANGE_H
    assert low - ONE_SECOND_H <= local_h <= high + ONE_SECOND_H


def test_each_frame_is_its_draw_seen_by_the_camera_with_the_world_truth_as_label(frames):
    """Re-image every draw: the stored truth is the world's, the label is thin or thick cloud and not shadow, and
    the TOA reflectance is the scene's own (band order B, G, R, NIR) up to the PSF and noise."""
    shadow_not_cloud_px = 0
    for f in frames.values():
        for k, draw in enumerate(f.draws):
            world = SyntheticWorld(draw.world_seed, draw.mean_cloud_cover, cloud_height_m=draw.cloud_height_m,
                                   cirrus_share=draw.cirrus_share, deck_share=draw.deck_share)
            zone, south = utm_zone(draw.lon_deg, draw.lat_deg)
            footprint = GridFootprint.centred(draw.lat_deg, draw.lon_deg, epsg_code(zone, south), draw.gsd_m,
                                              FRAME_PX, FRAME_PX)
            spec = cloud_data.camera_spec(draw, FRAME_PX)
            truth = camera.capture(spec, world, footprint, draw.time_utc, draw.sun_elevation_deg,
                                   draw.sun_azimuth_deg, np.random.default_rng(0), "t", "t", 0.0).truth
            assert np.array_equal(f.cloud[k], truth.cloud) and np.array_equal(f.landcover[k], truth.landcover)
            assert np.array_equal(f.label[k], np.isin(truth.cloud, (CLOUD_THIN, CLOUD_THICK)))
            shadow_not_cloud_px += int((truth.shadow & ~f.label[k]).sum())
            error = np.abs(f.toa[k].astype(np.float32) - truth.reflectance)
            assert np.median(error) < 0.01  # TOA reflectance; blur and noise aside
    assert shadow_not_cloud_px > 0  # shadowed ground was there, and labelled clear


def test_camera_spec_is_the_draws_camera(frames):
    draw = frames["train"].draws[0]
    spec = cloud_data.camera_spec(draw, FRAME_PX)
    assert (spec.width_px, spec.height_px, spec.gsd_m, spec.bands) == (FRAME_PX, FRAME_PX, draw.gsd_m,
                                                                       SYNTHETIC_BANDS)
    assert (spec.bit_depth, spec.psf_sigma_px, spec.read_noise_dn, spec.full_well_e) == (
        cloud_data.BIT_DEPTH, draw.psf_sigma_px, draw.read_noise_dn, draw.full_well_e)


def test_bands_picks_names_in_the_order_given(frames):
    f = frames["train"]
    assert np.array_equal(f.bands(("NIR", "B")), f.toa[..., [3, 0]])
    assert np.array_equal(f.bands(("R",), np.array([2, 0])), f.toa[[2, 0]][..., [2]])
    assert np.array_equal(f.bands(SYNTHETIC_BANDS, slice(1, 3)), f.toa[1:3])
