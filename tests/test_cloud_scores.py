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
@pytest.mark.parametrize("name, bands", [("cloud_bgrn_int8", BGRN), ("cloud_rgb_int8", ("B", "G", "R"))])
@pytest.mark.parametrize("tile_name", ["s2_jiangsu_cumulus", "l8_gulfcoast_altocumulus"])
def test_the_shipped_models_score_as_score_py_does(score_py, name, bands, tile_name):
    """score.py's own window tiling and quantisation give the same mask as the project's, for both shipped int8
    models, on a 256 px Sentinel-2 tile (one window) and the 603 x 627 px Landsat 8 tile (windows and edges)."""
    path = MODEL_DIR / f"{name}.tflite"
    tile = load_real_tiles(REAL_CLOUD_VAL_DIR, names=[tile_name])[0]
    theirs = score_py.tflite_method(str(path))(tile.toa)
    model = Model(path, threads=1)
    ours = predict_frame(model, tile.bands(bands)) >= THRESHOLD
    assert theirs.shape == ours.shape == tile.cloud.shape and np.mean(theirs == ours) > 0.999
