"""training.cloud_scores: the shipped cloud model run over a real tile as the cards' real-data figures run it
(predict_frame), against ``score.py``, the scorer beside the project's tiles."""

import numpy as np
import pytest

from onboard.runtime.model import Model
from onboard.runtime.modelcard import MODEL_DIR
from onboard.runtime.real_tiles import load_real_tiles
from tests.test_real_tiles import BGRN, load_score_py, needs_tiles
from training.cloud_scores import REAL_CLOUD_VAL_DIR, THRESHOLD, predict_frame


@pytest.fixture(scope="module")
def score_py():
    return load_score_py()


@needs_tiles
def test_the_shipped_model_scores_as_score_py_does(score_py):
    """score.py's own window tiling and quantisation give the same mask as the project's on a real tile."""
    path = MODEL_DIR / "cloud_bgrn_int8.tflite"
    tile = load_real_tiles(REAL_CLOUD_VAL_DIR, names=["s2_jiangsu_cumulus"])[0]
    theirs = score_py.tflite_method(str(path))(tile.toa)
    model = Model(path, threads=1)
    ours = predict_frame(model, tile.bands(BGRN)) >= THRESHOLD
    assert np.mean(theirs == ours) > 0.999
