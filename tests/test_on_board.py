"""ground.on_board: what was left on board at the end of the run, and its table."""

from __future__ import annotations

import json

from ground.document import Table, fmt_bytes
from ground.on_board import on_board_blocks, on_board_section
from ground.run_data import load_run


def test_left_on_board_follows_the_ledger(tiny_run):
    rows = [json.loads(line) for line in (tiny_run / "telemetry" / "ledger.jsonl").read_text().splitlines()]
    left = [r for r in rows if r["status"] == "on_board"]
    board = on_board_section(load_run(tiny_run))
    assert board["bytes"] == sum(r["bytes_on_board"] for r in left) and board["frames"] == len(left)
    assert board["max_age_s"] == max(r["age_s"] for r in left)
    table = on_board_blocks(board)[1]
    assert isinstance(table, Table) and table.rows[0] == ("bytes", fmt_bytes(board["bytes"]))


def test_without_a_ledger_nothing_is_known(tiny_run):
    (tiny_run / "telemetry" / "ledger.jsonl").unlink()
    board = on_board_section(load_run(tiny_run))
    assert set(board.values()) == {None}
    assert on_board_blocks(board)[1].rows[0] == ("bytes", "n/a")
