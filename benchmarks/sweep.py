"""Sweep throughput (issue 15): 16 quickstart-sized runs on a LocalCluster of 2 workers against the same 16 runs one
after another in one process; target: >= 1.7x the runs per minute. Both make every run with :func:`app.sweep.run_task`
(scenario, mission, ground report) into their own folder, and their figures must be identical.

The runs are the shipped quickstart (cloud filter, 8-frame bursts fused by the x2 super-resolution model, PNG) cut
to its first pass over Sweden and Svalbard (08:10-08:25 UTC, three captures), replicated 16 times (seeds 42-57:
16 skies), each interpreter on 1 thread in both modes, so that each run needs one core. The cluster's wall time is
the whole ``run_sweep`` call: starting the cluster, the workers' imports, the runs, results.csv and sweep.md. The
host's load average before and after is recorded: other processes on the machine take cores from both modes. The
CPU seconds of each run (its process, all threads; from its sweep_run.json) show what each mode spent per run, and
how many cores a run alone keeps busy (``serial.cores_used``: the ground's threads, OpenCV's). From them,
``speedup_ceiling_on_free_cores`` = (serial CPU s per run / serial cores used) / (cluster CPU s per run / workers):
the speedup if nothing else ran on the machine, leaving out the cluster's start and the sweep report (seconds).

Run: .venv/bin/python -m benchmarks.sweep [--runs 16] [--workers 2] -> benchmarks/results/sweep.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from app.figures import figures_of, read_run
from app.study import run_sweep
from app.sweep import read_marker, run_dir_of, run_task
from app.sweep_file import load_sweep

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).with_name("results") / "sweep.json"
TARGET_SPEEDUP = 1.7
SWEEP = """name: throughput
scenario: {scenario}
set:
  start_utc: 2026-06-21T08:10:00Z
  duration_h: 0.25
  pipeline[0].threads: 1
  pipeline[1].threads: 1
replicates: {runs}
"""


def measure(runs: int, workers: int, folder: Path) -> dict:
    sweep = load_sweep(_write(folder, runs))
    load_before, pressure_before = os.getloadavg(), _cpu_pressure()
    start = time.perf_counter()
    for spec in sweep.runs:
        outcome = run_task(spec, sweep.config.name, str(sweep.scenario), str(folder / "serial"))
        if outcome["status"] != "complete":
            raise RuntimeError(f"{spec.run_id}: {outcome.get('error')}")
    serial_s = time.perf_counter() - start
    start = time.perf_counter()
    cluster = run_sweep(sweep, folder / "cluster", workers=workers)
    cluster_s = time.perf_counter() - start
    if any(row["status"] != "complete" for row in cluster.rows):
        raise RuntimeError(f"runs failed on the cluster: {[r['error'] for r in cluster.rows if r['error']]}")
    identical = all(figures_of(*read_run(run_dir_of(folder / "serial", s.run_id)))
                    == figures_of(*read_run(run_dir_of(folder / "cluster", s.run_id))) for s in sweep.runs)
    frames = sum(read_run(run_dir_of(folder / "serial", s.run_id))[0]["ledger"]["captured"] for s in sweep.runs)
    cpu_s = {mode: sum(read_marker(run_dir_of(folder / mode, s.run_id))["cpu_s"] for s in sweep.runs) / runs
             for mode in ("serial", "cluster")}
    speedup = serial_s / cluster_s
    serial_cores = cpu_s["serial"] * runs / serial_s  # a run alone uses more than one core at times
    ceiling = (cpu_s["serial"] / serial_cores) / (cpu_s["cluster"] / workers)
    return {
        "benchmark": "sweep throughput: LocalCluster against one run after another",
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": {"cpu_count": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
                 "load_average_1_5_15_min": {"before": [round(x, 2) for x in load_before],
                                             "after": [round(x, 2) for x in os.getloadavg()]},
                 "cpu_pressure_some_avg300_percent": {"before": pressure_before, "after": _cpu_pressure()}},
        "runs": runs, "frames_captured": frames, "scenario": "scenarios/quickstart.yaml",
        "overrides": list(sweep.runs[-1].overrides[:-1]), "seeds": [s.seed for s in sweep.runs],
        "serial": {"wall_s": round(serial_s, 2), "runs_per_min": round(60 * runs / serial_s, 3),
                   "cpu_s_per_run": round(cpu_s["serial"], 2), "cores_used": round(serial_cores, 3)},
        "local_cluster": {"workers": workers, "threads_per_worker": 1, "wall_s": round(cluster_s, 2),
                          "runs_per_min": round(60 * runs / cluster_s, 3), "cpu_s_per_run": round(cpu_s["cluster"], 2)},
        "speedup": round(speedup, 3), "target_speedup": TARGET_SPEEDUP, "meets_target": speedup >= TARGET_SPEEDUP,
        "speedup_ceiling_on_free_cores": round(ceiling, 3),
        "identical_figures": identical,
    }


def _cpu_pressure() -> float | None:
    """The share of the last 5 minutes in which some runnable task waited for a CPU (Linux PSI), %."""
    try:
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return float(dict(field.split("=") for field in line.split()[1:])["avg300"])


def _write(folder: Path, runs: int) -> Path:
    path = folder / "throughput.yaml"
    path.write_text(SWEEP.format(scenario=ROOT / "scenarios" / "quickstart.yaml", runs=runs))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="orbitedge-sweep-bench-"))
    try:
        result = measure(args.runs, args.workers, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
