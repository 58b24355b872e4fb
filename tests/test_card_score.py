"""onboard.runtime.card_score: a user's cloud model scored on labelled tiles as the cloud stage runs it, and the
scores written into its card, where the next run reads them (real model, real card, tiles written here)."""

import json

import numpy as np
import pytest

from app.cli import main
from onboard.pipeline import cloud
from onboard.runtime.card_score import MOST_CLEAR_FPR, broken_scores, score_card
from onboard.runtime.modelcard import load_card
from rundir.errors import InputFileError, OrbitEdgeError
from tests.user_models import user_model


def tiles(into, sensor="Sentinel-2 MSI"):
    """Two 96 px tiles: bright cloud (visible 0.5, thick) on the left, dark ground (0.05, clear) on the right, and a
    strip of unlabelled pixels: 4608 cloud and 4032 clear pixels scored per tile (the user model's rule is exact)."""
    into.mkdir()
    toa = np.full((96, 96, 4), 0.05, np.float32)
    toa[:, :48] = 0.5
    cloud_codes = np.zeros((96, 96), np.uint8)
    cloud_codes[:, :48] = 2
    cloud_codes[:, 90:] = 255
    for name in ("a", "b"):
        np.savez(into / f"{name}.npz", toa=toa, cloud=cloud_codes, sensor=sensor, gsd_m=10.0)
    return into


@pytest.fixture()
def carded(tmp_path):
    model = user_model("uint8.tflite", tmp_path / "models")
    assert main(["card", "init", str(model), "--task", "segmentation", "--bands", "B,G,R,NIR", "--classes",
                 "clear,cloud", "--activation", "softmax"]) == 0
    return model


def test_the_scores_go_into_the_card_and_the_stage_reads_them(tmp_path, carded):
    block = score_card(carded, tiles(tmp_path / "tiles"), overlap_px=8)
    assert block["pooled"]["f1"] == 1.0 and block["pooled"]["fpr"] == 0.0
    assert (block["pooled"]["cloud_px"], block["pooled"]["clear_px"]) == (2 * 96 * 48, 2 * 96 * 42)
    assert list(block["tiles"]) == ["a", "b"] and "all Sentinel-2 MSI" in block
    assert block["threshold"] == 0.5 and block["windows"] == "48 px, overlap 8 px"
    card = load_card(carded.with_suffix(".json"))
    assert card.metrics["real_validation"] == json.loads(json.dumps(block))
    carried = cloud.validation_figures(card, shipped=False)
    assert (carried.real_validation.tiles, carried.real_validation.pooled.f1) == (2, 1.0)
    again = score_card(carded, tiles(tmp_path / "other", sensor="Landsat-8 OLI"), threshold=0.99, overlap_px=8)
    metrics = load_card(carded.with_suffix(".json")).metrics
    assert metrics["real_validation"]["threshold"] == 0.99 == again["threshold"]  # replaced, not merged
    assert "all Sentinel-2 MSI" not in metrics["real_validation"]


def test_what_cannot_be_scored_is_named_before_any_tile_is_read(tmp_path, carded):
    card_path = carded.with_suffix(".json")
    assert main(["card", "init", str(carded), "--task", "segmentation", "--bands", "B,G,R,NIR", "--classes",
                 "clear,cloud", "--activation", "softmax", "--source", "dn", "--dn-bits", "12", "--scale", "0.0003",
                 "--force"]) == 0
    with pytest.raises(InputFileError, match="input made from dn: the tiles hold TOA reflectance"):
        score_card(carded, tmp_path / "no-tiles")
    card_path.unlink()
    with pytest.raises(InputFileError, match="expected a model card at .*uint8.json"):
        score_card(carded, tmp_path / "no-tiles")


def test_the_overlap_is_the_stages_own_rule_and_defaults_to_a_quarter_of_a_small_window(tmp_path, carded):
    """The user model's window is 48 px: the stage's 32 px default would be refused by validate, so card score
    takes 12 px; an overlap validate refuses (24, half the window) is refused here too, in the same words."""
    block = score_card(carded, tiles(tmp_path / "tiles"))
    assert block["windows"] == "48 px, overlap 12 px"
    for overlap_px in (24, 32):
        with pytest.raises(OrbitEdgeError) as err:
            score_card(carded, tmp_path / "tiles", overlap_px=overlap_px)
        assert str(err.value) == (f"card score: --overlap-px: expected less than half the 48 px window of {carded} "
                                  f"(e.g. 12), found {overlap_px}")
    assert load_card(carded.with_suffix(".json")).metrics["real_validation"]["windows"] == "48 px, overlap 12 px"


def pooled(recall, fpr):
    return {"pooled": {"recall": recall, "fpr": fpr, "f1": 0.5, "iou": 0.3, "cloud_px": 100, "clear_px": 100}}


@pytest.mark.parametrize("recall, fpr, starts", [
    (0.9, 0.02, []), (0.135, 0.0104, []), (0.58, 0.14, []),  # weak models are weak, not broken
    (0.0, 0.0, ["it finds no cloud at all (recall 0 on 100 cloud pixels)"]),
    (1.0, 1.0, ["it calls every clear pixel cloud (FPR 1.000, above 0.5"]),
    (1.0, MOST_CLEAR_FPR, []), (1.0, 0.72, ["it calls most clear pixels cloud (FPR 0.720, above 0.5"]),
    (0.42, 0.86, ["it calls most clear pixels cloud (FPR 0.860", "it does no better than chance (recall 0.420 at FPR "
                                                                  "0.860"]),
    (0.3, 0.3, ["it does no better than chance (recall 0.300 at FPR 0.300"]),
])
def test_scores_that_say_the_model_is_broken_are_named_with_their_usual_causes(recall, fpr, starts):
    found = broken_scores(pooled(recall, fpr))
    assert len(found) == len(starts) and all(text.startswith(start) for text, start in zip(found, starts))
    assert all("--scale" in text and "--classes" in text for text in found)


def test_a_model_carded_with_its_classes_swapped_scores_broken(tmp_path):
    """The user model's channels are (clear, cloud): named (cloud, clear), the stage reads the clear channel as cloud,
    finding none of the bright cloud and calling all the dark ground cloud."""
    model = user_model("uint8.tflite", tmp_path / "models")
    assert main(["card", "init", str(model), "--task", "segmentation", "--bands", "B,G,R,NIR", "--classes",
                 "cloud,clear", "--activation", "softmax"]) == 0
    block = score_card(model, tiles(tmp_path / "tiles"), overlap_px=8)
    assert (block["pooled"]["recall"], block["pooled"]["fpr"]) == (0.0, 1.0)
    assert [text.split(" (")[0] for text in broken_scores(block)] == ["it finds no cloud at all",
                                                                      "it calls every clear pixel cloud"]
