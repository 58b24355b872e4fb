"""The cloud_filter stage on the real shipped models, and the ground's cloud scores against hand-computed cases."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ground import cloud as gcloud
from onboard import cloud, pipeline
from onboard.config import StageConfig, load_scenario
from rundir.errors import ConfigError

ROOT = Path(__file__).parents[1]
CTX = pipeline.Context(bands=("B", "G", "R", "NIR"), bit_depth=12, reflectance_per_dn=1.2 / 4095, cpu_relative=1.0,
                       int8_conv_relative=1.0)


def test_textbook_confusion_scores():
    s = gcloud.confusion_scores(tp=8, fp=2, fn=4, tn=86)
    assert s["precision"] == pytest.approx(0.8) and s["recall"] == pytest.approx(8 / 12)
    assert s["f1"] == pytest.approx(2 * 0.8 * (8 / 12) / (0.8 + 8 / 12)) and s["iou"] == pytest.approx(8 / 14)
    assert s["fpr"] == pytest.approx(2 / 88) and s["accuracy"] == pytest.approx(94 / 100)
    assert gcloud.confusion_scores(0, 0, 0, 5)["precision"] is None


def frame_eval(truth: np.ndarray, probability: np.ndarray) -> gcloud.FrameEval:
    return gcloud.FrameEval("f", truth, np.ones_like(truth), (probability * 255).round().astype(np.uint8),
                            truth.copy(), np.ones_like(truth), raw_bytes=truth.size * 6)


def test_tile_policy_scores_against_hand_counts():
    """64 x 64 frame, 32 px tiles: one tile fully cloudy, one half cloudy, two clear."""
    truth = np.zeros((64, 64), bool)
    truth[:32, :32] = True
    truth[32:, :16] = True
    policy = {"tile_px": 32, "max_cloud_fraction": 0.6, "action": "drop"}
    perfect = gcloud._score_mask([frame_eval(truth, truth * 1.0)], [truth], policy)
    assert perfect["pixel"]["f1"] == 1.0 and perfect["tile"]["f1"] == 1.0
    assert perfect["tile_selection_saved_fraction"] == pytest.approx(0.25)  # one tile of four dropped
    assert perfect["clear_pixels_lost_fraction"] == 0.0
    greedy = {**policy, "max_cloud_fraction": 0.4}  # also drops the half-cloudy tile: its 512 clear pixels are lost
    scored = gcloud._score_mask([frame_eval(truth, truth * 1.0)], [truth], greedy)
    assert scored["tile_selection_saved_fraction"] == pytest.approx(0.5)
    assert scored["clear_pixels_lost_fraction"] == pytest.approx(512 / (64 * 64 - 1024 - 512))
    masked = gcloud._score_mask([frame_eval(truth, truth * 1.0)], [truth], {**greedy, "action": "mask"})
    assert masked["clear_pixels_lost_fraction"] == 0.0  # masking keeps the clear half


def test_pr_curve_is_exact_on_a_known_histogram():
    truth = np.zeros((10, 10), bool)
    truth[:5] = True
    prob = np.where(truth, 0.9, 0.2)
    prob[0, :2] = 0.3  # two cloud pixels the model is unsure of
    curve = {p["threshold"]: p for p in gcloud._pr_curve([frame_eval(truth, prob)])}
    assert curve[0.5]["precision"] == 1.0 and curve[0.5]["recall"] == pytest.approx(48 / 50)
    assert curve[0.25]["recall"] == 1.0 and curve[0.15]["precision"] == pytest.approx(0.5)


def make_stage(**params):
    cfg = StageConfig(name="cloud_filter", params=cloud.CloudFilter.Params(**params))
    return pipeline.Pipeline((cfg, StageConfig(name="bent_pipe", params=pipeline.BentPipe.Params())), CTX)


def synthetic_frame(cloud_rows: int = 200):
    """A 512 x 512 frame: vegetation below, a flat bright cloud deck across the top rows."""
    refl = np.empty((512, 512, 4), np.float32)
    refl[:] = (0.05, 0.07, 0.05, 0.35)
    refl[:cloud_rows] = (0.75, 0.74, 0.73, 0.70)
    rng = np.random.default_rng(0)
    dn = np.clip(refl / CTX.reflectance_per_dn + rng.normal(0, 3, refl.shape), 0, 4095).astype(np.uint16)
    return SimpleNamespace(frame_id="f0", dn=dn)


def test_cloud_filter_drops_cloudy_tiles_with_the_real_model():
    work = make_stage(tile_px=128, max_cloud_fraction=0.5).run(synthetic_frame(cloud_rows=256))
    kept = {(t.row0, t.col0) for t in work.tiles}
    dropped = {(t.row0, t.col0) for t, reason in work.dropped}
    assert dropped == {(r, c) for r in (0, 128) for c in range(0, 512, 128)}
    assert kept == {(r, c) for r in (256, 384) for c in range(0, 512, 128)}
    assert all(reason == "cloudy" for _, reason in work.dropped)
    prob = work.evaluation["cloud_probability"]
    assert prob[:200].mean() > 200 and prob[300:].mean() < 30
    assert work.sim_s > 0 and all(t.format == "raw" for t in work.tiles)


def test_mask_action_and_mask_product():
    work = make_stage(tile_px=512, max_cloud_fraction=0.1, action="mask", downlink_mask=True).run(synthetic_frame())
    image = [t for t in work.tiles if t.kind == "image"]
    (mask,) = [t for t in work.tiles if t.kind == "cloud_mask"]
    assert len(image) == 1 and image[0].meta["masked"]
    assert (image[0].dn[:150] == 0).all() and (image[0].dn[300:] > 0).any()
    assert mask.format == "png" and len(mask.payload) < 0.01 * 512 * 512 * 4 * 12 / 8


def test_spectral_method_runs_without_a_model():
    work = make_stage(method="spectral", tile_px=128, max_cloud_fraction=0.5).run(synthetic_frame(cloud_rows=256))
    assert len(work.dropped) == 8


def test_camera_bands_pick_the_model_and_a_mismatch_is_an_error(tmp_path):
    rgb = load_scenario(ROOT / "scenarios" / "cloudy_cloudfilter.yaml", ["spacecraft.camera.bands=[B, G, R]"])
    assert cloud.model_name(rgb.stages[0].params.model, ("B", "G", "R")) == "cloud_rgb_int8"
    with pytest.raises(ConfigError, match="pipeline\\[0\\].model: expected a model for the camera's bands"):
        load_scenario(ROOT / "scenarios" / "cloudy_cloudfilter.yaml",
                      ["spacecraft.camera.bands=[B, G, R]", "pipeline.0.model=cloud_bgrn_int8"])
    with pytest.raises(ConfigError, match="expected a camera band list a shipped model was made for"):
        load_scenario(ROOT / "scenarios" / "cloudy_cloudfilter.yaml", ["spacecraft.camera.bands=[G, R, NIR]"])
