"""The table of `orbitedge bench` (onboard/runtime/bench_table.py): twins adjacent, the runtimes side by side with their
agreement, and columns that stay apart."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from onboard.runtime import bench, bench_table

DATA = Path(__file__).parent / "data"
TINY_INT8 = DATA / "tiny_int8.tflite"
TINY_FLOAT32 = DATA / "tiny_float32.tflite"


@pytest.fixture(scope="module")
def tiny_results():
    return [bench.measure(path, runs=8, warmup=2) for path in (TINY_INT8, TINY_FLOAT32)]


def test_twins_are_paired_float32_then_int8(tiny_results):
    table = bench_table.render(tiny_results, None)
    assert table.index("tiny_float32") < table.index("tiny_int8") < table.index("int8 / float32 (ai_edge_litert)")


def test_table_columns_stay_apart_at_hundreds_of_thousands_of_inferences_per_second(tiny_results):
    fast = dataclasses.replace(tiny_results[0], inferences_per_s=266761.4, offline_samples_per_s=106025.8)
    head, _, row = bench_table.render([fast], None).splitlines()[3:6]
    assert row.split()[head.split().index("inf/s") - 1] == "266761.4"  # "mean±std" is one header word, two columns
    assert head.index("inf/s") + len("inf/s") == row.index("266761.4") + len("266761.4")


def test_a_slow_models_columns_widen_and_stay_apart(tiny_results):
    """A 1.4 s model (p99 1358.07 ms, mean 1057.08 ± 201.07) ran its p99 into mean±std; its columns now widen, for
    every row, and each cell ends under its header. A usual row keeps the usual widths."""
    usual = bench_table.render(tiny_results, None).splitlines()[3]
    assert usual == (f"{'model':<22}{'runtime':<16}{'size kB':>8}{'init':>8}{'first':>8}{'warm':>8}{'min':>8}"
                     f"{'p50':>8}{'p90':>8}{'p99':>8}{'mean±std':>14}{'inf/s':>10}{'Mpx/s':>7}{'offline/s':>10}"
                     f"{'RSS MB':>8}  held-out")
    latency = bench.Latency(min=903.5, p50=1012.4, p90=1290.33, p99=1358.07, mean=1057.08, std=201.07)
    slow = dataclasses.replace(tiny_results[1], model="m6_heavy_f32", latency_ms=latency, init_ms=12.5,
                               first_inference_ms=1403.2, warmup_mean_ms=1100.0)
    lines = bench_table.render([tiny_results[0], slow], None).splitlines()
    head, rows = lines[3], [line for line in lines if line.startswith(("m6_heavy_f32", "tiny_int8"))]
    for row in rows:
        cells = row.split()
        assert len(cells) == 2 + len(bench_table.NUMBER_COLUMNS) + 1  # model, runtime, numbers, held-out "-"
    slow_row = next(row for row in rows if row.startswith("m6"))
    assert slow_row.split()[9:11] == ["1358.07", "1057.08±201.07"]
    for name, value in (("p99", "1358.07"), ("mean±std", "1057.08±201.07"), ("p90", "1290.33")):
        assert head.index(name) + len(name) == slow_row.index(value) + len(value)


def test_an_onnx_twin_sits_under_its_litert_row_with_their_agreement(tiny_results):
    litert = tiny_results[0]
    codes = litert.output
    moved = np.flatnonzero(codes.ravel() <= 125)[:codes.size // 10]  # two quantisation steps away, no saturation
    off_by_two = codes.copy().ravel()
    off_by_two[moved] += 2
    onnx = dataclasses.replace(litert, runtime="onnxruntime", size_bytes=2 * litert.size_bytes,
                               output=off_by_two.reshape(codes.shape))
    table = bench_table.render([onnx, litert], None)
    assert table.index("ai_edge_litert") < table.index("onnxruntime     ")
    (pair,) = bench.runtime_pairs([litert, onnx])
    assert pair["onnx_over_litert_size"] == 2.0
    assert pair["outputs_agreeing"] == pytest.approx(1 - len(moved) / codes.size)
    assert f"onnxruntime / ai_edge_litert: latency p50 x1.00, size x2.00; {pair['outputs_agreeing']:.1%} of " \
           "outputs within 1 LSB of LiteRT's" in table
