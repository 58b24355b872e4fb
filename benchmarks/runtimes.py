"""LiteRT against ONNX Runtime on the same model: the share of output codes within 1 LSB, for each shipped int8
model and its ONNX twin, on white-noise input codes and, for the cloud models, on every whole model window of the
real tiles of ``shared/data/real_cloud_val``.

Two twins per model: tf2onnx's export as it comes (``tf2onnx``) and orbitedge's (``orbitedge``,
:func:`onboard.runtime.onnx_export.export_tflite`, which rounds the int8 Resize's ties half up as LiteRT does). Both runtimes
run through :class:`onboard.runtime.model.Model` on the CPU (LiteRT: its default XNNPACK kernels; ONNX Runtime: the CPU
execution provider), fed the same quantised codes. Writes ``benchmarks/results/runtimes.json``.

Run: .venv/bin/python -m benchmarks.runtimes   (needs the [train] extra: tf2onnx; about a minute)
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from onboard.runtime.onnx_export import ONNX_OPSET, export_tflite
from onboard.runtime.model import Model
from onboard.sensing.world import SYNTHETIC_BANDS
from training.cloud_scores import REAL_CLOUD_VAL_DIR
from onboard.runtime.real_tiles import load_real_tiles
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "runtimes.json"
MODELS = ("cloud_rgb_int8", "cloud_bgrn_int8", "superres_x2_int8")
NOISE_SEEDS = (0, 1, 2, 3)


def raw_twin(tflite: Path, out_dir: Path) -> Path:
    """tf2onnx's export of ``tflite``, untouched (what export_tflite starts from)."""
    import tf2onnx

    target = out_dir / f"{tflite.stem}_tf2onnx.onnx"
    tf2onnx.convert.from_tflite(str(tflite), opset=ONNX_OPSET, output_path=str(target))
    return target


def inputs(litert: Model) -> list[tuple[str, np.ndarray]]:
    """(name, input codes (1, H, W, C)) for the white-noise seeds and, for a model whose input bands are reflectance
    bands of the real tiles, each whole window of each real tile."""
    info = np.iinfo(litert.input_dtype)
    found = [(f"noise{seed}", np.random.default_rng(seed).integers(info.min, info.max + 1, litert.input_shape)
              .astype(litert.input_dtype)) for seed in NOISE_SEEDS]
    size_px, bands = litert.input_shape[1], litert.card.inputs[0].bands
    if not REAL_CLOUD_VAL_DIR.is_dir() or not set(bands) <= set(SYNTHETIC_BANDS):
        return found
    for tile in load_real_tiles(REAL_CLOUD_VAL_DIR):
        toa = tile.bands(bands)
        for y in range(0, toa.shape[0] - size_px + 1, size_px):
            for x in range(0, toa.shape[1] - size_px + 1, size_px):
                found.append((f"{tile.name}@{y},{x}", litert.quantize(toa[None, y:y + size_px, x:x + size_px])))
    return found


def agreement(litert: Model, twin: Model, cases: list[tuple[str, np.ndarray]]) -> dict[str, Any]:
    """Within-1-LSB and exact shares, pooled over the noise cases and over the real windows, and the worst case."""
    rows = {}
    for name, codes in cases:
        diff = np.abs(litert.invoke_raw(codes).astype(int) - twin.invoke_raw(codes).astype(int))
        rows[name] = (float(np.mean(diff <= 1)), float(np.mean(diff == 0)), int(diff.max()))
    result: dict[str, Any] = {}
    for group, names in (("noise", [n for n in rows if n.startswith("noise")]),
                         ("real", [n for n in rows if not n.startswith("noise")])):
        if names:
            worst = min(names, key=lambda n: rows[n][0])
            result[group] = {"cases": len(names), "within_1_lsb": round(float(np.mean([rows[n][0] for n in names])), 5),
                             "exact": round(float(np.mean([rows[n][1] for n in names])), 5),
                             "max_lsb": max(rows[n][2] for n in names),
                             "worst_case": worst, "worst_within_1_lsb": round(rows[worst][0], 5),
                             "cases_below_99pct": sum(rows[n][0] < 0.99 for n in names)}
    return result


def main() -> int:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in MODELS:
            tflite = ROOT / "onboard" / "runtime" / "models" / f"{name}.tflite"
            litert = Model(tflite)
            cases = inputs(litert)
            twins = {"tf2onnx": Model(raw_twin(tflite, Path(tmp)), use_card=False),
                     "orbitedge": Model(export_tflite(tflite, Path(tmp)))}
            results[name] = {label: agreement(litert, twin, cases) for label, twin in twins.items()}
            print(name, json.dumps(results[name]))
    OUT.write_text(json.dumps({"date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                               "onnx_opset": ONNX_OPSET, "models": results}, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
