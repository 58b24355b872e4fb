"""The project's real imagery for scoring the shipped cloud models: the labelled tiles of
``shared/data/real_cloud_val`` (read and scored by :mod:`onboard.runtime.real_tiles`; their README gives sources,
licences and how each label was made), and the cloud-free Landsat pair (:mod:`training.landsat_pair`), where every
flagged pixel is a false alarm.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from onboard.runtime.model import Model
from training import landsat_pair
from training.landsat_pair import LANDSAT_SCENES, LANDSAT_TIME_UTC, landsat_toa

THRESHOLD = 0.5  # every consumer of the shipped cloud models decides cloud at this probability
WINDOW_OVERLAP_PX = 32  # sliding windows overlap by this much, as the cloud stage's on 256 px windows (overlap_px null)
REAL_CLOUD_VAL_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real_cloud_val"


def predict_frame(model: Model, toa: np.ndarray) -> np.ndarray:
    """Cloud probability (H, W) float32 of a frame (H, W, B) of TOA reflectance, by sliding windows."""
    scaling = model.card.inputs[0].scaling
    return model.predict_tiled(scaling.apply(toa), WINDOW_OVERLAP_PX)[..., 0]


def landsat_cloud_masks(model: Model, sun_elevation_deg: float | None = None
                        ) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Each Landsat scene through ``model``: ``(scene, toa, cloudy, valid)``, the TOA reflectance (H, W, B) float32
    as the model was fed it, the pixels it flags as cloud at THRESHOLD (H, W) bool and the valid pixels. With
    ``sun_elevation_deg`` the TOA reflectance is divided by its sine (the sun-elevation correction)."""
    bands = model.card.inputs[0].bands
    gain = 1.0 if sun_elevation_deg is None else 1.0 / np.sin(np.radians(sun_elevation_deg))
    for scene in LANDSAT_SCENES:
        toa, valid = landsat_toa(scene, bands)
        toa *= np.float32(gain)
        yield scene, toa, (predict_frame(model, toa) >= THRESHOLD) & valid, valid


def flagged_fraction(masks: Iterable[tuple[str, np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Fraction of the valid pixels flagged as cloud, overall and per scene, of ``(scene, cloudy, valid)`` masks."""
    flagged = valid_px = 0
    per_scene = {}
    for scene, cloudy, valid in masks:
        per_scene[scene] = round(float(cloudy.sum() / valid.sum()), 5)
        flagged += int(cloudy.sum())
        valid_px += int(valid.sum())
    return {"fraction": round(flagged / valid_px, 5), "per_scene": per_scene}


def landsat_flagged_fraction(model: Model, sun_elevation_deg: float | None = None) -> dict[str, Any]:
    """Fraction of the valid pixels of both (nearly cloud-free) Landsat scenes that ``model`` flags as cloud,
    overall and per scene (:func:`landsat_cloud_masks`, :func:`flagged_fraction`)."""
    return flagged_fraction((scene, cloudy, valid)
                            for scene, _, cloudy, valid in landsat_cloud_masks(model, sun_elevation_deg))


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
