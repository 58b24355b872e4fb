"""A run directory made ready before the mission writes into it: emptied or refused, and the resolved scenario
(``scenario.yaml``: the file with every ``--set`` applied) written first, for ``orbitedge run`` and every sweep run;
and the simulation's memory released before the ground report runs in the same process."""

from __future__ import annotations

import ctypes
import gc
import shutil
from pathlib import Path
from typing import Any

from rundir.errors import OrbitEdgeError


def prepare_run_dir(run_dir: Path, overwrite: bool) -> None:
    """Make ``run_dir``; one that exists and is not empty is replaced with ``overwrite``, else refused
    (OrbitEdgeError)."""
    if run_dir.exists() and any(run_dir.iterdir()):
        if not overwrite:
            raise OrbitEdgeError(f"{run_dir}: run directory already exists and is not empty; "
                                 "pass --overwrite to replace it, or --out to choose another")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)


def write_resolved(run_dir: Path, scenario: Any) -> None:
    """``run_dir/scenario.yaml``: the scenario as resolved (``Scenario.resolved``, overrides applied)."""
    import yaml

    (run_dir / "scenario.yaml").write_text(yaml.safe_dump(scenario.resolved, sort_keys=False), encoding="utf-8")


def release_simulation_memory() -> None:
    """Free what the finished simulation held before the ground report runs in the same process. Its object graph
    is cyclic (SimPy processes and their environment refer to each other), so it waits for the cyclic collector's
    next full pass: collect it now. Then hand the freed heap back to the operating system with glibc's
    ``malloc_trim(3)``, which the C library otherwise keeps for later small allocations (no-op without glibc)."""
    gc.collect()
    try:
        malloc_trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # the C library this process already loaded
    except (OSError, TypeError):  # no process-wide symbol table (Windows)
        return
    if malloc_trim is not None:
        malloc_trim(0)
