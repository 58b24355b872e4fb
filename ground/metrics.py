"""Run metrics from manifest lines and telemetry records: bandwidth, latency, data left on board, contacts, ledger.

Pure functions over manifest lines and capture records (JSON objects) and ledger and contact records
(:class:`~rundir.telemetry.LedgerRow`, :class:`~rundir.telemetry.ContactRecord`); every figure's definition is in
its docstring and, for bandwidth, in :data:`BANDWIDTH_DEFINITIONS`, which the report copies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from rundir.manifest import ManifestLine
from rundir.telemetry import CaptureRecord, ContactRecord, LedgerRow, PassLinkRecord



def decided(row: LedgerRow) -> Counter[str]:
    """Products of a ledger row that a pipeline stage dropped on purpose (a cloudy tile, a discarded frame), by
    reason: the sum over stages of the row's ``decided_by_stage`` (telemetry/ledger.jsonl, onboard/sim/ledger.py)."""
    out: Counter[str] = Counter()
    for by_reason in row.decided_by_stage.values():
        out.update(by_reason)
    return out


def lost(row: LedgerRow) -> Counter[str]:
    """Products of a ledger row dropped by no stage's decision (storage full, evicted), by reason: its
    ``dropped_by_reason`` less :func:`decided`."""
    return Counter(row.dropped_by_reason) - decided(row)


def unverified(ledger: Sequence[LedgerRow], delivered: Sequence[ManifestLine]) -> set[str]:
    """Frames the ledger says more products of were delivered than the ground verified in ``delivered`` (a
    product's file missing or corrupt, its manifest line cut): their data did not arrive as sent."""
    verified = Counter(line.frame_ids[0] for line in delivered)  # the ledger counts a product under its first frame
    return {r.frame_id for r in ledger if r.status == "delivered" and r.products_delivered > verified[r.frame_id]}


def finished_frames(ledger: Sequence[LedgerRow], delivered: Sequence[ManifestLine] | None = None) -> set[str]:
    """Frames the pipeline is done with: nothing on board, nothing lost (:func:`lost`), and either delivered or
    dropped by its stages' decisions (:func:`decided`); with ``delivered``, the ground's verified products, none
    whose products failed the ground's checks (:func:`unverified`)."""
    failed = unverified(ledger, delivered) if delivered is not None else set()

    def done(r: LedgerRow) -> bool:
        if r.products_on_board or lost(r) or r.frame_id in failed:
            return False
        return r.status == "delivered" or (r.status == "dropped" and bool(decided(r)))

    return {r.frame_id for r in ledger if done(r)}


BANDWIDTH_DEFINITIONS = {
    "raw_bytes": "bent-pipe bytes of every captured frame (telemetry/captures.jsonl raw_bytes, bit-packed DN)",
    "raw_bytes_delivered": "bent-pipe bytes of the pixels the verified products cover (manifest raw_bytes, summed "
                           "per product; overlapping tiles count their overlap once per tile)",
    "downlinked_bytes": "bytes of the verified products, each product once",
    "received_bytes": "bytes of every manifest line, duplicates and failed products included: what the link carried",
    "retransmitted_bytes": "bytes sent again after link frame errors (manifest retransmitted_bytes, every line)",
    "link_bytes": "bandwidth used: received_bytes + retransmitted_bytes, the bytes of every product the ground "
                  "received; a product still in transfer when the run ended is not counted (the contacts section "
                  "counts every byte sent)",
    "bytes_on_board": "product and raw bytes held in storage at the end of the run, a product caught mid-transfer "
                      "whole (telemetry/ledger.jsonl): what the storage plot ends on",
    "raw_bytes_finished": "bent-pipe bytes of the frames the pipeline finished with: every product delivered and "
                          "verified by the ground or discarded on purpose (e.g. cloudy tiles), none still on board, "
                          "lost to storage or failing the ground's checks; only frames with a capture record",
    "saved_fraction": "1 - (downlinked bytes of the finished frames) / raw_bytes_finished: what the pipeline saved "
                      "against bent-pipe for the same captures; without telemetry, 1 - downlinked_bytes / "
                      "raw_bytes_delivered",
    "tile_selection_saved_fraction": "with a cloud_filter stage: 1 - bent-pipe bytes of the tiles it kept (that "
                                     "reached the ground whole) / bent-pipe bytes of the finished frames with truth: "
                                     "tile selection alone, before encoding (saved_fraction adds the codec's saving); "
                                     "for bursts, its decision on every frame (it drops a tile cloudy in all)",
    "oracle_saved_fraction": "with a cloud_filter stage: the same when the policy is fed the true cloud mask (for "
                             "bursts, ground cloudy in every frame): set it beside tile_selection_saved_fraction, its "
                             "basis, not saved_fraction",
    "raw_bytes_lost": "bent-pipe bytes of the frames whose data did not reach the ground as sent: a product lost on "
                      "board by no stage's decision (storage full, evicted: ledger.products_lost_by_reason) or "
                      "failing the ground's checks (ledger.frames_unverified)",
    "saved_fraction_all_captures": "1 - (downlinked bytes + bytes_on_board, the bytes held in storage: a product "
                                   "caught mid-transfer counts whole, as no part of it is downlinked) / bent-pipe "
                                   "bytes over every capture but the frames that lost data on board or in downlink "
                                   "(raw_bytes_lost), which are left out, lost data not being a saving; tiles and "
                                   "frames the pipeline dropped on purpose count as not sent. Without a ledger: 1 - "
                                   "(downlinked_bytes + bytes_on_board) / raw_bytes",
}


def bandwidth(delivered: Sequence[ManifestLine], lines: Sequence[ManifestLine], captures: Sequence[CaptureRecord] | None,
              bytes_on_board: int | None, ledger: Sequence[LedgerRow] | None = None) -> dict[str, Any]:
    """Bandwidth figures in bytes and the saved fractions of :data:`BANDWIDTH_DEFINITIONS`.

    ``delivered``: the verified manifest lines, each product once; ``lines``: every parsed manifest line;
    ``captures``: telemetry capture records, or None when absent; ``bytes_on_board`` from the ledger, or None;
    ``ledger``: the ledger rows, which decide the frames the pipeline finished with. The saved fractions set bytes
    against raw bytes over the frames with a capture record only (a record lost to a damaged captures.jsonl took
    its raw bytes out of the denominator, not its products out of the numerator). Figures that need missing
    telemetry are None, as are fractions over zero bytes.
    """
    downlinked = sum(line.bytes for line in delivered)
    raw_delivered = sum(line.raw_bytes for line in delivered)
    raw_captured = sum(c.raw_bytes for c in captures) if captures is not None else None
    raw_finished = saved = raw_lost = saved_all = None
    if ledger is not None and captures is not None:
        captured = {c.frame_id for c in captures}  # bytes set against raw bytes only where both are known
        finished = finished_frames(ledger, delivered) & captured
        raw_finished = sum(c.raw_bytes for c in captures if c.frame_id in finished)
        sent = sum(line.bytes for line in delivered if set(line.frame_ids) <= finished)
        saved = 1.0 - sent / raw_finished if raw_finished else None
        lost_frames = {r.frame_id for r in ledger if lost(r)} | unverified(ledger, delivered)
        raw_lost = sum(c.raw_bytes for c in captures if c.frame_id in lost_frames)
        kept_raw = raw_captured - raw_lost
        kept = (sum(line.bytes for line in delivered if set(line.frame_ids) <= captured - lost_frames)
                + sum(r.bytes_on_board for r in ledger if r.frame_id in captured - lost_frames))
        saved_all = 1.0 - kept / kept_raw if kept_raw else None
    elif raw_delivered:
        saved = 1.0 - downlinked / raw_delivered
    if ledger is None and raw_captured and bytes_on_board is not None:
        saved_all = 1.0 - (downlinked + bytes_on_board) / raw_captured
    received = sum(line.bytes for line in lines)
    retransmitted = sum(line.retransmitted_bytes for line in lines)
    return {
        "raw_bytes": raw_captured,
        "raw_bytes_delivered": raw_delivered,
        "downlinked_bytes": downlinked,
        "received_bytes": received,
        "retransmitted_bytes": retransmitted,
        "link_bytes": received + retransmitted,
        "bytes_on_board": bytes_on_board,
        "raw_bytes_finished": raw_finished,
        "saved_fraction": saved,
        "raw_bytes_lost": raw_lost,
        "saved_fraction_all_captures": saved_all,
    }


def latencies_s(delivered: Sequence[ManifestLine]) -> np.ndarray:
    """Capture-to-ground latency of each product, ``downlink_t_s - capture_t_s``: (N,) float64 seconds."""
    return np.array([line.downlink_t_s - line.capture_t_s for line in delivered], dtype=np.float64)


def latency_stats(latency_s: np.ndarray) -> dict[str, Any]:
    """Count, p50, p90 (numpy linear percentiles), mean, min and max of latencies in seconds; None when empty."""
    if latency_s.size == 0:
        return {"count": 0, "p50": None, "p90": None, "mean": None, "min": None, "max": None}
    p50, p90 = np.percentile(latency_s, [50.0, 90.0])
    return {"count": int(latency_s.size), "p50": float(p50), "p90": float(p90), "mean": float(latency_s.mean()),
            "min": float(latency_s.min()), "max": float(latency_s.max())}


def on_board(ledger: Sequence[LedgerRow]) -> dict[str, Any]:
    """What is left on board at the end: ``bytes`` held in storage (sum of ledger bytes_on_board: a product caught
    mid-transfer whole), ``frames`` and ``products`` still on board, and the age in seconds (end of run minus
    capture) of the on-board frames: max and mean."""
    ages_s = [float(r.age_s) for r in ledger if r.status == "on_board" and r.age_s is not None]
    return {
        "bytes": sum(r.bytes_on_board for r in ledger),
        "frames": sum(1 for r in ledger if r.status == "on_board"),
        "products": sum(r.products_on_board for r in ledger),
        "max_age_s": max(ages_s) if ages_s else None,
        "mean_age_s": sum(ages_s) / len(ages_s) if ages_s else None,
    }


def ledger_summary(ledger: Sequence[LedgerRow], captures: Sequence[CaptureRecord] | None,
                   verified: Sequence[ManifestLine] | None = None) -> dict[str, Any]:
    """Frame accounting: every captured frame ends delivered, dropped or on board.

    ``captured`` counts the capture records (the ledger rows when captures are absent). ``balanced`` holds when
    ``captured == delivered + dropped + on_board`` and the ledger and the captures name the same frames, each once.
    ``dropped_by_reason`` counts dropped frames by reason; ``products_dropped_by_reason`` counts dropped products
    (tiles discarded by the pipeline, evictions) from each row's ``dropped_by_reason``, of which
    ``products_decided_by_stage`` ({stage: {reason: count}}) were stages' decisions (:func:`decided`) and
    ``products_lost_by_reason`` losses (:func:`lost`); ``frames_lost`` counts the frames with such a loss and,
    with ``verified`` (the ground's verified products), ``frames_unverified`` the delivered frames whose products
    failed the ground's checks (:func:`unverified`; else None).
    """
    status = Counter(r.status for r in ledger)
    frame_reasons = Counter(r.reason or "unknown" for r in ledger if r.status == "dropped")
    product_reasons: Counter[str] = Counter()
    lost_reasons: Counter[str] = Counter()
    by_stage: dict[str, Counter[str]] = {}
    for row in ledger:
        product_reasons.update(row.dropped_by_reason)
        lost_reasons.update(lost(row))
        for stage, by_reason in row.decided_by_stage.items():
            by_stage.setdefault(stage, Counter()).update(by_reason)
    decided_by_stage = {stage: dict(sorted(c.items())) for stage, c in sorted(by_stage.items())}
    ledger_ids = [r.frame_id for r in ledger]
    capture_ids = [c.frame_id for c in captures] if captures is not None else ledger_ids
    missing = set(capture_ids) - set(ledger_ids)
    unexpected = set(ledger_ids) - set(capture_ids)
    unique = len(set(ledger_ids)) == len(ledger_ids) and len(set(capture_ids)) == len(capture_ids)
    captured = len(capture_ids)
    delivered, dropped, kept = status["delivered"], status["dropped"], status["on_board"]
    return {
        "captured": captured,
        "delivered": delivered,
        "dropped": dropped,
        "on_board": kept,
        "dropped_by_reason": dict(sorted(frame_reasons.items())),
        "frames_missing_from_ledger": len(missing),
        "frames_not_captured": len(unexpected),
        "balanced": captured == delivered + dropped + kept and not missing and not unexpected and unique,
        "products_delivered": sum(r.products_delivered for r in ledger),
        "products_dropped": sum(r.products_dropped for r in ledger),
        "products_dropped_by_reason": dict(sorted(product_reasons.items())),
        "frames_lost": sum(1 for row in ledger if lost(row)),
        "frames_unverified": len(unverified(ledger, verified)) if verified is not None else None,
        "products_on_board": sum(r.products_on_board for r in ledger),
        "products_decided_by_stage": decided_by_stage,
        "products_lost_by_reason": dict(sorted(lost_reasons.items())),
    }


def contact_usage(contacts: Sequence[ContactRecord], link: Sequence[PassLinkRecord] | None = None) -> dict[str, Any]:
    """Per contact window ``usage = used_s / available_s`` (0 when nothing was available), in AOS order: the time
    spent sending over the time the window could carry data, its whole length (``los_t_s - aos_t_s``) or, under a
    link budget (``link``, telemetry/link.jsonl), the time some MODCOD closed (``link_up_s``: the radio sends only
    then, so a pass whose link was down a third of the time is busy all the time it could be).

    ``mean_usage`` is the mean over tracked windows (those in which the station's antenna served the satellite,
    which had products to send); ``total_usage`` is the sum of used_s over the link time the fleet could have had
    (:func:`obtainable_s` of :func:`link_spans`: windows that overlap at one station, or for one satellite, share
    it), untracked windows included. ``waited_s``: the time satellites had a product to send while another held the
    station's antenna (each window's, None in older runs). None when there is no window.
    """
    up_s = {(p.satellite, p.station, p.aos_t_s): p.link_up_s for p in link or ()}
    windows = []
    for c in sorted(contacts, key=lambda c: (c.aos_t_s, c.satellite, c.station)):
        duration_s = float(c.los_t_s) - float(c.aos_t_s)
        available_s = float(up_s.get((c.satellite, c.station, c.aos_t_s), duration_s))
        used_s = float(c.used_s)
        windows.append({
            "satellite": c.satellite, "station": c.station, "aos_t_s": float(c.aos_t_s), "los_t_s": float(c.los_t_s),
            "duration_s": duration_s, "available_s": available_s, "used_s": used_s,
            "usage": used_s / available_s if available_s > 0 else 0.0,
            "bytes_sent": c.bytes_sent, "tracked": c.tracked, "max_elevation_deg": c.max_elevation_deg,
            "waited_s": c.waited_s,
        })
    tracked = [w["usage"] for w in windows if w["tracked"]]
    total_available_s = obtainable_s(link_spans(contacts, link))
    return {
        "count": len(windows),
        "tracked": len(tracked),
        "mean_usage": sum(tracked) / len(tracked) if tracked else None,
        "total_usage": sum(w["used_s"] for w in windows) / total_available_s if total_available_s > 0 else None,
        "bytes_sent": sum(w["bytes_sent"] for w in windows),
        "waited_s": sum(w["waited_s"] or 0.0 for w in windows),
        "windows": windows,
    }


def obtainable_s(spans: Sequence[tuple[str, str, float, float, float]]) -> float:
    """Seconds of link a fleet could have used, from each window's ``(satellite, station, t0_s, t1_s, weight)`` spans
    of link (:func:`link_spans`): each station has one antenna and each satellite one radio, so at each instant only
    a matching of the satellite-station pairs with their link up can send. Between consecutive span ends it is the
    maximum-weight bipartite matching of those pairs (``scipy.optimize.linear_sum_assignment``; a pair counted once
    however many of its spans overlap): the spans' own time less, where several overlap, what the matching leaves
    out."""
    events = sorted({t for span in spans for t in span[2:4]})
    by_start = sorted(spans, key=lambda span: span[2])
    total_s, active, k = sum((t1 - t0) * weight for _, _, t0, t1, weight in spans), [], 0
    for t0_s, t1_s in zip(events, events[1:]):
        while k < len(by_start) and by_start[k][2] <= t0_s:
            active.append(by_start[k])
            k += 1
        active = [span for span in active if span[3] >= t1_s]
        if len(active) < 2:
            continue
        # NOTE: imported here, where windows overlap: scipy.optimize adds ~50 MB to a process that imports it
        from scipy.optimize import linear_sum_assignment

        satellites = sorted({span[0] for span in active})
        stations = sorted({span[1] for span in active})
        weight = np.zeros((len(satellites), len(stations)))
        for satellite, station, _, _, share in active:
            i, j = satellites.index(satellite), stations.index(station)
            weight[i, j] = max(weight[i, j], share)
        rows, cols = linear_sum_assignment(weight, maximize=True)
        total_s -= (t1_s - t0_s) * (sum(span[4] for span in active) - float(weight[rows, cols].sum()))
    return total_s


def link_spans(contacts: Sequence[ContactRecord], link: Sequence[PassLinkRecord] | None
               ) -> list[tuple[str, str, float, float, float]]:
    """Each contact window's spans of link, ``(satellite, station, t0_s, t1_s, weight)``: its whole length at
    weight 1 at a constant rate; under a link budget (``link``) the stretches where some MODCOD closed, from its
    samples (each holds until the next, the last until LOS), or, for a pass recorded without samples, its whole
    length weighted by the share of it the link was up."""
    passes = {(p.satellite, p.station, p.aos_t_s): p for p in link or ()}
    spans = []
    for c in contacts:
        p = passes.get((c.satellite, c.station, c.aos_t_s))
        if p is None or not (p.samples or p.link_up_s == 0):
            length_s = float(c.los_t_s) - float(c.aos_t_s)
            share = 1.0 if p is None or length_s <= 0 else float(p.link_up_s) / length_s
            spans.append((c.satellite, c.station, float(c.aos_t_s), float(c.los_t_s), share))
            continue
        ends = [float(s.t_s) for s in p.samples[1:]] + [float(c.los_t_s)]
        spans += [(c.satellite, c.station, float(s.t_s), t1_s, 1.0) for s, t1_s in zip(p.samples, ends)
                  if s.rate_mbps > 0 and t1_s > s.t_s]
    return spans
