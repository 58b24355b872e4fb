"""A real run directory for the tests of the report's sections and figures (not a test file): run ``c000-r0`` of the
tiny sweep (tests/sweep_cases.py: the quickstart cut to 15 minutes over Sweden, five 128 px frames, a model cloud
filter at threshold 0.3 on 32 px tiles, PNG encoding), made once per test process with the sweep the other tests
share, so no scenario runs for it alone.

It is copied before it is read, because reading a run (:func:`ground.run_data.load_run`) writes its mosaics, and the
sweep's own files stay as the sweep tests expect them.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from ground.run_data import RunData, load_run
from tests.sweep_cases import made_sweep


@functools.cache
def sweep_run() -> RunData:
    """The copied run, loaded; its folder is removed when the test process ends."""
    outcome, _ = made_sweep()
    folder = Path(tempfile.mkdtemp(prefix="orbitedge-run-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return load_run(shutil.copytree(outcome.out / "runs" / "c000-r0", folder / "c000-r0"))
