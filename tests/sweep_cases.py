"""Helpers the sweep tests share (not a test file): a tiny sweep file, and that sweep made once per test process on
a real 2-worker LocalCluster, one of whose workers is killed (SIGKILL) while it makes a run.

The tiny sweep is the quickstart cut to 15 minutes over Sweden (three 128 px captures and a pass over Svalbard),
with a cloud filter and lossless encoding: two thresholds x two replicates, four runs of a few seconds each.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path

from app.study import SweepOutcome, run_sweep
from app.sweep import MARKER, RUNS
from app.sweep_file import load_sweep

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
TINY = f"""name: tiny
scenario: {QUICKSTART}
set:
  start_utc: 2026-06-21T08:10:00Z
  duration_h: 0.25
  spacecraft.camera.width_px: 128
  spacecraft.camera.height_px: 128
  pipeline: [{{stage: cloud_filter, tile_px: 32, max_cloud_fraction: 0.5}}, {{stage: encode, format: png}}]
axes:
  pipeline[0].threshold: [0.3, 0.7]
replicates: 2
"""


def write_sweep(folder: Path, text: str = TINY, name: str = "sweep.yaml") -> Path:
    path = Path(folder) / name
    path.write_text(text)
    return path


class WorkerKiller(threading.Thread):
    """Kills the worker process of the first run of ``out`` seen making its mission (``telemetry/`` there, its
    marker ``running``), once; ``killed`` is then that run's id."""

    def __init__(self, out: Path):
        super().__init__(daemon=True)
        self.out = Path(out)
        self.killed: str | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() and self.killed is None:
            for marker_path in sorted(self.out.glob(f"{RUNS}/*/{MARKER}")):
                try:
                    marker = json.loads(marker_path.read_text())
                except (OSError, ValueError):
                    continue
                pid = marker["attempts"][-1]["pid"]
                if marker["status"] == "running" and (marker_path.parent / "telemetry").is_dir() and pid != os.getpid():
                    os.kill(pid, signal.SIGKILL)
                    self.killed = marker["run_id"]
                    return
            time.sleep(0.01)


@functools.cache
def made_sweep() -> tuple[SweepOutcome, str | None]:
    """The tiny sweep made on 2 workers, one killed mid-run: ``(outcome, id of the run whose worker was killed)``.
    Its folder is removed when the test process ends."""
    folder = Path(tempfile.mkdtemp(prefix="orbitedge-sweep-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    sweep = load_sweep(write_sweep(folder))
    killer = WorkerKiller(folder / "out")
    killer.start()
    try:
        outcome = run_sweep(sweep, folder / "out", workers=2)
    finally:
        killer.stop.set()
    return outcome, killer.killed


def with_a_blocked_run(into: Path, run_id: str = "c001-r1") -> tuple[SweepOutcome, Path]:
    """The tiny sweep's complete runs copied to ``into/out``, but for ``run_id``, whose place a file takes (a fault:
    that run fails when the sweep is resumed there): ``(the tiny sweep, the output folder)``."""
    reference, _ = made_sweep()
    out = into / "out"
    shutil.copytree(reference.out / RUNS, out / RUNS)
    shutil.rmtree(out / RUNS / run_id)
    (out / RUNS / run_id).write_text("not a run directory")
    return reference, out
