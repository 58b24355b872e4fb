"""The report's opening verdict (ground.verdict): its headline against the comparison's rows, and each caveat that
follows it only where the headline alone would mislead."""

from __future__ import annotations

from ground.verdict import (caveats, filter_on_codec, headline, headline_of, leaning, link_bound, link_slack,
                            reference_codec, same_bytes, storage_full, unfinished, verdict)
from rundir.run_info import HeldoutScores, ModelValidation, RealScores, RealValidation, StageEntry

UNVALIDATED = ModelValidation("mine", "1.0.0", "ab" * 32, HeldoutScores(0.95, 0.01, 40))
VALIDATED = ModelValidation("cloud_bgrn_int8", "2.0.0", "caf4" * 16, HeldoutScores(0.9582, 0.0362, 120),
                            RealValidation("shared/data/real_cloud_val: 9 tiles", 9,
                                           RealScores(0.3799, 0.2345, 0.0105, 0.2427), 0.0362))


def verdict_of(comp: dict, stages: list[StageEntry], model_cards: dict | None = None) -> str:
    """The verdict of a report that holds nothing but ``comp``, its comparison."""
    return verdict({"comparison": comp}, stages, model_cards)


def rows(**sizes) -> dict:
    """A comparison whose rows have these bytes (this_run losing 0.4 % of clear ground)."""
    return {"frames": 3, "rows": [{"pipeline": name, "label": name, "bytes": size, "clear_pixels_lost_fraction":
                                   0.004 if name == "this_run" else 0.0,
                                   **({"codec": "jpegls"} if name == "best_lossless" else {})}
                                  for name, size in sizes.items()]}


def entries(*stages: dict) -> list[StageEntry]:
    """Stages as telemetry/run.json gives them (``{"stage": name, **params}``), read as the ground reads them."""
    return [StageEntry.parse(stage, "telemetry/run.json") for stage in stages]


CLOUD_AI = entries({"stage": "cloud_filter", "method": "model", "model": "auto"}, {"stage": "encode", "format": "png"})


def test_verdict_uses_the_best_lossless_codec_when_the_comparison_has_it():
    text = verdict_of(rows(bent_pipe=4000, bent_pipe_single=500, encode_only=1500, best_lossless=930,
                                      this_run=300), CLOUD_AI)
    assert text == ("On-board AI (cloud_filter > encode) sends 3.1x fewer image bytes (300 B) than the best lossless codec on "
                    "one frame per scene (JPEG-LS, 930 B), and loses 0.4 % of clear ground.")


def test_verdict_falls_back_to_the_smallest_lossless_row_that_exists():
    text = verdict_of(rows(bent_pipe=4000, encode_only=1500, this_run=300), CLOUD_AI)
    assert text == ("On-board AI (cloud_filter > encode) sends 5.0x fewer image bytes (300 B) than lossless encoding alone "
                    "(PNG, 1.50 kB), and loses 0.4 % of clear ground.")
    single = verdict_of(rows(bent_pipe=4000, bent_pipe_single=1000, encode_only=1500, this_run=300),
                                   CLOUD_AI)
    assert "3.3x fewer image bytes (300 B) than single-frame bent-pipe (1.00 kB)" in single
    unmeasured = verdict_of(rows(bent_pipe=4000, encode_only=1500, best_lossless=None, this_run=300),
                                       CLOUD_AI)
    assert "than lossless encoding alone (PNG, 1.50 kB)" in unmeasured  # a best_lossless row without bytes


def test_verdict_says_plainly_when_the_pipeline_sends_more():
    superres = entries({"stage": "superres", "method": "model", "model": "auto", "scale": 2},
                       {"stage": "encode", "format": "png"})
    comp = rows(bent_pipe=8000, best_lossless=1000, this_run=2200)
    comp["rows"][-1]["cpsnr_db"] = 35.86
    text = verdict_of(comp, superres)
    assert text.startswith("On-board AI (superres > encode) sends 2.2x MORE image bytes (2.20 kB) than the best lossless "
                           "codec on one frame per scene (JPEG-LS, 1.00 kB) for a x2 super-resolved product "
                           "(cPSNR 35.9 dB against the high-res truth): it costs downlink here")
    spectral = entries({"stage": "cloud_filter", "method": "spectral", "model": "auto"},
                       {"stage": "encode", "format": "png"})
    assert verdict_of(rows(encode_only=1000, this_run=0), spectral) == (
        "On-board processing (cloud_filter > encode) sends nothing against lossless encoding alone (PNG, 1.00 kB), "
        "and loses 0.4 % of clear ground.")
    assert verdict_of({"frames": 0, "rows": rows(bent_pipe=None, this_run=None)["rows"]},
                                 CLOUD_AI).startswith("No verdict: no finished frame has on-board processing records")


def test_verdict_gives_a_small_difference_in_percent_and_equal_bytes_as_equal():
    """A ratio under 1.1 would read "1.0x fewer" (or MORE) whichever way it went: it is a percentage instead."""
    close = verdict_of(rows(best_lossless=1000, this_run=980), CLOUD_AI)
    assert "sends 2.0 % fewer image bytes (980 B) than the best lossless codec" in close
    more = verdict_of(rows(best_lossless=1000, this_run=1040), CLOUD_AI)
    assert "sends 4.0 % MORE image bytes (1.04 kB) than the best lossless codec on one frame per scene (JPEG-LS, " \
           "1.00 kB): it costs downlink here" in more
    encode = entries({"stage": "encode", "format": "jpegls"})
    same = verdict_of(rows(best_lossless=1000, this_run=1000), encode)
    assert same == ("On-board processing (encode) sends as many image bytes (1.00 kB) as the best lossless codec on "
                    "one frame per scene (JPEG-LS, 1.00 kB), and loses 0.4 % of clear ground.")
    hair = verdict_of(rows(best_lossless=100_000, this_run=100_040), CLOUD_AI)  # 0.04 %: "0.0 % MORE"
    assert "sends about as many image bytes (100.04 kB) as the best lossless codec" in hair


def test_verdict_says_when_the_products_are_lossy():
    """The comparison's other rows are lossless: a run whose own products are lossy says so beside its saving."""
    comp = rows(best_lossless=10_000, this_run=2_600)
    comp["rows"][-1]["psnr_db"] = 58.34
    assert "sends 3.8x fewer image bytes (2.60 kB) than the best lossless codec on one frame per scene (JPEG-LS, " \
           "10.00 kB) in lossy products (PSNR 58.3 dB against the DN they were made from), and loses" in \
           verdict_of(comp, CLOUD_AI)


def test_on_board_ai_is_read_from_what_run_json_says_of_each_stage():
    """A stage runs a model when run.json's stage names a ``model`` with no other ``method``, or run.json carries
    its model card: a plugin's classifier counts, whatever its name; a spectral test or a classic fusion does not."""
    comp = rows(encode_only=1000, this_run=300)
    encode, triage = entries({"stage": "encode", "format": "png"},
                             {"stage": "scene_triage", "model": "auto", "discard": "cloudy", "confidence": 0.8})
    assert verdict_of(comp, [triage, encode]).startswith("On-board AI (scene_triage > encode) sends ")
    [carded] = entries({"stage": "my_classifier", "labels": "clear,cloudy"})  # no model key; its card in run.json
    assert verdict_of(comp, [carded, encode], {"my_classifier": UNVALIDATED}).startswith(
        "On-board AI (my_classifier > encode)")
    assert verdict_of(comp, [carded, encode]).startswith("On-board processing (my_classifier > encode)")
    [classic] = entries({"stage": "superres", "method": "shift_and_add", "model": "auto", "scale": 2})
    assert verdict_of(comp, [classic, encode]).startswith("On-board processing (superres > encode)")
    assert verdict_of(comp, [encode]).startswith("On-board processing (encode)")


def test_frames_with_no_clear_ground_are_not_said_to_lack_truth():
    """An overcast run drops every frame: nothing sent, and the truth has no clear pixel to lose (clear_km2 0); a
    run without truth cannot say."""
    comp = rows(best_lossless=2_860_000, this_run=0)
    comp["rows"][-1]["clear_pixels_lost_fraction"] = None
    assert verdict_of(comp | {"clear_km2": 0.0}, CLOUD_AI).endswith(
        "sends nothing against the best lossless codec on one frame per scene (JPEG-LS, 2.86 MB), and its finished "
        "frames held no clear ground to lose.")
    assert verdict_of(comp | {"clear_km2": None}, CLOUD_AI).endswith("and clear ground lost unknown (no truth).")
    # a run directory with a part missing says which, not "no truth" (truth/ was there, captures.jsonl was not)
    missing = verdict({"comparison": comp | {"clear_km2": None}, "missing": ["telemetry/captures.jsonl"]}, CLOUD_AI)
    assert missing.endswith("and clear ground lost unknown (telemetry/captures.jsonl missing).")


def test_a_comparison_of_part_of_the_capture_says_how_much_is_left_out():
    """A run that ends with frames on board compares only those that finished: the verdict says so, so that a
    pipeline that delivered fewer frames is not read as one that sent fewer bytes for the same work."""
    assert unfinished(12, {"captured": 27, "on_board": 15}) == (
        "The other 15 captured frames are in no row of the comparison: 15 still on board.")
    # storage_overflow.yaml: 8 frames evicted when storage filled, none on board
    lost = {"captured": 26, "on_board": 0, "frames_lost": 8, "products_lost_by_reason": {"storage_full": 8}}
    assert unfinished(18, lost).endswith("The other 8 captured frames are in no row of the comparison: 8 lost on "
                                         "board (storage_full).")
    mixed = {"captured": 27, "on_board": 1, "frames_unverified": 1, "dropped_by_reason": {"cloudy": 3, "evicted": 1},
             "products_decided_by_stage": {"cloud_filter": {"cloudy": 40}}}  # cloudy: the filter's, finished
    assert unfinished(24, mixed).endswith(": 1 still on board, 1 lost on board (evicted), 1 that failed the ground's "
                                          "checks.")
    assert unfinished(27, {"captured": 27, "on_board": 0}) is None
    # a frame dropped whole when storage filled is one of frames_lost: counted once, beside one whose record is gone
    dropped = {"captured": 10, "on_board": 0, "frames_lost": 1, "dropped_by_reason": {"storage_full": 1},
               "products_lost_by_reason": {"storage_full": 1}}
    assert unfinished(8, dropped).endswith(": 1 lost on board (storage_full), 1 whose telemetry records the "
                                           "comparison reads are missing or unreadable (see the reception anomalies).")
    # a delivered frame whose processing record was unreadable: not lost on board (the ledger counts no loss)
    assert unfinished(4, {"captured": 5, "on_board": 0, "frames_lost": 0}).endswith(
        ": 1 whose telemetry records the comparison reads are missing or unreadable (see the reception anomalies).")
    text = verdict_of(rows(best_lossless=1000, this_run=300) | {"frames": 3}, CLOUD_AI)
    assert "captured frames" not in text  # no ledger: nothing to say
    full = verdict({"comparison": rows(best_lossless=1000, this_run=300), "ledger": {"captured": 5, "on_board": 2}},
                   CLOUD_AI)
    assert full.endswith("of clear ground, over the 3 of 5 captured frames that finished. The other 2 captured "
                         "frames are in no row of the comparison: 2 still on board.")


def test_finished_frames_that_lean_towards_whole_drops_are_named_with_the_saving_over_every_capture():
    """A slow link: the cloud filter's whole-frame drops finish at once while kept frames wait on board, so 14 of
    the 23 finished frames are drops; the saving over all 54 captures (products on board counted) stands beside."""
    ledger = {"captured": 54, "on_board": 31, "dropped_by_reason": {"cloudy": 14},
              "products_decided_by_stage": {"cloud_filter": {"cloudy": 450}}}
    bandwidth = {"saved_fraction": 0.877257, "saved_fraction_all_captures": 0.648089, "bytes_on_board": 24_399_497}
    assert leaning(23, ledger, bandwidth) == (
        "Frames a stage drops whole finish at once while the frames it keeps wait on board for a pass, so 14 of the 23 "
        "finished frames are such drops and the figures above lean towards them: over all 54 captures, the 24.40 MB "
        "still on board counted, the pipeline saves 64.8 % against bent-pipe (87.7 % over the finished frames).")
    assert leaning(23, ledger | {"on_board": 0}, bandwidth) is None  # nothing waits: nothing leans
    storage = ledger | {"dropped_by_reason": {"storage_full": 14}, "products_decided_by_stage": {}}
    assert leaning(23, storage, bandwidth) is None  # lost frames are no stage's drop
    assert leaning(23, ledger, {}) is None


def test_mass_memory_that_ran_out_is_named_with_the_captures_it_refused():
    """storage_overflow.yaml (drop_oldest) loses frames when memory is full; stop_imaging refuses captures."""
    said = "so here what the pipeline keeps on board decides how many scenes last until a pass."
    assert storage_full({"captured": 26, "dropped_by_reason": {"storage_full": 8}}) == f"Mass memory ran out, {said}"
    assert storage_full({"captured": 23, "captures_skipped": {"storage_full": 30, "brownout": 2}}) == (
        f"Mass memory ran out: 30 planned captures were not taken for lack of room (storage_full), {said}")
    assert storage_full({"captured": 23, "dropped_by_reason": {"cloudy": 3}, "captures_skipped": {"brownout": 2}}) \
        is None


def test_a_link_with_room_for_bent_pipe_is_named_as_no_constraint():
    """xband_acm's passes were busy 0.17 % of their time for 17.7 MB: bent-pipe's 47.2 MB needed about 0.44 %."""
    by_name = {"bent_pipe": {"bytes": 47_190_000}}
    contacts = {"total_usage": 0.001656, "bytes_sent": 17_698_633}
    assert link_slack(by_name, {"on_board": 0}, contacts) == (
        "The link was not the constraint: the passes were busy 0.2 % of their time and left nothing on board, and "
        "bent-pipe (47.19 MB) would have needed about 0.4 % of it, so here the pipeline's bytes change how long the "
        "passes are busy, not what reaches the ground.")
    quiet = link_slack(by_name, {"on_board": 0}, {"total_usage": 0.0004, "bytes_sent": 17_698_633})
    assert "busy under 0.1 % of their time" in quiet and "needed about 0.1 % of it" in quiet
    assert "needed under 0.1 % of it" in link_slack(by_name, {"on_board": 0}, {"total_usage": 0.0001,
                                                                                "bytes_sent": 17_698_633})
    bent_pipe_run = by_name | {"this_run": {"bytes": 47_190_000}}
    assert link_slack(bent_pipe_run, {"on_board": 0}, contacts).startswith(
        "The link was not the constraint: the passes were busy 0.2 % of their time and left nothing on board, so here")
    assert link_slack(by_name, {"on_board": 1}, contacts) is None  # something waited for a pass
    # storage, not the link, was the constraint: frames evicted, or captures skipped, for lack of room
    assert link_slack(by_name, {"on_board": 0, "frames_lost": 8}, contacts) is None
    assert link_slack(by_name, {"on_board": 0, "captures_skipped": {"storage_full": 3}}, contacts) is None
    assert link_slack(by_name, {"on_board": 0, "captures_skipped": {"brownout": 3}}, contacts) is not None
    assert link_slack(by_name, {"on_board": 0}, {"total_usage": 0.2, "bytes_sent": 17_698_633}) is None  # 53 %
    assert link_slack(by_name, {"on_board": 0}, {"total_usage": None, "bytes_sent": None}) is None  # no contacts
    assert link_slack({"bent_pipe": {"bytes": None}}, {"on_board": 0}, contacts) is None
    # single frames: no bent_pipe row, one raw frame per scene is every raw frame
    assert link_slack({"bent_pipe_single": {"bytes": 47_190_000}}, {"on_board": 0}, contacts) == \
        link_slack(by_name, {"on_board": 0}, contacts)


def test_a_saturated_link_turns_bytes_into_scenes_delivered():
    """cubesat_sband.yaml: its passes were busy 97.2 % of their time and 27 of 51 frames waited on board; the 24 that
    finished took 124.12 MB in TIFF, 80.67 MB in JPEG-LS, so the same bytes in JPEG-LS are 24 * 124.12 / 80.67 =
    36.9 frames, about 36 whole ones."""
    by_name = {"best_lossless": {"bytes": 80_670_000}, "this_run": {"bytes": 124_120_000}}
    ledger, contacts = {"captured": 51, "on_board": 27}, {"total_usage": 0.972384, "bytes_sent": 127_665_274}
    assert link_bound(by_name, 24, ledger, contacts, "JPEG-LS") == (
        "The link was the constraint: the passes were busy 97.2 % of their time and 27 of the 51 captured frames did "
        "not reach the ground. Spent on JPEG-LS at its mean size per frame (3.36 MB), the image bytes this run sent "
        "would have brought down about 36 frames, not 24: here the bytes the pipeline spends are scenes left behind.")
    # a pipeline that saves: the reference would have brought down fewer; never more than were captured
    saver = {"best_lossless": {"bytes": 124_120_000}, "this_run": {"bytes": 80_670_000}}
    assert link_bound(saver, 24, ledger, contacts, "JPEG-LS").endswith(
        "about 15 frames, not 24: here every byte the pipeline saves is scenes delivered.")
    assert "about 51 frames, not 24" in link_bound(by_name | {"this_run": {"bytes": 800_000_000}}, 24, ledger,
                                                   contacts, "JPEG-LS")
    assert link_bound(by_name, 24, ledger, contacts, None).count("the best lossless codec on one frame per scene at")
    # frames lost on board count; frames that failed the ground's checks reached it
    lost = link_bound(by_name, 24, {"captured": 30, "on_board": 0, "frames_lost": 6}, contacts, "JPEG-LS")
    assert "6 of the 30 captured frames did not reach the ground" in lost
    assert link_bound(by_name, 24, {"captured": 26, "on_board": 0, "frames_unverified": 2}, contacts, "x") is None
    # storage_overflow.yaml: frames lost to full storage while the passes were busy 17.6 %: not the link
    assert link_bound(by_name, 24, ledger, {"total_usage": 0.17558, "bytes_sent": 1}, "JPEG-LS") is None
    assert link_bound(by_name, 51, {"captured": 51, "on_board": 0}, contacts, "JPEG-LS") is None  # all finished
    assert link_bound({"this_run": {"bytes": 1}}, 24, ledger, contacts, None) is None  # nothing to set it against
    assert link_bound(by_name, 0, ledger, contacts, "JPEG-LS") is None  # no finished frame: no size per frame
    # the reference is the headline's, named by its codec (encode_only: the encode stage's format)
    assert reference_codec(by_name | {"best_lossless": {"bytes": 5, "codec": "jpegls"}}, CLOUD_AI) == "JPEG-LS"
    assert reference_codec({"encode_only": {"bytes": 5}, "bent_pipe": {"bytes": 9}}, CLOUD_AI) == "PNG"
    assert reference_codec({"bent_pipe": {"bytes": 9}}, CLOUD_AI) is None


def test_the_same_bytes_in_jpeg2000_are_set_beside_a_run_that_loses_ground_or_quality():
    """The issue's question: spent on compressing every scene, how good would the same bytes' pictures be?"""
    lossy = {"bytes": 17_200_000, "psnr_db": 55.84, "ssim": 0.99771, "clear_pixels_lost_fraction": 0.0}
    ours = {"bytes": 17_700_000, "clear_pixels_lost_fraction": 0.042}
    assert same_bytes({"lossy_same_bytes": lossy, "this_run": ours}) == (
        "JPEG 2000 instead, scene by scene within the bytes this run sent (none where it sent none), gives pictures "
        "at PSNR 55.8 dB against the raw frames, SSIM 0.9977, with no clear ground lost.")
    mostly_exact = lossy | {"psnr_db": 77.21, "ssim": 0.999988, "scenes": 14, "exact_scenes": 13}
    assert ("gives pictures at PSNR 77.2 dB against the raw frames, SSIM 1.0000 (pooled: 13 of its 14 scenes exact, "
            "where the lossless codestream fitted), with no clear ground lost."
            in same_bytes({"lossy_same_bytes": mostly_exact, "this_run": ours}))
    exact = {"bytes": 17_200_000, "psnr_db": None, "clear_pixels_lost_fraction": 0.0}
    assert same_bytes({"lossy_same_bytes": exact, "this_run": ours}).endswith("gives lossless pictures with no clear "
                                                                             "ground lost.")
    assert same_bytes({"lossy_same_bytes": exact, "this_run": ours | {"clear_pixels_lost_fraction": 0.0}}) is None
    starved = lossy | {"clear_pixels_lost_fraction": 0.31}  # this run sent nothing of some scenes
    assert same_bytes({"lossy_same_bytes": starved, "this_run": ours}).endswith("with 31.0 % of clear ground lost.")
    hair = lossy | {"clear_pixels_lost_fraction": 0.00026}  # a cloudy frame the run dropped held a little
    assert same_bytes({"lossy_same_bytes": hair, "this_run": ours}).endswith("with under 0.1 % of clear ground lost.")
    assert same_bytes({"lossy_same_bytes": lossy, "this_run": ours | {"bytes": 0}}) is None
    assert same_bytes({"this_run": ours}) is None


def test_a_run_that_captured_nothing_says_so_rather_than_blame_processing_records():
    empty = {"comparison": {"frames": 0, "rows": rows(bent_pipe=None, this_run=None)["rows"]},
             "ledger": {"captured": 0, "on_board": 0}}
    assert verdict(empty, CLOUD_AI) == ("No verdict: nothing was captured, so there is nothing to set against a "
                                        "baseline (the warning at the report's top says why).")
    captured = empty | {"ledger": {"captured": 3, "on_board": 3}}  # all still on board: a link that never closed
    assert verdict(captured, CLOUD_AI) == (
        "No verdict: none of the 3 captured frames finished (none reached the ground or was dropped whole on board), "
        "so what on-board AI (cloud_filter > encode) sends cannot be set against a baseline.")
    one = verdict(empty | {"ledger": {"captured": 1, "on_board": 1}}, CLOUD_AI)
    assert one.startswith("No verdict: the one captured frame did not finish (it neither reached the ground nor was ")
    # a run killed outright has no ledger: nothing is known to have finished, not "none finished"
    killed = empty | {"ledger": {"captured": 8, "delivered": None}, "missing": ["telemetry/ledger.jsonl"]}
    assert verdict(killed, CLOUD_AI) == (
        "No verdict: telemetry/ledger.jsonl is missing and no frame is known to have finished, so what on-board AI "
        "(cloud_filter > encode) sends cannot be set against a baseline.")
    # nor without the processing records, which the verdict's figures come from: it blamed the frames, beside a
    # ledger where all 15 were delivered
    records_gone = empty | {"ledger": {"captured": 15, "delivered": 15}, "missing": ["telemetry/processing.jsonl"]}
    assert verdict(records_gone, CLOUD_AI).startswith(
        "No verdict: telemetry/processing.jsonl is missing, and with it the on-board processing records the figures "
        "come from, so what on-board AI")
    no_telemetry = empty | {"ledger": {"captured": None}, "missing": ["telemetry/"]}  # nothing known was captured
    assert verdict(no_telemetry, CLOUD_AI).startswith("No verdict: telemetry/ is missing, and with it the on-board ")


def test_the_cloud_filters_own_share_is_set_beside_the_best_codec_whatever_the_run_encodes_in():
    """A cloud filter whose products go down raw sends 1.3x MORE than JPEG-LS, yet with the best codec on its kept
    tiles it would send fewer: the verdict says both, so the codec's part is not counted for or against the AI."""
    comp = rows(best_lossless=30_830_000, cloud_filter_best_lossless=22_760_000, this_run=40_000_000)
    by_name = {r["pipeline"]: r for r in comp["rows"]}
    by_name["cloud_filter_best_lossless"]["codec"] = "JPEG 2000"
    by_name["best_lossless"]["codec"] = "JPEG-LS"
    assert filter_on_codec(by_name) == (
        "The cloud filter's own share: its kept tiles of one frame per scene in the best lossless codec (JPEG 2000) "
        "would be 22.76 MB, 1.35x fewer bytes than the best lossless codec on the whole of the same frames "
        "(JPEG-LS, 30.83 MB).")
    by_name["cloud_filter_best_lossless"]["bytes"] = 61_660_000  # a filter that keeps tiles dearer to code
    assert "2.00x MORE bytes than the best lossless codec" in filter_on_codec(by_name)
    assert filter_on_codec({"best_lossless": by_name["best_lossless"]}) is None  # no cloud filter
    assert "The cloud filter's own share" in verdict_of(comp, CLOUD_AI)


def test_caveats_follow_the_headline_in_order():
    comp = rows(bent_pipe=47_000, best_lossless=24_000, this_run=17_000)
    comp["rows"].append({"pipeline": "lossy_same_bytes", "bytes": 16_900, "psnr_db": 50.0, "ssim": 0.99,
                         "clear_pixels_lost_fraction": 0.0})
    report = {"comparison": comp, "ledger": {"captured": 4, "on_board": 0},
              "contacts": {"total_usage": 0.01, "bytes_sent": 17_000}}
    found = caveats(report, CLOUD_AI, {"cloud_filter": VALIDATED})
    assert [s.split()[:2] for s in found] == [["The", "other"], ["The", "link"], ["JPEG", "2000"], ["On", "real"]]
    text = verdict(report, CLOUD_AI, {"cloud_filter": VALIDATED})
    assert text == " ".join([text.split(". ")[0] + "."] + found)
    # the headline read back from the text alone, as the terminal summary does; decimals do not cut it short
    assert headline_of(text) == headline(comp, CLOUD_AI, {"cloud_filter": VALIDATED}, 4) != text
    assert "3.21 MB" in headline_of("It sends 3.1x MORE (10.12 MB) than JPEG-LS (3.21 MB). The link.")
    assert headline_of(verdict({"comparison": {}, "ledger": {"captured": 0}}, CLOUD_AI)).startswith("No verdict")
