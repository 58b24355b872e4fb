"""The optimisation table of the BGRN cloud model: what each step of the usual deployment route buys, in LiteRT and
in ONNX Runtime.

Variants: float32 (as shipped), float16 weights, dynamic-range int8 (int8 weights, float activations), int16x8
(int16 activations, int8 weights), full int8, and 50 % magnitude-pruned plus full int8; each as a .tflite file run by
LiteRT and as an .onnx file run by ONNX Runtime's CPU execution provider, both through ``onboard.runtime.model.Model``. For
each: file size (and gzip size, where pruning shows), host latency p50 and p90 of one 256 px window on one thread
(timed as ``onboard.runtime.bench`` times it, the models interleaved run by run), that latency projected onto every hardware
profile (``onboard.runtime.bench.project``, for the full-int8 variants: a profile's int8 convolution speed), pixel
F1 at 0.5 on synthetic held-out frames (the first frames of ``training/train_cloud.py``'s held-out split, windows and
overlap as the cards) and on the real tiles of ``shared/data/real_cloud_val`` (``training/cloud_scores.py``), and
whether the file meets the Edge TPU compiler's documented constraints (EDGETPU_OPS, EDGETPU_REQUIREMENTS).

The variants come from the Keras U-Net of ``training/train_cloud.py`` (``build_unet``) carrying the shipped float32
model's weights, read from ``onboard/runtime/models/cloud_bgrn_float32.tflite``; the script checks that it reproduces the
shipped model's outputs. Nothing shipped is retrained or rewritten. LiteRT variants: the TFLite converter (float32
and full int8 through ``train_cloud.to_tflite``). ONNX variants: tf2onnx from the Keras model (float32), then ONNX
Runtime's own tools, the route an ONNX user takes: ``onnxruntime.transformers.float16`` (float16 weights, float I/O)
and ``onnxruntime.quantization`` (dynamic int8; static QDQ, per-channel int8 weights, int8 or int16 activations). Both
runtimes' static quantisation is calibrated on the same training frames.

Pruning is the TF Model Optimization Toolkit's magnitude pruning written out (``benchmarks/pruning.py``); the .tflite
files are read and checked against the Edge TPU's constraints by ``benchmarks/tflite_file.py``.

Run: .venv/bin/python benchmarks/optimise.py [--heldout-frames N] [--runs N] [--models-dir DIR]
Writes benchmarks/results/optimise.json and prints the table in Markdown.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # NOTE: training/ is not an installed package; run as a script from any directory

from ground.document import Table, to_markdown  # noqa: E402
from onboard.runtime import bench  # noqa: E402
from onboard.runtime.hardware import load_profile, profile_names  # noqa: E402
from onboard.runtime.modelcard import load_card  # noqa: E402
from onboard.runtime.model import Model  # noqa: E402
from training.cloud_data import CloudFrames, make_frames  # noqa: E402
from training.cloud_scores import REAL_CLOUD_VAL_DIR, THRESHOLD, WINDOW_OVERLAP_PX  # noqa: E402
from onboard.runtime.real_tiles import confusion, load_real_tiles, real_validation, scores  # noqa: E402
from training.train_cloud import MODEL_PX, VARIANTS, TrainConfig, to_tflite  # noqa: E402
from benchmarks.pruning import SPARSITY, prune  # noqa: E402
from benchmarks.tflite_file import (CHECKED_LIMITS, EDGETPU_OPS, EDGETPU_REQUIREMENTS, EDGETPU_SOURCE,  # noqa: E402
                                   SHIPPED_FLOAT32, conv_zero_fraction, edgetpu_constraints, reproduction_error,
                                   shipped_keras)

SHIPPED = SHIPPED_FLOAT32
BANDS = VARIANTS["bgrn"]
OUT = ROOT / "benchmarks" / "results" / "optimise.json"
RUNTIMES = ("litert", "onnxruntime")
ONNX_OPSET = 17  # int16 QDQ needs 21: onnxruntime.quantization raises it for that variant
REPRODUCE_TOLERANCE = 1e-4  # cloud probability: the rebuilt Keras model against the shipped .tflite


@dataclass(frozen=True)
class Variant:
    """One optimisation of the model. ``full_int8``: integer-only int8 model, where a profile's int8 speed applies."""

    name: str
    what: str
    full_int8: bool = False
    pruned: bool = False


VARIANT_LIST = (Variant("float32", "as shipped"), Variant("float16", "float16 weights"),
                Variant("dynamic_int8", "int8 weights, float activations"),
                Variant("int16x8", "int16 activations, int8 weights"),
                Variant("int8", "full int8", full_int8=True),
                Variant("pruned50_int8", "50 % magnitude-pruned, then full int8", full_int8=True, pruned=True))


@dataclass(frozen=True)
class OptimiseConfig:
    """What decides a run (recorded in the JSON)."""

    heldout_frames: int = 24  # 512 px, the first of train_cloud's held-out split (the cards score 120)
    train_frames: int = 200  # 256 px training frames: calibration for every static quantisation, and the fine-tune
    finetune_steps: int = 500  # batches of TrainConfig.batch_size crops of TrainConfig.crop_px, as training draws them
    finetune_learning_rate: float = 1e-3  # Adam, cosine decay to 5 % (training: 3e-3 over 2000 steps)
    runs: int = 50  # timed inferences per model, interleaved with the other models', after `warmup`
    warmup: int = 5
    threads: int = 1  # as the cards' latency and the profiles' calibration


# -------------------------------------------------------------------------------------------- the variants


def to_litert(model, variant: Variant, calibration: np.ndarray) -> bytes:
    """The .tflite bytes of ``variant`` of the Keras ``model``; ``calibration`` (N, MODEL_PX, MODEL_PX, 4) frames
    calibrate the static quantisations. Full-int8 files have int8 input and output, the others float32."""
    import tensorflow as tf

    if variant.full_int8 or variant.name == "float32":
        return to_tflite(model, calibration if variant.full_int8 else None)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant.name == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif variant.name == "int16x8":
        converter.representative_dataset = lambda: ([frame[None].astype(np.float32)] for frame in calibration)
        int16x8 = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        converter.target_spec.supported_ops = [int16x8]
    with contextlib.redirect_stdout(io.StringIO()):  # the Keras export prints every captured variable
        return converter.convert()


def keras_to_onnx(model, path: Path) -> None:
    """Write the Keras ``model`` as float32 ONNX (tf2onnx), input ``toa`` and output ``cloud_probability``."""
    import tensorflow as tf
    import tf2onnx

    spec = [tf.TensorSpec(model.input_shape, tf.float32, name="toa")]
    with contextlib.redirect_stdout(io.StringIO()):
        tf2onnx.convert.from_keras(model, input_signature=spec, opset=ONNX_OPSET, output_path=str(path))


def to_onnx(variant: Variant, float32_path: Path, calibration: np.ndarray, path: Path) -> None:
    """Write ``variant`` of the float32 ONNX model at ``float32_path`` to ``path`` with ONNX Runtime's tools: float16
    weights with float I/O, dynamic int8, or static QDQ (per-channel int8 weights; int8 or int16 activations)
    calibrated (min-max) on ``calibration``. float32 is the file itself."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from onnxruntime.transformers.float16 import convert_float_to_float16

    if variant.name == "float16":
        onnx.save(convert_float_to_float16(onnx.load(str(float32_path)), keep_io_types=True), str(path))
        return
    prepared = path.with_suffix(".prepared.onnx")  # shapes inferred, batch norm folded: ORT asks it before quantising
    quant_pre_process(str(float32_path), str(prepared), skip_symbolic_shape=True)
    if variant.name == "dynamic_int8":
        quantize_dynamic(str(prepared), str(path), weight_type=QuantType.QInt8)
        return

    class Frames(CalibrationDataReader):
        def __init__(self):
            self.frames = iter(calibration)

        def get_next(self):
            frame = next(self.frames, None)
            return None if frame is None else {"toa": frame[None].astype(np.float32)}

    activations = QuantType.QInt16 if variant.name == "int16x8" else QuantType.QInt8
    quantize_static(str(prepared), str(path), Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=activations, weight_type=QuantType.QInt8,
                    extra_options={"CalibMaxIntermediateOutputs": 16})
    prepared.unlink()


def build_files(model, pruned, calibration: np.ndarray, directory: Path) -> dict[tuple[str, str], Path]:
    """Every variant in both formats under ``directory``: {(variant, runtime): path}."""
    files: dict[tuple[str, str], Path] = {}
    float32_onnx = {False: directory / "float32.onnx", True: directory / "pruned50_float32.onnx"}
    keras_to_onnx(model, float32_onnx[False])
    keras_to_onnx(pruned, float32_onnx[True])
    for variant in VARIANT_LIST:
        source = pruned if variant.pruned else model
        files[variant.name, "litert"] = directory / f"{variant.name}.tflite"
        files[variant.name, "litert"].write_bytes(to_litert(source, variant, calibration))
        files[variant.name, "onnxruntime"] = directory / f"{variant.name}.onnx"
        if variant.name != "float32":
            to_onnx(variant, float32_onnx[variant.pruned], calibration, files[variant.name, "onnxruntime"])
    return files


# ------------------------------------------------------------------------------------------------ runtimes


def latencies(models: dict[Any, Any], config: OptimiseConfig) -> dict[Any, bench.Latency]:
    """Latency of one inference of each model on bench's random input: ``config.warmup`` untimed runs each, then
    ``config.runs`` rounds of one timed inference of every model in turn, so that load from elsewhere on the host
    falls on every model alike."""
    inputs = {key: bench.random_input(model) for key, model in models.items()}
    for key, model in models.items():
        bench.timed_ms(model, inputs[key], 0, config.warmup)
    times: dict[Any, list[float]] = {key: [] for key in models}
    for _ in range(config.runs):
        for key, model in models.items():
            times[key].append(bench.time_ms(model, inputs[key]))
    return {key: bench.Latency.of(t) for key, t in times.items()}


def projections(latency: bench.Latency, variant: Variant, runtime: str, edgetpu_met: bool) -> dict[str, Any]:
    """Host latency on every shipped hardware profile (onboard.runtime.bench.project), or None with the reason."""
    out: dict[str, Any] = {}
    for name in profile_names():
        profile = load_profile(name)
        if profile.delegate == "edgetpu" and not (runtime == "litert" and edgetpu_met):
            out[name] = {"p50_ms": None, "why": "the Edge TPU runs only full-int8 .tflite files that meet its "
                                                "compiler's constraints"}
            continue
        # NOTE: full-int8 variants only, the table's scope (a run and bench project the others with cpu_relative,
        # onboard.runtime.hardware.model_speed)
        projected = bench.project(latency, "int8", profile) if variant.full_int8 else None
        out[name] = ({"p50_ms": round(projected.latency_ms_p50, 3), "p90_ms": round(projected.latency_ms_p90, 3),
                      "basis": projected.basis} if projected is not None else
                     {"p50_ms": None, "why": "full-int8 variants only: the profiles' int8 convolution speed"})
    return out


# ------------------------------------------------------------------------------------------------ scoring


def heldout_scores(predict: Callable[[np.ndarray], np.ndarray], heldout: CloudFrames) -> dict[str, float]:
    """Pixel scores at THRESHOLD over all held-out frames, pooled."""
    toa = heldout.bands(BANDS).astype(np.float32)
    probability = np.stack([predict(frame) for frame in toa])
    return {k: round(v, 4) for k, v in scores(confusion(probability >= THRESHOLD, heldout.label)).items()
            if k in ("f1", "iou", "precision", "recall", "fpr")}


def real_scores(predict: Callable[[np.ndarray], np.ndarray], tiles) -> dict[str, Any] | None:
    """Scores at THRESHOLD on the real tiles, pooled and per sensor; None without tiles."""
    if not tiles:
        return None
    result = real_validation(lambda toa: predict(toa) >= THRESHOLD, tiles, BANDS)
    return {group: summary for group, summary in result.items() if group != "tiles"}


# ---------------------------------------------------------------------------------------------------- the run


def prepare(config: OptimiseConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """The frames, the real tiles, the rebuilt Keras model (checked against the shipped file) and its pruned copy."""
    train_config = TrainConfig()
    heldout = make_frames("heldout", config.heldout_frames, train_config.heldout_frame_px, train_config.data_seed)
    train = make_frames("train", config.train_frames, train_config.train_frame_px, train_config.data_seed)
    tiles = load_real_tiles(REAL_CLOUD_VAL_DIR) if REAL_CLOUD_VAL_DIR.is_dir() else []
    log(f"frames: {config.heldout_frames} held-out, {config.train_frames} training; {len(tiles)} real tiles")
    model = shipped_keras()
    error = reproduction_error(model, heldout.bands(BANDS)[:, :MODEL_PX, :MODEL_PX])
    if error > REPRODUCE_TOLERANCE:
        raise RuntimeError(f"the Keras model rebuilt from {SHIPPED} differs from it by {error:.2e} in probability "
                           f"(tolerance {REPRODUCE_TOLERANCE:.0e})")
    log(f"Keras model rebuilt from {SHIPPED.name}: largest probability difference {error:.1e}")
    pruned = prune(model, train, config.finetune_steps, config.finetune_learning_rate)
    log(f"pruned ({SPARSITY:.0%} of each conv kernel) and fine-tuned for {config.finetune_steps} steps")
    return {"heldout": heldout, "calibration": train.bands(BANDS).astype(np.float32), "tiles": tiles,
            "model": model, "pruned": pruned, "reproduction_error": error}


def measure(files: dict[tuple[str, str], Path], data: dict[str, Any], config: OptimiseConfig,
            log: Callable[[str], None]) -> list[dict[str, Any]]:
    """One row per (variant, runtime): size, latency, projections, scores and the Edge TPU check."""
    models = {key: Model(path, threads=config.threads) for key, path in files.items()}
    latency = latencies(models, config)
    scaling = load_card(SHIPPED.with_suffix(".json")).inputs[0].scaling
    rows = []
    for variant in VARIANT_LIST:
        for runtime in RUNTIMES:
            path, model = files[variant.name, runtime], models[variant.name, runtime]

            def predict(toa: np.ndarray, model=model) -> np.ndarray:
                return model.predict_tiled(scaling.apply(toa), WINDOW_OVERLAP_PX)[..., 0]

            edgetpu = (edgetpu_constraints(path) if runtime == "litert" else
                       {"met": False, "problems": ["ONNX: the Edge TPU runs compiled .tflite files only"]})
            content = path.read_bytes()
            rows.append({
                "variant": variant.name, "what": variant.what, "runtime": runtime, "file": path.name,
                "size_bytes": len(content), "gzip_bytes": len(zlib.compress(content, 9)),
                "conv_kernel_zero_fraction": round(conv_zero_fraction(path), 4) if runtime == "litert" else None,
                "latency_ms": {k: round(v, 3) for k, v in asdict(latency[variant.name, runtime]).items()},
                "projected": projections(latency[variant.name, runtime], variant, runtime, edgetpu["met"]),
                "heldout": heldout_scores(predict, data["heldout"]), "real": real_scores(predict, data["tiles"]),
                "edgetpu": edgetpu})
            log(f"{variant.name:>14} {runtime:<11} p50 {rows[-1]['latency_ms']['p50']:7.2f} ms  "
                f"F1 {rows[-1]['heldout']['f1']:.4f}")
    return rows


def versions() -> dict[str, str | None]:
    """The installed versions of the converters and runtimes."""
    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    return {package: version(package) for package in
            ("tensorflow-cpu", "tensorflow", "keras", "ai-edge-litert", "tf2onnx", "onnx", "onnxruntime")}


def document(rows: list[dict[str, Any]], data: dict[str, Any], config: OptimiseConfig,
             phases_s: dict[str, float], load_average: list[tuple[float, ...]]) -> dict[str, Any]:
    """The JSON document: settings, host, the checks behind the variants, and the rows."""
    return {
        "what": __doc__.splitlines()[0], "model": str(SHIPPED.relative_to(ROOT)),
        "settings": {**asdict(config), "latency": "one inference of each model in turn, `runs` rounds",
                     "window_px": MODEL_PX,
                     "overlap_px": WINDOW_OVERLAP_PX, "threshold": THRESHOLD, "onnx_opset": ONNX_OPSET,
                     "heldout": f"the first {config.heldout_frames} frames of training/train_cloud.py's held-out "
                                f"split (512 px; the cards score 120)",
                     "calibration": f"the first {config.train_frames} training frames (256 px), for LiteRT and "
                                    "ONNX Runtime alike"},
        "host": bench.machine(), "load_average_1_5_15_min": {"start": load_average[0], "end": load_average[1]},
        "versions": versions(),
        "weights": {"source": str(SHIPPED.relative_to(ROOT)), "keras": "training.train_cloud.build_unet",
                    "largest_probability_difference": data["reproduction_error"],
                    "tolerance": REPRODUCE_TOLERANCE},
        "pruning": {"sparsity": SPARSITY, "finetune_steps": config.finetune_steps,
                    "method": "tfmot's magnitude pruning written out (per conv kernel, the smallest |w| zeroed and "
                              "held at zero by re-masking after every optimiser step; batch norm in inference "
                              "mode)", "why_not_tfmot": "tensorflow-model-optimization 0.8 prunes tf-keras (Keras 2) "
                              "models only; build_unet is Keras 3"},
        "edgetpu_reference": {"source": EDGETPU_SOURCE, "requirements": list(EDGETPU_REQUIREMENTS),
                              "operations": EDGETPU_OPS, "checked_from_the_file": list(CHECKED_LIMITS)},
        "phases_s": {k: round(v, 1) for k, v in phases_s.items()},
        "rows": rows,
    }


def _edgetpu_cell(edgetpu: dict[str, Any]) -> str:
    if edgetpu["met"]:
        return "yes*" if edgetpu.get("unchecked_limits") else "yes"
    return f"no: {edgetpu['problems'][0].split(':')[0]}"  # an ONNX row: "no: ONNX"


def tables(rows: list[dict[str, Any]]) -> str:
    """The Markdown tables: the main one, and the latency projected onto each profile."""
    groups = [g for g in (rows[0]["real"] or {}) if g != "pooled"]
    header = ("variant", "runtime", "size kB", "gzip kB", "p50 ms", "p90 ms", "F1 held-out", "F1 real pooled",
              *(f"F1 real {g.removeprefix('all ')}" for g in groups), "Edge TPU")
    main = Table(header, tuple(
        (r["variant"], r["runtime"], f"{r['size_bytes'] / 1e3:.1f}", f"{r['gzip_bytes'] / 1e3:.1f}",
         f"{r['latency_ms']['p50']:.2f}", f"{r['latency_ms']['p90']:.2f}", f"{r['heldout']['f1']:.4f}",
         *((f"{r['real'][g]['f1']:.4f}" for g in ("pooled", *groups)) if r["real"] else ("",) * (1 + len(groups))),
         _edgetpu_cell(r["edgetpu"])) for r in rows))
    profiles = [name for name in profile_names() if name != "host"]
    projected = Table(("variant", "runtime", *(f"{p} ms" for p in profiles)), tuple(
        (r["variant"], r["runtime"], *(f"{r['projected'][p]['p50_ms']:.2f}" if r["projected"][p]["p50_ms"] is not None
                                       else "n/a" for p in profiles)) for r in rows))
    return to_markdown([main, projected])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = OptimiseConfig()
    parser.add_argument("--heldout-frames", type=int, default=defaults.heldout_frames)
    parser.add_argument("--finetune-steps", type=int, default=defaults.finetune_steps)
    parser.add_argument("--runs", type=int, default=defaults.runs, help="timed inferences per model")
    parser.add_argument("--models-dir", type=Path, help="keep the variant files here (default: a temporary directory)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(2)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    config = OptimiseConfig(heldout_frames=args.heldout_frames, finetune_steps=args.finetune_steps, runs=args.runs)
    start_s, load_start = time.perf_counter(), os.getloadavg()

    def log(text: str) -> None:
        print(f"[{time.perf_counter() - start_s:5.0f} s] {text}", flush=True)

    phases_s = {}
    data = prepare(config, log)
    phases_s["prepare"] = time.perf_counter() - start_s
    with contextlib.ExitStack() as stack:
        directory = args.models_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="optimise-")))
        directory.mkdir(parents=True, exist_ok=True)
        files = build_files(data["model"], data["pruned"], data["calibration"], directory)
        phases_s["convert"] = time.perf_counter() - start_s - phases_s["prepare"]
        log(f"{len(files)} files in {directory}")
        rows = measure(files, data, config, log)
    phases_s["total"] = time.perf_counter() - start_s
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document(rows, data, config, phases_s, [load_start, os.getloadavg()]), indent=1)
                        + "\n")
    print(tables(rows))
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
