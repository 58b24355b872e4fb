"""A run directory made ready before the mission writes into it: emptied or refused, and the resolved scenario
(``scenario.yaml``: the file with every ``--set`` applied) written first, for ``orbitedge run`` and every sweep run;
the C heap kept from holding freed frames (:func:`bound_heap`), the simulation's memory released before the
ground report runs in the same process, and the environment, signal mask and native threads of a run on a sweep's
worker."""

from __future__ import annotations

import ctypes
import gc
import json
import os
import shutil
from pathlib import Path
from typing import Any

from rundir.errors import OrbitEdgeError

from .outputs import output_dir

# The environment of a sweep's LocalCluster workers, over Dask's own (distributed.nanny.pre-spawn-environ, which sets
# OMP_NUM_THREADS=1 and the like: each worker is one process per core). Glibc keeps its adaptive trim threshold, as
# a run outside Dask does (Dask's 65536 would cost a run 20-35 % more CPU in page faults, and turn bound_heap off).
# OpenCV and GDAL (every GDAL operation of a run) use one thread, whose others competed with the other workers' runs
# for the same cores (benchmarks/sweep.py, 2 workers on 2 cores: a run cost 8.5 % more CPU in a worker than alone
# without, 1.5-8 % with, within the host's noise). A user's own values of these variables win (Dask's rule).
WORKER_ENVIRON: dict[str, int | None] = {"MALLOC_TRIM_THRESHOLD_": None, "OPENCV_FOR_THREADS_NUM": 1,
                                         "GDAL_NUM_THREADS": 1}

# glibc mallopt(3) parameters (malloc.h) and the values they are fixed at (see bound_heap)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 2 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 32 * 1024 * 1024


class Terminated(KeyboardInterrupt):
    """SIGTERM (a job scheduler, ``timeout``, ``kill``), raised where Ctrl-C raises KeyboardInterrupt: a run or sweep
    stops as on Ctrl-C, and a run records ``Terminated`` as why (``telemetry/run.json`` ``stopped.reason``)."""


def terminate(signum: int, frame: Any) -> None:
    """The SIGTERM handler of ``orbitedge run`` and ``orbitedge sweep``: raises :class:`Terminated`."""
    raise Terminated


RESOLVED_SCENARIO = "scenario.yaml"  # the scenario as resolved, in the run directory (write_resolved)
RUN_DIR_MARKS = (RESOLVED_SCENARIO, "telemetry/")  # what write_resolved makes first: a folder with both is a run's


def check_out(run_dir: Path, overwrite: bool) -> None:
    """Refuse ``run_dir`` as :func:`prepare_run_dir` would (OrbitEdgeError), changing nothing: ``orbitedge run``
    asks before any work, and replaces an earlier run only once its mission is set up. A file there is
    :func:`app.outputs.output_dir`'s to refuse."""
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if not overwrite:
            raise OrbitEdgeError(f"{run_dir}: run directory already exists and is not empty; "
                                 "pass --overwrite to replace it, or --out to choose another")
        missing = missing_marks(run_dir)
        if missing or run_dir.is_symlink():
            found = "a symbolic link" if run_dir.is_symlink() else f"a folder without {' or '.join(missing)}"
            raise OrbitEdgeError(f"--out {run_dir}: --overwrite replaces only an earlier run's directory (with "
                                 f"{' and '.join(RUN_DIR_MARKS)}), found {found}; nothing was deleted: choose a new "
                                 "or empty folder with --out")
        if Path.cwd().resolve().is_relative_to(run_dir.resolve()):
            raise OrbitEdgeError(f"--out {run_dir}: the working directory is in it, and --overwrite moves the earlier "
                                 "run aside: run from outside it; nothing was changed")


def missing_marks(folder: Path) -> list[str]:
    """The RUN_DIR_MARKS ``folder`` lacks: none in a run's directory."""
    return [mark for mark in RUN_DIR_MARKS
            if not ((folder / mark).is_dir() if mark.endswith("/") else (folder / mark).is_file())]


def earlier_of(run_dir: Path) -> Path:
    """Where ``--overwrite`` keeps the earlier run of ``run_dir`` until the run that replaces it is complete: a hidden
    folder beside it, ``.NAME.earlier``."""
    return run_dir.parent / f".{run_dir.name}.earlier"


def prepare_run_dir(run_dir: Path, overwrite: bool) -> Path | None:
    """Make ``run_dir``. One that exists and is not empty is replaced with ``overwrite`` when it is an
    earlier run's (it holds RUN_DIR_MARKS); anything else is refused, never deleted (:func:`check_out`;
    OrbitEdgeError, as is a folder that cannot be made or moved). The earlier run is moved aside to
    :func:`earlier_of`, and the folder that holds it returned (None when there was none), for the caller to remove
    once the new run is complete (:func:`discard_earlier`) or to put back when nothing was simulated
    (:func:`restore_earlier`). Where one is aside already, from a replacement that did not complete, ``run_dir`` holds
    that replacement: removed unless it is complete (its ``telemetry/run.json``), when it takes the place aside."""
    check_out(run_dir, overwrite)
    aside = None
    if run_dir.is_dir() and any(run_dir.iterdir()):
        aside = earlier_of(run_dir)
        if aside.exists() and (aside.is_symlink() or missing_marks(aside)):
            raise OrbitEdgeError(f"--out {run_dir}: {aside} is there, and is no earlier run that --overwrite kept; "
                                 "nothing was changed: move it away")
        try:
            if aside.exists() and not _complete(run_dir):
                shutil.rmtree(run_dir)
            else:
                if aside.exists():
                    shutil.rmtree(aside)
                run_dir.rename(aside)
        except OSError as err:
            raise OrbitEdgeError(f"--out {run_dir}: cannot move the earlier run aside to {aside}: "
                                 f"{err.strerror or err}") from None
    output_dir(run_dir, "--out")
    return aside


def _complete(run_dir: Path) -> bool:
    """Whether ``run_dir/telemetry/run.json`` says the run is complete."""
    try:
        return json.loads((run_dir / "telemetry" / "run.json").read_text(encoding="utf-8")).get("complete") is True
    except (OSError, ValueError, AttributeError):
        return False


def discard_earlier(aside: Path | None) -> str | None:
    """Remove the earlier run kept at ``aside`` (:func:`prepare_run_dir`) once its replacement is complete; a
    sentence saying where it is left when it cannot be removed, else None."""
    if aside is None or not aside.exists():
        return None
    try:
        shutil.rmtree(aside)
    except OSError as err:
        return f"the earlier run could not be removed from {aside} ({err.strerror or err}): remove it yourself"
    return None


def restore_earlier(aside: Path | None, run_dir: Path) -> bool:
    """Put the earlier run kept at ``aside`` back in ``run_dir`` (gone or empty: nothing was simulated). Whether it
    is back."""
    if aside is None or not aside.exists():
        return False
    try:
        if run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()
        aside.rename(run_dir)
    except OSError:
        return False
    return True


def unmake_run_dir(run_dir: Path, keep_folder: bool) -> None:
    """Remove what a run wrote in ``run_dir`` before anything was simulated (its RUN_DIR_MARKS), and the folder
    itself unless ``keep_folder`` (an empty folder of the user's, a mount point, that was there before)."""
    for mark in RUN_DIR_MARKS:
        if mark.endswith("/"):
            shutil.rmtree(run_dir / mark, ignore_errors=True)
        else:
            (run_dir / mark).unlink(missing_ok=True)
    if not keep_folder and not any(run_dir.iterdir()):
        run_dir.rmdir()


def write_resolved(run_dir: Path, scenario: Any) -> None:
    """``run_dir/scenario.yaml``: the scenario as resolved (``Scenario.resolved``, overrides applied), and the empty
    ``telemetry/`` the recorder fills: the RUN_DIR_MARKS, there from a run's first moment, so that ``--overwrite``
    knows the folder of a run stopped before its simulation began."""
    import yaml

    (run_dir / "telemetry").mkdir(exist_ok=True)
    (run_dir / RESOLVED_SCENARIO).write_text(yaml.safe_dump(scenario.resolved, sort_keys=False), encoding="utf-8")


def bound_heap() -> None:
    """Keep glibc's heap from holding on to the memory of freed mosaics and frames in the process that writes the
    ground report (``orbitedge run``: from its start when the frame pool's processes do the pixel work, else once
    its simulation is over; ``orbitedge report``): the ground report is a run's peak of memory, and what the
    simulation left on the heap adds to it.

    glibc serves an allocation of at least M_MMAP_THRESHOLD bytes with its own mmap, unmapped when freed; but each
    time such a block is freed, it raises the threshold to that block's size (up to 32 MiB on 64-bit), so later
    arrays of a frame's size come from the heap, where freed memory stays mapped between the small objects that
    outlive them (mallopt(3), "M_MMAP_THRESHOLD"). Setting the threshold turns that adjustment off: arrays of
    MMAP_THRESHOLD_BYTES (2 MiB) and more are each given back when freed, and free memory above
    TRIM_THRESHOLD_BYTES (32 MiB) at the top of the heap goes back to the system (M_TRIM_THRESHOLD). Smaller
    arrays are served from the heap and its freed memory reused: at glibc's own 128 KiB for both, every array
    of a tile's size was mapped afresh and its pages faulted in again (the quickstart's ground report spent 15 of
    its 31 s in the kernel; at 2 MiB and 32 MiB, 5 s of 23 s, for a peak of 261 MB instead of 217 MB). Dask's
    nanny sets ``MALLOC_TRIM_THRESHOLD_`` in its workers for the same reason
    (``distributed.nanny.pre-spawn-environ``; Dask docs, "Worker Memory Management": memory not released back to
    the OS). The simulation's pixel work keeps glibc's defaults: there every frame's arrays would be mapped afresh
    (set for the frame pool's workers too, half of a 24-satellite run's CPU time went to the kernel). A user's own
    ``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` (glibc's tunables, applied when the process started)
    is kept. A no-op without glibc."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return
    mallopt = _libc_function("mallopt")
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)


def _libc_function(name: str) -> Any:
    """``name`` from the C library this process already loaded, or None (no process-wide symbol table, or not
    glibc)."""
    try:
        return getattr(ctypes.CDLL(None), name, None)
    except (OSError, TypeError):  # no process-wide symbol table (Windows)
        return None


def release_simulation_memory() -> None:
    """Free what the finished simulation held before the ground report runs in the same process. Its object graph
    is cyclic (SimPy processes and their environment refer to each other), so it waits for the cyclic collector's
    next full pass: collect it now. Then hand the freed heap back to the operating system with glibc's
    ``malloc_trim(3)``, which the C library otherwise keeps for later small allocations (no-op without glibc)."""
    gc.collect()
    malloc_trim = _libc_function("malloc_trim")
    if malloc_trim is not None:
        malloc_trim(0)


def run_threads(on_dask_worker: bool) -> int | str:
    """The native threads a run may use, returned for GDAL's COG writer (NUM_THREADS): on a Dask worker, where each
    worker is one process per core and a run's threads would compete with the other workers' runs, one (and OpenCV
    is set to one thread, as WORKER_ENVIRON starts a LocalCluster's workers); elsewhere ALL_CPUS, and OpenCV keeps
    its default."""
    if not on_dask_worker:
        from ground.stitch import ALL_CORES

        return ALL_CORES
    import cv2

    cv2.setNumThreads(1)
    return 1


