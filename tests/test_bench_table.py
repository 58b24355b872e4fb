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
