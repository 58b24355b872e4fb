"""Scores on the real labelled tiles, checked against ``score.py``, the scorer that ships beside the tiles."""

import importlib.util

import numpy as np
import pytest

from benchmarks.realism import classic_rule
from onboard.runtime.modelcard import MODEL_DIR
from onboard.runtime.model import Model
from training.cloud_scores import (REAL_CLOUD_VAL_DIR, THRESHOLD, confusion, load_real_tiles, predict_frame,
                                   real_validation, scores, summary, tile_counts)

SCORE_PY = REAL_CLOUD_VAL_DIR / "score.py"
needs_tiles = pytest.mark.skipif(not SCORE_PY.is_file(), reason=f"no real tiles and score.py at {REAL_CLOUD_VAL_DIR}")
BGRN = ("B", "G", "R", "NIR")


@pytest.fixture(scope="module")
def score_py():
    spec = importlib.util.spec_from_file_location("real_cloud_val_score", SCORE_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_textbook_scores_and_unlabelled_pixels():
    counts = confusion(np.array([1, 1, 0, 0, 1], bool), np.array([1, 0, 1, 0, 1], bool))
    assert counts == {"tp": 2, "fp": 1, "fn": 1, "tn": 1}
    s = scores(counts)
    assert s["f1"] == pytest.approx(2 / 3) and s["iou"] == pytest.approx(0.5) and s["fpr"] == pytest.approx(0.5)
    cloud = np.array([[0, 1, 2, 255]], np.uint8)
    c = tile_counts(np.array([[True, True, False, True]]), cloud)  # the flagged unlabelled pixel does not count
    assert (c["tp"], c["fp"], c["fn"], c["tn"]) == (1, 1, 1, 0)
    assert summary(c)["thin_recall"] == 1.0 and summary(c)["thick_recall"] == 0.0


@needs_tiles
def test_the_rule_scores_as_score_py_does(score_py):
    tiles = load_real_tiles()
    ours = real_validation(classic_rule, tiles, BGRN)
    for tile in tiles:
        theirs = score_py.rule(tile.toa)
        assert np.array_equal(theirs, classic_rule(tile.toa)), tile.name
    pooled = {k: sum(tile_counts(score_py.rule(t.toa), t.cloud)[k] for t in tiles) for k in ("tp", "fp", "fn", "tn")}
    assert ours["pooled"]["f1"] == round(scores(pooled)["f1"], 4)


@needs_tiles
def test_the_shipped_model_scores_as_score_py_does(score_py):
    """score.py's own window tiling and quantisation give the same mask as the project's on a real tile."""
    path = MODEL_DIR / "cloud_bgrn_int8.tflite"
    tile = load_real_tiles(names=["s2_jiangsu_cumulus"])[0]
    theirs = score_py.tflite_method(str(path))(tile.toa)
    model = Model(path, threads=1)
    ours = predict_frame(model, tile.bands(BGRN)) >= THRESHOLD
    assert np.mean(theirs == ours) > 0.999
