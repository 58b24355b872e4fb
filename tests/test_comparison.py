"""ground.comparison: this run's pipeline against bent-pipe and encode-only on the same finished frames."""

from __future__ import annotations

import json

import pytest

from conftest import FRAME_RAW_BYTES
from ground.comparison import comparison, comparison_blocks
from ground.document import Paragraph, Table
from ground.run_data import load_run


def test_rows_on_the_finished_frames(tiny_run):
    run = load_run(tiny_run)
    comp = comparison(run, {})
    rows = {r["pipeline"]: r for r in comp["rows"]}
    assert comp["frames"] == 2 and list(rows) == ["bent_pipe", "encode_only", "this_run"]
    assert rows["bent_pipe"]["bytes"] == 2 * FRAME_RAW_BYTES and rows["bent_pipe"]["saved_fraction"] == 0.0
    assert rows["encode_only"]["saved_fraction"] == pytest.approx(1 - (FRAME_RAW_BYTES * 3 // 4) / FRAME_RAW_BYTES)
    manifest = [json.loads(line) for line in (tiny_run / "downlink" / "manifest.jsonl").read_text().splitlines()]
    assert rows["this_run"]["bytes"] == sum(m["bytes"] for m in manifest)
    assert rows["this_run"]["cloud_f1"] is None and rows["this_run"]["cpsnr_db"] is None
    [table] = [b for b in comparison_blocks(comp) if isinstance(b, Table)]
    assert [row[0] for row in table.rows] == [r["label"] for r in comp["rows"]]


def test_the_cloud_section_fills_its_columns(tiny_run):
    run = load_run(tiny_run)
    run.run_info["pipeline"] = ["cloud_filter", "encode"]
    cloud = {"clear_pixels_lost_fraction": 0.125, "pixel": {"f1": 0.75}}
    rows = {r["pipeline"]: r for r in comparison(run, {"cloud": cloud})["rows"]}
    assert rows["cloud_filter"]["bytes"] is None  # processing records carry no cloud_filter estimate
    assert (rows["this_run"]["clear_pixels_lost_fraction"], rows["this_run"]["cloud_f1"]) == (0.125, 0.75)
    assert rows["this_run"]["label"] == "this run: cloud_filter > encode"


def test_no_processing_record_no_comparison(tiny_run):
    (tiny_run / "telemetry" / "processing.jsonl").unlink()
    comp = comparison(load_run(tiny_run), {})
    assert comp["frames"] == 0 and all(r["bytes"] is None for r in comp["rows"])
    [note] = comparison_blocks(comp)
    assert isinstance(note, Paragraph) and "no pipeline comparison" in note.text
