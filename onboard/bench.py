"""Model benchmarks in the manner of TFLite's ``benchmark_model`` and MLPerf inference: init time, first
inference, warm-up, latency percentiles, throughput, peak memory, with each model's size and held-out accuracy,
float32 and int8 twins side by side, and optionally the latency projected onto a hardware profile.

Every inference times ``Model.invoke_raw`` (set the input tensor, invoke, read the output) on random data of the
model's input shape and dtype drawn with a fixed seed, so quantising real inputs is not counted. MLPerf names:
SingleStream latency is the p90 of one-at-a-time queries; Offline throughput is samples per second over ``runs``
queries issued back to back.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from rundir.errors import OrbitEdgeError

from .hardware import HardwareProfile
from .interpreter import resolve_runtime
from .modelcard import MODEL_DIR, load_card
from .runtime import Model

PRECISIONS = ("float32", "int8")  # twin order in tables: float32 first
INPUT_SEED = 0
RUNTIME_PACKAGES = {"ai_edge_litert": "ai-edge-litert", "tflite_runtime": "tflite-runtime", "tensorflow": "tensorflow"}
EDGETPU_SUFFIX = "_edgetpu"  # edgetpu_compiler appends it to the stem of the model it compiles


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
    """Host latency projected onto a hardware profile: host time / ``int8_conv_relative``. Not a measurement."""

    profile: str
    delegate: str
    int8_conv_relative: float
    latency_ms_p50: float
    latency_ms_p90: float
    latency_ms_mean: float
    inferences_per_s: float
    basis: str = "projected: host latency / int8_conv_relative of the profile"


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
    init_ms: float  # read and check the model, load the delegate, create the interpreter, allocate tensors
    first_inference_ms: float
    warmup_mean_ms: float | None  # None without warm-up runs
    latency_ms: Latency
    inferences_per_s: float  # 1000 / mean latency
    mpx_per_s: float  # input megapixels per second at that rate
    singlestream_p90_ms: float  # MLPerf SingleStream: p90 latency
    offline_samples_per_s: float  # MLPerf Offline: runs back to back / their wall time
    peak_rss_mb: float  # process high-water mark after this model (ru_maxrss): includes models measured before
    projected: Projection | None = None

    def to_json(self) -> dict[str, Any]:
        """Every field as JSON-ready data."""
        out = asdict(self)
        out["input_shape"] = list(self.input_shape)
        return out


def shipped_models() -> list[str]:
    """Stems of the shipped models (onboard/models/*.tflite), sorted."""
    return sorted(p.stem for p in MODEL_DIR.glob("*.tflite"))


def resolve_models(spec: str) -> list[Path]:
    """The .tflite files for ``spec``: ``all``, a shipped model name, or a path to a .tflite file.

    Raises OrbitEdgeError naming the choices for anything else.
    """
    if spec == "all":
        return [MODEL_DIR / f"{stem}.tflite" for stem in shipped_models()]
    if spec in shipped_models():
        return [MODEL_DIR / f"{spec}.tflite"]
    path = Path(spec)
    if path.suffix == ".tflite" or path.exists():
        if path.is_dir():
            raise OrbitEdgeError(f"{path}: a directory, not a model file")
        if not path.is_file():
            raise OrbitEdgeError(f"{path}: no such model file")
        return [path]
    raise OrbitEdgeError(f"unknown model {spec!r}; choose a shipped model ({', '.join(shipped_models())}), "
                         "'all', or the path of a .tflite file")


def delegate_for(device: str) -> str:
    """The runtime delegate for a bench ``device``: host runs the CPU kernels (XNNPACK)."""
    return "cpu" if device == "host" else device


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


def project(latency: Latency, precision: str, profile: HardwareProfile) -> Projection | None:
    """Host latency on ``profile`` (int8 models only: ``int8_conv_relative`` is an int8 figure), else None."""
    if precision != "int8":
        return None
    speed = profile.int8_conv_relative
    return Projection(profile.name, profile.delegate, speed, latency.p50 / speed, latency.p90 / speed,
                      latency.mean / speed, 1e3 * speed / latency.mean)


def measure(path: Path, device: str = "host", threads: int = 1, runs: int = 50, warmup: int = 5,
            profile: HardwareProfile | None = None) -> BenchResult:
    """Benchmark one .tflite model. Raises OrbitEdgeError (InputFileError, DelegateError) as Model does."""
    if runs < 1 or warmup < 0 or threads < 1:
        raise OrbitEdgeError(f"need --runs >= 1, --warmup >= 0 and --threads >= 1, got {runs}, {warmup} and {threads}")
    resolve_runtime()  # NOTE: imports the interpreter module now, so that init_ms of the first model excludes it
    model = Model(path, delegate=delegate_for(device), threads=threads)
    q = random_input(model)
    first_ms = time_ms(model, q)
    warmup_ms = [time_ms(model, q) for _ in range(warmup)]
    latency = Latency.of(timed_ms(model, q, runs))
    start = time.perf_counter()
    for _ in range(runs):
        model.invoke_raw(q)
    offline_s = time.perf_counter() - start
    family, precision = family_and_precision(path.stem, model.input_dtype.name)
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
        singlestream_p90_ms=latency.p90, offline_samples_per_s=runs / offline_s,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        projected=project(latency, precision, profile) if profile is not None else None)


def twin_ratios(results: list[BenchResult]) -> list[dict[str, Any]]:
    """For each family with both twins: int8 / float32 ratios of p50 latency and size, and accuracy differences."""
    by_key = {(r.family, r.precision): r for r in results}
    out = []
    for family in dict.fromkeys(r.family for r in results):
        f32, i8 = by_key.get((family, "float32")), by_key.get((family, "int8"))
        if f32 is None or i8 is None:
            continue
        out.append({"family": family,
                    "int8_over_float32_latency_p50": i8.latency_ms.p50 / f32.latency_ms.p50,
                    "int8_over_float32_size": i8.size_bytes / f32.size_bytes,
                    "int8_minus_float32_accuracy": {k: round(i8.accuracy[k] - f32.accuracy[k], 6)
                                                    for k in i8.accuracy if k in f32.accuracy}})
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
            "runtime_version": runtime_version(first.runtime), "threads": first.threads,
            "runs": first.runs, "warmup_runs": first.warmup_runs, "input_seed": INPUT_SEED,
            "profile": profile.name if profile else None,
            "models": [r.to_json() for r in results], "twins": twin_ratios(results)}


# ------------------------------------------------------------------------------------------------ table

HEADLINE_METRICS = {"pixel_f1": ("F1", "{:.4f}", "{:+.4f}"), "mean_cpsnr_db": ("cPSNR", "{:.2f} dB", "{:+.3f} dB")}


def headline(accuracy: dict[str, float]) -> str:
    """The one held-out score shown in the table: F1 for cloud models, cPSNR for super-resolution."""
    for key, (label, fmt, _) in HEADLINE_METRICS.items():
        if key in accuracy:
            return f"{label} {fmt.format(accuracy[key])}"
    return "-"


def render(results: list[BenchResult], profile: HardwareProfile | None) -> str:
    """A terminal table: one row per model, twins adjacent (float32 then int8), ratios and projections below."""
    first = results[0]
    families = {family: i for i, family in enumerate(dict.fromkeys(r.family for r in results))}
    precisions = {p: i for i, p in enumerate(PRECISIONS)}
    rows = sorted(results, key=lambda r: (families[r.family], precisions.get(r.precision, len(PRECISIONS))))
    lines = [f"{first.device} ({first.runtime}, {first.threads} thread{'s' * (first.threads > 1)}): "
             f"{first.runs} timed runs after {first.warmup_runs} warm-up, random input (seed {INPUT_SEED}); "
             "times in ms",
             "  SingleStream latency = p90; Offline = runs back to back; RSS = process peak so far",
             ""]
    width = max(22, *(len(r.model) + 2 for r in results))
    head = (f"{'model':<{width}}{'size kB':>8}{'init':>8}{'first':>8}{'warm':>8}{'min':>8}{'p50':>8}{'p90':>8}"
            f"{'p99':>8}{'mean±std':>14}{'inf/s':>10}{'Mpx/s':>7}{'offline/s':>10}{'RSS MB':>8}  held-out")
    lines += [head, "-" * len(head)]
    ratios = {t["family"]: t for t in twin_ratios(results)}
    for i, r in enumerate(rows):
        lat = r.latency_ms
        lines.append(f"{r.model:<{width}}{r.size_bytes / 1e3:>8.1f}{r.init_ms:>8.1f}{r.first_inference_ms:>8.2f}"
                     f"{'-' if r.warmup_mean_ms is None else f'{r.warmup_mean_ms:.2f}':>8}{lat.min:>8.2f}{lat.p50:>8.2f}{lat.p90:>8.2f}{lat.p99:>8.2f}"
                     f"{f'{lat.mean:.2f}±{lat.std:.2f}':>14}{r.inferences_per_s:>10.1f}{r.mpx_per_s:>7.2f}"
                     f"{r.offline_samples_per_s:>10.1f}{r.peak_rss_mb:>8.1f}  {headline(r.accuracy)}")
        if r.device == "edgetpu" and not r.model.endswith(EDGETPU_SUFFIX):
            lines.append(f"  note: {r.model} is not compiled by edgetpu_compiler (no {EDGETPU_SUFFIX} suffix): "
                         "the delegate takes none of its ops, they ran on the CPU")
        if r.projected is not None:
            p = r.projected
            lines.append(f"  projected on {p.profile} ({p.delegate}, int8 x{p.int8_conv_relative:g}): "
                         f"p50 {p.latency_ms_p50:.2f} ms, p90 {p.latency_ms_p90:.2f} ms, "
                         f"{p.inferences_per_s:.1f} inf/s (PROJECTED, not measured)")
        last_of_family = i + 1 == len(rows) or rows[i + 1].family != r.family
        if last_of_family and r.family in ratios:
            t = ratios[r.family]
            diffs = ", ".join(f"{HEADLINE_METRICS[k][0]} {HEADLINE_METRICS[k][2].format(v)}"
                              for k, v in t["int8_minus_float32_accuracy"].items() if k in HEADLINE_METRICS)
            lines.append(f"  int8 / float32: latency p50 x{t['int8_over_float32_latency_p50']:.2f}, "
                         f"size x{t['int8_over_float32_size']:.2f}" + (f", {diffs}" if diffs else ""))
    if profile is not None and all(r.projected is None for r in results):
        lines.append(f"  no projection on {profile.name}: its int8_conv_relative applies to int8 models only")
    return "\n".join(lines)
