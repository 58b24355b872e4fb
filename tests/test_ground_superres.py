"""ground.superres: cPSNR and SSIM against hand-computed cases: a known bias is removed exactly, a known whole-
pixel shift is found, masked pixels do not count, the border and offset range follow the PROBA-V definition,
and SSIM of an image with itself is 1."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ground.superres import (CROP_PX, ExampleCrop, SRScene, cpsnr, cpsnr_db, harm_warnings, registration_error_px,
                             ssim)

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


def _section(product_db, bicubic_db, shift_and_add_db=None, error_px=0.4, scene_errors=(0.4,)):
    return {"product": "model_int8", "registration_error_px": error_px,
            "cpsnr_db": {"model_int8": product_db, "bicubic": bicubic_db, "bicubic_registered": None,
                         "shift_and_add": shift_and_add_db},
            "scenes": [{"registration_error_px": e} for e in scene_errors]}


def test_a_product_worse_than_a_baseline_is_a_warning_naming_which_and_by_how_much():
    [text] = harm_warnings(_section(37.1, 38.5, 36.0), ["superres", "encode"])
    assert "37.10 dB" in text and "below 1 of its 3 baselines" in text
    assert "-1.40 dB against bicubic of the mean of the clear frames (38.50 dB)" in text
    assert "shift-and-add" not in text and "No cloud_filter stage" in text  # shift-and-add scored below the product
    [both] = harm_warnings(_section(37.1, 38.5, 37.6), ["cloud_filter", "superres", "encode"])
    assert "below 2 of its 3 baselines" in both and "-0.50 dB against shift-and-add (median) (37.60 dB)" in both
    assert "No cloud_filter" not in both
    assert harm_warnings(_section(38.5, 38.5), ["superres"]) == []  # as good as bicubic: nothing to say
    assert harm_warnings(_section(None, 38.5), ["superres"]) == []  # nothing scored


def test_registration_error_over_a_pixel_is_a_warning():
    assert harm_warnings(_section(39.0, 38.5, error_px=1.0, scene_errors=(1.0,)), ["superres"]) == []  # not over
    [text] = harm_warnings(_section(39.0, 38.5, error_px=3.6, scene_errors=(0.5, 6.7)), ["superres"])
    assert text.startswith("burst registration is off by 3.60 px RMS") and "1 of 2 bursts" in text
    assert "No cloud_filter stage" in text  # the reason is given once, here when no cPSNR warning carries it
    beaten = harm_warnings(_section(37.1, 38.5, error_px=3.6, scene_errors=(3.6,)), ["superres"])
    assert len(beaten) == 2 and "No cloud_filter" not in beaten[1]


def test_registration_error_is_the_rms_distance():
    true = np.array([[0, 0], [0.5, 0.5], [1.0, -1.0]])
    estimated = true + np.array([[0, 0], [0.3, 0.4], [0.0, 0.0]])
    assert registration_error_px(estimated, true) == pytest.approx(np.sqrt(0.25 / 2))


def test_the_superres_crop_is_the_most_detailed_one():
    scale, size_px = 2, 288
    truth = np.full((size_px, size_px, 4), 0.2, np.float32)
    n = CROP_PX * scale
    rows, cols = np.indices((n, n))
    truth[n:2 * n, n // 2:n // 2 + n] += (0.1 * ((rows + cols) % 2))[..., None]  # a checkerboard: fine detail
    images = {"bicubic": truth * 0.9, "model_int8": truth.copy()}
    scene = SRScene("f", images, truth, np.ones((size_px, size_px), bool), truth[::scale, ::scale].copy(), None,
                    1, 1, None)
    crop = ExampleCrop(scale)
    crop.offer(scene)
    panels, title = crop.panels, crop.title
    assert [name for name, _ in panels] == ["low-res frame 0", "bicubic", "model int8", "truth"]
    assert all(image.shape == (n, n, 4) for _, image in panels)
    assert np.array_equal(panels[-1][1], truth[n:2 * n, n // 2:n // 2 + n])
    assert title == f"f: {CROP_PX} x {CROP_PX} low-res px at ({n // scale}, {n // 4}), x{scale}"


def test_the_superres_crop_ignores_texture_the_figure_does_not_show():
    """Three 96 px crops: NIR-only texture (invisible in true colour), a bright cloud whose edge is unscored
    ground, and field edges in the visible bands; the crop is the field edges."""
    scale, n = 2, CROP_PX * 2
    truth = np.full((n, 3 * n, 4), 0.1, np.float32)
    rows, cols = np.indices((n, n))
    truth[:, :n, 3] += 0.3 * ((rows + cols) % 2)  # NIR checkerboard
    scored = np.ones(truth.shape[:2], bool)
    truth[40:56, n + 40:n + 56, :] = 0.9  # a cloud: bright, unscored, 97 % of the crop still scored
    scored[40:56, n + 40:n + 56] = False
    truth[:, 2 * n:, :3] += (0.05 * ((cols // 12) % 2))[..., None]  # 12 px stripes of two fields
    scene = SRScene("f", {"model_int8": truth}, truth, scored, None, None, 1, 1, None)
    crop = ExampleCrop(scale)
    crop.offer(scene)
    assert crop.title == f"f: {CROP_PX} x {CROP_PX} low-res px at (0, {n}), x{scale}"


def test_the_example_crop_streams_keeping_copies_of_the_best_crop_only():
    """Scenes are offered one at a time: a later, more detailed scene replaces the crop, an equal one does not, and
    the panels are copies (the scene's full-size arrays can be freed)."""
    scale, n = 2, CROP_PX * 2
    rows, cols = np.indices((n, n))

    def scene(name, contrast):
        truth = np.full((n, n, 4), 0.2, np.float32)
        truth[..., :3] += (contrast * ((rows + cols) % 2))[..., None]
        return SRScene(name, {"model_int8": truth.copy()}, truth, np.ones((n, n), bool), None, None, 1, 1, None)

    crop = ExampleCrop(scale)
    first, busier, same = scene("a", 0.02), scene("b", 0.1), scene("c", 0.1)
    for s in (first, busier, same):
        crop.offer(s)
    assert crop.title.startswith("b: ")
    assert [name for name, _ in crop.panels] == ["model int8", "truth"]
    busier.truth[:] = 0
    assert crop.panels[-1][1].max() > 0.2
