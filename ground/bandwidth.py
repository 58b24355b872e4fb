"""The report's ``bandwidth`` section: bytes captured, downlinked and retransmitted, and the share saved against
sending every raw frame (:func:`ground.metrics.bandwidth` gives the figures and their definitions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import cloud, metrics
from .document import Block, Heading, Table, fmt_by_key
from .run_data import RunData


def bandwidth_section(run: RunData) -> dict[str, Any]:
    """report.json ``bandwidth``: metrics.bandwidth's figures, the tile-selection savings of the cloud stage and of
    its oracle (None without a cloud stage: :func:`ground.cloud.tile_selection_saved`) and the definitions."""
    on_board_bytes = metrics.on_board(run.ledger)["bytes"] if run.ledger is not None else None
    figures = metrics.bandwidth(run.delivered, run.reception.lines, run.captures, on_board_bytes, run.ledger)
    tiles = cloud.tile_selection_saved(run)
    figures["tile_selection_saved_fraction"], figures["oracle_saved_fraction"] = tiles["stage"], tiles["oracle"]
    return {**figures, "definitions": dict(metrics.BANDWIDTH_DEFINITIONS)}


def bandwidth_blocks(bw: Mapping[str, Any]) -> list[Block]:
    """report.md/html blocks: one row per defined figure, each formatted by its key's unit suffix (``_fraction``
    as a share, ``_bytes`` as bytes: :func:`ground.document.fmt_by_key`)."""
    rows = tuple((key, fmt_by_key(key, bw[key]), definition) for key, definition in bw["definitions"].items())
    return [Heading(2, "Bandwidth"), Table(("figure", "value", "definition"), rows)]
