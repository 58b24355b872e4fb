"""The ONNX twin of a TFLite model (onboard/onnx_export.py): tf2onnx's export of the real tiny test model, its
card, and its outputs against LiteRT's."""

import numpy as np
import pytest

from onboard.modelcard import load_card
from onboard.onnx_export import export_tflite
from onboard.runtime import Model
from tests.tiny_models import INT8, copy_model, reflectance

pytest.importorskip("tf2onnx", reason="tf2onnx (the [train] extra) is not installed")


def test_the_twin_of_a_full_int8_model_gives_litert_s_codes_and_carries_its_card(tmp_path):
    source = copy_model(tmp_path, INT8, with_card=True)
    twin = export_tflite(source, tmp_path / "onnx")
    assert twin == tmp_path / "onnx" / "tiny_int8.onnx"
    litert, onnx = Model(source), Model(twin)
    card = load_card(twin.with_suffix(".json"))
    assert card.framework == "ONNX" and card.model_file == "tiny_int8.onnx" and card.benchmark.runs > 0
    assert card.inputs[0].bands == litert.card.inputs[0].bands and card.metrics == litert.card.metrics
    assert onnx.card == card and onnx.input_quantization == litert.input_quantization
    for seed in range(3):
        q = litert.quantize(reflectance(seed)[None])
        codes_litert, codes_onnx = litert.invoke_raw(q).astype(int), onnx.invoke_raw(q).astype(int)
        assert np.mean(np.abs(codes_litert - codes_onnx) <= 1) >= 0.99
    assert export_tflite(source, tmp_path / "onnx").stat().st_mtime_ns == twin.stat().st_mtime_ns  # not again
