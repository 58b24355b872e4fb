"""Measure each shipped model's host latency and record it in its card, where the simulation reads stage times.

For every onboard/runtime/models/*.tflite: one interpreter thread on the host CPU (XNNPACK), 5 warm-up runs, then the
median of --runs timed invocations on a fixed input, all in one run so int8 and float32 twins compare fairly.
Writes benchmarks/results/models.json (with the int8 / float32 latency ratio of each pair) and the card's
``benchmark`` field ({host_latency_ms_p50, runs, threads, host}); the card's sha256 covers the .tflite only.
``--models STEM ...`` measures only those (a retrained pair, say) and keeps the other models' entries as they were.
Run: .venv/bin/python benchmarks/models.py [--runs N] [--models STEM ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
from pathlib import Path

import numpy as np

from onboard.runtime.bench import timed_ms
from onboard.runtime.modelcard import Benchmark, load_card, write_card
from onboard.runtime.model import Model

MODEL_DIR = Path(__file__).parents[1] / "onboard" / "runtime" / "models"
OUT = Path(__file__).with_name("results") / "models.json"


def latency_ms(model: Model, runs: int) -> list[float]:
    return timed_ms(model, np.zeros(model.input_shape, model.input_dtype), runs, warmup=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--models", nargs="+", metavar="STEM", help="only these models (file stems); the others' "
                        "entries in models.json are kept")
    args = parser.parse_args()
    host = platform.processor() or platform.machine()
    paths = sorted(MODEL_DIR.glob("*.tflite"))
    unknown = set(args.models or ()) - {path.stem for path in paths}
    if unknown:
        parser.error(f"--models: no shipped model {', '.join(sorted(unknown))}")
    results = json.loads(OUT.read_text())["models"] if args.models and OUT.is_file() else {}
    for path in paths:
        if args.models and path.stem not in args.models:
            continue
        model = Model(path, threads=1)
        times = latency_ms(model, args.runs)
        results[path.stem] = {"host_latency_ms_p50": round(statistics.median(times), 3),
                              "host_latency_ms_min": round(min(times), 3), "runs": args.runs, "threads": 1, "host": host}
        card_path = path.with_suffix(".json")
        measured = Benchmark(**{k: results[path.stem][k] for k in ("host_latency_ms_p50", "runs", "threads", "host")})
        write_card(dataclasses.replace(load_card(card_path), benchmark=measured), card_path)
        print(f"{path.stem:<24} p50 {results[path.stem]['host_latency_ms_p50']:8.2f} ms  min {results[path.stem]['host_latency_ms_min']:8.2f} ms")
    ratios = {stem[: -len("_int8")]: round(results[stem]["host_latency_ms_p50"] / results[twin]["host_latency_ms_p50"], 3)
              for stem in results if stem.endswith("_int8") and (twin := stem[: -len("_int8")] + "_float32") in results}
    for family, ratio in ratios.items():
        print(f"{family:<24} int8 / float32 latency = {ratio:.2f}")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"models": results, "int8_over_float32_latency": ratios}, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
