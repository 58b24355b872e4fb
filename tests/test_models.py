"""The shipped cloud models in onboard/models, through the real interpreter (no TensorFlow): each loads with its
card and matches it, int8 agrees with float32, the held-out figures in the cards meet the targets, fresh
held-out frames reproduce them, and the RGB model leaves the nearly cloud-free Landsat pair clear."""

import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from onboard.pipeline.cloud import CloudFilter
from onboard.runtime.model import Model
from onboard.pipeline.spectral import cloud_mask
from onboard.pipeline.tiling import predict_tiled, stage_overlap_px
from rundir.errors import InputFileError
from training.cloud_data import make_frames
from training.cloud_scores import REAL_CLOUD_VAL_DIR
from onboard.runtime.real_tiles import load_real_tiles
MODELS = Path(__file__).resolve().parent.parent / "onboard" / "runtime" / "models"
VARIANTS = {"bgrn": ("B", "G", "R", "NIR"), "rgb": ("B", "G", "R")}
KINDS = ("int8", "float32")
SHIPPED = [(variant, kind) for variant in VARIANTS for kind in KINDS]
INT8_FRIENDLY_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "RESIZE_BILINEAR", "CONCATENATION", "LOGISTIC"}
MAX_MODEL_BYTES = 1_000_000
WINDOW_PX, OVERLAP_PX = 256, 32
LANDSAT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "landsat8_p224_r077_r078"


def path_of(variant: str, kind: str) -> Path:
    return MODELS / f"cloud_{variant}_{kind}.tflite"


@pytest.fixture(scope="module")
def models() -> dict[tuple[str, str], Model]:
    return {(variant, kind): Model(path_of(variant, kind), threads=2) for variant, kind in SHIPPED}


@pytest.fixture(scope="module")
def heldout():
    """Fresh held-out frames (another draw seed than the cards'), 512 px: larger than the model's window."""
    card = json.loads(path_of("bgrn", "int8").with_suffix(".json").read_text())
    return make_frames("heldout", 8, 512, seed=card["training"]["seeds"]["data_seed"] + 1)


def probability(model: Model, toa: np.ndarray) -> np.ndarray:
    """Cloud probability (H, W) of a TOA frame (H, W, B) by sliding windows, scaled as the card says."""
    scaling = model.card.inputs[0].scaling
    return predict_tiled(scaling.apply(toa), model.predict, WINDOW_PX, OVERLAP_PX)[..., 0]


def f1_score(predicted: np.ndarray, truth: np.ndarray) -> float:
    tp = np.count_nonzero(predicted & truth)
    return 2 * tp / (2 * tp + np.count_nonzero(predicted != truth))


# ---------------------------------------------------------------------------------------- files and cards


@pytest.mark.parametrize("variant,kind", SHIPPED)
def test_model_matches_its_card(models, variant, kind):
    path = path_of(variant, kind)
    model = models[variant, kind]
    card = model.card
    assert card.path == path.with_suffix(".json")
    assert card.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert card.size_bytes == path.stat().st_size <= MAX_MODEL_BYTES
    assert card.inputs[0].bands == VARIANTS[variant]
    assert model.input_shape == (1, 256, 256, len(VARIANTS[variant]))
    assert model.output_shape == (1, 256, 256, 1)
    assert model.input_dtype.name == model.output_dtype.name == kind
    assert card.inputs[0].scaling.source == "toa_reflectance"
    assert set(card.ops) == set(model.op_names()) <= INT8_FRIENDLY_OPS


def test_camera_without_nir_cannot_use_the_bgrn_model():
    with pytest.raises(InputFileError, match=r"bands is \['B', 'G', 'R', 'NIR'\] in the card but the camera gives"):
        Model(path_of("bgrn", "int8"), bands=("B", "G", "R"))


def test_cards_meet_the_targets(models):
    metrics = {key: model.card.metrics for key, model in models.items()}
    bgrn_int8 = metrics["bgrn", "int8"]["heldout"]
    assert bgrn_int8["pixel_f1"] >= 0.92
    assert bgrn_int8["pixel_iou"] >= 0.85
    for variant in VARIANTS:
        int8, float32 = metrics[variant, "int8"], metrics[variant, "float32"]
        assert abs(int8["heldout"]["pixel_f1"] - float32["heldout"]["pixel_f1"]) <= 0.01
        assert int8["heldout"]["pixel_f1"] > int8["spectral_baseline"]["pixel_f1"]
    assert metrics["rgb", "int8"]["real_landsat_false_positive_fraction"] <= 0.03


# -------------------------------------------------------------------------------------------- behaviour


@pytest.mark.parametrize("variant", VARIANTS)
def test_int8_agrees_with_float32(models, heldout, variant):
    bands = VARIANTS[variant]
    toa = heldout.bands(bands)[:2, :256, :256].astype(np.float32)
    int8 = np.stack([models[variant, "int8"].predict(frame)[..., 0] for frame in toa])
    float32 = np.stack([models[variant, "float32"].predict(frame)[..., 0] for frame in toa])
    assert np.mean(np.abs(int8 - float32)) < 0.02  # probability
    assert np.mean((int8 >= 0.5) == (float32 >= 0.5)) > 0.99  # pixels


def test_int8_bgrn_on_fresh_heldout_frames(models, heldout):
    """Sliding-window F1 on fresh frames is near the card's, and above the spectral baseline's on them."""
    model = models["bgrn", "int8"]
    bands = VARIANTS["bgrn"]
    toa = heldout.bands(bands).astype(np.float32)
    predicted = np.stack([probability(model, frame) >= 0.5 for frame in toa])
    baseline = np.stack([cloud_mask(frame, bands) for frame in toa])
    f1 = f1_score(predicted, heldout.label)
    assert f1 == pytest.approx(model.card.metrics["heldout"]["pixel_f1"], abs=0.03)
    assert f1 > f1_score(baseline, heldout.label)


@pytest.mark.skipif(not LANDSAT.is_dir(), reason=f"the Landsat pair is not at {LANDSAT}")
def test_rgb_model_leaves_the_real_landsat_scene_clear(models):
    """A 512 px crop of Landsat 8 row 077 (B2, B3, B4; TOA = 2e-5 DN - 0.1), nearly cloud-free."""
    scene = LANDSAT / "LC08_L1TP_224077_20200518_20200518_01_RT"
    dn = np.dstack([cv2.imread(f"{scene}_B{band}.TIF", cv2.IMREAD_UNCHANGED)[500:1012, 700:1212] for band in (2, 3, 4)])
    assert (dn > 0).all()
    toa = dn.astype(np.float32) * np.float32(2e-5) - np.float32(0.1)
    flagged = probability(models["rgb", "int8"], toa) >= 0.5
    assert flagged.mean() <= 0.03


@pytest.mark.skipif(not REAL_CLOUD_VAL_DIR.is_dir(), reason=f"no real tiles at {REAL_CLOUD_VAL_DIR}")
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("tile,min_agreement,max_mean", [("s2_virginia_farmland_clear", 0.995, 0.01),
                                                         ("l8_gulfcoast_altocumulus", 0.96, 0.04)])
def test_probability_does_not_depend_on_where_the_windows_fall(models, variant, tile, min_agreement, max_mean):
    """The same ground gets nearly the same cloud probability whichever way the sliding windows fall on it: a real
    tile against itself cut 100 px later, at the cloud stage's overlap. On farmland the decisions agree; on the
    textured altocumulus deck, where most pixels sit near the threshold, ~3 % flip: the shift variance of the
    network's stride-2 subsampling and its view of the window's context (README, "Realism", what is left)."""
    overlap_px = stage_overlap_px(CloudFilter.Params().overlap_px, WINDOW_PX)
    model = models[variant, "int8"]
    toa = load_real_tiles(REAL_CLOUD_VAL_DIR, names=[tile])[0].bands(VARIANTS[variant])
    shift, border = 100, overlap_px  # the shifted frame's own edge (reflection padding) is left out

    def prob(frame):
        return predict_tiled(model.card.inputs[0].scaling.apply(frame), model.predict, WINDOW_PX, overlap_px)[..., 0]

    whole = prob(toa)[shift + border:-border, shift + border:-border]
    shifted = prob(toa[shift:, shift:])[border:-border, border:-border]
    assert np.mean(np.abs(whole - shifted)) < max_mean
    assert np.mean((whole >= 0.5) == (shifted >= 0.5)) > min_agreement
