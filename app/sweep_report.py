"""A sweep's report, ``sweep.md`` or ``sweep.html``: the configurations ranked by the objective with 95 % confidence
intervals over replicates (values that show the same sharing a rank, configurations without a value last,
unranked), the first two set against each other replicate by replicate, the joint Pareto front with the oracle (true
cloud mask, same tile policy) for reference, one plot per axis, and the failed runs with their errors (written with
:mod:`ground.document`, the run report's blocks)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ground.confidence import Estimate
from ground.document import Block, Heading, Image, Paragraph, Table, capped, to_html, to_markdown
from rundir.files import write_text

from .figures import FIGURES, PARETO_X, PARETO_Y, fmt_figure, interval
from .sweep_file import Sweep
from .sweep_plots import (ORACLE_LABEL, ORACLE_X, ORACLE_Y, PARETO_PLOT, axis_labels, axis_plot_path, oracle_drawn,
                          plot_axis, plot_pareto)
from .sweep_results import (ConfigSummary, backlogged, joint_front, mean_of, paired_lead, pareto_criteria, rank,
                            rank_labels, shown_mean, unfit_reasons, warned_runs)

FAILURE_WIDTH = 240  # characters of a failed run's error in the report's table and the terminal
KEY_FIGURES = ("saved_fraction", "clear_pixels_lost_fraction", "energy_per_mb_wh", "latency_p90_s", "cloud_f1",
               "cpsnr_db")
"""The figures the ranked table shows beside the objective (those collected)."""


def fmt_estimate(name: str, est: Estimate | None) -> str:
    """``mean ± half-width`` in the figure's unit (the mean alone from one replicate); ``mean [low, high]`` when the
    interval reaches past a value the figure cannot take and is clipped to it (:func:`app.figures.interval`)."""
    if est is None or est.mean is None:
        return "n/a"
    clipped = interval(name, est)
    if clipped is None:
        return fmt_figure(name, est.mean)
    if clipped == (est.low, est.high):
        return f"{fmt_figure(name, est.mean)} ± {fmt_figure(name, est.half_width)}"
    return f"{fmt_figure(name, est.mean)} [{fmt_figure(name, clipped[0])}, {fmt_figure(name, clipped[1])}]"


def front_text(configs: Sequence[ConfigSummary]) -> str:
    """The joint Pareto front in a few words: ``configs 0, 2, 5``, or ``none (why)``."""
    best = sorted(joint_front(configs))
    if best:
        return "configs " + ", ".join(map(str, best))
    if not any(c.complete for c in configs):
        return "none (no configuration has a complete run)"
    names = pareto_criteria(configs)
    if not names:
        return f"none (no run gives {PARETO_X} and one of {', '.join(PARETO_Y)})"
    if all(c.unfit for c in configs if c.complete):
        return "none (every configuration with a complete run is unfit to win: see why under the table)"
    return f"none (no configuration has all of {', '.join(names)})"


def pareto_note(configs: Sequence[ConfigSummary]) -> str:
    """What the table's Pareto star means, and why no configuration has one when none does."""
    names = pareto_criteria(configs)
    if not names:
        return f"Pareto front: {front_text(configs)}."
    text = (f"Pareto: * on the joint front of {names[0]} (higher is better) and {', '.join(names[1:])} (lower is "
            f"better): no other configuration is at least as good on every one of these {len(names)} figures and "
            "better on one, each compared as the table shows it (a difference the table does not show decides "
            "nothing).")
    return text if joint_front(configs) else f"{text} Pareto front: {front_text(configs)}."


def backlog_text(configs: Sequence[ConfigSummary]) -> str | None:
    """The configurations that leave more frames unfinished than others (:func:`app.sweep_results.backlogged`) and
    what that does to the ranking and the front, in a sentence; None when all leave the same."""
    left = backlogged(configs)
    if not left:
        return None
    fewest = min(c.frames_unfinished for c in configs if c.complete)
    which = ", ".join(f"{config} ({frames:g})" for config, frames in sorted(left.items()))
    return (f"Configs {which} leave frames unfinished, on board at the end or lost on board (per run, against "
            f"{fewest:g} for the others): the "
            "figures measured on the frames each run finished, the Pareto front's among them, leave those frames "
            "out, so these configurations are on no front and, where the objective is one of them, rank after the "
            "others (frames_delivered and on_board_bytes show what they left).")


def unfit_text(configs: Sequence[ConfigSummary]) -> str | None:
    """The configurations unfit to win (:attr:`app.sweep_results.ConfigSummary.unfit`: a run of it cannot win, or it
    lacks replicates others have), why, and what that does to the ranking and the front, in a sentence; None when
    there are none."""
    unfit = [c for c in configs if c.unfit]
    if not unfit:
        return None
    which = "; ".join(f"config {c.config} {c.unfit}" for c in sorted(unfit, key=lambda c: c.config))
    return (f"Unfit to win ({which}): these configurations rank after the others that have a value and are on no "
            "Pareto front.")


def burst_text(objective: str, configs: Sequence[ConfigSummary]) -> str | None:
    """When a per-burst objective (saved_fraction) ranks configurations whose bent-pipe counts different frames per
    scene (:attr:`app.sweep_results.ConfigSummary.burst_frames`): each is set against its own baseline."""
    sizes = {c.config: c.burst_frames for c in configs if c.burst_frames is not None}
    if not FIGURES[objective].per_burst or len(set(sizes.values())) < 2:
        return None
    which = ", ".join(f"config {config} {frames:g}" for config, frames in sorted(sizes.items()))
    return (f"The configurations' bent-pipe counts different frames per scene ({which}), so {objective} sets each "
            f"against its own baseline; {PARETO_X} sets every one against one raw frame per scene.")


def ranking_note(objective: str, configs: Sequence[ConfigSummary]) -> str:
    """How the table is ordered: ties, configurations unfit to win or that leave frames unfinished, objectives with
    different baselines, and those left unranked."""
    text = (f"Configurations whose {objective} shows the same share a rank (=2), those on the Pareto front first, "
            "then by config number.")
    if bursts := burst_text(objective, configs):
        text += f" {bursts}"
    for caveat in (unfit_text(configs), backlog_text(configs)):
        if caveat:
            text += f" {caveat}"
    if any(mean_of(c, objective) is None for c in configs):
        text += (f" Those without a value of {objective} come last, unranked: not run yet, no complete run (every "
                 "run made failed) or no value (their runs do not give it).")
    return text


def lead_text(configs: Sequence[ConfigSummary], rows: Sequence[dict[str, Any]], objective: str) -> str | None:
    """The first two configurations of the ranking (``configs`` in :func:`app.sweep_results.rank` order) set against
    each other replicate by replicate (:func:`app.sweep_results.paired_lead`), in a sentence: whether the 95 % CI of
    the difference holds 0, i.e. whether the replicates tell them apart. None with fewer than two ranked on their
    value, when they tie as shown, or with fewer than 2 replicates that both have."""
    behind = unfit_reasons(configs, objective)
    ranked = [c for c in configs if mean_of(c, objective) is not None and c.config not in behind]
    if len(ranked) < 2 or shown_mean(ranked[0], objective) == shown_mean(ranked[1], objective):
        return None
    a, b = ranked[0].config, ranked[1].config
    diff = paired_lead(rows, a, b, objective)
    if diff.low is None or diff.high is None or diff.mean is None:
        return None
    holds = diff.low <= 0.0 <= diff.high
    return (f"The first two set against each other replicate by replicate (replicate r has the same seed in both: the "
            f"same sky and camera noise): config {a}'s {objective} less config {b}'s is "
            f"{fmt_figure(objective, diff.mean)}, 95 % CI {fmt_figure(objective, diff.low)} to "
            f"{fmt_figure(objective, diff.high)} over {diff.n} replicates, "
            + ("which holds 0: these replicates do not tell the two apart." if holds else
               "which excludes 0: the first leads on these replicates."))


def failure_text(error: Any, width: int = FAILURE_WIDTH) -> str:
    """A failed run's error in one line of at most about ``width`` characters: the problem itself. An error whose
    first line heads indented lines (a ConfigError's ``FILE: 1 problem(s)``, then each problem at its YAML path) is
    its type and those lines, up to 3, each shortened in its middle, where a problem holds what was expected (its
    path at the start and its cause at the end kept); any other, its first line, shortened at its end."""
    lines = str(error).splitlines() or [""]
    issues = [line.strip() for line in lines[1:] if line.startswith("  ") and line.strip()]
    if not issues:
        return lines[0] if len(lines[0]) <= width else lines[0][:width - 4].rsplit(" ", 1)[0] + " ..."
    kind = lines[0].split(":", 1)[0]
    more = f"; and {len(issues) - 3} more" if len(issues) > 3 else ""
    each = max(40, (width - len(kind) - len(more)) // min(len(issues), 3) - 2)
    return f"{kind}: " + "; ".join(_middle_shortened(issue, each) for issue in issues[:3]) + more


def _middle_shortened(text: str, width: int) -> str:
    """``text`` with words from its middle replaced by " ... " to fit ``width`` characters: two fifths kept from the
    start, the rest from the end."""
    if len(text) <= width:
        return text
    start = text[:(width - 5) * 2 // 5].rsplit(" ", 1)[0]
    end = text[len(text) - (width - 5 - len(start)):]
    return f"{start} ... {end.split(' ', 1)[-1] if ' ' in end else end}"


def shown_figures(sweep: Sweep, configs: Sequence[ConfigSummary]) -> list[str]:
    """The table's figures: the objective, then every figure the Pareto front weighs and the key figures, those
    that have a value."""
    shown = [sweep.config.objective]
    for name in (PARETO_X, *KEY_FIGURES, *PARETO_Y):
        if name not in shown and name in sweep.figures and any(mean_of(c, name) is not None for c in configs):
            shown.append(name)
    return shown


def ranked_table(sweep: Sweep, configs: Sequence[ConfigSummary]) -> list[Block]:
    """The configurations best first (:func:`app.sweep_results.rank`; unranked ones last): rank (shared by tied
    objective values), axis labels, the objective, the Pareto figures and the key figures that have a value with
    their 95 % CI (``(1 of 2 runs)`` after one from fewer of the complete runs than the runs column counts: a run
    that could not measure it), runs, and a star on the joint Pareto front."""
    configs = rank(list(configs), sweep.config.objective)
    shown = shown_figures(sweep, configs)
    best = joint_front(configs)
    rows = tuple((label, str(c.config), *(c.labels.get(a.key, "") for a in sweep.axes),
                  *(_cell(n, c.figures.get(n), c.complete) for n in shown),
                  f"{c.complete}" + (f" ({c.failed} failed)" if c.failed else ""), "*" if c.config in best else "")
                 for label, c in zip(rank_labels(configs, sweep.config.objective), configs))
    rows, note = capped(rows, "configurations")
    head = ("rank", "config", *(a.key for a in sweep.axes), *shown, "runs", "Pareto")
    return [Table(head, rows), *note]


def _cell(name: str, est: Estimate | None, complete: int) -> str:
    """:func:`fmt_estimate`, and how many of the ``complete`` runs it is over when fewer."""
    fewer = est is not None and est.mean is not None and est.n < complete
    return fmt_estimate(name, est) + (f" ({est.n} of {complete} runs)" if fewer else "")


def pareto_paragraph(configs: Sequence[ConfigSummary], panels: Sequence[str]) -> str:
    """The Pareto plot's caption: what the red points are, and what the green oracle is (not a bound)."""
    text = (f"Bandwidth saved ({PARETO_X}, higher is better) against {', '.join(panels)} (lower is better), one "
            f"panel each. Red and numbered: the configurations starred in the table, on the joint front of all "
            f"{len(pareto_criteria(configs))} figures (no other configuration is at least as good on every one and "
            "better on one), so a red point can lie behind another in one panel; grey: the others.")
    marks, lines = ([p for p in panels if oracle_drawn(configs, p) == shape] for shape in ("marks", "line"))
    shapes = ([f"against {marks[0]} an x joined to its configuration by a dotted line"] if marks else []) + (
        [f"against {', '.join(lines)} a dashed line at the highest oracle saving"] if lines else [])
    if shapes:
        text += (f" Green, the {ORACLE_LABEL}: each configuration's pipeline fed the true cloud mask under its own "
                 f"tile policy ({ORACLE_X}, {ORACLE_Y}); {'; '.join(shapes)}. It is a reference, not a bound: the "
                 "model's mask can save more, or lose fewer clear pixels, than the true one under the same tile "
                 "policy.")
    return text


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
                  "with n - 1 degrees of freedom), or [low, high] where that interval reaches past what the figure "
                  "can take (below 0 %, above 100 %, below 0 Wh/MB) and is clipped to it; one replicate gives the "
                  "value alone, and a figure from fewer of the complete runs than the runs column counts says how "
                  f"many, (1 of 2 runs). {pareto_note(configs)} {ranking_note(cfg.objective, configs)}"),
        *ranked_table(sweep, configs),
    ]
    if lead := lead_text(rank(list(configs), cfg.objective), rows, cfg.objective):
        blocks.append(Paragraph(lead))
    if pareto:
        blocks += [Heading(2, "Pareto front"),
                   Paragraph(pareto_paragraph(configs, pareto)),
                   Image("Pareto front", PARETO_PLOT)]
    if axis_plots:
        blocks += [Heading(2, "Effect of each axis"),
                   *(Image(f"Effect of {axis.key}", path) for axis, path in zip(sweep.axes, axis_plots))]
    if warned := warned_runs(rows):
        blocks += [Heading(2, "Run warnings"),
                   Paragraph("What the complete runs' reports warn of (each run's report.md has it at its top); a "
                             "figure a run could not measure is n/a in the tables above."),
                   Table(("warning", "runs"), tuple((text, _runs_text(ids, counts["complete"]))
                                                    for text, ids in warned.items()))]
    failed = [r for r in rows if r["status"] == "failed"]
    if failed:
        blocks += [Heading(2, "Failed runs"),
                   Paragraph("Recorded in failed/RUN.json; `--retry-failed` runs them again."),
                   Table(("run", "error"), tuple((r["run_id"], failure_text(r["error"])) for r in failed))]
    return blocks


def _runs_text(run_ids: Sequence[str], complete: int, shown: int = 6) -> str:
    """``c000-r0, c001-r0 (2 of 16 complete runs)``: at most ``shown`` run ids, then how many more."""
    more = f", and {len(run_ids) - shown} more" if len(run_ids) > shown else ""
    return f"{', '.join(run_ids[:shown])}{more} ({len(run_ids)} of {complete} complete runs)"


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
                  out / axis_plots[-1], axis_labels(axis, sweep.runs))
    blocks = report_blocks(sweep, rows, configs, pareto, axis_plots)
    doc = out / f"sweep.{fmt}"
    write_text(doc, to_markdown(blocks) if fmt == "md"
               else to_html(blocks, f"orbitedge sweep: {sweep.config.name}"))
    return [doc, *([out / PARETO_PLOT] if pareto else []), *(out / p for p in axis_plots)]

