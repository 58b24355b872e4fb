"""The report's ``latency_s`` section: seconds from capture to ground per verified product
(:func:`ground.metrics.latency_stats`: numpy linear percentiles)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import metrics
from .document import Block, Heading, Image, Paragraph, Table, fmt_duration, fmt_value
from .run_data import RunData


def latency_section(run: RunData) -> dict[str, Any]:
    """report.json ``latency_s``: count, p50, p90, mean, min and max (s) over the delivered products."""
    return {"per": "product", **metrics.latency_stats(metrics.latencies_s(run.delivered))}


def latency_blocks(lat: Mapping[str, Any], figures: Mapping[str, str], waiting_frames: int | None = None,
                   oldest_s: float | None = None) -> list[Block]:
    """report.md/html blocks: the statistics, what they leave out (``waiting_frames`` still on board at the end,
    the oldest ``oldest_s`` old: report.json ``ledger.on_board`` and ``on_board.max_age_s``), and the histogram when
    ``figures`` has ``latency``."""
    blocks: list[Block] = [Heading(2, "Latency, capture to ground"), Table(("statistic", "seconds", "readable"), tuple(
        (k, fmt_value(lat[k]), fmt_duration(lat[k], ms_below_1s=True)) for k in ("p50", "p90", "mean", "min", "max")))]
    if waiting_frames == 1:
        waiting = (f" The frame still on board at the end ({fmt_duration(oldest_s)} old) is in none of these figures: "
                   "it waits longer than its age, so the figures are of what arrived, not of what was captured.")
    else:
        waiting = (f" The {waiting_frames} frames still on board at the end (the oldest {fmt_duration(oldest_s)} old) "
                   "are in none of these figures: they wait longer than their age, so the figures are of what "
                   "arrived, not of what was captured." if waiting_frames else "")
    blocks.append(Paragraph(f"Over {lat['count']} verified products (numpy linear percentiles).{waiting}"))
    if "latency" in figures:
        blocks.append(Image("latency histogram", figures["latency"]))
    return blocks
