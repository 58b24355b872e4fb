"""Progress on the terminal (tqdm, on stderr): the simulation in simulated hours, the ground segment in steps, and a
sweep's runs, each with the elapsed time and the ETA.

A ticker thread redraws a bar twice a second, so the elapsed time keeps moving while one heavy frame or a ground
section holds the main thread. Bars show only on a terminal and never under ``--quiet``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

TICK_S = 0.5
# --quiet of run, report and sweep: what it leaves on the terminal (warnings stay in report.json / sweep.json)
QUIET_HELP = "print nothing but errors, and the JSON that --json asks for (no progress, warnings or summary)"


def wanted(quiet: bool) -> bool:
    """Bars show on a terminal (stderr a TTY) unless ``quiet``."""
    return not quiet and sys.stderr.isatty()


@contextmanager
def ticking(bar: tqdm) -> Iterator[tqdm]:
    """Redraw ``bar`` every TICK_S seconds from a daemon thread until the block ends, then close it."""
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(TICK_S):
            bar.refresh()

    thread = threading.Thread(target=tick, name="orbitedge-progress", daemon=True)
    thread.start()
    try:
        yield bar
    finally:
        stop.set()
        thread.join()
        bar.close()


@contextmanager
def simulation_bar(enabled: bool, duration_h: float) -> Iterator[Callable[[float, float], None] | None]:
    """A Mission progress callback ``(t_s, duration_s)`` drawing simulated hours of ``duration_h`` against the
    average pace so far (elapsed and ETA); None when not ``enabled``."""
    if not enabled:
        yield None
        return
    bar = tqdm(total=duration_h, desc="simulation", unit="h", smoothing=0, file=sys.stderr, leave=True,
               dynamic_ncols=True,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.2f}/{total:.2f} h simulated [{elapsed}<{remaining}]")

    def show(t_s: float, duration_s: float) -> None:
        bar.update(t_s / 3600.0 - bar.n)

    with ticking(bar):
        yield show


@contextmanager
def ground_bar(enabled: bool, steps: Sequence[str]) -> Iterator[Callable[[str], None] | None]:
    """A ground segment progress callback, given the name of each of ``steps`` as it starts: steps done of the
    total, the step under way, elapsed and ETA (from the average step so far: sections differ in cost, so it is a
    rough guide). None when not ``enabled``."""
    if not enabled:
        yield None
        return
    bar = tqdm(total=len(steps), desc="ground segment", unit="step", smoothing=0, file=sys.stderr, leave=True,
               dynamic_ncols=True, bar_format="{desc}: {n}/{total} steps |{bar}| [{elapsed}<{remaining}{postfix}]")
    order = {step: k for k, step in enumerate(steps)}

    def show(step: str) -> None:
        bar.set_postfix_str(step, refresh=False)
        bar.update(order[step] - bar.n)

    with ticking(bar):
        yield show
        bar.set_postfix_str("done", refresh=False)
        bar.update(bar.total - bar.n)


@contextmanager
def sweep_bar(enabled: bool, total: int, already: int) -> Iterator[Callable[[dict[str, int]], None] | None]:
    """A sweep's progress callback, given ``{done, failed, running, total}`` of this session's ``total`` runs and
    the cluster's ``workers``: runs finished of ``total`` with the running and failed counts, elapsed and ETA, and
    while the cluster has no worker, that the runs wait for one; ``already`` complete runs (skipped) are named in the
    description. None when not ``enabled``."""
    if not enabled:
        yield None
        return
    desc = "sweep" + (f" ({already} done before)" if already else "")
    bar = tqdm(total=total, desc=desc, unit="run", smoothing=0, file=sys.stderr, leave=True, dynamic_ncols=True,
               bar_format="{desc}: {n}/{total} runs |{bar}| [{elapsed}<{remaining}{postfix}]")

    def show(counts: dict[str, Any]) -> None:
        idle = (", waiting for a worker to join the scheduler (dask worker ADDRESS)" if counts.get("workers") == 0
                else "")
        bar.set_postfix_str(f"{counts['running']} running, {counts['failed']} failed{idle}", refresh=False)
        bar.update(counts["done"] + counts["failed"] - bar.n)

    with ticking(bar):
        yield show
