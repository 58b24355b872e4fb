"""The report's ``spacecraft`` section: what each satellite's storage and power went through.

From telemetry/run.json's ``satellite_summary``, the ledger and the sampled timeline: what became of each
satellite's frames (a fleet's totals hide one satellite that delivered nothing), storage peak against capacity and
the captures refused when it was full, battery minimum (it never goes below 0 Wh: unmet load is counted apart), time
in brown-out, the captures shed and the compute deferred while it lasted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from rundir.telemetry import LEDGER_STATUSES

from .document import Heading, Paragraph, Table, fmt_bytes, fmt_duration, fmt_fraction, fmt_value


def spacecraft_section(run: Any) -> dict[str, Any] | None:
    """report.json ``spacecraft``: one entry per satellite; None without a complete run.json summary. With
    ``warnings`` for each satellite that spent time in brown-out (:func:`brownout_warning`)."""
    summaries = run.run_info.satellite_summary if run.run_info else []
    if not summaries:
        return None
    timeline = run.timeline
    lowest_wh = {name: float(timeline.of(name).battery_wh.min()) for name in timeline.satellites} if timeline else {}
    # each row's status is one of LEDGER_STATUSES (LedgerRow refuses others as bad_line anomalies); None without one
    fates = Counter((row.satellite, row.status) for row in run.ledger) if run.ledger is not None else None
    out = []
    for s in summaries:
        out.append({
            "satellite": s.satellite, "frames_planned": s.frames_planned, "frames_captured": s.frames_captured,
            **{f"frames_{status}": fates[s.satellite, status] if fates is not None else None
               for status in LEDGER_STATUSES},
            "storage_peak_bytes": s.storage_peak_bytes, "storage_capacity_bytes": s.storage_capacity_bytes,
            "captures_refused_storage_full": s.captures_skipped.get("storage_full", 0),
            "battery_min_soc": s.battery_min_soc, "battery_min_wh": lowest_wh.get(s.satellite),
            "brownout_s": s.brownout_s, "captures_shed_brownout": s.captures_skipped.get("brownout", 0),
            "compute_deferred_frames": s.compute_deferred_frames, "compute_deferred_s": s.compute_deferred_s,
            "energy_unmet_wh": s.energy_unmet_wh,
        })
    warnings = [w for w in (brownout_warning(s, run.run_info.duration_s) for s in out) if w]
    return {"satellites": out, **({"warnings": warnings} if warnings else {})}


def brownout_warning(satellite: Mapping[str, Any], duration_s: float) -> str | None:
    """A warning for one satellite of the section (report.json ``spacecraft.satellites[i]``) that spent time in
    brown-out during a run of ``duration_s``: how long, its lowest charge, and what it cost (captures shed, compute
    deferred), since the power budget then shapes what the run delivers; None without brown-out."""
    if not satellite["brownout_s"]:
        return None
    share = f" ({fmt_fraction(satellite['brownout_s'] / duration_s)} of the run)" if duration_s > 0 else ""
    shed, deferred = satellite["captures_shed_brownout"], satellite["compute_deferred_frames"]
    cost = (f"{shed} captures shed and {deferred} frames' compute deferred "
            f"({fmt_duration(satellite['compute_deferred_s'])}), so the power budget is a constraint of this run"
            if shed or deferred else "no capture or compute fell in it this time, but any would have been shed or "
                                     "deferred, so the power budget has no margin")
    return (f"{satellite['satellite']} was in brown-out for {fmt_duration(satellite['brownout_s'])}{share}, its "
            f"battery down to {fmt_fraction(satellite['battery_min_soc'])}: {cost} (spacecraft.power: solar_w, "
            "battery_wh, the loads); see Storage and power.")


def spacecraft_blocks(section: Mapping[str, Any]) -> list[Any]:
    """report.md/html blocks: one row per satellite."""

    rows = tuple((s["satellite"], f"{s['frames_captured']} / {s['frames_planned']}",
                  " / ".join(fmt_value(s.get(f"frames_{status}")) for status in LEDGER_STATUSES),
                  f"{fmt_bytes(s['storage_peak_bytes'])} / {fmt_bytes(s['storage_capacity_bytes'])}",
                  str(s["captures_refused_storage_full"]), fmt_fraction(s["battery_min_soc"]),
                  fmt_duration(s["brownout_s"]), str(s["captures_shed_brownout"]),
                  f"{s['compute_deferred_frames']} ({fmt_duration(s['compute_deferred_s'])})")
                 for s in section["satellites"])
    return [Heading(2, "Storage and power"),
            Paragraph("Captures refused for a full memory never entered the ledger; frames dropped from memory are "
                      "in the ledger with their reason. In brown-out, imaging is shed and compute waits for the "
                      "battery (deferred, not lost)."),
            Table(("satellite", "captured / planned", "delivered / dropped / on board", "storage peak / capacity",
                   "refused: storage full", "battery min", "brown-out", "shed: brown-out", "compute deferred"), rows)]
