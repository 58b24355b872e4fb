"""A sweep's report, ``sweep.md`` or ``sweep.html``: the configurations ranked by the objective with 95 % confidence
intervals over replicates, the Pareto front bounded by the oracle, one plot per axis, and the failed runs with their
errors (written with :mod:`ground.document`, the run report's blocks)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ground.document import Block, Heading, Image, Paragraph, Table, capped, to_html, to_markdown
from rundir.files import write_text

from .figures import FIGURES, PARETO_X, PARETO_Y, fmt_figure
from .pareto import front
from .sweep_file import Sweep
from .sweep_plots import PARETO_PLOT, axis_plot_path, plot_axis, plot_pareto
from .sweep_results import ConfigSummary, Estimate

KEY_FIGURES = ("saved_fraction", "clear_pixels_lost_fraction", "energy_per_mb_wh", "latency_p90_s", "cloud_f1",
               "cpsnr_db")
"""The figures the ranked table shows beside the objective (those collected)."""


def fmt_estimate(name: str, est: Estimate | None) -> str:
    """``mean ± half-width`` in the figure's unit (the mean alone from one replicate)."""
    if est is None or est.mean is None:
        return "n/a"
    if est.half_width is None:
        return fmt_figure(name, est.mean)
    return f"{fmt_figure(name, est.mean)} ± {fmt_figure(name, est.half_width)}"


def joint_front(configs: Sequence[ConfigSummary]) -> set[int]:
    """Configuration indices on the Pareto front of every Pareto figure at once (saved up, the others down), by
    their means; empty when a figure was not collected."""
    names = (PARETO_X, *PARETO_Y)
    if any(name not in (configs[0].figures if configs else {}) for name in names):
        return set()
    points = [tuple(c.figures[name].mean for name in names) for c in configs]
    return {configs[i].config for i in front(points, ("max", "min", "min", "min"))}


def ranked_table(sweep: Sweep, configs: Sequence[ConfigSummary]) -> list[Block]:
    """The configurations best first: axis labels, the objective and the key figures that have a value, with their
    95 % CI, runs, and a star on the joint Pareto front."""
    objective = sweep.config.objective
    shown = [objective, *(n for n in KEY_FIGURES if n != objective and n in sweep.figures
                          and any(c.figures[n].mean is not None for c in configs))]
    best = joint_front(configs)
    rows = tuple((str(rank), str(c.config), *(c.labels.get(a.key, "") for a in sweep.axes),
                  *(fmt_estimate(n, c.figures.get(n)) for n in shown),
                  f"{c.complete}" + (f" ({c.failed} failed)" if c.failed else ""), "*" if c.config in best else "")
                 for rank, c in enumerate(configs, 1))
    rows, note = capped(rows, "configurations")
    head = ("rank", "config", *(a.key for a in sweep.axes), *shown, "runs", "Pareto")
    return [Table(head, rows), *note]


def report_blocks(sweep: Sweep, rows: list[dict[str, Any]], configs: Sequence[ConfigSummary],
                  pareto: list[str], axis_plots: list[str]) -> list[Block]:
    """The report's blocks, from the rows (one per run), the ranked configurations and the plots drawn."""
    cfg = sweep.config
    counts = {s: sum(r["status"] == s for r in rows) for s in ("complete", "failed", "pending")}
    goal = "highest" if FIGURES[cfg.objective].better == "higher" else "lowest"
    sampled = (f"{cfg.sampling.method.replace('_', ' ')} sampling of {len(configs)} configurations"
               + (f" (seed {cfg.sampling.seed})" if cfg.sampling.method != "grid" else ""))
    blocks: list[Block] = [
        Heading(1, f"orbitedge sweep: {cfg.name}"),
        Paragraph(f"Base scenario {sweep.scenario.name}; {sampled} x {cfg.replicates} replicate(s) = "
                  f"{len(rows)} runs: {counts['complete']} complete, {counts['failed']} failed"
                  + (f", {counts['pending']} not run yet (run the same command to resume)" if counts["pending"] else "")
                  + ". Each run is a run directory under runs/ (`orbitedge report` works on any)."),
        Heading(2, f"Configurations ranked by {cfg.objective} ({goal} first)"),
        Paragraph("Each figure is the mean over the configuration's replicates (replicate r adds r to the scenario "
                  "seed: another sky, other noise) ± the half-width of its 95 % confidence interval (Student's t "
                  "with n - 1 degrees of freedom); one replicate gives the value alone. Pareto: * on the front of "
                  f"{PARETO_X} (up) against {', '.join(PARETO_Y)} (down) together."),
        *ranked_table(sweep, configs),
    ]
    if pareto:
        blocks += [Heading(2, "Pareto front"),
                   Paragraph(f"Bandwidth saved against {', '.join(pareto)}: red, the configurations no other beats "
                             "on both; green dashed, the oracle's bound: the same pipelines fed the true cloud mask "
                             "(oracle_saved_vs_single_frame_fraction and its clear pixels lost)."),
                   Image("Pareto front", PARETO_PLOT)]
    if axis_plots:
        blocks += [Heading(2, "Effect of each axis"),
                   *(Image(f"Effect of {axis.key}", path) for axis, path in zip(sweep.axes, axis_plots))]
    failed = [r for r in rows if r["status"] == "failed"]
    if failed:
        blocks += [Heading(2, "Failed runs"),
                   Paragraph("Recorded in failed/RUN.json; `--retry-failed` runs them again."),
                   Table(("run", "error"), tuple((r["run_id"], str(r["error"]).splitlines()[0][:200]) for r in failed))]
    return blocks


def write_sweep_report(sweep: Sweep, rows: list[dict[str, Any]], configs: Sequence[ConfigSummary], out: Path,
                       fmt: str = "md") -> list[Path]:
    """Draw the plots and write ``out/sweep.md`` or ``out/sweep.html``; returns the paths written."""
    out = Path(out)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    pareto = plot_pareto(configs, out / PARETO_PLOT)
    axis_plots = []
    for i, axis in enumerate(sweep.axes):
        axis_plots.append(axis_plot_path(i, axis))
        plot_axis(i, axis, configs, sweep.config.objective, sweep.config.sampling.method == "grid",
                  out / axis_plots[-1])
    blocks = report_blocks(sweep, rows, configs, pareto, axis_plots)
    doc = out / f"sweep.{fmt}"
    write_text(doc, to_markdown(blocks) if fmt == "md" else to_html(blocks, f"orbitedge sweep: {sweep.config.name}"))
    return [doc, *([out / PARETO_PLOT] if pareto else []), *(out / p for p in axis_plots)]
