"""Shared fixtures: a tiny synthetic run directory that the ground's modules read (report, its sections, plots)."""

from __future__ import annotations

import hashlib
import json
import signal
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from rundir.codec import EXTENSIONS, encode

TILE_PX = 16
GSD_M = 10.0
BANDS = ["B", "G", "R", "NIR"]
FRAME_RAW_BYTES = (2 * TILE_PX * TILE_PX * 4 * 12 + 7) // 8  # one 32 x 16 px frame, 4 bands, 12 bit packed


def jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def make_run(run_dir: Path, complete: bool = True) -> Path:
    """A small run: frames f0 and f1 delivered as two tiles each (one pass), f2 dropped, f3 still on board."""
    for sub in ("downlink", "telemetry", "truth"):
        (run_dir / sub).mkdir(parents=True)
    scene = np.random.default_rng(11).integers(0, 4096, (2 * TILE_PX, 2 * TILE_PX, 4), dtype=np.uint16)
    captures, manifest = [], []
    for f in range(4):
        frame_id = f"sat-1-f{f:06d}"
        captures.append({"frame_id": frame_id, "satellite": "sat-1", "pass_id": "sat-1-p000", "target": "paris",
                         "t_s": 100.0 * f, "utc": f"2026-06-21T00:0{f}:40.000Z", "raw_bytes": FRAME_RAW_BYTES,
                         "burst_frames": 1,
                         "footprint": {"epsg": 32631, "x0_m": 448000.0, "y0_m": 5412000.0 - f * TILE_PX * GSD_M,
                                       "gsd_m": GSD_M, "width_px": 2 * TILE_PX, "height_px": TILE_PX},
                         "centre_lat_deg": 48.86, "centre_lon_deg": 2.35, "sun_elevation_deg": 40.0,
                         "off_nadir_deg": 5.0})
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
                "reflectance_per_dn": 1.2 / 4095,
                "tile": {"row0": 0, "col0": t * TILE_PX, "height": TILE_PX, "width": TILE_PX,
                         "frame_height": TILE_PX, "frame_width": 2 * TILE_PX},
                "footprint": {"epsg": 32631, "x0_m": 448000.0 + t * TILE_PX * GSD_M,
                              "y0_m": 5412000.0 - f * TILE_PX * GSD_M, "gsd_m": GSD_M, "width_px": TILE_PX,
                              "height_px": TILE_PX},
                "raw_bytes": FRAME_RAW_BYTES // 2, "stages": ["encode"], "retransmitted_bytes": 100 * t})
    jsonl(run_dir / "downlink" / "manifest.jsonl", manifest)
    (run_dir / "telemetry" / "run.json").write_text(json.dumps({
        "scenario": "tiny", "seed": 42, "start_utc": "2026-06-21T00:00:00.000Z", "duration_s": 7200.0,
        "complete": complete, "wall_time_s": 0.5, "satellites": ["sat-1"], "stations": ["svalbard"]}))
    (run_dir / "scenario.yaml").write_text("name: tiny\nseed: 42\n")
    jsonl(run_dir / "telemetry" / "captures.jsonl", captures)
    rows = [{"frame_id": c["frame_id"], "satellite": "sat-1", "status": s, "reason": r, "products_delivered": d,
             "products_dropped": 0, "dropped_by_reason": {}, "decided_by_stage": {}, "products_on_board": b, "bytes_on_board": 3000 * b,
             "age_s": 6900.0 if b else None}
            for c, (s, r, d, b) in zip(captures, [("delivered", None, 2, 0), ("delivered", None, 2, 0),
                                                  ("dropped", "storage_full", 0, 0), ("on_board", None, 0, 1)])]
    jsonl(run_dir / "telemetry" / "ledger.jsonl", rows)
    jsonl(run_dir / "telemetry" / "processing.jsonl", [
        {"frame_id": c["frame_id"], "satellite": "sat-1", "stages": ["encode"], "burst_frames": 1, "compute_s": 0.1,
         "compute_timing": "projected", "compute_stage_s": {"encode": 0.1}, "wall_s": {"encode": 0.02},
         "tiles_kept": 2, "tiles_dropped": 0,
         "alternative_bytes": {"bent_pipe": FRAME_RAW_BYTES, "encode_only": FRAME_RAW_BYTES * 3 // 4}}
        for c in captures[:2]])
    jsonl(run_dir / "telemetry" / "contacts.jsonl", [
        {"satellite": "sat-1", "station": "svalbard", "aos_t_s": 950.0, "los_t_s": 1550.0, "max_elevation_deg": 45.0,
         "used_s": 240.0, "bytes_sent": sum(m["bytes"] for m in manifest), "tracked": True}])
    jsonl(run_dir / "telemetry" / "timeline.jsonl", [
        {"satellite": "sat-1", "t_s": float(t), "storage_bytes": 1000 * (t % 900), "battery_wh": 40.0,
         "battery_soc": 0.8, "sunlit": t < 3000, "brownout": False, "computing": False}
        for t in range(0, 7200, 300)])
    return run_dir


@pytest.fixture
def ctrl_c():
    """Python's own Ctrl-C handler (SIGINT raises KeyboardInterrupt) for a test that sends itself SIGINT: a shell's
    background job (make test under nohup or `&`) starts with SIGINT ignored, which Python then keeps."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.fixture
def make_tiny_run() -> Callable[..., Path]:
    """:func:`make_run`: ``make_tiny_run(run_dir, complete=True)`` writes the tiny run and returns its directory."""
    return make_run


@pytest.fixture
def tiny_run(tmp_path: Path) -> Path:
    """The tiny run, complete, in ``tmp_path/run``."""
    return make_run(tmp_path / "run")
