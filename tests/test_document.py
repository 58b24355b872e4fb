"""ground.document: formatters by key unit, numeric cells right-aligned, and the table of contents in Markdown and
HTML linked to the headings' anchors."""

from __future__ import annotations

import re

import pytest

from ground.document import (Contents, Heading, Paragraph, Table, fmt_by_key, fmt_duration, fmt_latencies,
                             is_numeric, slug, to_html, to_markdown)


@pytest.mark.parametrize(("key", "value", "shown"), [
    ("oracle_saved_fraction", 0.564453, "56.4 %"),  # was printed as "0.564453 B"
    ("saved_fraction_all_captures", 0.692, "69.2 %"),
    ("raw_bytes_delivered", 52_690_000, "52.69 MB"),
    ("bytes_on_board", 0, "0 B"),
    ("latency_s.p50", 18.664, "18.7 s"),
    ("cpsnr_db.model_int8", 37.1, "37.10 dB"),
    ("bytes_per_clear_km2", 1234.5, "1234.5"),  # a rate is not bytes
    ("frames", 20, "20"),
    ("saved_fraction", None, "n/a"),
    ("raw_bytes", [1, 2], "1, 2"),
])
def test_values_are_formatted_by_the_unit_their_key_names(key, value, shown):
    assert fmt_by_key(key, value) == shown


@pytest.mark.parametrize(("cell", "numeric"), [
    ("12.35 MB", True), ("69.2 %", True), ("-3.20 dB", True), ("3.1x", True), ("20 / 14 / 6 / 0", True),
    ("18.7 s / 10.19 h", True), ("58.1 % / 10.5 % *", True), (536, True), ("n/a", True), ("0.589063", True),
    ("EPSG:32631", False), ("2026-03-15T00:00:00.000Z", False), ("afri-sat-1", False), ("1564 x 4638", False),
    ("yes", False), ("cloud_filter > encode", False), (True, False),
])
def test_numeric_cells(cell, numeric):
    assert is_numeric(cell) is numeric


BLOCKS = [Heading(1, "orbitedge report: x"), Paragraph("Verdict: fine.", strong=True), Contents(depth=3),
          Heading(2, "Summary"), Table(("figure", "value"), (("downlinked", "12.35 MB"), ("ledger balanced", "yes"))),
          Heading(2, "Latency, capture to ground"), Heading(3, "Per pass"),
          Table(("pass", "bytes", "share"), (("p000", "1.20 kB", "n/a"), ("p001", "3 B", "50.0 %"))),
          Heading(2, "Summary")]


def test_markdown_contents_link_to_github_anchors_and_numeric_columns_align_right():
    md = to_markdown(BLOCKS)
    assert ("**Contents:** [Summary](#summary) · [Latency, capture to ground](#latency-capture-to-ground) · "
            "[Summary](#summary-1)") in md
    assert slug("Latency, capture to ground") == "latency-capture-to-ground"
    assert "| figure | value |\n|---|---|\n" in md  # "yes" is not a number: the column stays left
    assert "| pass | bytes | share |\n|---|---:|---:|\n" in md


def test_html_contents_link_to_heading_ids_and_numeric_cells_align_right():
    page = to_html(BLOCKS, "t")
    ids = re.findall(r'<h\d id="([^"]+)">', page)
    links = re.findall(r'<a href="#([^"]+)">', page)
    assert ids == ["orbitedge-report-x", "summary", "latency-capture-to-ground", "per-pass", "summary-1"]
    assert links == ids[1:] and page.index("<nav") < page.index('id="summary"')
    assert "<ul><li><a href=\"#per-pass\">Per pass</a></li></ul>" in page  # level 3 nested under its level 2
    assert '<td class="num">1.20 kB</td>' in page and "<td>p000</td>" in page and "<td>yes</td>" in page
    assert "td.num{text-align:right" in page


@pytest.mark.parametrize("t_s,text", [
    (None, "n/a"), (0.0, "0.0 s"), (0.0475, "47.5 ms"), (0.0003, "0.3 ms"), (0.9994, "999 ms"), (0.9996, "1.0 s"),
    (12.94, "12.9 s"), (59.9, "59.9 s"), (60.0, "1.0 min"), (3599.0, "60.0 min"), (3600.0, "1.00 h"),
])
def test_stage_times_read_in_the_unit_that_shows_them(t_s, text):
    assert fmt_duration(t_s, ms_below_1s=True) == text
    if text.endswith(" ms"):  # other durations (latency, contact length) stay in s
        assert fmt_duration(t_s) == f"{t_s:.1f} s"


def test_a_latency_under_50_ms_reads_in_ms_not_0_0_s():
    """A run's p50 latency of 45 ms read "0.0 s" in the summary and report.md beside the latency table's 45 ms."""
    assert fmt_latencies({"p50": 0.045, "p90": 0.8, "max": 145.0}) == "45 ms / 0.8 s / 2.4 min"
    assert fmt_latencies({"p50": 0.0, "p90": None, "max": 0.05}) == "0.0 s / n/a / 0.1 s"


def test_code_in_a_paragraph_is_set_as_code_in_html():
    page = to_html([Heading(1, "`a`"), Paragraph("Each run (`orbitedge report` works on any); `--retry-failed`.")], "t")
    assert "`a`</h1>" in page  # a heading's text is as written
    assert "<p>Each run (<code>orbitedge report</code> works on any); <code>--retry-failed</code>.</p>" in page
