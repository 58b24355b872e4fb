"""The terminal table of ``orbitedge bench``: one row per model and runtime, twins adjacent (float32 then int8,
LiteRT then ONNX Runtime), with the ratios, the runtimes' agreement and the projections below."""

from __future__ import annotations

from typing import Any

import numpy as np

from .bench import (EDGETPU_SUFFIX, FLOAT_AGREEMENT, INPUT_SEED, PRECISIONS, BenchResult, runtime_pairs,
                    runtime_version, twin_ratios)
from .hardware import HardwareProfile
from .model import ONNX_RUNTIME

# (header, usual width) of the right-aligned columns after model and runtime
NUMBER_COLUMNS = (("size kB", 8), ("init", 8), ("first", 8), ("warm", 8), ("min", 8), ("p50", 8), ("p90", 8),
                  ("p99", 8), ("mean±std", 14), ("inf/s", 10), ("Mpx/s", 7), ("offline/s", 10), ("RSS MB", 8))
HEADLINE_METRICS = {"pixel_f1": ("F1", "{:.4f}", "{:+.4f}"), "mean_cpsnr_db": ("cPSNR", "{:.2f} dB", "{:+.3f} dB")}


def headline(accuracy: dict[str, float]) -> str:
    """The one held-out score shown in the table: F1 for cloud models, cPSNR for super-resolution."""
    for key, (label, fmt, _) in HEADLINE_METRICS.items():
        if key in accuracy:
            return f"{label} {fmt.format(accuracy[key])}"
    return "-"


def render(results: list[BenchResult], profile: HardwareProfile | None) -> str:
    """A terminal table: one row per model and runtime, twins adjacent (float32 then int8, LiteRT then ONNX
    Runtime), ratios, the runtimes' agreement and projections below."""
    first = results[0]
    families = {family: i for i, family in enumerate(dict.fromkeys(r.family for r in results))}
    precisions = {p: i for i, p in enumerate(PRECISIONS)}
    rows = sorted(results, key=lambda r: (families[r.family], precisions.get(r.precision, len(PRECISIONS)),
                                          r.runtime == ONNX_RUNTIME))
    runtimes = ", ".join(f"{name} {runtime_version(name) or ''}".strip() for name in dict.fromkeys(r.runtime for r in rows))
    lines = [f"{first.device} ({runtimes}; {first.threads} thread{'s' * (first.threads > 1)}): "
             f"{first.runs} timed runs after {first.warmup_runs} warm-up, random input (seed {INPUT_SEED}); "
             "times in ms",
             "  SingleStream latency = p90; Offline = runs back to back; RSS = process peak so far",
             ""]
    cells = {id(r): _cells(r) for r in rows}
    # each column at least its usual width, and wider than its widest cell: a slow model's 1358.07 ms or a fast one's
    # 266761.4 inf/s keeps a space before it
    widths = [max(width, *(len(cells[id(r)][i]) + gap for r in rows))
              for i, (width, gap) in enumerate([(22, 2), (16, 2), *((w, 1) for _, w in NUMBER_COLUMNS)])]
    head = (f"{'model':<{widths[0]}}{'runtime':<{widths[1]}}"
            + "".join(f"{name:>{w}}" for (name, _), w in zip(NUMBER_COLUMNS, widths[2:])) + "  held-out")
    lines += [head, "-" * len(head)]
    ratios = {(t["family"], t["runtime"]): t for t in twin_ratios(results)}
    pairs = {(p["family"], p["precision"]): p for p in runtime_pairs(results)}
    for i, r in enumerate(rows):
        model, runtime, *numbers = cells[id(r)]
        lines.append(f"{model:<{widths[0]}}{runtime:<{widths[1]}}"
                     + "".join(f"{cell:>{w}}" for cell, w in zip(numbers, widths[2:])) + f"  {headline(r.accuracy)}")
        lines += _notes(r, pairs.get((r.family, r.precision)) if r.runtime == ONNX_RUNTIME else None)
        last_of_family = i + 1 == len(rows) or rows[i + 1].family != r.family
        for (family, runtime), t in ratios.items():
            if last_of_family and family == r.family:
                diffs = ", ".join(f"{HEADLINE_METRICS[k][0]} {HEADLINE_METRICS[k][2].format(v)}"
                                  for k, v in t["int8_minus_float32_accuracy"].items() if k in HEADLINE_METRICS)
                lines.append(f"  int8 / float32 ({runtime}): latency p50 x{t['int8_over_float32_latency_p50']:.2f}, "
                             f"size x{t['int8_over_float32_size']:.2f}" + (f", {diffs}" if diffs else ""))
    return "\n".join(lines)


def _cells(r: BenchResult) -> list[str]:
    """A result's row as text: model, runtime, then NUMBER_COLUMNS."""
    lat = r.latency_ms
    warm = "-" if r.warmup_mean_ms is None else f"{r.warmup_mean_ms:.2f}"
    return [r.model, r.runtime, f"{r.size_bytes / 1e3:.1f}", f"{r.init_ms:.1f}", f"{r.first_inference_ms:.2f}", warm,
            *(f"{v:.2f}" for v in (lat.min, lat.p50, lat.p90, lat.p99)), f"{lat.mean:.2f}±{lat.std:.2f}",
            f"{r.inferences_per_s:.1f}", f"{r.mpx_per_s:.2f}", f"{r.offline_samples_per_s:.1f}", f"{r.peak_rss_mb:.1f}"]


def _notes(r: BenchResult, pair: dict[str, Any] | None) -> list[str]:
    """The lines under a model's row: an uncompiled Edge TPU model, its projection or why there is none, its agreement
    with LiteRT."""
    lines = []
    if r.device == "edgetpu" and not r.model.endswith(EDGETPU_SUFFIX):
        lines.append(f"  note: {r.model} is not compiled by edgetpu_compiler (no {EDGETPU_SUFFIX} suffix): "
                     "the delegate takes none of its ops, they ran on the CPU")
    if r.projected is not None:
        p = r.projected
        basis = (f"from the card's reference-host p50 {p.reference_ms_p50:.2f} ms, as a run projects it"
                 if p.reference_ms_p50 else "from this machine's latency: no reference in a card")
        lines.append(f"  projected on {p.profile} ({p.delegate}, {p.input_dtype} input: {p.speed_figure} "
                     f"x{p.relative_speed:g}; {basis}): "
                     f"p50 {p.latency_ms_p50:.2f} ms, p90 {p.latency_ms_p90:.2f} ms, "
                     f"{p.inferences_per_s:.1f} inf/s (PROJECTED, not measured)")
    if r.not_projected is not None:
        lines.append(f"  not projected: {r.not_projected}")
    if pair is not None:
        tolerance = "1 LSB" if np.issubdtype(r.output.dtype, np.integer) else f"{FLOAT_AGREEMENT:g} of the range"
        agreeing = "outputs of different shapes" if pair["outputs_agreeing"] is None else \
            f"{pair['outputs_agreeing']:.1%} of outputs within {tolerance} of LiteRT's"
        lines.append(f"  {ONNX_RUNTIME} / {pair['runtimes'][0]}: latency p50 x{pair['onnx_over_litert_latency_p50']:.2f}, "
                     f"size x{pair['onnx_over_litert_size']:.2f}; {agreeing}")
    return lines
