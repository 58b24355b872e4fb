"""A sweep's figures as PNG files: the Pareto front of bandwidth saved against clear pixels lost, energy per
delivered MB and p90 latency, bounded by the oracle, and one plot per axis showing its effect on the objective;
each point a configuration's mean with its 95 % confidence interval over replicates."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ground.canvas import figure, save
from ground.document import slug

from .figures import FIGURES, PARETO_X, PARETO_Y
from .pareto import front, staircase
from .sampling import Axis
from .sweep_results import ConfigSummary

PARETO_PLOT = "plots/pareto.png"
FRONT_COLOUR, ORACLE_COLOUR, OTHER_COLOUR = "tab:red", "tab:green", "0.6"


def axis_plot_path(index: int, axis: Axis) -> str:
    return f"plots/axis-{index}-{slug(axis.key.replace('[', '-').replace(']', '').replace('.', '-'))}.png"


def _scale(name: str) -> float:
    """Plotted in % for fractions, as is otherwise."""
    return 100.0 if FIGURES[name].unit == "fraction" else 1.0


def _label(name: str) -> str:
    unit = FIGURES[name].unit
    return f"{name} ({'%' if unit == 'fraction' else unit})"


def _mean_ci(c: ConfigSummary, name: str) -> tuple[float | None, float]:
    est = c.figures.get(name)
    if est is None or est.mean is None:
        return None, 0.0
    return est.mean * _scale(name), (est.half_width or 0.0) * _scale(name)


def plot_pareto(configs: Sequence[ConfigSummary], path: Path) -> list[str]:
    """One panel per figure of PARETO_Y that was collected, bandwidth saved on x; the front drawn as a staircase and
    its configurations numbered; the oracle's bound dashed (its own front against clear pixels lost, its best saving
    as a vertical line elsewhere). Returns the PARETO_Y names drawn (none: no file written)."""
    names = [n for n in PARETO_Y if any(_mean_ci(c, n)[0] is not None for c in configs)
             and any(_mean_ci(c, PARETO_X)[0] is not None for c in configs)]
    if not names:
        return []
    fig = figure(5.0 * len(names), 4.4)
    for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names):
        points = [(_mean_ci(c, PARETO_X), _mean_ci(c, name)) for c in configs]
        xy = [(x[0], y[0]) for x, y in points]
        best = set(front(xy, ("max", "min")))
        for i, ((x, xe), (y, ye)) in enumerate(points):
            if x is not None and y is not None:
                colour = FRONT_COLOUR if i in best else OTHER_COLOUR
                _point(ax, x, y, xe, ye, colour)
                if i in best:
                    ax.annotate(str(configs[i].config), (x, y), textcoords="offset points", xytext=(4, 4),
                                fontsize="x-small", color=FRONT_COLOUR)
        known = [p for p in xy if None not in p]
        line = staircase(known, ("max", "min"))
        ax.plot([p[0] for p in line], [p[1] for p in line], "-", color=FRONT_COLOUR, lw=1.5, label="Pareto front")
        _oracle(ax, configs, name)
        ax.set_xlim(*_limits([p[0] for p in known] + _oracle_xs(configs)))
        oracle_ys = [_mean_ci(c, "oracle_clear_pixels_lost_fraction")[0] for c in configs] \
            if name == "clear_pixels_lost_fraction" else []
        ax.set_ylim(*_limits([p[1] for p in known] + [y for y in oracle_ys if y is not None]))
        ax.set_xlabel(f"bandwidth saved, {_label(PARETO_X)}")
        ax.set_ylabel(_label(name))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    fig.suptitle("Pareto front over the configurations (means; bars: 95 % CI over replicates; numbers: "
                 "configuration)",
                 fontsize="medium")
    save(fig, path)
    return names


def _point(ax: Any, x: float, y: float, xe: float, ye: float, colour: str) -> None:
    """A configuration's mean, its 95 % CI as faint bars (wide ones run off the plot)."""
    if xe or ye:
        ax.errorbar(x, y, xerr=xe or None, yerr=ye or None, fmt="none", ecolor=colour, alpha=0.3, elinewidth=0.8,
                    capsize=2)
    ax.plot(x, y, "o", color=colour, ms=5)


def _limits(values: list[float]) -> tuple[float, float]:
    """Axis limits around the means ``values`` (15 % of their span each side): confidence intervals wider than
    the plot run off it (the report's table gives them)."""
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    pad = 0.15 * (hi - lo) or 0.05 * abs(hi) or 1.0
    return lo - pad, hi + pad


def _oracle_xs(configs: Sequence[ConfigSummary]) -> list[float]:
    return [x for x in (_mean_ci(c, "oracle_saved_vs_single_frame_fraction")[0] for c in configs) if x is not None]


def _oracle(ax: Any, configs: Sequence[ConfigSummary], name: str) -> None:
    """The oracle's bound: against clear pixels lost, its front over the configurations; elsewhere the best oracle
    saving as a vertical line. Nothing without a cloud_filter stage (no oracle)."""
    xs = [_mean_ci(c, "oracle_saved_vs_single_frame_fraction")[0] for c in configs]
    if all(x is None for x in xs):
        return
    if name == "clear_pixels_lost_fraction":
        ys = [_mean_ci(c, "oracle_clear_pixels_lost_fraction")[0] for c in configs]
        line = staircase([(x, y) for x, y in zip(xs, ys) if x is not None and y is not None], ("max", "min"))
        if line:
            ax.plot([p[0] for p in line], [p[1] for p in line], "x--", color=ORACLE_COLOUR, lw=1.2,
                    label="oracle bound (true cloud mask)")
            return
    ax.axvline(max(_oracle_xs(configs)), ls="--", color=ORACLE_COLOUR, lw=1.2,
               label="oracle bound (best saving, true mask)")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def plot_axis(index: int, axis: Axis, configs: Sequence[ConfigSummary], objective: str, grid: bool,
              path: Path) -> None:
    """The objective against one axis: each configuration's mean with its 95 % CI; on a grid, the mean over the
    other axes at each value joined by a line. Values that are not numbers are placed in order and labelled."""
    fig = figure(5.5, 4.0)
    ax = fig.subplots()
    labels = [c.labels.get(axis.key, "") for c in configs]
    numeric = all(_is_number(label) for label in labels)
    order = list(dict.fromkeys(labels if not numeric else sorted(labels, key=float)))
    position = {label: (float(label) if numeric else float(i)) for i, label in enumerate(order)}
    by_value: dict[str, list[float]] = {}
    for c, label in zip(configs, labels):
        y, ye = _mean_ci(c, objective)
        if y is None:
            continue
        _point(ax, position[label], y, 0.0, ye, "tab:blue")
        by_value.setdefault(label, []).append(y)
    ax.set_ylim(*_limits([y for ys in by_value.values() for y in ys]))
    if grid and len(by_value) > 1:
        xs = [position[label] for label in order if label in by_value]
        ys = [sum(by_value[label]) / len(by_value[label]) for label in order if label in by_value]
        ax.plot(xs, ys, "-", color="tab:orange", lw=1.5, label="mean over the other axes")
        ax.legend(fontsize="x-small")
    if not numeric:
        ax.set_xticks([position[label] for label in order], order, rotation=20, ha="right", fontsize="x-small")
    elif axis.scale == "log":
        ax.set_xscale("log")
    ax.set_xlabel(axis.key)
    ax.set_ylabel(_label(objective))
    ax.set_title(f"Effect of {axis.key} on {objective}", fontsize="medium")
    ax.grid(alpha=0.3)
    save(fig, path)
