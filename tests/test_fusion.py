"""Classic fusion baselines and the learned fusion's plumbing: clear-frame means, exact shift-and-add on point-
sampled frames, a robust median, folding to and from the low-res grid, and both baselines on real bursts."""

import warnings
from datetime import datetime, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ground.image_quality import cpsnr_db
from onboard.pipeline import fusion
from onboard.sensing.burst import capture_burst
from onboard.sensing.camera import frame_footprint
from onboard.scenario.spacecraft_config import CameraConfig
from onboard.pipeline.registration import register
from onboard.sensing.world import SYNTHETIC_BANDS, SyntheticWorld

TIME_UTC = datetime(2026, 6, 21, 10, 30, tzinfo=timezone.utc)


def point_sampled(hr: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """x2 frames (K, H, W, B) whose pixel (i, j) is the high-res value in the cell shift-and-add puts it in:
    row 2 i + 1 + 2 dy (and likewise for columns), for shifts on the half-pixel grid."""
    h, w = hr.shape[0] // 2 - 2, hr.shape[1] // 2 - 2
    frames = []
    for dy, dx in shifts:
        r0, c0 = 1 + int(2 * dy), 1 + int(2 * dx)
        frames.append(hr[r0:r0 + 2 * h:2, c0:c0 + 2 * w:2])
    return np.stack(frames)


def test_bicubic_of_a_flat_burst_is_flat_and_ignores_clouds():
    lr = np.full((4, 20, 24, 3), 0.25, np.float32)
    clear = np.ones((4, 20, 24), bool)
    lr[1, 5:9, 5:9] = 0.9  # a cloud
    clear[1, 5:9, 5:9] = False
    for shifts in (None, np.array([[0, 0], [0.3, -0.2], [-0.5, 0.5], [0.1, 0.9]])):
        out = fusion.bicubic(lr, clear, 2, shifts)
        assert out.shape == (40, 48, 3)
        np.testing.assert_allclose(out, 0.25, atol=1e-6)


def test_mean_frame_falls_back_to_all_frames_where_none_is_clear():
    lr = np.stack([np.full((8, 8, 1), v, np.float32) for v in (0.1, 0.2, 0.6)])
    clear = np.ones((3, 8, 8), bool)
    clear[0, 2, 3] = False
    clear[:, 5, 5] = False
    mean = fusion.mean_frame(lr, clear)[..., 0]
    assert mean[2, 3] == pytest.approx(0.4)
    assert mean[5, 5] == pytest.approx(0.3)
    assert mean[0, 0] == pytest.approx(0.3)


def test_shift_and_add_restores_point_sampled_frames_exactly():
    hr = np.random.default_rng(0).uniform(0, 1, (44, 52, 2)).astype(np.float32)
    shifts = np.array([[0, 0], [0, 0.5], [0.5, 0], [0.5, 0.5]])
    lr = point_sampled(hr, shifts)
    fused = fusion.shift_and_add(lr, shifts, np.ones(lr.shape[:3], bool), 2)
    # every cell but the first row and column (no sample lands there: filled) holds its own high-res value
    np.testing.assert_array_equal(fused[1:, 1:], hr[1:fused.shape[0], 1:fused.shape[1]])


def test_shift_and_add_takes_the_median_of_clear_samples():
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, (10, 10, 1)).astype(np.float32)
    lr = np.stack([base, base + 0.01, base - 0.01, base + 5.0, base])  # frame 3 is corrupt
    shifts = np.zeros((5, 2))
    clear = np.ones((5, 10, 10), bool)
    clear[4] = False  # frame 4 is cloudy: without it the cell holds 4 samples
    fused, count = fusion.shift_and_add_sparse(lr, shifts, clear, 2)
    cells = fused[1::2, 1::2, 0]
    np.testing.assert_allclose(cells, base[..., 0] + 0.005, atol=1e-6)  # median of b-0.01, b, b+0.01, b+5
    assert np.all(count[1::2, 1::2] == 4) and np.all(count[0::2] == 0)
    assert np.isnan(fused[0::2]).all()


@pytest.mark.parametrize("off_px", [(0.0, -20.0), (-15.0, 0.0), (-14.0, -30.0), (200.0, 0.0)])
def test_a_frame_registered_off_the_grid_adds_no_sample(off_px):
    """A registration gone astray can put a frame beyond the burst's grid (training crashed on one: a negative
    slice end read as counted from the far side): that frame lands nowhere, and the others fuse as without it."""
    rng = np.random.default_rng(2)
    lr = rng.uniform(0, 1, (3, 12, 16, 2)).astype(np.float32)
    shifts = np.array([[0.0, 0.0], [0.5, 0.5], off_px])
    clear = np.ones(lr.shape[:3], bool)
    fused, count = fusion.shift_and_add_sparse(lr, shifts, clear, 2)
    without, count_without = fusion.shift_and_add_sparse(lr[:2], shifts[:2], clear[:2], 2)
    np.testing.assert_array_equal(fused, without)
    np.testing.assert_array_equal(count, count_without)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 7])
def test_the_median_is_numpys_nanmedian(k):
    rng = np.random.default_rng(k)
    lr = rng.uniform(0, 1, (k, 12, 14, 2)).astype(np.float32)
    clear = rng.uniform(size=(k, 12, 14)) > 0.3
    fused, count = fusion.shift_and_add_sparse(lr, np.zeros((k, 2)), clear, 2)  # all in one cell per pixel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels
        expected = np.nanmedian(np.where(clear[..., None], lr, np.nan), axis=0)
    np.testing.assert_allclose(fused[1::2, 1::2], expected, rtol=1e-6)
    np.testing.assert_array_equal(count[1::2, 1::2], clear.sum(axis=0))


class ZeroCorrection:
    """A model that never corrects: the learned fusion must then give the bicubic mean."""

    input_shape = (1, 32, 32, 12)

    def predict(self, x):
        assert x.shape == (32, 32, 12) and np.abs(x).max() <= fusion.FEATURE_CLIP
        return np.zeros((64, 64, 1), np.float32)


@pytest.fixture(scope="module")
def burst():
    spec = CameraConfig(width_px=160, height_px=160, gsd_m=10.0, bands=SYNTHETIC_BANDS)
    return capture_burst(spec, SyntheticWorld(21, 0.1), frame_footprint(spec, 45.0, 5.0), TIME_UTC, 55.0, 150.0,
                         np.random.default_rng(2))


def test_misr_without_correction_is_the_bicubic_mean(burst):
    lr, clear = burst.lr_reflectance(), ~burst.lr_cloud
    out = fusion.misr(ZeroCorrection(), lr, burst.shifts_px, clear, 2, overlap_px=8)
    np.testing.assert_allclose(out, fusion.bicubic(lr, clear, 2, burst.shifts_px), atol=1e-6)


def test_baselines_on_a_real_burst(burst):
    lr, clear = burst.lr_reflectance(), ~burst.lr_cloud
    shifts = register(lr, clear)
    truth, mask = burst.hr_truth, burst.hr_clear
    scores = [cpsnr_db(fused, truth, mask) for fused in (fusion.bicubic(lr, clear, 2),
                                                         fusion.bicubic(lr, clear, 2, shifts),
                                                         fusion.shift_and_add(lr, shifts, clear, 2))]
    assert min(scores) > 40.0


def test_shift_and_add_of_eight_512px_frames_fills_every_pixel():
    """A full-size burst (its speed: benchmarks/pipeline.py, the fusion planes' seconds per megapixel): with a
    tenth of each frame's pixels masked, every high-res pixel still gets a value from some frame."""
    rng = np.random.default_rng(3)
    lr = rng.uniform(0, 0.5, (8, 512, 512, 4)).astype(np.float32)
    clear = rng.uniform(size=(8, 512, 512)) > 0.1
    shifts = np.vstack([[0, 0], rng.uniform(-1, 1, (7, 2))])
    fused = fusion.shift_and_add(lr, shifts, clear, 2)
    assert fused.shape == (1024, 1024, 4) and not np.isnan(fused).any()


@pytest.mark.parametrize("shape_in, shape_out, scale, problem", [
    ((1, 64, 64, 12), (1, 128, 128, 1), 2, None),
    ((1, 32, 32, 27), (1, 96, 96, 1), 3, None),
    ((1, 64, 64, 12), (1, 192, 192, 1), 2, ("output (1, 128, 128, 1) (one channel, 2 times the 64 px window)",
                                           "[1, 192, 192, 1]")),
    ((1, 64, 64, 12), (1, 128, 128, 3), 2, ("output (1, 128, 128, 1) (one channel, 2 times the 64 px window)",
                                           "[1, 128, 128, 3]")),
    ((1, 64, 48, 12), (1, 128, 96, 1), 2, ("input (1, n, n, 12) at scale 2 (the planes folded by space-to-depth, "
                                          "NHWC)", "[1, 64, 48, 12]")),
    ((1, 64, 64, 12), (1, 192, 192, 1), 3, ("input (1, n, n, 27) at scale 3 (the planes folded by space-to-depth, "
                                           "NHWC)", "[1, 64, 64, 12]"))])
def test_what_keeps_a_misr_model_from_the_superres_stage_is_named(shape_in, shape_out, scale, problem):
    """The one check of the superres stage and of card init --task super-resolution."""
    assert fusion.misr_shape_problem(shape_in, shape_out, scale) == problem


@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 60), width=st.integers(1, 30), bands=st.integers(1, 6), scale=st.integers(2, 4),
       strip_rows=st.integers(1, 20), seed=st.integers(0, 2**16))
def test_a_band_upsampled_in_strips_is_that_band_of_the_whole_upsampling(height, width, bands, scale, strip_rows, seed):
    """The super-resolution stage upsamples one band at a time, in strips of rows, never all bands at the finer
    scale: bit for bit the band of upsampling them all at once (OpenCV's cubic resize of a band alone differs by an
    ulp from the same band among four, so each strip resizes its band's group of four)."""
    image = np.random.default_rng(seed).random((height, width, bands), dtype=np.float32)
    whole = fusion.upsample(image, scale)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fusion, "UPSAMPLE_STRIP_ROWS", strip_rows)
        for band in range(bands):
            np.testing.assert_array_equal(fusion.upsample_band(image, band, scale)[..., 0], whole[..., band])


@pytest.mark.parametrize("bands", [1, 2, 3, 4, 5, 6])
def test_a_band_s_registered_mean_is_the_same_made_alone(bands):
    """The super-resolution stage makes each band's mean from that band alone: the same values as among all of them,
    whatever the camera's band count (OpenCV's cubic warp of two channels gave other values than of each alone)."""
    rng = np.random.default_rng(bands)
    lr = np.cumsum(rng.random((4, 40, 50, bands), dtype=np.float32), axis=2) / np.float32(50)
    clear = rng.random((4, 40, 50)) > 0.2
    shifts = np.array([[0, 0], [0.3, -0.7], [-1.2, 0.4], [0.9, 1.1]])
    together = fusion.mean_frame(lr, clear, shifts)
    for band in range(bands):
        np.testing.assert_array_equal(fusion.mean_frame(lr[..., band:band + 1], clear, shifts)[..., 0],
                                      together[..., band])
