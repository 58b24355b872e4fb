"""Cloud detection scored against truth: per pixel, per tile, a PR curve, clear pixels lost, and the oracle.

Inputs, all from the run directory: the ``cloud_filter`` policy (telemetry/run.json), the on-board probability map
and the spectral baseline's mask of each frame (evaluation/), the truth (truth/: cloud 0 clear, 1 thin, 2 thick,
255 unknown; a pixel is cloud when thin or thick) and the delivered products' tile geometry (the manifest).
Frames counted are those the pipeline finished with (see ground.metrics.finished_frames), so that clear pixels
still on board or lost to a full memory are not blamed on the cloud filter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rundir.codec import decode_product
from rundir.tiles import tile_boxes

from . import metrics
from .document import Heading, Image, Paragraph, Table, fmt_fraction

THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 1.0, 0.05))
PLOTS = ("plots/cloud-pr.png", "plots/cloud-tradeoff.png")  # precision-recall, saving against loss


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


def tile_fractions(mask: np.ndarray, scored: np.ndarray, tile_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Per decision tile of a frame (rundir.tiles.tile_boxes, row-major), the fraction of ``mask`` pixels (over
    all its pixels, as on board) and its count of ``scored`` pixels."""
    boxes = tile_boxes(*mask.shape, tile_px)
    return (np.array([float(mask[box.window].mean()) for box in boxes]),
            np.array([int(scored[box.window].sum()) for box in boxes]))


@dataclass
class FrameEval:
    """What is known of one finished frame."""

    frame_id: str
    truth_cloud: np.ndarray  # (H, W) bool
    scored: np.ndarray  # (H, W) bool: valid pixels with known truth
    probability: np.ndarray  # (H, W) uint8, probability x 255
    spectral: np.ndarray  # (H, W) bool
    delivered: np.ndarray  # (H, W) bool: pixels that reached the ground
    raw_bytes: int


def _delivered_pixels(shape: tuple[int, int], products: Sequence[Any], run_dir: Path) -> np.ndarray:
    """Pixels of a frame (on the camera's grid) that reached the ground: its delivered image tiles, less
    masked-out (all-zero) pixels; a super-resolved tile (``scale`` s) covers its pixels divided by s."""
    seen = np.zeros(shape, bool)
    for product in products:
        line = product.line
        if line["kind"] != "image":
            continue
        t, s = line["tile"], int(line.get("scale", 1))
        box = (slice(t["row0"] // s, (t["row0"] + t["height"]) // s), slice(t["col0"] // s, (t["col0"] + t["width"]) // s))
        if line.get("masked"):
            seen[box] |= decode_product(product.path, line).any(axis=2)[::s, ::s]
        else:
            seen[box] = True
    return seen


def load_frames(run: Any) -> list[FrameEval]:
    """The finished frames that have both truth and an on-board evaluation record (read once per run)."""
    if "cloud_frames" not in run.derived:
        run.derived["cloud_frames"] = _read_frames(run)
    return run.derived["cloud_frames"]


def _read_frames(run: Any) -> list[FrameEval]:
    if run.ledger is None or run.captures is None:
        return []
    finished = metrics.finished_frames(run.ledger)
    by_frame: dict[str, list[Any]] = {}
    for product in run.reception.products:
        for frame_id in product.line["frame_ids"]:
            by_frame.setdefault(str(frame_id), []).append(product)
    frames = []
    for capture in run.captures:
        frame_id = str(capture["frame_id"])
        truth_path = run.run_dir / "truth" / f"{frame_id}.npz"
        eval_path = run.run_dir / "evaluation" / f"{frame_id}.npz"
        if frame_id not in finished or not truth_path.is_file() or not eval_path.is_file():
            continue
        with np.load(truth_path) as truth, np.load(eval_path) as evaluation:
            cloud = truth["cloud"]
            scored = truth["valid"] & (cloud != 255)
            frames.append(FrameEval(frame_id, (cloud == 1) | (cloud == 2), scored, evaluation["cloud_probability"],
                                    evaluation["spectral_cloud"], _delivered_pixels(cloud.shape, by_frame.get(frame_id, []), run.run_dir),
                                    int(capture["raw_bytes"])))
    return frames


def cloud_policy(run_info: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The cloud_filter stage's parameters from telemetry/run.json, or None when the pipeline has none."""
    for stage in (run_info or {}).get("stages", []):
        if stage.get("stage") == "cloud_filter":
            return dict(stage)
    return None


def _tile_policy(mask_fraction: np.ndarray, max_fraction: float) -> np.ndarray:
    """True for tiles the policy drops (or masks): more cloud than ``max_fraction``."""
    return mask_fraction > max_fraction


def _score_mask(frames: Sequence[FrameEval], masks: Sequence[np.ndarray], policy: Mapping[str, Any]) -> dict[str, Any]:
    """Pixel and tile scores, tile-selection saving and clear pixels lost, for one predicted mask per frame.

    The saving and the loss follow the tile policy as it would act on these masks (raw bytes of the tiles kept;
    clear pixels in tiles dropped, or masked in tiles masked), so that the model, the baseline and the oracle
    are compared on the same terms.
    """
    pixel = np.zeros(4, np.int64)
    tile = np.zeros(4, np.int64)
    kept_share, raw, clear_lost, clear = 0.0, 0, 0, 0
    for frame, mask in zip(frames, masks):
        s = frame.scored
        pixel += confusion(mask[s], frame.truth_cloud[s])
        predicted_fraction, _ = tile_fractions(mask, s, policy["tile_px"])
        true_fraction, counts = tile_fractions(frame.truth_cloud, s, policy["tile_px"])
        predicted_drop = _tile_policy(predicted_fraction, policy["max_cloud_fraction"])
        true_drop = _tile_policy(true_fraction, policy["max_cloud_fraction"])
        tile += confusion(predicted_drop[counts > 0], true_drop[counts > 0])
        sizes = np.array([box.pixels for box in tile_boxes(*mask.shape, policy["tile_px"])])
        kept_share += float(sizes[~predicted_drop].sum()) / mask.size * frame.raw_bytes
        raw += frame.raw_bytes
        truly_clear = s & ~frame.truth_cloud
        lost = _lost_pixels(mask, predicted_drop, policy) & truly_clear
        clear_lost += int(lost.sum())
        clear += int(truly_clear.sum())
    return {"pixel": confusion_scores(*pixel), "tile": confusion_scores(*tile),
            "tile_selection_saved_fraction": 1.0 - kept_share / raw if raw else None,
            "clear_pixels_lost_fraction": clear_lost / clear if clear else None}


def _lost_pixels(mask: np.ndarray, dropped_tiles: np.ndarray, policy: Mapping[str, Any]) -> np.ndarray:
    """Pixels the policy withholds: whole dropped tiles, or the cloudy pixels of masked tiles."""
    lost = np.zeros(mask.shape, bool)
    for box, drop in zip(tile_boxes(*mask.shape, policy["tile_px"]), dropped_tiles):
        if drop:
            lost[box.window] = mask[box.window] if policy["action"] == "mask" else True
    return lost


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


def oracle_saved_fraction(run: Any) -> float | None:
    """Tile-selection saving of the same policy fed the true cloud mask, over the finished frames with truth."""
    policy = cloud_policy(run.run_info)
    frames = load_frames(run) if policy else []
    if not frames:
        return None
    return _score_mask(frames, [f.truth_cloud for f in frames], policy)["tile_selection_saved_fraction"]


def cloud_section(run: Any) -> dict[str, Any] | None:
    """report.json ``cloud``: model, spectral baseline and oracle scored the same way, and the paths of its two
    figures (:data:`PLOTS`); None without a cloud stage."""
    policy = cloud_policy(run.run_info)
    if policy is None:
        return None
    frames = load_frames(run)
    out: dict[str, Any] = {"policy": policy, "frames_scored": len(frames)}
    model_card = ((run.run_info or {}).get("model_cards") or {}).get("cloud_filter")
    if model_card:
        out["model_card"] = model_card
    if not frames:
        out["note"] = "no finished frame with both truth/ and evaluation/ records: nothing to score"
        return out
    threshold = float(policy["threshold"])
    model = _score_mask(frames, _model_masks(frames, threshold), policy)
    baseline = _score_mask(frames, [f.spectral for f in frames], policy)
    oracle = _score_mask(frames, [f.truth_cloud for f in frames], policy)
    clear = sum(int((f.scored & ~f.truth_cloud).sum()) for f in frames)
    lost = sum(int((f.scored & ~f.truth_cloud & ~f.delivered).sum()) for f in frames)
    tradeoff = []
    for t in THRESHOLDS:
        at = _score_mask(frames, _model_masks(frames, t), policy)
        tradeoff.append({"threshold": t, "saved_fraction": at["tile_selection_saved_fraction"],
                         "clear_pixels_lost_fraction": at["clear_pixels_lost_fraction"]})
    saved, best = model["tile_selection_saved_fraction"], oracle["tile_selection_saved_fraction"]
    out.update({
        "truth_positive": "thin or thick cloud",
        "pixel": model["pixel"], "tile": model["tile"],
        "clear_pixels_lost_fraction": lost / clear if clear else None,
        "tile_selection_saved_fraction": saved,
        "oracle_saved_fraction": best,
        "oracle_share": saved / best if best else None,
        "baseline_spectral": baseline,
        "oracle": {"tile_selection_saved_fraction": best, "clear_pixels_lost_fraction": oracle["clear_pixels_lost_fraction"]},
        "pr_curve": _pr_curve(frames),
        "tradeoff": tradeoff,
    })
    out["plots"] = list(PLOTS)  # drawn by ground.plots.write_plots
    return out


def model_card_blocks(model_card: Mapping[str, Any] | None) -> list[Any]:
    """What the model's card measured on synthetic held-out frames and on real labelled imagery, side by side,
    so that the run's synthetic-truth scores are not read as real-world ones."""

    if not model_card:
        return []
    synthetic = model_card["synthetic_heldout"]
    rows = [("synthetic held-out frames (the card)", fmt_fraction(synthetic["f1"]), fmt_fraction(synthetic["fpr"]))]
    real = model_card.get("real_validation")
    if not real:
        return [Table(("data", "F1", "FPR"), tuple(rows)),
                Paragraph(f"{model_card['model']} has no real-data validation in its card: every score in this "
                          "section is against the synthetic world's truth only.")]
    for group in sorted(g for g in real if g.startswith("all ")):
        rows.append((f"real {group[4:]} tiles (the card)", fmt_fraction(real[group]["f1"]),
                     fmt_fraction(real[group]["fpr"])))
    rows.append((f"real tiles, pooled over {real['tiles']}", fmt_fraction(real["pooled"]["f1"]),
                 fmt_fraction(real["pooled"]["fpr"])))
    return [Table(("data", "F1", "FPR"), tuple(rows)),
            Paragraph(f"What {model_card['model']} is worth on real imagery: pooled F1 "
                      f"{fmt_fraction(real['pooled']['f1'])} and false-positive rate {fmt_fraction(real['pooled']['fpr'])} "
                      f"(worst tile {fmt_fraction(real['worst_tile_fpr'])}) on real labelled tiles. The scores below "
                      "are against this run's synthetic truth; they hold in the synthetic world, not on Earth.")]


def cloud_blocks(section: Mapping[str, Any]) -> list[Any]:
    """report.md/html blocks: one table setting the model, the spectral baseline and the oracle side by side."""

    blocks: list[Any] = [Heading(2, "Cloud detection")]
    p = section["policy"]
    blocks.append(Paragraph(f"Policy: {p.get('method', 'model')} ({p.get('model', '')}), threshold {p['threshold']}, "
                            f"{p['tile_px']} px tiles, {p['action']} tiles with more than "
                            f"{fmt_fraction(p['max_cloud_fraction'])} cloud. {section['frames_scored']} frames scored "
                            f"against truth (cloud = thin or thick)."))
    blocks += model_card_blocks(section.get("model_card"))
    if not section["frames_scored"]:
        return blocks + [Paragraph(section.get("note", ""))]

    def row(name: str, s: Mapping[str, Any], lost: Any) -> tuple[str, ...]:
        px, tile = s.get("pixel") or {}, s.get("tile") or {}
        return (name, *(fmt_fraction(px.get(k)) for k in ("precision", "recall", "f1", "iou", "fpr")),
                fmt_fraction(tile.get("f1")), fmt_fraction(s.get("tile_selection_saved_fraction")), fmt_fraction(lost))

    model = {**section, "tile_selection_saved_fraction": section["tile_selection_saved_fraction"]}
    base = section["baseline_spectral"]
    blocks.append(Table(("detector", "precision", "recall", "F1", "IoU", "FPR", "tile F1", "bandwidth saved",
                         "clear pixels lost"),
                        (row("on-board model", model, section["clear_pixels_lost_fraction"]),
                         row("spectral baseline", base, base["clear_pixels_lost_fraction"]),
                         row("oracle (true mask)", section["oracle"], section["oracle"]["clear_pixels_lost_fraction"]))))
    blocks.append(Paragraph(f"The model's tile selection saves {fmt_fraction(section['oracle_share'])} of what the "
                            "oracle saves. Bandwidth saved here counts bent-pipe bytes of the tiles kept; clear pixels "
                            "lost for the model are measured on what reached the ground."))
    blocks += [Image("precision-recall", section["plots"][0]), Image("bandwidth saved against clear pixels lost", section["plots"][1])]
    return blocks
