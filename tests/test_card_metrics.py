"""onboard.runtime.card_metrics: a card's real_validation block read as a run carries it, and every way it can be
malformed named at its path."""

import copy

import pytest

from onboard.runtime.card_metrics import real_validation_of, real_validation_problems
from onboard.runtime.modelcard import shipped_card
from rundir.run_info import RealScores

BLOCK = {"data": "my tiles: 3 Sentinel-2 scenes, hand-labelled", "threshold": 0.5,
         "tiles": {"a": {"fpr": 0.01, "f1": 0.9}, "b": {"fpr": 0.04}, "c": {"fpr": 0.0}},
         "pooled": {"f1": 0.91, "iou": 0.83, "fpr": 0.02, "recall": 0.93},
         "all Sentinel-2 MSI": {"f1": 0.91, "iou": 0.83, "fpr": 0.02, "recall": 0.93}}


def test_a_sound_block_is_read_with_its_worst_tile_and_sensors():
    real = real_validation_of({"real_validation": BLOCK, "other": {"free": "form"}})
    assert (real.data, real.tiles, real.worst_tile_fpr) == (BLOCK["data"], 3, 0.04)
    assert real.pooled == RealScores(0.91, 0.83, 0.02, 0.93)
    assert real.sensors == {"Sentinel-2 MSI": RealScores(0.91, 0.83, 0.02, 0.93)} and real.threshold == 0.5
    assert real_validation_of({"real_validation": {k: v for k, v in BLOCK.items() if k != "threshold"}}).threshold \
        is None  # optional
    assert real_validation_of({}) is None and real_validation_problems({"heldout": {}}) == []


def test_the_shipped_cards_blocks_are_sound():
    for name in ("cloud_bgrn_int8", "cloud_rgb_int8"):
        metrics = shipped_card(name).metrics
        assert real_validation_problems(metrics) == []
        assert real_validation_of(metrics).pooled.f1 == metrics["real_validation"]["pooled"]["f1"]


@pytest.mark.parametrize("edit, path, found", [
    (lambda b: b["pooled"].pop("f1"), "real_validation.pooled.f1", None),
    (lambda b: b["pooled"].update(fpr=2.0), "real_validation.pooled.fpr", 2.0),
    (lambda b: b["all Sentinel-2 MSI"].update(recall="high"), "real_validation.all Sentinel-2 MSI.recall", "high"),
    (lambda b: b.update({"all Landsat-8 OLI": 0.9}), "real_validation.all Landsat-8 OLI", 0.9),
    (lambda b: b["tiles"]["b"].pop("fpr"), "real_validation.tiles.b.fpr", None),
    (lambda b: b["tiles"].update(d=0.3), "real_validation.tiles.d.fpr", 0.3),
    (lambda b: b.update(tiles={}), "real_validation.tiles", {}),
    (lambda b: b.pop("data"), "real_validation.data", None),
    (lambda b: b.update(threshold=50), "real_validation.threshold", 50),
])
def test_a_malformed_block_is_named_at_its_path(edit, path, found):
    block = copy.deepcopy(BLOCK)
    edit(block)
    [(where, expected, value)] = real_validation_problems({"real_validation": block})
    assert (where, value) == (path, found) and expected
    with pytest.raises(ValueError, match=path.replace(".", r"\.")):
        real_validation_of({"real_validation": block})
    assert real_validation_problems({"real_validation": [1]}) == [
        ("real_validation", "an object (see onboard.runtime.card_metrics)", [1])]
