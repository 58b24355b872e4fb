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
from .latency import latency_section

# Compute "set the latency" when frames waited for the computer, in the median, at least this share of the median
# capture-to-ground latency of the delivered products: the rest is waiting for a pass and the downlink itself.
WAIT_LATENCY_SHARE = 0.5


def compute_section(run: Any) -> dict[str, Any] | None:
    """report.json ``compute``: timing mode, profile, per-stage simulated and host seconds, per-satellite busy
    time and utilisation, how long frames waited for the computer (``queue``) and, when it held them back,
    ``warnings`` (:func:`queue_warning`); None without processing records or telemetry/run.json. With no frame
    processed (none captured, or none taken up before the end), ``timing`` is None and ``stages`` empty, the profile
    and the busy time (0 s) still given."""
    info = run.run_info
    if not run.processing and info is None:
        return None
    stages: dict[str, dict[str, list[float]]] = {}
    for record in run.processing or ():
        for name, sim_s in record.compute_stage_s.items():
            entry = stages.setdefault(name, {"sim": [], "wall": []})
            entry["sim"].append(float(sim_s))
            entry["wall"].append(float(record.wall_s.get(name, 0.0)))
    timing = sorted({r.compute_timing for r in run.processing or ()}) or [None]
    duration_s = float(info.duration_s) if info else 0.0
    queue = _queue(run)
    summary = {name: {"frames": len(v["sim"]), "total_s": float(np.sum(v["sim"])),
                      "p50_s": float(np.median(v["sim"])), "max_s": float(np.max(v["sim"])),
                      "wall_p50_s": float(np.median(v["wall"]))} for name, v in stages.items()}
    return {
        "timing": timing[0] if len(timing) == 1 else timing,
        "hardware": info.hardware if info else None,
        "frames": len(run.processing or ()),
        "stages": summary,
        "satellites": [{"satellite": s.satellite, "compute_busy_s": s.compute_busy_s,
                        "utilisation": s.compute_busy_s / duration_s if duration_s else None}
                       for s in (info.satellite_summary if info else [])],
        "queue": queue,
        **({"warnings": [warning]} if (warning := queue_warning(queue)) else {}),
        "definitions": {
            "projected": "reference-host cost of the stage divided by the hardware profile's relative speed",
            "measured": "wall time of the stage on the device that ran this simulation (compute.timing: measured)",
            "wall_p50_s": "median wall time of the stage on the machine that ran the simulation",
            "queue": "wait_p50_s, wait_max_s: simulated seconds from a frame's capture until the computer took it "
                     "up (behind other frames, or a brown-out; telemetry/processing.jsonl compute_wait_s, null in "
                     "runs written before it); compute_p50_s: median simulated seconds the computer spent on a "
                     "processed frame, every stage together; never_computed: frames still on board at the end that "
                     "the computer never took up; in_compute: frames the computer was still working on at the end "
                     "(their time and energy so far counted in compute_busy_s and the energy balance); "
                     "latency_p50_s: median capture-to-ground latency of the delivered products",
        },
    }


def _queue(run: Any) -> dict[str, Any]:
    """report.json ``compute.queue`` (see its definition)."""
    waits = [float(r.compute_wait_s) for r in run.processing or () if r.compute_wait_s is not None]
    compute = [float(r.compute_s) for r in run.processing or ()]
    processed = {r.frame_id for r in run.processing or ()}
    info = run.run_info
    in_compute = {s.frame_in_compute for s in (info.satellite_summary if info else []) if s.frame_in_compute}
    taken_up = processed | in_compute
    never = sum(1 for row in run.ledger or () if row.status == "on_board" and row.frame_id not in taken_up)
    latency = latency_section(run)["p50"]  # the latency section's own figure
    return {"frames": len(waits), "wait_p50_s": float(np.median(waits)) if waits else None,
            "wait_max_s": max(waits) if waits else None,
            "compute_p50_s": float(np.median(compute)) if compute else None,
            "never_computed": never, "in_compute": len(in_compute), "latency_p50_s": latency}


def queue_warning(queue: Mapping[str, Any]) -> str | None:
    """A warning when the computer, not the link, held the frames back: a median wait for it of at least
    WAIT_LATENCY_SHARE of the median capture-to-ground latency (with the frames it never took up before the end);
    None otherwise. Frames waiting at the end alone are no sign: the last captures of any run wait there."""
    wait, latency, never = queue["wait_p50_s"], queue["latency_p50_s"], queue["never_computed"]
    if wait is None or not latency or wait < WAIT_LATENCY_SHARE * latency:
        return None
    per_frame = fmt_duration(queue["compute_p50_s"], ms_below_1s=True)
    held = [f"frames waited {fmt_duration(wait, ms_below_1s=True)} for it in the median (at most "
            f"{fmt_duration(queue['wait_max_s'], ms_below_1s=True)}) against a median capture-to-ground latency of "
            f"{fmt_duration(latency, ms_below_1s=True)}"]
    held += [f"{_frames(never)} still waiting for it at the end"] if never else []
    return (f"the on-board computer did not keep up with the captures: {'; '.join(held)}. The pipeline takes "
            f"{per_frame} per capture (the median): a faster computer, fewer captures per pass or a "
            "cheaper pipeline would bring the products down sooner.")


def _frames(count: int) -> str:
    """ "1 frame was", "3 frames were"."""
    return f"{count} frame was" if count == 1 else f"{count} frames were"


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
    queue = section.get("queue") or {}
    never = f" {_frames(queue['never_computed'])} never taken up before the end." if queue.get("never_computed") else ""
    if queue.get("in_compute"):
        its = "its" if queue["in_compute"] == 1 else "their"
        never += f" {_frames(queue['in_compute'])} still in the computer at the end ({its} time so far is in the busy"
        never += " figure)."
    if not queue.get("wait_max_s"):  # none measured (a run from before), or none waited
        wait = " No frame waited for the computer after its capture." if queue.get("wait_max_s") == 0 else ""
    else:
        wait = (f" Frames waited for the computer after capture {fmt_duration(queue['wait_p50_s'], ms_below_1s=True)}"
                f" in the median, at most {fmt_duration(queue['wait_max_s'], ms_below_1s=True)}.")
    wait += never
    wall = (" The host wall time is this machine's for the whole stage, the work done only to score it on the ground"
            " (evaluation data) included.")
    if not rows:  # no frame processed: nothing timed
        profile = f" ({section['hardware']} profile)" if section.get("hardware") else ""
        return [Heading(2, "On-board compute"),
                Paragraph(f"No frame was processed on board{profile}.{f' {busy}.' if busy else ''}{never}")]
    return [Heading(2, "On-board compute"),
            Paragraph(f"Stage times per frame, {how} ({section['frames']} frames). {busy}.{wait}{wall}"),
            Table(("stage", f"{timing} p50", f"{timing} max", f"{timing} total", "host wall p50"), rows)]
