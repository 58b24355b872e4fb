"""Constellation scale: wall time per frame, throughput, peak memory and where the time goes, against the number of
satellites (issue 14).

The shipped ``scenarios/constellation_xband.yaml`` (encode stage, TIFF, 512 x 512 x 4 frames, 300 Mbps X band)
widened to N sun-synchronous satellites over 24 h: three satellites per plane, the planes' local times of the
ascending node spread over 09:00-15:00. Each N runs once per ``--workers`` count (``orbitedge run --workers W``: 0
is everything in one process, W >= 1 a pool of W worker processes for the pixel work, :mod:`onboard.sim.frame_pool`).
Each run is a separate ``orbitedge run`` process; its peak resident set size is ``ru_maxrss`` of ``os.wait4``: the
largest of that process and its descendants (the pool's workers), not their sum. Its simulation wall time is
``run.json`` ``wall_time_s``, and the ground report takes the rest. ``--profile`` also runs the smallest constellation under cProfile and gives the
cumulative seconds of the parts that cost most (rendering, camera, stages, codecs, ground).

Run: .venv/bin/python -m benchmarks.scale [--satellites 6 24 48 96] [--workers 0 2] [--hours 24] [--profile]
-> benchmarks/results/scale.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from app.outputs import shown
from onboard.sim.frame_pool import default_workers

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "scenarios" / "constellation_xband.yaml"
OUT = Path(__file__).with_name("results") / "scale.json"
PER_PLANE = 3
# Functions whose cumulative time the profile reports, by what they do (module path suffix, function name).
PROFILE_PARTS = {
    "world rendering": ("onboard/sensing/world.py", "render"),
    "camera": ("onboard/sensing/camera.py", "capture"),
    "pipeline stages": ("onboard/pipeline/runner.py", "run"),
    "counterfactual sizes": ("onboard/pipeline/runner.py", "alternative_bytes"),
    "product encoding": ("rundir/codec.py", "encode"),
    "zlib": ("~", "<built-in method zlib.compress>"),
    "ground report": ("ground/report.py", "build_report"),
    "ground: load and stitch": ("ground/run_data.py", "load_run"),
}


def scenario(n_satellites: int, hours: float) -> dict:
    """The base scenario with ``n_satellites`` in ceil(n / 3) sun-synchronous planes, run for ``hours``."""
    data = yaml.safe_load(BASE.read_text())
    planes = math.ceil(n_satellites / PER_PLANE)
    sats = []
    for i in range(n_satellites):
        plane, slot = divmod(i, PER_PLANE)
        ltan_h = 9.0 + 6.0 * plane / planes
        phase_deg = (360.0 * slot / PER_PLANE + 360.0 * plane / (PER_PLANE * planes)) % 360.0
        sats.append({"name": f"eo-{i:03d}", "orbit": {"altitude_km": 600, "sun_synchronous": True,
                                                      "ltan_h": round(ltan_h, 4), "phase_deg": round(phase_deg, 4)}})
    data.update(name=f"constellation_{n_satellites}", duration_h=hours, satellites=sats)
    return data


def run(n_satellites: int, hours: float, work: Path, workers: int, profile: Path | None = None) -> dict:
    """One ``orbitedge run --workers W`` of the widened scenario in a child process: wall, peak RSS, frames, simulation
    share."""
    path = work / f"constellation_{n_satellites}.yaml"
    path.write_text(yaml.safe_dump(scenario(n_satellites, hours), sort_keys=False))
    out = work / f"run_{n_satellites}"
    cli = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "app.cli"] if profile else \
        [sys.executable, "-m", "app.cli"]
    start = time.perf_counter()
    child = subprocess.Popen([*cli, "run", str(path), "--out", str(out), "--overwrite", "--quiet",
                              "--workers", str(workers)], cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall_s = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"orbitedge run failed for {n_satellites} satellites: {child.stderr.read().decode()[-2000:]}")
    report = json.loads((out / "report.json").read_text())
    frames = int(report["ledger"]["captured"])
    sim_s = float(json.loads((out / "telemetry" / "run.json").read_text())["wall_time_s"])
    shutil.rmtree(out)
    return {"satellites": n_satellites, "workers": workers, "frames": frames, "wall_s": round(wall_s, 2),
            "wall_per_frame_s": round(wall_s / frames, 4) if frames else None,
            "frames_per_s": round(frames / wall_s, 3), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "simulation_share": round(sim_s / wall_s, 3), "ground_share": round(1 - sim_s / wall_s, 3)}


def profile_parts(path: Path) -> dict[str, float]:
    """Cumulative seconds of each of PROFILE_PARTS in a cProfile file (a part the run never entered is left out)."""
    stats = pstats.Stats(str(path)).stats  # {(file, line, name): (cc, nc, tt, ct, callers)}
    parts: dict[str, float] = {}
    for label, (suffix, name) in PROFILE_PARTS.items():
        seconds = sum(ct for (file, _, func), (_, _, _, ct, _) in stats.items()
                      if func == name and (file.endswith(suffix) or file == suffix))
        if seconds:
            parts[label] = round(seconds, 2)
    return parts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--satellites", type=int, nargs="+", default=[6, 24, 48, 96])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, default_workers()],
                        help="worker-process counts to run each constellation with (default: 0 and the cores)")
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--profile", action="store_true", help="also profile the smallest constellation")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    results: dict = {"base": str(BASE.relative_to(ROOT)), "hours": args.hours, "host": platform.machine(),
                     "cpus": os.cpu_count(), "python": platform.python_version(), "runs": []}
    with tempfile.TemporaryDirectory(prefix="orbitedge-scale-") as tmp:
        work = Path(tmp)
        for n in args.satellites:
            for workers in args.workers:
                row = run(n, args.hours, work, workers)
                results["runs"].append(row)
                print(f"{n:4d} satellites  {workers} workers  {row['frames']:5d} frames  {row['wall_s']:8.1f} s  "
                      f"{row['wall_per_frame_s'] or float('nan'):.3f} s/frame  {row['peak_rss_mb']:7.0f} MB peak  "
                      f"simulation {100 * row['simulation_share']:.0f} %", flush=True)
        if args.profile:  # in one process (0 workers), so that the profile sees the pixel work
            n = min(args.satellites)
            prof = work / "run.prof"
            run(n, args.hours, work, 0, profile=prof)
            results["profile"] = {"satellites": n, "cumulative_s": profile_parts(prof)}
            print(f"profile of {n} satellites (cumulative s):", results["profile"]["cumulative_s"])
    results["by_workers"] = {}
    for workers in args.workers:
        rows = [r for r in results["runs"] if r["workers"] == workers]
        first, last = rows[0], rows[-1]
        results["by_workers"][str(workers)] = {
            "rss_ratio_last_to_first": round(last["peak_rss_mb"] / first["peak_rss_mb"], 3),
            "wall_per_frame_s": {str(r["satellites"]): r["wall_per_frame_s"] for r in rows}}
        print(f"{workers} workers: peak RSS {last['satellites']} / {first['satellites']} satellites "
              f"{results['by_workers'][str(workers)]['rss_ratio_last_to_first']}x")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"-> {shown(args.out)}")


if __name__ == "__main__":
    main()
