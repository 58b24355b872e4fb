"""A sweep's figures as PNG files: bandwidth saved against clear pixels lost, energy per delivered MB and p90
latency with the joint Pareto front of all of them marked (the report table's stars) and the oracle (true cloud mask,
same tile policy) for reference, and one plot per axis showing its effect on the objective; each point a
configuration's mean with its 95 % confidence interval over replicates."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from ground.canvas import figure, save
from ground.document import slug

from .figures import FIGURES, PARETO_X, interval
from .sampling import Axis
from .sweep_plan import RunSpec, value_id
from .sweep_results import ConfigSummary, joint_front, off_front_reasons, pareto_criteria

PARETO_PLOT = "plots/pareto.png"
FRONT_COLOUR, ORACLE_COLOUR, OTHER_COLOUR = "tab:red", "tab:green", "0.6"
ORACLE_X, ORACLE_Y = "oracle_saved_vs_single_frame_fraction", "oracle_clear_pixels_lost_fraction"
FRONT_LABEL = "joint Pareto front (* in the table)"
OTHER_LABEL = "other configurations"
ORACLE_LABEL = "oracle (true cloud mask, same tile policy)"
ORACLE_BEST_LABEL = "oracle's highest saving (true cloud mask, same tile policy)"


def axis_plot_path(index: int, axis: Axis) -> str:
    return f"plots/axis-{index}-{slug(axis.key.replace('[', '-').replace(']', '').replace('.', '-'))}.png"


def _scale(name: str) -> float:
    """Plotted in % for fractions, as is otherwise."""
    return 100.0 if FIGURES[name].unit == "fraction" else 1.0


def _label(name: str) -> str:
    unit = FIGURES[name].unit
    return f"{name} ({'%' if unit == 'fraction' else unit})"


def _mean_ci(c: ConfigSummary, name: str) -> tuple[float | None, tuple[float, float] | None]:
    """The configuration's mean of figure ``name`` as plotted, and how far its 95 % CI reaches below and above it,
    clipped to the values the figure can take (:func:`app.figures.interval`); None for what it lacks."""
    est = c.figures.get(name)
    if est is None or est.mean is None:
        return None, None
    clipped = interval(name, est)
    reach = None if clipped is None else (est.mean - clipped[0], clipped[1] - est.mean)
    return est.mean * _scale(name), None if reach is None else (reach[0] * _scale(name), reach[1] * _scale(name))


def plot_pareto(configs: Sequence[ConfigSummary], path: Path) -> list[str]:
    """One panel per figure of PARETO_Y that the joint Pareto front weighs (:func:`pareto_criteria`), bandwidth saved
    on x: the configurations on the joint front (those the report's table stars) red and numbered, the others grey,
    and the oracle in green for reference (:func:`_oracle`). Returns the PARETO_Y names drawn (none: no file
    written)."""
    criteria = pareto_criteria(configs)
    names = list(criteria[1:])
    if not names:
        return []
    best = joint_front(configs)
    fig = figure(5.0 * len(names), 4.6)
    for ax, name in zip(fig.subplots(1, len(names), squeeze=False)[0], names):
        _pareto_panel(ax, configs, name, best)
    fig.suptitle(textwrap.fill(pareto_title(len(criteria)), 64 * len(names)), fontsize="small")
    save(fig, path)
    return names


def pareto_title(n: int) -> str:
    """The Pareto plot's title: what its red points are."""
    return (f"Joint Pareto front over the {n} figures, red and numbered: no other configuration is at least as good "
            f"on all {n} and better on one (means; bars: 95 % CI over replicates)")


def _pareto_panel(ax: Any, configs: Sequence[ConfigSummary], name: str, best: set[int]) -> None:
    """Bandwidth saved against ``name``: each configuration's mean with its 95 % CI, red and numbered when it is
    on the joint front ``best`` (drawn last, on top), grey otherwise; the oracle; axes around the means."""
    known, front_drawn, others_drawn = [], False, False
    for c in sorted(configs, key=lambda c: c.config in best):
        (x, xe), (y, ye) = _mean_ci(c, PARETO_X), _mean_ci(c, name)
        if x is None or y is None:
            continue
        known.append((x, y))
        front_drawn, others_drawn = front_drawn or c.config in best, others_drawn or c.config not in best
        _point(ax, x, y, xe, ye, FRONT_COLOUR if c.config in best else OTHER_COLOUR)
        if c.config in best:
            ax.annotate(str(c.config), (x, y), textcoords="offset points", xytext=(4, 4), fontsize="x-small",
                        color=FRONT_COLOUR)
    for colour, label, drawn in ((FRONT_COLOUR, FRONT_LABEL, front_drawn), (OTHER_COLOUR, OTHER_LABEL, others_drawn)):
        if drawn:
            ax.plot([], [], "o", color=colour, ms=5, label=label)
    oracle_ys = _oracle(ax, configs, name)
    ax.set_xlim(*_limits([p[0] for p in known] + _oracle_xs(configs)))
    ax.set_ylim(*_limits([p[1] for p in known] + oracle_ys))
    ax.set_xlabel(f"bandwidth saved, {_label(PARETO_X)}")
    ax.set_ylabel(_label(name))
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small")


def _point(ax: Any, x: float, y: float, xe: tuple[float, float] | None, ye: tuple[float, float] | None,
           colour: str) -> None:
    """A configuration's mean, its 95 % CI as faint bars, ``(below, above)`` it (wide ones run off the plot)."""
    if any(xe or ()) or any(ye or ()):
        ax.errorbar(x, y, xerr=None if xe is None else [[xe[0]], [xe[1]]],
                    yerr=None if ye is None else [[ye[0]], [ye[1]]], fmt="none", ecolor=colour, alpha=0.3,
                    elinewidth=0.8, capsize=2)
    ax.plot(x, y, "o", color=colour, ms=5)


def _limits(values: list[float]) -> tuple[float, float]:
    """Axis limits around the means ``values`` (15 % of their span each side): confidence intervals wider than
    the plot run off it (the report's table gives them)."""
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    pad = 0.15 * (hi - lo) or 0.05 * abs(hi) or 1.0
    return lo - pad, hi + pad


def _oracle_xs(configs: Sequence[ConfigSummary]) -> list[float]:
    return [x for x in (_mean_ci(c, ORACLE_X)[0] for c in configs) if x is not None]


def _oracle_best_x(configs: Sequence[ConfigSummary]) -> float | None:
    """The highest oracle saving of the configurations that may be on a front: one off every front
    (:func:`app.sweep_results.off_front_reasons`, e.g. a replicate that delivered nothing, whose "saving" is all of
    nothing) does not set the reference the front is read against. None when none has one."""
    off = off_front_reasons(configs)
    return max(_oracle_xs([c for c in configs if c.config not in off]), default=None)


def oracle_drawn(configs: Sequence[ConfigSummary], panel: str) -> str | None:
    """How the oracle appears in the Pareto panel of ``panel``: ``"marks"`` (an x per configuration, against clear
    pixels lost, where a configuration has both oracle figures), ``"line"`` (the highest saving of those that may
    be on a front, dashed: :func:`_oracle_best_x`) or None (no oracle: no cloud_filter stage, or only
    configurations off every front)."""
    if not _oracle_xs(configs):
        return None
    known = any(_mean_ci(c, ORACLE_X)[0] is not None and _mean_ci(c, ORACLE_Y)[0] is not None for c in configs)
    if panel == ORACLE_Y.removeprefix("oracle_") and known:
        return "marks"
    return "line" if _oracle_best_x(configs) is not None else None


def _oracle(ax: Any, configs: Sequence[ConfigSummary], name: str) -> list[float]:
    """The oracle, each configuration's pipeline fed the true cloud mask under its own tile policy, for reference
    (not a bound: the model's mask can save more, or lose fewer clear pixels): against clear pixels lost, an x per
    configuration joined to it by a dotted line; elsewhere the highest oracle saving as a dashed vertical line.
    Nothing without a cloud_filter stage (no oracle). Returns the y values of the x marks drawn."""
    drawn = oracle_drawn(configs, name)
    if drawn == "marks":
        marks = [(c, _mean_ci(c, ORACLE_X)[0], _mean_ci(c, ORACLE_Y)[0]) for c in configs]
        marks = [(c, x, y) for c, x, y in marks if x is not None and y is not None]
        for c, x, y in marks:
            cx, cy = _mean_ci(c, PARETO_X)[0], _mean_ci(c, name)[0]
            if cx is not None and cy is not None:
                ax.plot([cx, x], [cy, y], ":", color=ORACLE_COLOUR, lw=0.8, alpha=0.6)
        ax.plot([m[1] for m in marks], [m[2] for m in marks], "x", color=ORACLE_COLOUR, ms=6, label=ORACLE_LABEL)
        return [m[2] for m in marks]
    if drawn == "line":
        ax.axvline(_oracle_best_x(configs), ls="--", color=ORACLE_COLOUR, lw=1.2, label=ORACLE_BEST_LABEL)
    return []


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def axis_labels(axis: Axis, runs: Sequence[RunSpec]) -> list[str]:
    """The labels of a list axis's values in the order the sweep file writes them, as its ``runs`` label them (a
    value no run draws: none); none for a range."""
    named = {value_id(spec.values[axis.key]): spec.labels[axis.key] for spec in runs if axis.key in spec.values}
    return [named[value_id(v)] for v in axis.values or () if value_id(v) in named]


def plot_axis(index: int, axis: Axis, configs: Sequence[ConfigSummary], objective: str, grid: bool,
              path: Path, written: Sequence[str] = ()) -> Figure:
    """The objective against one axis: each configuration's mean with its 95 % CI; on a grid, the mean over the
    other axes at each value joined by a line. Values that are not numbers are placed in the order ``written``
    (:func:`axis_labels`; others after, as ``configs`` come) and labelled. Returns the figure, saved."""
    fig = figure(5.5, 4.0)
    ax = fig.subplots()
    labels = [c.labels.get(axis.key, "") for c in configs]
    numeric = all(_is_number(label) for label in labels)
    order = list(dict.fromkeys(sorted(labels, key=float) if numeric else
                               [label for label in dict.fromkeys([*written, *labels]) if label in labels]))
    position = {label: (float(label) if numeric else float(i)) for i, label in enumerate(order)}
    by_value: dict[str, list[float]] = {}
    for c, label in zip(configs, labels):
        y, ye = _mean_ci(c, objective)
        if y is None:
            continue
        _point(ax, position[label], y, None, ye, "tab:blue")
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
    return fig
