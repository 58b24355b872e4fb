"""The Dask cluster a sweep runs on: a ``LocalCluster`` of single-threaded worker processes, started for the sweep
(never paused over a memory limit, its workers deaf to Ctrl-C), or a client of an existing scheduler
(``--scheduler tcp://HOST:8786``); which runs its workers can take (a device for ``timing: measured`` is a Dask
resource); and the scheduler going away mid-sweep (:class:`ClusterLost`)."""

from __future__ import annotations

import logging
import signal
from typing import Any

from rundir.errors import OrbitEdgeError
from rundir.files import signals_blocked

from .run_setup import WORKER_ENVIRON
from .sweep_plan import RunSpec

SCHEDULER_LOST = "scheduler-connection-lost"  # why distributed cancels a client's futures when its scheduler went


class ClusterLost(Exception):
    """The Dask scheduler went away mid-sweep: the runs not finished are left to do, and the same command resumes."""


LOCAL_RESOURCES = {"host": 1}  # local workers run `timing: measured` runs of the host profile
# LocalCluster workers keep only the nanny's restart at 95 % of --memory-limit (distributed.worker.memory.*): a run
# leaves no result in its worker to spill, and a worker left above the pause fraction (80 %) by the interpreter and
# its libraries once its run ended took no run again: the sweep waited for ever, saying nothing.
WORKER_MEMORY = {"distributed.worker.memory.target": False, "distributed.worker.memory.spill": False,
                 "distributed.worker.memory.pause": False}


def start_client(scheduler: str | None, workers: int | None, memory_limit: str | float = "auto") -> tuple[Any, Any]:
    """``(client, cluster)``: a client of the scheduler at ``scheduler`` (cluster None), or of a new LocalCluster of
    ``workers`` single-threaded worker processes (default: one per core) carrying ``host=1``, logs kept to errors,
    restarted over 95 % of ``memory_limit`` but never paused (WORKER_MEMORY), whose workers ignore Ctrl-C (started
    with SIGINT blocked, then :func:`dask_setup`). Its scheduler has no dashboard, and serves its HTTP endpoints on
    a free port: on Dask's 8787, another cluster on the machine made it warn."""
    import dask
    from distributed import Client, LocalCluster

    from onboard.sim.frame_pool import default_workers

    if scheduler is not None:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as err:
            raise OrbitEdgeError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there ({err})") from None
        except ValueError as err:  # distributed's address parser: no port, an unknown protocol
            raise OrbitEdgeError(f"--scheduler: expected a scheduler address such as tcp://HOST:8786, found "
                                 f"{scheduler!r} ({err})") from None
    with dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENVIRON.items()}
                         | WORKER_MEMORY), signals_blocked():
        cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                               memory_limit=memory_limit, silence_logs=logging.ERROR, dashboard_address=None,
                               resources=LOCAL_RESOURCES, preload=[__name__],
                               scheduler_kwargs={"dashboard_address": ":0"})
    return Client(cluster), cluster


def dask_setup(worker: Any) -> None:
    """Dask's preload hook, run in each LocalCluster worker process as it starts (a restarted one too), in its main
    thread: the worker ignores SIGINT, and logs no comm it broke itself in closing (:class:`OwnCloseCommErrors`).
    The workers share the terminal's process group, so Ctrl-C reaches each of them, and a worker that takes it stops
    in the middle of its run, logging the scheduler's comms breaking; ignoring it, they are stopped in order when the
    sweep closes its cluster."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.getLogger("distributed.worker").addFilter(OwnCloseCommErrors(worker))


class OwnCloseCommErrors(logging.Filter):
    """Drops a worker's records of a comm that broke (an OSError) once the worker is closing or closed (not while
    it is retired gracefully, handing its data on: a comm that breaks then is news). A worker's close
    closes its connections, a heartbeat to the scheduler in flight among them, and distributed (2026.8,
    ``Worker.heartbeat``) logs that heartbeat's failure as an ERROR with its traceback: seen when a sweep is
    stopped, as its cluster closes, and no news to whoever stopped it."""

    def __init__(self, worker: Any) -> None:
        super().__init__()
        self.worker = worker

    def filter(self, record: logging.LogRecord) -> bool:
        from distributed.core import Status

        broken = record.exc_info is not None and isinstance(record.exc_info[1], OSError)
        return not (broken and self.worker.status in (Status.closing, Status.closed))


def check_resources(client: Any, runs: list[RunSpec]) -> None:
    """Raise OrbitEdgeError naming the runs no worker of the cluster can take: they need a resource (a device for
    ``timing: measured``) that no worker was started with. ``client`` None: a LocalCluster this process starts, whose
    workers offer LOCAL_RESOURCES (the host) alone."""
    offered = set(LOCAL_RESOURCES) if client is None else {name for w in client.scheduler_info()["workers"].values()
                                                           for name in (w.get("resources") or {})}
    missing: dict[str, list[str]] = {}
    for spec in runs:
        for name in spec.resources:
            if name not in offered:
                missing.setdefault(name, []).append(spec.run_id)
    if missing:
        lines = [f"{name!r} for {', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''} (timing: measured on {name})"
                 for name, ids in missing.items()]
        raise OrbitEdgeError("no worker of the cluster has the Dask resource " + "; ".join(lines) + ": start one on "
                             "that device with `dask worker SCHEDULER --resources NAME=1` and pass --scheduler")
