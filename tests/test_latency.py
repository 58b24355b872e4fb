"""ground.latency: capture-to-ground latency of the delivered products, and its blocks."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from ground.document import Image
from ground.latency import latency_blocks, latency_section
from ground.run_data import load_run


def test_statistics_over_the_manifest_latencies(tiny_run):
    manifest = [json.loads(line) for line in (tiny_run / "downlink" / "manifest.jsonl").read_text().splitlines()]
    latency_s = np.array([m["downlink_t_s"] - m["capture_t_s"] for m in manifest])
    lat = latency_section(load_run(tiny_run))
    assert lat["per"] == "product" and lat["count"] == latency_s.size
    assert lat["p50"] == pytest.approx(np.percentile(latency_s, 50), abs=1e-9)
    assert lat["p90"] == pytest.approx(np.percentile(latency_s, 90), abs=1e-9)
    assert (lat["min"], lat["max"]) == (latency_s.min(), latency_s.max())


def test_no_product_no_latency_and_no_histogram(tiny_run):
    shutil.rmtree(tiny_run / "downlink")
    lat = latency_section(load_run(tiny_run))
    assert lat["count"] == 0 and lat["p50"] is None
    assert not any(isinstance(b, Image) for b in latency_blocks(lat, {}))
    blocks = latency_blocks(lat, {"latency": "plots/latency.png"})
    assert blocks[-1] == Image("latency histogram", "plots/latency.png")


def test_a_latency_under_a_second_reads_in_milliseconds():
    """A product captured during a pass can reach the ground in a fraction of a second: 0.034 s read "0.0 s"."""
    lat = {"count": 2, "p50": 0.132, "p90": 0.9, "mean": 0.5, "min": 0.034, "max": 4000.0}
    table = latency_blocks(lat, {})[1]
    readable = {row[0]: row[2] for row in table.rows}
    assert readable == {"p50": "132 ms", "p90": "900 ms", "mean": "500 ms", "min": "34 ms", "max": "1.11 h"}


def test_frames_still_on_board_are_said_to_be_in_none_of_the_figures():
    """A CubeSat run left 27 of 51 frames on board, up to 17.3 h old, beside a p90 of 12.3 h over what arrived."""
    lat = {"count": 24, "p50": 38600.0, "p90": 44200.0, "mean": 36000.0, "min": 30000.0, "max": 44200.0}
    text = latency_blocks(lat, {}, 27, 62300.0)[2].text
    assert text == ("Over 24 verified products (numpy linear percentiles). The 27 frames still on board at the end "
                    "(the oldest 17.31 h old) are in none of these figures: they wait longer than their age, so the "
                    "figures are of what arrived, not of what was captured.")
    assert latency_blocks(lat, {}, 0, None)[2].text == "Over 24 verified products (numpy linear percentiles)."
    assert "The frame still on board at the end (1.00 h old) is in none of these figures: it waits longer than its " \
        "age" in latency_blocks(lat, {}, 1, 3600.0)[2].text  # "The 1 frames ... are"
