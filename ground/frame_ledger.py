"""The report's ``ledger`` section: what became of every captured frame (delivered, dropped and why, still on
board) and whether the counts balance (:func:`ground.metrics.ledger_summary`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import metrics
from .document import Block, Heading, Table, fmt_value
from .run_data import RunData


def ledger_section(run: RunData) -> dict[str, Any]:
    """report.json ``ledger``: the frame (and product) counts; all None but ``captured`` without ledger telemetry."""
    if run.ledger is None:
        return {"captured": len(run.captures) if run.captures is not None else None, "delivered": None,
                "dropped": None, "on_board": None, "dropped_by_reason": None, "balanced": None}
    return metrics.ledger_summary(run.ledger, run.captures)


def ledger_blocks(ledger: Mapping[str, Any]) -> list[Block]:
    """report.md/html blocks: the frame table, and the product table when the ledger counts products."""
    reasons = ledger.get("dropped_by_reason") or {}
    rows = [("delivered", fmt_value(ledger["delivered"]), "at least one product reached the ground"),
            ("dropped", fmt_value(ledger["dropped"]), "; ".join(f"{k}: {v}" for k, v in reasons.items()) or ""),
            ("on board", fmt_value(ledger["on_board"]), "still on board at the end"),
            ("captured", fmt_value(ledger["captured"]), "balanced" if ledger["balanced"] else
             ("NOT BALANCED" if ledger["balanced"] is False else "balance unknown"))]
    blocks: list[Block] = [Heading(2, "Frame ledger"), Table(("frames", "count", "note"), tuple(rows))]
    if "products_delivered" in ledger:
        product_reasons = "; ".join(f"{k}: {v}" for k, v in ledger["products_dropped_by_reason"].items())
        blocks.append(Table(("products", "count", "note"), (
            ("delivered", ledger["products_delivered"], ""), ("dropped", ledger["products_dropped"], product_reasons),
            ("on board", ledger["products_on_board"], ""))))
    return blocks
