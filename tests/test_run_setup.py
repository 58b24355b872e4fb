"""A run directory made ready: refused when it holds something unless --overwrite, and the resolved scenario."""

import pytest
import yaml

from app.run_setup import prepare_run_dir, write_resolved
from onboard.scenario.config import load_scenario
from rundir.errors import OrbitEdgeError
from tests.sweep_cases import QUICKSTART


def test_an_existing_run_directory_is_kept_unless_overwritten(tmp_path):
    run_dir = tmp_path / "run"
    prepare_run_dir(run_dir, overwrite=False)
    prepare_run_dir(run_dir, overwrite=False)  # empty: fine
    (run_dir / "old.txt").write_text("x")
    with pytest.raises(OrbitEdgeError, match="run directory already exists and is not empty; pass --overwrite"):
        prepare_run_dir(run_dir, overwrite=False)
    prepare_run_dir(run_dir, overwrite=True)
    assert list(run_dir.iterdir()) == []


def test_the_resolved_scenario_has_the_overrides(tmp_path):
    scenario = load_scenario(QUICKSTART, ["seed=7", "pipeline[0].threshold=0.4"])
    write_resolved(tmp_path, scenario)
    written = yaml.safe_load((tmp_path / "scenario.yaml").read_text())
    assert written["seed"] == 7 and written["pipeline"][0]["threshold"] == 0.4
    assert load_scenario(tmp_path / "scenario.yaml").seed == 7


def test_releasing_the_simulation_frees_cyclic_garbage_now():
    """What a finished simulation leaves is cyclic (SimPy processes and their environment): it is collected by the
    call, not at the collector's next full pass; the call is safe to repeat."""
    import gc
    import weakref

    import numpy as np

    from app.run_setup import release_simulation_memory

    class Process:
        pass

    gc.disable()  # no automatic pass may collect the cycle first
    try:
        a, b = Process(), Process()
        a.peer, b.peer, a.frame = b, a, np.zeros(1 << 20)
        alive = weakref.ref(a.frame)
        del a, b
        assert alive() is not None  # reference counting alone cannot free a cycle
        release_simulation_memory()
        assert alive() is None
        release_simulation_memory()
    finally:
        gc.enable()
