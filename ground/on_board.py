"""The report's ``on_board`` section: what was still on board at the end of the run, and how old it was
(:func:`ground.metrics.on_board`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import metrics
from .document import Block, Heading, Table, fmt_bytes, fmt_duration, fmt_value
from .run_data import RunData


def on_board_section(run: RunData) -> dict[str, Any]:
    """report.json ``on_board``: bytes, frames, products, max and mean age (s); all None without ledger telemetry."""
    if run.ledger is None:
        return {"bytes": None, "frames": None, "products": None, "max_age_s": None, "mean_age_s": None}
    return metrics.on_board(run.ledger)


def on_board_blocks(board: Mapping[str, Any]) -> list[Block]:
    """report.md/html blocks: one table of the figures."""
    return [Heading(2, "Left on board"), Table(("figure", "value"), (
        ("bytes", fmt_bytes(board["bytes"])), ("frames", fmt_value(board["frames"])), ("products", fmt_value(board["products"])),
        ("oldest (end of run minus capture)", fmt_duration(board["max_age_s"])),
        ("mean age", fmt_duration(board["mean_age_s"]))))]
