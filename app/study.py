"""A trade study end to end: the runs a sweep still needs, made on a Dask cluster (:mod:`app.sweep`), then the
results, the report and ``sweep.json`` written from every run directory, also after Ctrl-C (what was done stays,
and the same command resumes)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ContextManager

from rundir.files import signals_held, write_json

from .cluster import check_resources, start_client
from .figures import FIGURES, interval, read_run
from .summary import SCHEMA_VERSION, run_summary
from .sweep import FAILED, MARKER, RUNS, SUMMARY, SweepState, execute, is_sweep_out, prepare_out, run_dir_of, sweep_state
from .sweep_file import Sweep
from .sweep_report import joint_front, write_sweep_report
from .sweep_results import (ConfigSummary, mean_of, off_front_reasons, rank_labels, run_rows, summaries, unfit_reasons,
                            unranked_reason, write_results)

ProgressFactory = Callable[[int, int], ContextManager[Any]]  # (runs to make, runs already complete) -> callback


@dataclass
class SweepOutcome:
    """What a sweep command did: the rows (one per run), the ranked configurations, the files written, the runs
    complete before it (``skipped``) and made by it (``ran``), its wall time and workers (None: none started), and
    the runs of an earlier plan it leaves alone (``others``)."""

    sweep: Sweep
    out: Path
    rows: list[dict[str, Any]]
    configs: list[ConfigSummary]
    files: list[Path]
    skipped: int
    ran: int
    wall_s: float
    workers: int | None
    others: list[str]  # runs that the plan does not make (:func:`other_runs`)


def _no_progress(total: int, already: int) -> ContextManager[None]:
    return contextlib.nullcontext()


def run_sweep(sweep: Sweep, out: Path, *, scheduler: str | None = None, workers: int | None = None,
              client: Any = None, retry_failed: bool = False, overwrite: bool = False, fmt: str = "md",
              progress: ProgressFactory = _no_progress, memory_limit: str | float = "auto") -> SweepOutcome:
    """Make the runs of ``sweep`` that ``out`` lacks (and with ``retry_failed`` those that failed) on ``client``, or
    on the cluster at ``scheduler``, or on a new LocalCluster of ``workers`` processes (default one per core, never
    more than the runs to make; none when nothing is left to do); then write results.csv, the report and sweep.json.
    ``out`` must be new, empty or an earlier sweep's (``overwrite``: what that sweep made is removed first); its
    sweep.json is written before any run starts, so that the folder is known as a sweep's from then on. Raises
    OrbitEdgeError when ``out`` is another folder, holds another plan's runs or no worker can take a run, or when
    ``scheduler`` is not reached (then before ``out`` is touched; it is not asked for when nothing is left to do), or
    when another sweep is writing into ``out``;
    KeyboardInterrupt after closing the cluster and writing what was done (Ctrl-C and SIGTERM are held off
    meanwhile, and while a LocalCluster starts: then the first is acted on once it is up)."""
    out = Path(out).resolve()
    start, started, own, cluster = time.perf_counter(), None, client is None, None
    todo = _todo(sweep, out, overwrite, retry_failed) if own else []  # read only: before the folder is touched
    if todo and scheduler is not None:  # reached first: a wrong address leaves the folder as it was
        client, _ = start_client(scheduler, None, memory_limit)
    elif todo:
        check_resources(None, todo)  # a LocalCluster offers the host alone
    state = None
    with contextlib.ExitStack() as hold:  # the folder's lock (prepare_out), released however this ends
        try:
            earlier = prepare_out(out, overwrite, hold)
            state = sweep_state(sweep, out, retry_failed)
            if not (out / SUMMARY).is_file():
                write_json(out / SUMMARY, sweep_summary(_outcome(sweep, out, state, [], 0.0, None)))
            if state.todo:
                if own and scheduler is None:
                    from onboard.sim.frame_pool import default_workers

                    started = min(workers or default_workers(), len(state.todo))
                    # a LocalCluster half started cannot be closed (Dask's exit hook fails): one is started whole
                    with signals_held(redeliver=True):
                        client, cluster = start_client(None, started, memory_limit)
                with progress(len(state.todo), len(state.complete)) as show:
                    execute(client, sweep, out, state.todo, fmt, show)
        finally:
            with signals_held(redeliver=False):
                if own and client is not None:
                    client.close()
                    if cluster is not None:
                        cluster.close()
                if state is not None:  # else the folder was refused, and is left as it was
                    outcome = _finish(sweep, out, state, fmt, earlier, round(time.perf_counter() - start, 3), started)
    return outcome


def _todo(sweep: Sweep, out: Path, overwrite: bool, retry_failed: bool) -> list[Any]:
    """The runs ``run_sweep`` will make in ``out``, read only: every run of the plan afresh (``overwrite``, or a
    folder that is not a sweep's: prepare_out refuses one that is not new or empty), else those still to do."""
    if overwrite or not is_sweep_out(out):
        return list(sweep.runs)
    return sweep_state(sweep, out, retry_failed).todo


def _outcome(sweep: Sweep, out: Path, state: SweepState, files: list[Path], wall_s: float,
             workers: int | None) -> SweepOutcome:
    """The outcome as the run directories tell it before any run is made: rows and ranked configurations."""
    rows = run_rows(sweep, out)
    return SweepOutcome(sweep, out, rows, summaries(sweep, rows), files, len(state.complete), 0, wall_s, workers,
                        other_runs(sweep, out))


def other_runs(sweep: Sweep, out: Path) -> list[str]:
    """The runs of ``out`` that ``sweep``'s plan does not make, sorted: run folders with a sweep_run.json under
    ``out/runs`` and failure records ``out/failed/RUN.json`` of an earlier plan, of more replicates or
    configurations. They are left out of the results, and left in place (``--overwrite`` removes them with the rest
    of the earlier sweep)."""
    planned = {spec.run_id for spec in sweep.runs}
    found = {m.parent.name for m in (out / RUNS).glob(f"*/{MARKER}")} | {r.stem for r in (out / FAILED).glob("*.json")}
    return sorted(found - planned)


def _finish(sweep: Sweep, out: Path, state: SweepState, fmt: str, earlier: list[Path], wall_s: float,
            workers: int | None) -> SweepOutcome:
    """Write results.csv, the report and sweep.json from the run directories; remove the files the sweep's last
    session wrote that this one did not (the report in the other format, the plot of a figure no longer drawn)."""
    outcome = _outcome(sweep, out, state, [], wall_s, workers)
    outcome.ran = sum(r["status"] != "pending" for r in outcome.rows) - len(state.complete) - len(state.failed)
    outcome.files = (write_results(sweep, outcome.rows, out)
                     + write_sweep_report(sweep, outcome.rows, outcome.configs, out, fmt))
    for path in earlier:
        if path not in outcome.files and path.is_file():
            path.unlink()
    write_json(out / SUMMARY, sweep_summary(outcome))
    return outcome


def sweep_summary(outcome: SweepOutcome) -> dict[str, Any]:
    """The ``sweep --json`` summary (app.summary.SWEEP_KEYS; also ``OUT/sweep.json``)."""
    sweep, rows = outcome.sweep, outcome.rows
    counts = {s: sum(r["status"] == s for r in rows) for s in ("complete", "failed", "pending")}
    runs = []
    for spec, row in zip(sweep.runs, rows):
        complete = row["status"] == "complete"
        runs.append({key: row[key] for key in ("run_id", "config", "replicate", "seed", "status", "error")}
                    | {"values": {a.key: row[a.key] for a in sweep.axes}, "figures": {n: row[n] for n in sweep.figures},
                       "summary": run_summary(read_run(run_dir_of(outcome.out, spec.run_id))[0]) if complete else None})
    return {
        "schema_version": SCHEMA_VERSION, "kind": "sweep", "sweep": sweep.config.name, "sweep_file": str(sweep.file),
        "scenario": str(sweep.scenario), "out": str(outcome.out),
        "runs": {"total": len(rows), **counts, "skipped": outcome.skipped, "ran": outcome.ran},
        "objective": {"figure": sweep.config.objective, "better": FIGURES[sweep.config.objective].better},
        "configurations": configurations_json(outcome.configs, sweep.config.objective),
        "run_results": runs, "files": [str(p) for p in outcome.files],
        "wall_s": outcome.wall_s, "workers": outcome.workers, "other_runs": outcome.others,
    }


def configurations_json(configs: list[ConfigSummary], objective: str) -> list[dict[str, Any]]:
    """sweep.json's ``configurations``, in rank order (app.summary.SWEEP_KEYS): ``rank`` the place in that order,
    ``competition_rank`` the rank sweep.md shows (tied ones share the first's place, 1, 2, 2, 4), ``unfit`` and
    ``off_front`` why it ranks after the others and why it is on no Pareto front, each figure's mean, Student's t
    half-width and that interval clipped to what the figure can take."""
    best, behind, off = joint_front(configs), unfit_reasons(configs, objective), off_front_reasons(configs)
    out = []
    for place, (label, c) in enumerate(zip(rank_labels(configs, objective), configs), 1):
        ranked = mean_of(c, objective) is not None
        out.append({"config": c.config, "rank": place, "competition_rank": int(label.lstrip("=")) if ranked else None,
                    "tied": label.startswith("="), "unranked": None if ranked else unranked_reason(c),
                    "unfit": behind.get(c.config), "off_front": off.get(c.config), "labels": c.labels,
                    "complete": c.complete, "failed": c.failed, "pareto": c.config in best,
                    "figures": {n: {"mean": e.mean, "ci95_half_width": e.half_width, "n": e.n,
                                    **dict(zip(("ci95_low", "ci95_high"), interval(n, e) or (None, None)))}
                                for n, e in c.figures.items()}})
    return out
