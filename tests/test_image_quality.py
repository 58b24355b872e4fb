"""ground.image_quality: cPSNR and SSIM against hand-computed cases: a known bias is removed exactly, a known whole-
pixel shift is found, masked pixels do not count, the border and offset range follow the PROBA-V definition,
and SSIM of an image with itself is 1; the registration error is the RMS distance of the shifts. Both scores
are made in strips of rows: the same scores as made whole, in a few planes' memory."""

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ground import image_quality
from ground.image_quality import _offset_search, _window_sums, cpsnr, cpsnr_db, registration_error_px, ssim

ONE_MILLI_DB = 1e-3
EXACT_DB = 250.0  # a cMSE below 1e-25: zero up to float64 rounding


def scene(shape=(64, 64), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 0.5, shape)


def test_a_constant_bias_is_removed_exactly():
    hr = scene()
    score = cpsnr(hr + 0.123, hr)
    assert score.db > EXACT_DB
    assert score.shift_px == (0, 0)
    assert score.bias == pytest.approx((-0.123,), abs=1e-12)


def test_hand_computed_value():
    # Error +e on half the pixels and -e on the other half: the bias is 0, the cMSE e^2.
    hr = scene((40, 40))
    error = np.where(np.arange(40) % 2 == 0, 0.01, -0.01)[None, :] * np.ones((40, 1))
    # Offsets by a whole pixel would mismatch the random scene far more, so offset 0 wins.
    assert cpsnr_db(hr + error + 0.05, hr) == pytest.approx(10 * math.log10(1 / 0.01**2), abs=ONE_MILLI_DB)


def test_data_range_scales_the_peak():
    hr = scene((40, 40), 1)
    sr = hr + np.random.default_rng(2).normal(0, 0.01, hr.shape)
    assert cpsnr_db(sr, hr, data_range=2.0) - cpsnr_db(sr, hr) == pytest.approx(20 * math.log10(2.0), abs=1e-9)


@pytest.mark.parametrize("dy,dx", [(2, -1), (-3, 3), (0, 1), (3, 0)])
def test_a_whole_pixel_shift_is_found(dy, dx):
    hr = scene((80, 80), 3)
    # SR pixel (i, j) shows truth pixel (i + dy, j + dx): the truth window must move by (dy, dx).
    sr = np.roll(hr, (-dy, -dx), axis=(0, 1)) + 0.02
    score = cpsnr(sr, hr)
    assert score.shift_px == (dy, dx)
    assert score.db > EXACT_DB  # the border crop keeps the wrapped-around rows and columns out


def test_shifts_beyond_the_range_are_not_searched():
    hr = scene((80, 80), 4)
    sr = np.roll(hr, (4, 0), axis=(0, 1))
    assert cpsnr_db(sr, hr) < 20.0
    assert cpsnr_db(sr, hr, border_px=4, max_shift_px=4) == math.inf


def test_border_must_cover_the_shift_range():
    with pytest.raises(ValueError, match="max_shift_px"):
        cpsnr(scene(), scene(), border_px=2, max_shift_px=3)


def test_masked_pixels_do_not_count():
    hr = scene((64, 64), 5)
    sr = hr.copy()
    sr[20:30, 20:30] = 1.0  # a cloud the SR kept
    clear = np.ones(hr.shape, bool)
    clear[17:33, 17:33] = False  # the cloud and a margin wider than the +-3 px offsets
    assert cpsnr_db(sr, hr, clear) == math.inf
    assert cpsnr_db(sr, hr) < 30.0
    noisy = sr + np.random.default_rng(6).normal(0, 0.01, hr.shape) * clear
    assert cpsnr_db(noisy, hr, clear) == pytest.approx(40.0, abs=0.3)


def test_no_clear_pixel_gives_nan():
    assert math.isnan(cpsnr_db(scene(), scene(), np.zeros((64, 64), bool)))


def test_multiband_has_a_bias_per_band_and_pools_the_error():
    hr = scene((48, 48, 3), 7)
    rng = np.random.default_rng(8)
    errors = rng.normal(0, [0.01, 0.02, 0.03], hr.shape)
    errors -= errors[3:-3, 3:-3].mean(axis=(0, 1))  # zero mean over the scored core
    sr = hr + errors + np.array([0.1, -0.2, 0.3])
    score = cpsnr(sr, hr)
    expected = np.mean(errors[3:-3, 3:-3] ** 2)
    assert score.bias == pytest.approx((-0.1, 0.2, -0.3), abs=1e-12)
    assert score.db == pytest.approx(10 * math.log10(1 / expected), abs=ONE_MILLI_DB)


@settings(max_examples=25, deadline=None)
@given(st.floats(-0.5, 0.5), st.integers(0, 2**31))
def test_cpsnr_ignores_any_bias(bias, seed):
    hr = scene((32, 32), seed % 1000)
    sr = hr + np.random.default_rng(seed).normal(0, 0.01, hr.shape)
    assert cpsnr_db(sr + bias, hr) == pytest.approx(cpsnr_db(sr, hr), abs=ONE_MILLI_DB)


def test_ssim_of_identical_images_is_one():
    hr = scene((48, 48, 4), 9)
    assert ssim(hr, hr) == pytest.approx(1.0, abs=1e-12)


def test_ssim_of_constant_images():
    # Flat windows: SSIM = (2 mx my + C1) / (mx^2 + my^2 + C1), C1 = (0.01 * 1)^2.
    c1 = 0.01**2
    expected = (2 * 0.2 * 0.3 + c1) / (0.2**2 + 0.3**2 + c1)
    assert ssim(np.full((32, 32), 0.2), np.full((32, 32), 0.3)) == pytest.approx(expected, abs=1e-9)


def test_ssim_drops_with_noise_and_respects_the_mask():
    hr = scene((64, 64), 10)
    noise = np.random.default_rng(11).normal(0, 1.0, hr.shape)
    noisy = hr + 0.05 * noise
    assert ssim(hr + 0.1 * noise, hr) < ssim(noisy, hr) < 0.95
    mask = np.zeros(hr.shape, bool)
    mask[:, :32] = True
    half = hr.copy()
    half[:, 40:] = noisy[:, 40:]  # beyond the mask and its 5 px window radius
    assert ssim(half, hr, mask) == pytest.approx(1.0, abs=1e-12)


@given(st.integers(0, 2**31), st.floats(0.0, 1.0))
def test_ssim_over_a_mask_never_sees_what_lies_outside_it(seed, fill):
    """A product with holes (fill where a cloud filter dropped its tiles, or anything else) scores what the same
    image without them scores over the same mask: the windows' statistics are taken over the mask's pixels alone
    (the fill once drew down the SSIM of every scored pixel within 5 px of a hole, 0.978 against 0.984)."""
    rng = np.random.default_rng(seed)
    hr = scene((48, 48, 2), seed % 1000)
    sr = hr + rng.normal(0, 0.02, hr.shape)
    mask = np.ones((48, 48), bool)
    mask[rng.integers(0, 40):, rng.integers(0, 40):][:rng.integers(1, 12), :rng.integers(1, 12)] = False
    holed = sr.copy()
    holed[~mask] = fill
    assert ssim(holed, hr, mask) == pytest.approx(ssim(sr, hr, mask), abs=1e-12)
    assert ssim(sr, hr, np.ones((48, 48), bool)) == pytest.approx(ssim(sr, hr), abs=1e-12)


def test_registration_error_is_the_rms_distance():
    true = np.array([[0, 0], [0.5, 0.5], [1.0, -1.0]])
    estimated = true + np.array([[0, 0], [0.3, 0.4], [0.0, 0.0]])
    assert registration_error_px(estimated, true) == pytest.approx(np.sqrt(0.25 / 2))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 6), st.integers(0, 6), st.integers(0, 2**31))
def test_window_sums_are_the_sums_over_every_window(h, w, extra_rows, extra_cols, seed):
    # the offset search's sums of the truth alone: against the sum of each window taken by hand, in float64
    image = np.random.default_rng(seed).uniform(0, 1, (h + extra_rows, w + extra_cols)).astype(np.float32)
    sums = _window_sums(image, (h, w))
    by_hand = np.array([[image[i:i + h, j:j + w].astype(np.float64).sum() for j in range(extra_cols + 1)]
                        for i in range(extra_rows + 1)])
    assert sums.shape == by_hand.shape
    np.testing.assert_allclose(sums, by_hand, rtol=1e-12, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.integers(12, 90), st.integers(12, 60), st.integers(1, 3), st.integers(1, 40), st.booleans(),
       st.integers(0, 2**31))
def test_strips_of_rows_give_the_scores_made_whole(h, w, bands, strip_rows, masked, seed):
    """SSIM is the same to the last bit in strips of any height (each strip sees the window's reach of rows beyond
    it, and the kept values are averaged as one array); cPSNR finds the same offset, its dB the same to float64
    rounding (a band's sums are added in another order)."""
    rng = np.random.default_rng(seed)
    hr = scene((h, w, bands), seed % 1000)
    sr = np.roll(hr, tuple(rng.integers(-2, 3, 2)), (0, 1)) + rng.normal(0.01, 0.02, hr.shape)
    mask = rng.uniform(size=(h, w)) > 0.3 if masked else None
    clear = np.ones((h, w), bool) if mask is None else mask

    def scores():  # the search's sums too: the best offsets' exact scores would hide a wrong search
        return ssim(sr, hr, mask), cpsnr(sr, hr, mask), _offset_search(hr, sr[3:h - 3, 3:w - 3], clear, 3, None)

    whole_ssim, whole_cpsnr, (whole_count, whole_mse) = scores()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(image_quality, "SSIM_STRIP_ROWS", strip_rows)
        patch.setattr(image_quality, "CPSNR_STRIP_ROWS", strip_rows)
        strips_ssim, strips_cpsnr, (strips_count, strips_mse) = scores()
    assert strips_ssim == whole_ssim or (math.isnan(strips_ssim) and math.isnan(whole_ssim))
    assert np.array_equal(strips_count, whole_count)  # whole pixels, exact in float64
    np.testing.assert_allclose(strips_mse, whole_mse, rtol=1e-4, atol=1e-8)  # float32 sums in another order
    assert strips_cpsnr.shift_px == whole_cpsnr.shift_px
    assert strips_cpsnr.db == pytest.approx(whole_cpsnr.db, abs=1e-9, nan_ok=True)


@pytest.mark.parametrize("score", [ssim, cpsnr_db])
def test_a_large_image_is_scored_in_a_few_planes(score):
    """A 4096 x 3072 super-resolved product was scored in 10 float64 planes of its size for SSIM (1.1 GB beside
    the images) and 6 for cPSNR: a 4096 x 3072 burst's x2 product, 50 Mpx, needed several GB. Now at most about
    two planes (a band's kept values and its differences) beside strips of rows (numpy's allocations, traced)."""
    rng = np.random.default_rng(3)
    hr = rng.uniform(0, 0.5, (2048, 512, 4)).astype(np.float32)
    sr = hr + np.float32(0.01)
    mask = rng.uniform(size=hr.shape[:2]) > 0.2
    plane_bytes = hr.shape[0] * hr.shape[1] * 8
    tracemalloc.start()
    try:
        score(sr, hr, mask)
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak_bytes < 3 * plane_bytes


@settings(max_examples=30, deadline=None)
@given(st.integers(12, 90), st.integers(12, 60), st.integers(1, 4), st.integers(1, 40), st.booleans(),
       st.integers(0, 2**31))
def test_dn_scored_with_its_calibration_scores_as_its_reflectance(h, w, bands, strip_rows, masked, seed):
    """The ground holds a product as DN (0.4 GB at 8192 x 6144 x 4, 0.8 GB as float32): DN scored with
    ``sr_per_dn`` gives the scores of DN times the calibration in float32, SSIM and cPSNR to the last bit."""
    rng = np.random.default_rng(seed)
    per_dn = float(rng.uniform(1e-5, 1e-4))
    hr = scene((h, w, bands), seed % 1000).astype(np.float32)
    dn = np.clip(np.rint(np.roll(hr, tuple(rng.integers(-2, 3, 2)), (0, 1)) / per_dn + rng.normal(0, 30, hr.shape)),
                 0, 4095).astype(np.uint16)
    mask = rng.uniform(size=(h, w)) > 0.3 if masked else None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(image_quality, "SSIM_STRIP_ROWS", strip_rows)
        patch.setattr(image_quality, "CPSNR_STRIP_ROWS", strip_rows)
        reflectance = dn * np.float32(per_dn)
        same_ssim = ssim(dn, hr, mask, sr_per_dn=per_dn), ssim(reflectance, hr, mask)
        assert same_ssim[0] == same_ssim[1] or all(math.isnan(v) for v in same_ssim)
        assert cpsnr(dn, hr, mask, sr_per_dn=per_dn) == cpsnr(reflectance, hr, mask)


@pytest.mark.parametrize("score", [ssim, cpsnr_db])
def test_dn_is_scored_without_a_float_copy_of_it(score):
    """DN with its calibration is converted a strip (or a band's selected pixels) at a time: the scoring holds about
    what it holds for a float32 image, never the image again as float32 (numpy's allocations, traced)."""
    rng = np.random.default_rng(4)
    hr = rng.uniform(0, 0.4, (2048, 512, 4)).astype(np.float32)
    dn = rng.integers(0, 4096, hr.shape, dtype=np.uint16)
    mask = rng.uniform(size=hr.shape[:2]) > 0.2
    peaks = []
    for image, per_dn in ((dn * np.float32(1e-4), None), (dn, 1e-4)):
        tracemalloc.start()
        try:
            score(image, hr, mask, sr_per_dn=per_dn)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert peaks[1] < peaks[0] + hr.nbytes // 8
