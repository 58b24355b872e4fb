"""The RGB cloud model on the real Landsat 8 pair in ../shared/data: the share of pixels it flags, and an overlay.

Both scenes (rows 077 and 078, nearly cloud-free) go through the RGB int8 model by sliding window as TOA
reflectance (2e-5 DN - 0.1, divided by the sine of the sun elevation, 38 deg, as scenarios/landsat_parana.yaml
does). Writes benchmarks/results/landsat_cloudmask.json and docs/landsat-cloudmask.png (flagged pixels in red).
Run: .venv/bin/python benchmarks/landsat_cloudmask.py
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2

cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # GeoTIFF tags OpenCV does not name
import numpy as np

from onboard.runtime.model import Model

ROOT = Path(__file__).parents[1]
DATA = ROOT.parent / "shared" / "data" / "landsat8_p224_r077_r078"
SUN_ELEVATION_DEG = 38.0
OUT_JSON = Path(__file__).with_name("results") / "landsat_cloudmask.json"
OUT_PNG = ROOT / "docs" / "landsat-cloudmask.png"


def scene_toa(row: str) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) float32 TOA reflectance in B, G, R order and its (H, W) valid mask."""
    dn = np.dstack([cv2.imread(str(DATA / f"LC08_L1TP_224{row}_20200518_20200518_01_RT_B{b}.TIF"), cv2.IMREAD_UNCHANGED)
                    for b in (2, 3, 4)]).astype(np.float32)
    toa = (2e-5 * dn - 0.1) / math.sin(math.radians(SUN_ELEVATION_DEG))
    return np.clip(toa, 0, None), dn.min(axis=2) > 0


def main() -> None:
    model = Model(ROOT / "onboard" / "runtime" / "models" / "cloud_rgb_int8.tflite", bands=("B", "G", "R"), threads=2)
    results, panels = {}, []
    for row in ("077", "078"):
        toa, valid = scene_toa(row)
        prob = model.predict_tiled(toa, 32)[..., 0]
        cloud = (prob >= 0.5) & valid
        results[f"row_{row}"] = {"pixels": int(valid.sum()), "flagged_fraction": round(float(cloud.sum() / valid.sum()), 6)}
        rgb = np.clip(toa[..., ::-1] / 0.3, 0, 1) ** (1 / 1.8)  # B,G,R -> R,G,B, display gamma
        rgb[cloud] = 0.4 * rgb[cloud] + 0.6 * np.array([1.0, 0.0, 0.0])
        rgb[~valid] = 0
        panels.append(cv2.resize((rgb * 255).astype(np.uint8), None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA))
    height = max(p.shape[0] for p in panels)
    canvas = np.hstack([np.pad(p, ((0, height - p.shape[0]), (0, 8), (0, 0))) for p in panels])
    OUT_PNG.parent.mkdir(exist_ok=True)
    cv2.imwrite(str(OUT_PNG), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    total = sum(r["pixels"] for r in results.values())
    results["both"] = {"flagged_fraction": round(sum(r["flagged_fraction"] * r["pixels"] for r in results.values()) / total, 6)}
    OUT_JSON.write_text(json.dumps({"model": "cloud_rgb_int8", "sun_elevation_deg": SUN_ELEVATION_DEG, **results}, indent=2) + "\n")
    print(json.dumps(results), f"\nwrote {OUT_JSON} and {OUT_PNG}")


if __name__ == "__main__":
    main()
