"""The report's ``contacts`` section: every ground-station contact window, whether it was tracked, how much of it
was used and what it carried (:func:`ground.metrics.contact_usage`); under a link budget (``telemetry/link.jsonl``)
also each pass's rate and elevation over time, and its bytes against the constant-rate model's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from . import metrics
from .document import (Block, Heading, Image, Paragraph, Table, capped, fmt_bytes, fmt_duration, fmt_fixed,
                       fmt_share, fmt_value)
from .run_data import RunData

CONSTANT_MODELS = {"rate_mbps": "the constant spacecraft.radio.rate_mbps",
                   "lowest_elevation_modcod": "one fixed MODCOD per pass, the one that closes at the lowest "
                                              "elevation where any does"}


NO_CONTACT = ("no contact window in the time simulated: no satellite rose above a ground station's elevation mask "
              "(ground_stations[*].min_elevation_deg), so nothing could be downlinked; check the stations, the orbits, "
              "start_utc and duration_h.")


def contacts_section(run: RunData) -> dict[str, Any]:
    """report.json ``contacts``: count, tracked, mean and total usage, bytes sent and the windows, and a ``warning``
    when there was no window (:data:`NO_CONTACT`, or, for a run that stopped early, how far it got); None figures
    and no windows without contact telemetry."""
    if run.contacts is None:
        return {"count": None, "tracked": None, "mean_usage": None, "total_usage": None, "bytes_sent": None,
                "windows": []}
    out = metrics.contact_usage(run.contacts, run.link)
    stopped = run.run_info.stopped if run.run_info else None
    if not out["count"]:
        out["warning"] = NO_CONTACT if stopped is None else (
            f"no contact window in the {fmt_duration(stopped.simulated_s)} simulated before the run stopped "
            f"({stopped.reason}): a complete run may have some.")
    passes = link_passes(run)
    if passes is not None:
        out["link"] = {"constant_model": sorted({p["constant_model"] for p in passes}),
                       **{key: sum(p[key] for p in passes) for key in ("bytes_sent", "constant_rate_bytes",
                                                                         "capacity_bytes")},
                       "passes": passes}
    return out


def link_passes(run: RunData) -> list[dict[str, Any]] | None:
    """Each pass of ``telemetry/link.jsonl`` (None without the file; a line that is not a pass record is a
    ``bad_line`` anomaly of the run and left out): its record less the samples' detail, plus ``vs_constant`` (bytes
    sent / the constant-rate model's, None over 0), the top rate and elevation of its samples, seconds per MODCOD
    (``modcod_s``, "down" while none closes) and ``samples`` as (t_s, elevation_deg, rate_mbps) rows for the
    plot. Its ``max_elevation_deg`` is its contact window's (telemetry/contacts.jsonl, the culmination the pass
    prediction found, which the samples, taken where the rate changes, can miss), the samples' highest without one."""
    if run.link is None:
        return None
    culmination = {(c.satellite, c.station, c.aos_t_s): c.max_elevation_deg for c in run.contacts or ()}
    out = []
    for record in run.link:
        samples = record.samples
        t_s = [s.t_s for s in samples] + [record.los_t_s]
        modcod_s: dict[str, float] = {}
        for sample, start, end in zip(samples, t_s[:-1], t_s[1:]):
            name = sample.modcod or "down"
            modcod_s[name] = round(modcod_s.get(name, 0.0) + end - start, 3)
        constant = record.constant_rate_bytes
        out.append({**{k: v for k, v in record.to_json().items() if k != "samples"},
                    "vs_constant": record.bytes_sent / constant if constant else None,
                    "peak_rate_mbps": max((s.rate_mbps for s in samples), default=None),
                    "max_elevation_deg": culmination.get((record.satellite, record.station, record.aos_t_s),
                                                         max((s.elevation_deg for s in samples), default=None)),
                    "modcod_s": modcod_s,
                    "samples": [[s.t_s, s.elevation_deg, s.rate_mbps] for s in samples]})
    return out


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
                            f"of tracked windows {fmt_share(contacts['mean_usage'])}, time-weighted usage of all "
                            f"windows {fmt_share(contacts['total_usage'])} (windows that overlap share a station's "
                            f"antenna or a satellite's radio); {fmt_bytes(contacts['bytes_sent'])} sent."
                            + (" Under the link budget a window's usage is the share of the time its link was up "
                               "(some MODCOD closed) spent sending." if contacts.get("link") else "")))
    contended = bool(contacts.get("waited_s"))  # some satellite waited for an antenna another held
    if contended:
        waited = [w for w in contacts["windows"] if w.get("waited_s")]
        blocks.append(Paragraph(
            f"Stations were contended: in {len(waited)} window{'s' if len(waited) != 1 else ''} a satellite had "
            f"products to send while another held the station's one antenna, {fmt_duration(contacts['waited_s'])} "
            "in all (the waited column)."))
    rows, note = capped(tuple(
        (w["satellite"], w["station"], _utc(start_utc, w["aos_t_s"]), fmt_duration(w["duration_s"]),
         fmt_value(w["max_elevation_deg"]), fmt_value(w["tracked"]), fmt_share(w["usage"]), fmt_bytes(w["bytes_sent"]))
        + ((fmt_duration(w["waited_s"]) if w.get("waited_s") is not None else "n/a",) if contended else ())
        for w in contacts["windows"]), "windows")
    if rows:
        blocks.append(Table(("satellite", "station", "AOS (UTC)", "duration", "max elevation (deg)", "tracked",
                             "usage", "sent") + (("waited",) if contended else ()), rows))
    blocks += note
    if "contact_bytes" in figures:
        blocks.append(Image("bytes per contact", figures["contact_bytes"]))
    if "link" in contacts:
        blocks += _link_blocks(contacts["link"], figures, start_utc)
    for key, src in figures.items():
        if key.startswith("timeline:"):
            blocks.append(Image(f"timeline of {key.split(':', 1)[1]}", src))
    return blocks


def _link_blocks(link: Mapping[str, Any], figures: Mapping[str, str], start_utc: str | None) -> list[Block]:
    """The link budget's passes: what they carried against the constant-rate model, a row per pass, and the rate
    and elevation plot when ``figures`` has it."""
    models = " and ".join(CONSTANT_MODELS.get(m, m) for m in link["constant_model"])
    constant = link["constant_rate_bytes"]
    ratio = f" ({link['bytes_sent'] / constant:.2f}x)" if constant else ""
    blocks: list[Block] = [Heading(3, "Link budget per pass"), Paragraph(
        f"Under the link budget the passes carried {fmt_bytes(link['bytes_sent'])}; the constant-rate model "
        f"({models}) would have carried {fmt_bytes(constant)} in the time they had data to send{ratio}. The passes "
        f"could have carried {fmt_bytes(link['capacity_bytes'])} with storage never empty.")]
    rows, note = capped(tuple(
        (p["satellite"], p["station"], _utc(start_utc, p["aos_t_s"]), fmt_value(p["max_elevation_deg"]),
         fmt_duration(p["link_up_s"]), fmt_fixed(p["peak_rate_mbps"], 1), fmt_bytes(p["bytes_sent"]),
         fmt_bytes(p["constant_rate_bytes"]), fmt_fixed(p["vs_constant"], 2, "x"), fmt_bytes(p["capacity_bytes"]))
        for p in link["passes"]), "passes")
    if rows:
        blocks.append(Table(("satellite", "station", "AOS (UTC)", "max elevation (deg)", "link up", "peak rate (Mbps)",
                             "sent", "constant-rate model", "sent / model", "capacity"), rows))
    blocks += note
    if "pass_link" in figures:
        blocks.append(Image("rate and elevation over each pass", figures["pass_link"]))
    return blocks
