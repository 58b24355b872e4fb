"""Cloud detection scored against truth: per pixel, per tile, a PR curve, clear pixels lost, and the oracle.

Inputs, all from the run directory: the ``cloud_filter`` policy (telemetry/run.json), the on-board probability map
and the spectral baseline's mask of each frame (evaluation/; of a burst, frame 0's only), the truth (truth/: cloud 0
clear, 1 thin, 2 thick, 255 unknown; a pixel is cloud when thin or thick) and the delivered products' tile geometry
(the manifest). Frames counted are those the pipeline finished with (see ground.metrics.finished_frames), so that
clear pixels still on board or lost to a full memory are not blamed on the cloud filter, and that it saw: a frame an
earlier stage discarded whole is counted apart (``frames_discarded_earlier``), not scored.

Pixel and tile scores set a detector's map against its frame's truth (a burst's frame 0). Saving and loss are counted
on the delivered product's clear ground (:mod:`ground.clear_ground`; a burst's: ground some frame saw clear, as the
stage drops a tile only when it is cloudy in every frame): the model's are what reached the ground, the oracle's the
policy fed the true mask of what the stage judges. The baseline, thresholds and sweep act on the one map kept: for a
burst, upper bounds on what a stage judging every frame by it would save and lose (no tile is cloudier in every
frame than in frame 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rundir.evaluation import CLOUD_PROBABILITY_KEY, SPECTRAL_CLOUD_KEY, evaluation_path
from rundir.errors import InputFileError
from rundir.files import NpzReader
from rundir.run_info import RunInfo
from rundir.tiles import cloud_fractions, tile_boxes, tile_sums, withheld

from . import clear_ground
from .document import Heading, Image, Paragraph, Table, fmt_fraction
from .real_data import SECTION_WORDS, model_card_blocks

THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 1.0, 0.05))
PLOTS = ("plots/cloud-pr.png", "plots/cloud-tradeoff.png")  # precision-recall, saving against loss
# a cloud filter whose model withholds more of the clear ground it sees than the true mask would, under the same tile
# policy, by more than this is warned about: the model throws away most of what the mission imaged (reading logits or
# DN wrongly, or a threshold far off); what the tile policy itself withholds is the trade-off plot's business
MAX_EXCESS_CLEAR_LOST_FRACTION = 0.5
# The other way round: a model that drops less than this share of what the true mask drops under the same tile policy
# misses most of the cloud (a probability that never reaches the threshold: a scaling or quantisation slip) and is
# warned about, where the true mask drops at least MIN_ORACLE_SAVED_FRACTION of the bytes (else there is too little
# cloud to tell)
MIN_ORACLE_SHARE = 0.25
MIN_ORACLE_SAVED_FRACTION = 0.05
NO_MASK = ("the imagery has no cloud mask (world.mask): no truth to score the cloud filter against, and no clear "
           "ground lost to count")


def confusion_scores(tp: int, fp: int, fn: int, tn: int) -> dict[str, Any]:
    """Precision, recall, F1, IoU, false-positive rate and accuracy of a binary confusion matrix (None on 0/0)."""
    def ratio(a: float, b: float) -> float | None:
        return a / b if b else None

    return {"precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn), "f1": ratio(2 * tp, 2 * tp + fp + fn),
            "iou": ratio(tp, tp + fp + fn), "fpr": ratio(fp, fp + tn), "accuracy": ratio(tp + tn, tp + fp + fn + tn),
            "confusion": {"tp": int(tp), "fp": int(fp), "fn": int(fn), "tn": int(tn)}}


def confusion(predicted: np.ndarray, truth: np.ndarray) -> tuple[int, int, int, int]:
    """``(tp, fp, fn, tn)`` of two boolean arrays of the same shape."""
    tp = int(np.count_nonzero(predicted & truth))
    fp = int(np.count_nonzero(predicted & ~truth))
    fn = int(np.count_nonzero(~predicted & truth))
    return tp, fp, fn, int(predicted.size) - tp - fp - fn


@dataclass(kw_only=True)
class FrameEval(clear_ground.FrameTruth):
    """A finished frame the cloud filter saw: its truth and what of it reached the ground
    (:class:`ground.clear_ground.FrameTruth`), and the filter's evaluation record of it (of a burst, frame 0's)."""

    probability: np.ndarray  # (H, W) uint8, probability x 255
    spectral: np.ndarray  # (H, W) bool: the spectral baseline's mask


def load_frames(run: Any) -> list[FrameEval]:
    """The finished frames that have truth and the cloud filter's evaluation record: those it saw (read once per
    run)."""
    if "cloud_frames" not in run.derived:
        run.derived["cloud_frames"] = _read_frames(run)
    return run.derived["cloud_frames"]


def _read_frames(run: Any) -> list[FrameEval]:
    """Raises InputFileError where telemetry/processing.jsonl says the cloud filter processed a frame and its
    evaluation file is missing or holds no record of it (replaced, or another frame's): a frame discarded before
    the filter has none, and the section would count it so."""
    frames = []
    saw = {r.frame_id for r in run.processing or [] if "cloud_filter" in r.stages}
    for frame in clear_ground.frames(run):
        eval_path = evaluation_path(run.run_dir, frame.frame_id)
        if not eval_path.is_file():
            if frame.frame_id in saw:
                raise InputFileError(eval_path, f"missing: the cloud filter processed frame {frame.frame_id} "
                                                "(telemetry/processing.jsonl), and this file holds what it found")
            continue
        with NpzReader(eval_path) as evaluation:
            if CLOUD_PROBABILITY_KEY not in evaluation and frame.frame_id not in saw:
                continue  # discarded whole before the cloud filter saw it
            frames.append(FrameEval(**vars(frame), probability=evaluation[CLOUD_PROBABILITY_KEY],
                                    spectral=evaluation[SPECTRAL_CLOUD_KEY]))
    return frames


def cloud_policy(run_info: RunInfo | None) -> dict[str, Any] | None:
    """The cloud_filter stage as telemetry/run.json gives it (``stage`` and its parameters), or None when the
    pipeline has none."""
    stage = run_info.stage("cloud_filter") if run_info else None
    return stage.to_json() if stage else None


def _score_mask(frames: Sequence[FrameEval], masks: Sequence[np.ndarray], policy: Mapping[str, Any]) -> dict[str, Any]:
    """Pixel and tile scores against each frame's truth (a burst's frame 0's), tile-selection saving and clear pixels
    lost, for one predicted mask per frame (the saving and the loss: :func:`policy_outcome`), so that the model and
    the baseline are compared on the same terms."""
    pixel = np.zeros(4, np.int64)
    tile = np.zeros(4, np.int64)
    for frame, mask in zip(frames, masks):
        s = frame.scored
        pixel += confusion(mask[s], frame.truth_cloud[s])
        tile_px, limit = policy["tile_px"], policy["max_cloud_fraction"]
        predicted_drop = withheld(cloud_fractions(mask, tile_px, frame.valid), limit)
        true_drop = withheld(cloud_fractions(frame.truth_cloud, tile_px, frame.scored), limit)  # of known pixels
        counts = tile_sums(s, tile_px)
        tile += confusion(predicted_drop[counts > 0], true_drop[counts > 0])
    saved, lost = policy_outcome(frames, masks, policy)
    return {"pixel": confusion_scores(*pixel), "tile": confusion_scores(*tile),
            "tile_selection_saved_fraction": saved, "clear_pixels_lost_fraction": lost}


def policy_outcome(frames: Sequence[FrameEval], masks: Sequence[np.ndarray], policy: Mapping[str, Any],
                   known: bool = False) -> tuple[float | None, float | None]:
    """``(saved, lost)``: what the cloud_filter's tile policy (``tile_px``, ``max_cloud_fraction``, ``action``, as
    onboard/pipeline/cloud.py applies it) would do acting on one predicted mask (H, W) bool per frame, each tile's
    cloud fraction over its pixels with data (as the stage counts), or, ``known``, over those whose truth is known
    (``FrameTruth.scored``: a real mask's unlabelled pixels are neither cloud nor clear). ``saved``: 1 - raw
    bytes of the tiles kept / raw bytes of the frames (a tile with no valid pixel is never kept: there is no world
    there, and the stage sends none of its fill); ``lost``: the truly clear pixels (``FrameTruth.clear``: of a burst,
    ground some frame saw clear) it withholds (whole dropped tiles, or the cloudy-flagged pixels of masked tiles) / all
    truly clear pixels. None where the denominator is 0."""
    kept_share, raw, clear_lost, clear = 0.0, 0, 0, 0
    for frame, mask in zip(frames, masks):
        tile_px = int(policy["tile_px"])
        sizes = np.array([box.pixels for box in tile_boxes(*mask.shape, tile_px)])
        over = frame.scored if known else frame.valid
        drop = withheld(cloud_fractions(mask, tile_px, over), policy["max_cloud_fraction"])
        if frame.valid is not None:  # a tile of fill only is dropped whatever the mask (NO_DATA on board)
            drop |= tile_sums(frame.valid, tile_px) == 0
        truly_clear = frame.clear
        clear_withheld = tile_sums(truly_clear & mask if policy["action"] == "mask" else truly_clear, tile_px)
        kept_share += float(sizes[~drop].sum()) / mask.size * frame.raw_bytes
        raw += frame.raw_bytes
        clear_lost += int(clear_withheld[drop].sum())
        clear += int(truly_clear.sum())
    return (1.0 - kept_share / raw if raw else None), (clear_lost / clear if clear else None)


def oracle_outcome(frames: Sequence[FrameEval], policy: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """:func:`policy_outcome` fed the true mask of what the stage judges (``FrameTruth.hidden``: thin or thick cloud;
    of a burst, ground cloudy in every frame), each tile's cloud fraction over the pixels whose truth is known (the
    unlabelled pixels of a real mask, about 10 % of a tile's, had counted as clear)."""
    return policy_outcome(frames, [f.hidden for f in frames], policy, known=True)


TILE_PX_SWEEP = (32, 64, 128, 256, 512)
MAX_CLOUD_FRACTION_SWEEP = (0.1, 0.3, 0.5, 0.7, 0.9)


def tile_policy_sweep(frames: Sequence[FrameEval], policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The tile policy's saving and loss (:func:`policy_outcome`) at the stage's threshold for every ``tile_px``
    of :data:`TILE_PX_SWEEP` up to the frame's size and every ``max_cloud_fraction`` of
    :data:`MAX_CLOUD_FRACTION_SWEEP`, the stage's own values added; one dict per point, tile size major."""
    side = max(max(f.truth_cloud.shape) for f in frames)
    sizes = sorted({t for t in TILE_PX_SWEEP if t <= side} | {int(policy["tile_px"])})
    limits = sorted(set(MAX_CLOUD_FRACTION_SWEEP) | {float(policy["max_cloud_fraction"])})
    masks = _model_masks(frames, float(policy["threshold"]))
    out = []
    for tile_px in sizes:
        for limit in limits:
            saved, lost = policy_outcome(frames, masks, {**policy, "tile_px": tile_px, "max_cloud_fraction": limit})
            out.append({"tile_px": tile_px, "max_cloud_fraction": limit, "saved_fraction": saved,
                        "clear_pixels_lost_fraction": lost})
    return out


def _pr_curve(frames: Sequence[FrameEval]) -> list[dict[str, Any]]:
    """Precision and recall of ``probability >= t`` for t in THRESHOLDS, from 8-bit probability histograms."""
    cloud_hist = np.zeros(256, np.int64)
    clear_hist = np.zeros(256, np.int64)
    for f in frames:
        cloud_hist += np.bincount(f.probability[f.scored & f.truth_cloud], minlength=256)
        clear_hist += np.bincount(f.probability[f.scored & ~f.truth_cloud], minlength=256)
    tp_at = cloud_hist[::-1].cumsum()[::-1]  # pixels with probability code >= q
    fp_at = clear_hist[::-1].cumsum()[::-1]
    out = []
    for t in THRESHOLDS:
        q = int(np.ceil(t * 255))
        tp, fp = int(tp_at[q]), int(fp_at[q])
        out.append({"threshold": t, "precision": tp / (tp + fp) if tp + fp else None,
                    "recall": tp / int(cloud_hist.sum()) if cloud_hist.sum() else None})
    return out


def _model_masks(frames: Sequence[FrameEval], threshold: float) -> list[np.ndarray]:
    q = int(np.ceil(threshold * 255))
    return [f.probability >= q for f in frames]


def tile_selection_saved(run: Any) -> dict[str, float | None]:
    """The cloud_filter policy's tile-selection saving (bent-pipe bytes, before encoding) over the finished frames
    with truth: of the tiles the stage sent whole (``"stage"``, :func:`ground.clear_ground.delivered_outcome`; of a
    burst, its decision on all K frames) and of the policy fed the true mask (``"oracle"``, :func:`oracle_outcome`);
    both None without a cloud stage or a frame to score. Worked out once, kept in ``run.derived``."""
    if "tile_selection_saved" not in run.derived:
        policy = cloud_policy(run.run_info)
        frames = load_frames(run) if policy else []
        run.derived["tile_selection_saved"] = {"stage": clear_ground.delivered_outcome(frames)[0] if frames else None,
                                               "oracle": oracle_outcome(frames, policy)[0] if frames else None}
    return run.derived["tile_selection_saved"]


def cloud_section(run: Any) -> dict[str, Any] | None:
    """report.json ``cloud``: model (saving and loss: :func:`ground.clear_ground.delivered_outcome`; ``model_map``:
    the policy on its map), spectral baseline and oracle (:func:`oracle_outcome`) as the module docstring says,
    ``bursts`` (frames scored that are bursts), the trade-off of saving against clear pixels lost across thresholds
    (``tradeoff``) and the tile policy (``tradeoff_tile_policy``), and its two figures' paths (:data:`PLOTS`); None
    without a cloud stage."""
    policy = cloud_policy(run.run_info)
    if policy is None:
        return None
    frames = load_frames(run)
    out: dict[str, Any] = {"policy": policy, "frames_scored": len(frames),
                           "truth": run.cloud_truth}
    earlier = clear_ground.discarded_before(run, "cloud_filter")
    if earlier is not None:
        out["frames_discarded_earlier"] = earlier
    model_card = run.run_info.model_cards.get("cloud_filter") if run.run_info else None
    if model_card:
        out["model_card"] = model_card.to_json()
    if not frames:
        missing = f" ({', '.join(run.missing)} missing)" if run.missing else ""
        out["note"] = (f"no finished frame with both truth/ and evaluation/ records{missing}: nothing to score"
                       if out["truth"] else NO_MASK)
        return out
    threshold = float(policy["threshold"])
    model = _score_mask(frames, _model_masks(frames, threshold), policy)
    baseline = _score_mask(frames, [f.spectral for f in frames], policy)
    (saved, lost), (best, oracle_lost) = clear_ground.delivered_outcome(frames), oracle_outcome(frames, policy)
    tradeoff = [dict(zip(("threshold", "saved_fraction", "clear_pixels_lost_fraction"),
                         (t, *policy_outcome(frames, _model_masks(frames, t), policy)))) for t in THRESHOLDS]
    out.update({
        "truth_positive": "thin or thick cloud",
        "bursts": sum(f.burst_frames > 1 for f in frames),
        "pixel": model["pixel"], "tile": model["tile"],
        "clear_pixels_lost_fraction": lost,
        "tile_selection_saved_fraction": saved,
        "oracle_saved_fraction": best,
        "oracle_share": saved / best if best else None,
        "model_map": {k: model[k] for k in ("tile_selection_saved_fraction", "clear_pixels_lost_fraction")},
        "baseline_spectral": baseline,
        "oracle": {"tile_selection_saved_fraction": best, "clear_pixels_lost_fraction": oracle_lost},
        "pr_curve": _pr_curve(frames),
        "tradeoff": tradeoff,
        "tradeoff_tile_policy": tile_policy_sweep(frames, policy),
    })
    out["plots"] = list(PLOTS)  # drawn by ground.plots.write_plots
    warnings = lost_ground_warnings(out)
    if warnings:
        out["warnings"] = warnings
    return out


def lost_ground_warnings(section: Mapping[str, Any]) -> list[str]:
    """A warning when the cloud filter withheld more of the clear ground it saw than the true mask does under the
    same tile policy, by more than MAX_EXCESS_CLEAR_LOST_FRACTION; and one when it dropped less than
    MIN_ORACLE_SHARE of what the true mask drops (at least MIN_ORACLE_SAVED_FRACTION of the bytes): it misses the
    cloud. Each names what makes the stage's mask: its model, or the spectral test (``method: spectral``). None
    when neither holds."""
    lost, oracle = section["clear_pixels_lost_fraction"], section["oracle"]["clear_pixels_lost_fraction"]
    spectral = (section.get("policy") or {}).get("method") == "spectral"
    mask = "its spectral test" if spectral else "its model"
    check = ("check the stage's threshold" if spectral else
             "check the model card's activation and scaling, and the stage's threshold")
    out = []
    if lost is not None and oracle is not None and lost - oracle > MAX_EXCESS_CLEAR_LOST_FRACTION:
        out.append(f"the cloud filter withheld {fmt_fraction(lost)} of the clear ground it saw, where the true mask, "
                   f"with the same tile policy, withholds {fmt_fraction(oracle)}: {mask} calls clear ground cloud; "
                   f"{check}")
    saved, best = section.get("tile_selection_saved_fraction"), section["oracle"].get("tile_selection_saved_fraction")
    if saved is not None and best is not None and best >= MIN_ORACLE_SAVED_FRACTION and saved < MIN_ORACLE_SHARE * best:
        recall = (section.get("pixel") or {}).get("recall")
        found = f" (it finds {fmt_fraction(recall)} of the cloud pixels)" if recall is not None else ""
        out.append(f"the cloud filter's tiles drop {fmt_fraction(saved)} of the bytes, where the true mask, with the "
                   f"same tile policy, drops {fmt_fraction(best)}: {mask} misses the cloud{found}; {check}")
    return out


def cloud_blocks(section: Mapping[str, Any]) -> list[Any]:
    """report.md/html blocks: one table setting the model, the spectral baseline and the oracle side by side."""

    blocks: list[Any] = [Heading(2, "Cloud detection")]
    p, truth = section["policy"], section.get("truth", "synthetic")
    against = SECTION_WORDS.get(truth, SECTION_WORDS[None])[2]
    blocks.append(Paragraph(f"Policy: {p.get('method', 'model')} ({p.get('model', '')}), threshold {p['threshold']}, "
                            f"{p['tile_px']} px tiles, {p['action']} tiles with more than "
                            f"{fmt_fraction(p['max_cloud_fraction'])} cloud."
                            + (f" {section['frames_scored']} frames scored against {against}." if against else "")))
    blocks += model_card_blocks(section.get("model_card"), truth, p.get("threshold"))
    earlier = section.get("frames_discarded_earlier")
    if earlier and earlier["frames"]:
        stages = ", ".join(f"{stage} ({n})" for stage, n in earlier["by_stage"].items()) or "an earlier stage"
        blocks.append(Paragraph(
            f"{earlier['frames']} finished frames were discarded whole before the cloud filter saw them, by {stages}: "
            f"they held {fmt_fraction(earlier['clear_pixels_fraction'])} of the finished frames' truly clear pixels. "
            "They are not scored here; the pipeline comparison counts their clear pixels as lost."))
    if not section["frames_scored"]:
        return blocks + [Paragraph(section.get("note", ""))]

    blocks += [detector_table(section), Paragraph(oracle_share_text(section) + " " + basis_text(section))]
    blocks += [Image("precision-recall", section["plots"][0]), Image("bandwidth saved against clear pixels lost", section["plots"][1])]
    return blocks + sweep_blocks(section)


def detector_table(section: Mapping[str, Any]) -> Table:
    """The model, the spectral baseline and the oracle side by side: pixel and tile scores, bandwidth saved and clear
    pixels lost; with bursts, the rows on frame 0's map alone (the model's too, beside the baseline's) say so."""

    def row(name: str, s: Mapping[str, Any]) -> tuple[str, ...]:
        px, tile = s.get("pixel") or {}, s.get("tile") or {}
        return (name, *(fmt_fraction(px.get(k)) for k in ("precision", "recall", "f1", "iou", "fpr")),
                fmt_fraction(tile.get("f1")), fmt_fraction(s.get("tile_selection_saved_fraction")),
                fmt_fraction(s.get("clear_pixels_lost_fraction")))

    alone = ", frame 0's map alone" if section.get("bursts") else ""
    rows = [row("on-board model", section), *([row("on-board model" + alone, section["model_map"])] if alone else []),
            row("spectral baseline" + alone, section["baseline_spectral"]),
            row("oracle (true mask)", section["oracle"])]
    return Table(("detector", "precision", "recall", "F1", "IoU", "FPR", "tile F1", "bandwidth saved",
                  "clear pixels lost"), tuple(rows))


def basis_text(section: Mapping[str, Any]) -> str:
    """What the detector table's saving and loss are measured on (the module docstring's bases)."""
    text = ("Bandwidth saved counts the bent-pipe bytes of the tiles kept, clear pixels lost the truly clear pixels "
            "withheld: the model's are what reached the ground, the oracle's the same tile policy fed the true mask.")
    return text if not section.get("bursts") else text + (
        f" {section['bursts']} of the frames scored are bursts, whose stage drops a tile only when it is cloudy in "
        "every frame: their clear ground is the ground some frame saw clear (fusion restores the rest), the oracle's "
        "mask the ground cloudy in every frame, their pixel and tile scores frame 0's. Rows on frame 0's map alone, "
        "the thresholds and the tile-policy sweep act on the one map kept: upper bounds on what a stage judging every "
        "frame by it would save and lose, not to be set beside the oracle.")


def oracle_share_text(section: Mapping[str, Any]) -> str:
    """What the model's tile selection saves against the oracle's (the true mask's, same tile policy): a share up to
    100 %; beyond it the model drops more than the truth says is cloud, paid for in clear ground."""
    share = section["oracle_share"]
    if share is None or share <= 1.0:
        return f"The model's tile selection saves {fmt_fraction(share)} of what the oracle saves."
    return (f"The model's tile selection drops more than the true mask does ({fmt_fraction(share)} of the oracle's "
            f"saving): the excess is clear ground, {fmt_fraction(section['clear_pixels_lost_fraction'])} of it lost "
            f"against the oracle's {fmt_fraction(section['oracle']['clear_pixels_lost_fraction'])}.")


def sweep_blocks(section: Mapping[str, Any]) -> list[Any]:
    """The tile-policy sweep as a matrix: one row per tile size, one column per max_cloud_fraction, each cell
    "saved / clear lost"; the stage's own cell starred."""
    sweep = section.get("tradeoff_tile_policy") or []
    if not sweep:
        return []
    p = section["policy"]
    limits = sorted({pt["max_cloud_fraction"] for pt in sweep})
    cells = {(pt["tile_px"], pt["max_cloud_fraction"]): pt for pt in sweep}
    rows = []
    for tile_px in sorted({pt["tile_px"] for pt in sweep}):
        row = [f"{tile_px} px"]
        for limit in limits:
            pt = cells[(tile_px, limit)]
            star = " *" if (tile_px, limit) == (p["tile_px"], p["max_cloud_fraction"]) else ""
            row.append(f"{fmt_fraction(pt['saved_fraction'])} / {fmt_fraction(pt['clear_pixels_lost_fraction'])}{star}")
        rows.append(tuple(row))
    burst = " (a burst's frame 0's: upper bounds, see above)" if section.get("bursts") else ""
    return [Paragraph(f"The tile policy swept at the stage's threshold {p['threshold']} ({p['action']} tiles with more "
                      "cloud than the column's share): bandwidth saved / clear pixels lost, as the policy would act on "
                      f"each frame's probability map{burst}; * is this run's stage's policy."),
            Table(("tile size", *(f"> {fmt_fraction(limit)} cloud" for limit in limits)), tuple(rows))]
