"""Real labelled tiles (onboard.runtime.real_tiles): read and checked, and scored as ``score.py``, the scorer that
ships beside the project's tiles, scores them."""

import importlib.util
import re

import numpy as np
import pytest

from benchmarks.realism import classic_rule
from onboard.runtime.real_tiles import (confusion, load_real_tiles, real_validation, scores, summary,
                                        tile_counts)
from rundir.errors import InputFileError
from training.cloud_scores import REAL_CLOUD_VAL_DIR

SCORE_PY = REAL_CLOUD_VAL_DIR / "score.py"
needs_tiles = pytest.mark.skipif(not SCORE_PY.is_file(), reason=f"no real tiles and score.py at {REAL_CLOUD_VAL_DIR}")
BGRN = ("B", "G", "R", "NIR")


def load_score_py():
    """The scorer beside the project's tiles, as a module."""
    spec = importlib.util.spec_from_file_location("real_cloud_val_score", SCORE_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def score_py():
    return load_score_py()


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
    tiles = load_real_tiles(REAL_CLOUD_VAL_DIR)
    ours = real_validation(classic_rule, tiles, BGRN)
    for tile in tiles:
        theirs = score_py.rule(tile.toa)
        assert np.array_equal(theirs, classic_rule(tile.toa)), tile.name
    pooled = {k: sum(tile_counts(score_py.rule(t.toa), t.cloud)[k] for t in tiles) for k in ("tp", "fp", "fn", "tn")}
    assert ours["pooled"]["f1"] == round(scores(pooled)["f1"], 4)


def test_a_tile_that_is_not_one_is_named_with_what_is_wrong(tmp_path):
    """A user's own tiles: every file is checked before anything is scored, and the error names it."""
    toa, cloud = np.full((8, 8, 4), 0.1, np.float32), np.zeros((8, 8), np.uint8)
    cases = {"no_sensor": dict(toa=toa, cloud=cloud, gsd_m=10.0),
             "three_bands": dict(toa=toa[..., :3], cloud=cloud, sensor="S2", gsd_m=10.0),
             "codes": dict(toa=toa, cloud=cloud + 7, sensor="S2", gsd_m=10.0),
             "nan": dict(toa=np.where(np.eye(8, dtype=bool)[..., None], np.nan, toa), cloud=cloud, sensor="S2",
                         gsd_m=10.0),
             "dn": dict(toa=toa * 10000, cloud=cloud, sensor="S2", gsd_m=10.0)}
    for name, arrays in cases.items():
        np.savez(tmp_path / f"{name}.npz", **arrays)
    (tmp_path / "text.npz").write_text("not a tile")
    (tmp_path / "empty.npz").write_bytes(b"")
    np.savez(tmp_path / "whole.npz", toa=toa, cloud=cloud, sensor="S2", gsd_m=10.0)
    (tmp_path / "cut.npz").write_bytes((tmp_path / "whole.npz").read_bytes()[:300])  # a copy cut short
    np.savez(tmp_path / "objects.npz", toa=np.array([None, 1], object), cloud=cloud, sensor="S2", gsd_m=10.0)
    expected = {"no_sensor": "expected the arrays toa, cloud, sensor, gsd_m, found no sensor",
                "three_bands": "expected toa (H, W, 4) and cloud (H, W), found toa (8, 8, 3) and cloud (8, 8)",
                "codes": "expected cloud codes 0 clear, 1 thin, 2 thick, 255 unlabelled, found [7]",
                "nan": "expected toa as TOA reflectance, finite and within +-5 (DN are scaled to reflectance first), "
                       "found 32 NaN or infinite values",
                "dn": "found values up to 1000",
                "text": "expected a NumPy .npz (a zip archive of arrays) of a labelled tile, found 10 bytes that are "
                        "no whole zip archive (cut short, or another kind of file)",  # not numpy's pickle advice
                "empty": "expected a NumPy .npz (a zip archive of arrays) of a labelled tile, found an empty file",
                "cut": "found 300 bytes that are no whole zip archive",
                "objects": "expected a NumPy .npz of a labelled tile, found Object arrays cannot be loaded"}
    for name, message in expected.items():
        with pytest.raises(InputFileError, match=re.escape(message)) as err:
            load_real_tiles(tmp_path, [name])
        assert str(err.value).startswith(str(tmp_path / f"{name}.npz"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="expected labelled tiles"):
        load_real_tiles(tmp_path / "empty")
    for where, found in ((tmp_path / "codes.npz", "found a file (give the folder it is in)"),
                         (tmp_path / "absent", "found no such folder")):
        with pytest.raises(InputFileError) as err:
            load_real_tiles(where)
        assert str(err.value) == (f"{where}: expected a folder of labelled tiles (.npz files with toa, cloud, sensor "
                                  f"and gsd_m), {found}")
    np.savez(tmp_path / "good.npz", toa=toa, cloud=cloud, sensor="S2", gsd_m=10.0)
    [tile] = load_real_tiles(tmp_path, ["good"])
    assert (tile.name, tile.sensor, tile.gsd_m, tile.bands(["NIR", "B"]).shape) == ("good", "S2", 10.0, (8, 8, 2))
