"""The host rate of the scene triage stage's thumbnail (``orbitedge_scene_triage.triage.thumbnail`` of uint16 DN),
in frame samples per second, which the stage's simulated cost uses (THUMBNAIL_SAMPLES_PER_S); written to
``results/thumbnail.json`` (``make -C examples/plugin_stage benchmark``)."""

from __future__ import annotations

import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from orbitedge_scene_triage.triage import thumbnail

FRAMES_PX = (256, 512, 1024)  # square frames of 4 bands, 12-bit DN
RUNS = 50
OUT = Path(__file__).with_name("results") / "thumbnail.json"


def samples_per_s(size_px: int, model_px: int = 32) -> float:
    """Median frame samples per second of ``thumbnail`` over RUNS runs on a random (size_px, size_px, 4) frame."""
    dn = np.random.default_rng(0).integers(0, 4096, (size_px, size_px, 4)).astype(np.uint16)
    times_s = []
    for _ in range(RUNS):
        start = time.perf_counter()
        thumbnail(dn, model_px)
        times_s.append(time.perf_counter() - start)
    return dn.size / statistics.median(times_s)


def main() -> None:
    rates = {f"{px}px": round(samples_per_s(px) / 1e6, 1) for px in FRAMES_PX}
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"thumbnail_msamples_per_s": rates, "runs": RUNS, "machine": platform.machine(),
                               "python": platform.python_version()}, indent=1) + "\n")
    print(json.dumps(rates))


if __name__ == "__main__":
    main()
