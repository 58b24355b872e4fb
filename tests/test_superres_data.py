"""Super-resolution training bursts: a pure function of (split, seed, count, size), the cloud data's splits, the
draw's camera and clouds, registration by the on-board code, and Landsat bursts whose truth is the scene itself."""

from __future__ import annotations

import json
import math
from datetime import datetime

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from onboard.pipeline.registration import register
from onboard.scenario.spacecraft_config import CameraConfig
from onboard.sensing.projection import epsg_code, utm_zone
from onboard.sensing.world import SYNTHETIC_BANDS
from training import cloud_data, superres_data
from training.landsat_pair import LANDSAT_BANDS, LANDSAT_DIR
from training.superres_data import RegisteredBurst, iter_bursts, make_bursts

BURST_PX = 64
COUNT = 2
SEED = 3
SEEDS = {"train": cloud_data.TRAIN_WORLD_SEEDS, "heldout": cloud_data.HELDOUT_WORLD_SEEDS}


@pytest.fixture(scope="module")
def bursts() -> dict[str, list[RegisteredBurst]]:
    return {split: make_bursts(split, COUNT, BURST_PX, SEED) for split in superres_data.SPLITS}


def same(a: RegisteredBurst, b: RegisteredBurst) -> bool:
    arrays = [(x.lr, x.clear, x.shifts_px, x.burst.lr_dn, x.burst.shifts_px, x.burst.hr_truth, x.burst.hr_clear)
              for x in (a, b)]
    return a.draw == b.draw and all(p.tobytes() == q.tobytes() for p, q in zip(*arrays))


def test_bursts_are_a_pure_function_of_their_arguments(bursts):
    again = make_bursts("train", COUNT, BURST_PX, SEED)
    assert all(same(a, b) for a, b in zip(again, bursts["train"], strict=True))
    other = make_bursts("train", COUNT, BURST_PX, SEED + 1)
    assert not any(np.array_equal(a.lr, b.lr) for a, b in zip(other, bursts["train"]))
    assert {b.draw for b in other}.isdisjoint(b.draw for b in bursts["train"])


def test_bursts_come_one_at_a_time_and_a_shorter_set_starts_a_longer_one(bursts):
    first = next(iter_bursts("heldout", 10**6, BURST_PX, SEED))  # a generator: one burst drawn, not a million
    assert same(first, bursts["heldout"][0])
    assert make_bursts("heldout", 0, BURST_PX, SEED) == []


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="Unknown split 'validation'. Choose from"):
        make_bursts("validation", 1, BURST_PX, SEED)
    with pytest.raises(ValueError, match="count must be >= 0, got -2"):
        make_bursts("train", -2, BURST_PX, SEED)


def test_shapes_dtypes_and_what_each_array_holds(bursts):
    k, h, s = superres_data.FRAMES, BURST_PX, superres_data.SCALE
    for sample in bursts["train"] + bursts["heldout"]:
        burst = sample.burst
        assert sample.lr.shape == (k, h, h, len(SYNTHETIC_BANDS)) and sample.lr.dtype == np.float32
        assert np.array_equal(sample.lr, burst.lr_reflectance())
        assert 0.0 <= sample.lr.min() and sample.lr.max() <= CameraConfig.reflectance_max
        assert sample.clear.shape == (k, h, h) and np.array_equal(sample.clear, ~burst.lr_cloud)
        assert burst.hr_truth.shape == (s * h, s * h, len(SYNTHETIC_BANDS)) and burst.hr_truth.dtype == np.float32
        assert burst.hr_clear.dtype == bool and burst.hr_clear.mean() >= superres_data.MIN_CLEAR_FRACTION
        assert burst.scale == s and burst.k == k
        # jitter uniform in [-JITTER_PX, JITTER_PX) per axis, frame 0 the reference
        assert np.all(burst.shifts_px[0] == 0) and np.abs(burst.shifts_px).max() <= superres_data.JITTER_PX


def test_shifts_are_the_on_board_registration_of_board_side_data(bursts):
    for sample in bursts["train"] + bursts["heldout"]:
        assert sample.shifts_px.shape == (superres_data.FRAMES, 2) and np.all(sample.shifts_px[0] == 0)
        assert np.array_equal(sample.shifts_px, register(sample.lr, sample.clear))


def test_each_burst_is_its_draws_camera_in_its_split(bursts):
    for split, samples in bursts.items():
        for sample in samples:
            draw, burst = sample.draw, sample.burst
            zone, south = utm_zone(draw.lon_deg, draw.lat_deg)
            assert cloud_data.in_split(split, zone) and draw.world_seed in SEEDS[split]
            assert burst.footprint_lr.epsg == epsg_code(zone, south)
            assert (burst.footprint_lr.gsd_m, burst.footprint_lr.width_px) == (draw.gsd_m, BURST_PX)
            assert burst.spec == superres_data.camera_spec(draw, BURST_PX)
            assert burst.psf_sigma_lr_px == draw.psf_sigma_lr_px
            assert (burst.spec.read_noise_dn, burst.spec.full_well_e, burst.spec.bit_depth) == (
                draw.read_noise_dn, draw.full_well_e, cloud_data.BIT_DEPTH)
            ranges = {"gsd_m": superres_data.GSD_RANGE_M, "psf_sigma_lr_px": superres_data.PSF_SIGMA_RANGE_PX,
                      "mean_cloud_cover": superres_data.MEAN_CLOUD_COVER_RANGE,
                      "frame_cloud_cover": superres_data.FRAME_CLOUD_COVER_RANGE,
                      "cloud_drift_px": superres_data.CLOUD_DRIFT_RANGE_PX,
                      "read_noise_dn": cloud_data.READ_NOISE_RANGE_DN, "full_well_e": cloud_data.FULL_WELL_RANGE_E}
            for field, (low, high) in ranges.items():
                assert low <= getattr(draw, field) <= high, field
            assert draw.sun_elevation_deg >= cloud_data.MIN_SUN_ELEVATION_DEG


def test_a_draw_as_json(bursts):
    draw = bursts["train"][0].draw
    record = json.loads(json.dumps(draw.to_json()))
    assert datetime.strptime(record.pop("time_utc"), "%Y-%m-%dT%H:%M:%S%z") == draw.time_utc
    assert record == {name: value for name, value in vars(draw).items() if name != "time_utc"}


@pytest.mark.skipif(not LANDSAT_DIR.is_dir(), reason=f"no Landsat pair at {LANDSAT_DIR}")
def test_a_landsat_bursts_truth_is_the_scenes_own_pixels():
    scene, row0, col0 = superres_data.LANDSAT_CROPS[1]
    size_px = 24
    sample = superres_data.landsat_burst(scene, row0, col0, size_px, np.random.default_rng(4))
    truth_px = superres_data.SCALE * size_px
    gain = 1.0 / math.sin(math.radians(superres_data.LANDSAT_SUN_ELEVATION_DEG))
    expected = []
    for number in LANDSAT_BANDS.values():
        with rasterio.open(LANDSAT_DIR / f"{scene}_B{number}.TIF") as ds:
            dn = ds.read(1, window=Window(col0, row0, truth_px, truth_px)).astype(np.float64)
        expected.append((2e-5 * dn - 0.1) * gain)  # Collection 1 rescaling, sun-corrected
    assert sample.draw is None
    assert sample.burst.hr_truth.shape == (truth_px, truth_px, 3)
    np.testing.assert_allclose(sample.burst.hr_truth, np.stack(expected, axis=-1), atol=1e-6)  # reflectance
    assert sample.lr.shape == (superres_data.FRAMES, size_px, size_px, 3)
    assert sample.burst.spec.gsd_m == superres_data.SCALE * superres_data.LANDSAT_GSD_M
    assert np.array_equal(sample.shifts_px, register(sample.lr, sample.clear))
