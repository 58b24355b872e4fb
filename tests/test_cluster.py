"""The Dask cluster a sweep runs on (app/cluster.py), a real LocalCluster each time: never paused over its memory
limit, only restarted; its workers take Ctrl-C quietly and keep to one thread; its scheduler takes a free port; a
wrong or silent --scheduler is named; and a scheduler that goes away mid-sweep leaves the runs to do, not failed."""

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
import types
import warnings

import numpy as np
import pytest
from distributed.comm.core import CommClosedError
from distributed.core import Status

from app.cluster import ClusterLost, OwnCloseCommErrors, start_client
from app.run_setup import WORKER_ENVIRON, run_threads
from app.sweep import execute, read_marker, run_dir_of
from app.sweep_file import load_sweep
from rundir.errors import OrbitEdgeError
from tests.sweep_cases import TINY, write_sweep


_HELD = []  # what _fill_to holds in a worker, as a finished run's interpreter and libraries stay resident


def _fill_to(fraction, limit_bytes):
    """The worker's resident memory raised to ``fraction`` of ``limit_bytes`` and held there; returns the fraction."""
    import psutil

    extra = int(fraction * limit_bytes) - psutil.Process().memory_info().rss
    if extra > 0:
        _HELD.append(np.ones(extra, np.uint8))  # pages written, so resident
    time.sleep(1.0)  # the worker's memory monitor looks every 100 ms (distributed.worker.memory.monitor-interval)
    return psutil.Process().memory_info().rss / limit_bytes


def test_a_worker_left_above_the_pause_fraction_takes_the_next_run():
    # Dask pauses a worker over 80 % of its limit: a run's worker has nothing to spill, so it never resumed and the
    # sweep waited for ever (orbitedge sweep --memory-limit 250MB, its second run); the nanny's restart at 95 % stays
    limit_bytes = 400e6
    client, cluster = start_client(None, 1, limit_bytes)
    try:
        held = client.submit(_fill_to, 0.87, limit_bytes, pure=False).result(timeout=60)
        after = client.submit(_fill_to, 0.0, limit_bytes, pure=False).result(timeout=60)  # paused: TimeoutError
        nanny = next(iter(cluster.workers.values()))
    finally:
        client.close()
        cluster.close()
    assert 0.8 < held < 0.95 and after > 0.8  # between pause and restart: the same worker, still holding it
    assert nanny.memory_manager.memory_terminate_fraction == 0.95


def test_the_local_clusters_workers_take_ctrl_c_quietly(capfd):
    """Ctrl-C in a terminal reaches every process of its group, the workers too: they keep on (the sweep closes
    them in order), logging nothing."""
    client, cluster = start_client(None, 1)
    try:
        [(address, pid)] = client.run(os.getpid).items()
        os.kill(pid, signal.SIGINT)
        assert client.submit(sum, [1, 2], pure=False).result(timeout=30) == 3
        assert client.run(os.getpid) == {address: pid}
        assert "OwnCloseCommErrors" in client.run(worker_filters)[address]
    finally:
        client.close()
        cluster.close()
    assert "Traceback" not in capfd.readouterr().err


def worker_filters(dask_worker):
    return [type(f).__name__ for f in logging.getLogger("distributed.worker").filters]


@pytest.mark.parametrize("status, error, logged", [
    ("closing", CommClosedError("in <TCP (closed) ConnectionPool.heartbeat_worker>: Stream is closed"), False),
    ("closed", OSError("Connection reset by peer"), False),
    ("running", CommClosedError("in <TCP (closed) ConnectionPool.heartbeat_worker>: Stream is closed"), True),
    ("closing", ValueError("a worker's own bug"), True),
    ("closing_gracefully", OSError("Connection reset by peer"), True),  # retired while running: news
])
def test_a_closing_worker_logs_no_comm_its_close_broke(status, error, logged):
    """Its close closes its connections under a heartbeat in flight, which distributed logs as an ERROR: the
    LocalCluster's workers (test_the_local_clusters_workers_take_ctrl_c_quietly) drop that, and only that, record."""
    try:
        raise error
    except Exception:
        record = logging.LogRecord("distributed.worker", logging.ERROR, __file__, 0,
                                   "Failed to communicate with scheduler during heartbeat.", None, sys.exc_info())
    worker = types.SimpleNamespace(status=Status[status])
    assert OwnCloseCommErrors(worker).filter(record) is logged


def test_the_local_cluster_takes_a_free_port_beside_another_cluster():
    """Dask's scheduler serves HTTP on 8787 by default, and warns when another cluster holds it."""
    held = socket.socket()
    try:
        held.bind(("127.0.0.1", 8787))  # as another cluster would (or does already: then bind fails)
    except OSError:
        pass
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client, cluster = start_client(None, 1)
        client.close()
        cluster.close()
    held.close()
    assert [str(w.message) for w in caught if "already in use" in str(w.message)] == []


def _worker_threads():
    import cv2

    from app.sweep import _worker_address
    threads = run_threads(on_dask_worker=_worker_address() is not None)
    return (threads, cv2.getNumThreads(), os.environ.get("GDAL_NUM_THREADS"),
            os.environ.get("MALLOC_TRIM_THRESHOLD_"))


def test_a_run_on_a_local_clusters_worker_keeps_to_one_thread_and_glibcs_trim_threshold():
    """Each worker is one process per core: a run's OpenCV and COG-writer threads would compete with the other
    workers' runs. Dask's nannies write the workers' environment into this process's too (Nanny.start_process),
    where other clusters of this module put Dask's own MALLOC_TRIM_THRESHOLD_: the test starts without it."""
    before = dict(os.environ)
    for name in WORKER_ENVIRON:
        os.environ.pop(name, None)
    try:
        client, cluster = start_client(None, 2)
        try:
            seen = {w: client.submit(_worker_threads, pure=False, workers=[w]).result()  # as a run's task
                    for w in client.scheduler_info()["workers"]}
        finally:
            client.close()
            cluster.close()
    finally:
        os.environ.clear()
        os.environ.update(before)
    assert list(seen.values()) == [(1, 1, "1", None)] * 2
    assert _worker_threads()[0] == "ALL_CPUS"  # a run in this process: one thread per core for the COGs


@pytest.mark.parametrize("address, expected", [
    ("foo", r"--scheduler: expected a scheduler address such as tcp://HOST:8786, found 'foo' \(.*port"),
    ("tcp://127.0.0.1:1", r"--scheduler tcp://127.0.0.1:1: cannot reach a Dask scheduler there"),
])
def test_a_scheduler_address_that_is_wrong_or_not_answering_is_named(address, expected):
    with pytest.raises(OrbitEdgeError, match=expected):
        start_client(address, None)


def test_a_scheduler_that_goes_away_leaves_the_runs_to_do_not_failed(tmp_path):
    """The scheduler gone mid-sweep cancels every future with "scheduler-connection-lost": each run not finished was
    recorded failed with that error, so the same command made none of them (only --retry-failed did). execute now
    raises ClusterLost at once and records nothing: the same command resumes."""
    sweep = load_sweep(write_sweep(tmp_path, TINY))
    out = tmp_path / "out"
    out.mkdir()
    client, cluster = start_client(None, 1)
    stopped = {}

    def run() -> None:
        try:
            execute(client, sweep, out, list(sweep.runs))
        except BaseException as err:  # what execute ends with, for the test to see
            stopped["error"] = err

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while not any(read_marker(run_dir_of(out, spec.run_id)) for spec in sweep.runs):
            assert time.monotonic() < deadline and thread.is_alive(), "no run started"
            time.sleep(0.1)
        cluster.sync(cluster.scheduler.close)  # the scheduler goes away, as a killed `dask scheduler` does
        thread.join(120)
    finally:
        with contextlib.suppress(Exception):
            client.close()
        with contextlib.suppress(Exception):
            cluster.close()
    assert isinstance(stopped.get("error"), ClusterLost), stopped
    assert "scheduler-connection-lost" in str(stopped["error"])
    assert not any((out / "failed").iterdir())  # no run recorded failed: each is left to do
