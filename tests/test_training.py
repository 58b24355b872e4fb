"""Training smoke test: a few steps on tiny data, converted to full int8, loaded and invoked by the real runtime."""

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="training needs the [train] extra: pip install -e '.[train]'")

from onboard.runtime import Model  # noqa: E402
from training import train_cloud  # noqa: E402
from training.cloud_data import make_frames  # noqa: E402
from training.cloud_scores import REAL_CLOUD_VAL_DIR  # noqa: E402


def test_tiny_training_converts_to_int8_and_runs(tmp_path):
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
