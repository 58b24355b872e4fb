"""ground.anomalies: the report's ground section (what reception verified, the anomalies) and its blocks."""

from __future__ import annotations

from ground.anomalies import ground_blocks, ground_section
from ground.document import Paragraph, Table
from ground.run_data import load_run
from conftest import make_run


def test_a_clean_run_has_no_anomaly(tiny_run):
    ground = ground_section(load_run(tiny_run))
    assert (ground["products_in_manifest"], ground["products_verified"]) == (4, 4)
    assert ground["products_by_kind"] == {"image": 4} and ground["anomalies"] == []
    assert ground_blocks(ground)[-1] == Paragraph("No anomalies.")


def test_a_corrupt_product_and_a_truncated_ledger_are_counted_and_listed(tiny_run):
    product = sorted((tiny_run / "downlink").glob("*.raw"))[0]
    product.write_bytes(product.read_bytes()[:-1] + b"\x00")
    ledger = tiny_run / "telemetry" / "ledger.jsonl"
    ledger.write_text(ledger.read_text()[:-20])
    ground = ground_section(load_run(tiny_run))
    assert ground["products_verified"] == 3 and ground["anomaly_counts"] == {"corrupt": 1, "truncated_line": 1}
    assert [(a["kind"], a["file"]) for a in ground["anomalies"]] == [
        ("corrupt", f"downlink/{product.name}"), ("truncated_line", "telemetry/ledger.jsonl")]
    tables = [b for b in ground_blocks(ground) if isinstance(b, Table)]
    assert tables[0].rows == (("corrupt", 1), ("truncated_line", 1))
    assert [row[:2] for row in tables[1].rows] == [(a["kind"], a["file"]) for a in ground["anomalies"]]
    assert ground["warning"] == ("1 record of the run could not be read (telemetry/ledger.jsonl): every figure drawn "
                                 "from them leaves out what they held (see the reception anomalies).")


def test_records_that_cannot_be_read_are_a_warning_at_the_reports_top(tiny_run):
    """A capture line and run.json edited out of shape: figures drawn from them are short, and the report opens by
    saying so rather than only listing the anomalies at its end."""
    captures = tiny_run / "telemetry" / "captures.jsonl"
    lines = captures.read_text().splitlines()
    captures.write_text("\n".join(["garbage{{", *lines[1:]]) + "\n")
    ground = ground_section(load_run(tiny_run))
    assert ground["warning"].startswith("1 record of the run could not be read (telemetry/captures.jsonl)")
    assert "warning" not in ground_section(load_run(make_run(tiny_run.parent / "clean")))
