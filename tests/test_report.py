"""The ground report on small synthetic run directories (tests/conftest.py): keys, determinism, incomplete and
partial runs, added sections."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import ground.report as report_module
from ground.document import Paragraph, fmt_bytes, fmt_fraction
from ground.report import build_report, register_section, write_report
from rundir.files import WRITTEN_LIST

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
    assert report["comparison"]["frames"] == 2 and list(rows) == [  # single frames: no bent_pipe (burst) row
        "bent_pipe_single", "encode_only", "best_lossless", "lossy_same_bytes", "this_run"]
    assert rows["encode_only"]["bytes"] == 2 * 3072 * 3 // 4
    assert rows["this_run"]["bytes"] == bw["downlinked_bytes"]
    assert all(r["saved_vs_burst_fraction"] is None for r in rows.values())
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


def test_a_report_in_one_format_removes_the_earlier_one_in_the_other(make_tiny_run, tmp_path):
    """report.md from an earlier report would no longer match report.json beside a new report.html."""
    run_dir = make_tiny_run(tmp_path / "run")
    _, md_paths = write_report(run_dir, "md")
    assert (run_dir / "report.md") in md_paths
    _, html_paths = write_report(run_dir, "html")
    assert (run_dir / "report.html").is_file() and not (run_dir / "report.md").exists()
    assert (run_dir / "report.md") not in html_paths
    write_report(run_dir, "md")
    assert (run_dir / "report.md").is_file() and not (run_dir / "report.html").exists()


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
    # without run.json the pipeline is the one the products' manifest lines record, not "no stages"
    stages = " > ".join(json.loads((run_dir / "downlink" / "manifest.jsonl").read_text().splitlines()[0])["stages"])
    assert stages and f"({stages})" in report["verdict"] and "no stages" not in report["verdict"]
    assert next(r for r in report["comparison"]["rows"] if r["pipeline"] == "this_run")["label"] == \
        f"this run: {stages}"


def test_a_report_made_again_leaves_no_mosaic_or_figure_its_products_no_longer_back(run_dir):
    """Products lost since the last report (deleted, or now failing verification) take their mosaics and figures
    with them: a GIS loading mosaics/*.tif saw a pass no verified product backs. A user's own files there stay (the
    report once deleted them)."""
    first, _ = write_report(run_dir)
    before = {p.relative_to(run_dir) for p in (run_dir / "mosaics").iterdir()} | \
        {p.relative_to(run_dir) for p in (run_dir / "plots").iterdir()}
    assert first["mosaics"]["paths"] and {Path(p) for p in first["mosaics"]["paths"]} <= before
    shutil.rmtree(run_dir / "downlink")
    mine = [run_dir / "mosaics" / "notes.txt", run_dir / "plots" / "custom.png", run_dir / "stac" / "mine" / "a.json"]
    for path in mine:
        path.parent.mkdir(exist_ok=True)
        path.write_text("mine")
    report, written = write_report(run_dir)
    assert all(path.read_text() == "mine" for path in mine)
    assert report["mosaics"]["paths"] == []
    assert {p.name for p in (run_dir / "mosaics").iterdir()} == {"notes.txt", WRITTEN_LIST}
    assert {p.relative_to(run_dir) for p in (run_dir / "plots").iterdir()} == \
        {p.relative_to(run_dir) for p in written if p.parent.name == "plots"} | {Path("plots/custom.png"),
                                                                                 Path("plots", WRITTEN_LIST)}


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


def test_every_step_is_announced_once_in_order_added_sections_included(run_dir, monkeypatch):
    monkeypatch.setattr(report_module, "SECTIONS", dict(report_module.SECTIONS))
    monkeypatch.setattr(report_module, "RENDERERS", dict(report_module.RENDERERS))
    register_section("extra", lambda run: {"frames": len(run.captures or [])})
    seen = []
    write_report(run_dir, progress=seen.append)
    assert seen == report_module.report_steps()
    assert seen[0] == "verifying and stitching" and seen[-4:] == ["comparison", "plots", "documents", "STAC catalog"]
    assert "extra" in seen and set(report_module.CORE_SECTIONS) < set(seen)


def test_verdict_opens_the_report_and_warnings_follow(run_dir):
    report, _ = write_report(run_dir)
    assert list(report)[:2] == ["scenario", "verdict"]
    rows_ = {r["pipeline"]: r for r in report["comparison"]["rows"]}
    assert rows_["this_run"]["bytes"] > rows_["encode_only"]["bytes"]  # the tiny run ships a raw tile
    assert report["verdict"] == (
        f"On-board processing (no stages) sends {rows_['this_run']['bytes'] / rows_['encode_only']['bytes']:.1f}x "
        f"MORE image bytes ({fmt_bytes(rows_['this_run']['bytes'])}) than lossless encoding alone (4.61 kB): it costs "
        "downlink here, and loses no clear ground, over the 2 of 4 captured frames that finished. The other 2 "
        "captured frames are in no row of the comparison: 1 still on board, 1 lost on board (storage_full). Mass "
        "memory ran out, so here what the pipeline keeps on board decides how many scenes last until a pass.")
    lines = (run_dir / "report.md").read_text().splitlines()
    assert lines[0] == "# orbitedge report: tiny" and lines[2] == f"**Verdict: {report['verdict']}**"
    assert lines[4].startswith("**Contents:** [Summary](#summary) · [Bandwidth](#bandwidth)")


def test_section_warnings_reach_the_top_of_the_report(run_dir, monkeypatch):
    monkeypatch.setattr(report_module, "SECTIONS", dict(report_module.SECTIONS))
    register_section("harm", lambda run: {"warnings": ["first finding", "second finding"], "warning": "old style"})
    report, _ = write_report(run_dir)
    assert report["warnings"] == ["old style", "first finding", "second finding"]
    md = (run_dir / "report.md").read_text()
    assert md.index("**WARNING: first finding**") < md.index("**WARNING: second finding**") < md.index("## Summary")


def test_the_models_a_run_ran_are_named_once_in_the_opening_table(run_dir):
    run_json = run_dir / "telemetry" / "run.json"
    info = json.loads(run_json.read_text())
    card = {"file": "cloud_bgrn_int8", "name": "cloud-unet-bgrn-int8", "version": "2.0.0", "sha256": "ab" * 32}
    run_json.write_text(json.dumps({**info, "models": {"cloud_filter": card}}))
    report, _ = write_report(run_dir)
    assert report["models"] == {"cloud_filter": card}
    text = (run_dir / "report.md").read_text()
    assert text.count("cloud-unet-bgrn-int8") == 1 and "| model (cloud_filter) | cloud_bgrn_int8 (" in text
    assert "## models" not in text and text.index("model (cloud_filter)") < text.index("## Summary")


def test_a_run_without_a_verdict_is_not_headed_as_one():
    """"No verdict: ..." opens the report as it is, not as "Verdict: No verdict: ..."."""
    none = report_module.header_blocks({"scenario": "x", "verdict": "No verdict: nothing was captured."})
    some = report_module.header_blocks({"scenario": "x", "verdict": "On-board AI (encode) sends ..."})
    assert none[1] == Paragraph("No verdict: nothing was captured.", strong=True)
    assert some[1] == Paragraph("Verdict: On-board AI (encode) sends ...", strong=True)


def test_the_summary_gives_the_passes_busy_share_the_verdict_uses(run_dir):
    """The verdict says how busy the passes were by the time-weighted share of all windows (contacts.total_usage);
    the summary table gave the mean over tracked windows, another figure under a like name (97.9 % against the
    verdict's 97.2 % in an audit of cubesat_sband)."""
    report, _ = write_report(run_dir)
    md = (run_dir / "report.md").read_text()
    usage = report["contacts"]["total_usage"]
    row = next(line for line in md.splitlines() if line.startswith("| passes busy"))
    assert row == f"| passes busy (share of their time, as in the verdict) | {fmt_fraction(usage)} |"


@pytest.mark.parametrize("folder", ["truth", "evaluation"])
def test_a_damaged_truth_or_evaluation_file_is_a_clear_error_and_the_report_stays(tmp_path, capsys, folder):
    """A truth/ or evaluation/ .npz overwritten or cut short: `orbitedge report` names the file (exit 2, no
    traceback), and the report already there is left as it was."""
    from app.cli import main
    from tests.report_run import sweep_run

    run_dir = shutil.copytree(sweep_run().run_dir, tmp_path / "run")
    before = (run_dir / "report.json").read_bytes()
    damaged = sorted((run_dir / folder).glob("*.npz"))[0]
    damaged.write_bytes(damaged.read_bytes()[:300])
    assert main(["report", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert f"{damaged}: not a readable .npz archive of arrays" in err and "Traceback" not in err
    assert (run_dir / "report.json").read_bytes() == before
