"""The report's opening verdict: one paragraph in plain words, with the same meaning in every run.

Its first sentence (:func:`headline`) sets this run's image bytes against the best lossless alternative on the same
finished frames (report.json ``comparison``, :mod:`ground.comparison`) and gives the share of clear ground it loses.
A sentence follows only where the headline alone would mislead (:func:`caveats`):

- frames that had not finished (still on board, lost, unverified) are in no row of the comparison: the headline
  covers part of the capture;
- frames a stage dropped whole finish at once while kept frames wait for a pass, so with frames still on board the
  finished ones lean towards such drops: the saving over every capture, products on board counted, beside it;
- the link was the constraint: the passes were busy nearly all their time and frames waited on board or were lost
  for lack of room, so the bytes a pipeline saves (or spends) change how many scenes reach the ground: how many the
  same bytes would have brought down at the headline's reference size per frame;
- the link was not the constraint: nothing was left on board and bent-pipe would have fitted in the passes too, so
  the bytes a pipeline saves (or spends) change how long the passes are busy, not what reaches the ground;
- mass memory ran out: frames lost when it was full, or captures not taken for lack of room;
- the cloud filter's own share: its kept tiles in the best lossless codec (``cloud_filter_best_lossless``) against
  that codec on every frame, so that what the filter saves is not mixed up with what a codec saves or costs;
- JPEG 2000 instead, scene by scene within the bytes this run sent (``lossy_same_bytes``): what a codec alone
  would have given, so a saving that is partly lossy compression is not read as the AI's;
- a model's scores on real labelled tiles (its card), because the run's clear ground lost is against its world's
  truth: synthetic, or the cloud mask given with real imagery (or none: real imagery without a mask).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from rundir.codec import NAMES as FORMAT_NAMES
from rundir.run_info import ModelValidation, StageEntry

from .document import fmt_bytes, fmt_fixed, fmt_fraction, fmt_share
from .frame_ledger import frames_dropped
from .real_data import real_data

# The rows the verdict sets this run against, by the comparison's ``pipeline`` names: the best lossless codec when
# the comparison has it, else the smallest of the others that exist (all lossless, all on the same frames).
VERDICT_REFERENCES = {"best_lossless": "the best lossless codec on one frame per scene",
                      "encode_only": "lossless encoding alone",
                      "bent_pipe_single": "single-frame bent-pipe", "bent_pipe": "bent-pipe"}
NO_VERDICT = "No verdict: "  # opens the text of a run with nothing to set against a baseline (and why)
SAME_BYTES_FRACTION = 0.0005  # closer than this reads "0.0 %" in a percentage with one decimal: "about as many"
# Bent-pipe "fits" when it would have kept the passes busy at most this share of their time: half, a margin for
# what the time-weighted estimate leaves out (a pass's rate changes with elevation under a link budget, and a
# frame captured after the last pass of the run waits whatever its size).
LINK_SLACK_FRACTION = 0.5
# The link "was the constraint" when the passes were busy at least this share of their time and frames did not reach
# the ground: the time-weighted usage leaves a pass's first and last seconds (acquisition, the last product's tail).
LINK_BUSY_FRACTION = 0.9


def runs_model(stage: StageEntry, model_cards: Mapping[str, Any]) -> bool:
    """Whether a stage, as telemetry/run.json records it, runs a trained model: run.json carries its model card
    (``model_cards``), or its parameters name a model (:attr:`~rundir.run_info.StageEntry.uses_model`)."""
    return stage.stage in model_cards or stage.uses_model


def verdict(report: Mapping[str, Any], stages: Sequence[StageEntry],
            model_cards: Mapping[str, ModelValidation] | None = None, truth: str | None = "synthetic") -> str:
    """The verdict that opens the report: :func:`headline`, then :func:`caveats`, as one paragraph.

    ``report``: report.json's content so far (``comparison``, and where present ``ledger``, ``contacts``);
    ``stages`` and ``model_cards``: telemetry/run.json's (:class:`rundir.run_info.RunInfo`); ``truth``: where the
    cloud truth comes from (:attr:`ground.run_data.RunData.cloud_truth`)."""
    head = headline(report["comparison"], stages, model_cards or {}, (report.get("ledger") or {}).get("captured"),
                    report.get("missing") or ())
    if head.startswith(NO_VERDICT):
        nothing = (report.get("ledger") or {}).get("captured") == 0
        return (f"{NO_VERDICT}nothing was captured, so there is nothing to set against a baseline (the warning "
                "at the report's top says why)." if nothing else head)
    return " ".join([head, *caveats(report, stages, model_cards or {}, truth)])


def headline_of(text: str) -> str:
    """The headline sentence of a :func:`verdict` text (report.json ``verdict``): the text up to the first full stop
    followed by a space and a capital letter, which opens each caveat; the whole text when it has no caveat."""
    found = re.search(r"\. (?=[A-Z])", text)
    return text[:found.start() + 1] if found else text


def headline(comp: Mapping[str, Any], stages: Sequence[StageEntry],
             model_cards: Mapping[str, ModelValidation], captured: int | None = None, missing: Sequence[str] = ()
             ) -> str:
    """One sentence: this run's image bytes (its products without their sidecars, as the comparison counts every
    row) against the best lossless alternative in the comparison (``comp["rows"]``, by ``pipeline`` name:
    ``best_lossless`` when present, else the smallest of ``encode_only``, ``bent_pipe_single``, ``bent_pipe``), as
    a ratio, and the share of clear ground it loses; with a superres stage, the product's scale and cPSNR. Says
    plainly when this run sends MORE, and, when the comparison's ``frames`` are fewer than the ``captured`` ones
    (the ledger's), over how many of them, so that the sentence on its own (the terminal's) is not read as the
    whole capture's. The reference is named by its ``codec`` (encode_only: the encode stage's
    format). The pipeline is "On-board AI" when a stage runs a model (:func:`runs_model`). A clear-ground loss it
    cannot give is put down to the ``missing`` parts of the run directory (report.json ``missing``), if any."""
    rows = {r["pipeline"]: r for r in comp.get("rows") or ()}
    ours = rows.get("this_run") or {}
    names = [s.stage for s in stages]
    ai = any(runs_model(s, model_cards) for s in stages)
    who = f"On-board {'AI' if ai else 'processing'} ({' > '.join(names) or 'no stages'})"
    name = reference(rows)
    if ours.get("bytes") is None or name is None:
        lost = next((part for part in ("telemetry/ledger.jsonl", "telemetry/processing.jsonl", "telemetry/")
                     if part in missing), None)
        why = ("telemetry/ledger.jsonl is missing and no frame is known to have finished"
               if lost == "telemetry/ledger.jsonl" and captured else
               f"{lost} is missing, and with it the on-board processing records the figures come from"
               if lost and (captured or lost == "telemetry/") else
               "no finished frame has on-board processing records (telemetry/processing.jsonl)"
               if not captured or comp.get("frames") else
               "the one captured frame did not finish (it neither reached the ground nor was dropped whole on board)"
               if captured == 1 else
               f"none of the {captured} captured frames finished (none reached the ground or was dropped whole on "
               "board)")
        return f"{NO_VERDICT}{why}, so what {who[0].lower()}{who[1:]} sends cannot be set against a baseline."
    ref, sent = rows[name], int(ours["bytes"])
    codec = reference_codec(rows, stages)
    detail = f"{codec}, " if codec else ""
    against = f"{VERDICT_REFERENCES[name]} ({detail}{fmt_bytes(ref['bytes'])})"
    scale = next((s.params.get("scale") for s in stages if s.stage == "superres"), None)
    product = (f" for a x{scale} super-resolved product (cPSNR {ours['cpsnr_db']:.1f} dB against the high-res truth)"
               if scale and ours.get("cpsnr_db") is not None else "")
    if ours.get("psnr_db") is not None:  # the other rows are lossless: a lossy run's saving is partly its codec's
        product += f" in lossy products (PSNR {ours['psnr_db']:.1f} dB against the DN they were made from)"
    if sent == 0:
        bytes_part = f"sends nothing against {against}"
    elif abs(sent - ref["bytes"]) < SAME_BYTES_FRACTION * ref["bytes"]:
        about = "" if sent == ref["bytes"] else "about "
        bytes_part = f"sends {about}as many image bytes ({fmt_bytes(sent)}) as {against}{product}"
    else:
        bytes_part = f"sends {_how_many(sent, ref['bytes'])} image bytes ({fmt_bytes(sent)}) than {against}{product}"
        bytes_part += ": it costs downlink here" if sent > ref["bytes"] else ""
    lost = ours.get("clear_pixels_lost_fraction")
    lost_part = ("its finished frames held no clear ground to lose" if lost is None and comp.get("clear_km2") == 0
                 else f"clear ground lost unknown ({', '.join(missing) or 'no truth'}"
                      f"{' missing' if missing else ''})" if lost is None else
                 "loses no clear ground" if lost == 0 else f"loses {fmt_fraction(lost)} of clear ground")
    finished = comp.get("frames")
    part = (f", over the {finished} of {captured} captured frames that finished"
            if captured and finished is not None and finished < captured else "")
    return f"{who} {bytes_part}, and {lost_part}{part}."


def reference(rows: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The comparison row (``pipeline`` name) the headline sets this run against: ``best_lossless`` when it has bytes,
    else the smallest of the other :data:`VERDICT_REFERENCES` that have; None when none has."""
    candidates = [n for n in VERDICT_REFERENCES if (rows.get(n) or {}).get("bytes") is not None]
    if not candidates:
        return None
    return "best_lossless" if "best_lossless" in candidates else min(candidates, key=lambda n: rows[n]["bytes"])


def reference_codec(rows: Mapping[str, Mapping[str, Any]], stages: Sequence[StageEntry]) -> str | None:
    """The display name of the :func:`reference` row's codec (encode_only: the encode stage's format), or None."""
    name = reference(rows)
    codec = (rows.get(name) or {}).get("codec") or (
        next((s.params.get("format") for s in stages if s.stage == "encode"), None) if name == "encode_only" else None)
    return FORMAT_NAMES.get(str(codec), codec) if codec else None


def _how_many(sent: int, ref: int) -> str:
    """``sent`` bytes against ``ref`` (both > 0, not equal) in words: "1.4x fewer", "3.1x MORE", or under a tenth
    apart (where a ratio would read 1.0x), "2.0 % fewer", "4.0 % MORE"."""
    more = sent > ref
    ratio = sent / ref if more else ref / sent
    if ratio < 1.1:
        return f"{fmt_fraction(abs(sent - ref) / ref)} {'MORE' if more else 'fewer'}"
    return f"{ratio:.1f}x {'MORE' if more else 'fewer'}"


def caveats(report: Mapping[str, Any], stages: Sequence[StageEntry], model_cards: Mapping[str, ModelValidation],
            truth: str | None = "synthetic") -> list[str]:
    """The sentences that qualify the headline, in the module docstring's order; none where it needs none."""
    comp, ledger, contacts = report["comparison"], report.get("ledger") or {}, report.get("contacts") or {}
    rows = {r["pipeline"]: r for r in comp.get("rows") or ()}
    found = [unfinished(comp["frames"], ledger), leaning(comp["frames"], ledger, report.get("bandwidth") or {}),
             link_bound(rows, comp["frames"], ledger, contacts, reference_codec(rows, stages)),
             link_slack(rows, ledger, contacts), storage_full(ledger),
             filter_on_codec(rows), same_bytes(rows),
             *real_data(model_cards, rows.get("this_run") or {}, truth, {s.stage: s.params for s in stages})]
    return [s for s in found if s]


def unfinished(frames: int, ledger: Mapping[str, Any]) -> str | None:
    """When the comparison counts fewer than the ``frames`` captured (report.json ``ledger``): how many it leaves
    out, and why, as far as the ledger says: still on board, lost on board (``frames_lost``, with the reasons of the
    drops and losses no stage decided), products that failed the ground's checks, and the rest finished but
    without the telemetry records the comparison reads (a damaged processing.jsonl or captures.jsonl)."""
    captured = ledger.get("captured") or 0
    if frames >= captured:
        return None
    on_board, failed = ledger.get("on_board") or 0, ledger.get("frames_unverified") or 0
    left = captured - frames - on_board - failed  # lost on board, or finished without the records it needs
    # frames dropped whole by no stage's decision (storage_full) are among frames_lost, whose rows hold the reason in
    # dropped_by_reason; a ledger row without it (hand-made) is counted by the larger of the two
    dropped_lost = frames_dropped(ledger)[1]
    lost = left if "frames_lost" not in ledger else \
        min(left, max(ledger["frames_lost"], sum(dropped_lost.values())))  # (a report before frames_lost: all)
    reasons = sorted(set(ledger.get("products_lost_by_reason") or {}) | set(dropped_lost))
    why = [f"{on_board} still on board"] if on_board else []
    why += [f"{lost} lost on board" + (f" ({', '.join(reasons)})" if reasons else "")] if lost > 0 else []
    why += [f"{failed} that failed the ground's checks"] if failed else []
    why += [f"{left - lost} whose telemetry records the comparison reads are missing or unreadable (see the "
            "reception anomalies)"] if left > lost else []
    return (f"The other {captured - frames} captured frames are in no row of the comparison"
            + (f": {', '.join(why)}." if why else "."))


def leaning(frames: int, ledger: Mapping[str, Any], bandwidth: Mapping[str, Any]) -> str | None:
    """When frames are still on board and some of the ``frames`` that finished were dropped whole by a stage's
    decision (``ledger`` ``dropped_by_reason``, a reason in ``products_decided_by_stage``): such frames finish at
    once, the kept ones wait for a pass, so the comparison leans towards the drops. Then the saving over every
    capture with the products on board counted (report.json ``bandwidth.saved_fraction_all_captures``) beside the
    finished frames' (``saved_fraction``). None otherwise."""
    on_board = ledger.get("on_board") or 0
    whole = sum(frames_dropped(ledger)[0].values())
    every, finished = bandwidth.get("saved_fraction_all_captures"), bandwidth.get("saved_fraction")
    if not on_board or not whole or every is None or finished is None:
        return None
    return (f"Frames a stage drops whole finish at once while the frames it keeps wait on board for a pass, so "
            f"{whole} of the {frames} finished frames are such drops and the figures above lean towards them: over "
            f"all {ledger.get('captured')} captures, the {fmt_bytes(bandwidth.get('bytes_on_board') or 0)} still on "
            f"board counted, the pipeline saves {fmt_fraction(every)} against bent-pipe ({fmt_fraction(finished)} over "
            "the finished frames).")


def link_bound(rows: Mapping[str, Mapping[str, Any]], frames: int, ledger: Mapping[str, Any],
               contacts: Mapping[str, Any], codec: str | None) -> str | None:
    """When the link was the constraint: the passes were busy at least :data:`LINK_BUSY_FRACTION` of their time
    (report.json ``contacts``) and some of the ``ledger``'s captured frames did not reach the ground (on board, or
    lost on board). Then what a pipeline saves is scenes: the image bytes this run's ``frames`` finished frames
    took (the ``this_run`` row), spent at the :func:`reference` row's mean size per finished frame, would have
    brought down ``frames * this_run / reference`` frames, at most the captured ones. An estimate: it takes every
    frame to be the mean size, and the passes' capacity to be what they carried of finished frames. ``codec`` names
    the reference (:func:`reference_codec`); None when the link was not the constraint or a figure is missing."""
    captured, usage = ledger.get("captured") or 0, contacts.get("total_usage")
    waiting = captured - frames - (ledger.get("frames_unverified") or 0)  # on board, or lost on board
    name = reference(rows)
    sent, ref = (rows.get("this_run") or {}).get("bytes"), (rows.get(name) or {}).get("bytes")
    if waiting <= 0 or not usage or usage < LINK_BUSY_FRACTION or not frames or not sent or not ref:
        return None
    could = min(captured, int(frames * sent / ref))
    per_frame = f"{codec or VERDICT_REFERENCES[name]} at its mean size per frame ({fmt_bytes(ref / frames)})"
    gain = ("here every byte the pipeline saves is scenes delivered" if could < frames else
            "here the bytes the pipeline spends are scenes left behind" if could > frames else
            "here the pipeline's bytes made no difference to the scenes delivered")
    return (f"The link was the constraint: the passes were busy {fmt_share(usage)} {_of_their_time(contacts)} and "
            f"{waiting} of the {captured} captured frames did not reach the ground. Spent on {per_frame}, the image "
            f"bytes this run sent would have brought down about {could} frames, not {frames}: {gain}.")


def link_slack(rows: Mapping[str, Mapping[str, Any]], ledger: Mapping[str, Any],
               contacts: Mapping[str, Any]) -> str | None:
    """When the link was not the constraint: nothing was left on board or lost to full storage (``ledger``: no
    frame lost on board, no capture skipped for storage_full), and bent-pipe's bytes (the ``bent_pipe`` row;
    ``bent_pipe_single`` in a run without bursts, which has no ``bent_pipe`` row) would have kept the passes busy at
    most :data:`LINK_SLACK_FRACTION` of their time, estimated from the time-weighted usage of every window and the
    bytes this run sent in them (report.json ``contacts``). Bent-pipe's estimate is left out when this run
    (``this_run``) sent at least as much."""
    usage, sent = contacts.get("total_usage"), contacts.get("bytes_sent")
    bent = (rows.get("bent_pipe") or rows.get("bent_pipe_single") or {}).get("bytes")
    full = ledger.get("frames_lost") or (ledger.get("captures_skipped") or {}).get("storage_full")
    if ledger.get("on_board") != 0 or full or not usage or not sent or not bent:
        return None
    needed = usage * bent / sent
    if needed > LINK_SLACK_FRACTION:
        return None
    about = "" if needed < 0.0005 else "about "
    bent_part = (f", and bent-pipe ({fmt_bytes(bent)}) would have needed {about}{fmt_share(needed)} of it"
                 if bent > ((rows.get("this_run") or {}).get("bytes") or 0) else "")
    return (f"The link was not the constraint: the passes were busy {fmt_share(usage)} {_of_their_time(contacts)} and "
            f"left nothing on board{bent_part}, so here the pipeline's bytes change how long the passes are busy, "
            "not what reaches the ground.")


def _of_their_time(contacts: Mapping[str, Any]) -> str:
    """What the passes' usage is a share of: their time, or under a link budget (``contacts["link"]``) the time their
    link was up (:func:`ground.metrics.contact_usage`)."""
    return "of the time their link was up" if contacts.get("link") else "of their time"


def storage_full(ledger: Mapping[str, Any]) -> str | None:
    """When mass memory ran out (``ledger``): frames lost on board for ``storage_full`` (the drop_oldest policy
    evicts them; :func:`unfinished` has counted them) or planned captures not taken for it (``captures_skipped``:
    the stop_imaging policy), counted here; None when neither happened."""
    lost = (ledger.get("dropped_by_reason") or {}).get("storage_full") or 0
    refused = (ledger.get("captures_skipped") or {}).get("storage_full") or 0
    if not lost and not refused:
        return None
    what = f": {refused} planned captures were not taken for lack of room (storage_full)," if refused else ","
    return (f"Mass memory ran out{what} so here what the pipeline keeps on board decides how many scenes last until "
            "a pass.")


def filter_on_codec(rows: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The cloud filter's own share of the saving, whatever this run encodes in: its kept tiles of one frame per scene
    in the best lossless codec for them (the ``cloud_filter_best_lossless`` row) against the best lossless codec on
    the whole of that frame (the ``best_lossless`` row, also one frame per scene); None without a cloud filter or
    either row."""
    kept, every = rows.get("cloud_filter_best_lossless") or {}, rows.get("best_lossless") or {}
    if not kept.get("bytes") or not every.get("bytes"):
        return None
    ratio = every["bytes"] / kept["bytes"]
    share = f"{ratio:.2f}x fewer bytes than" if ratio >= 1 else f"{1 / ratio:.2f}x MORE bytes than"
    return (f"The cloud filter's own share: its kept tiles of one frame per scene in the best lossless codec "
            f"({kept.get('codec')}) would be {fmt_bytes(kept['bytes'])}, {share} the best lossless codec on the "
            f"whole of the same frames ({every.get('codec')}, {fmt_bytes(every['bytes'])}).")


def same_bytes(rows: Mapping[str, Mapping[str, Any]]) -> str | None:
    """What JPEG 2000 gives scene by scene within the bytes this run sent (the ``lossy_same_bytes`` row): its PSNR
    and SSIM against the raw frames, pooled over the scenes, with how many of them were sent exact (a PSNR of 77 dB
    pooled over 13 exact scenes and a lossy one at 66 dB would read as a lossy picture's), and the clear ground it
    loses; None when there is nothing to learn from it (this run lost no clear ground and the codestreams were
    lossless) or it was not measured."""
    alt, ours = rows.get("lossy_same_bytes") or {}, rows.get("this_run") or {}
    if not alt.get("bytes") or not ours.get("bytes"):
        return None
    psnr, alt_lost = alt.get("psnr_db"), alt.get("clear_pixels_lost_fraction")
    if psnr is None and not ours.get("clear_pixels_lost_fraction"):
        return None
    exact, scenes = alt.get("exact_scenes") or 0, alt.get("scenes") or 0
    pooled = f" (pooled: {exact} of its {scenes} scenes exact, where the lossless codestream fitted)" if exact else ""
    quality = (f"pictures at PSNR {psnr:.1f} dB against the raw frames, SSIM {fmt_fixed(alt['ssim'], 4)}{pooled},"
               if psnr is not None else "lossless pictures")
    lost = ("clear ground lost unknown" if alt_lost is None else
            "no clear ground lost" if alt_lost == 0 else f"{fmt_share(alt_lost)} of clear ground lost")
    return ("JPEG 2000 instead, scene by scene within the bytes this run sent (none where it sent none), gives "
            f"{quality} with {lost}.")
