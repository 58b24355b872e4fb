"""onboard.sim.recorder: what a run writes into its run directory, product by product, read back as the ground reads it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import simpy
from hypothesis import given
from hypothesis import strategies as st

from onboard.scenario.config import load_scenario
from onboard.sim.downlink import ContactLog
from onboard.pipeline.stages import Context, tile_georef
from onboard.pipeline.tile import Tile, TileMeta, Work
from onboard.sensing.projection import GridFootprint
from onboard.sim.recorder import Recorder, iso_utc, manifest_line, write_frame_evaluation
from onboard.sim.storage import Item, Storage
from onboard.sensing.world import BAND_CENTRES_UM, SYNTHETIC_BANDS
from rundir.codec import Georef, encode
from rundir.manifest import ManifestLine
from rundir.run_info import RunInfo
from rundir.telemetry import ContactRecord, LedgerRow, TimelineSample

ROOT = Path(__file__).parents[1]
START = dt.datetime(2026, 6, 21, tzinfo=dt.timezone.utc)
INFO = RunInfo("quickstart", 42, "2026-06-21T00:00:00.000Z", 3600.0, False, 0.0, ["sat-1"], ["svalbard"])


@given(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1),
                    timezones=st.just(dt.timezone.utc)))
def test_iso_utc_keeps_the_millisecond(when):
    shown = iso_utc(when)
    assert shown.endswith("Z") and len(shown) == len("2026-06-21T00:00:00.000Z")
    parsed = dt.datetime.fromisoformat(shown.replace("Z", "+00:00"))
    assert dt.timedelta(0) <= when - parsed < dt.timedelta(milliseconds=1)


@pytest.fixture(scope="module")
def camera():
    return load_scenario(ROOT / "scenarios" / "quickstart.yaml").spacecraft.camera


def frame_and_capture(camera, t_s: float = 120.0):
    h, w = camera.height_px, camera.width_px
    truth = SimpleNamespace(cloud=np.zeros((h, w), np.uint8), shadow=np.zeros((h, w), bool),
                            landcover=np.ones((h, w), np.uint8), valid=np.ones((h, w), bool))
    footprint = GridFootprint.centred(48.85, 2.35, 32631, camera.gsd_m, w, h)
    frame = SimpleNamespace(frame_id="sat-1-f00000", satellite="sat-1", time_utc=START + dt.timedelta(seconds=t_s),
                            footprint=footprint, truth=truth, burst=None)
    cap = SimpleNamespace(pass_id="sat-1-p000", target="paris", t_s=t_s, lat_deg=48.85, lon_deg=2.35,
                          sun_elevation_deg=40.0, off_nadir_deg=3.0, priority=1)
    return frame, cap


def product(recorder: Recorder, camera, frame, cap) -> tuple[Work, ManifestLine]:
    dn = np.random.default_rng(3).integers(0, 2**camera.bit_depth, (32, 32, len(camera.bands)), dtype=np.uint16)
    tile = Tile(dn, 64, 32, payload=encode(dn, "png", camera.bit_depth), format="png")
    work = Work(frame, [tile], stages=["encode"], sim_s=1.5, sim_stage_s={"encode": 1.5}, wall_s={"encode": 0.01},
                alternative_bytes={"bent_pipe": camera.raw_bytes})
    ctx = Context(bands=tuple(camera.bands), bit_depth=camera.bit_depth,
                  reflectance_per_dn=camera.reflectance_max / camera.dn_max, cpu_relative=1.0, int8_conv_relative=1.0,
                  band_centres_um=tuple(float(BAND_CENTRES_UM[SYNTHETIC_BANDS.index(b)]) for b in camera.bands))
    recorder.processed(work, "projected")
    return work, recorder.stored(frame, cap, tile, 0, work.stages, tile_georef(frame, tile, ctx))


def test_the_manifest_line_carries_the_tile_meta(camera):
    frame, cap = frame_and_capture(camera)
    dn = np.zeros((64, 32, len(camera.bands)), np.uint16)
    meta = TileMeta(scale=2, cloud_fraction=0.25, clear_px=300, masked=True, cloudy=np.ones((32, 16), bool),
                    burst_frames=8, lossless=True, max_error_dn=0, dn_sha256="ab" * 32)
    georef = Georef(32631, 0.0, 0.0, camera.gsd_m / 2, tuple(camera.bands), 0.01, None, (0.5,) * len(camera.bands))
    line = manifest_line(frame, cap, Tile(dn, 128, 64, format="png", priority=3, meta=meta), 5, ["encode"], georef,
                         camera)
    record = line.to_json()
    assert {k: record[k] for k in ("id", "scale", "cloud_fraction", "clear_px", "value", "masked", "burst_frames",
                                   "lossless", "max_error_dn", "dn_sha256", "bit_depth")} == {
        "id": "sat-1-f00000-t05", "scale": 2, "cloud_fraction": 0.25, "clear_px": 300, "value": 900, "masked": True,
        "burst_frames": 8, "lossless": True, "max_error_dn": 0, "dn_sha256": "ab" * 32, "bit_depth": camera.bit_depth}
    assert record["raw_bytes"] == 8 * ((32 * 16 * len(camera.bands) * camera.bit_depth + 7) // 8)  # 8 frames of it
    assert "burst_frame" not in record and "cloudy" not in record
    raw = manifest_line(frame, cap, Tile(dn, 0, 0, format="raw", meta=TileMeta(burst_frame=3, clear_px=70)), 1,
                        ["bent_pipe"], georef, camera).to_json()
    assert raw["id"] == "sat-1-f00000-b03-t01" and raw["burst_frame"] == 3
    assert (raw["clear_px"], raw["value"]) == (70, 70)  # as the pipeline worked it out (tile.with_clear_px)
    assert not {"masked", "burst_frames", "lossless", "cloud_fraction"} & set(raw)


def test_a_delivered_product_reads_back_as_the_ground_reads_it(tmp_path, camera):
    recorder = Recorder(tmp_path, START, camera)
    recorder.start(INFO)
    frame, cap = frame_and_capture(camera)
    recorder.captured(frame, cap, camera.raw_bytes, 1)
    work, line = product(recorder, camera, frame, cap)
    onboard = tmp_path / "onboard" / line.file
    assert line.sha256 == hashlib.sha256(onboard.read_bytes()).hexdigest()
    assert line.bytes == onboard.stat().st_size + sum(s.bytes for s in line.sidecars or ())
    recorder.delivered(Item(line.id, (frame.frame_id,), line.bytes, 1, "product", data=line), 900.25, "svalbard")
    recorder.contacts.append(ContactLog("sat-1", "svalbard", 850.0, 1450.0, 45.0, True, 240.0, 1.5e6, 1))
    recorder.sampled(TimelineSample("sat-1", 0.0, 0, 80.0, 0.8, True, False, False))
    assert (tmp_path / "telemetry" / "timeline.jsonl").read_text().count("\n") == 1  # on disk as it is taken
    recorder.finish(1000.0, [], dataclasses.replace(INFO, complete=True))
    assert (tmp_path / "downlink" / line.file).is_file() and not onboard.exists()
    [record] = [json.loads(s) for s in (tmp_path / "downlink" / "manifest.jsonl").read_text().splitlines()]
    parsed, problems = ManifestLine.parse(record)
    assert problems == [] and parsed.station == "svalbard" and parsed.downlink_t_s == 900.25
    assert parsed.downlink_utc == "2026-06-21T00:15:00.250Z" and parsed.tile.row0 == 64
    [capture] = [json.loads(s) for s in (tmp_path / "telemetry" / "captures.jsonl").read_text().splitlines()]
    assert (capture["frame_id"], capture["utc"], capture["raw_bytes"]) == (frame.frame_id, iso_utc(frame.time_utc),
                                                                           camera.raw_bytes)
    with np.load(tmp_path / "truth" / f"{frame.frame_id}.npz") as truth:
        assert set(truth.files) == {"cloud", "shadow", "landcover", "valid"}
    [ledger] = [json.loads(s) for s in (tmp_path / "telemetry" / "ledger.jsonl").read_text().splitlines()]
    assert (ledger["status"], ledger["products_delivered"]) == ("delivered", 1)
    [processing] = [json.loads(s) for s in (tmp_path / "telemetry" / "processing.jsonl").read_text().splitlines()]
    assert processing["compute_s"] == work.sim_s and processing["compute_timing"] == "projected"
    info = json.loads((tmp_path / "telemetry" / "run.json").read_text())
    assert RunInfo.parse(info, "telemetry/run.json") == dataclasses.replace(INFO, complete=True)
    assert info["complete"] is True and "stopped" not in info  # a None left out where the record says so
    [contact] = [json.loads(s) for s in (tmp_path / "telemetry" / "contacts.jsonl").read_text().splitlines()]
    assert ContactRecord.parse(contact, "telemetry/contacts.jsonl", 1) == ContactRecord(
        "sat-1", "svalbard", 850.0, 1450.0, 45.0, True, 240.0, 1_500_000, 600.0, 1, 0.0)
    [sample] = [json.loads(s) for s in (tmp_path / "telemetry" / "timeline.jsonl").read_text().splitlines()]
    assert sample["battery_soc"] == 0.8 and sample["sunlit"] is True


def test_a_product_without_room_and_an_evicted_frame_are_dropped(tmp_path, camera):
    recorder = Recorder(tmp_path, START, camera)
    recorder.start(INFO)
    frame, cap = frame_and_capture(camera)
    recorder.captured(frame, cap, camera.raw_bytes, 1)
    _, line = product(recorder, camera, frame, cap)
    recorder.refused(line, frame.frame_id)
    assert list((tmp_path / "onboard").iterdir()) == []
    left = Item("sat-1-f00001", ("sat-1-f00001",), 4000, 1, "raw")
    recorder.ledger.captured("sat-1-f00001", "sat-1", 500.0)
    recorder.finish(1000.0, [left], INFO)
    text = (tmp_path / "telemetry" / "ledger.jsonl").read_text().splitlines()
    rows = {r.frame_id: r for r in (LedgerRow.parse(json.loads(s), "telemetry/ledger.jsonl", n)
                                    for n, s in enumerate(text, start=1))}
    assert rows[frame.frame_id].dropped_by_reason == {"storage_full": 1} and rows[frame.frame_id].reason == "storage_full"
    assert rows["sat-1-f00001"].bytes_on_board == 4000 and rows["sat-1-f00001"].age_s == 500.0


def test_the_ledger_counts_what_storage_holds_a_product_caught_mid_transfer_whole(tmp_path, camera):
    """cubesat_sband said 133,271,575 B left on board where its storage held 136,817,166 B: a product caught
    mid-transfer counted only its unsent part. It resumes at the next contact, but it is on board whole, and no part
    of it reached the ground as a product: the ledger's bytes on board are what storage holds."""
    recorder = Recorder(tmp_path, START, camera)
    recorder.start(INFO)
    storage = Storage(simpy.Environment(), 10_000, "drop_oldest", lambda item, reason: None)
    for n, (kind, size_bytes, sent_bytes) in enumerate((("raw", 4000, 0.0), ("product", 3000, 1200.5),
                                                        ("product", 2000, 0.0))):
        frame_id = f"sat-1-f{n:05d}"
        recorder.ledger.captured(frame_id, "sat-1", 100.0 * n)
        assert storage.put(Item(f"{frame_id}-t00", (frame_id,), size_bytes, 1, kind, sent_bytes=sent_bytes,
                                on_air_bytes=size_bytes + 100 if sent_bytes else None))
    recorder.finish(1000.0, storage.items, INFO)
    text = (tmp_path / "telemetry" / "ledger.jsonl").read_text().splitlines()
    rows = [LedgerRow.parse(json.loads(s), "telemetry/ledger.jsonl", n) for n, s in enumerate(text, start=1)]
    assert [r.bytes_on_board for r in rows] == [4000, 3000, 2000]
    assert sum(r.bytes_on_board for r in rows) == storage.used_bytes


def test_a_frame_computed_ahead_keeps_its_evaluation_on_disk_only_if_it_finishes(tmp_path, camera):
    """The frame pool's frames wait in storage with their evaluation already on disk, written by their worker and
    moved into place when the simulation takes them (Recorder.spill), the worker's folder gone: the file stays for
    a frame that is processed, and goes for one evicted or still waiting at the end."""
    recorder = Recorder(tmp_path, START, camera)
    recorder.start(INFO)
    works = {}
    for n, fate in enumerate(("processed", "evicted", "waiting")):
        frame, cap = frame_and_capture(camera, 100.0 + n)
        frame = SimpleNamespace(**{**vars(frame), "frame_id": f"sat-1-f{n:05d}"})
        recorder.ledger.captured(frame.frame_id, "sat-1", cap.t_s)
        works[fate] = Work(frame, [], evaluation={"probability": np.full((4, 4), n, np.float32)},
                           alternative_bytes={"bent_pipe": camera.raw_bytes}, records_dir=tmp_path / "pool" / str(n))
        write_frame_evaluation(works[fate].records_dir, works[fate])  # as its worker does (frame_pool.frame_records)
        works[fate].evaluation = {}
        recorder.spill(works[fate])
        assert (tmp_path / "evaluation" / f"{frame.frame_id}.npz").is_file()
        assert not works[fate].records_dir.exists()
    recorder.processed(works["processed"], "projected")
    evicted = works["evicted"].frame.frame_id
    recorder.evicted(Item(evicted, (evicted,), 100, 1, "raw"), "storage_full")
    recorder.finish(1000.0, [], INFO)
    assert sorted(p.name for p in (tmp_path / "evaluation").iterdir()) == ["sat-1-f00000.npz"]
    with np.load(tmp_path / "evaluation" / "sat-1-f00000.npz") as kept:
        assert kept["probability"].tolist() == np.zeros((4, 4)).tolist()  # the file processed() would have written
