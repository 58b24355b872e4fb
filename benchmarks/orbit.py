"""Benchmark: contact windows for 20 satellites x 5 stations x 24 h, orbitedge vs skyfield ``find_events``.

Reports the median wall time of each over a few interleaved repeats, the speed-up, the number of windows each finds
and the largest AOS/LOS/TCA difference between matched passes, plus ours at a finer 30 s sampling step as a cross-check. Writes
``benchmarks/results/orbit.json``.
Run: ``.venv/bin/python benchmarks/orbit.py``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np
import sgp4
import skyfield
from skyfield.api import EarthSatellite, load, wgs84

from app.outputs import shown
from onboard.orbit.elements import satrec_from_elements
from onboard.orbit.ephemeris import Ephemeris
from onboard.orbit.passes import ContactWindow, GroundStation, contact_windows

START_UTC = datetime(2026, 6, 21, 0, 0, tzinfo=timezone.utc)
DURATION_S = 86400.0
REPEATS = 5
FINE_STEP_S = 30.0  # cross-check: the default 120 s step must find the same windows
RESULT_PATH = Path(__file__).parent / "results" / "orbit.json"
T = TypeVar("T")

STATIONS = [
    GroundStation("svalbard", 78.2298, 15.4078, 500.0, 5.0),
    GroundStation("fairbanks", 64.8594, -147.8492, 150.0, 5.0),
    GroundStation("matera", 40.6490, 16.7043, 540.0, 10.0),
    GroundStation("malindi", -2.9956, 40.1944, 12.0, 0.0),
    GroundStation("hartebeesthoek", -25.8872, 27.7075, 1415.0, 10.0),
]


def constellation() -> tuple[list[str], list]:
    """20 satellites: sun-synchronous planes at 500-800 km and a 53 deg shell at 550 km, from elements."""
    names, satrecs = [], []
    for i in range(12):
        names.append(f"sso-{i}")
        satrecs.append(satrec_from_elements(START_UTC, 500.0 + 25.0 * i, sun_synchronous=True,
                                            ltan_h=(9.0 + 1.5 * (i % 4)) % 24.0, phase_deg=30.0 * i))
    for i in range(8):
        names.append(f"shell-{i}")
        satrecs.append(satrec_from_elements(START_UTC, 550.0, inclination_deg=53.0, raan_deg=45.0 * i,
                                            phase_deg=17.0 * i))
    return names, satrecs


def skyfield_windows(names: list[str], satrecs: list) -> dict[tuple[str, str], list[tuple[float, float | None, float]]]:
    """(AOS, TCA or None, LOS) in s since START_UTC per (satellite, station), from skyfield find_events."""
    ts = load.timescale(builtin=True)
    t0 = ts.from_datetime(START_UTC)
    t1 = ts.from_datetime(START_UTC + timedelta(seconds=DURATION_S))
    passes = {}
    for name, satrec in zip(names, satrecs):
        satellite = EarthSatellite.from_satrec(satrec, ts)
        for station in STATIONS:
            topos = wgs84.latlon(station.lat_deg, station.lon_deg, elevation_m=station.alt_m)
            times, events = satellite.find_events(topos, t0, t1, altitude_degrees=station.min_elevation_deg)
            passes[name, station.name] = events_to_passes((times - t0) * 86400.0, events)
    return passes


def events_to_passes(t_s: np.ndarray, events: np.ndarray) -> list[tuple[float, float | None, float]]:
    """Skyfield rise (0) / culminate (1) / set (2) events as (AOS, TCA or None, LOS), clipped to [0, DURATION_S]."""
    passes = []
    aos, tca = (0.0, None) if events.size and events[0] != 0 else (None, None)
    for t, event in zip(t_s, events):
        if event == 0:
            aos, tca = float(t), None
        elif event == 1:
            tca = float(t)
        else:
            passes.append((aos, tca, float(t)))
            aos = None
    if aos is not None:
        passes.append((aos, tca, DURATION_S))
    return passes


def differences(ours: list[ContactWindow], theirs: dict) -> dict[str, float | int]:
    """Match passes per (satellite, station) by nearest AOS; largest |difference| of AOS, LOS and TCA, s."""
    by_pair: dict[tuple[str, str], list[ContactWindow]] = {}
    for w in ours:
        by_pair.setdefault((w.satellite, w.station), []).append(w)
    aos_s, los_s, tca_s, unmatched = [0.0], [0.0], [0.0], 0
    for pair, passes in theirs.items():
        mine = by_pair.get(pair, [])
        unmatched += abs(len(mine) - len(passes))
        for aos, tca, los in passes:
            if not mine:
                continue
            w = min(mine, key=lambda w: abs(w.aos_t_s - aos))
            aos_s.append(abs(w.aos_t_s - aos))
            los_s.append(abs(w.los_t_s - los))
            if tca is not None:
                tca_s.append(abs(w.tca_t_s - tca))
    return {"max_abs_aos_diff_s": max(aos_s), "max_abs_los_diff_s": max(los_s), "max_abs_tca_diff_s": max(tca_s),
            "unmatched_windows": unmatched}


def timed(run: Callable[[], T]) -> tuple[float, T]:
    """Wall time, s, of one call of ``run()``, and its result."""
    begin = time.perf_counter()
    result = run()
    return time.perf_counter() - begin, result


def main() -> None:
    names, satrecs = constellation()

    def ours(**step_s: float) -> list[ContactWindow]:
        return contact_windows(Ephemeris(satrecs, START_UTC), names, STATIONS, DURATION_S, **step_s)

    # Interleaved, so that load from other users of the machine falls on both alike.
    times: dict[str, list[float]] = {"ours": [], "ours_fine": [], "skyfield": []}
    for _ in range(REPEATS):
        (t_ours, windows), (t_fine, fine) = timed(ours), timed(lambda: ours(step_s=FINE_STEP_S))
        t_theirs, theirs = timed(lambda: skyfield_windows(names, satrecs))
        for key, t_s in zip(times, (t_ours, t_fine, t_theirs)):
            times[key].append(t_s)
    median_s = {key: statistics.median(values) for key, values in times.items()}
    default_vs_fine_s = max((max(abs(a.aos_t_s - b.aos_t_s), abs(a.los_t_s - b.los_t_s), abs(a.tca_t_s - b.tca_t_s))
                            for a, b in zip(windows, fine)), default=0.0)
    result = {
        "case": f"{len(names)} satellites x {len(STATIONS)} stations x {DURATION_S / 3600:.0f} h contact windows",
        "start_utc": START_UTC.isoformat().replace("+00:00", "Z"),
        "repeats": REPEATS,
        "ours_median_s": median_s["ours"],
        "skyfield_median_s": median_s["skyfield"],
        "speedup": median_s["skyfield"] / median_s["ours"],
        "windows_ours": len(windows),
        "windows_skyfield": sum(len(p) for p in theirs.values()),
        **differences(windows, theirs),
        "fine_step": {"step_s": FINE_STEP_S, "median_s": median_s["ours_fine"],
                      "speedup": median_s["skyfield"] / median_s["ours_fine"], "windows": len(fine),
                      "max_abs_diff_from_default_step_s": default_vs_fine_s},
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "sgp4": sgp4.__version__,
                     "skyfield": skyfield.__version__},
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs (shared)",
    }
    RESULT_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULT_PATH.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['case']}: ours {median_s['ours']:.3f} s, skyfield {median_s['skyfield']:.2f} s, "
          f"speed-up {result['speedup']:.1f}x (step {FINE_STEP_S:.0f} s: {median_s['ours_fine']:.3f} s, "
          f"{result['fine_step']['speedup']:.1f}x); windows {result['windows_ours']} vs "
          f"{result['windows_skyfield']} ({result['unmatched_windows']} unmatched); max |diff| "
          f"AOS {result['max_abs_aos_diff_s']:.3f} s, LOS {result['max_abs_los_diff_s']:.3f} s, "
          f"TCA {result['max_abs_tca_diff_s']:.3f} s -> {shown(RESULT_PATH)}")


if __name__ == "__main__":
    main()
