"""A run directory made ready before the mission writes into it: emptied or refused, and the resolved scenario
(``scenario.yaml``: the file with every ``--set`` applied) written first, for ``orbitedge run`` and every sweep run."""

from __future__ import annotations

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
