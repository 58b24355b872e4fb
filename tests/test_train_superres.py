"""Super-resolution training: the training windows are what the on-board fusion feeds the model, the masked loss
and the scores by hand, an untrained network is the registered bicubic mean, and a smoke test - a few steps on tiny
data, converted to full int8, loaded and invoked by the real runtime."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ground.image_quality import cpsnr_db, registration_error_px
from onboard.pipeline import fusion, tiling
from onboard.runtime.model import Model
from onboard.sensing.world import SYNTHETIC_BANDS
from training import cloud_data, superres_data, train_superres
from training.landsat_pair import LANDSAT_DIR
from training.superres_data import iter_bursts, make_bursts
from training.train_superres import CHANNELS, MODEL_PX, SCALE, TrainConfig, TrainingSet

BURST_PX = 64  # one model window
TF_REASON = "training needs the [train] extra: pip install -e '.[train]'"


@pytest.fixture(scope="module")
def bursts():
    return make_bursts("train", 2, BURST_PX, 5)


@pytest.fixture(scope="module")
def data(bursts) -> TrainingSet:
    return TrainingSet.from_bursts(iter(bursts))  # a one-pass iterator, as build gives it


def test_training_set_holds_every_band_of_every_burst(bursts, data):
    n, hr_px = len(bursts) * len(SYNTHETIC_BANDS), SCALE * BURST_PX
    for name, dtype in (("bicubic", np.float32), ("detail", np.float16), ("samples", np.float16),
                        ("residual", np.float16), ("clear", np.bool_)):
        array = getattr(data, name)
        assert array.shape == (n, hr_px, hr_px) and array.dtype == dtype, name
    for b, sample in enumerate(bursts):
        planes = fusion.misr_planes(sample.lr, sample.shifts_px, sample.clear, SCALE)
        for band in range(len(SYNTHETIC_BANDS)):
            row = b * len(SYNTHETIC_BANDS) + band
            assert np.array_equal(data.bicubic[row], planes[band, ..., 0])
            assert np.array_equal(data.clear[row], sample.burst.hr_clear)
            truth = data.bicubic[row] + data.residual[row].astype(np.float32)
            np.testing.assert_allclose(truth, sample.burst.hr_truth[..., band], atol=2e-4)  # reflectance, float16


def test_a_window_is_the_on_board_model_input_and_its_target_the_truth(bursts, data):
    sample, band, row0, col0, size = bursts[1], 2, 0, 0, MODEL_PX
    x, target, clear = data.window(len(SYNTHETIC_BANDS) + band, row0, col0, size)
    assert x.shape == (size, size, CHANNELS) and target.shape == clear.shape == (SCALE * size, SCALE * size)
    hr = (slice(SCALE * row0, SCALE * (row0 + size)), slice(SCALE * col0, SCALE * (col0 + size)))
    planes = fusion.misr_planes(sample.lr, sample.shifts_px, sample.clear, SCALE)[band][hr]
    on_board, sigma = fusion.standardise(tiling.space_to_depth(planes, SCALE), SCALE)
    assert np.abs(x - on_board).max() * sigma < 2e-5  # reflectance: the float16 planes of the training set
    assert np.abs(target).max() <= train_superres.TARGET_CLIP
    inside = np.abs(target) < train_superres.TARGET_CLIP
    restored = planes[..., 0] + target * np.float32(sigma)
    assert np.abs(restored - sample.burst.hr_truth[hr][..., band])[inside].max() < 2e-4  # reflectance
    assert np.array_equal(clear, sample.burst.hr_clear[hr])


def test_calibration_windows_are_training_windows_drawn_by_seed(data):
    windows = train_superres.calibration_windows(data, 3, seed=7)
    assert windows.shape == (3, MODEL_PX, MODEL_PX, CHANNELS) and windows.dtype == np.float32
    assert np.isfinite(windows).all() and np.abs(windows).max() <= fusion.FEATURE_CLIP
    assert np.array_equal(windows, train_superres.calibration_windows(data, 3, seed=7))
    assert not np.array_equal(windows, train_superres.calibration_windows(data, 3, seed=8))


def test_scores_by_method_with_the_truth_itself_scoring_perfectly(bursts):
    fusers = train_superres.methods({}) | {"truth": lambda b: b.burst.hr_truth}
    assert set(fusers) == {"bicubic", "bicubic_registered", "shift_and_add", "truth"}
    result = train_superres.score(bursts, fusers)
    assert result["mean_ssim"]["truth"] == 1.0 and result["mean_cpsnr_db"]["truth"] == np.inf
    for name in ("bicubic", "bicubic_registered", "shift_and_add"):
        per_burst = result["per_burst"][name]
        assert len(per_burst["cpsnr_db"]) == len(per_burst["ssim"]) == len(bursts)
        assert result["mean_cpsnr_db"][name] == pytest.approx(np.mean(per_burst["cpsnr_db"]), abs=1e-3)
        assert 20.0 < result["mean_cpsnr_db"][name] < 60.0 and 0.5 < result["mean_ssim"][name] < 1.0
    sample = bursts[0]
    assert result["per_burst"]["bicubic"]["cpsnr_db"][0] == round(
        cpsnr_db(fusion.bicubic(sample.lr, sample.clear, SCALE), sample.burst.hr_truth, sample.burst.hr_clear), 3)
    errors = [registration_error_px(b.shifts_px, b.burst.shifts_px) for b in bursts]
    assert result["registration_error_px"] == {"rms": round(float(np.sqrt(np.mean(np.square(errors)))), 4),
                                               "max": round(max(errors), 4)}


def test_the_masked_loss_counts_clear_pixels_only():
    pytest.importorskip("tensorflow", reason=TF_REASON)
    target = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    clear = np.array([[1.0, 0.0], [1.0, 1.0]], np.float32)
    prediction = np.array([[0.0, 9.0], [3.0, 6.0]], np.float32)[None, ..., None]
    y_true = np.stack([target, clear], axis=-1)[None]
    assert float(train_superres.masked_mse(y_true, prediction)) == pytest.approx((1.0 + 0.0 + 4.0) / 3)
    assert float(train_superres.masked_mse(np.zeros_like(y_true), prediction)) == 0.0  # nothing clear


def test_an_untrained_network_gives_the_registered_bicubic_mean(bursts):
    pytest.importorskip("tensorflow", reason=TF_REASON)
    config = TrainConfig(width=4, depth=1)
    untrained = train_superres.build_model(None, None, config.width, config.depth)
    exported = train_superres.export_model(untrained, config)
    assert tuple(exported.input_shape) == (1, MODEL_PX, MODEL_PX, CHANNELS)
    assert tuple(exported.output_shape) == (1, SCALE * MODEL_PX, SCALE * MODEL_PX, 1)
    fusers = train_superres.methods({"model": train_superres.KerasPredictor(exported)})
    sample = bursts[0]
    np.testing.assert_array_equal(fusers["model"](sample), fusers["bicubic_registered"](sample))


@pytest.mark.skipif(not LANDSAT_DIR.is_dir(), reason=f"build scores on the Landsat pair, not at {LANDSAT_DIR}")
def test_tiny_training_converts_to_int8_and_runs(tmp_path):
    pytest.importorskip("tensorflow", reason=TF_REASON)
    config = TrainConfig(train_bursts=2, train_burst_px=BURST_PX, heldout_bursts=1, heldout_burst_px=BURST_PX,
                         batch_size=2, steps=4, width=8, depth=1, calibration_windows=4)
    metrics = train_superres.build(config, tmp_path, log=lambda s: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{train_superres.STEM}_{kind}.{ext}" for kind in ("float32", "int8") for ext in ("json", "tflite")]
    card = json.loads((tmp_path / f"{train_superres.STEM}_int8.json").read_text())
    assert card["training"]["heldout_split"]["utm_zones"] == sorted(cloud_data.HELDOUT_ZONES)
    assert card["metrics"] == json.loads(json.dumps(metrics))
    assert len(metrics["real_landsat"]["per_burst"]["bicubic"]["cpsnr_db"]) == len(superres_data.LANDSAT_CROPS)
    model = Model(tmp_path / f"{train_superres.STEM}_int8.tflite")
    assert model.is_quantized and model.input_dtype == np.int8
    assert tuple(model.input_shape) == (1, MODEL_PX, MODEL_PX, CHANNELS)
    assert model.predict(np.zeros((MODEL_PX, MODEL_PX, CHANNELS), np.float32)).shape == (128, 128, 1)
    # four steps from a zero output layer: the int8 model stays within a dB of the bicubic mean it corrects
    sample = next(iter_bursts("heldout", 1, BURST_PX, config.data_seed))
    fusers = train_superres.methods({"int8": model})
    truth, clear = sample.burst.hr_truth, sample.burst.hr_clear
    sr = fusers["int8"](sample)
    assert sr.shape == truth.shape and np.isfinite(sr).all()
    assert cpsnr_db(sr, truth, clear) > cpsnr_db(fusers["bicubic_registered"](sample), truth, clear) - 1.0
    for name in ("heldout", "real_landsat"):
        assert set(metrics[name]["mean_cpsnr_db"]) == {"model_int8", "model_float32", "bicubic",
                                                       "bicubic_registered", "shift_and_add"}
