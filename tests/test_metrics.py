"""Metrics against hand-computed cases: latency percentiles, bandwidth, ledger balance, on-board age, contact usage."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ground.metrics import (bandwidth, contact_usage, decided, finished_frames, latencies_s, latency_stats,
                            ledger_summary, lost, on_board, unverified)
from rundir.manifest import Footprint, ManifestLine
from rundir.telemetry import CaptureRecord, ContactRecord, LedgerRow, LinkSample, PassLinkRecord

ONE_MS = 1e-3


def line(capture_t_s: float, downlink_t_s: float, size_bytes: int = 100, raw_bytes: int = 400,
         retransmitted_bytes: int = 0) -> ManifestLine:
    """A delivered product's manifest line: the keys the ground needs, with these times and sizes."""
    return ManifestLine.from_json({
        "id": "p", "file": "p.raw", "sha256": "0" * 64, "format": "raw", "shape": [4, 4, 4], "bit_depth": 12,
        "kind": "image", "tile": {"row0": 0, "col0": 0, "height": 4, "width": 4, "frame_height": 4, "frame_width": 4},
        "bands": ["B", "G", "R", "NIR"], "reflectance_per_dn": 1.2 / 4095, "frame_ids": ["f0"],
        "pass_id": "sat-1-p000", "capture_t_s": capture_t_s, "downlink_t_s": downlink_t_s,
        "bytes": size_bytes, "raw_bytes": raw_bytes, "retransmitted_bytes": retransmitted_bytes})


def capture(frame_id: str, raw_bytes: int = 400) -> CaptureRecord:
    """A telemetry/captures.jsonl record as the recorder writes it: ``raw_bytes`` of bent-pipe, the rest fixed."""
    return CaptureRecord(frame_id, "sat-1", "sat-1-p000", "paris", 0.0, "2026-06-21T00:00:00.000Z", raw_bytes, 1,
                         Footprint(32631, 448000.0, 5412000.0, 10.0, 16, 16), 48.86, 2.35, 40.0, 5.0)


def test_latency_percentiles_match_hand_computation():
    lines = [line(0.0, 10.0), line(5.0, 25.0), line(100.0, 130.0), line(0.0, 40.0), line(1000.0, 1100.0)]
    lat = latencies_s(lines)
    np.testing.assert_allclose(lat, [10.0, 20.0, 30.0, 40.0, 100.0], atol=ONE_MS)
    stats = latency_stats(lat)
    # sorted 10, 20, 30, 40, 100: p50 is the middle value; p90 sits at rank 0.9 * 4 = 3.6, 60 % from 40 to 100
    assert stats["count"] == 5
    assert abs(stats["p50"] - 30.0) < ONE_MS
    assert abs(stats["p90"] - (40.0 + 0.6 * 60.0)) < ONE_MS
    assert abs(stats["mean"] - 40.0) < ONE_MS
    assert stats["max"] == 100.0 and stats["min"] == 10.0


def test_latency_of_nothing_is_none():
    assert latency_stats(latencies_s([])) == {"count": 0, "p50": None, "p90": None, "mean": None, "min": None,
                                              "max": None}


def test_bandwidth_figures_and_saved_fractions():
    delivered = [line(0, 1, 100, 400), line(0, 1, 300, 400, retransmitted_bytes=50)]
    lines = delivered + [line(0, 2, 300, 400, retransmitted_bytes=20)]  # a duplicate delivery
    captures = [capture("f0", 800), capture("f1", 800), capture("f2", 400)]
    bw = bandwidth(delivered, lines, captures, bytes_on_board=100)
    assert bw["raw_bytes"] == 2000
    assert bw["raw_bytes_delivered"] == 800
    assert bw["downlinked_bytes"] == 400
    assert bw["received_bytes"] == 700
    assert bw["retransmitted_bytes"] == 70
    assert bw["saved_fraction"] == pytest.approx(1 - 400 / 800)
    assert bw["saved_fraction_all_captures"] == pytest.approx(1 - (400 + 100) / 2000)


def test_bandwidth_without_telemetry_or_products():
    bw = bandwidth([], [], None, None)
    assert bw["raw_bytes"] is None and bw["saved_fraction"] is None and bw["saved_fraction_all_captures"] is None
    assert bw["downlinked_bytes"] == 0


def ledger_row(frame_id: str, status: str, reason: str | None = None, bytes_on_board: int = 0,
               age_s: float | None = None, dropped: dict | None = None, decided: dict | None = None) -> LedgerRow:
    """A telemetry/ledger.jsonl row as onboard/sim/ledger.py makes it; ``decided``: {stage: {reason: count}}."""
    dropped = dropped or {}
    return LedgerRow(frame_id, "sat-1", status, reason, 2 if status == "delivered" else 0, sum(dropped.values()),
                     dropped, 1 if status == "on_board" else 0, bytes_on_board, age_s, decided or {})


LEDGER = [ledger_row("f0", "delivered", dropped={"cloudy": 1}, decided={"cloud_filter": {"cloudy": 1}}),
          ledger_row("f1", "dropped", "storage_full"),
          ledger_row("f2", "dropped", "cloudy", dropped={"cloudy": 4}, decided={"cloud_filter": {"cloudy": 4}}),
          ledger_row("f3", "dropped", "storage_full"),
          ledger_row("f4", "on_board", bytes_on_board=5000, age_s=3600.0),
          ledger_row("f5", "on_board", bytes_on_board=1000, age_s=600.0)]
CAPTURES = [capture(f"f{i}") for i in range(6)]


def test_ledger_balances_against_captures():
    s = ledger_summary(LEDGER, CAPTURES)
    assert (s["captured"], s["delivered"], s["dropped"], s["on_board"]) == (6, 1, 3, 2)
    assert s["dropped_by_reason"] == {"cloudy": 1, "storage_full": 2}
    assert s["products_dropped_by_reason"] == {"cloudy": 5}
    assert s["products_delivered"] == 2 and s["products_on_board"] == 2
    assert s["balanced"] is True
    assert s["products_decided_by_stage"] == {"cloud_filter": {"cloudy": 5}} and s["products_lost_by_reason"] == {}


def test_a_drop_is_a_decision_only_where_the_ledger_names_the_stage_that_made_it():
    """Whatever the reason's name: a plugin's own label is a decision, a cloudy drop no stage claims is a loss."""
    triage = ledger_row("t", "dropped", "ocean", dropped={"ocean": 1}, decided={"scene_triage": {"ocean": 1}})
    unclaimed = ledger_row("u", "dropped", "cloudy", dropped={"cloudy": 2})
    both = ledger_row("b", "delivered", dropped={"cloudy": 3, "storage_full": 1},
                      decided={"cloud_filter": {"cloudy": 2}, "scene_triage": {"cloudy": 1}})
    evicted = ledger_row("e", "delivered", dropped={"storage_full": 1})
    nothing = ledger_row("n", "dropped", "no_product")
    assert (decided(triage), lost(triage)) == ({"ocean": 1}, {})
    assert (decided(unclaimed), lost(unclaimed)) == ({}, {"cloudy": 2})
    assert (decided(both), lost(both)) == ({"cloudy": 3}, {"storage_full": 1})
    assert finished_frames([triage, unclaimed, both, evicted, nothing, ledger_row("d", "delivered"),
                            ledger_row("o", "on_board")]) == {"t", "d"}
    s = ledger_summary([triage, unclaimed, both, evicted], None)
    assert s["products_dropped_by_reason"] == {"cloudy": 5, "ocean": 1, "storage_full": 2}
    assert s["products_decided_by_stage"] == {"cloud_filter": {"cloudy": 2}, "scene_triage": {"cloudy": 1, "ocean": 1}}
    assert s["products_lost_by_reason"] == {"cloudy": 2, "storage_full": 2}


def test_ledger_missing_a_captured_frame_is_unbalanced():
    s = ledger_summary(LEDGER[:-1], CAPTURES)
    assert s["balanced"] is False and s["frames_missing_from_ledger"] == 1 and s["captured"] == 6


def test_ledger_with_a_frame_never_captured_is_unbalanced():
    s = ledger_summary(LEDGER + [ledger_row("f9", "delivered")], CAPTURES)
    assert s["balanced"] is False and s["frames_not_captured"] == 1



def test_on_board_bytes_and_age():
    board = on_board(LEDGER)
    assert board["bytes"] == 6000 and board["frames"] == 2 and board["products"] == 2
    assert board["max_age_s"] == 3600.0 and abs(board["mean_age_s"] - 2100.0) < ONE_MS
    assert on_board([])["max_age_s"] is None


def test_contact_usage_per_window_and_means():
    contacts = [  # satellite, station, AOS, LOS, max elevation, tracked, used_s, bytes_sent
        ContactRecord("b", "s", 1000.0, 1400.0, 30.0, True, 100.0, 7),
        ContactRecord("a", "s", 0.0, 600.0, 60.0, True, 600.0, 9),
        ContactRecord("c", "s", 1100.0, 1300.0, 10.0, False, 0.0, 0),
        ContactRecord("d", "s", 2000.0, 2000.0, 0.0, True, 0.0, 0),
    ]
    got = contact_usage(contacts)
    assert [w["satellite"] for w in got["windows"]] == ["a", "b", "c", "d"]
    assert [w["usage"] for w in got["windows"]] == [1.0, 0.25, 0.0, 0.0]
    assert got["mean_usage"] == pytest.approx((1.0 + 0.25 + 0.0) / 3)
    # b and c overlap at station s, whose one antenna could give them 400 s between them, not 600 s
    assert got["total_usage"] == pytest.approx(700.0 / 1000.0)
    assert (got["count"], got["tracked"], got["bytes_sent"]) == (4, 3, 16)
    assert contact_usage([])["mean_usage"] is None


def test_overlapping_windows_count_the_link_time_a_fleet_could_use_once():
    """One antenna per station, one radio per satellite: two satellites over one station, sending back to back,
    kept it busy all the time (the sum of their windows read 57 %, under the 90 % that says the link was the
    constraint); a satellite seen by two stations at once could use one of them."""
    shared = [ContactRecord("a", "s", 0.0, 600.0, 60.0, True, 300.0, 7),
              ContactRecord("b", "s", 100.0, 700.0, 60.0, True, 400.0, 7)]
    assert contact_usage(shared)["total_usage"] == pytest.approx(1.0)
    handover = [ContactRecord("a", "s1", 0.0, 100.0, 30.0, True, 60.0, 7),
                ContactRecord("a", "s2", 50.0, 150.0, 30.0, True, 90.0, 7)]
    assert contact_usage(handover)["total_usage"] == pytest.approx(1.0)
    apart = [ContactRecord("a", "s1", 0.0, 100.0, 30.0, True, 60.0, 7),
             ContactRecord("b", "s2", 50.0, 150.0, 30.0, True, 90.0, 7)]  # two satellites, two stations: both
    assert contact_usage(apart)["total_usage"] == pytest.approx(150.0 / 200.0)
    twice = [ContactRecord("a", "s", 0.0, 100.0, 30.0, True, 60.0, 7),
             ContactRecord("a", "s", 50.0, 150.0, 30.0, True, 90.0, 7)]  # one pair, one radio, one antenna
    assert contact_usage(twice)["total_usage"] == pytest.approx(1.0)


def test_passes_that_overlap_only_where_their_links_are_down_do_not_share_link_time():
    """Under a link budget the link is up in the middle of a pass: two passes over one station that overlap at
    their low ends, where neither link closes, could both send all their link time (it read 109 %, the average
    link share spread over each pass)."""
    def samples(up_from_s, up_to_s, aos_s):
        return [LinkSample(aos_s, 5.0, 2500.0, 1.0, None, None, 0.0),
                LinkSample(up_from_s, 20.0, 1500.0, 8.0, 5.0, "QPSK 1/2", 100.0),
                LinkSample(up_to_s, 5.0, 2500.0, 1.0, None, None, 0.0)]

    contacts = [ContactRecord("a", "s", 0.0, 600.0, 40.0, True, 400.0, 7),
                ContactRecord("b", "s", 500.0, 1100.0, 40.0, True, 400.0, 7)]
    link = [PassLinkRecord("a", "s", 0.0, 600.0, 28.0, 400.0, 10**9, 400.0, 7, "rate_mbps", 1e6, 400,
                           samples(100.0, 500.0, 0.0)),
            PassLinkRecord("b", "s", 500.0, 1100.0, 28.0, 400.0, 10**9, 400.0, 7, "rate_mbps", 1e6, 400,
                           samples(600.0, 1000.0, 500.0))]
    assert contact_usage(contacts, link)["total_usage"] == pytest.approx(1.0)


def test_contact_usage_under_a_link_budget_is_a_share_of_the_time_the_link_was_up():
    """The radio sends only while a MODCOD closes: a pass whose link was up 300 of its 400 s, sending all 300, was
    busy all the time it could be (it read 75 %, under the 90 % that says the link was the constraint)."""
    contacts = [ContactRecord("b", "s", 1000.0, 1400.0, 30.0, True, 300.0, 7),
                ContactRecord("a", "s", 0.0, 600.0, 60.0, True, 0.0, 0)]
    link = [PassLinkRecord("b", "s", 1000.0, 1400.0, 28.0, 300.0, 10**9, 300.0, 7, "rate_mbps", 1e6, 300, []),
            PassLinkRecord("a", "s", 0.0, 600.0, 28.0, 0.0, 0, 0.0, 0, "rate_mbps", 1e6, 0, [])]  # never closed
    got = contact_usage(contacts, link)
    assert [(w["available_s"], w["usage"]) for w in got["windows"]] == [(0.0, 0.0), (300.0, 1.0)]
    assert got["total_usage"] == 1.0 and contact_usage(contacts)["total_usage"] == pytest.approx(300.0 / 1000.0)


def test_frames_lost_on_board_are_no_saving():
    # f1's product was lost to a full store: left out of the saving over all captures, not counted as not sent
    ledger = [ledger_row("f0", "delivered"), ledger_row("f1", "dropped", "storage_full", dropped={"storage_full": 1}),
              ledger_row("f2", "on_board", bytes_on_board=50, age_s=60.0)]
    captures = [capture("f0"), capture("f1"), capture("f2")]
    products = [line(0, 1, 100, 200), line(0, 1, 100, 200)]  # f0's two products
    bw = bandwidth(products, products, captures, bytes_on_board=50, ledger=ledger)
    assert bw["raw_bytes_lost"] == 400
    assert bw["saved_fraction_all_captures"] == pytest.approx(1 - (200 + 50) / 800)  # not 1 - 250 / 1200
    assert bw["saved_fraction"] == pytest.approx(1 - 200 / 400)  # f0, the one frame finished
    summary = ledger_summary(ledger, captures)
    assert summary["frames_lost"] == 1 and summary["products_lost_by_reason"] == {"storage_full": 1}


def test_frames_whose_products_failed_the_ground_checks_are_not_finished():
    # the ledger delivered two products each of f0 and f1; the ground verified one of f0's (the other corrupt, say)
    # and none of f1's (a manifest line cut short)
    ledger = [ledger_row("f0", "delivered"), ledger_row("f1", "delivered"), ledger_row("f2", "on_board")]
    verified = [line(0, 1, 100, 200)]  # frame_ids ["f0"]
    assert unverified(ledger, verified) == {"f0", "f1"}
    assert finished_frames(ledger, verified) == set() and finished_frames(ledger) == {"f0", "f1"}
    summary = ledger_summary(ledger, [capture("f0"), capture("f1"), capture("f2")], verified)
    assert summary["frames_unverified"] == 2 and summary["delivered"] == 2


def test_saved_sets_bytes_against_raw_bytes_only_over_frames_with_a_capture_record():
    """A capture record lost to a cut captures.jsonl took its frame's raw bytes out of the denominator but left its
    product in the numerator: 5 frames' bytes over 4 frames' raw bytes read 41 % saved where the run saved 53 %."""
    delivered = [line(0, 1, 100, 400), dataclasses.replace(line(0, 1, 300, 400), frame_ids=("f1",))]
    ledger = [dataclasses.replace(ledger_row(f, "delivered"), products_delivered=1) for f in ("f0", "f1")]
    whole = bandwidth(delivered, delivered, [capture("f0", 400), capture("f1", 400)], 0, ledger)
    assert whole["saved_fraction"] == pytest.approx(1 - 400 / 800)
    cut = bandwidth(delivered, delivered, [capture("f0", 400)], 0, ledger)
    assert cut["saved_fraction"] == pytest.approx(1 - 100 / 400)
    assert cut["saved_fraction_all_captures"] == pytest.approx(1 - 100 / 400)
