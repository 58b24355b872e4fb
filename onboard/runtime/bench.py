"""Model benchmarks in the manner of TFLite's ``benchmark_model`` and MLPerf inference: init time, first
inference, warm-up, latency percentiles, throughput, peak memory, with each model's size and held-out accuracy,
float32 and int8 twins side by side, and optionally the latency projected onto a hardware profile.

Every inference times ``Model.invoke_raw`` (set the input tensor, invoke, read the output) on random data of the
model's input shape and dtype drawn with a fixed seed, so quantising real inputs is not counted. MLPerf names:
SingleStream latency is the p90 of one-at-a-time queries; Offline throughput is samples per second over ``runs``
queries issued back to back.

Two runtimes side by side: ``runtime="both"`` measures each model on LiteRT and its ONNX twin on ONNX Runtime (the
twin beside the model, or exported by :func:`onboard.runtime.onnx_export.export_tflite`), on the same input, and says how
far apart their outputs are. The ``onnx-cuda`` and ``onnx-tensorrt`` devices run the ONNX twin on the GPU.
"""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from rundir.errors import InputFileError, OrbitEdgeError

from .hardware import SPEED_FIGURES, HardwareProfile, model_speed, relative_speed
from .interpreter import resolve_runtime
from .modelcard import MODEL_DIR, load_card
from .onnx_export import EXPORT_DIR, export_in_child, exported_twin, open_twin, twin_card
from .onnx_model import load_onnx_runtime
from .model import ONNX_RUNTIME, Model
from .model_check import A_FOLDER, NO_MODEL_FILE

PRECISIONS = ("float32", "int8")  # twin order in tables: float32 first
INPUT_SEED = 0
RUNTIME_PACKAGES = {"ai_edge_litert": "ai-edge-litert", "tflite_runtime": "tflite-runtime", "tensorflow": "tensorflow",
                    ONNX_RUNTIME: "onnxruntime"}
EDGETPU_SUFFIX = "_edgetpu"  # edgetpu_compiler appends it to the stem of the model it compiles
ONNX_DEVICES = {"onnx-cuda": "cuda", "onnx-tensorrt": "tensorrt"}  # bench device -> ONNX Runtime provider
RUNTIME_CHOICES = ("auto", "litert", ONNX_RUNTIME, "both")  # auto: the model file's own runtime
FLOAT_AGREEMENT = 1e-3  # float outputs agree within this fraction of the output range (int outputs: 1 LSB)


@dataclass(frozen=True)
class Latency:
    """Summary of timed inferences, ms."""

    min: float
    p50: float
    p90: float
    p99: float
    mean: float
    std: float

    @classmethod
    def of(cls, times_ms: list[float]) -> Latency:
        a = np.asarray(times_ms)
        p50, p90, p99 = np.percentile(a, [50, 90, 99])
        return cls(float(a.min()), float(p50), float(p90), float(p99), float(a.mean()), float(a.std()))


@dataclass(frozen=True)
class Projection:
    """Host latency projected onto a hardware profile: host time / the profile's ``speed_figure``, chosen by the
    model's input dtype as a run chooses it for a stage (:func:`onboard.runtime.hardware.model_speed`). Not a
    measurement."""

    profile: str
    delegate: str
    input_dtype: str  # the model's input tensor's, which chose the figure
    speed_figure: str  # int8_conv_relative (an 8-bit input) or cpu_relative (any other)
    relative_speed: float  # the profile's value of it, x the host
    reference_ms_p50: float | None  # the card's host latency (benchmark block), which a run projects; None: none
    latency_ms_p50: float
    latency_ms_p90: float
    latency_ms_mean: float
    inferences_per_s: float
    basis: str


@dataclass(frozen=True)
class BenchResult:
    """One model's benchmark. Times in ms, sizes in bytes, throughput per second; ``accuracy`` from the card."""

    model: str  # file stem, e.g. cloud_bgrn_int8
    path: str
    family: str  # the twins' shared stem, e.g. cloud_bgrn
    precision: str  # int8, float32, or the input dtype when the stem names neither
    device: str  # host, edgetpu or external:PATH
    runtime: str
    threads: int
    runs: int
    warmup_runs: int
    size_bytes: int
    input_shape: tuple[int, ...]
    input_dtype: str
    input_px: int  # pixels per inference: batch x height x width of the input
    accuracy: dict[str, float]  # held-out scores of this precision, from the card's metrics; empty if none
    init_ms: float  # read and check the model, load the delegate, create the interpreter, allocate; not its card
    first_inference_ms: float
    warmup_mean_ms: float | None  # None without warm-up runs
    latency_ms: Latency
    inferences_per_s: float  # 1000 / mean latency
    mpx_per_s: float  # input megapixels per second at that rate
    singlestream_p90_ms: float  # MLPerf SingleStream: p90 latency
    offline_samples_per_s: float  # MLPerf Offline: runs back to back / their wall time
    peak_rss_mb: float  # process high-water mark after this model, MiB (ru_maxrss): includes models measured before
    projected: Projection | None = None
    not_projected: str | None = None  # why there is no projection: the profile's accelerator refuses the model
    output: np.ndarray | None = field(default=None, repr=False, compare=False)  # raw output for the input (not JSON)

    def to_json(self) -> dict[str, Any]:
        """Every field as JSON-ready data (the raw output left out)."""
        out = asdict(self)
        out.pop("output")
        out["input_shape"] = list(self.input_shape)
        return out


def shipped_models() -> list[str]:
    """Stems of the shipped models (onboard/runtime/models/*.tflite), sorted."""
    return sorted(p.stem for p in MODEL_DIR.glob("*.tflite"))


def resolve_models(spec: str) -> list[Path]:
    """The model files for ``spec``: ``all``, a shipped model name, or a path to a .tflite or .onnx file.

    Raises OrbitEdgeError naming the choices for anything else.
    """
    if spec == "all":
        return [MODEL_DIR / f"{stem}.tflite" for stem in shipped_models()]
    if spec in shipped_models():
        return [MODEL_DIR / f"{spec}.tflite"]
    path = Path(spec)
    if path.suffix in (".tflite", ".onnx") or path.exists():
        if not path.is_file():
            raise InputFileError(path, A_FOLDER if path.is_dir() else NO_MODEL_FILE)
        return [path]
    raise OrbitEdgeError(f"unknown model {spec!r}; choose a shipped model ({', '.join(shipped_models())}), "
                         "'all', or the path of a .tflite or .onnx file")


def delegate_for(device: str) -> str:
    """The runtime delegate for a bench ``device``: host runs the CPU kernels (XNNPACK, or ONNX Runtime's CPU
    provider), onnx-cuda and onnx-tensorrt ONNX Runtime's GPU providers."""
    return "cpu" if device == "host" else ONNX_DEVICES.get(device, device)


def runtime_files(paths: Sequence[Path], runtime: str, device: str, onnx_dir: Path = EXPORT_DIR) -> list[Path]:
    """The files to measure for the models ``paths`` with ``runtime`` (one of RUNTIME_CHOICES) on ``device``, model
    by model: the file itself, its ONNX twin (``<stem>.onnx`` beside it, else exported into ``onnx_dir``) or its
    TFLite twin (``<stem>.tflite`` beside it), LiteRT first. The twins to export are exported together, before
    anything is measured (:func:`onnx_export.export_in_child`). OrbitEdgeError when a twin is needed and cannot be
    had."""
    if runtime not in RUNTIME_CHOICES:
        raise OrbitEdgeError(f"--runtime: expected one of {', '.join(RUNTIME_CHOICES)}, found {runtime!r}")
    if device in ONNX_DEVICES:
        runtime = ONNX_RUNTIME
    if runtime == "auto":
        return list(paths)
    files: list[Path | None] = []
    exports: dict[int, Path] = {}  # position in files: the .tflite model whose twin goes there
    for path in paths:
        if runtime in ("litert", "both"):
            tflite = path if path.suffix == ".tflite" else path.with_suffix(".tflite")
            if not tflite.is_file():
                raise OrbitEdgeError(f"{path}: no TFLite twin ({tflite.name}) beside it to run on LiteRT")
            files.append(tflite)
        if runtime in (ONNX_RUNTIME, "both"):
            beside = path.with_suffix(".onnx")
            twin = beside if beside.is_file() else exported_twin(path, onnx_dir)
            if twin is None:
                exports[len(files)] = path
            files.append(twin)
    for at, twin in zip(exports, export_in_child(list(exports.values()), onnx_dir) if exports else ()):
        files[at] = twin  # every place left empty above is filled here
    return files


def family_and_precision(stem: str, input_dtype: str) -> tuple[str, str]:
    """(family, precision) of a model stem: ``cloud_bgrn_int8`` -> (cloud_bgrn, int8); ``_edgetpu`` is ignored."""
    stem = stem.removesuffix(EDGETPU_SUFFIX)
    for precision in PRECISIONS:
        if stem.endswith(f"_{precision}"):
            return stem.removesuffix(f"_{precision}"), precision
    return stem, input_dtype


def heldout_accuracy(metrics: dict[str, Any], precision: str) -> dict[str, float]:
    """Held-out scores for ``precision`` from a card's ``metrics``: the numbers directly under ``heldout``
    (cloud cards: pixel_f1, pixel_iou, ...; decision thresholds left out) and, for metrics given per method
    (superres cards: ``mean_cpsnr_db: {model_int8: ..., ...}``), the value of ``model_<precision>``."""
    heldout = metrics.get("heldout", {})
    out = {}
    for name, value in heldout.items():
        if name.endswith("threshold"):
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = float(value)
        elif isinstance(value, dict) and isinstance(value.get(f"model_{precision}"), (int, float)):
            out[name] = float(value[f"model_{precision}"])
    return out


def _card_metrics(path: Path) -> dict[str, Any]:
    """The metrics of the model's card: ``<stem>.json`` beside it, or for an ``_edgetpu`` model its source's card."""
    for card_path in (path.with_suffix(".json"),
                      path.with_name(path.stem.removesuffix(EDGETPU_SUFFIX) + ".json")):
        if card_path.is_file():
            return load_card(card_path).metrics
    return {}


def random_input(model: Model, seed: int = INPUT_SEED) -> np.ndarray:
    """Random data of the model's input shape and dtype: integers over the dtype's range, floats in [0, 1)."""
    rng = np.random.default_rng(seed)
    if np.issubdtype(model.input_dtype, np.integer):
        limits = np.iinfo(model.input_dtype)
        return rng.integers(limits.min, limits.max, model.input_shape, dtype=model.input_dtype, endpoint=True)
    return rng.uniform(0.0, 1.0, model.input_shape).astype(model.input_dtype)


def time_ms(model: Model, q: np.ndarray) -> float:
    """Wall time of one inference of the quantised input ``q``, ms."""
    start = time.perf_counter()
    model.invoke_raw(q)
    return (time.perf_counter() - start) * 1e3


def timed_ms(model: Model, q: np.ndarray, runs: int, warmup: int = 0) -> list[float]:
    """``runs`` timed inferences of ``q`` (ms) after ``warmup`` untimed ones."""
    for _ in range(warmup):
        model.invoke_raw(q)
    return [time_ms(model, q) for _ in range(runs)]


def accelerator_refusal(model: Model, profile: HardwareProfile) -> str | None:
    """Why ``profile``'s accelerator cannot run ``model``, or None: an accelerator that runs full-int8 models only
    (``int8_only``: the Edge TPU of the coral-* profiles) refuses a model with any op on tensors that are not 8-bit
    (:meth:`Model.not_full_int8`), as the Edge TPU compiler does (Coral, "TensorFlow models on the Edge TPU", Model
    requirements, https://coral.ai/docs/edgetpu/models-intro/#model-requirements)."""
    found = model.not_full_int8() if profile.int8_only else None
    return None if found is None else f"{profile.accelerator_rule}; {model.path.name} is not full-int8: {found}"


def project(latency: Latency, input_dtype: str, profile: HardwareProfile, refusal: str | None = None,
            reference_ms_p50: float | None = None) -> Projection | None:
    """Host latency on ``profile`` for a model whose input tensor has dtype ``input_dtype``, divided by the figure a
    run divides a stage's host time by (:func:`onboard.runtime.hardware.model_speed`): ``int8_conv_relative`` for
    an 8-bit input (a uint8 model runs the same kernels), else ``cpu_relative``. None when the profile's accelerator
    refuses the model (``refusal``, from :func:`accelerator_refusal`).

    The profiles' speeds are relative to the reference host, whose latency is the card's ``benchmark`` block
    (``reference_ms_p50``), and a run projects a stage from that. So with a reference, this machine's latencies are
    scaled by reference / measured p50 first: the projected p50 is the run's on any machine, and this machine's
    spread (p90, mean) is kept. Without one, this machine is taken as the reference."""
    if refusal is not None:
        return None
    uses = model_speed(input_dtype)
    figure, speed = SPEED_FIGURES[uses], relative_speed(profile, uses)
    kernels = "int8 kernels" if uses == "int8" else "not at the int8 convolution speed"
    to_reference = reference_ms_p50 / latency.p50 if reference_ms_p50 else 1.0
    host = (f"the card's reference-host p50 ({reference_ms_p50:.2f} ms; this machine {latency.p50:.2f} ms)"
            if reference_ms_p50 else "this machine's latency (no reference in a card: this machine taken as the "
                                     "reference host)")
    return Projection(profile.name, profile.delegate, input_dtype, figure, speed, reference_ms_p50,
                      to_reference * latency.p50 / speed, to_reference * latency.p90 / speed,
                      to_reference * latency.mean / speed, 1e3 * speed / (to_reference * latency.mean),
                      f"projected: {host} / {figure} of the profile ({input_dtype} input: {kernels}; the figure "
                      "a run projects the stage's time with)")


def measure(path: Path, device: str = "host", threads: int = 1, runs: int = 50, warmup: int = 5,
            profile: HardwareProfile | None = None) -> BenchResult:
    """Benchmark one .tflite or .onnx model, checked against its card beside it, or, where that card is its twin's
    (:func:`onnx_export.twin_card`: ``X.json`` of ``X.tflite`` beside ``X.onnx``), against it as a twin
    (:func:`onnx_export.open_twin`). Raises OrbitEdgeError (InputFileError, DelegateError) as Model does."""
    if runs < 1 or warmup < 0 or threads < 1:
        raise OrbitEdgeError(f"need --runs >= 1, --warmup >= 0 and --threads >= 1, got {runs}, {warmup} and {threads}")
    resolve_runtime()  # NOTE: imports the interpreter module now, so that init_ms of the first model excludes it
    if path.suffix == ".onnx":  # the same for ONNX Runtime and the onnx reader; Model names one that is missing
        with contextlib.suppress(OrbitEdgeError):
            load_onnx_runtime()
    twin = twin_card(path)  # a card beside it that is its twin's (X.json of X.tflite, beside X.onnx)
    try:
        model = (Model(path, delegate=delegate_for(device), threads=threads) if twin is None else
                 open_twin(path, twin, delegate=delegate_for(device), threads=threads))
    except ValueError as err:
        raise OrbitEdgeError(f"--device {device}: {err}") from None
    q = random_input(model)
    first_ms = time_ms(model, q)
    warmup_ms = [time_ms(model, q) for _ in range(warmup)]
    latency = Latency.of(timed_ms(model, q, runs))
    start = time.perf_counter()
    for _ in range(runs):
        model.invoke_raw(q)
    offline_s = time.perf_counter() - start
    output = model.invoke_raw(q).copy()
    family, precision = family_and_precision(path.stem, model.input_dtype.name)
    refusal = accelerator_refusal(model, profile) if profile is not None else None
    input_px = int(np.prod(model.input_shape[:3]))
    rate = 1e3 / latency.mean
    return BenchResult(
        model=path.stem, path=str(path), family=family, precision=precision, device=device,
        runtime=model.runtime.name, threads=threads, runs=runs, warmup_runs=warmup,
        size_bytes=path.stat().st_size, input_shape=model.input_shape, input_dtype=model.input_dtype.name,
        input_px=input_px, accuracy=heldout_accuracy(_card_metrics(path), precision),
        init_ms=model.init_s * 1e3, first_inference_ms=first_ms,
        warmup_mean_ms=statistics.fmean(warmup_ms) if warmup_ms else None,
        latency_ms=latency, inferences_per_s=rate, mpx_per_s=rate * input_px / 1e6,
        singlestream_p90_ms=latency.p90, offline_samples_per_s=runs / offline_s, peak_rss_mb=_peak_rss_mib(),
        projected=project(latency, model.input_dtype.name, profile, refusal, _reference_ms_p50(model))
        if profile is not None else None,
        not_projected=refusal, output=output)


def _reference_ms_p50(model: Model) -> float | None:
    """The reference host's p50 latency from the model's card (its ``benchmark`` block), None without one."""
    return model.card.benchmark.host_latency_ms_p50 if model.card and model.card.benchmark else None


def twin_ratios(results: list[BenchResult]) -> list[dict[str, Any]]:
    """For each family and runtime with both twins: int8 / float32 ratios of p50 latency and size, and accuracy
    differences."""
    by_key = {(r.family, r.runtime, r.precision): r for r in results}
    out = []
    for family, runtime in dict.fromkeys((r.family, r.runtime) for r in results):
        f32, i8 = by_key.get((family, runtime, "float32")), by_key.get((family, runtime, "int8"))
        if f32 is None or i8 is None:
            continue
        out.append({"family": family, "runtime": runtime,
                    "int8_over_float32_latency_p50": i8.latency_ms.p50 / f32.latency_ms.p50,
                    "int8_over_float32_size": i8.size_bytes / f32.size_bytes,
                    "int8_minus_float32_accuracy": {k: round(i8.accuracy[k] - f32.accuracy[k], 6)
                                                    for k in i8.accuracy if k in f32.accuracy}})
    return out


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of outputs that agree: integer outputs within 1 LSB (one quantisation step), float outputs within
    FLOAT_AGREEMENT of ``a``'s range."""
    if np.issubdtype(a.dtype, np.integer):
        return float(np.mean(np.abs(a.astype(np.int64) - b.astype(np.int64)) <= 1))
    return float(np.mean(np.abs(a.astype(np.float64) - b) <= FLOAT_AGREEMENT * float(np.ptp(a))))


def runtime_pairs(results: list[BenchResult]) -> list[dict[str, Any]]:
    """For each model measured on LiteRT and, as its ONNX twin, on ONNX Runtime: the ONNX Runtime / LiteRT ratios
    of p50 latency and size, and the share of outputs that agree on the same input (:func:`agreement`)."""
    out = []
    for onnx in (r for r in results if r.runtime == ONNX_RUNTIME):
        litert = next((r for r in results if r.runtime != ONNX_RUNTIME and (r.family, r.precision) ==
                       (onnx.family, onnx.precision)), None)
        if litert is None:
            continue
        same_shape = litert.output is not None and onnx.output is not None and litert.output.shape == onnx.output.shape
        out.append({"family": onnx.family, "precision": onnx.precision, "runtimes": [litert.runtime, ONNX_RUNTIME],
                    "onnx_over_litert_latency_p50": onnx.latency_ms.p50 / litert.latency_ms.p50,
                    "onnx_over_litert_size": onnx.size_bytes / litert.size_bytes,
                    "outputs_agreeing": agreement(litert.output, onnx.output) if same_shape else None})
    return out


def machine() -> dict[str, Any]:
    """The host the benchmark ran on."""
    return {"machine": platform.machine(), "processor": platform.processor() or platform.machine(),
            "system": platform.system(), "python": platform.python_version(), "cpu_count": os.cpu_count()}


def runtime_version(runtime: str) -> str | None:
    """The installed version of a runtime's package, None if pip does not know it."""
    try:
        return metadata.version(RUNTIME_PACKAGES[runtime])
    except metadata.PackageNotFoundError:
        return None


def report(results: list[BenchResult], profile: HardwareProfile | None) -> dict[str, Any]:
    """The JSON document: the host, the settings, every model's result and the twin ratios."""
    first = results[0]
    return {"host": machine(), "device": first.device, "runtime": first.runtime,
            "runtime_version": runtime_version(first.runtime),
            "runtimes": {r.runtime: runtime_version(r.runtime) for r in results}, "threads": first.threads,
            "runs": first.runs, "warmup_runs": first.warmup_runs, "input_seed": INPUT_SEED,
            "profile": profile.name if profile else None,
            "models": [r.to_json() for r in results], "twins": twin_ratios(results),
            "runtime_pairs": runtime_pairs(results)}


def _peak_rss_mib() -> float:
    """This process's peak resident set size, MiB: ``ru_maxrss`` is KiB on Linux, bytes on macOS (getrusage(2))."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024
