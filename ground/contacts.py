"""The report's ``contacts`` section: every ground-station contact window, whether it was tracked, how much of it
was used and what it carried (:func:`ground.metrics.contact_usage`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from . import metrics
from .document import Block, Heading, Image, Paragraph, Table, capped, fmt_bytes, fmt_duration, fmt_fraction, fmt_value
from .run_data import RunData


def contacts_section(run: RunData) -> dict[str, Any]:
    """report.json ``contacts``: count, tracked, mean and total usage, bytes sent and the windows; None figures and
    no windows without contact telemetry."""
    if run.contacts is None:
        return {"count": None, "tracked": None, "mean_usage": None, "total_usage": None, "bytes_sent": None,
                "windows": []}
    return metrics.contact_usage(run.contacts)


def _utc(start_utc: str | None, t_s: float) -> str:
    """``t_s`` after the start as ``YYYY-MM-DD hh:mm:ssZ``, or hours since start when the start is unknown."""
    if not start_utc:
        return f"{t_s / 3600.0:.2f} h after start"
    when = dt.datetime.fromisoformat(start_utc.replace("Z", "+00:00")) + dt.timedelta(seconds=t_s)
    return when.strftime("%Y-%m-%d %H:%M:%SZ")


def contacts_blocks(contacts: Mapping[str, Any], figures: Mapping[str, str], start_utc: str | None) -> list[Block]:
    """report.md/html blocks: the usage paragraph, the windows (AOS in UTC when ``start_utc`` is known), the
    bytes-per-contact chart and each satellite's timeline when ``figures`` has them."""
    blocks: list[Block] = [Heading(2, "Contacts")]
    if contacts["count"] is None:
        return blocks + [Paragraph("No contact telemetry (telemetry/contacts.jsonl).")]
    blocks.append(Paragraph(f"Contact windows: {contacts['count']}, {contacts['tracked']} tracked; mean usage "
                            f"of tracked windows {fmt_fraction(contacts['mean_usage'])}, time-weighted usage of all "
                            f"windows {fmt_fraction(contacts['total_usage'])}; {fmt_bytes(contacts['bytes_sent'])} sent."))
    rows, note = capped(tuple(
        (w["satellite"], w["station"], _utc(start_utc, w["aos_t_s"]), fmt_duration(w["duration_s"]),
         fmt_value(w["max_elevation_deg"]), fmt_value(w["tracked"]), fmt_fraction(w["usage"]), fmt_bytes(w["bytes_sent"]))
        for w in contacts["windows"]), "windows")
    if rows:
        blocks.append(Table(("satellite", "station", "AOS (UTC)", "duration", "max elevation (deg)", "tracked",
                             "usage", "sent"), rows))
    blocks += note
    if "contact_bytes" in figures:
        blocks.append(Image("bytes per contact", figures["contact_bytes"]))
    for key, src in figures.items():
        if key.startswith("timeline:"):
            blocks.append(Image(f"timeline of {key.split(':', 1)[1]}", src))
    return blocks
