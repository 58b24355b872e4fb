"""The x2 MISR model on real scene content: Landsat 8 crops of ../shared/data through the project's burst camera.

Each crop of :data:`training.superres_data.LANDSAT_CROPS` (B, G, R at 30 m) is the truth; the burst camera images it
K = 8 times at 60 m with sub-pixel jitter, noise and drifting frame clouds; the bursts are registered (ECC) and fused
by the shipped int8 and float32 models and by the classic baselines, exactly as the superres stage does on board.
Writes benchmarks/results/landsat_superres.json (cPSNR and SSIM per crop and mean) and docs/landsat-superres.png
(low-res frame, bicubic, shift-and-add, model and truth for the first crop).
Run from the repository root: .venv/bin/python -m benchmarks.landsat_superres
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ground import plots
from ground.image_quality import cpsnr_db, ssim
from onboard.pipeline import fusion
from onboard.pipeline.superres import load_model
from training import superres_data

ROOT = Path(__file__).parents[1]
OUT_JSON = Path(__file__).with_name("results") / "landsat_superres.json"
OUT_PNG = ROOT / "docs" / "landsat-superres.png"
CROP_PX = 256  # low-res frame side; the truth is 512 Landsat pixels (as in the model card)
FIGURE_PX = 64  # low-res side of the figure's crop
SEED = 11


def main() -> None:
    models = {kind: load_model(f"superres_x2_{kind}", 2) for kind in ("int8", "float32")}
    rng = np.random.default_rng(SEED)
    results, first = [], None
    for scene, row0, col0 in superres_data.LANDSAT_CROPS:
        shot = superres_data.landsat_burst(scene, row0, col0, CROP_PX, np.random.default_rng(rng.integers(2**63)))
        b, lr, clear, shifts = shot.burst, shot.lr, shot.clear, shot.shifts_px
        planes = fusion.misr_planes(lr, shifts, clear, 2)
        learned = np.stack([fusion.misr_from_planes([models["int8"], models["float32"]], band, 2) for band in planes],
                           axis=2)  # (H*s, W*s, B, model)
        images = {"model_int8": learned[..., 0], "model_float32": learned[..., 1],
                  "bicubic": fusion.bicubic(lr, clear, 2),
                  "bicubic_registered": np.moveaxis(planes[..., 0], 0, -1),
                  "shift_and_add": np.moveaxis(planes[..., 1], 0, -1)}
        results.append({"scene": scene, "row0": row0, "col0": col0,
                        "cpsnr_db": {m: round(cpsnr_db(img, b.hr_truth, b.hr_clear), 3) for m, img in images.items()},
                        "ssim": {m: round(ssim(img, b.hr_truth, b.hr_clear), 5) for m, img in images.items()}})
        if first is None:
            first = (scene, lr[0], images, b.hr_truth)
    methods = list(results[0]["cpsnr_db"])
    doc = {"crops": results, "frames": 8, "scale": 2, "low_res_px": CROP_PX,
           "mean_cpsnr_db": {m: round(float(np.mean([r["cpsnr_db"][m] for r in results])), 3) for m in methods},
           "mean_ssim": {m: round(float(np.mean([r["ssim"][m] for r in results])), 5) for m in methods}}
    OUT_JSON.parent.mkdir(exist_ok=True)
    OUT_JSON.write_text(json.dumps(doc, indent=2) + "\n")
    scene, low_res, images, truth = first
    n, box = FIGURE_PX, (slice(0, 2 * FIGURE_PX), slice(0, 2 * FIGURE_PX))
    panels = [("low-res frame 0 (60 m)", np.repeat(np.repeat(low_res[:n, :n], 2, 0), 2, 1)),
              ("bicubic", images["bicubic"][box]), ("shift-and-add", images["shift_and_add"][box]),
              ("model int8", images["model_int8"][box]), ("truth: Landsat 8 (30 m)", truth[box])]
    plots.plot_superres_crops(panels, OUT_PNG, f"{scene}, {n} x {n} low-res px, x2")
    for method in methods:
        print(f"{method:<20} mean cPSNR {doc['mean_cpsnr_db'][method]:6.2f} dB   mean SSIM {doc['mean_ssim'][method]:.4f}")
    print(f"wrote {OUT_JSON.relative_to(ROOT)} and {OUT_PNG.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
