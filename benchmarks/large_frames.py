"""Memory on realistic frame sizes (issue 14): peak resident memory of ``orbitedge run`` on the field case
``../shared/field-cases/ux_africa_6u.yaml`` (a 6U cubesat over Africa as a new user wrote it: 1024 px frames,
cloud filter, PNG) and on wider cameras.

Each variant runs once, as a separate ``orbitedge run --workers W`` process over the scenario's capture window
(``--start``, ``--hours``). Two peaks are recorded: ``largest_process_mb``, ``ru_maxrss`` of ``os.wait4`` (the
largest of the run and its pool's workers, not their sum), and ``all_processes_mb``, the largest sum of the resident
sets of the run and all its descendants, read from /proc every ``--sample-s`` seconds (so it can miss a peak shorter
than that). Also the frames captured and the ledger's balance, from report.json.

Variants (``--variant``, any of):
- ``burst_1024``: cloud filter, x2 super-resolution of bursts of 8, PNG, on jetson-orin-nano (issue 14's 2 GB);
- ``frame_4096x3072``: the scenario's own pipeline (cloud filter, PNG) with a 4096 x 3072 camera;
- ``burst_4096x3072``: ``burst_1024`` with a 4096 x 3072 camera (issue 14's 3 GB);
- ``burst_4096x3072_lean``: the same with ``evaluate: false``, the switch that keeps no super-resolution baselines
  for the report.

``--one-burst NAME ...`` measures, for burst variants, one burst in a process of its own rather than a run: imaged
and processed as a frame-pool worker does it (:func:`onboard.sim.frame_pool.frame_records`), centred on the field
case's first target (Lagos) at 08:00 UTC with the sun at 50 deg elevation; ``ru_maxrss`` once it is imaged and once
the pipeline is through. A whole run of a burst variant has one such burst in each worker at a time.

Run: .venv/bin/python -m benchmarks.large_frames [--variant NAME ...] [--one-burst NAME ...] [--hours 3]
[--workers 2] -> benchmarks/results/large_frames.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from app.outputs import shown

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT.parent / "shared" / "field-cases" / "ux_africa_6u.yaml"
OUT = Path(__file__).with_name("results") / "large_frames.json"
BURST_PIPELINE = ("pipeline=[{stage: cloud_filter, tile_px: 64, max_cloud_fraction: 0.9}, "
                  "{stage: superres, scale: 2}, {stage: encode, format: png}]")
LEAN_BURST_PIPELINE = BURST_PIPELINE.replace("scale: 2}", "scale: 2, evaluate: false}")
WIDE = ("spacecraft.camera.width_px=4096", "spacecraft.camera.height_px=3072")
VARIANTS = {
    "burst_1024": (BURST_PIPELINE, "spacecraft.compute.hardware=jetson-orin-nano"),
    "frame_4096x3072": WIDE,
    "burst_4096x3072": (BURST_PIPELINE, "spacecraft.compute.hardware=jetson-orin-nano", *WIDE),
    "burst_4096x3072_lean": (LEAN_BURST_PIPELINE, "spacecraft.compute.hardware=jetson-orin-nano", *WIDE),
}


def children(pid: int) -> list[int]:
    """The child processes of ``pid``, of any of its threads (/proc/PID/task/TID/children); [] when it is gone."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def _tree_rss_bytes(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants, from /proc (0 for a process that is gone)."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as status:
                total += next((int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:")), 0)
        except (OSError, ValueError):
            continue
        stack.extend(children(p))
    return total


def run(variant: str, start_utc: str, hours: float, workers: int, out: Path, sample_s: float) -> dict:
    """One ``orbitedge run`` of ``variant``: its peaks, wall time, frames and whether the ledger balances."""
    sets = [*VARIANTS[variant], f"start_utc={start_utc}", f"duration_h={hours}"]
    cli = [sys.executable, "-m", "app.cli", "run", str(SCENARIO), "--out", str(out), "--overwrite", "--quiet",
           "--workers", str(workers), *(arg for s in sets for arg in ("--set", s))]
    start = time.perf_counter()
    child = subprocess.Popen(cli, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_sum, done = [0], threading.Event()

    def sample() -> None:
        while not done.wait(sample_s):
            peak_sum[0] = max(peak_sum[0], _tree_rss_bytes(child.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)
    done.set()
    sampler.join()
    wall_s = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"orbitedge run failed for {variant}: {child.stderr.read().decode()[-2000:]}")
    ledger = json.loads((out / "report.json").read_text())["ledger"]
    shutil.rmtree(out)
    return {"variant": variant, "sets": sets, "workers": workers, "wall_s": round(wall_s, 1),
            "frames_captured": int(ledger["captured"]), "ledger_balanced": bool(ledger.get("balanced")),
            "largest_process_mb": round(usage.ru_maxrss / 1024, 1), "all_processes_mb": round(peak_sum[0] / 2**20, 1)}


def one_burst(variant: str) -> dict:
    """One burst of ``variant`` imaged and processed in a child process (:func:`_one_burst_child`): its peaks."""
    child = subprocess.run([sys.executable, "-m", "benchmarks.large_frames", "--one-burst-child", variant], cwd=ROOT,
                           capture_output=True, text=True)
    if child.returncode != 0:
        raise SystemExit(f"one burst of {variant} failed: {child.stderr[-2000:]}")
    return json.loads(child.stdout.splitlines()[-1])


def _one_burst_child(variant: str, extra_sets: tuple[str, ...] = ()) -> dict:
    """In this process: one burst of ``variant`` (with ``extra_sets``) over the field case's first target through
    its pipeline, as a frame-pool worker computes it (:func:`onboard.sim.frame_pool.frame_records`, its records
    written in a temporary folder): the peak resident set of imaging, and of what follows it, writing the truth
    and the pipeline (Linux's VmHWM, reset once the burst is imaged by writing 5 to /proc/self/clear_refs: what
    imaging left in memory counts, its own peak not), and the wall time of each."""
    from onboard.scenario.config import load_scenario
    from onboard.sensing.projection import crs_for
    from onboard.sim import frame_pool, mission
    from onboard.sim.imaging import Capture
    from onboard.sim.satellite import Payload

    scenario = load_scenario(SCENARIO, [*VARIANTS[variant], *extra_sets])
    pipeline = mission.build_pipeline(scenario)
    payload = Payload(scenario.spacecraft.camera, mission.build_world(scenario.world, scenario.seed),
                      scenario.start_utc, scenario.seed, pipeline.burst_scale)
    target = scenario.targets[0]
    capture = Capture(scenario.satellites[0].name, "p0", target.name, target.priority, 8 * 3600.0, target.lat_deg,
                      target.lon_deg, crs_for(target.lat_deg, target.lon_deg), 50.0, 100.0, 0.0)
    task = frame_pool.FrameTask(0, capture.satellite, 1, frame_pool.frame_id(capture.satellite, 1), capture)

    def peak_mb() -> float:
        status = Path("/proc/self/status").read_text()
        return round(int(status.split("VmHWM:")[1].split()[0]) / 1024, 1)  # kB

    start = time.perf_counter()
    imaged: dict[str, float] = {}

    def captured() -> None:
        imaged.update(s=time.perf_counter() - start, mb=peak_mb())
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM from here on: the pipeline's peak

    with tempfile.TemporaryDirectory(prefix="orbitedge-one-burst-") as records:
        work = frame_pool.frame_records(payload, pipeline, task, Path(records), captured)
    imaged_s, imaged_mb = imaged["s"], imaged["mb"]
    return {"variant": variant, "sets": [*VARIANTS[variant], *extra_sets], "burst_frames": work.frames,
            "imaged_s": round(imaged_s, 1), "imaged_peak_mb": imaged_mb,
            "processed_s": round(time.perf_counter() - start - imaged_s, 1), "processed_peak_mb": peak_mb()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", nargs="*", choices=sorted(VARIANTS),
                        help="runs to measure (default: burst_1024, none with --one-burst)")
    bursts = sorted(v for v in VARIANTS if v.startswith("burst"))
    parser.add_argument("--one-burst", nargs="*", choices=bursts, default=[],
                        help="also one burst of each, imaged and processed in a process of its own")
    parser.add_argument("--one-burst-child", choices=bursts, help=argparse.SUPPRESS)
    parser.add_argument("--start", default="2026-03-15T07:50:00Z", help="start of the window (UTC)")
    parser.add_argument("--hours", type=float, default=3.0, help="length of the window")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sample-s", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.one_burst_child:
        print(json.dumps(_one_burst_child(args.one_burst_child)))
        return
    variants = args.variant if args.variant is not None else [] if args.one_burst else ["burst_1024"]
    if not SCENARIO.is_file():
        raise SystemExit(f"{SCENARIO}: the field case is not there (../shared beside the checkout)")
    results = {"scenario": os.path.relpath(SCENARIO, ROOT), "host": platform.machine(), "cpus": os.cpu_count(),
               "python": platform.python_version(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="orbitedge-large-") as tmp:
        for variant in variants:
            row = run(variant, args.start, args.hours, args.workers, Path(tmp) / variant, args.sample_s)
            results["runs"].append(row)
            print(f"{variant:18s} {row['frames_captured']:3d} frames  {row['wall_s']:7.1f} s  largest process "
                  f"{row['largest_process_mb']:7.0f} MB  all {row['all_processes_mb']:7.0f} MB", flush=True)
    for variant in args.one_burst:
        row = one_burst(variant)
        results.setdefault("one_burst", []).append(row)
        print(f"one burst of {variant:18s} {row['burst_frames']} frames  imaged {row['imaged_s']:6.1f} s, peak "
              f"{row['imaged_peak_mb']:7.0f} MB  processed {row['processed_s']:6.1f} s, peak "
              f"{row['processed_peak_mb']:7.0f} MB", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"-> {shown(args.out)}")


if __name__ == "__main__":
    main()
