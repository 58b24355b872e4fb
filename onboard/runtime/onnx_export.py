"""The ONNX twin of a TFLite model: the same graph, weights and quantisation exported by ``tf2onnx`` from the
.tflite file (``tf2onnx.convert.from_tflite``), with a card that carries the TFLite card's bands, scaling and
metrics. The shipped models' Keras weights are not kept, only their .tflite files, so the twin is made from those:
a full-int8 model stays full-int8 (QuantizeLinear and DequantizeLinear around int8 I/O, the same scales).

One op is rewritten after tf2onnx so that ONNX Runtime gives LiteRT's codes (:func:`round_resize_ties_up`): an int8
RESIZE_BILINEAR on LiteRT's default CPU kernels (XNNPACK) rounds its interpolated code half up (towards +inf), while
tf2onnx's DequantizeLinear -> Resize -> QuantizeLinear rounds on float values where a tie lands a float error either
side of .5, so either way. A x2 half-pixel upsampling lands on a tie on 4-7 % of its outputs; the 1-code differences
grow through the decoder, and one in the logits before the cloud models' sigmoid (input scale 0.113, output scale
1/256) becomes up to 0.113 / 4 * 256 = 7 codes. Without the rewrite cloud_rgb_int8's twin agreed with LiteRT within
1 code on 90 % of the pixels of white noise and 98.1 % of real tiles; with it, and ONNX Runtime fusing every QDQ
Conv into QLinearConv (the session option of :func:`onboard.runtime.onnx_model.open_session`; without it ONNX Runtime
ran 11 of the 24 as float Conv, whose rounding of an exact tie differs from XNNPACK's), the twins give LiteRT's codes
exactly on white noise and on the real tiles (benchmarks/runtimes.py).

Needs the ``[train]`` extra (TensorFlow and tf2onnx); export once, then the twin runs on ONNX Runtime alone.

A twin a user puts beside a carded model (``X.onnx`` beside ``X.tflite`` and its ``X.json``) shares that card:
:func:`twin_card` finds it, and :func:`open_twin` checks the twin against it as the same weights in another format.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import logging
import math
import multiprocessing
import multiprocessing.connection
import os
import threading
import warnings
from pathlib import Path
from typing import Any, Sequence

from rundir.errors import InputFileError, OrbitEdgeError

from .interpreter import RUNTIME_CHATTER, runtime_chatter_dropped
from .mlm import FRAMEWORKS
from .modelcard import NHWC, ModelCard, load_card, write_card
from .model import Model, card_field, host_benchmark

ONNX_OPSET = 17  # ONNX Runtime 1.17+ runs it on every provider; QDQ ops, Resize and Conv as TFLite needs them
EXPORT_DIR = Path("build") / "onnx"  # default home of exported twins (the shipped models' directory stays as shipped)
# The twin's metadata_props entry that names this exporter's rewrites and checks; a twin without it is exported
# again (one of an earlier exporter, which kept twins ONNX Runtime refuses, included).
EXPORT_MARK = ("orbitedge.export", "tf2onnx; Resize ties rounded half up as LiteRT; loaded by ONNX Runtime")
ABSL_CHATTER = ("I0000", "W0000", "WARNING: All log messages before absl::InitializeLog()")  # TensorFlow loading


def _chatter(line: str) -> bool:
    return line in RUNTIME_CHATTER or line.startswith(ABSL_CHATTER) or not line


def export_tflite(path: Path, out_dir: Path = EXPORT_DIR) -> Path:
    """Write ``out_dir/<stem>.onnx``, the ONNX twin of .tflite model ``path``, and its card ``<stem>.json`` when
    ``path`` has one; the twin's path. Re-exports only when the .tflite is newer than its twin.

    Raises OrbitEdgeError naming the package to install when tf2onnx is missing, and when tf2onnx cannot convert the
    model; InputFileError as Model does for the .tflite file."""
    path = Path(path)
    target = Path(out_dir) / f"{path.stem}.onnx"
    if exported_twin(path, out_dir) is not None:
        return target
    Model(path)  # NOTE: the file is checked (and tried in a child) before tf2onnx's own interpreter reads it
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: its C++ INFO logs are noise here
    with runtime_chatter_dropped(_chatter), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation, which tf2onnx uses to read the model
        try:
            import tf2onnx
        except ImportError as err:
            raise OrbitEdgeError(f"exporting {path.name} to ONNX needs tf2onnx and TensorFlow: "
                                 f"pip install -e '.[train]' ({err})") from None
        logging.getLogger("tf2onnx").setLevel(logging.ERROR)
        target.parent.mkdir(parents=True, exist_ok=True)  # once tf2onnx imports: without it, no empty folder
        if not os.access(target.parent, os.W_OK):  # a read-only --onnx-dir whose twin is stale, or not there
            raise OrbitEdgeError(f"{target.parent}: cannot write the ONNX twin of {path.name} there (--onnx-dir); "
                                 "its twin there is missing or older than the model, or of an earlier exporter")
        try:
            tf2onnx.convert.from_tflite(str(path), opset=ONNX_OPSET, output_path=str(target))
        except Exception as err:  # NOTE: tf2onnx raises whatever its converters raise
            raise OrbitEdgeError(f"{path}: tf2onnx cannot export it to ONNX: {type(err).__name__}: {err}") from None
    import onnx

    proto = onnx.load(str(target))
    rewritten = round_resize_ties_up(proto)
    onnx.save(proto, str(target))
    try:  # tf2onnx writes graphs ONNX Runtime refuses (int16 activations' DequantizeLinear, say): not kept as a twin
        twin = Model(target, use_card=False)
    except InputFileError as err:
        target.unlink()
        raise OrbitEdgeError(f"{path}: tf2onnx exports it, but ONNX Runtime cannot run the export ({err.problem}); "
                             "nothing was kept: measure this model with --runtime litert") from None
    except BaseException:  # no ONNX Runtime, Ctrl-C: not marked, so exported again next time
        target.unlink()
        raise
    proto.metadata_props.add(key=EXPORT_MARK[0], value=EXPORT_MARK[1])  # marked once ONNX Runtime has loaded it
    onnx.save(proto, str(target))
    card_path = path.with_suffix(".json")
    if card_path.is_file():
        card = load_card(card_path)
        content = target.read_bytes()
        tensors = [dataclasses.replace(t, shape=shape, dim_order=t.dim_order or (NHWC if len(t.shape) == 4 else None))
                   for t, shape in zip((card.inputs[0], card.outputs[0]), twin.card_shapes)]
        write_card(dataclasses.replace(card, inputs=(tensors[0],), outputs=(tensors[1],), sha256=hashlib.sha256(
            content).hexdigest(), size_bytes=len(content), ops=twin.op_names() or (), path=None,
            benchmark=host_benchmark(twin),
            model_file=target.name, framework=FRAMEWORKS[".onnx"],
            training={**card.training, "onnx": f"tf2onnx.convert.from_tflite({path.name}, opset={ONNX_OPSET}); "
                      f"{rewritten} Resize rounding ties half up as LiteRT"}),
            target.with_suffix(".json"))
    return target


def twin_card(path: Path) -> ModelCard | None:
    """The card beside model ``path`` (``<stem>.json``) when it is its twin's, the card of ``<stem>.tflite`` beside
    an ``.onnx`` file or the other way round (the file its STAC model asset names; for a flat card, the file whose
    sha256 it records), as when a user puts a twin beside a carded model for ``bench --runtime both``. None where
    no twin is beside ``path``, there is no card, or the card is the file's own. InputFileError for a bad card."""
    other = path.with_suffix(".onnx" if path.suffix.lower() == ".tflite" else ".tflite")
    card_path = path.with_suffix(".json")
    if not other.is_file() or not card_path.is_file():
        return None
    card = load_card(card_path)
    if card.model_file is not None:
        return card if Path(card.model_file).name == other.name else None
    digest = hashlib.sha256(other.read_bytes()).hexdigest()
    return card if card.sha256 == digest != hashlib.sha256(path.read_bytes()).hexdigest() else None


def twin_problems(twin: Model, card: ModelCard) -> list[str]:
    """What keeps ``twin`` (opened without a card) from being, in another format, the model ``card`` describes
    (:func:`twin_card`): each tensor's shape, both read as NHWC with a dynamic batch as 1, and dtype, each as
    ``line N: <field> is ... in the card but ... in the twin``. Size, sha256, framework and ops differ between the
    formats of the same weights, and are not compared."""
    problems = []
    for field, tensor, shape, dtype in (("inputs[0]", card.inputs[0], twin.input_shape, twin.input_dtype),
                                        ("outputs[0]", card.outputs[0], twin.output_shape, twin.output_dtype)):
        expected = (max(tensor.shape[0], 1), *tensor.shape[1:])
        if tensor.channels_first:
            expected = (expected[0], *expected[2:], expected[1])
        as_nhwc = f" ({list(expected)} as NHWC)" if tensor.channels_first else ""
        if tuple(expected) != tuple(shape):
            problems.append(card_field(card, f"{field}.shape", f"is {list(tensor.shape)} in the card{as_nhwc} but "
                                                               f"{list(shape)} in the twin (NHWC)"))
        if tensor.dtype != dtype.name:
            problems.append(card_field(card, f"{field}.dtype", f"is {tensor.dtype} in the card but {dtype.name} in "
                                                               "the twin"))
    return problems


def open_twin(path: Path, card: ModelCard, **options: Any) -> Model:
    """Model ``path`` (``options`` as Model takes them), whose card beside it is its twin's (:func:`twin_card`),
    checked against that card as a twin (:func:`twin_problems`). InputFileError naming both files and each
    difference, and as Model raises."""
    model = Model(path, use_card=False, channels=len(card.inputs[0].bands or ()) or None, **options)
    problems = twin_problems(model, card)
    if problems:
        raise InputFileError(path, f"is no twin of {Path(card.model_file or path.with_suffix('.tflite')).name}, "
                                   f"whose card {card.path} it shares beside it: " + "; ".join(problems))
    return model


def export_in_child(paths: Sequence[Path], onnx_dir: Path) -> list[Path]:
    """:func:`export_tflite` of each of ``paths``, in one child process: the export imports TensorFlow
    and tf2onnx, whose hundreds of MB would otherwise stay in this process's high-water mark (``peak_rss_mb``) for
    every model measured after it. Its OrbitEdgeError reaches the caller as raised."""
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                                initializer=_end_with_parent) as pool:
        try:
            return pool.submit(_export_all, list(paths), onnx_dir).result()
        except concurrent.futures.BrokenExecutor:  # its process killed (the kernel's OOM killer)
            raise OrbitEdgeError(f"{', '.join(map(str, paths))}: the ONNX export's process died before it finished "
                                 f"(out of memory?); nothing was measured") from None
        except BaseException:  # Ctrl-C: its export is not wanted, and leaving the pool would wait for it
            for process in list((pool._processes or {}).values()):
                process.kill()
            raise


def _end_with_parent() -> None:
    """End this export process when the process that started it ends (SIGTERM, SIGKILL), instead of finishing an
    export nobody waits for: a spawned child's parent sentinel becomes ready then."""
    sentinel = multiprocessing.parent_process().sentinel
    threading.Thread(target=lambda: (multiprocessing.connection.wait([sentinel]), os._exit(1)), daemon=True,
                     name="parent-watch").start()


def _export_all(paths: list[Path], onnx_dir: Path) -> list[Path]:
    return [export_tflite(path, onnx_dir) for path in paths]


def exported_twin(path: Path, out_dir: Path = EXPORT_DIR) -> Path | None:
    """``out_dir/<stem>.onnx`` when it is the current export of .tflite model ``path`` (this module's, and no older
    than the model), else None; reads the twin's metadata only (no TensorFlow)."""
    target = Path(out_dir) / f"{Path(path).stem}.onnx"
    current = target.is_file() and target.stat().st_mtime >= Path(path).stat().st_mtime and _marked(target)
    return target if current else None


def _marked(twin: Path) -> bool:
    """Whether the ONNX file ``twin`` carries EXPORT_MARK (it was exported with this module's rewrites)."""
    import onnx

    try:
        props = onnx.load(str(twin), load_external_data=False).metadata_props
    except Exception:  # NOTE: a broken or foreign file is simply exported again
        return False
    return any((p.key, p.value) == EXPORT_MARK for p in props)


def _initializer(proto: Any, name: str) -> Any:
    """The numpy value of initializer ``name``, None when there is none."""
    from onnx import numpy_helper

    return next((numpy_helper.to_array(i) for i in proto.graph.initializer if i.name == name), None)


def _tie_step(proto: Any, resize: Any) -> float | None:
    """Half the spacing, in output codes, of the values a linear half-pixel Resize by power-of-two factors on H and W
    (NCHW) can produce from integer codes: its per-axis weights are odd multiples of 1 / (2 k), so its outputs are
    multiples of 1 / (4 k_h k_w) and a tie sits exactly on .5. None for any other Resize (left as exported)."""
    attributes = {a.name: a for a in resize.attribute}
    mode = attributes["mode"].s if "mode" in attributes else b"nearest"
    transform = attributes["coordinate_transformation_mode"].s if "coordinate_transformation_mode" in attributes \
        else b"half_pixel"
    scales = _initializer(proto, resize.input[2]) if len(resize.input) > 2 and resize.input[2] else None
    if mode != b"linear" or transform != b"half_pixel" or scales is None or scales.size != 4:
        return None
    n, c, k_h, k_w = (float(v) for v in scales)
    if (n, c) != (1.0, 1.0) or not all(k >= 1 and math.log2(k).is_integer() for k in (k_h, k_w)):
        return None
    return 1.0 / (8.0 * k_h * k_w)


def round_resize_ties_up(proto: Any) -> int:
    """Rewrite, in place, each DequantizeLinear -> Resize (linear, half-pixel, power-of-two factors) ->
    QuantizeLinear of ModelProto ``proto`` whose two ends share one scale and zero point (TFLite's int8
    RESIZE_BILINEAR requires that) into DequantizeLinear -> Resize -> Add(scale * step) -> QuantizeLinear, step
    being half the spacing of the codes the Resize can produce (:func:`_tie_step`): QuantizeLinear then rounds each
    tie up, as LiteRT's kernel does, and leaves every other value where it was. The number of Resizes rewritten.

    LiteRT's rounding, measured on the shipped cloud models' four x2 resizes: XNNPACK (its default CPU kernels, which
    orbitedge runs) equals the exact bilinear mean of the codes rounded half up on 100 % of outputs; TFLite's builtin
    kernel (without XNNPACK) rounds half away from zero instead, so a twin cannot match both on negative ties."""
    from onnx import helper, numpy_helper

    nodes = list(proto.graph.node)
    producer = {out: node for node in nodes for out in node.output}
    rewritten = 0
    for resize in (n for n in nodes if n.op_type == "Resize"):
        step = _tie_step(proto, resize)
        dequantize = producer.get(resize.input[0])
        consumers = [n for n in nodes if resize.output[0] in n.input]
        if step is None or dequantize is None or dequantize.op_type != "DequantizeLinear" or len(consumers) != 1 \
                or consumers[0].op_type != "QuantizeLinear":
            continue
        quantize = consumers[0]
        ends = [[_initializer(proto, node.input[i]) for i in (1, 2)] for node in (dequantize, quantize)]
        if any(v is None or v.size != 1 for v in ends[0] + ends[1]) or \
                [float(v) for v in ends[0]] != [float(v) for v in ends[1]]:
            continue
        nudge = f"{resize.output[0]}_tie_up"
        proto.graph.initializer.append(numpy_helper.from_array(
            (ends[1][0].astype("float32") * step).reshape(()), f"{nudge}_codes"))
        add = helper.make_node("Add", [resize.output[0], f"{nudge}_codes"], [nudge], name=nudge)
        quantize.input[0] = nudge
        proto.graph.node.insert(list(proto.graph.node).index(quantize), add)
        rewritten += 1
    return rewritten
