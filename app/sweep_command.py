"""``orbitedge sweep SWEEP.yaml``: a trade study on Dask (:mod:`app.study`), with its options, progress bar and
terminal summary."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onboard.runtime.model import MODEL_LOADS
from rundir.errors import ConfigError, OrbitEdgeError

from .arguments import whole_number
from .cluster import ClusterLost
from .figures import FIGURES
from .outputs import file_arg, folder_arg, output_dir, shown
from .progress import QUIET_HELP, sweep_bar, wanted
from .run_setup import terminate
from .summary import SCHEMA_VERSION

if TYPE_CHECKING:
    from .sweep_results import ConfigSummary

TOP = 3  # configurations the terminal summary names
RUNS_FAILED = 1  # the exit status when runs of the sweep are failed at its end (2: bad input, 130: interrupted)


# The least --memory-limit a LocalCluster worker can run under: one that has loaded what a run imports holds about
# 155 MB before its first run (measured: RSS after importing app.sweep, the mission and the ground report), and its
# nanny restarts it above 95 % of its limit (app.cluster.WORKER_MEMORY), so under ~165 MB it is restarted for ever
# before any run starts, and the sweep waited with nothing said.
MIN_WORKER_MEMORY_BYTES = 200_000_000


def _memory_limit(value: str) -> str:
    """``auto``, or a size Dask reads (``dask.utils.parse_bytes``: 2GiB, 500 MB, 4e9; 0 is no limit) of at least
    MIN_WORKER_MEMORY_BYTES, checked before the cluster starts."""
    if value == "auto":
        return value
    from dask.utils import parse_bytes

    try:
        size = parse_bytes(value)
    except ValueError:
        size = -1
    if size == 0 or size >= MIN_WORKER_MEMORY_BYTES:
        return value
    least = f"{MIN_WORKER_MEMORY_BYTES // 1_000_000} MB"
    raise argparse.ArgumentTypeError(f"{value!r}: expected auto or a size in bytes of at least {least} (a worker holds "
                                     f"about 155 MB before its first run), e.g. 2GiB, 500MB or 4e9 (0: no limit)")


def sweep_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("sweep_file", type=file_arg, help="sweep YAML file (keys: `python -m app.sweep_file`)")
    p.add_argument("--out", type=folder_arg, help="output folder (default: runs/sweep-<name>); the same folder resumes")
    p.add_argument("--scheduler", metavar="ADDRESS", help="use the Dask cluster of this scheduler, e.g. "
                   "tcp://HOST:8786 (default: a LocalCluster on this machine)")
    p.add_argument("--workers", type=whole_number(1, "workers"), metavar="N",
                   help="LocalCluster worker processes (default: one per core)")
    p.add_argument("--memory-limit", default="auto", type=_memory_limit, metavar="BYTES",
                   help="memory per LocalCluster worker, e.g. 2GiB; a worker above it is restarted and its run "
                        "resubmitted (default: auto, the machine's memory shared out; 0: no limit)")
    p.add_argument("--retry-failed", action="store_true", help="run the runs that failed before again")
    p.add_argument("--overwrite", action="store_true", help="forget the runs already in the output folder")
    p.add_argument("--plan", action="store_true", help="validate and list the runs, then stop (with --json: as JSON, "
                   "its runs one object each; schema: `python -m app.summary`)")
    p.add_argument("--format", choices=("md", "html"), default="md", help="sweep report format")
    p.add_argument("--quiet", action="store_true", help=QUIET_HELP)
    p.add_argument("--json", action="store_true", help="print the sweep summary as JSON on stdout (schema: "
                   "`python -m app.summary`)")


def cmd_sweep(args: argparse.Namespace) -> int:
    from .study import run_sweep, sweep_summary
    from .sweep import SUMMARY, is_complete, run_dir_of
    from .sweep_file import load_sweep

    try:
        sweep = load_sweep(args.sweep_file)
    except ConfigError as err:
        sweep = _resumed_despite(err, args)
    if args.plan:
        if args.json:
            print(json.dumps(plan_json(sweep), indent=2, default=str))  # a datetime axis value: str() of it
        elif not args.quiet:
            print("\n".join(f"{spec.run_id}  seed {spec.seed}  " + "  ".join(f"{k}={v}" for k, v in spec.labels.items())
                            + (f"  needs {', '.join(spec.resources)}" if spec.resources else "")
                            for spec in sweep.runs))
        return 0
    wanted_out = args.out or Path("runs") / f"sweep-{sweep.config.name}"
    chain = [wanted_out.absolute(), *wanted_out.absolute().parents]
    made = next((p for p in reversed(chain) if not p.exists()), None)  # the first folder this command makes
    out = output_dir(wanted_out, "--out")
    previous = signal.signal(signal.SIGTERM, terminate)  # as Ctrl-C: the cluster closed, what was done written
    try:
        outcome = run_sweep(sweep, out, scheduler=args.scheduler, workers=args.workers, retry_failed=args.retry_failed,
                            overwrite=args.overwrite, fmt=args.format, memory_limit=args.memory_limit,
                            progress=lambda total, already: sweep_bar(wanted(args.quiet), total, already))
    except OrbitEdgeError:  # e.g. no scheduler at --scheduler: the folders made for the sweep go too
        if made is not None and not any(p.is_file() for p in made.rglob("*")):
            shutil.rmtree(made)
        raise
    except ClusterLost as err:
        done = sum(is_complete(run_dir_of(out, spec.run_id), spec) for spec in sweep.runs)
        print(f"orbitedge: error: the Dask scheduler went away ({err}): {done} of {len(sweep.runs)} runs complete in "
              f"{out}; the others are left to do, and the same command resumes once a scheduler answers"
              f"{f' at {args.scheduler}' if args.scheduler else ''}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        done = sum(is_complete(run_dir_of(out, spec.run_id), spec) for spec in sweep.runs)
        again = "the same command without --overwrite resumes (with it, it starts afresh)" if args.overwrite else \
            "the same command resumes"
        print(f"orbitedge: interrupted: {done} of {len(sweep.runs)} runs complete in {out}; {again}", file=sys.stderr)
        if args.json and (out / SUMMARY).is_file():  # written as the sweep stopped: its pending runs among the rest
            print((out / SUMMARY).read_text(), end="")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.json:
        print(json.dumps(sweep_summary(outcome), indent=2, sort_keys=True))
    elif not args.quiet:
        print("\n".join(summary_lines(outcome)))
    if args.quiet and (failed := failed_lines(outcome)):  # errors are what --quiet still prints
        print("orbitedge: " + "\n".join(failed).lstrip(), file=sys.stderr)
    return RUNS_FAILED if any(row["status"] == "failed" for row in outcome.rows) else 0


def _resumed_despite(err: ConfigError, args: argparse.Namespace) -> Any:
    """The sweep of ``args`` planned with its model files that no longer load left to their runs, when those are
    all ``err`` says and its folder holds the sweep begun before they broke: its complete runs stand, and each
    other run with such a model fails with the error, recorded (``--retry-failed`` makes it again once the file is
    mended). Else ``err``: a sweep not yet begun, or planned only, is refused at once."""
    from .sweep import SUMMARY
    from .sweep_file import load_sweep

    if args.plan or args.overwrite or not all(issue.path.startswith("axes.") and issue.expected.startswith(MODEL_LOADS)
                                              for issue in err.issues):
        raise err
    sweep = load_sweep(args.sweep_file, models_at_run=True)
    if not ((args.out or Path("runs") / f"sweep-{sweep.config.name}") / SUMMARY).is_file():
        raise err
    return sweep


def plan_json(sweep: Any) -> dict[str, Any]:
    """``--plan --json`` (app.summary.PLAN_KEYS, schema SCHEMA_VERSION): the sweep and its file, and ``runs``, one
    object per run, in order: ``run_id``, ``config``, ``replicate``, the scenario ``seed``, the axis ``values`` and
    their ``labels`` by key, the ``overrides`` that make the run from the base scenario (as ``--set`` takes them) and
    the Dask ``resources`` a worker needs to take it."""
    runs = [{"run_id": spec.run_id, "config": spec.config, "replicate": spec.replicate, "seed": spec.seed,
             "values": spec.values, "labels": spec.labels, "overrides": list(spec.overrides),
             "resources": spec.resources} for spec in sweep.runs]
    return {"schema_version": SCHEMA_VERSION, "kind": "plan", "sweep": sweep.config.name, "sweep_file": str(sweep.file),
            "runs": runs}


def summary_lines(outcome: Any) -> list[str]:
    """The terminal summary: the runs (the failed named, with --retry-failed, and their errors), the best
    configurations by the objective, the first two set against each other, the Pareto front and the files."""
    from .sweep_report import backlog_text, burst_text, fmt_estimate, front_text, lead_text, unfit_text
    from .sweep_results import mean_of, rank_labels, warned_runs

    rows, configs = outcome.rows, outcome.configs
    counts = {s: sum(r["status"] == s for r in rows) for s in ("complete", "failed", "pending")}
    where = f"on {outcome.workers} worker{'s' if outcome.workers != 1 else ''} " if outcome.workers else ""
    lines = [f"{outcome.sweep.config.name}: {len(rows)} runs, {outcome.ran} made now {where}in {outcome.wall_s:.1f} s: "
             f"{counts['complete']} complete ({outcome.skipped} before), {counts['failed']} failed"
             + (f", {counts['pending']} pending" if counts["pending"] else "")]
    lines += failed_lines(outcome)
    if others := outcome.others:
        named = ", ".join(others[:4]) + (f" and {len(others) - 4} more" if len(others) > 4 else "")
        lines.append(f"  not in this plan: {len(others)} run{'s' if len(others) > 1 else ''} of an earlier plan in "
                     f"{shown(outcome.out)} ({named}), left out of the results; --overwrite removes them")
    if warned := warned_runs(rows):
        runs = len({run for ids in warned.values() for run in ids})
        lines.append(f"  warnings: {runs} of {counts['complete']} complete runs warn of something (the sweep "
                     f"report's Run warnings), e.g. {textwrap.shorten(next(iter(warned)), 160, placeholder=' ...')}")
    objective = outcome.sweep.config.objective
    lines.append(f"  best by {objective} ({FIGURES[objective].better} is better):")
    for label, c in list(zip(rank_labels(configs, objective), configs))[:TOP]:
        ranked = mean_of(c, objective) is not None  # else the label says why not: not run yet, no complete run, ...
        lines.append(f"    {label + '.' if ranked else '-'} config {c.config}: {_labels(c)}: "
                     f"{fmt_estimate(objective, c.figures.get(objective)) if ranked else label}")
    if lead := lead_text(configs, rows, objective):
        lines.append(f"  {lead}")
    lines.append(f"  Pareto front: {front_text(configs)}")
    lines += [f"  {caveat}" for caveat in (burst_text(objective, configs), unfit_text(configs), backlog_text(configs))
              if caveat]
    lines += [f"  {'wrote':<6} {shown(path)}" for path in outcome.files
              if path.suffix in (".csv", ".parquet", ".md", ".html")]
    return lines


def failed_lines(outcome: Any) -> list[str]:
    """The failed runs (up to 5 ids), where their errors are, how to make them again, and the errors; [] when none
    failed."""
    if not (failed := [r["run_id"] for r in outcome.rows if r["status"] == "failed"]):
        return []
    return [f"  failed: {', '.join(failed[:5])}{f' and {len(failed) - 5} more' if len(failed) > 5 else ''}, each with "
            f"its error in {shown(outcome.out / 'failed')}/RUN.json; the same command with --retry-failed makes "
            "them again", *failure_lines(outcome.rows)]


def failure_lines(rows: list[dict[str, Any]], most: int = TOP) -> list[str]:
    """The failed runs' errors (:func:`app.sweep_report.failure_text`), each once with the runs that give it (up to 5
    ids), at most ``most`` of them, then how many more."""
    from .sweep_report import failure_text

    errors: dict[str, list[str]] = {}
    for row in rows:
        if row["status"] == "failed":
            errors.setdefault(failure_text(row["error"]), []).append(row["run_id"])
    lines = [f"    {', '.join(ids[:5])}{f' and {len(ids) - 5} more' if len(ids) > 5 else ''}: {text}"
             for text, ids in list(errors.items())[:most]]
    return lines + ([f"    and {len(errors) - most} other errors"] if len(errors) > most else [])


def _labels(c: ConfigSummary) -> str:
    return ", ".join(f"{key}={label}" for key, label in c.labels.items()) or "the base scenario"
