"""ground.frame_ledger: the report's ledger section and its tables."""

from __future__ import annotations

import json
import shutil

from ground.document import Table
from ground.frame_ledger import frames_dropped, ledger_blocks, ledger_section, ledger_warnings
from ground.run_data import load_run


def test_counts_balance_against_the_ledger_file(tiny_run):
    rows = [json.loads(line) for line in (tiny_run / "telemetry" / "ledger.jsonl").read_text().splitlines()]
    ledger = ledger_section(load_run(tiny_run))
    for status in ("delivered", "dropped", "on_board"):
        assert ledger[status] == sum(r["status"] == status for r in rows)
    assert ledger["captured"] == len(rows) and ledger["balanced"] is True
    assert ledger["dropped_by_reason"] == {"storage_full": 1}


def test_without_a_ledger_only_the_captures_are_counted_and_that_none_is_accounted_for_is_a_warning(tiny_run):
    """A run killed outright leaves no ledger: its report said "None delivered" and warned of nothing."""
    (tiny_run / "telemetry" / "ledger.jsonl").unlink()
    ledger = ledger_section(load_run(tiny_run))
    assert ledger["captured"] == 4 and ledger["balanced"] is None and ledger["delivered"] is None
    reached = len({line["frame_ids"][0] for line in map(json.loads, (tiny_run / "downlink" / "manifest.jsonl")
                                                          .read_text().splitlines())})
    assert 0 < reached < 4  # what the ground can still say: the frames some verified product came from
    assert ledger["warnings"] == [
        "4 frames were captured, and telemetry/ledger.jsonl, which says what became of each, is missing (the "
        "spacecraft writes it as a run ends; a run killed outright, SIGKILL or the out-of-memory killer, leaves "
        f"none): the ground verified products of {reached} of them (downlink/manifest.jsonl), whether whole is "
        f"unknown, and what became of the other {4 - reached} is unknown, so no figure that counts frames can be "
        "trusted."]
    shutil.rmtree(tiny_run / "telemetry")
    assert ledger_section(load_run(tiny_run))["captured"] is None


def test_tables_say_whether_the_ledger_balances(tiny_run):
    ledger = ledger_section(load_run(tiny_run))
    for balanced, note in ((True, "balanced"), (False, "NOT BALANCED"), (None, "balance unknown")):
        blocks = ledger_blocks({**ledger, "balanced": balanced})
        frames = blocks[1]
        assert isinstance(frames, Table) and frames.rows[-1][2] == note
    products = ledger_blocks(ledger)[2]
    assert products.header[0] == "products" and products.rows[0][1] == ledger["products_delivered"]
    assert ledger_blocks(ledger)[1].rows[0][2] == "nothing of it left on board, and a product of it on the ground"
    assert ledger_blocks({**ledger, "frames_unverified": 2})[1].rows[0][2] == (
        "nothing of it left on board, and a product of it on the ground; 2 of them with products that failed the "
        "ground's checks")


def test_frames_lost_on_board_or_failing_the_ground_checks_are_warnings():
    ledger = {"captured": 26, "delivered": 4, "frames_lost": 22, "products_lost_by_reason": {"storage_full": 22},
              "frames_unverified": 0}
    assert ledger_warnings(ledger) == [
        "22 of 26 captured frames lost data on board by no stage's decision (storage_full: 22 products): it never "
        "reached the ground. The verdict, the comparison and every 'saved' figure leave these frames out; see the "
        "frame ledger."]
    assert ledger_warnings({**ledger, "frames_lost": 0, "products_lost_by_reason": {}}) == []
    assert ledger_warnings({**ledger, "frames_lost": 0, "frames_unverified": 3}) == [
        "3 of the 4 frames the spacecraft delivered have products that failed the ground's checks (see the ground's "
        "anomalies): the verdict, the comparison and every 'saved' figure leave these frames out."]


def test_a_run_that_delivered_nothing_says_what_became_of_its_frames():
    """An overcast sky under a strict filter: every frame dropped as cloudy, none delivered."""
    ledger = {"captured": 12, "delivered": 0, "on_board": 0, "dropped_by_reason": {"cloudy": 12},
              "products_decided_by_stage": {"cloud_filter": {"cloudy": 192}}}
    assert ledger_warnings(ledger) == [
        "none of the 12 captured frames reached the ground: 12 dropped by a stage's decision (cloudy). Every 'saved' "
        "figure of this run is a saving of nothing delivered."]
    mixed = {"captured": 5, "delivered": 0, "on_board": 2, "dropped_by_reason": {"storage_full": 3}}
    assert ledger_warnings(mixed)[0].startswith("none of the 5 captured frames reached the ground: 3 lost on board "
                                                "(storage_full), 2 still on board.")
    assert ledger_warnings({**ledger, "delivered": 1}) == []
    assert ledger_warnings({**ledger, "captured": 0}) == []  # nothing captured: the capture warning says why


def test_a_run_that_captured_nothing_says_why():
    from types import SimpleNamespace

    from ground.frame_ledger import nothing_captured

    def run(*summaries, stopped=None):
        return SimpleNamespace(run_info=SimpleNamespace(satellite_summary=list(summaries), stopped=stopped))

    idle = SimpleNamespace(frames_planned=0, captures_skipped={})
    assert nothing_captured(run(idle, idle)).startswith("nothing was captured: no capture was planned, since no "
                                                        "target passed within the camera's reach")
    shed = SimpleNamespace(frames_planned=3, captures_skipped={"brownout": 3})
    assert nothing_captured(run(idle, shed)) == "nothing was captured of the 3 captures planned (skipped: brownout: 3)."
    assert "no satellite summary" in nothing_captured(SimpleNamespace(run_info=None))
    # a run stopped before its first capture reached none: not "no target in reach"
    overrun = SimpleNamespace(reason="RealtimeOverrun", simulated_s=90.0)
    assert nothing_captured(run(idle, stopped=overrun)) == (
        "nothing was captured: the run stopped (RealtimeOverrun) at simulated t = 1.5 min, before its first planned "
        "capture.")
    assert nothing_captured(run(shed, stopped=overrun)) == ("nothing was captured of the 3 captures the simulation "
                                                            "reached before it stopped (skipped: brownout: 3).")


def test_captures_planned_but_not_taken_are_a_warning():
    """A capture skipped (storage full under stop_imaging, brown-out) never becomes a frame, so no ledger count
    shows it: the report says how many of those planned were not taken, and why."""
    from types import SimpleNamespace

    from ground.frame_ledger import skipped_captures

    def run(*summaries):
        return SimpleNamespace(run_info=SimpleNamespace(satellite_summary=list(summaries), stopped=None))

    starved = SimpleNamespace(frames_planned=54, captures_skipped={"storage_full": 44, "brownout": 2})
    fine = SimpleNamespace(frames_planned=10, captures_skipped={})
    assert skipped_captures(run(starved, fine)) == [
        "46 of the 64 captures planned were not taken (brownout: 2; storage_full: 44): they are in no frame count "
        "of the ledger; see the storage and power table."]
    assert skipped_captures(run(fine)) == [] and skipped_captures(SimpleNamespace(run_info=None)) == []


def test_the_section_carries_the_skipped_captures_warning(tiny_run):
    """The tiny run's summary, with captures skipped, reaches report.json's ledger warnings."""
    path = tiny_run / "telemetry" / "run.json"
    info = json.loads(path.read_text())
    assert "warnings" not in ledger_section(load_run(tiny_run))
    assert ledger_section(load_run(tiny_run))["captures_skipped"] == {}
    info["satellite_summary"] = [{
        "satellite": "sat-1", "frames_planned": 9, "frames_captured": 4, "compute_busy_s": 1.0,
        "compute_timing": "projected", "storage_peak_bytes": 10, "storage_capacity_bytes": 10, "battery_min_soc": 0.5,
        "brownout_s": 0.0, "energy_in_wh": 1.0, "energy_out_wh": 1.0, "energy_unmet_wh": 0.0,
        "captures_skipped": {"storage_full": 5}}]
    path.write_text(json.dumps(info))
    section = ledger_section(load_run(tiny_run))
    assert "5 of the 9 captures planned were not taken (storage_full: 5): they are in no frame count of the ledger; " \
           "see the storage and power table." in section["warnings"]
    assert section["captures_skipped"] == {"storage_full": 5}  # the verdict reads it: storage, not the link, was full


def test_frames_dropped_by_a_stage_and_lost_on_board_are_told_apart():
    ledger = {"dropped_by_reason": {"cloudy": 3, "storage_full": 8, "evicted": 1},
              "products_decided_by_stage": {"cloud_filter": {"cloudy": 40}, "scene_triage": {"evicted": 2}}}
    assert frames_dropped(ledger) == ({"cloudy": 3, "evicted": 1}, {"storage_full": 8})
    assert frames_dropped({"dropped_by_reason": {"storage_full": 2}}) == ({}, {"storage_full": 2})
    assert frames_dropped({}) == ({}, {})


def test_the_tables_name_whose_decision_each_drop_was():
    ledger = {"captured": 13, "delivered": 0, "dropped": 13, "on_board": 0, "balanced": True,
              "dropped_by_reason": {"cloudy": 3, "storage_full": 8, "evicted": 1, "no_product": 1},
              "products_decided_by_stage": {"cloud_filter": {"cloudy": 40}, "scene_triage": {"evicted": 2}},
              "products_lost_by_reason": {"storage_full": 8, "evicted": 1},
              "products_delivered": 0, "products_dropped": 51, "products_on_board": 0,
              "products_dropped_by_reason": {"cloudy": 40, "evicted": 3, "storage_full": 8}}
    frames, products = ledger_blocks(ledger)[1:]
    assert frames.rows[1][2] == ("cloudy: 3 (cloud_filter's decision); storage_full: 8 (lost on board); "
                                 "evicted: 1 (scene_triage's decision, or lost on board); no_product: 1")
    assert products.rows[1][2] == ("cloudy: 40 (cloud_filter's decision); evicted: 3 (scene_triage's decision, or "
                                   "lost on board); storage_full: 8 (lost on board)")


def test_frames_missing_from_the_ledger_or_from_the_captures_are_warnings(tiny_run):
    """Three frames cut from the ledger read "12 captured: 9 delivered (NOT balanced)" with no warning, and an
    empty captures.jsonl "nothing was captured of the 12 captures planned" beside 12 products received."""
    ledger_file, captures_file = (tiny_run / "telemetry" / name for name in ("ledger.jsonl", "captures.jsonl"))
    rows = ledger_file.read_text().splitlines()
    ledger_file.write_text("\n".join(rows[1:]) + "\n")
    ledger = ledger_section(load_run(tiny_run))
    assert ledger["balanced"] is False and ledger["frames_missing_from_ledger"] == 1
    assert ("1 of the 4 captured frames (telemetry/captures.jsonl) are missing from telemetry/ledger.jsonl: what "
            "became of them is unknown, and the ledger does not balance.") in ledger["warnings"]
    ledger_file.write_text("\n".join(rows) + "\n")
    captures_file.write_text("")
    ledger = ledger_section(load_run(tiny_run))
    assert ledger["captured"] == 0 and ledger["frames_not_captured"] == 4
    assert not any(text.startswith("nothing was captured") for text in ledger["warnings"])
    assert any(text.startswith("4 frames of telemetry/ledger.jsonl have no capture record") for text in
               ledger["warnings"])
