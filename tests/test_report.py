"""The ground report on small synthetic run directories: keys, determinism, incomplete and partial runs, sections."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import ground.report as report_module
from ground.report import build_report, register_section, write_report
from rundir.codec import EXTENSIONS, encode
from rundir.errors import InputFileError

TILE_PX = 16
GSD_M = 10.0
BANDS = ["B", "G", "R", "NIR"]
REQUIRED = ("scenario", "seed", "complete", "bandwidth.raw_bytes", "bandwidth.downlinked_bytes",
            "bandwidth.saved_fraction", "bandwidth.retransmitted_bytes", "ledger.captured", "ledger.delivered",
            "ledger.dropped", "ledger.dropped_by_reason", "ledger.on_board", "ledger.balanced", "latency_s.p50",
            "latency_s.p90", "latency_s.max", "on_board.bytes", "on_board.max_age_s", "contacts.windows",
            "contacts.mean_usage", "ground.anomalies", "ground.products_verified", "mosaics.paths")


def jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def make_run(run_dir: Path, complete: bool = True) -> Path:
    """A small run: frames f0 and f1 delivered as two tiles each (one pass), f2 dropped, f3 still on board."""
    for sub in ("downlink", "telemetry", "truth"):
        (run_dir / sub).mkdir(parents=True)
    scene = np.random.default_rng(11).integers(0, 4096, (2 * TILE_PX, 2 * TILE_PX, 4), dtype=np.uint16)
    frame_raw_bytes = (2 * TILE_PX * TILE_PX * 4 * 12 + 7) // 8
    captures, manifest = [], []
    for f in range(4):
        frame_id = f"sat-1-f{f:06d}"
        captures.append({"frame_id": frame_id, "satellite": "sat-1", "pass_id": "sat-1-p000", "target": "paris",
                         "t_s": 100.0 * f, "raw_bytes": frame_raw_bytes})
        if f >= 2:
            continue
        for t, fmt in enumerate(("png", "raw")):
            dn = np.ascontiguousarray(scene[f * TILE_PX:(f + 1) * TILE_PX, t * TILE_PX:(t + 1) * TILE_PX])
            data = encode(dn, fmt, 12)
            product_id = f"{frame_id}-t{t:02d}"
            (run_dir / "downlink" / (product_id + EXTENSIONS[fmt])).write_bytes(data)
            manifest.append({
                "id": product_id, "file": product_id + EXTENSIONS[fmt], "satellite": "sat-1", "frame_ids": [frame_id],
                "pass_id": "sat-1-p000", "target": "paris", "capture_t_s": 100.0 * f,
                "downlink_t_s": 1000.0 + 60.0 * (2 * f + t),
                "station": "svalbard", "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "format": fmt,
                "kind": "image", "dtype": "uint16", "bit_depth": 12, "bands": BANDS, "shape": list(dn.shape),
                "footprint": {"epsg": 32631, "x0_m": 448000.0 + t * TILE_PX * GSD_M,
                              "y0_m": 5412000.0 - f * TILE_PX * GSD_M, "gsd_m": GSD_M, "width_px": TILE_PX,
                              "height_px": TILE_PX},
                "raw_bytes": frame_raw_bytes // 2, "stages": ["encode"], "retransmitted_bytes": 100 * t})
    jsonl(run_dir / "downlink" / "manifest.jsonl", manifest)
    (run_dir / "telemetry" / "run.json").write_text(json.dumps({
        "scenario": "tiny", "seed": 42, "start_utc": "2026-06-21T00:00:00.000Z", "duration_s": 7200.0,
        "complete": complete, "wall_time_s": 0.5, "satellites": ["sat-1"], "stations": ["svalbard"]}))
    (run_dir / "scenario.yaml").write_text("name: tiny\nseed: 42\n")
    jsonl(run_dir / "telemetry" / "captures.jsonl", captures)
    rows = [{"frame_id": c["frame_id"], "satellite": "sat-1", "status": s, "reason": r, "products_delivered": d,
             "products_dropped": 0, "dropped_by_reason": {}, "products_on_board": b, "bytes_on_board": 3000 * b,
             "age_s": 6900.0 if b else None}
            for c, (s, r, d, b) in zip(captures, [("delivered", None, 2, 0), ("delivered", None, 2, 0),
                                                  ("dropped", "storage_full", 0, 0), ("on_board", None, 0, 1)])]
    jsonl(run_dir / "telemetry" / "ledger.jsonl", rows)
    jsonl(run_dir / "telemetry" / "processing.jsonl", [
        {"frame_id": c["frame_id"], "satellite": "sat-1", "stages": ["encode"], "burst_frames": 1, "compute_s": 0.1,
         "alternative_bytes": {"bent_pipe": frame_raw_bytes, "encode_only": frame_raw_bytes * 3 // 4}}
        for c in captures[:2]])
    jsonl(run_dir / "telemetry" / "contacts.jsonl", [
        {"satellite": "sat-1", "station": "svalbard", "aos_t_s": 950.0, "los_t_s": 1550.0, "max_elevation_deg": 45.0,
         "used_s": 240.0, "bytes_sent": sum(m["bytes"] for m in manifest), "tracked": True}])
    jsonl(run_dir / "telemetry" / "timeline.jsonl", [
        {"satellite": "sat-1", "t_s": float(t), "storage_bytes": 1000 * (t % 900), "battery_wh": 40.0,
         "battery_soc": 0.8, "sunlit": t < 3000, "computing": False, "transmitting": False}
        for t in range(0, 7200, 300)])
    return run_dir


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    return make_run(tmp_path / "run")


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


def test_incomplete_run_is_marked_at_the_top_and_html_links_resolve(tmp_path):
    run_dir = make_run(tmp_path / "run", complete=False)
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


@pytest.mark.parametrize("make", [lambda p: p / "absent", lambda p: p])
def test_not_a_run_directory_names_it(tmp_path, make):
    with pytest.raises(InputFileError) as err:
        build_report(make(tmp_path))
    assert err.value.path == str(make(tmp_path))


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
