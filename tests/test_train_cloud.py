"""Cloud training: pixel metrics and their breakdown by hand, the threshold chosen on a validation split and folded
into the output bias, and a smoke test - a few steps on tiny data, converted to full int8, loaded and invoked by
the real runtime."""

import json

import numpy as np
import pytest

from onboard.runtime.model import Model
from rundir.truth import CLOUD_CLEAR, CLOUD_THICK, CLOUD_THIN, SNOW, VEGETATION, WATER
from training import train_cloud
from training.cloud_data import CloudFrames, make_frames
from training.cloud_scores import REAL_CLOUD_VAL_DIR
from onboard.runtime.real_tiles import confusion, scores
TF_REASON = "training needs the [train] extra: pip install -e '.[train]'"
TINY_WIDTHS = (4, 4, 4, 4, 4)


def hand_frames() -> CloudFrames:
    """One 4 x 4 frame: a row of thick cloud, a row of thin, clear snow, and clear vegetation and water."""
    cloud = np.array([[CLOUD_THICK] * 4, [CLOUD_THIN] * 4, [CLOUD_CLEAR] * 4, [CLOUD_CLEAR] * 4], np.uint8)
    landcover = np.array([[VEGETATION] * 4, [VEGETATION] * 4, [SNOW] * 4, [VEGETATION] * 2 + [WATER] * 2],
                         np.uint8)
    return CloudFrames(np.zeros((1, 4, 4, 4), np.float16), cloud[None], landcover[None], [])


def test_heldout_metrics_of_a_perfect_mask():
    frames = hand_frames()
    metrics = train_cloud.heldout_metrics(frames.label.astype(np.float32), frames)
    assert metrics["threshold"] == train_cloud.THRESHOLD == 0.5
    assert {k: metrics[f"pixel_{k}"] for k in ("precision", "recall", "f1", "iou", "fpr", "accuracy")} == {
        "precision": 1.0, "recall": 1.0, "f1": 1.0, "iou": 1.0, "fpr": 0.0, "accuracy": 1.0}
    assert metrics["confusion"] == {"tp": 8, "fp": 0, "fn": 0, "tn": 8}
    assert metrics["best_threshold_pixel_f1"] == 1.0
    assert metrics["breakdown"] == {"thin_cloud_recall": 1.0, "thick_cloud_recall": 1.0, "clear_water_flagged": 0.0,
                                    "clear_vegetation_flagged": 0.0, "clear_snow_flagged": 0.0}


def test_heldout_metrics_of_graded_probabilities_by_hand():
    frames = hand_frames()
    probability = np.array([[0.9] * 4, [0.3] * 4, [0.6] * 4, [0.1] * 4], np.float32)[None]
    metrics = train_cloud.heldout_metrics(probability, frames)
    # at 0.5: thick cloud and the snow flagged, thin cloud missed
    assert metrics["confusion"] == {"tp": 4, "fp": 4, "fn": 4, "tn": 4} and metrics["pixel_f1"] == 0.5
    assert metrics["breakdown"] == {"thin_cloud_recall": 0.0, "thick_cloud_recall": 1.0, "clear_water_flagged": 0.0,
                                    "clear_vegetation_flagged": 0.0, "clear_snow_flagged": 1.0}
    # best: the first threshold above 0.1 that keeps the thin cloud, tp 8, fp 4 (snow): F1 16/20, IoU 8/12
    assert metrics["best_threshold"] == 0.15
    assert metrics["best_threshold_pixel_f1"] == 0.8 and metrics["best_threshold_pixel_iou"] == 0.6667


def test_the_operating_threshold_is_the_f1_best_on_the_validation_frames():
    pytest.importorskip("tensorflow", reason=TF_REASON)
    bands = train_cloud.VARIANTS["bgrn"]
    validation = make_frames("train", 3, 48, 3)
    assert validation.label.any() and not validation.label.all()
    model = train_cloud.build_unet(len(bands), 48, 1, TINY_WIDTHS)
    point = train_cloud.operating_threshold(model, validation, bands)
    toa = validation.bands(bands).astype(np.float32)
    probability = np.concatenate([model(toa[k:k + 1], training=False).numpy()[..., 0] for k in range(len(toa))])
    f1 = {float(t): scores(confusion(probability >= t, validation.label))["f1"] for t in train_cloud.THRESHOLDS}
    assert point["threshold"] in f1 and f1[point["threshold"]] == max(f1.values())
    assert point["validation_pixel_f1"] == round(max(f1.values()), 4)
    assert point["validation_pixel_f1_at_0.5"] == round(f1[0.5], 4) <= point["validation_pixel_f1"]


def test_the_exported_model_carries_the_weights_and_the_folded_threshold_moves_the_decision_to_half():
    pytest.importorskip("tensorflow", reason=TF_REASON)
    bands = train_cloud.VARIANTS["rgb"]
    config = train_cloud.TrainConfig(crop_px=32, widths=TINY_WIDTHS)
    trained = train_cloud.build_unet(len(bands), config.crop_px, None, config.widths)
    exported = train_cloud.export_model(trained, bands, config)
    assert tuple(exported.input_shape) == (1, train_cloud.MODEL_PX, train_cloud.MODEL_PX, len(bands))
    assert all(np.array_equal(a, b) for a, b in zip(exported.get_weights(), trained.get_weights(), strict=True))
    x = np.random.default_rng(1).uniform(0.0, 0.8, exported.input_shape).astype(np.float32)
    before = exported(x).numpy().astype(np.float64)
    threshold = 0.3
    train_cloud.fold_threshold(exported, threshold)
    after = exported(x).numpy().astype(np.float64)

    def logit(p):
        return np.log(p / (1.0 - p))

    assert 0.01 < before.min() and before.max() < 0.99  # away from saturation, where the logit is exact
    np.testing.assert_allclose(logit(after), logit(before) - logit(threshold), atol=1e-3)
    decided = np.abs(before - threshold) > 1e-4
    assert np.array_equal((after >= 0.5)[decided], (before >= threshold)[decided])


def test_tiny_training_converts_to_int8_and_runs(tmp_path):
    pytest.importorskip("tensorflow", reason=TF_REASON)
    config = train_cloud.TrainConfig(train_frames=8, validation_frames=2, heldout_frames=2, heldout_frame_px=300,
                                     steps=4, calibration_samples=4, batch_size=2)
    train = make_frames("train", config.train_frames, config.train_frame_px, config.data_seed)
    validation = make_frames("train", config.validation_frames, config.train_frame_px, config.data_seed + 1)
    heldout = make_frames("heldout", config.heldout_frames, config.heldout_frame_px, config.data_seed)
    results = train_cloud.build_variant("bgrn", train, validation, heldout, config, tmp_path, log=lambda s: None)
    assert set(results) == {"float32", "int8"}
    # the card records the threshold chosen on the validation split and the real-tile figures
    card = json.loads((tmp_path / "cloud_bgrn_int8.json").read_text())
    assert card["training"]["operating_point"]["threshold"] in train_cloud.THRESHOLDS
    if not REAL_CLOUD_VAL_DIR.is_dir():  # a checkout without shared/ beside it: no real tiles to score on
        assert "real_validation" not in card["metrics"]
        return
    real = card["metrics"]["real_validation"]
    assert set(real["tiles"]) >= {"l8_gulfcoast_altocumulus", "s2_jiangsu_cumulus"}
    assert 0 <= real["pooled"]["f1"] <= 1 and real["pooled"]["cloud_px"] > 0
    model = Model(tmp_path / "cloud_bgrn_int8.tflite", bands=("B", "G", "R", "NIR"))
    assert model.is_quantized and model.input_dtype == np.int8
    prob = model.predict(np.full(model.input_shape[1:], 0.1, np.float32))
    assert prob.shape == (256, 256, 1) and np.all((prob >= 0) & (prob <= 1))
