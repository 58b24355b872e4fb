"""ground.cloud: the report's cloud scores against hand-computed cases (confusion scores, tile policies, the PR
curve, the tile-policy sweep)."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from ground import clear_ground
from ground import cloud as gcloud
from ground.report import write_report
from rundir.tiles import tile_boxes
from rundir.truth import UNKNOWN

ROOT = Path(__file__).resolve().parents[1]


def test_textbook_confusion_scores():
    s = gcloud.confusion_scores(tp=8, fp=2, fn=4, tn=86)
    assert s["precision"] == pytest.approx(0.8) and s["recall"] == pytest.approx(8 / 12)
    assert s["f1"] == pytest.approx(2 * 0.8 * (8 / 12) / (0.8 + 8 / 12)) and s["iou"] == pytest.approx(8 / 14)
    assert s["fpr"] == pytest.approx(2 / 88) and s["accuracy"] == pytest.approx(94 / 100)
    assert gcloud.confusion_scores(0, 0, 0, 5)["precision"] is None


def frame_eval(truth: np.ndarray, probability: np.ndarray) -> gcloud.FrameEval:
    """A single frame, every pixel scored and delivered whole, the baseline's mask the truth."""
    return gcloud.FrameEval("f", truth, np.ones_like(truth), ~truth, np.ones_like(truth), np.ones_like(truth),
                            raw_bytes=truth.size * 6, burst_frames=1,
                            probability=(probability * 255).round().astype(np.uint8), spectral=truth.copy())


def test_tile_policy_scores_against_hand_counts():
    """64 x 64 frame, 32 px tiles: one tile fully cloudy, one half cloudy, two clear."""
    truth = np.zeros((64, 64), bool)
    truth[:32, :32] = True
    truth[32:, :16] = True
    policy = {"tile_px": 32, "max_cloud_fraction": 0.6, "action": "drop"}
    perfect = gcloud._score_mask([frame_eval(truth, truth * 1.0)], [truth], policy)
    assert perfect["pixel"]["f1"] == 1.0 and perfect["tile"]["f1"] == 1.0
    assert perfect["tile_selection_saved_fraction"] == pytest.approx(0.25)  # one tile of four dropped
    assert perfect["clear_pixels_lost_fraction"] == 0.0
    greedy = {**policy, "max_cloud_fraction": 0.4}  # also drops the half-cloudy tile: its 512 clear pixels are lost
    scored = gcloud._score_mask([frame_eval(truth, truth * 1.0)], [truth], greedy)
    assert scored["tile_selection_saved_fraction"] == pytest.approx(0.5)
    assert scored["clear_pixels_lost_fraction"] == pytest.approx(512 / (64 * 64 - 1024 - 512))
    masked = gcloud._score_mask([frame_eval(truth, truth * 1.0)], [truth], {**greedy, "action": "mask"})
    assert masked["clear_pixels_lost_fraction"] == 0.0  # masking keeps the clear half


def test_the_oracle_judges_a_tile_by_its_pixels_of_known_truth():
    """A real mask leaves pixels unlabelled (255, about 10 % of them): the oracle counted them as clear in a tile's
    cloud fraction, kept tiles whose labelled pixels are mostly cloud, and saved no more than the model (75 % and
    21 % lost, worked out on the labelled pixels, against the 68.8 % and 15.5 % it reported). A 64 x 64 frame of two
    32 px columns of tiles: the left half cloud where labelled, half of it unlabelled; the right clear."""
    cloud = np.zeros((64, 64), bool)
    cloud[:, :32] = True
    scored = np.ones((64, 64), bool)
    scored[:, :16] = False  # unlabelled: neither cloud nor clear
    frame = gcloud.FrameEval("f", cloud & scored, scored, scored & ~cloud, np.ones_like(cloud), np.ones_like(cloud),
                             raw_bytes=64 * 64 * 6, burst_frames=1, valid=np.ones_like(cloud),
                             probability=np.zeros((64, 64), np.uint8), spectral=cloud.copy())
    policy = {"tile_px": 32, "max_cloud_fraction": 0.6, "action": "drop"}
    assert gcloud.oracle_outcome([frame], policy) == (0.5, 0.0)  # both left tiles: all their labelled pixels cloud
    scores = gcloud._score_mask([frame], [cloud], policy)
    assert scores["tile"]["f1"] == 1.0  # the tiles the truth drops are those judged over their labelled pixels


def test_pr_curve_is_exact_on_a_known_histogram():
    truth = np.zeros((10, 10), bool)
    truth[:5] = True
    prob = np.where(truth, 0.9, 0.2)
    prob[0, :2] = 0.3  # two cloud pixels the model is unsure of
    curve = {p["threshold"]: p for p in gcloud._pr_curve([frame_eval(truth, prob)])}
    assert curve[0.5]["precision"] == 1.0 and curve[0.5]["recall"] == pytest.approx(48 / 50)
    assert curve[0.25]["recall"] == 1.0 and curve[0.15]["precision"] == pytest.approx(0.5)


def test_a_tile_with_no_valid_pixel_is_dropped_as_on_board():
    """The cloud filter sends no tile of fill only (its NO_DATA drop): the policy's saving counts that tile as not
    sent, whatever the mask says, and no clear pixel is lost by it."""
    truth = np.zeros((64, 64), bool)
    valid = np.ones((64, 64), bool)
    valid[:32, 32:] = False  # one tile of four off the imagery
    frame = replace(frame_eval(truth, truth * 1.0), scored=valid, clear=valid)
    policy = {"tile_px": 32, "max_cloud_fraction": 0.5, "action": "drop"}
    assert gcloud.policy_outcome([frame], [truth], policy) == (0.0, 0.0)  # without validity: every tile kept
    assert gcloud.policy_outcome([replace(frame, valid=valid)], [truth], policy) == (pytest.approx(0.25), 0.0)


def test_tile_policy_sweep_against_hand_counts():
    """The 64 x 64 frame above: a cloudy 32 px tile, a half-cloudy one (512 clear pixels), two clear ones."""
    truth = np.zeros((64, 64), bool)
    truth[:32, :32] = True
    truth[32:, :16] = True
    policy = {"threshold": 0.5, "tile_px": 32, "max_cloud_fraction": 0.6, "action": "drop"}
    sweep = gcloud.tile_policy_sweep([frame_eval(truth, truth * 1.0)], policy)
    points = {(p["tile_px"], p["max_cloud_fraction"]): (p["saved_fraction"], p["clear_pixels_lost_fraction"])
              for p in sweep}
    assert sorted({p["tile_px"] for p in sweep}) == [32, 64]  # 128 px and up do not fit the frame
    assert sorted({p["max_cloud_fraction"] for p in sweep}) == [0.1, 0.3, 0.5, 0.6, 0.7, 0.9]  # the stage's 0.6 too
    clear = 64 * 64 - 1024 - 512
    assert points[(32, 0.3)] == pytest.approx((0.5, 512 / clear))  # both cloudy tiles go, the half one's clear too
    assert points[(32, 0.5)] == pytest.approx((0.25, 0.0))  # half cloudy is not more than half: kept
    assert points[(32, 0.6)] == pytest.approx((0.25, 0.0))
    assert points[(64, 0.3)] == pytest.approx((1.0, 1.0))  # one tile, 37.5 % cloud: all of it goes
    assert points[(64, 0.5)] == pytest.approx((0.0, 0.0))
    masked = {(p["tile_px"], p["max_cloud_fraction"]): p["clear_pixels_lost_fraction"]
              for p in gcloud.tile_policy_sweep([frame_eval(truth, truth * 1.0)], {**policy, "action": "mask"})}
    assert masked[(64, 0.3)] == 0.0  # masking withholds the cloudy pixels only
    [note, table] = gcloud.sweep_blocks({"policy": policy, "tradeoff_tile_policy": sweep})
    assert table.header == ("tile size", "> 10.0 % cloud", "> 30.0 % cloud", "> 50.0 % cloud", "> 60.0 % cloud",
                            "> 70.0 % cloud", "> 90.0 % cloud")
    assert table.rows[0][:5] == ("32 px", "50.0 % / 20.0 %", "50.0 % / 20.0 %", "25.0 % / 0.0 %", "25.0 % / 0.0 % *")
    assert table.rows[1][0] == "64 px" and "*" not in "".join(table.rows[1]) and "threshold 0.5" in note.text


def test_a_stage_that_judges_every_frame_of_a_burst_perfectly_scores_as_the_oracle():
    """A burst's 64 x 64 frame 0 has a passing cloud over one 32 px tile that the other frames saw through: its
    ground is clear ground of the burst. A stage that judges every frame perfectly keeps every tile, and what reached
    the ground scores exactly as the oracle: nothing saved, nothing lost. Frame 0's map alone, even a perfect one,
    drops that tile and loses its ground: an upper bound, never the oracle's basis."""
    passing = np.zeros((64, 64), bool)
    passing[:32, :32] = True
    everywhere = np.ones((64, 64), bool)
    burst = gcloud.FrameEval("b", passing, everywhere, everywhere, everywhere, everywhere, raw_bytes=8 * 64 * 64 * 6,
                             burst_frames=8, probability=passing * np.uint8(255), spectral=passing)
    policy = {"threshold": 0.5, "tile_px": 32, "max_cloud_fraction": 0.5, "action": "drop"}
    assert clear_ground.delivered_outcome([burst]) == gcloud.oracle_outcome([burst], policy) == (0.0, 0.0)
    assert gcloud.policy_outcome([burst], [passing], policy) == (pytest.approx(0.25), pytest.approx(0.25))


def hand_counted_losses(run_dir, policy) -> tuple[float, float, int]:
    """``(model, oracle, frames)`` counted from a cloud_filter > encode burst run's files alone: the clear pixels lost
    by what reached the ground (the manifest's tiles) and by the stage's tile policy fed the ground no frame saw clear,
    both over the ground some frame saw clear (truth/ ``hr_clear`` at each pixel's centre), on the frames scored; and
    how many of their pixels frame 0's clouds count otherwise (cloud frame 0 saw that another frame saw through)."""
    manifest = [json.loads(line) for line in (run_dir / "downlink" / "manifest.jsonl").read_text().splitlines()]
    clear_px = model_lost = oracle_lost = differ = 0
    for path in sorted((run_dir / "evaluation").glob("*.npz")):
        with np.load(path) as evaluation, np.load(run_dir / "truth" / path.name) as truth:
            if "cloud_probability" not in evaluation.files:
                continue
            cloud, valid, seen_clear = truth["cloud"], truth["valid"], truth["hr_clear"]
        s = seen_clear.shape[0] // cloud.shape[0]
        scored = valid & (cloud != UNKNOWN)
        clear = scored & seen_clear[s // 2::s, s // 2::s]
        delivered = np.zeros(cloud.shape, bool)
        for line in manifest:
            if line["kind"] == "image" and path.stem in line["frame_ids"]:
                assert not line.get("masked")
                t, scale = line["tile"], line.get("scale", 1)  # a super-resolved tile's grid is scale times finer
                delivered[t["row0"] // scale:(t["row0"] + t["height"]) // scale,
                          t["col0"] // scale:(t["col0"] + t["width"]) // scale] = True
        for box in tile_boxes(*cloud.shape, policy["tile_px"]):
            share = (scored & ~clear)[box.window][valid[box.window]].mean() if valid[box.window].any() else 1.0
            oracle_lost += int(clear[box.window].sum()) if share > policy["max_cloud_fraction"] else 0
        clear_px, model_lost = clear_px + int(clear.sum()), model_lost + int((clear & ~delivered).sum())
        differ += int((clear != (scored & (cloud == 0))).sum())
    return model_lost / clear_px, oracle_lost / clear_px, differ


@pytest.fixture(scope="module")
def burst_run(tmp_path_factory) -> Path:
    """The quickstart as it is (bursts of 8 frames, cloud filter, super-resolution, PNG) cut to 15 minutes over
    Sweden, 128 px frames on 32 px tiles: three bursts."""
    out = tmp_path_factory.mktemp("burst") / "run"
    assert main(["run", str(ROOT / "scenarios" / "quickstart.yaml"), "--out", str(out), "--quiet",
                 "--set", "start_utc=2026-06-21T08:10:00Z", "--set", "duration_h=0.25",
                 "--set", "spacecraft.camera.width_px=128", "--set", "spacecraft.camera.height_px=128",
                 "--set", "pipeline[0].tile_px=32", "--set", "pipeline[0].max_cloud_fraction=0.5"]) == 0
    return out


def test_a_run_directory_without_its_captures_says_so_where_it_scores_nothing(burst_run, tmp_path):
    """telemetry/captures.jsonl gone, truth/ and evaluation/ whole: the cloud section and the verdict name the
    missing file, not "no truth" and a claim that truth/ and evaluation/ hold no records."""
    run_dir = tmp_path / "run"
    shutil.copytree(burst_run, run_dir)
    (run_dir / "telemetry" / "captures.jsonl").unlink()
    report, _ = write_report(run_dir)
    assert report["cloud"]["note"] == ("no finished frame with both truth/ and evaluation/ records "
                                       "(telemetry/captures.jsonl missing): nothing to score")
    assert "clear ground lost unknown (telemetry/captures.jsonl missing)" in report["verdict"]


def test_a_burst_runs_model_and_oracle_lose_clear_ground_on_one_basis(burst_run):
    """The stage drops a tile only when it is cloudy in every frame of a burst, so the model's clear pixels lost
    (what reached the ground), the oracle's (the same tile policy fed the ground cloudy in every frame) and the
    comparison's (which orbitedge compare sets beside the oracle's) are all over the ground some frame saw clear, as
    counted by hand from the run's files. Before, the oracle acted on frame 0's clouds, which the other frames see
    through, while the model's loss was what reached the ground: the model seemed to lose less than the true mask."""
    run_dir = burst_run
    report = json.loads((run_dir / "report.json").read_text())
    section = report["cloud"]
    model, oracle, differ = hand_counted_losses(run_dir, section["policy"])
    assert section["clear_pixels_lost_fraction"] == pytest.approx(model, abs=1e-6)
    assert section["oracle"]["clear_pixels_lost_fraction"] == pytest.approx(oracle, abs=1e-6)
    assert section["bursts"] == section["frames_scored"] > 0 and differ > 0  # frame 0's clouds are another basis
    (this_run,) = [row for row in report["comparison"]["rows"] if row["pipeline"] == "this_run"]
    assert this_run["clear_pixels_lost_fraction"] == section["clear_pixels_lost_fraction"]
    labels = [row[0] for row in gcloud.detector_table(section).rows]
    assert labels == ["on-board model", "on-board model, frame 0's map alone", "spectral baseline, frame 0's map alone",
                      "oracle (true mask)"]


def test_a_model_that_drops_more_than_the_truth_is_not_said_to_save_more_than_the_oracle():
    """A share above 100 % is no praise: the excess is clear ground (a model that calls every pixel cloud)."""
    section = {"oracle_share": 4.3636, "clear_pixels_lost_fraction": 1.0,
               "oracle": {"clear_pixels_lost_fraction": 0.021}}
    assert gcloud.oracle_share_text(section) == (
        "The model's tile selection drops more than the true mask does (436.4 % of the oracle's saving): the excess "
        "is clear ground, 100.0 % of it lost against the oracle's 2.1 %.")
    assert gcloud.oracle_share_text({**section, "oracle_share": 0.97}) == \
        "The model's tile selection saves 97.0 % of what the oracle saves."


def test_a_cloud_filter_that_withholds_most_clear_ground_is_warned_about():
    """Against the true mask under the same tile policy: what the policy itself withholds is no fault of the model."""
    section = {"clear_pixels_lost_fraction": 1.0, "oracle": {"clear_pixels_lost_fraction": 0.021}}
    assert gcloud.lost_ground_warnings(section) == [
        "the cloud filter withheld 100.0 % of the clear ground it saw, where the true mask, with the same tile "
        "policy, withholds 2.1 %: its model calls clear ground cloud; check the model card's activation and scaling, "
        "and the stage's threshold"]
    policy = {"clear_pixels_lost_fraction": 0.749, "oracle": {"clear_pixels_lost_fraction": 0.749}}
    assert gcloud.lost_ground_warnings(policy) == []  # a tile policy that withholds three quarters, model or not
    at_limit = {**section, "clear_pixels_lost_fraction": 0.021 + gcloud.MAX_EXCESS_CLEAR_LOST_FRACTION}
    assert gcloud.lost_ground_warnings(at_limit) == []
    assert gcloud.lost_ground_warnings({**section, "clear_pixels_lost_fraction": None}) == []
    spectral = {**section, "policy": {"method": "spectral", "threshold": 0.5}}  # no model runs: none is blamed
    assert gcloud.lost_ground_warnings(spectral) == [
        "the cloud filter withheld 100.0 % of the clear ground it saw, where the true mask, with the same tile "
        "policy, withholds 2.1 %: its spectral test calls clear ground cloud; check the stage's threshold"]


def test_a_cloud_filter_that_misses_the_cloud_is_warned_about():
    """A model whose probability never reaches the threshold (a card scaled 100x too small) drops nothing where the
    true mask would drop a third of the bytes: the reader is told, with the model's pixel recall."""
    section = {"clear_pixels_lost_fraction": 0.0, "tile_selection_saved_fraction": 0.0, "pixel": {"recall": 0.0},
               "oracle": {"clear_pixels_lost_fraction": 0.0, "tile_selection_saved_fraction": 0.32}}
    assert gcloud.lost_ground_warnings(section) == [
        "the cloud filter's tiles drop 0.0 % of the bytes, where the true mask, with the same tile policy, drops "
        "32.0 %: its model misses the cloud (it finds 0.0 % of the cloud pixels); check the model card's activation "
        "and scaling, and the stage's threshold"]
    at_share = {**section, "tile_selection_saved_fraction": 0.32 * gcloud.MIN_ORACLE_SHARE}
    assert gcloud.lost_ground_warnings(at_share) == []
    little_cloud = {**section, "oracle": {**section["oracle"], "tile_selection_saved_fraction": 0.04}}
    assert gcloud.lost_ground_warnings(little_cloud) == []  # too little cloud to tell
    no_recall = gcloud.lost_ground_warnings({**section, "pixel": {}})
    assert no_recall[0].count("misses the cloud; check")


def test_the_card_figures_name_the_truth_of_the_run():
    """On real imagery with its cloud mask the section's scores are real-data scores: never 'synthetic truth'."""
    card = {"model": "mine", "version": "1.0.0", "sha256": "ab" * 32,
            "synthetic_heldout": {"f1": 0.95, "fpr": 0.01, "frames": 40}}
    synthetic = " ".join(b.text for b in gcloud.model_card_blocks(card) if hasattr(b, "text"))
    assert "against the synthetic world's truth only" in synthetic
    real = " ".join(b.text for b in gcloud.model_card_blocks(card, truth="imagery_mask") if hasattr(b, "text"))
    assert "synthetic" not in real.replace("synthetic held-out", "")
    assert "against the cloud mask given with this run's imagery, are its only real-data figures" in real
    section = {"policy": {"threshold": 0.5, "tile_px": 64, "action": "drop", "max_cloud_fraction": 0.5},
               "frames_scored": 0, "truth": "imagery_mask", "model_card": card, "note": "nothing to score"}
    text = " ".join(b.text for b in gcloud.cloud_blocks(section) if hasattr(b, "text"))
    assert "0 frames scored against the cloud mask given with the imagery." in text and "synthetic world" not in text
    none = " ".join(b.text for b in gcloud.model_card_blocks(card, truth=None) if hasattr(b, "text"))
    assert "mine has no real-data validation in its card, and this run has no truth to score it against (its " \
           "imagery has no cloud mask)." in none


def test_the_card_figures_say_when_they_were_scored_at_another_threshold_than_the_runs():
    real = {"data": "tiles", "tiles": 9, "worst_tile_fpr": 0.036, "threshold": 0.5,
            "pooled": {"f1": 0.38, "iou": 0.23, "fpr": 0.011, "recall": 0.24}}
    card = {"model": "mine", "version": "1.0.0", "sha256": "ab" * 32, "real_validation": real}
    at = {t: " ".join(b.text for b in gcloud.model_card_blocks(card, threshold=t) if hasattr(b, "text"))
          for t in (0.3, 0.5, None)}
    assert "on real labelled tiles (scored at threshold 0.5, where this run decides cloud at 0.3: at its threshold " \
           "the real-data figures would differ)." in at[0.3]
    assert "scored at threshold" not in at[0.5] and "scored at threshold" not in at[None]
    none = " ".join(b.text for b in gcloud.model_card_blocks(card, truth=None) if hasattr(b, "text"))
    assert "This run has no truth to score it against: its imagery has no cloud mask." in none


def test_real_imagery_without_a_mask_scores_nothing_and_claims_no_clear_ground(tmp_path):
    """The Landsat pair has no cloud mask: its truth files know no pixel's cloud. The cloud section scores nothing
    and says why, the comparison knows no clear ground, and the verdict does not say that none was lost."""
    out = tmp_path / "run"
    assert main(["run", str(ROOT / "scenarios" / "landsat_parana.yaml"), "--out", str(out), "--quiet", "--set",
                 "pipeline=[{stage: cloud_filter}, {stage: encode, format: png}]"]) == 0
    report = json.loads((out / "report.json").read_text())
    cloud = report["cloud"]
    assert cloud["truth"] is None and cloud["frames_scored"] == 0 and cloud["note"] == gcloud.NO_MASK
    assert report["comparison"]["clear_km2"] is None and report["ledger"]["delivered"] > 0
    assert "clear ground lost unknown (no truth)" in report["verdict"]
    assert "the clear ground lost is not measured in this run (its imagery has no cloud mask)" in report["verdict"]
    text = (out / "report.md").read_text()
    assert "cloud mask given with" not in text and "held no clear ground" not in text


@pytest.mark.parametrize("damage", ["replaced", "deleted"])
def test_an_evaluation_file_the_cloud_filter_wrote_and_that_is_gone_is_a_clear_error(tmp_path, capsys, damage):
    """A frame the cloud filter processed (telemetry/processing.jsonl) whose evaluation file was replaced by one
    with other arrays, or deleted, is named (exit 2, no traceback): the section counted it as discarded before the
    filter, and scored the others as if it were."""
    import shutil

    from tests.report_run import sweep_run

    run = sweep_run()
    run_dir = shutil.copytree(run.run_dir, tmp_path / "run")
    frame_id = next(r.frame_id for r in run.processing if "cloud_filter" in r.stages)
    path = run_dir / "evaluation" / f"{frame_id}.npz"
    if damage == "replaced":
        np.savez(path, other=np.zeros(3))
    else:
        path.unlink()
    assert main(["report", str(run_dir)]) == 2
    err = capsys.readouterr().err
    expected = "no 'cloud_probability' array (it holds other)" if damage == "replaced" else (
        f"missing: the cloud filter processed frame {frame_id}")
    assert f"{path}: {expected}" in err and "Traceback" not in err
