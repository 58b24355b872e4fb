"""ground.bandwidth: the report's bandwidth section and its table."""

from __future__ import annotations

import json

from conftest import FRAME_RAW_BYTES
from ground.bandwidth import bandwidth_blocks, bandwidth_section
from ground.document import Table, fmt_bytes, fmt_fraction
from ground.metrics import BANDWIDTH_DEFINITIONS
from ground.run_data import load_run


def test_figures_follow_the_manifest_and_the_captures(tiny_run):
    manifest = [json.loads(line) for line in (tiny_run / "downlink" / "manifest.jsonl").read_text().splitlines()]
    bw = bandwidth_section(load_run(tiny_run))
    assert bw["raw_bytes"] == 4 * FRAME_RAW_BYTES and bw["raw_bytes_delivered"] == 2 * FRAME_RAW_BYTES
    assert bw["downlinked_bytes"] == sum(m["bytes"] for m in manifest)
    assert bw["retransmitted_bytes"] == sum(m["retransmitted_bytes"] for m in manifest)
    assert bw["saved_fraction"] == 1 - bw["downlinked_bytes"] / (2 * FRAME_RAW_BYTES)
    assert bw["tile_selection_saved_fraction"] is bw["oracle_saved_fraction"] is None  # no cloud_filter stage
    assert bw["definitions"] == dict(BANDWIDTH_DEFINITIONS)


def test_the_table_has_one_row_per_definition(tiny_run):
    bw = bandwidth_section(load_run(tiny_run))
    [table] = [b for b in bandwidth_blocks(bw) if isinstance(b, Table)]
    assert [row[0] for row in table.rows] == list(BANDWIDTH_DEFINITIONS)
    shown = {row[0]: row[1] for row in table.rows}
    assert shown["saved_fraction"] == fmt_fraction(bw["saved_fraction"])
    assert shown["raw_bytes"] == fmt_bytes(bw["raw_bytes"])
