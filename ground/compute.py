"""The report's ``compute`` section: how long the on-board pipeline kept each computer busy, per stage.

Stage times come from telemetry/processing.jsonl: ``projected`` (the reference host's cost scaled by the hardware
profile) or ``measured`` (the wall time of each stage on the device that ran the simulation, hardware in the loop),
as the run's ``compute.timing`` says; the host wall time of every stage is given beside them either way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .document import Heading, Paragraph, Table, fmt_duration


def compute_section(run: Any) -> dict[str, Any] | None:
    """report.json ``compute``: timing mode, profile, per-stage simulated and host seconds, per-satellite busy
    time and utilisation; None without processing records."""
    if not run.processing:
        return None
    info = run.run_info
    stages: dict[str, dict[str, list[float]]] = {}
    for record in run.processing:
        for name, sim_s in record.compute_stage_s.items():
            entry = stages.setdefault(name, {"sim": [], "wall": []})
            entry["sim"].append(float(sim_s))
            entry["wall"].append(float(record.wall_s.get(name, 0.0)))
    timing = sorted({r.compute_timing for r in run.processing})
    duration_s = float(info.duration_s) if info else 0.0
    return {
        "timing": timing[0] if len(timing) == 1 else timing,
        "hardware": info.hardware if info else None,
        "frames": len(run.processing),
        "stages": {name: {"frames": len(v["sim"]), "total_s": float(np.sum(v["sim"])),
                          "p50_s": float(np.median(v["sim"])), "max_s": float(np.max(v["sim"])),
                          "wall_p50_s": float(np.median(v["wall"]))} for name, v in stages.items()},
        "satellites": [{"satellite": s.satellite, "compute_busy_s": s.compute_busy_s,
                        "utilisation": s.compute_busy_s / duration_s if duration_s else None}
                       for s in (info.satellite_summary if info else [])],
        "definitions": {
            "projected": "reference-host cost of the stage divided by the hardware profile's relative speed",
            "measured": "wall time of the stage on the device that ran this simulation (compute.timing: measured)",
            "wall_p50_s": "median wall time of the stage on the machine that ran the simulation",
        },
    }


def compute_blocks(section: Mapping[str, Any]) -> list[Any]:
    """report.md/html blocks: one row per stage."""

    timing = section["timing"]
    how = ("MEASURED on the device that ran this simulation" if timing == "measured"
           else f"projected for the {section['hardware']} profile from the reference host")
    rows = tuple((name, *(fmt_duration(s[k], ms_below_1s=True) for k in ("p50_s", "max_s", "total_s", "wall_p50_s")))
                 for name, s in section["stages"].items())
    busy = "; ".join(f"{s['satellite']} busy {fmt_duration(s['compute_busy_s'], ms_below_1s=True)} "
                     f"({'n/a' if s['utilisation'] is None else format(s['utilisation'], '.3%')} of the run)"
                     for s in section["satellites"])
    return [Heading(2, "On-board compute"),
            Paragraph(f"Stage times per frame, {how} ({section['frames']} frames). {busy}."),
            Table(("stage", f"{timing} p50", f"{timing} max", f"{timing} total", "host wall p50"), rows)]
