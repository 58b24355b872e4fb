"""The ground report on small synthetic run directories (tests/conftest.py): keys, determinism, incomplete and
partial runs, added sections."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import ground.report as report_module
from ground.report import build_report, register_section, write_report

REQUIRED = ("scenario", "seed", "complete", "bandwidth.raw_bytes", "bandwidth.downlinked_bytes",
            "bandwidth.saved_fraction", "bandwidth.retransmitted_bytes", "ledger.captured", "ledger.delivered",
            "ledger.dropped", "ledger.dropped_by_reason", "ledger.on_board", "ledger.balanced", "latency_s.p50",
            "latency_s.p90", "latency_s.max", "on_board.bytes", "on_board.max_age_s", "contacts.windows",
            "contacts.mean_usage", "ground.anomalies", "ground.products_verified", "mosaics.paths")


@pytest.fixture
def run_dir(make_tiny_run, tmp_path: Path) -> Path:
    return make_tiny_run(tmp_path / "run")


def dotted(report: dict, key: str):
    value = report
    for part in key.split("."):
        assert isinstance(value, dict) and part in value, f"report lacks {key}"
        value = value[part]
    return value


def test_report_holds_the_required_keys_and_figures(run_dir):
    report = build_report(run_dir)
    for key in REQUIRED:
        dotted(report, key)
    assert (report["scenario"], report["seed"], report["complete"]) == ("tiny", 42, True)
    bw = report["bandwidth"]
    assert bw["raw_bytes"] == 4 * 3072 and bw["raw_bytes_delivered"] == 2 * 3072
    assert bw["retransmitted_bytes"] == 200
    assert bw["saved_fraction"] == round(1 - bw["downlinked_bytes"] / (2 * 3072), 6)
    ledger = report["ledger"]
    assert (ledger["captured"], ledger["delivered"], ledger["dropped"], ledger["on_board"]) == (4, 2, 1, 1)
    assert ledger["dropped_by_reason"] == {"storage_full": 1} and ledger["balanced"] is True
    # latencies 1000, 1060, 1020, 1080 s
    assert report["latency_s"]["p50"] == 1040.0 and report["latency_s"]["max"] == 1080.0
    assert report["on_board"] == {"bytes": 3000, "frames": 1, "products": 1, "max_age_s": 6900.0, "mean_age_s": 6900.0}
    assert report["contacts"]["mean_usage"] == 0.4
    assert report["ground"]["products_verified"] == 4 and report["ground"]["anomalies"] == []
    assert report["mosaics"]["paths"] == ["mosaics/sat-1-p000.tif", "mosaics/sat-1-p000.png"]
    assert report["missing"] == []
    rows = {r["pipeline"]: r for r in report["comparison"]["rows"]}
    assert report["comparison"]["frames"] == 2 and list(rows) == ["bent_pipe", "encode_only", "this_run"]
    assert rows["bent_pipe"]["bytes"] == 2 * 3072 and rows["encode_only"]["saved_fraction"] == 0.25
    assert rows["this_run"]["bytes"] == bw["downlinked_bytes"]
    assert rows["this_run"]["saved_fraction"] == bw["saved_fraction"]
    assert list(report)[:len(report_module.HEADER_KEYS)] == list(report_module.HEADER_KEYS)


def test_report_json_is_deterministic_and_independent_of_location(run_dir, tmp_path):
    first, paths = write_report(run_dir)
    text = (run_dir / "report.json").read_text()
    assert json.loads(text) == first == build_report(run_dir)
    other = tmp_path / "elsewhere"
    shutil.copytree(run_dir / "downlink", other / "downlink")
    shutil.copytree(run_dir / "telemetry", other / "telemetry")
    shutil.copytree(run_dir / "truth", other / "truth")
    shutil.copy(run_dir / "scenario.yaml", other / "scenario.yaml")
    write_report(other)
    assert (other / "report.json").read_text() == text
    assert all(p.is_file() for p in paths)
    assert {p.relative_to(run_dir).as_posix() for p in paths} >= {
        "report.json", "report.md", "plots/latency.png", "plots/contact-bytes.png", "plots/mosaics.png",
        "plots/timeline-sat-1.png", "mosaics/sat-1-p000.tif", "mosaics/sat-1-p000.png"}
    md = (run_dir / "report.md").read_text()
    assert "# orbitedge report: tiny" in md and "INCOMPLETE" not in md
    for section in ("## Summary", "## Frame ledger", "## Latency", "## Contacts", "## Reception anomalies"):
        assert section in md
    assert "![latency histogram](plots/latency.png)" in md


def test_incomplete_run_is_marked_at_the_top_and_html_links_resolve(make_tiny_run, tmp_path):
    run_dir = make_tiny_run(tmp_path / "run", complete=False)
    report, paths = write_report(run_dir, "html")
    assert report["complete"] is False
    page = (run_dir / "report.html").read_text()
    assert page.index("INCOMPLETE") < page.index("Summary")
    sources = [chunk.split('"', 1)[0] for chunk in page.split('<img src="')[1:]]
    assert sources and all((run_dir / src).is_file() for src in sources)


def test_corrupt_product_and_truncated_telemetry_are_anomalies_and_the_rest_is_reported(run_dir):
    product = sorted((run_dir / "downlink").glob("*.raw"))[0]
    product.write_bytes(product.read_bytes()[:-1] + b"\x00")
    ledger = run_dir / "telemetry" / "ledger.jsonl"
    ledger.write_text(ledger.read_text()[:-20])
    report = build_report(run_dir)
    kinds = [(a["kind"], a["file"]) for a in report["ground"]["anomalies"]]
    assert ("corrupt", f"downlink/{product.name}") in kinds
    assert ("truncated_line", "telemetry/ledger.jsonl") in kinds
    assert report["ground"]["products_verified"] == 3
    assert report["mosaics"]["passes"][0]["tiles"] == 3
    assert report["ledger"]["balanced"] is False and report["ledger"]["frames_missing_from_ledger"] == 1


def test_products_alone_still_make_a_report(run_dir):
    shutil.rmtree(run_dir / "telemetry")
    shutil.rmtree(run_dir / "truth")
    report, _ = write_report(run_dir)
    assert report["missing"] == ["telemetry/", "truth/"]
    assert report["complete"] is None and report["scenario"] == "tiny"  # name from scenario.yaml
    assert report["bandwidth"]["raw_bytes"] is None and report["bandwidth"]["downlinked_bytes"] > 0
    assert report["ledger"]["balanced"] is None and report["latency_s"]["count"] == 4
    md = (run_dir / "report.md").read_text()
    assert "Completeness unknown" in md and "Missing from the run directory: telemetry/, truth/" in md


def test_telemetry_alone_still_makes_a_report(run_dir):
    shutil.rmtree(run_dir / "downlink")
    report = build_report(run_dir)
    assert report["missing"] == ["downlink/"] and report["ground"]["products_verified"] == 0
    assert report["latency_s"]["p50"] is None and report["ledger"]["balanced"] is True


def test_added_section_appears_after_the_core_and_is_rendered(run_dir, monkeypatch):
    monkeypatch.setattr(report_module, "SECTIONS", dict(report_module.SECTIONS))
    monkeypatch.setattr(report_module, "RENDERERS", dict(report_module.RENDERERS))
    register_section("extra", lambda run: {"frames": len(run.captures or []), "scores": {"f1": 0.91234567}})
    register_section("absent", lambda run: None)
    with pytest.raises(ValueError, match="already exists"):
        register_section("ledger", lambda run: {})
    report, _ = write_report(run_dir)
    assert list(report)[-2:] == ["extra", "comparison"] and "mosaics" in report and "absent" not in report
    assert report["extra"] == {"frames": 4, "scores": {"f1": 0.912346}}
    md = (run_dir / "report.md").read_text()
    assert "## extra" in md and "| scores.f1 | 0.912346 |" in md
