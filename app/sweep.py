"""A sweep's runs on Dask distributed: a ``LocalCluster`` (one single-threaded worker process per core) or an existing
cluster (``--scheduler tcp://HOST:8786``), each run an ordinary run directory under ``OUT/runs/``.

Resuming is the same command: a run whose directory is complete is skipped, an incomplete one (interrupted, or its
worker killed) is run again from scratch. A run that fails is recorded in ``OUT/failed/RUN.json`` with its error and
the others go on; ``retry_failed`` runs those again. A worker lost mid-run costs only its run: the scheduler
resubmits it (``distributed.scheduler.allowed-failures`` times, then it is recorded as failed). Runs whose stage times
are measured on a device (``timing: measured``) carry that hardware profile as a Dask resource, so only workers
started with it (``dask worker ... --resources coral-usb=1``) take them.

Each run is made by :func:`run_task` on a worker, which finds everything it needs at the paths it is given: workers
on other machines need the sweep's files at the same paths (a shared file system).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import shutil
import socket
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rundir.errors import InputFileError, OrbitEdgeError
from rundir.files import LOCK_FILE, folder_lock, run_lock, write_json

from .cluster import SCHEDULER_LOST, ClusterLost, check_resources
from .figures import readable_run
from .run_setup import release_simulation_memory, run_threads, write_resolved
from .sweep_file import Sweep
from .sweep_plan import RUN_ID_PATTERN, RunSpec, scenario_digest

RUNS = "runs"
FAILED = "failed"
MARKER = "sweep_run.json"  # in each run directory: the run's settings, status and attempts
SUMMARY = "sweep.json"  # the sweep's summary, written at its first moment: it marks the folder as a sweep's
POLL_S = 0.5
Progress = Callable[[dict[str, int]], None]
@dataclass
class SweepState:
    """Where each run of a sweep stands: ``complete`` and ``failed`` (run ids), ``todo`` (RunSpecs)."""

    complete: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    todo: list[RunSpec] = field(default_factory=list)


def run_dir_of(out: Path, run_id: str) -> Path:
    return Path(out) / RUNS / run_id


def read_marker(run_dir: Path) -> dict[str, Any] | None:
    """The run directory's sweep_run.json, or None when absent or unreadable (an interrupted write)."""
    try:
        return json.loads((run_dir / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_complete(run_dir: Path, spec: RunSpec) -> bool:
    """The run finished with these settings: its marker says complete, its report and run.json read (else made again)."""
    marker = read_marker(run_dir)
    return (marker is not None and marker.get("status") == "complete"
            and marker.get("overrides") == list(spec.overrides) and readable_run(run_dir))


def run_task(spec: RunSpec, sweep_name: str, scenario: str, out: str, fmt: str = "md") -> dict[str, Any]:
    """Make one run on this worker: the scenario with the run's overrides, simulated and reported into
    ``out/runs/RUN``. Returns ``{run_id, status: complete|failed, error, traceback, wall_s}``; never raises for a
    failed run, so that Dask resubmits a run only when its worker is lost. The run's marker keeps its wall and
    CPU seconds (this process's, all threads) and its Python warnings, which are not printed."""
    from ground.report import write_report

    from onboard.scenario.config import load_scenario
    from onboard.sim.mission import Mission

    run_dir = run_dir_of(Path(out), spec.run_id)
    if is_complete(run_dir, spec):  # NOTE: Dask recomputes a finished task whose worker died before it was read
        return {"run_id": spec.run_id, "status": "complete", "wall_s": 0.0}
    threads = run_threads(on_dask_worker=_worker_address() is not None)
    start, cpu_start = time.perf_counter(), time.process_time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with run_lock(run_dir):  # as `orbitedge run` and `report` hold it: refused while either writes there
                marker = _claim(run_dir, spec, sweep_name, scenario_digest(scenario))
                scenario_obj = load_scenario(scenario, list(spec.overrides))
                write_resolved(run_dir, scenario_obj)
                Mission(scenario_obj, run_dir).run()
                release_simulation_memory()
                write_report(run_dir, fmt, cog_threads=threads)
        except Exception as err:
            return {"run_id": spec.run_id, "status": "failed", "error": f"{type(err).__name__}: {err}",
                    "traceback": traceback.format_exc(), "wall_s": round(time.perf_counter() - start, 3)}
    wall_s = round(time.perf_counter() - start, 3)
    write_json(run_dir / MARKER, {**marker, "status": "complete", "wall_s": wall_s,
                                  "cpu_s": round(time.process_time() - cpu_start, 3),
                                  "warnings": [f"{w.category.__name__}: {w.message}" for w in caught]})
    return {"run_id": spec.run_id, "status": "complete", "wall_s": wall_s}


def _claim(run_dir: Path, spec: RunSpec, sweep_name: str, scenario_sha256: str | None) -> dict[str, Any]:
    """Make ``run_dir`` this attempt's: an earlier, incomplete attempt of the sweep is removed (its attempts kept in
    the new marker); anything else there is refused (InputFileError), never deleted."""
    attempts: list[dict[str, Any]] = []
    if run_dir.exists() or run_dir.is_symlink():
        earlier = read_marker(run_dir) if run_dir.is_dir() else None
        if earlier is None and not (run_dir.is_dir() and not any(run_dir.iterdir())):
            raise InputFileError(run_dir, "is in the way of this sweep's run and not one of its run directories "
                                          "(no sweep_run.json): move it away, then resume with --retry-failed")
        attempts = list((earlier or {}).get("attempts") or [])
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    worker = _worker_address()
    attempts.append({"host": socket.gethostname(), "pid": os.getpid(), "worker": worker,
                     "started_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})
    marker = {"sweep": sweep_name, "run_id": spec.run_id, "config": spec.config, "replicate": spec.replicate,
              "seed": spec.seed, "overrides": list(spec.overrides), "scenario_sha256": scenario_sha256,
              "status": "running", "attempts": attempts}
    write_json(run_dir / MARKER, marker)
    return marker


def _worker_address() -> str | None:
    from distributed import get_worker

    try:
        return get_worker().address
    except ValueError:  # not on a Dask worker (a run made in this process)
        return None


def sweep_state(sweep: Sweep, out: Path, retry_failed: bool = False) -> SweepState:
    """Classify the runs of ``sweep`` under ``out``. Raises OrbitEdgeError when ``out`` holds runs of another plan
    (a run directory whose settings differ) or of another version of the base scenario (its sha256 in the run's
    marker differs from the file's now; a marker without one, from an older orbitedge, is not compared): resuming
    would mix two studies."""
    state, digest = SweepState(), scenario_digest(sweep.scenario)
    for spec in sweep.runs:
        run_dir = run_dir_of(out, spec.run_id)
        marker = read_marker(run_dir)
        if marker is not None and marker.get("overrides") != list(spec.overrides):
            raise OrbitEdgeError(f"{out}: holds runs of another sweep plan ({spec.run_id} was made with "
                                 f"{' '.join(marker.get('overrides') or [])!r}, where this plan has "
                                 f"{_changed(marker.get('overrides') or [], spec.overrides)}); choose another --out, "
                                 "or pass --overwrite to start afresh")
        made_from = (marker or {}).get("scenario_sha256")
        if made_from is not None and made_from != digest:
            raise OrbitEdgeError(f"{out}: holds runs of another version of the base scenario {sweep.scenario} "
                                 f"({spec.run_id} was made from a file of sha256 {made_from[:12]}..., the file is now "
                                 f"{(digest or 'unreadable')[:12]}...): choose another --out, or pass --overwrite to "
                                 "start afresh")
        if is_complete(run_dir, spec):
            state.complete.add(spec.run_id)
        elif (Path(out) / FAILED / f"{spec.run_id}.json").is_file() and not retry_failed:
            state.failed.add(spec.run_id)
        else:
            state.todo.append(spec)
    return state


def _changed(made: Sequence[str], planned: Sequence[str]) -> str:
    """The settings in which the ``KEY=VALUE`` assignments ``planned`` differ from those a run was ``made`` with,
    as ``KEY=NEW (not OLD)``, ``KEY=NEW (not set)`` or ``no KEY (not OLD)``; or that they are the same in another
    order."""
    before, after = (dict(a.partition("=")[::2] for a in assignments) for assignments in (made, planned))
    if before == after:  # applied in order: a whole list set before or after one of its items is another scenario
        return "the same settings in another order"
    return ", ".join(f"{key}={after[key]} ({'not ' + before[key] if key in before else 'not set'})" if key in after
                     else f"no {key} (not {before[key]})"
                     for key in dict.fromkeys([*after, *before]) if before.get(key) != after.get(key))


def prepare_out(out: Path, overwrite: bool, hold: contextlib.ExitStack) -> list[Path]:
    """Make ``out`` ready for a sweep and return the files an earlier sweep wrote there (from its sweep.json). A
    folder that is neither empty nor an earlier sweep's (:func:`is_sweep_out`) is refused, nothing deleted
    (OrbitEdgeError); else it is held by this process until ``hold`` closes (:func:`rundir.files.folder_lock`:
    another sweep into it is refused, OrbitEdgeError), and with ``overwrite``, what the earlier sweep made is
    removed first (:func:`remove_earlier`) and nothing else."""
    out = Path(out)
    held = sorted(p.name for p in out.iterdir() if p.name != LOCK_FILE) if out.is_dir() else []
    if held and not is_sweep_out(out):
        shown = ", ".join(held[:4]) + (f" and {len(held) - 4} more" if len(held) > 4 else "")
        raise OrbitEdgeError(f"--out {out}: expected a new or empty folder, or an earlier sweep's (with {SUMMARY} "
                             f"or {RUNS}/*/{MARKER}), found a folder holding {shown}; nothing was deleted"
                             f"{' (--overwrite removes only what a sweep made)' if overwrite else ''}: choose "
                             "another --out")
    hold.enter_context(folder_lock(out))
    earlier = earlier_files(out)
    if overwrite:
        try:  # the folder takes a new file, as results.csv will be, before anything in it is removed
            tempfile.TemporaryFile(dir=out).close()
        except OSError as err:
            raise OrbitEdgeError(f"--out {out}: cannot write into it ({err.strerror or err}); nothing was removed") \
                from None
        remove_earlier(out, earlier)
        return []
    return earlier


def is_sweep_out(out: Path) -> bool:
    """``out`` is an earlier sweep's folder: its sweep.json says ``kind: sweep``, or a run directory under runs/
    carries a sweep_run.json (a sweep stopped before it wrote sweep.json)."""
    try:
        if json.loads((Path(out) / SUMMARY).read_text(encoding="utf-8")).get("kind") == "sweep":
            return True
    except (OSError, ValueError, AttributeError):
        pass
    return any(Path(out).glob(f"{RUNS}/*/{MARKER}"))


def earlier_files(out: Path) -> list[Path]:
    """The files below ``out`` that the sweep of ``out/sweep.json`` wrote (its ``files``, found again below ``out``
    when the folder was moved); none without a readable sweep.json. A path that leads out of ``out`` once resolved
    (``..``, a link: a sweep.json edited or from elsewhere) is none of them."""
    try:
        summary = json.loads((Path(out) / SUMMARY).read_text(encoding="utf-8"))
        then = Path(summary["out"])
        named = [Path(out) / Path(f).relative_to(then) for f in summary["files"] if Path(f).is_relative_to(then)]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
    inside = Path(out).resolve()
    return [path for path in named if path.resolve().is_relative_to(inside) and path.resolve() != inside]


def remove_earlier(out: Path, earlier: list[Path]) -> None:
    """Remove what an earlier sweep made in ``out``: run directories with a sweep_run.json, the lock files of its runs
    beside them (``runs/.cNNN-rN.lock``: :func:`rundir.files.run_lock`, which each run and a report of it take),
    failure records ``failed/RUN.json`` of that run, the files ``earlier`` and sweep.json; then the folders left
    empty. Anything else stays."""
    out = Path(out)
    for marker in out.glob(f"{RUNS}/*/{MARKER}"):
        if not marker.parent.is_symlink():
            shutil.rmtree(marker.parent)
    for lock in out.glob(f"{RUNS}/.c*-r*.lock"):  # each run's lock (run_task's, or orbitedge report's of it)
        if re.fullmatch(rf"\.{RUN_ID_PATTERN}\.lock", lock.name) and lock.is_file():
            lock.unlink()
    for record in out.glob(f"{FAILED}/*.json"):
        if _failure_of(record) == record.stem:
            record.unlink()
    for path in [*earlier, out / SUMMARY]:
        if path.is_file() or path.is_symlink():
            path.unlink()
    for folder in {out / RUNS, out / FAILED, *(p.parent for p in earlier if p.parent != out)}:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _failure_of(record: Path) -> str | None:
    """The run_id a failure record ``failed/RUN.json`` names, or None when it is not one."""
    try:
        return json.loads(record.read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None


def execute(client: Any, sweep: Sweep, out: Path, todo: list[RunSpec], fmt: str = "md",
            progress: Progress | None = None) -> dict[str, str]:
    """Submit ``todo`` to the cluster and wait for every run; record each failure in ``out/failed`` as it comes
    (and clear the record of a run that now completes). Returns ``{run_id: complete|failed}``. On Ctrl-C the runs
    not finished are cancelled and KeyboardInterrupt propagates; ClusterLost when the scheduler went away, the runs
    not finished left to do, not failed."""
    from distributed import KilledWorker

    out = Path(out).resolve()
    check_resources(client, todo)
    (out / FAILED).mkdir(exist_ok=True)
    since = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")  # as attempts are stamped (_claim)
    pending = {client.submit(run_task, spec, sweep.config.name, str(sweep.scenario), str(out), fmt, pure=False,
                             key=f"orbitedge-run-{spec.run_id}-{os.urandom(4).hex()}",
                             resources=spec.resources or None): spec for spec in todo}
    statuses: dict[str, str] = {}
    try:
        while pending:
            for future in [f for f in pending if f.done()]:
                spec = pending.pop(future)
                try:
                    outcome = future.result()
                except KilledWorker as err:
                    outcome = {"run_id": spec.run_id, "status": "failed", "wall_s": None,
                               "error": lost_worker_error(client, out, spec, err, since)}
                except Exception as err:  # the cluster lost the task otherwise (a scheduler restarted, a comm closed)
                    if getattr(err, "reason", None) == SCHEDULER_LOST:  # every run of it goes the same way: not failed
                        raise ClusterLost(str(err)) from None
                    outcome = {"run_id": spec.run_id, "status": "failed", "wall_s": None,
                               "error": f"{type(err).__name__}: {err}"}
                statuses[spec.run_id] = outcome["status"]
                _record(out, spec, outcome)
                future.release()
            if progress is not None:
                progress(_counts(client, pending, statuses, len(todo)))
            if pending:
                time.sleep(POLL_S)
    except ClusterLost:
        raise  # no scheduler to cancel anything on
    except BaseException:
        client.cancel(list(pending))
        raise
    return statuses


def lost_worker_error(client: Any, out: Path, spec: RunSpec, err: Any, since: str) -> str:
    """Why Dask gave up on a run (its KilledWorker ``err``): the workers lost while they held it, running it or queued
    to, and how many of its attempts ``since`` (its marker's) ran on a worker its nanny restarted over the memory
    limit (the scheduler's ``worker-restart-memory`` events, matched by worker address and pid); for a run that never
    started, whether the last worker it was queued to was one."""
    attempts = [a for a in (read_marker(run_dir_of(out, spec.run_id)) or {}).get("attempts") or []
                if a.get("started_utc", "") >= since]
    try:
        over = {(event.get("worker"), event.get("pid")) for _, event in client.get_events("worker-restart-memory")}
    except Exception:  # NOTE: a scheduler that cannot answer: the error says what is known
        over = set()
    memory = sum((a.get("worker"), a.get("pid")) in over for a in attempts) if attempts else \
        int(getattr(err.last_worker, "address", None) in {worker for worker, _ in over})
    why = (f"started {len(attempts)} time(s), {f'{memory} of them' if memory else 'never'} on a worker its nanny "
           "restarted over the memory limit") if attempts else \
        ("never started, and its last worker was restarted over the memory limit by its nanny" if memory else
         "never started: the workers were killed or crashed")
    advice = ": raise --memory-limit, or run fewer --workers" if memory else ": killed or crashed" if attempts else ""
    return f"Dask lost {err.allowed_failures + 1} workers while they held it (running it or queued to); it {why}" \
        f"{advice} ({err})"


def _record(out: Path, spec: RunSpec, outcome: dict[str, Any]) -> None:
    record = out / FAILED / f"{spec.run_id}.json"
    if outcome["status"] == "complete":
        record.unlink(missing_ok=True)
    else:
        write_json(record, {"run_id": spec.run_id, "overrides": list(spec.overrides), **outcome})


def _counts(client: Any, pending: dict[Any, RunSpec], statuses: dict[str, str], total: int) -> dict[str, int]:
    """done, failed and running of this session's runs, and the cluster's workers: running are ours that workers are
    processing, at most one per worker thread."""
    keys = {f.key for f in pending}
    threads = client.nthreads()
    running = sum(min(len(keys.intersection(tasks)), threads.get(worker, 1))
                  for worker, tasks in client.processing().items())
    failed = sum(1 for s in statuses.values() if s == "failed")
    return {"done": len(statuses) - failed, "failed": failed, "running": running, "total": total,
            "workers": len(threads)}
