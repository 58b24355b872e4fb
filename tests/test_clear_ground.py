"""ground.clear_ground: the truly clear pixels of each finished frame that reached the ground, whatever stage
withheld the rest, on the tiny run (tests/conftest.py: frames f0 and f1 delivered as two 16 px tiles each) given
truth, hand-counted."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml
import pytest

from app.cli import main
from conftest import TILE_PX, jsonl
from ground import clear_ground
from ground.run_data import load_run

ROOT = Path(__file__).resolve().parents[1]
FRAMES = ("sat-1-f000000", "sat-1-f000001")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def run_dir(make_tiny_run, tmp_path: Path) -> Path:
    """The tiny run with its tiles' geometry in the manifest and a truth for each delivered frame: (16, 32) px,
    cloud 0 clear, 1 thin, 2 thick, 255 unknown, and a row of invalid pixels."""
    run_dir = make_tiny_run(tmp_path / "run")
    manifest = read_jsonl(run_dir / "downlink" / "manifest.jsonl")
    for line in manifest:
        t = int(line["id"][-2:])
        line["tile"] = {"row0": 0, "col0": t * TILE_PX, "height": TILE_PX, "width": TILE_PX, "frame_height": TILE_PX,
                        "frame_width": 2 * TILE_PX}
    jsonl(run_dir / "downlink" / "manifest.jsonl", manifest)
    rng = np.random.default_rng(3)
    for frame_id in FRAMES:
        cloud = rng.choice(np.array([0, 0, 1, 2, 255], np.uint8), (TILE_PX, 2 * TILE_PX))
        valid = np.ones(cloud.shape, bool)
        valid[0] = False
        np.savez(run_dir / "truth" / f"{frame_id}.npz", cloud=cloud, valid=valid)
    return run_dir


def truly_clear(run_dir: Path, frame_id: str) -> np.ndarray:
    with np.load(run_dir / "truth" / f"{frame_id}.npz") as truth:
        return truth["valid"] & (truth["cloud"] == 0)


def drop_right_tile_of_f1(run_dir: Path, decided: bool) -> None:
    """f1's right tile never went down: a stage's decision (``decided``, with the stage's own reason) or a loss."""
    manifest = read_jsonl(run_dir / "downlink" / "manifest.jsonl")
    jsonl(run_dir / "downlink" / "manifest.jsonl", [m for m in manifest if m["id"] != f"{FRAMES[1]}-t01"])
    for path in (run_dir / "downlink").glob(f"{FRAMES[1]}-t01*"):
        path.unlink()
    ledger = read_jsonl(run_dir / "telemetry" / "ledger.jsonl")
    reason = "ocean" if decided else "storage_full"
    ledger[1].update(products_delivered=1, products_dropped=1, dropped_by_reason={reason: 1},
                     decided_by_stage={"ocean_mask": {"ocean": 1}} if decided else {})
    jsonl(run_dir / "telemetry" / "ledger.jsonl", ledger)


def test_every_pixel_delivered_loses_nothing(run_dir):
    run = load_run(run_dir)
    frames = list(clear_ground.frames(run))
    assert not run.anomalies and [f.frame_id for f in frames] == list(FRAMES) and all(f.delivered.all() for f in frames)
    assert [f.clear_px for f in frames] == [int(truly_clear(run_dir, f).sum()) for f in FRAMES]
    assert clear_ground.lost_fraction(run, list(FRAMES)) == 0.0 and not clear_ground.withheld(run, list(FRAMES))


def test_a_tile_a_stage_dropped_loses_its_clear_pixels(run_dir):
    drop_right_tile_of_f1(run_dir, decided=True)
    run = load_run(run_dir)
    clear = [truly_clear(run_dir, f) for f in FRAMES]
    expected = clear[1][:, TILE_PX:].sum() / (clear[0].sum() + clear[1].sum())
    assert 0 < expected < 1 and clear_ground.lost_fraction(run, list(FRAMES)) == pytest.approx(expected, abs=1e-12)
    assert clear_ground.withheld(run, [FRAMES[1]]) and not clear_ground.withheld(run, [FRAMES[0]])
    assert clear_ground.lost_fraction(run, [FRAMES[0]]) == 0.0


def test_a_bursts_clear_ground_is_the_ground_some_frame_of_it_saw_clear(run_dir):
    """f1 made a burst: its truth/ gains the layers of a burst at twice the resolution, ``hr_clear`` the ground some
    frame saw clear. Its clear pixels are those at each pixel's centre (odd rows and columns of ``hr_clear``), not
    frame 0's: the cloud frame 0 saw over the left tile, which the other frames saw through, is clear ground (fusion
    restores it), and ground frame 0 saw clear but no frame could use (its first column) is not. Dropping f1's right
    tile loses its clear ground, on that basis."""
    path = run_dir / "truth" / f"{FRAMES[1]}.npz"
    with np.load(path) as truth:
        cloud, valid = truth["cloud"].copy(), truth["valid"]
    cloud[cloud != 255] = 0
    cloud[:, :TILE_PX] = 1  # frame 0's passing cloud
    seen_clear = np.ones((2 * TILE_PX, 4 * TILE_PX), bool)
    seen_clear[:, :2] = False  # the first column: cloudy in every frame
    np.savez(path, cloud=cloud, valid=valid, hr_clear=seen_clear, hr_reflectance=np.zeros((*seen_clear.shape, 4)),
             shifts_px=np.zeros((8, 2)))
    scored = valid & (cloud != 255)
    clear = scored.copy()
    clear[:, 0] = False
    frame = list(clear_ground.frames(load_run(run_dir)))[1]
    np.testing.assert_array_equal(frame.clear, clear)
    assert frame.clear_px == int(clear.sum()) > int((scored & (cloud == 0)).sum())
    drop_right_tile_of_f1(run_dir, decided=True)
    expected = clear[:, TILE_PX:].sum() / (truly_clear(run_dir, FRAMES[0]).sum() + clear.sum())
    assert clear_ground.lost_fraction(load_run(run_dir), list(FRAMES)) == pytest.approx(expected, abs=1e-12)


def test_a_frame_that_lost_a_product_is_not_finished_and_not_counted(run_dir):
    drop_right_tile_of_f1(run_dir, decided=False)  # storage_full: a loss, not the pipeline's doing
    run = load_run(run_dir)
    assert [f.frame_id for f in clear_ground.frames(run)] == [FRAMES[0]]


def test_without_truth_the_loss_is_zero_only_when_nothing_was_withheld(run_dir):
    (run_dir / "truth" / f"{FRAMES[0]}.npz").unlink()
    assert clear_ground.lost_fraction(load_run(run_dir), list(FRAMES)) == 0.0
    drop_right_tile_of_f1(run_dir, decided=True)
    assert clear_ground.lost_fraction(load_run(run_dir), list(FRAMES)) is None


def test_real_imagery_without_a_mask_has_no_frame_to_score_whatever_its_bursts_clouds(run_dir):
    """On real Landsat bursts without world.mask the truth knew only the burst's moving frame clouds, laid over real
    pixels whose own clouds nothing knows, and the report scored the cloud filter on them alone: F1 99.9 % "on this
    run's truth", 0.0 % clear ground lost. Without a mask no frame is scored; with one (or synthetic), as before."""
    assert len(list(clear_ground.frames(load_run(run_dir)))) == len(FRAMES)
    scenario = yaml.safe_load((run_dir / "scenario.yaml").read_text()) or {}
    world = {"source": "geotiff", "bands": {"R": "r.tif"}}
    (run_dir / "scenario.yaml").write_text(yaml.safe_dump({**scenario, "world": world}))
    assert list(clear_ground.frames(load_run(run_dir))) == []
    (run_dir / "scenario.yaml").write_text(yaml.safe_dump({**scenario, "world": {**world, "mask": "m.tif"}}))
    assert len(list(clear_ground.frames(load_run(run_dir)))) == len(FRAMES)


def test_cloud_masked_out_reaches_the_ground_as_fill_through_a_lossy_codec_too(tmp_path):
    """The quickstart's pass over the Alps, Paris and Brittany in single frames, the spectral cloud test masking the
    cloudy tiles out, then TIFF (lossless) or JPEG 2000 at 2 bits a sample: the lossy codec does not keep the fill's
    DN 0, so each masked product goes down with its .msk sidecar, and the ground sees exactly the pixels it sees
    through the lossless codec (before the sidecar, hundreds of thousands of masked cloud pixels came back as dark
    ground and hid the clear ones the filter took)."""
    masking = "{stage: cloud_filter, method: spectral, tile_px: 64, max_cloud_fraction: 0.3, action: mask}"
    runs = {}
    for name, encode in (("lossless", "{stage: encode, format: tiff}"),
                         ("lossy", "{stage: encode, format: jpeg2000, bits_per_sample: 2}")):
        out = tmp_path / name
        assert main(["run", str(ROOT / "scenarios" / "quickstart.yaml"), "--out", str(out), "--quiet",
                     "--set", "start_utc=2026-06-21T09:40:00Z", "--set", "duration_h=0.35",
                     "--set", f"pipeline=[{masking}, {encode}]"]) == 0
        runs[name] = {f.frame_id: f for f in clear_ground.frames(load_run(out))}
    lossy_lines = read_jsonl(tmp_path / "lossy" / "downlink" / "manifest.jsonl")
    masked = [line for line in lossy_lines if line.get("masked")]
    assert masked and all([s["file"] for s in line.get("sidecars", [])] == [line["file"] + ".msk"] for line in masked)
    assert runs["lossy"].keys() == runs["lossless"].keys() and len(runs["lossy"]) >= 3
    for frame_id, frame in runs["lossless"].items():
        np.testing.assert_array_equal(runs["lossy"][frame_id].delivered, frame.delivered, err_msg=frame_id)
    lost = {name: sum(f.clear_lost_px for f in frames.values()) for name, frames in runs.items()}
    assert lost["lossy"] == lost["lossless"]
