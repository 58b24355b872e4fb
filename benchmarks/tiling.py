"""Measure the sliding-window path against bare inference on the shipped cloud models (issue 14).

For each model, one 1024 x 1024 frame of TOA reflectance (25 windows of 256 px with 32 px overlap) goes through:
- ``bare``: a loop of ``Model.invoke_raw`` on the 25 windows already quantised, the interpreter's own cost;
- ``windowed``: ``Model.predict_tiled``, what the cloud stage runs (quantise the frame once, copy each window into
  the input buffer, stitch the cores, dequantise the mosaic once);
- ``per_window``: ``onboard.pipeline.tiling.predict_tiled`` with ``Model.predict``, quantising and dequantising each window.
The three run interleaved, ``--repeats`` times, one interpreter thread; the JSON gives the median seconds of each
and the throughput ratios ``bare / windowed`` and ``bare / per_window`` (1.0: no overhead beyond inference).

Run: .venv/bin/python -m benchmarks.tiling [--repeats N] -> benchmarks/results/tiling.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from app.outputs import shown
from onboard.pipeline import tiling
from onboard.runtime.modelcard import MODEL_DIR
from onboard.runtime.model import Model

OUT = Path(__file__).with_name("results") / "tiling.json"
MODELS = ("cloud_bgrn_int8", "cloud_bgrn_float32", "cloud_rgb_int8", "cloud_rgb_float32")
FRAME_PX = 1024
OVERLAP_PX = 32  # the cloud stage's default


def measure(name: str, repeats: int) -> dict:
    model = Model(MODEL_DIR / f"{name}.tflite", threads=1)
    window_px, channels = model.input_shape[1], model.input_shape[3]
    frame = np.random.default_rng(0).uniform(0.0, 0.6, (FRAME_PX, FRAME_PX, channels)).astype(np.float32)
    frame = model.card.inputs[0].scaling.apply(frame)
    windows = tiling.windows(FRAME_PX, FRAME_PX, window_px, OVERLAP_PX)
    padded = np.pad(frame, ((window_px, window_px), (window_px, window_px), (0, 0)), mode="reflect")
    quantised = [model.quantize(padded[None, w.input.row0 + window_px:w.input.row1 + window_px,
                                       w.input.col0 + window_px:w.input.col1 + window_px]) for w in windows]
    paths = {"bare": lambda: [model.invoke_raw(q) for q in quantised],
             "windowed": lambda: model.predict_tiled(frame, OVERLAP_PX),
             "per_window": lambda: tiling.predict_tiled(frame, model.predict, window_px, OVERLAP_PX)}
    seconds: dict[str, list[float]] = {key: [] for key in paths}
    for _ in range(repeats):
        for key, run in paths.items():
            start = time.perf_counter()
            run()
            seconds[key].append(time.perf_counter() - start)
    median = {key: statistics.median(values) for key, values in seconds.items()}
    return {"windows": len(windows), "median_s": {k: round(v, 5) for k, v in median.items()},
            "windowed_throughput_vs_bare": round(median["bare"] / median["windowed"], 3),
            "per_window_throughput_vs_bare": round(median["bare"] / median["per_window"], 3)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    results = {name: measure(name, args.repeats) for name in MODELS}
    out = {"frame_px": FRAME_PX, "overlap_px": OVERLAP_PX, "repeats": args.repeats, "threads": 1,
           "host": platform.processor() or platform.machine(), "python": platform.python_version(), "models": results}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    for name, r in results.items():
        print(f"{name:20s} bare {r['median_s']['bare']:.3f} s  windowed {r['median_s']['windowed']:.3f} s "
              f"({r['windowed_throughput_vs_bare']:.2f}x)  per window {r['median_s']['per_window']:.3f} s "
              f"({r['per_window_throughput_vs_bare']:.2f}x)")
    print(f"-> {shown(OUT)}")


if __name__ == "__main__":
    main()
