"""Classic fusion baselines and the learned fusion's plumbing: clear-frame means, exact shift-and-add on point-
sampled frames, a robust median, folding to and from the low-res grid, and both baselines on real bursts."""

import subprocess
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ground.image_quality import cpsnr_db
from onboard.pipeline import fusion
from onboard.pipeline.tiling import predict_tiled
from onboard.sensing.burst import capture_burst
from onboard.sensing.camera import frame_footprint
from onboard.scenario.spacecraft_config import CameraConfig
from onboard.pipeline.registration import register
from onboard.sensing.world import SYNTHETIC_BANDS, SyntheticWorld

ROOT = Path(__file__).resolve().parents[1]
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


MEAN_OF_A_LINE = """
import sys
import numpy as np
from onboard.pipeline import fusion
heap = [np.random.default_rng(0).random(int(sys.argv[1]))]  # another heap in each process
rng = np.random.default_rng(7)
for shape in [(1, n) for n in range(4, 24)] + [(n, 1) for n in range(4, 24)]:
    lr = rng.random((2, *shape, 1)).astype(np.float32)
    clear = rng.random((1, *shape)) < 0.6
    clear[0, 0, 0] = True
    clear.flat[-1] = False
    sys.stdout.write(fusion.mean_frame(lr, np.repeat(clear, 2, axis=0))[..., 0].tobytes().hex() + "\\n")
"""


def test_a_mean_one_pixel_high_or_wide_is_inpainted_the_same_in_every_process():
    """OpenCV's inpaint read memory it never wrote on a 1 x N image: NaN or other values in another process."""
    runs = [subprocess.run([sys.executable, "-c", MEAN_OF_A_LINE, str(n)], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout for n in (1, 1000, 300_000, 3_000_001)]
    assert len(set(runs)) == 1
    for line in runs[0].split():
        values = np.frombuffer(bytes.fromhex(line), np.float32)
        assert np.isfinite(values).all() and 0.0 <= values.min() and values.max() <= 1.0


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


@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 40), first=st.integers(0, 39), n=st.integers(1, 40), scale=st.integers(2, 4),
       seed=st.integers(0, 2**16))
def test_rows_of_a_band_upsampled_are_those_rows_of_the_whole_band(height, first, n, scale, seed):
    """The stage upsamples a band's mean a run of rows at a time, as its fusion planes and products are made: the
    same values as those rows of the whole band."""
    first = min(first, height - 1)
    last = min(height, first + n)
    image = np.random.default_rng(seed).random((height, 9, 5), dtype=np.float32)
    whole = fusion.upsample(image, scale)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fusion, "UPSAMPLE_STRIP_ROWS", 7)
        for band in (0, 4):
            np.testing.assert_array_equal(fusion.upsample_band(image, band, scale, (first, last))[..., 0],
                                          whole[first * scale:last * scale, :, band])


def _random_burst(seed: int, k: int, h: int, w: int, bands: int = 1):
    rng = np.random.default_rng(seed)
    dn = rng.integers(0, 4096, (k, h, w, bands)).astype(np.uint16)
    clear = rng.random((k, h, w)) > 0.2
    clear[:, : h // 3, : w // 3] = False  # a hole no frame sees: inpainted
    shifts = np.vstack([[0.0, 0.0], rng.uniform(-2.5, 2.5, (k - 1, 2))])
    return dn, clear, shifts


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), k=st.integers(1, 6), h=st.integers(1, 30), first=st.integers(0, 29),
       n=st.integers(1, 30), scale=st.integers(2, 3))
def test_shift_and_add_of_some_rows_reads_dn_as_needed_and_gives_those_rows(seed, k, h, first, n, scale):
    """Shift-and-add of a run of low-res rows, reading the burst's DN through a calibration as it goes, is those
    rows of shift-and-add on the whole burst as reflectance (frames shifted off those rows, or off the grid, too)."""
    dn, clear, shifts = _random_burst(seed, k, h, 11, 2)
    first = min(first, h - 1)
    last = min(h, first + n)
    gain = np.float32(1.2 / 4095)
    fused, count = fusion.shift_and_add_sparse(dn.astype(np.float32) * gain, shifts, clear, scale)
    part, part_count = fusion.shift_and_add_sparse(dn, shifts, clear, scale, (first, last),
                                                   lambda d: d.astype(np.float32) * gain)
    np.testing.assert_array_equal(part, fused[first * scale:last * scale])
    np.testing.assert_array_equal(part_count, count[first * scale:last * scale])


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), h=st.integers(2, 40), block_rows=st.integers(1, 12), scale=st.integers(2, 3),
       reads=st.lists(st.tuples(st.integers(-10, 90), st.integers(1, 40), st.booleans()), min_size=1, max_size=6))
def test_band_planes_made_block_by_block_are_the_planes_of_the_whole_band(seed, h, block_rows, scale, reads):
    """The stage reads a band's fusion planes as the model's windows do, a row of windows at a time, reflected past
    the frame's edges, and the planes are made a block of rows at a time as they are read: whatever is read is the
    same as those rows of :func:`fusion.misr_planes`, and each block is handed on (``on_block``) once, in order."""
    dn, clear, shifts = _random_burst(seed, 5, h, 13)
    gain = np.float32(1.0 / 4095)
    lr = dn.astype(np.float32) * gain
    whole = fusion.misr_planes(lr, shifts, clear, scale)[0]
    seen = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fusion, "PLANES_BLOCK_ROWS", block_rows)
        planes = fusion.BandPlanes(dn, shifts, clear, scale, fusion.mean_frame(lr, clear, shifts), 0,
                                   lambda d: d.astype(np.float32) * gain, lambda row0, p: seen.append((row0, p)))
        assert planes.shape == whole.shape
        for start, length, as_slice in reads:
            start = min(start, h * scale - 1) if as_slice else start
            if as_slice:
                rows = slice(max(start, 0), min(h * scale, max(start, 0) + length))
                got, expected = planes[rows], whole[rows]
            else:  # reflected as np.pad's "reflect" does, as predict_tiled reads the frame's edges
                index = np.abs(np.arange(start, start + length)) % max(2 * (h * scale - 1), 1)
                index = np.where(index < h * scale, index, 2 * (h * scale - 1) - index)
                got, expected = planes[index], whole[index]
            np.testing.assert_array_equal(got, expected)
            assert got.flags.c_contiguous
        planes.blocks()
    assert [row0 for row0, _ in seen] == list(range(0, h, block_rows))  # each block once, in order
    np.testing.assert_array_equal(np.concatenate([p for _, p in seen]), whole)


class Doubling:
    """A stand-in MISR model whose correction is a fixed function of its input window."""

    def __init__(self, factor: float):
        self.input_shape, self.factor = (1, 8, 8, 12), np.float32(factor)

    def predict(self, x):
        return np.repeat(np.repeat(x[..., :1], 2, 0), 2, 1) * self.factor


def test_models_fused_in_one_pass_from_planes_made_as_read_are_each_model_alone():
    """The stage runs its model and, for the report, the model's float32 twin in one pass of windows over planes
    made as the windows read them: each gives what it gives alone on the whole planes."""
    dn, clear, shifts = _random_burst(5, 4, 37, 29)
    lr = dn.astype(np.float32) / np.float32(4095)
    whole = fusion.misr_planes(lr, shifts, clear, 2)[0]
    models = [Doubling(0.1), Doubling(-0.3)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fusion, "PLANES_BLOCK_ROWS", 5)
        made = fusion.BandPlanes(dn, shifts, clear, 2, fusion.mean_frame(lr, clear, shifts), 0,
                                 lambda d: d.astype(np.float32) / np.float32(4095))
        together = fusion.misr_from_planes(models, made, 2, overlap_px=4)
    assert together.shape == whole.shape[:2] + (2,)
    for i, model in enumerate(models):
        alone = fusion.misr_from_planes([model], whole, 2, overlap_px=4)
        np.testing.assert_array_equal(together[..., i], alone[..., 0])
    zero = fusion.misr_from_planes([Doubling(0.0)], whole, 2, overlap_px=4)
    np.testing.assert_array_equal(zero[..., 0], whole[..., 0])  # no correction: the registered bicubic mean


class Float64Correction:
    """A predictor (a Keras model during training, say) that gives float64."""

    input_shape = (1, 8, 8, 12)

    def predict(self, x):
        return np.repeat(np.repeat(x[..., :1], 2, 0), 2, 1).astype(np.float64) * 0.1


def test_the_learned_fusion_is_float32_whatever_the_predictor_gives():
    """The fusion is float32 (as :func:`fusion.misr` documents), each window's sum rounded once: what the stitched
    float64 sum rounds to."""
    dn, clear, shifts = _random_burst(9, 3, 20, 17)
    lr = dn.astype(np.float32) / np.float32(4095)
    planes = fusion.misr_planes(lr, shifts, clear, 2)[0]
    out = fusion.misr_from_planes([Float64Correction()], planes, 2, overlap_px=2)
    assert out.dtype == np.float32 and fusion.misr(Float64Correction(), lr, shifts, clear, 2, 2).dtype == np.float32

    def correction(window):
        x, sigma = fusion.standardise(window, 2)
        return Float64Correction().predict(x) * np.float32(sigma)

    stitched = predict_tiled(planes, correction, 8, 2, 2, fold=2)  # float64
    np.testing.assert_array_equal(out[..., 0], (planes[..., 0] + stitched[..., 0]).astype(np.float32))
