"""Pixel scores of cloud masks, and the real imagery they are measured on: the labelled tiles, and the cloud-free
Landsat pair (:mod:`training.landsat_pair`), where every flagged pixel is a false alarm.

The real tiles are ``shared/data/real_cloud_val/*.npz`` (its README gives sources, licences and how each label was
made): ``toa`` (H, W, 4) TOA reflectance in B, G, R, NIR order, ``cloud`` (H, W) uint8 with 0 clear, 1 thin,
2 thick and 255 no label. Cloud (thin or thick) is positive, clear negative, and unlabelled pixels are left out,
as ``score.py`` beside the tiles does, so the figures here and there agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from onboard.runtime.model import Model
from onboard.sensing.world import SYNTHETIC_BANDS
from rundir.truth import CLOUD_CLEAR, CLOUD_THICK, CLOUD_THIN, UNKNOWN
from training import landsat_pair
from training.landsat_pair import LANDSAT_SCENES, LANDSAT_TIME_UTC, landsat_toa

THRESHOLD = 0.5  # every consumer of the shipped cloud models decides cloud at this probability
WINDOW_OVERLAP_PX = 32  # sliding windows overlap by this much, as the cloud stage's default overlap_px
REAL_CLOUD_VAL_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real_cloud_val"


def confusion(predicted: np.ndarray, truth: np.ndarray) -> dict[str, int]:
    """Pixel counts tp, fp, fn, tn of boolean masks of any (equal) shape."""
    tp = int(np.count_nonzero(predicted & truth))
    fp = int(np.count_nonzero(predicted & ~truth))
    fn = int(np.count_nonzero(~predicted & truth))
    return {"tp": tp, "fp": fp, "fn": fn, "tn": int(truth.size) - tp - fp - fn}


def scores(counts: dict[str, int]) -> dict[str, float]:
    """precision, recall, F1, IoU, FPR and accuracy from pixel counts (0 where a ratio has no denominator)."""
    tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]

    def ratio(a: int, b: int) -> float:
        return a / b if b else 0.0

    return {"precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn), "f1": ratio(2 * tp, 2 * tp + fp + fn),
            "iou": ratio(tp, tp + fp + fn), "fpr": ratio(fp, fp + tn), "accuracy": ratio(tp + tn, tp + fp + fn + tn)}


@dataclass(frozen=True)
class RealTile:
    """One real labelled tile: TOA reflectance (H, W, 4) float32 in SYNTHETIC_BANDS order and its cloud codes."""

    name: str
    sensor: str
    gsd_m: float
    toa: np.ndarray
    cloud: np.ndarray

    def bands(self, names: Sequence[str]) -> np.ndarray:
        """``toa`` restricted to ``names`` (of SYNTHETIC_BANDS, in the order given), (H, W, len(names))."""
        return np.ascontiguousarray(self.toa[..., [SYNTHETIC_BANDS.index(name) for name in names]])


def load_real_tiles(directory: Path = REAL_CLOUD_VAL_DIR, names: Sequence[str] | None = None) -> list[RealTile]:
    """The tiles of ``directory`` (all ``*.npz``, sorted, or those ``names``). Raises FileNotFoundError when there
    are none."""
    paths = (sorted(directory.glob("*.npz")) if names is None else [directory / f"{name}.npz" for name in names])
    if not paths or not all(path.is_file() for path in paths):
        raise FileNotFoundError(f"no real labelled tiles {list(names or ['*.npz'])} in {directory}")
    tiles = []
    for path in paths:
        with np.load(path) as z:
            tiles.append(RealTile(path.stem, str(z["sensor"]), float(z["gsd_m"]), z["toa"].astype(np.float32),
                                  z["cloud"].astype(np.uint8)))
    return tiles


def tile_counts(predicted: np.ndarray, cloud: np.ndarray) -> dict[str, int]:
    """Confusion counts of a predicted mask (H, W) bool against cloud codes (H, W), unlabelled pixels left out,
    plus the thin and thick pixels and how many of each were found."""
    labelled = cloud != UNKNOWN
    counts = confusion(predicted[labelled], cloud[labelled] != CLOUD_CLEAR)
    for code, name in ((CLOUD_THIN, "thin"), (CLOUD_THICK, "thick")):
        counts[name] = int(np.count_nonzero(cloud == code))
        counts[f"{name}_found"] = int(np.count_nonzero(predicted & (cloud == code)))
    return counts


def summary(counts: dict[str, int]) -> dict[str, float | int | None]:
    """F1, IoU, FPR, precision, recall and thin- and thick-cloud recall (None without such pixels) of counts."""
    result: dict[str, float | int | None] = {k: round(v, 4) for k, v in scores(counts).items()
                                             if k in ("f1", "iou", "fpr", "precision", "recall")}
    for name in ("thin", "thick"):
        result[f"{name}_recall"] = round(counts[f"{name}_found"] / counts[name], 4) if counts[name] else None
    result["cloud_px"] = counts["tp"] + counts["fn"]
    result["clear_px"] = counts["fp"] + counts["tn"]
    return result


def real_validation(predict: Callable[[np.ndarray], np.ndarray], tiles: Sequence[RealTile],
                    bands: Sequence[str]) -> dict[str, object]:
    """Scores of a cloud mask on real tiles: per tile, per sensor and pooled (confusion counts summed).

    ``predict`` maps TOA reflectance (H, W, len(bands)) to a cloud mask (H, W) bool."""
    per_tile = {tile.name: tile_counts(np.asarray(predict(tile.bands(bands)), bool), tile.cloud) for tile in tiles}
    groups = {f"all {sensor}": [t.name for t in tiles if t.sensor == sensor]
              for sensor in sorted({t.sensor for t in tiles})}
    groups["pooled"] = [t.name for t in tiles]
    pooled = {group: summary({key: sum(per_tile[name][key] for name in names) for key in per_tile[names[0]]})
              for group, names in groups.items()}
    return {"tiles": {name: summary(counts) for name, counts in per_tile.items()}, **pooled}


def predict_frame(model: Model, toa: np.ndarray) -> np.ndarray:
    """Cloud probability (H, W) float32 of a frame (H, W, B) of TOA reflectance, by sliding windows."""
    scaling = model.card.inputs[0].scaling
    return model.predict_tiled(scaling.apply(toa), WINDOW_OVERLAP_PX)[..., 0]


def landsat_flagged_fraction(model: Model, sun_elevation_deg: float | None = None) -> dict[str, Any]:
    """Fraction of the valid pixels of both (nearly cloud-free) Landsat scenes that ``model`` flags as cloud,
    overall and per scene. With ``sun_elevation_deg`` the TOA reflectance is divided by its sine (the
    sun-elevation correction)."""
    bands = model.card.inputs[0].bands
    gain = 1.0 if sun_elevation_deg is None else 1.0 / np.sin(np.radians(sun_elevation_deg))
    flagged = valid_px = 0
    per_scene = {}
    for scene in LANDSAT_SCENES:
        toa, valid = landsat_toa(scene, bands)
        cloudy = (predict_frame(model, toa * np.float32(gain)) >= THRESHOLD) & valid
        per_scene[scene] = round(float(cloudy.sum() / valid.sum()), 5)
        flagged += int(cloudy.sum())
        valid_px += int(valid.sum())
    return {"fraction": round(flagged / valid_px, 5), "per_scene": per_scene}


def landsat_metrics(model: Model) -> dict[str, Any]:
    """The card's real-imagery figures: cloud-flagged fraction of the Landsat pair, as given and sun-corrected."""
    uncorrected = landsat_flagged_fraction(model)
    elevation = landsat_pair.sun_elevation_deg()
    corrected = landsat_flagged_fraction(model, elevation)
    return {"real_landsat_false_positive_fraction": uncorrected["fraction"],
            "real_landsat": {"scenes": list(LANDSAT_SCENES), "threshold": THRESHOLD,
                             "toa": "2e-5 * DN - 0.1 (Collection 1 rescaling, no sun-elevation correction)",
                             "flagged_fraction": uncorrected["fraction"], "per_scene": uncorrected["per_scene"],
                             "sun_corrected_flagged_fraction": corrected["fraction"],
                             "sun_corrected_per_scene": corrected["per_scene"],
                             "sun_elevation_deg": round(elevation, 1),
                             "sun_elevation_note": f"computed for the scene centre at {LANDSAT_TIME_UTC:%H:%M} UTC, "
                                                   "the usual overpass time (no metadata file)"}}
