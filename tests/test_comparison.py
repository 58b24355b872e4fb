"""ground.comparison: this run's pipeline against bent-pipe and encode-only on the same finished frames."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from app.cli import main
from conftest import FRAME_RAW_BYTES
from ground.comparison import _quality_cell, comparison, comparison_blocks, exact
from ground.document import Paragraph, Table
from ground.run_data import load_run
from rundir.run_info import CameraInfo, StageEntry


def test_rows_on_the_finished_frames(tiny_run):
    run = load_run(tiny_run)
    comp = comparison(run, {})
    rows = {r["pipeline"]: r for r in comp["rows"]}
    assert comp["frames"] == 2 and list(rows) == ["bent_pipe_single", "encode_only", "best_lossless",
                                                  "lossy_same_bytes", "this_run"]
    assert rows["encode_only"]["bytes"] == 2 * (FRAME_RAW_BYTES * 3 // 4)
    # the tiny run's records predate the flight-class estimates: those rows are empty, not zero
    assert all(rows[name]["bytes"] is None for name in ("bent_pipe_single", "best_lossless", "lossy_same_bytes"))
    manifest = [json.loads(line) for line in (tiny_run / "downlink" / "manifest.jsonl").read_text().splitlines()]
    assert rows["this_run"]["bytes"] == sum(m["bytes"] for m in manifest)
    assert rows["this_run"]["cloud_f1"] is None and rows["this_run"]["cpsnr_db"] is None
    assert comp["clear_km2"] is None  # the tiny run.json has no camera: no area
    [table] = [b for b in comparison_blocks(comp) if isinstance(b, Table)]
    assert [row[0] for row in table.rows] == [r["label"] for r in comp["rows"]]


def test_a_run_without_bursts_has_no_burst_row_or_figure_in_json_or_markdown(tiny_run):
    """Single frames: bent-pipe of every raw frame is one raw frame per scene, the baseline row again. report.json
    carries neither that row nor a saving against the burst, as report.md shows neither (its rows are the JSON's)."""
    path = tiny_run / "telemetry" / "processing.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        record["alternative_bytes"]["bent_pipe_single"] = FRAME_RAW_BYTES
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    comp = comparison(load_run(tiny_run), {})
    assert "bent_pipe" not in [r["pipeline"] for r in comp["rows"]]
    assert all(r["saved_vs_burst_fraction"] is None for r in comp["rows"])
    assert {r["pipeline"]: r["saved_fraction"] for r in comp["rows"]}["encode_only"] == pytest.approx(0.25)
    [table] = [b for b in comparison_blocks(comp) if isinstance(b, Table)]
    assert [row[0] for row in table.rows] == [r["label"] for r in comp["rows"]]
    assert "saved vs the raw burst" not in table.header
    for record in records:
        record["burst_frames"] = 4  # the same frames as bursts of 4: the burst row and its column come back
        record["alternative_bytes"]["bent_pipe"] = 4 * FRAME_RAW_BYTES
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    comp = comparison(load_run(tiny_run), {})
    rows = {r["pipeline"]: r for r in comp["rows"]}
    assert list(rows)[:2] == ["bent_pipe", "bent_pipe_single"] and rows["bent_pipe"]["saved_vs_burst_fraction"] == 0
    [table] = [b for b in comparison_blocks(comp) if isinstance(b, Table)]
    assert [row[0] for row in table.rows] == [r["label"] for r in comp["rows"]]
    assert "saved vs the raw burst" in table.header


def test_the_quality_column_is_exact_only_for_a_row_that_sent_something(tiny_run):
    """Lossless rows with bytes read "exact"; a row with no bytes (not estimated, or nothing sent: a lossy row
    whose frames were all dropped) has no quality to give."""
    comp = comparison(load_run(tiny_run), {})
    by_name = {r["pipeline"]: r for r in comp["rows"]}
    by_name["lossy_same_bytes"].update(bytes=0, psnr_db=None)  # every frame dropped: JPEG 2000 sent nothing
    [table] = [b for b in comparison_blocks(comp) if isinstance(b, Table)]
    quality = {row[0]: row[table.header.index("PSNR / SSIM vs raw")] for row in table.rows}
    assert quality[by_name["encode_only"]["label"]] == quality[by_name["this_run"]["label"]] == "exact"
    assert quality[by_name["best_lossless"]["label"]] == quality[by_name["lossy_same_bytes"]["label"]] == "n/a"
    by_name["this_run"]["cpsnr_db"] = 47.84  # a x2 fused product: no raw frame has its grid, so it is not "exact"
    [table] = [b for b in comparison_blocks(comp) if isinstance(b, Table)]
    quality = {row[0]: row[table.header.index("PSNR / SSIM vs raw")] for row in table.rows}
    assert quality[by_name["this_run"]["label"]] == "n/a (super-resolved)"
    by_name["lossy_same_bytes"].update(bytes=1000, psnr_db=80.1, ssim=None)  # frames under the 11 px SSIM window
    [table] = [b for b in comparison_blocks(comp) if isinstance(b, Table)]
    quality = {row[0]: row[table.header.index("PSNR / SSIM vs raw")] for row in table.rows}
    assert quality[by_name["lossy_same_bytes"]["label"]] == "80.1 dB / n/a"


def test_this_run_counts_image_bytes_as_the_estimates_do_its_sidecars_apart(tiny_run):
    """A PNG product's world file and PAM file are georeferencing, which the simpler pipelines' estimates do not
    count: the this_run row leaves them out too (so one pipeline gives one figure), and says how many there were."""
    path = tiny_run / "downlink" / "manifest.jsonl"
    manifest = [json.loads(line) for line in path.read_text().splitlines()]
    product_bytes = sum(m["bytes"] for m in manifest)
    for m in manifest:
        sidecar = tiny_run / "downlink" / (m["file"] + ".aux.xml")
        sidecar.write_bytes(b"<PAMDataset/>" * 10)
        digest = hashlib.sha256(sidecar.read_bytes()).hexdigest()
        m["sidecars"] = [{"file": sidecar.name, "bytes": 130, "sha256": digest}]
        m["bytes"] += 130
    path.write_text("".join(json.dumps(m) + "\n" for m in manifest))
    run = load_run(tiny_run)
    assert len(run.delivered) == len(manifest)  # the sidecars verify
    comp = comparison(run, {})
    rows = {r["pipeline"]: r for r in comp["rows"]}
    assert rows["this_run"]["bytes"] == product_bytes and comp["sidecar_bytes"] == 130 * len(manifest)
    [note] = [b for b in comparison_blocks(comp) if isinstance(b, Paragraph) and "sidecars" in b.text]
    assert f"({130 * len(manifest)} B here)" in note.text


def test_the_cloud_section_fills_its_columns(tiny_run):
    run = load_run(tiny_run)
    run.run_info = dataclasses.replace(run.run_info, pipeline=["cloud_filter", "encode"])
    cloud = {"clear_pixels_lost_fraction": 0.125, "pixel": {"f1": 0.75}}
    rows = {r["pipeline"]: r for r in comparison(run, {"cloud": cloud})["rows"]}
    assert rows["cloud_filter"]["bytes"] is None  # processing records carry no cloud_filter estimate
    assert (rows["cloud_filter"]["clear_pixels_lost_fraction"], rows["cloud_filter"]["cloud_f1"]) == (0.125, 0.75)
    # this run's loss is measured on what reached the ground: the tiny run has no truth, and its ledger and
    # manifest record nothing withheld (every pixel of its finished frames went down)
    assert (rows["this_run"]["clear_pixels_lost_fraction"], rows["this_run"]["cloud_f1"]) == (0.0, 0.75)
    assert rows["this_run"]["label"] == "this run: cloud_filter > encode"


@pytest.mark.parametrize("last_stage, estimate_format, named", [
    (StageEntry("bent_pipe"), "png", " PNG"), (StageEntry("bent_pipe"), "tiff", " TIFF"),
    (StageEntry("encode", {"format": "png"}), "png", " PNG"),
    (StageEntry("encode", {"format": "jpegls"}), "jpegls", " JPEG-LS"), (StageEntry("bent_pipe"), None, "")])
def test_an_estimate_names_its_codec(tiny_run, last_stage, estimate_format, named):
    """The encode-only and cloud-filter labels name the codec of their estimates, as run.json says: the run's own
    format, or PNG (TIFF beyond 4 bands) for a pipeline without an encode stage (bent-pipe); in report.json as in
    report.md. None where run.json does not say (a run from before)."""
    run = load_run(tiny_run)
    run.run_info = dataclasses.replace(run.run_info, pipeline=["cloud_filter", last_stage.stage],
                                       stages=[StageEntry("cloud_filter"), last_stage], estimate_format=estimate_format)
    comp = comparison(run, {})
    labels = {r["pipeline"]: r["label"] for r in comp["rows"]}
    assert labels["encode_only"] == f"encode only (lossless{named})"
    assert labels["cloud_filter"] == f"cloud filter, then encode (lossless{named})"
    [table] = [b for b in comparison_blocks(comp) if isinstance(b, Table)]
    assert [row[0] for row in table.rows] == list(labels.values())


def test_no_processing_record_no_comparison(tiny_run):
    (tiny_run / "telemetry" / "processing.jsonl").unlink()
    comp = comparison(load_run(tiny_run), {})
    assert comp["frames"] == 0 and all(r["bytes"] is None for r in comp["rows"])
    [note] = comparison_blocks(comp)
    assert isinstance(note, Paragraph) and "no pipeline comparison" in note.text


def test_rows_against_one_raw_frame_per_scene_with_the_best_lossless_codec_named(tiny_run):
    """A burst of K = 4: saved_fraction is against one raw frame per scene, saved_vs_burst_fraction against the
    burst; the best lossless row is the smaller of JPEG-LS and JPEG 2000 over the run, named."""
    path = tiny_run / "telemetry" / "processing.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for i, record in enumerate(records):
        record["burst_frames"] = 4
        record["alternative_bytes"] = {"bent_pipe": 4000, "bent_pipe_single": 1000, "encode_only": 3000,
                                       "lossless_jpegls": 2000 + 500 * i, "lossless_jpeg2000": 2200,
                                       "lossy_same_bytes": 0}
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    run = load_run(tiny_run)
    rows = {r["pipeline"]: r for r in comparison(run, {})["rows"]}
    assert rows["best_lossless"]["bytes"] == 4400 and rows["best_lossless"]["codec"] == "JPEG 2000"
    assert rows["bent_pipe"]["saved_fraction"] == pytest.approx(-3.0)  # four frames sent for one scene
    assert rows["bent_pipe_single"]["saved_vs_burst_fraction"] == pytest.approx(0.75)
    assert rows["encode_only"]["saved_fraction"] == pytest.approx(1 - 6000 / 2000)


def test_the_cloud_filter_with_the_best_lossless_codec_is_its_own_row(tiny_run):
    """The filter's saving on top of the best codec's: one frame's kept tiles in the smaller of JPEG-LS and JPEG
    2000 over the run (not the best_lossless row's codec: each row picks its own), losing what the filter loses."""
    path = tiny_run / "telemetry" / "processing.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for i, record in enumerate(records):
        record["alternative_bytes"] = {"bent_pipe": 4000, "bent_pipe_single": 1000, "encode_only": 3000,
                                       "lossless_jpegls": 700, "lossless_jpeg2000": 800, "lossy_same_bytes": 0,
                                       "cloud_filter": 2400, "cloud_filter_jpegls": 500 + 100 * i,
                                       "cloud_filter_jpeg2000": 520}
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    run = load_run(tiny_run)
    run.run_info = dataclasses.replace(run.run_info, pipeline=["cloud_filter", "encode"])
    cloud = {"clear_pixels_lost_fraction": 0.05, "pixel": {"f1": 0.8}}
    comp = comparison(run, {"cloud": cloud})
    rows = {r["pipeline"]: r for r in comp["rows"]}
    assert list(rows)[-3:] == ["cloud_filter", "cloud_filter_best_lossless", "this_run"]
    kept = rows["cloud_filter_best_lossless"]
    assert (kept["bytes"], kept["codec"]) == (1040, "JPEG 2000") and rows["best_lossless"]["codec"] == "JPEG-LS"
    assert kept["label"] == "cloud filter, then the best lossless codec, one frame per scene: JPEG 2000"
    assert (kept["clear_pixels_lost_fraction"], kept["cloud_f1"]) == (0.05, 0.8)
    assert kept["saved_fraction"] == pytest.approx(1 - 1040 / 2000) and "cloud_filter_best_lossless" in comp["note"]
    del records[1]["alternative_bytes"]["cloud_filter_jpegls"], records[1]["alternative_bytes"]["cloud_filter_jpeg2000"]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))  # a record from before the estimate
    older = load_run(tiny_run)
    older.run_info = dataclasses.replace(older.run_info, pipeline=["cloud_filter", "encode"])
    rows = {r["pipeline"]: r for r in comparison(older, {"cloud": cloud})["rows"]}
    assert rows["cloud_filter_best_lossless"]["bytes"] is None and rows["cloud_filter_best_lossless"]["codec"] is None


def test_jpeg2000_within_the_runs_bytes_loses_the_clear_ground_of_the_frames_it_cannot_send(tiny_run):
    # frame 0: this run sent nothing of it, so neither does JPEG 2000 within its bytes; the row loses frame 0's
    # clear ground (100 of the 400 clear pixels), not the share of frames (1 of 2)
    import numpy as np

    from rundir.truth import CLOUD_THICK, write_truth

    path = tiny_run / "telemetry" / "processing.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record, (sent, clear_px) in zip(records, ((0, 100), (900, 300))):
        record["alternative_bytes"] = {"bent_pipe": 4000, "bent_pipe_single": 4000, "encode_only": 3000,
                                       "lossless_jpegls": 2000, "lossless_jpeg2000": 2200, "lossy_same_bytes": sent}
        shape = (16, 32)
        cloud = np.full(shape, CLOUD_THICK, np.uint8)
        cloud.flat[:clear_px] = 0
        write_truth(tiny_run, record["frame_id"], cloud, np.zeros(shape, bool), np.zeros(shape, np.uint8),
                    np.ones(shape, bool))
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    run = load_run(tiny_run)
    # the tiny run's run.json has no camera: give it one, for the clear ground's area (scores need no evaluation
    # files here: neither frame's lossy codestream was kept)
    run.run_info = dataclasses.replace(run.run_info, camera=CameraInfo(32, 16, 10.0, 0, FRAME_RAW_BYTES, 1, None))
    comp = comparison(run, {})
    rows = {r["pipeline"]: r for r in comp["rows"]}
    assert len(records) == 2
    assert rows["lossy_same_bytes"]["clear_pixels_lost_fraction"] == pytest.approx(100 / 400)
    assert comp["clear_km2"] == pytest.approx(400 * 10.0**2 / 1e6)  # 400 clear pixels of 10 m


QUICKSTART = Path(__file__).parents[1] / "scenarios" / "quickstart.yaml"
SMALL = ("duration_h=10", "spacecraft.camera.width_px=128", "spacecraft.camera.height_px=128")  # single frames


def small_run(out: Path, pipeline: str) -> dict[str, dict]:
    """The quickstart cut to 10 h of 128 px single frames through ``pipeline``, run for real: its comparison rows by
    ``pipeline`` name."""
    assert main(["run", str(QUICKSTART), "--out", str(out), "--quiet", "--set", f"pipeline={pipeline}",
                 *(a for assignment in SMALL for a in ("--set", assignment))]) == 0
    report = json.loads((out / "report.json").read_text())
    return {r["pipeline"]: r for r in report["comparison"]["rows"]}


def test_a_bent_pipe_run_names_the_codec_of_its_estimates(tmp_path):
    """cloudy_cloudfilter's pipeline, which encodes nothing: its encode-only and cloud-filter rows are PNG estimates."""
    rows = small_run(tmp_path / "run", "[{stage: cloud_filter, method: spectral}, {stage: bent_pipe}]")
    assert rows["encode_only"]["label"] == "encode only (lossless PNG)"
    assert rows["cloud_filter"]["label"] == "cloud filter, then encode (lossless PNG)"
    assert "bent_pipe" not in rows  # single frames



@pytest.mark.parametrize("pipeline, same_pipeline", [
    ("[{stage: encode, format: tiff}]", "encode_only"),
    ("[{stage: cloud_filter, method: spectral}, {stage: encode, format: tiff}]", "cloud_filter")])
def test_the_same_pipeline_gives_the_same_bytes_in_both_rows(tmp_path, pipeline, same_pipeline):
    """cubesat_sband's rows "encode only (lossless)" and "this run: encode" were 123.87 MB and 124.12 MB for one
    pipeline: the estimate left out the GeoTIFF tags its products carry. A run's own pipeline among the simpler ones
    now counts its products' bytes."""
    rows = small_run(tmp_path / "run", pipeline)
    assert rows[same_pipeline]["bytes"] == rows["this_run"]["bytes"] > 0


def test_frames_taken_far_off_nadir_say_their_bytes_per_km2_read_high(tiny_run):
    """Every frame is rendered at the camera's nadir GSD, so a frame 32 deg off nadir covers 0.57 of the ground a
    real one would, and its bytes per km² read 1.75x high: the table said nothing of it."""
    def note(comp):
        return next(b.text for b in comparison_blocks(comp) if isinstance(b, Paragraph) and "finished frames" in b.text)

    near = comparison(load_run(tiny_run), {})
    assert near["off_nadir_deg"] == {"median": 5.0, "max": 5.0} and "off nadir" not in note(near)
    path = tiny_run / "telemetry" / "captures.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line, angle in zip(lines, (12.25, 32.0, 40.0)):
        line["off_nadir_deg"] = angle
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    far = comparison(load_run(tiny_run), {})
    assert far["off_nadir_deg"] == {"median": 22.1, "max": 32.0}  # the compared (finished) frames' alone
    assert ("these frames were taken up to 32° off nadir (median 22.1°), where a real pixel covers more ground: per "
            "km², they read high") in note(far)


def test_report_json_says_which_rows_are_exact_as_report_md_does(tiny_run):
    """psnr_db null meant "exact" in a lossless row and "not comparable" in a super-resolved one: a script could not
    tell a perfect row from one the measure does not apply to."""
    comp = comparison(load_run(tiny_run), {})
    by_name = {r["pipeline"]: r for r in comp["rows"]}
    assert by_name["encode_only"]["exact"] is True and by_name["best_lossless"]["exact"] is None  # no bytes estimated
    assert exact({"bytes": 10, "psnr_db": None, "cpsnr_db": 47.8}) is None  # super-resolved
    assert exact({"bytes": 10, "psnr_db": 61.2, "cpsnr_db": None}) is False
    assert exact({"bytes": 10, "psnr_db": None, "ssim": 1.0, "cpsnr_db": None}) is True  # every scene exact
    [table] = [b for b in comparison_blocks(comp) if isinstance(b, Table)]
    cells = {row[0]: row[table.header.index("PSNR / SSIM vs raw")] for row in table.rows}
    assert all((cells[r["label"]] == "exact") == (r["exact"] is True) for r in comp["rows"])


def test_a_lossy_row_no_scene_scored_is_not_called_exact():
    """A JPEG 2000 row that scored no scene (no evaluation data) has no PSNR, as an exact one has: it read "exact"."""
    assert exact({"bytes": 5000, "psnr_db": None, "ssim": None, "max_abs_error_dn": None, "cpsnr_db": None}) is None
    assert exact({"bytes": 5000, "psnr_db": None, "ssim": 1.0, "max_abs_error_dn": 0, "cpsnr_db": None}) is True
    assert exact({"bytes": 5000, "psnr_db": 70.2, "ssim": 1.0, "max_abs_error_dn": 2, "cpsnr_db": None}) is False
    assert exact({"bytes": 0, "psnr_db": None, "ssim": None, "max_abs_error_dn": None, "cpsnr_db": None}) is None


def test_a_super_resolved_product_no_scene_scored_is_not_called_exact():
    """This run's row of a super-resolved pipeline with no cPSNR (no scene scored) read "exact", as a lossless one."""
    row = {"bytes": 5000, "psnr_db": None, "ssim": None, "cpsnr_db": None}
    assert exact({**row, "super_resolved": True}) is None and exact({**row, "super_resolved": False}) is True
    assert _quality_cell({**row, "super_resolved": True}) == "n/a (super-resolved)"
