"""The RGB cloud model on the real Landsat 8 pair in ../shared/data: the share of pixels it flags, and an overlay.

Both scenes (rows 077 and 078, nearly cloud-free) go through the RGB int8 model by sliding window as TOA
reflectance with the sun-elevation correction, read, corrected and scored as the model card's
``real_landsat.sun_corrected_*`` figures are (:func:`training.cloud_scores.landsat_cloud_masks`; the sun's
elevation from :func:`training.landsat_pair.sun_elevation_deg`), so the two agree, and the overlay draws the
masks counted. Writes
benchmarks/results/landsat_cloudmask.json and docs/landsat-cloudmask.png (flagged pixels in red).
Run: .venv/bin/python -m benchmarks.landsat_cloudmask
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from onboard.runtime.model import Model
from training import landsat_pair
from training.cloud_scores import THRESHOLD, flagged_fraction, landsat_cloud_masks

ROOT = Path(__file__).parents[1]
OUT_JSON = Path(__file__).with_name("results") / "landsat_cloudmask.json"
OUT_PNG = ROOT / "docs" / "landsat-cloudmask.png"


def overlay(toa: np.ndarray, cloudy: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB quick-look at 0.3x of a scene's TOA reflectance (H, W, 3: B, G, R), the pixels flagged as
    cloud in red."""
    rgb = np.clip(toa[..., ::-1] / 0.3, 0, 1) ** (1 / 1.8)  # B,G,R -> R,G,B, display gamma
    rgb[cloudy] = 0.4 * rgb[cloudy] + 0.6 * np.array([1.0, 0.0, 0.0])
    rgb[~valid] = 0
    return cv2.resize((rgb * 255).astype(np.uint8), None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)


def main() -> None:
    model = Model(ROOT / "onboard" / "runtime" / "models" / "cloud_rgb_int8.tflite", threads=2)
    elevation_deg = landsat_pair.sun_elevation_deg()
    panels = []

    def drawn(scenes):  # each scene's mask, as the card's figures count it, drawn as it goes by
        for scene, toa, cloudy, valid in scenes:
            panels.append(overlay(toa, cloudy, valid))
            yield scene, cloudy, valid

    flagged = flagged_fraction(drawn(landsat_cloud_masks(model, elevation_deg)))
    height = max(p.shape[0] for p in panels)
    canvas = np.hstack([np.pad(p, ((0, height - p.shape[0]), (0, 8), (0, 0))) for p in panels])
    OUT_PNG.parent.mkdir(exist_ok=True)
    cv2.imwrite(str(OUT_PNG), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    results = {"model": "cloud_rgb_int8", "sun_elevation_deg": round(elevation_deg, 1), "threshold": THRESHOLD,
               "flagged_fraction": flagged["fraction"], "per_scene": flagged["per_scene"]}
    OUT_JSON.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results), f"\nwrote {OUT_JSON.relative_to(ROOT)} and {OUT_PNG.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
