"""A sweep's results: one row per run (its axis values, status and every collected figure) written as
``results.csv`` (and ``results.parquet`` when pyarrow is installed), and one summary per configuration: each
figure's mean over the replicates with its 95 % confidence interval, ranked by the objective as the report shows it
(ties: the configuration on the joint Pareto front first, then by index; those unfit to win after the others; those
without a value of the objective unranked, last).

Rows are read from the run directories, never from the workers' answers, so they are the same whatever the number of
workers and whether a run was made now or by an earlier, interrupted sweep.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ground.confidence import Estimate, estimate
from rundir.files import write_atomic, write_text

from .figures import (FIGURES, PARETO_X, PARETO_Y, burst_frames, figures_of, read_run, shown_value, unfinished_frames,
                      unfit_reason)
from .pareto import front
from .sweep import FAILED, is_complete, run_dir_of
from .sweep_file import Sweep
from .sweep_plan import yaml_text


@dataclass(frozen=True)
class ConfigSummary:
    """One configuration: its index, axis labels by key, runs complete and failed, and an Estimate per figure."""

    config: int
    labels: dict[str, str]
    complete: int
    failed: int
    figures: dict[str, Estimate]
    frames_unfinished: float = 0.0  # mean over its complete runs of app.figures.unfinished_frames
    unfit: str | None = None  # why it cannot win: a run's app.figures.unfit_reason, or missing_replicates
    burst_frames: float | None = None  # frames bent-pipe counts per scene (app.figures.burst_frames), its first run's


def run_rows(sweep: Sweep, out: Path) -> list[dict[str, Any]]:
    """One row per run, in plan order: run_id, config, replicate, seed, status (complete, failed or pending), each
    axis value (its YAML text, as --set takes it), each collected figure, the error of a failed run and the
    warnings of a complete run's report (a list), the frames it left unfinished (``frames_unfinished``:
    :func:`app.figures.unfinished_frames`), the frames bent-pipe counts per scene (``burst_frames``) and why it
    cannot win (``unfit``: :func:`app.figures.unfit_reason`, None when it can; results.csv leaves these four out)."""
    rows = []
    for spec in sweep.runs:
        run_dir = run_dir_of(out, spec.run_id)
        row: dict[str, Any] = {"run_id": spec.run_id, "config": spec.config, "replicate": spec.replicate,
                               "seed": spec.seed}
        row.update({key: yaml_text(value) for key, value in spec.values.items()})
        figures: dict[str, Any] = dict.fromkeys(sweep.figures)
        error, warned, unfinished, unfit, burst = None, [], None, None, None
        if is_complete(run_dir, spec):
            status = "complete"
            report, info = read_run(run_dir)
            figures, warned = figures_of(report, info, sweep.figures), list(report.get("warnings") or [])
            unfinished, unfit, burst = unfinished_frames(report), unfit_reason(report), burst_frames(report)
        elif (failure := Path(out) / FAILED / f"{spec.run_id}.json").is_file():
            status, error = "failed", json.loads(failure.read_text(encoding="utf-8")).get("error")
        else:
            status = "pending"
        rows.append({**row, "status": status, **figures, "error": error, "warnings": warned,
                     "frames_unfinished": unfinished, "unfit": unfit, "burst_frames": burst})
    return rows


def warned_runs(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """{each warning the complete runs' reports give: the runs that give it, in plan order}, in order of first
    appearance (a warning that repeats in every run is one entry)."""
    out: dict[str, list[str]] = {}
    for row in rows:
        for text in row.get("warnings") or ():
            out.setdefault(text, []).append(row["run_id"])
    return out


def summaries(sweep: Sweep, rows: list[dict[str, Any]]) -> list[ConfigSummary]:
    """One ConfigSummary per configuration, in :func:`rank` order."""
    by_config: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_config.setdefault(row["config"], []).append(row)
    labels = {spec.config: spec.labels for spec in sweep.runs}
    short, out = missing_replicates(by_config), []
    for config, group in by_config.items():
        done = [r for r in group if r["status"] == "complete"]
        unfit = [why for why in (next((r["unfit"] for r in done if r.get("unfit")), None), short.get(config)) if why]
        out.append(ConfigSummary(config, labels[config], len(done), sum(r["status"] == "failed" for r in group),
                                 {name: estimate([r[name] for r in done]) for name in sweep.figures},
                                 math.fsum(r.get("frames_unfinished") or 0 for r in done) / len(done) if done else 0.0,
                                 "; ".join(unfit) or None, next((r["burst_frames"] for r in done), None)))
    return rank(out, sweep.config.objective)


def missing_replicates(by_config: Mapping[int, Sequence[Mapping[str, Any]]]) -> dict[int, str]:
    """{config: why} for each configuration with a complete run that lacks a replicate another configuration has
    complete (failed, or not run yet after Ctrl-C): replicate r runs on the scenario seed + r in every configuration
    (the same sky, the same camera noise), so its means are over other skies than the others' and it must not be
    ranked against them (a configuration scoring best on its one clear sky). ``by_config``: each configuration's
    rows (:func:`run_rows`). Configurations that all lack the same replicates are compared on the same skies: none is
    named."""
    done = {config: {r["replicate"] for r in group if r["status"] == "complete"} for config, group in by_config.items()}
    anyone = set().union(*done.values())
    out = {}
    for config, group in by_config.items():
        lacking = [r for r in group if r["replicate"] in anyone - done[config]]
        if not done[config] or not lacking:
            continue
        counts = [(sum(r["status"] == s for r in group), text) for s, text in (("failed", "failed"),
                                                                              ("pending", "not run yet"))]
        out[config] = (f"has {len(done[config])} of its {len(group)} replicates "
                       f"({' and '.join(f'{n} {text}' for n, text in counts if n)}): it lacks the skies of seed"
                       f"{'s' if len(lacking) > 1 else ''} {', '.join(str(r['seed']) for r in lacking)} that others "
                       "are measured on")
    return out


def mean_of(c: ConfigSummary, name: str) -> float | None:
    """The mean of figure ``name`` over ``c``'s replicates; None when it has none or the figure was not collected."""
    est = c.figures.get(name)
    return None if est is None else est.mean


def shown_mean(c: ConfigSummary, name: str) -> float | None:
    """:func:`mean_of` rounded as the report's tables show it (:func:`app.figures.shown_value`): what ranks and the
    Pareto front compare."""
    return shown_value(name, mean_of(c, name))


def pareto_criteria(configs: Sequence[ConfigSummary]) -> tuple[str, ...]:
    """The figures the joint Pareto front weighs: PARETO_X and each of PARETO_Y that some configuration has a value
    of; none when no configuration has PARETO_X or none has any of PARETO_Y."""
    def known(name: str) -> bool:
        return any(mean_of(c, name) is not None for c in configs)

    ys = tuple(name for name in PARETO_Y if known(name))
    return (PARETO_X, *ys) if known(PARETO_X) and ys else ()


def backlogged(configs: Sequence[ConfigSummary]) -> dict[int, float]:
    """{config: its mean frames unfinished} of the configurations with complete runs that leave more frames unfinished
    (on board, lost on board: :func:`app.figures.unfinished_frames`) than the fewest any leaves: the figures measured on
    the frames each run finished (:attr:`app.figures.Figure.finished_only`) do not count what they left, so they are not
    set against the others (as ``orbitedge compare`` stars none of those figures when backlogs differ). Empty when all
    leave the same."""
    done = [c for c in configs if c.complete]
    fewest = min((c.frames_unfinished for c in done), default=0.0)
    return {c.config: c.frames_unfinished for c in done if c.frames_unfinished > fewest}


def off_front_reasons(configs: Sequence[ConfigSummary]) -> dict[int, str]:
    """{config: why it is on no Pareto front, whatever its figures}: unfit (:attr:`ConfigSummary.unfit`), or
    :func:`backlogged` (every criterion of the front is measured on the finished frames)."""
    left = backlogged(configs)
    fewest = min((c.frames_unfinished for c in configs if c.complete), default=0.0)
    return {c.config: c.unfit or (f"leaves {left[c.config]:g} frames unfinished per run (on board at the end or lost "
                                  f"on board) against {fewest:g} for others: its figures measured on the finished "
                                  "frames leave them out")
            for c in configs if c.unfit or c.config in left}


def unfit_reasons(configs: Sequence[ConfigSummary], objective: str) -> dict[int, str]:
    """{config: why it ranks after the others that have a value of ``objective``}: unfit, and, with an objective
    measured on the finished frames, :func:`backlogged` (its value leaves out what it did not deliver). Each is also
    on no Pareto front (:func:`off_front_reasons`)."""
    off = off_front_reasons(configs)
    return {c.config: off[c.config] for c in configs
            if c.config in off and (c.unfit or FIGURES[objective].finished_only)}


def joint_front(configs: Sequence[ConfigSummary]) -> set[int]:
    """Configuration indices on the Pareto front of every figure of :func:`pareto_criteria` at once, by their means
    as the report shows them (:func:`shown_mean`: differences the tables do not show decide nothing), each figure's
    better direction from app.figures: no other configuration is at least as good on every one and better on one.
    A configuration without one of them, or with a reason to be on no front (:func:`off_front_reasons`: unfit,
    backlogged), is on none; empty without criteria."""
    names = pareto_criteria(configs)
    if not names:
        return set()
    off = off_front_reasons(configs)
    configs = [c for c in configs if c.config not in off]
    points = [tuple(shown_mean(c, name) for name in names) for c in configs]
    senses = tuple("max" if FIGURES[name].better == "higher" else "min" for name in names)
    return {configs[i].config for i in front(points, senses)}


def rank(configs: list[ConfigSummary], objective: str) -> list[ConfigSummary]:
    """``configs`` best first by the mean of ``objective`` as the report shows it (:func:`shown_mean`; its better
    direction from app.figures); ties broken by joint Pareto front membership (on the front first), then by
    configuration index; those without a value last, by index. Those with a reason in :func:`unfit_reasons` (one that
    delivered nothing saves everything; one that lacks replicates is measured on other skies; a backlogged one's
    value leaves out what it did not deliver) rank after the others with a value."""
    sign = -1.0 if FIGURES[objective].better == "higher" else 1.0
    best = joint_front(configs)
    behind = unfit_reasons(configs, objective)

    def key(c: ConfigSummary) -> tuple[int, bool, float, bool, int]:
        mean = shown_mean(c, objective)
        return ((1, False, 0.0, False, c.config) if mean is None else
                (0, c.config in behind, sign * mean, c.config not in best, c.config))

    return sorted(configs, key=key)


def unranked_reason(c: ConfigSummary) -> str:
    """Why a configuration without a value of the objective has no rank: ``not run yet`` (no run made yet, none failed),
    ``no complete run`` (every run made failed), ``no value`` (complete runs that do not give the figure)."""
    if c.complete:
        return "no value"
    return "no complete run" if c.failed else "not run yet"


def rank_labels(configs: Sequence[ConfigSummary], objective: str) -> list[str]:
    """The rank of each of ``configs`` (in :func:`rank` order) as the report writes it: ``1``, ``2``, ...; ``=2`` for
    each configuration whose objective value shows the same as another's (:func:`shown_mean`; competition ranking:
    1, =2, =2, 4) among those that rank on their value or among those after them (:func:`unfit_reasons`); for one
    without a value, :func:`unranked_reason`."""
    behind = unfit_reasons(configs, objective)
    keys = [(c.config in behind, shown_mean(c, objective)) for c in configs]
    first: dict[tuple[bool, float | None], int] = {}  # {(behind, objective value): its first place, 1 first}
    for place, key in enumerate(keys, 1):
        first.setdefault(key, place)
    shared = Counter(keys)
    return [unranked_reason(c) if key[1] is None else f"={first[key]}" if shared[key] > 1 else str(first[key])
            for c, key in zip(configs, keys)]


def paired_lead(rows: Sequence[Mapping[str, Any]], first: int, second: int, name: str) -> Estimate:
    """Configuration ``first``'s figure ``name`` less ``second``'s, replicate by replicate over the replicates both
    completed with a value: replicate r runs on the same seed in every configuration (the same sky, the same camera
    noise), so pairing takes out what varies from sky to sky, as :func:`ground.superres.paired_difference` pairs
    scenes. Its mean and 95 % confidence interval (:func:`ground.confidence.estimate`)."""
    by_replicate: dict[int, dict[int, float]] = {}
    for r in rows:
        if r["status"] == "complete" and r["config"] in (first, second) and r.get(name) is not None:
            by_replicate.setdefault(r["replicate"], {})[r["config"]] = r[name]
    return estimate([pair[first] - pair[second] for pair in by_replicate.values() if len(pair) == 2])


def columns(sweep: Sweep) -> list[str]:
    """results.csv's columns: run, axes, status, figures, error."""
    return ["run_id", "config", "replicate", "seed", *(a.key for a in sweep.axes), "status", *sweep.figures, "error"]


def write_results(sweep: Sweep, rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """``out/results.csv`` (floats in full precision, empty cells for None) and, when pyarrow is installed,
    ``out/results.parquet``; returns the paths written."""
    names = columns(sweep)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, names, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if row.get(k) is None else row[k]) for k in names} for row in rows)
    paths = [Path(out) / "results.csv"]
    write_text(paths[0], buffer.getvalue())
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return paths
    table = pa.Table.from_pylist([{k: row.get(k) for k in names} for row in rows])
    paths.append(Path(out) / "results.parquet")
    write_atomic(paths[1], lambda tmp: pq.write_table(table, tmp))
    return paths
