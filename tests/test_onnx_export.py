"""The ONNX twin of a TFLite model (onboard/runtime/onnx_export.py): tf2onnx's export of the real tiny test model, its
card, and its outputs against LiteRT's; the Resize rewrite against hand-computed half-up rounding; the shipped cloud
models' twins against LiteRT on the real tiles."""

import importlib.util
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from onboard.runtime.modelcard import MODEL_DIR, load_card
from onboard.runtime.onnx_export import (ONNX_OPSET, export_in_child, export_tflite, open_twin, round_resize_ties_up,
                                         twin_card, twin_problems)
from onboard.runtime.model import Model
from tests.tiny_models import DATA, INT8, copy_model, reflectance
from rundir.errors import InputFileError, OrbitEdgeError
from training.cloud_scores import REAL_CLOUD_VAL_DIR
from onboard.runtime.real_tiles import load_real_tiles

needs_tf2onnx = pytest.mark.skipif(importlib.util.find_spec("tf2onnx") is None,
                                   reason="tf2onnx (the [train] extra) is not installed")


@needs_tf2onnx
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


def resize_graph(scale: float, zero_point: int, factor: int):
    """DequantizeLinear -> Resize (linear, half-pixel, x``factor`` on H and W) -> QuantizeLinear on int8 NCHW, as
    tf2onnx exports TFLite's RESIZE_BILINEAR."""
    from onnx import TensorProto, helper, numpy_helper

    initializers = [numpy_helper.from_array(np.array(scale, np.float32), "s"),
                    numpy_helper.from_array(np.array(zero_point, np.int8), "z"),
                    numpy_helper.from_array(np.array([], np.float32), "roi"),
                    numpy_helper.from_array(np.array([1, 1, factor, factor], np.float32), "scales")]
    nodes = [helper.make_node("DequantizeLinear", ["x", "s", "z"], ["xf"]),
             helper.make_node("Resize", ["xf", "roi", "scales"], ["yf"], mode="linear",
                              coordinate_transformation_mode="half_pixel"),
             helper.make_node("QuantizeLinear", ["yf", "s", "z"], ["y"])]
    graph = helper.make_graph(nodes, "resize", [helper.make_tensor_value_info("x", TensorProto.INT8, [1, 2, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.INT8, [1, 2, 8 * factor, 8 * factor])],
                              initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)])


def half_up_bilinear(codes: np.ndarray, factor: int) -> np.ndarray:
    """Half-pixel bilinear upsampling of int8 codes (N, C, H, W) by ``factor``, exact, rounded half up: LiteRT's
    XNNPACK RESIZE_BILINEAR."""
    out = codes.astype(np.float64)
    for axis in (2, 3):
        size = out.shape[axis]
        source = (np.arange(size * factor) + 0.5) / factor - 0.5
        low = np.floor(source).astype(int)
        weight = (source - low).reshape([-1 if a == axis else 1 for a in range(4)])
        out = (np.take(out, np.clip(low, 0, size - 1), axis) * (1 - weight)
               + np.take(out, np.clip(low + 1, 0, size - 1), axis) * weight)
    return np.floor(out + 0.5).astype(int)


@needs_tf2onnx
@pytest.mark.parametrize("factor", [2, 4])
def test_resize_ties_are_rounded_half_up_as_litert_does(factor):
    import onnxruntime as ort

    codes = np.random.default_rng(factor).integers(-128, 128, (1, 2, 8, 8)).astype(np.int8)
    expected = half_up_bilinear(codes, factor)
    scale = 0.023529412  # the cloud models' ReLU6 scale (6 / 255), zero point -128

    def run(proto):
        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, {"x": codes})[0].astype(int)

    exported = resize_graph(scale, -128, factor)
    assert not np.array_equal(run(exported), expected)  # tf2onnx's graph: ties go either way
    assert round_resize_ties_up(exported) == 1
    np.testing.assert_array_equal(run(exported), expected)


@needs_tf2onnx
def test_a_resize_between_different_scales_is_left_as_exported():
    proto = resize_graph(0.02, 0, 2)
    proto.graph.node[2].input[1] = "s2"
    proto.graph.initializer.append(__import__("onnx").numpy_helper.from_array(np.array(0.03, np.float32), "s2"))
    assert round_resize_ties_up(proto) == 0 and [n.op_type for n in proto.graph.node] == [
        "DequantizeLinear", "Resize", "QuantizeLinear"]


@needs_tf2onnx
@pytest.mark.skipif(not REAL_CLOUD_VAL_DIR.is_dir(), reason=f"no real tiles at {REAL_CLOUD_VAL_DIR}")
@pytest.mark.parametrize("name", ["cloud_rgb_int8", "cloud_bgrn_int8"])
def test_the_shipped_cloud_models_twins_give_litert_s_codes_on_real_tiles_and_white_noise(tmp_path, name):
    litert = Model(MODEL_DIR / f"{name}.tflite")
    onnx = Model(export_tflite(litert.path, tmp_path))
    size_px, windows = litert.input_shape[1], []
    for tile in load_real_tiles(REAL_CLOUD_VAL_DIR):
        toa = tile.bands(litert.card.inputs[0].bands)
        windows += [litert.quantize(toa[None, y:y + size_px, x:x + size_px])
                    for y, x in itertools.product(range(0, toa.shape[0] - size_px + 1, size_px),
                                                  range(0, toa.shape[1] - size_px + 1, size_px))]
    rng = np.random.default_rng(4)  # white noise: every code, every tie the requantisations can meet
    windows += [rng.integers(-128, 128, (1, size_px, size_px, len(litert.card.inputs[0].bands))).astype(np.int8)
                for _ in range(4)]
    within = [np.mean(np.abs(litert.invoke_raw(q).astype(int) - onnx.invoke_raw(q).astype(int)) <= 1) for q in windows]
    # every window, not pooled: with the QDQ Convs fused into QLinearConv (onnx_model.open_session) no window falls
    # below; ONNX Runtime's float Convs had one real window in 18 near 97 % and white noise near 96 %
    assert len(within) >= 20 and min(within) >= 0.99



@needs_tf2onnx
def test_the_twin_s_card_records_the_batch_tf2onnx_gave_it_so_the_twin_loads_with_its_card(tmp_path):
    """A Keras model with an open batch converts to a .tflite of batch 1 (signature -1), whose twin tf2onnx gives a
    dynamic batch: the twin's card says what the twin has (a dynamic batch runs as 1), so bench --runtime
    onnxruntime loads it (it said "shape is [1, 32, 32, 4] in the card but [-1, 32, 32, 4] in the model")."""
    import keras
    import tensorflow as tf

    from onboard.runtime.model import build_card
    from onboard.runtime.modelcard import write_card
    from onboard.runtime.scaling import Scaling

    inputs = keras.Input((32, 32, 4), name="toa")  # batch None, as a user's Keras model has it
    keras_model = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(inputs))
    source = tmp_path / "open_batch.tflite"
    source.write_bytes(tf.lite.TFLiteConverter.from_keras_model(keras_model).convert())
    write_card(build_card(source, name="user", version="1", task="segmentation", bands=("B", "G", "R", "NIR"),
                          scaling=Scaling("toa_reflectance", 1.0, 0.0), training={}, metrics={}),
               source.with_suffix(".json"))
    assert load_card(source.with_suffix(".json")).inputs[0].shape == (1, 32, 32, 4)
    twin = Model(export_tflite(source, tmp_path / "onnx"))  # checked against its card
    assert twin.card_shapes == ((-1, 32, 32, 4), (-1, 32, 32, 1)) and twin.input_shape == (1, 32, 32, 4)
    assert (twin.card.inputs[0].shape, twin.card.outputs[0].shape) == twin.card_shapes


def test_without_tf2onnx_the_export_is_refused_naming_the_extra_and_makes_no_folder(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # the fault: tf2onnx cannot be imported
    with pytest.raises(OrbitEdgeError, match=r"exporting tiny_int8.tflite to ONNX needs tf2onnx and TensorFlow: "
                                             r"pip install -e '.\[train\]'"):
        export_tflite(INT8, tmp_path / "build" / "onnx")
    assert not (tmp_path / "build").exists()  # bench --runtime both left an empty build/onnx


def test_a_twin_beside_a_carded_model_is_checked_against_its_card_as_a_twin(tmp_path):
    """X.onnx beside X.tflite shares X.json: the same weights in another format agree on the tensors' shapes (as
    NHWC, a dynamic batch as 1) and dtypes, not on the file's size, sha256, framework or ops."""
    from app.cli import main
    from tests.user_models import user_model

    model, twin = user_model("uint8.tflite", tmp_path), user_model("uint8.onnx", tmp_path)
    assert twin_card(model) is None and twin_card(twin) is None  # no card yet
    assert main(["card", "init", str(model), "--task", "segmentation", "--bands", "B,G,R,NIR",
                 "--activation", "softmax"]) == 0
    card = load_card(model.with_suffix(".json"))
    assert twin_card(model) is None and twin_card(twin) == card  # the card is the .tflite's own, the twin's twin's
    opened = open_twin(twin, card)
    assert opened.card is None and twin_problems(opened, card) == []
    assert opened.input_shape == Model(model).input_shape and opened.runtime.name == "onnxruntime"


def test_a_file_beside_a_model_that_is_no_twin_of_it_is_named_with_each_difference(tmp_path):
    """A float16 NCHW model with a dynamic batch (PyTorch's export) beside a uint8 .tflite: its shapes are the
    same read as NHWC, its dtypes are not, and only those are named."""
    from app.cli import main
    from tests.user_models import user_model

    model = user_model("uint8.tflite", tmp_path)
    user_model("float16.onnx", tmp_path).rename(model.with_suffix(".onnx"))
    assert main(["card", "init", str(model), "--task", "segmentation", "--bands", "B,G,R,NIR",
                 "--activation", "softmax"]) == 0
    card = twin_card(model.with_suffix(".onnx"))
    with pytest.raises(InputFileError) as err:
        open_twin(model.with_suffix(".onnx"), card)
    problem = err.value.problem
    assert problem.startswith(f"is no twin of uint8.tflite, whose card {model.with_suffix('.json')} it shares beside "
                              "it: line ")
    assert "properties.mlm:input[0].input.data_type is uint8 in the card but float16 in the twin" in problem
    assert "properties.mlm:output[0].result.data_type is uint8 in the card but float16 in the twin" in problem
    assert "shape" not in problem and "file:size" not in problem and "framework" not in problem


def test_a_flat_card_is_a_twin_s_when_it_records_the_twin_s_sha256(tmp_path):
    """The shipped (flat) cards name no file: the card is the other file's when its sha256 is that file's."""
    source = copy_model(tmp_path, INT8, with_card=True)  # tiny_int8.tflite and its flat card
    beside = source.with_suffix(".onnx")
    beside.write_bytes(b"not read: the card names the .tflite by its sha256")
    assert twin_card(beside) == load_card(source.with_suffix(".json"))
    assert twin_card(source) is None  # the card's sha256 is the .tflite's own


def test_an_export_onnx_runtime_cannot_run_is_refused_and_not_kept(tmp_path):
    """A 16x8 model (int16 activations): tf2onnx writes a graph ONNX Runtime refuses, which `bench --runtime both`
    reported as a rejected model of orbitedge's own making, and kept in --onnx-dir, so that every later bench hit it
    again. The export is now tried in ONNX Runtime before it is kept, and the error says to use LiteRT."""
    model = DATA / "tiny_16x8.tflite"
    with pytest.raises(OrbitEdgeError, match=r"tiny_16x8.tflite: tf2onnx exports it, but ONNX Runtime cannot run the "
                                             r"export \(ONNX Runtime rejects the model: .*\); nothing was kept: "
                                             r"measure this model with --runtime litert"):
        export_tflite(model, tmp_path / "onnx")
    assert list((tmp_path / "onnx").iterdir()) == []
    # a twin an earlier exporter kept, which ONNX Runtime refuses, carries the earlier mark: exported again, refused
    import onnx
    from onboard.runtime.onnx_export import EXPORT_MARK, exported_twin

    twin = export_tflite(INT8, tmp_path / "onnx")
    proto = onnx.load(str(twin))
    [mark] = [p for p in proto.metadata_props if p.key == EXPORT_MARK[0]]
    mark.value = "tf2onnx; Resize ties rounded half up as LiteRT"
    onnx.save(proto, str(twin))
    assert exported_twin(INT8, tmp_path / "onnx") is None


def test_an_export_is_marked_current_only_once_onnx_runtime_has_loaded_it(tmp_path, monkeypatch):
    """The mark that says a twin is current was saved before ONNX Runtime tried it: a failure other than a refusal
    (no ONNX Runtime, Ctrl-C) left a marked twin never loaded. Faults injected: the load raises; the folder is
    read-only (a stale twin there was re-exported into it and failed as "tf2onnx cannot export it")."""
    from onboard.runtime import onnx_export

    def broken(path, *args, **kwargs):  # the .tflite is checked as ever; the export's load fails
        if Path(path).suffix == ".onnx":
            raise RuntimeError("no ONNX Runtime here")
        return Model(path, *args, **kwargs)

    monkeypatch.setattr(onnx_export, "Model", broken)
    with pytest.raises(RuntimeError, match="no ONNX Runtime here"):
        export_tflite(INT8, tmp_path / "onnx")
    assert onnx_export.exported_twin(INT8, tmp_path / "onnx") is None and list((tmp_path / "onnx").iterdir()) == []
    monkeypatch.undo()
    monkeypatch.setattr(onnx_export.os, "access", lambda path, mode: False)
    with pytest.raises(OrbitEdgeError, match=r"onnx: cannot write the ONNX twin of tiny_int8.tflite there "
                                             r"\(--onnx-dir\)"):
        export_tflite(INT8, tmp_path / "onnx")


def test_an_export_in_a_child_process_raises_its_error_here(tmp_path):
    """bench exports twins in a child (onnx_export.export_in_child): what the export refuses reaches the caller as
    the OrbitEdgeError it is (here the file is no model: refused before tf2onnx is imported)."""
    (tmp_path / "broken.tflite").write_bytes(b"not a model")
    with pytest.raises(OrbitEdgeError, match="broken.tflite"):
        export_in_child([tmp_path / "broken.tflite"], tmp_path / "onnx")


@needs_tf2onnx
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_export_process_ends_with_the_process_that_started_it(tmp_path, signum):
    """A SIGTERM to bench alone left its export process running, orphaned, to finish an export nobody waited for;
    a Ctrl-C to bench alone waited for it. Either signal to the process exporting now ends the export process too
    (the export imports TensorFlow first: several seconds, during which the signal comes), before it writes the
    twin."""
    from benchmarks.large_frames import children

    source = copy_model(tmp_path, INT8, with_card=True)
    script = (f"from onboard.runtime.onnx_export import export_in_child\n"
              f"export_in_child([{str(source)!r}], {str(tmp_path / 'onnx')!r})")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[1],
                              stderr=subprocess.DEVNULL,  # Ctrl-C as a terminal gives it, not a background job's
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        exporter, deadline = None, time.monotonic() + 60
        while exporter is None and time.monotonic() < deadline:
            exporter = next((p for p in children(parent.pid) if b"spawn_main" in _cmdline(p)), None)
            time.sleep(0.05)
        assert exporter is not None, "the export process never started"
        os.kill(parent.pid, signum)
        parent.wait(timeout=60)
        deadline = time.monotonic() + 120  # an orphan left to finish has done so by then
        while _running(exporter) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(exporter), "the export process outlived the process that started it by 120 s"
        assert not (tmp_path / "onnx" / "tiny_int8.onnx").exists(), "the export went on to its end"
    finally:
        parent.kill()
        parent.wait()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _running(pid: int) -> bool:
    """``pid`` exists and is no zombie (an orphan's parent may be a PID 1 that never reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
