"""The report's ``ledger`` section: what became of every captured frame (delivered, dropped and why, still on
board) and whether the counts balance (:func:`ground.metrics.ledger_summary`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from . import metrics
from .document import Block, Heading, Table, fmt_duration, fmt_value
from .run_data import RunData


def ledger_section(run: RunData) -> dict[str, Any]:
    """report.json ``ledger``: the frame (and product) counts, and the planned captures never taken by reason
    (``captures_skipped``, from telemetry/run.json); all None but ``captured`` without ledger telemetry. With
    ``warnings`` when frames lost data on board or their products failed the ground's checks
    (:func:`ledger_warnings`)."""
    if run.ledger is None:
        captured = len(run.captures) if run.captures is not None else None
        out = {"captured": captured, "delivered": None, "dropped": None, "on_board": None, "dropped_by_reason": None,
               "balanced": None}
        if not captured:
            return out
        reached = len({c.frame_id for c in run.captures} & {line.frame_ids[0] for line in run.delivered})
        return {**out, "warnings": [NO_LEDGER.format(captured=captured, reached=reached, rest=captured - reached)]}
    out = {**metrics.ledger_summary(run.ledger, run.captures, run.delivered),
           "captures_skipped": dict(sorted(_planned_and_skipped(run)[1].items()))}
    nothing = out["captured"] == 0 and not run.ledger
    warnings = ledger_warnings(out) + ([nothing_captured(run)] if nothing else skipped_captures(run))
    return {**out, "warnings": warnings} if warnings else out


NO_LEDGER = ("{captured} frames were captured, and telemetry/ledger.jsonl, which says what became of each, is "
             "missing (the spacecraft writes it as a run ends; a run killed outright, SIGKILL or the out-of-memory "
             "killer, leaves none): the ground verified products of {reached} of them (downlink/manifest.jsonl), "
             "whether whole is unknown, and what became of the other {rest} is unknown, so no figure that counts "
             "frames can be trusted.")


def frames_dropped(ledger: Mapping[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """The frames report.json's ``ledger`` counts as dropped, by reason (``dropped_by_reason``), split into those a
    stage decided (a reason in ``products_decided_by_stage``: cloudy) and those lost on board by no stage's decision
    (storage_full): ``(decided, lost)``."""
    decided = {reason for by_stage in (ledger.get("products_decided_by_stage") or {}).values() for reason in by_stage}
    by_reason = ledger.get("dropped_by_reason") or {}
    return ({r: n for r, n in by_reason.items() if r in decided},
            {r: n for r, n in by_reason.items() if r not in decided})


def _planned_and_skipped(run: RunData) -> tuple[int, Counter[str]]:
    """Captures planned over all satellites, and those skipped by reason (telemetry/run.json's summaries)."""
    summaries = run.run_info.satellite_summary if run.run_info else []
    skipped: Counter[str] = Counter()
    for summary in summaries:
        skipped.update(summary.captures_skipped)
    return sum(s.frames_planned for s in summaries), skipped


def _planned_text(run: RunData, planned: int) -> str:
    """"the N captures planned", or, in a run that stopped early (its summaries count the captures reached), "the N
    captures the simulation reached before it stopped"."""
    stopped = run.run_info is not None and run.run_info.stopped is not None
    return f"the {planned} captures " + ("the simulation reached before it stopped" if stopped else "planned")


def skipped_captures(run: RunData) -> list[str]:
    """A warning when planned captures were not taken (storage full under ``stop_imaging``, brown-out): they never
    became frames, so the ledger, which counts frames, does not show them."""
    planned, skipped = _planned_and_skipped(run)
    if not skipped:
        return []
    why = "; ".join(f"{reason}: {count}" for reason, count in sorted(skipped.items()))
    return [f"{sum(skipped.values())} of {_planned_text(run, planned)} were not taken ({why}): they are in no frame "
            "count of the ledger; see the storage and power table."]


def nothing_captured(run: RunData) -> str:
    """Why a run has no frame to report on: stopped before its first capture, no capture planned (no target in the
    camera's reach in daylight), or every planned capture skipped (by reason, from telemetry/run.json's satellite
    summaries)."""
    info = run.run_info
    summaries = info.satellite_summary if info else []
    planned, skipped = _planned_and_skipped(run)
    if summaries and planned == 0 and info.stopped is not None:
        return (f"nothing was captured: the run stopped ({info.stopped.reason}) at simulated t = "
                f"{fmt_duration(info.stopped.simulated_s)}, before its first planned capture.")
    if summaries and planned == 0:
        return ("nothing was captured: no capture was planned, since no target passed within the camera's reach "
                "(spacecraft.camera.max_off_nadir_deg) with the sun above spacecraft.camera.min_sun_elevation_deg "
                "in the time simulated; check the targets, the orbits, start_utc and duration_h.")
    why = "; ".join(f"{reason}: {count}" for reason, count in sorted(skipped.items()))
    return (f"nothing was captured of {_planned_text(run, planned)}" + (f" (skipped: {why})." if why else ".")
            if summaries else "nothing was captured (telemetry/run.json gives no satellite summary to say why).")


def ledger_warnings(ledger: Mapping[str, Any]) -> list[str]:
    """What the reader must not miss about frames whose data did not reach the ground as sent: no frame delivered at
    all (what became of them), frames that lost products on board by no stage's decision (storage full, evicted),
    and delivered frames whose products failed the ground's checks. The last two are left out of the run's savings
    and verdict."""
    out = []
    if ledger.get("captured") and ledger.get("delivered") == 0:
        decided, lost = frames_dropped(ledger)
        fates = [f"{n} dropped by a stage's decision ({reason})" for reason, n in decided.items()]
        fates += [f"{n} lost on board ({reason})" for reason, n in lost.items()]
        fates += [f"{ledger['on_board']} still on board"] if ledger.get("on_board") else []
        out.append(f"none of the {ledger['captured']} captured frames reached the ground"
                   + (f": {', '.join(fates)}." if fates else ".") + " Every 'saved' figure of this run is a saving "
                   "of nothing delivered.")
    frames, lost = ledger.get("frames_lost") or 0, ledger.get("products_lost_by_reason") or {}
    if frames:
        why = ", ".join(f"{reason}: {count}" for reason, count in lost.items())
        out.append(f"{frames} of {ledger['captured']} captured frames lost data on board by no stage's decision "
                   f"({why} products): it never reached the ground. The verdict, the comparison and every 'saved' "
                   "figure leave these frames out; see the frame ledger.")
    failed = ledger.get("frames_unverified") or 0
    if failed:
        out.append(f"{failed} of the {ledger['delivered']} frames the spacecraft delivered have products that "
                   "failed the ground's checks (see the ground's anomalies): the verdict, the comparison and every "
                   "'saved' figure leave these frames out.")
    missing, unexpected = ledger.get("frames_missing_from_ledger") or 0, ledger.get("frames_not_captured") or 0
    if missing:
        out.append(f"{missing} of the {ledger['captured']} captured frames (telemetry/captures.jsonl) are missing "
                   "from telemetry/ledger.jsonl: what became of them is unknown, and the ledger does not balance.")
    if unexpected:
        out.append(f"{unexpected} frames of telemetry/ledger.jsonl have no capture record (telemetry/captures.jsonl): "
                   "the frame counts, and every figure over the captures, leave them out; the ledger does not "
                   "balance.")
    return out


def ledger_blocks(ledger: Mapping[str, Any]) -> list[Block]:
    """report.md/html blocks: the frame table, and the product table when the ledger counts products."""
    reasons = ledger.get("dropped_by_reason") or {}
    failed = ledger.get("frames_unverified") or 0
    delivered = "nothing of it left on board, and a product of it on the ground" + (
        f"; {failed} of them with products that failed the ground's checks" if failed else "")
    rows = [("delivered", fmt_value(ledger["delivered"]), delivered),
            ("dropped", fmt_value(ledger["dropped"]), _why_dropped(reasons, ledger)),
            ("on board", fmt_value(ledger["on_board"]), "still on board at the end, whole or in part (some "
             "of its products may have reached the ground)"),
            ("captured", fmt_value(ledger["captured"]), "balanced" if ledger["balanced"] else
             ("NOT BALANCED" if ledger["balanced"] is False else "balance unknown"))]
    blocks: list[Block] = [Heading(2, "Frame ledger"), Table(("frames", "count", "note"), tuple(rows))]
    if "products_delivered" in ledger:
        product_reasons = _why_dropped(ledger["products_dropped_by_reason"], ledger)
        blocks.append(Table(("products", "count", "note"), (
            ("delivered", ledger["products_delivered"], ""), ("dropped", ledger["products_dropped"], product_reasons),
            ("on board", ledger["products_on_board"], ""))))
    return blocks


def _why_dropped(by_reason: Mapping[str, int], ledger: Mapping[str, Any]) -> str:
    """The ledger table's note on what was dropped: each reason of ``by_reason`` with its count and whose it was, a
    stage's decision (report.json ``ledger.products_decided_by_stage``) or a loss on board by nobody's decision
    (``products_lost_by_reason``), both where a reason was each, as ``cloudy: 3 (cloud_filter's decision);
    storage_full: 8 (lost on board)``; a reason that is neither (a frame that made no product) stands alone."""
    stages, lost = ledger.get("products_decided_by_stage") or {}, ledger.get("products_lost_by_reason") or {}

    def whose(reason: str) -> str:
        deciders = [stage for stage, reasons in stages.items() if reason in reasons]
        parts = [f"{' and '.join(deciders)}'s decision"] if deciders else []
        if reason in lost:
            parts.append("lost on board")
        return f" ({', or '.join(parts)})" if parts else ""
    return "; ".join(f"{reason}: {n}{whose(reason)}" for reason, n in by_reason.items())
