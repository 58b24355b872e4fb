"""The cloud filter's figures: pixel precision-recall across thresholds, and bandwidth saved against clear pixels
lost across thresholds and the tile policy (report.json's ``cloud`` section; drawn by
:func:`ground.plots.write_plots`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.ticker import MaxNLocator

from .canvas import figure, save

TILE_COLOURS = colormaps["viridis"]  # one colour per tile size in the trade-off plot
LABEL_PT = 7.0  # type size of the trade-off plot's point labels


def plot_pr_curve(curve: Sequence[Mapping[str, Any]], threshold: float, baseline: Mapping[str, Any], path: Path) -> None:
    """Pixel precision against recall of the on-board cloud model across thresholds (some labelled), the stage's
    threshold and the spectral baseline marked, over lines of equal F1; the axes zoom to the points (:func:`_zoom`)
    so that a detector near the corner still shows its shape."""
    fig = figure(6.0, 5.0)
    ax = fig.subplots()
    points = [(p["recall"], p["precision"], p["threshold"]) for p in curve
              if p["precision"] is not None and p["recall"] is not None]
    has_base = baseline.get("precision") is not None and baseline.get("recall") is not None
    extra = [(baseline["recall"], baseline["precision"])] if has_base else []
    xlim = _zoom([p[0] for p in points] + [e[0] for e in extra])
    ylim = _zoom([p[1] for p in points] + [e[1] for e in extra])
    recall, precision = np.meshgrid(np.linspace(*xlim, 200), np.linspace(*ylim, 200))
    f1 = 2 * recall * precision / np.maximum(recall + precision, 1e-9)
    iso = ax.contour(recall, precision, f1, levels=MaxNLocator(5).tick_values(f1.min(), f1.max()), colors="0.75",
                     linewidths=0.8)
    ax.clabel(iso, fmt="F1 %.2f", fontsize="x-small")
    ax.plot([p[0] for p in points], [p[1] for p in points], "o-", color="tab:blue", ms=3, label="cloud model")
    for recall_, precision_, t in points:
        if abs(t - threshold) < 1e-9:
            ax.plot(recall_, precision_, "o", color="tab:red", ms=8, label=f"stage threshold {t:g}", zorder=5)
        if round(t * 20) % 4 == 2:  # 0.1, 0.3, 0.5, 0.7, 0.9
            ax.annotate(f"t {t:g}", (recall_, precision_), textcoords="offset points", xytext=(-5, -11),
                        fontsize="x-small", color="tab:blue", ha="right")
    if has_base:
        ax.plot(baseline["recall"], baseline["precision"], "s", color="tab:orange", ms=8, label="spectral baseline")
    ax.set_xlabel("recall (cloud pixels found)")
    ax.set_ylabel("precision (flagged pixels that are cloud)")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_title("Cloud detection per pixel, thresholds 0.05 to 0.95\n(axes zoomed to the points)", fontsize="medium")
    ax.legend(loc="lower left", fontsize="small")
    ax.grid(alpha=0.3)
    save(fig, path)


def _zoom(values: Sequence[float]) -> tuple[float, float]:
    """Axis limits around ``values`` (shares 0..1): their range plus 8 % of it (at least 0.01) each side, at least
    0.05 wide, from no lower than 0 to no higher than 1 plus half that margin (so points at 1 stay whole)."""
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    pad = max(0.01, 0.08 * (high - low))
    low, high = max(0.0, low - pad), min(1.0 + pad / 2, high + pad)
    if high - low < 0.05:
        low = max(0.0, high - 0.05)
        high = low + 0.05  # widened upwards where 0 stops it (a point at recall 0)
    return low, high


def plot_tradeoff(cloud: Mapping[str, Any], path: Path) -> None:
    """Bandwidth saved by tile selection against clear pixels lost (%), from report.json's ``cloud`` section: the
    model across thresholds at the stage's tile policy; across the tile policy at the stage's threshold, one dashed
    line per tile size through its max_cloud_fraction values (labelled); the spectral baseline, the perfect-mask
    oracle, and what the stage did (red, on top). With bursts the lines and the baseline act on frame 0's map alone,
    upper bounds on a stage that judges every frame (:mod:`ground.cloud`), and the title says so."""
    policy = cloud["policy"]
    fig = figure(8.0, 6.0)
    ax = fig.subplots()

    def xy(points: Sequence[Mapping[str, Any]]) -> list[tuple[float, float, Mapping[str, Any]]]:
        return [(100 * p["clear_pixels_lost_fraction"], 100 * p["saved_fraction"], p) for p in points
                if p["saved_fraction"] is not None and p["clear_pixels_lost_fraction"] is not None]

    pts = xy(cloud["tradeoff"])
    ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color="tab:blue", ms=3, zorder=3,
            label=f"thresholds 0.05-0.95 ({policy['tile_px']} px, > {policy['max_cloud_fraction']:g} cloud)")
    labels = [(f"t {p['threshold']:g}", (lost, saved), (4, -9), "tab:blue") for lost, saved, p in pts
              if round(p["threshold"] * 20) % 4 == 2]  # 0.1, 0.3, 0.5, 0.7, 0.9
    sweep = cloud.get("tradeoff_tile_policy") or []
    sizes = sorted({p["tile_px"] for p in sweep})
    for i, tile_px in enumerate(sizes):
        line = xy([p for p in sweep if p["tile_px"] == tile_px])
        colour = TILE_COLOURS(0.85 * i / max(len(sizes) - 1, 1))  # viridis short of its pale yellow
        ax.plot([p[0] for p in line], [p[1] for p in line], "s--", color=colour, ms=4, lw=1,
                label=f"{tile_px} px tiles, max cloud {line[0][2]['max_cloud_fraction']:g}-"
                      f"{line[-1][2]['max_cloud_fraction']:g} (t {policy['threshold']:g})" if line else
                      f"{tile_px} px tiles")
        labels += [(f"{p['max_cloud_fraction']:g}", (lost, saved), (3, 3), colour) for lost, saved, p in line]
    if cloud.get("tile_selection_saved_fraction") is not None and cloud.get("clear_pixels_lost_fraction") is not None:
        ax.plot(100 * cloud["clear_pixels_lost_fraction"], 100 * cloud["tile_selection_saved_fraction"], "o",
                color="tab:red", ms=11, mfc="none", mew=2.5, zorder=6,
                label=f"this run's stage: t {policy['threshold']:g}, {policy['tile_px']} px, "
                      f"> {policy['max_cloud_fraction']:g} cloud")
    for name, point, marker, colour in (("spectral baseline", cloud["baseline_spectral"], "P", "tab:orange"),
                                        ("oracle (true mask)", cloud["oracle"], "*", "tab:green")):
        if point.get("tile_selection_saved_fraction") is not None and \
                point.get("clear_pixels_lost_fraction") is not None:
            ax.plot(100 * point["clear_pixels_lost_fraction"], 100 * point["tile_selection_saved_fraction"], marker,
                    color=colour, ms=11, label=f"{name}, stage policy", zorder=5)
    ax.set_xlabel("clear pixels lost (%)")
    ax.set_ylabel("bandwidth saved by dropping cloudy tiles (%)")
    ax.set_title("What the cloud filter saves, and what it costs: threshold and tile policy" +
                 ("\n(lines and baseline: bursts' frame 0's map alone, upper bounds)" if cloud.get("bursts") else ""))
    annotate_apart(ax, labels)
    ax.legend(loc="best", fontsize="x-small")
    ax.grid(alpha=0.3)
    save(fig, path)


def annotate_apart(ax: Any, labels: Sequence[tuple[str, tuple[float, float], tuple[int, int], Any]]) -> None:
    """Annotate each of ``labels`` (text, data point, offset in points, colour) in LABEL_PT type, in order, leaving
    out one whose text would overlap a label already placed (each taken as a box LABEL_PT high and 0.6 LABEL_PT
    wide per character): where the points of several lines crowd together, their labels would print over each
    other."""
    ax.autoscale_view()
    scale = ax.figure.dpi / 72.0  # display pixels per point
    placed: list[tuple[float, float, float, float]] = []
    for text, point, offset, colour in labels:
        x, y = ax.transData.transform(point) + np.asarray(offset) * scale
        box = (x, y, x + 0.6 * LABEL_PT * len(text) * scale, y + LABEL_PT * scale)
        if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
            ax.annotate(text, point, textcoords="offset points", xytext=offset, fontsize=LABEL_PT, color=colour)
            placed.append(box)
