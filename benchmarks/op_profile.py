"""Per-op host latency of the shipped models, int8 against float32: where does full int8 lose its speed?

LiteRT's Python interpreter has no op profiler, so each op is timed by truncation: for k = 1..n the model is cut
after its k-th operator (``tensorflow.lite.tools.flatbuffer_utils``: the operator list shortened and the k-th op's
output made the graph output), run on one thread with XNNPACK as the simulation runs it, and the op's cost is the
median latency of the k-op graph minus that of the (k-1)-op graph. A graph's ops run in order, so the differences
add up to the whole model's latency; single differences are noisy at the 0.01 ms level. The int8 and float32 twins
have the same graph, so their rows pair up op by op.

Needs TensorFlow (the ``[train]`` extra) for the flatbuffer tools.
Run: .venv/bin/python -m benchmarks.op_profile [--models cloud_bgrn superres_x2] [--runs 60]
-> benchmarks/results/op_profile.json
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
from onboard.runtime.interpreter import resolve_runtime

MODEL_DIR = Path(__file__).parents[1] / "onboard" / "runtime" / "models"
OUT = Path(__file__).with_name("results") / "op_profile.json"


def truncated(path: Path, k: int) -> tuple[bytes, dict]:
    """The model at ``path`` cut after its k-th operator, and that operator's name and output shape."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    graph = model.subgraphs[0]
    graph.operators = graph.operators[:k]
    op = graph.operators[-1]
    graph.outputs = [op.outputs[0]]
    code = model.operatorCodes[op.opcodeIndex]
    names = {v: n for n, v in vars(schema.BuiltinOperator).items() if not n.startswith("_")}
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    out = graph.tensors[op.outputs[0]]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), {
        "op": names.get(builtin, str(builtin)), "output_shape": [int(d) for d in out.shape]}


def latency_ms(content: bytes, runs: int) -> float:
    """Median latency of one invoke, one thread, zero input, after 5 warm-up runs."""
    interpreter = resolve_runtime().interpreter(model_content=content, num_threads=1)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    for _ in range(5):
        interpreter.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def profile(path: Path, runs: int) -> list[dict]:
    """One row per operator: its name, output shape, the latency up to it and its own share (ms)."""
    from tensorflow.lite.tools import flatbuffer_utils

    n_ops = len(flatbuffer_utils.read_model(str(path)).subgraphs[0].operators)
    rows, previous = [], 0.0
    for k in range(1, n_ops + 1):
        content, row = truncated(path, k)
        cumulative = latency_ms(content, runs)
        rows.append({"index": k, **row, "cumulative_ms": round(cumulative, 4), "op_ms": round(cumulative - previous, 4)})
        previous = cumulative
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cloud_bgrn", "superres_x2"])
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args(argv)
    result: dict = {"host": platform.processor() or platform.machine(), "threads": 1, "runs": args.runs, "models": {}}
    for name in args.models:
        pair = {dtype: profile(MODEL_DIR / f"{name}_{dtype}.tflite", args.runs) for dtype in ("int8", "float32")}
        ops = [{"index": q["index"], "op": q["op"], "output_shape": q["output_shape"], "int8_ms": q["op_ms"],
                "float32_ms": f["op_ms"], "int8_over_float32": round(q["op_ms"] / f["op_ms"], 2) if f["op_ms"] > 0.02 else None}
               for q, f in zip(pair["int8"], pair["float32"])]
        full_res = [o for o in ops if o["output_shape"][1] >= max(p["output_shape"][1] for p in ops) // 2]
        result["models"][name] = {
            "int8_total_ms": pair["int8"][-1]["cumulative_ms"], "float32_total_ms": pair["float32"][-1]["cumulative_ms"],
            "ops": ops,
            "ops_at_half_or_full_resolution": {"int8_ms": round(sum(o["int8_ms"] for o in full_res), 3),
                                               "float32_ms": round(sum(o["float32_ms"] for o in full_res), 3)}}
        m = result["models"][name]
        print(f"{name}: int8 {m['int8_total_ms']:.2f} ms, float32 {m['float32_total_ms']:.2f} ms; ops at >= half "
              f"resolution: int8 {m['ops_at_half_or_full_resolution']['int8_ms']:.2f} ms, float32 "
              f"{m['ops_at_half_or_full_resolution']['float32_ms']:.2f} ms")
        for o in ops:
            print(f"  {o['index']:3d} {o['op']:<20} {str(o['output_shape']):<20} int8 {o['int8_ms']:7.3f}  "
                  f"float32 {o['float32_ms']:7.3f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(f"-> {shown(OUT)}")


if __name__ == "__main__":
    main()
