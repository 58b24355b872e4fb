"""Clear ground delivered: which truly clear pixels of each finished frame reached the ground, whatever withheld the
others on board (a cloud filter's dropped or masked tiles, a triage stage's discarded frame, any plugin's drop).

A capture's truly clear ground is what its product can carry (:func:`clear_pixels`): for a single frame, the ground
truth/ calls clear; for a burst of K frames, the ground some frame of it saw clear, since fusion restores ground that
cloud moving between the frames hid in some of them, and nothing restores ground hidden in every frame.

The cloud section scores the frames its filter saw on these records; the comparison and the verdict count the clear
pixels lost over every finished frame (:func:`lost_fraction`), so that a drop by any stage is seen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rundir.codec import decode_product, has_data
from rundir.tiles import TileBox
from rundir.truth import TruthFile, is_cloud

from . import metrics
from .reception import Product


@dataclass
class FrameTruth:
    """One finished frame's truth and what of it reached the ground, (H, W) bool arrays on the camera's grid."""

    frame_id: str
    truth_cloud: np.ndarray  # thin or thick cloud (truth/ cloud 1 or 2; a burst's frame 0's)
    scored: np.ndarray  # valid pixels with known truth (cloud not 255)
    clear: np.ndarray  # truly clear scored pixels (:func:`clear_pixels`; a burst's: some frame saw them clear)
    delivered: np.ndarray  # pixels that reached the ground (:func:`delivered_pixels`)
    whole: np.ndarray  # pixels that reached the ground in products sent whole, not masked (:func:`delivered_pixels`)
    raw_bytes: int  # the capture's bent-pipe bytes, every frame of a burst (telemetry/captures.jsonl)
    burst_frames: int  # frames the capture holds (telemetry/captures.jsonl; 1: a single frame)
    valid: np.ndarray | None = None  # where the world has data (truth/ valid); None: everywhere

    @property
    def hidden(self) -> np.ndarray:
        """Scored pixels that are not truly clear: the true cloud mask of what a cloud filter judges (thin or thick
        cloud; for a burst, ground cloudy in every frame)."""
        return self.scored & ~self.clear

    @property
    def clear_px(self) -> int:
        """Truly clear scored pixels."""
        return int(np.count_nonzero(self.clear))

    @property
    def clear_lost_px(self) -> int:
        """Truly clear scored pixels that never reached the ground."""
        return int(np.count_nonzero(self.clear & ~self.delivered))


def clear_pixels(truth: TruthFile, cloud: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """(H, W) bool on the camera's grid: the ``scored`` pixels of a capture that are truly clear, ``cloud`` (its
    truth/ codes) neither thin nor thick; for a burst (truth/ with ``hr_clear``), those some frame of it saw clear,
    ``hr_clear`` sampled at each pixel's centre as truth/'s class layers are (onboard.sensing.burst)."""
    if not truth.has_high_res:
        return scored & ~is_cloud(cloud)
    seen_clear = truth.hr_clear
    s = seen_clear.shape[0] // cloud.shape[0]
    return scored & seen_clear[s // 2::s, s // 2::s]


def delivered_pixels(shape: tuple[int, int], products: Sequence[Product]) -> tuple[np.ndarray, np.ndarray]:
    """``(delivered, whole)``, (H, W) bool on a frame's camera grid: the pixels that reached the ground, in its
    delivered image tiles less masked-out pixels (fill, :func:`rundir.codec.has_data`), and those of them in tiles
    sent whole (manifest ``masked`` unset: the tiles a cloud filter kept as they were); a super-resolved tile
    (``scale`` s) covers its pixels divided by s."""
    seen = np.zeros(shape, bool)
    whole = np.zeros(shape, bool)
    for product in products:
        line = product.line
        if line.kind != "image":
            continue
        s = line.scale
        box = TileBox.of(line.tile).camera_window(s)
        if line.masked:
            seen[box] |= has_data(decode_product(product.path, line))[::s, ::s]
        else:
            whole[box] = seen[box] = True
    return seen, whole


def _products_by_frame(run: Any) -> dict[str, list[Product]]:
    by_frame: dict[str, list[Product]] = {}
    for product in run.reception.products:
        for frame_id in product.line.frame_ids:
            by_frame.setdefault(frame_id, []).append(product)
    return by_frame


def frames(run: Any) -> Iterator[FrameTruth]:
    """The finished frames (``run.finished``: :func:`ground.metrics.finished_frames`) that have truth/ knowing the
    cloud of at least one pixel, in capture order, read one at a time; none without ledger or capture telemetry, and
    none for real imagery without a cloud mask (``run.cloud_truth`` None): its truth files know no pixel's cloud but
    a burst's moving frame clouds, laid over real pixels whose own clouds nothing knows, so every score on them
    (F1 99.9 % on a Landsat run, 0.0 % clear ground lost) would be of those alone."""
    if run.ledger is None or run.captures is None or run.cloud_truth is None:
        return
    finished = run.finished
    by_frame = _products_by_frame(run)
    for capture in run.captures:
        frame_id = capture.frame_id
        truth = TruthFile.of(run.run_dir, frame_id) if frame_id in finished else None
        if truth is None:
            continue
        with truth:
            cloud, valid = truth.cloud, truth.valid
            scored = truth.scored(cloud)
            clear = clear_pixels(truth, cloud, scored)
        if not scored.any():
            continue
        delivered, whole = delivered_pixels(cloud.shape, by_frame.get(frame_id, []))
        yield FrameTruth(frame_id, is_cloud(cloud), scored, clear, delivered, whole, capture.raw_bytes,
                         capture.burst_frames, valid)


def delivered_outcome(frames: Sequence[FrameTruth]) -> tuple[float | None, float | None]:
    """``(saved, lost)`` of what reached the ground, on :func:`ground.cloud.policy_outcome`'s terms: ``saved`` 1 - the
    raw bytes of the tiles that reached the ground whole (``whole``; a masked tile counts as withheld) / the frames'
    raw bytes, ``lost`` the truly clear pixels no product carried / all truly clear pixels; None on 0/0."""
    kept_share = sum(float(f.whole.sum()) / f.whole.size * f.raw_bytes for f in frames)
    raw, clear = sum(f.raw_bytes for f in frames), sum(f.clear_px for f in frames)
    return (1.0 - kept_share / raw if raw else None), (sum(f.clear_lost_px for f in frames) / clear if clear else None)


def discarded_before(run: Any, stage: str) -> dict[str, Any] | None:
    """Finished frames pipeline stage ``stage`` never saw, because a stage before it discarded them whole (a triage
    plugin): their count, the stages that decided it (telemetry/ledger.jsonl ``decided_by_stage``), and the share
    of the truly clear pixels of the finished frames with truth that they held. None when ``stage`` is the first
    (nothing comes before it) or not in the pipeline."""
    names = run.pipeline
    if stage not in names[1:]:
        return None
    finished = run.finished
    unseen = {r.frame_id for r in run.processing or [] if r.frame_id in finished and stage not in r.stages}
    by_stage: Counter[str] = Counter()
    for row in run.ledger or []:
        if row.frame_id in unseen:
            by_stage.update(sorted(row.decided_by_stage))
    clear = {f.frame_id: f.clear_px for f in frames(run)}
    total = sum(clear.values())
    return {"frames": len(unseen), "by_stage": dict(sorted(by_stage.items())),
            "clear_pixels_fraction": sum(clear.get(f, 0) for f in unseen) / total if total else None}


def withheld(run: Any, frame_ids: Sequence[str]) -> bool:
    """Whether anything of ``frame_ids`` was withheld on board, as the run directory records it: a stage's decided
    drop (telemetry/ledger.jsonl ``decided_by_stage``) or a delivered product with masked-out pixels (manifest
    ``masked``)."""
    wanted = set(frame_ids)
    if any(metrics.decided(r) for r in run.ledger or [] if r.frame_id in wanted):
        return True
    return any(p.line.masked for p in run.reception.products if wanted & set(p.line.frame_ids))


def lost_fraction(run: Any, frame_ids: Sequence[str]) -> float | None:
    """Clear pixels lost over ``frame_ids`` (finished frames): the truly clear scored pixels (:func:`clear_pixels`:
    truth/ valid and cloud 0; a burst's, ground some frame saw clear) that no delivered image product covers, over all
    truly clear scored pixels, whichever stage withheld them.

    Where some frame has no truth/, or there is no clear pixel: 0.0 when nothing was withheld (:func:`withheld`:
    then every pixel went down), else None (unknown)."""
    wanted = set(frame_ids)
    clear = lost = seen = 0
    for frame in frames(run):
        if frame.frame_id in wanted:
            clear, lost, seen = clear + frame.clear_px, lost + frame.clear_lost_px, seen + 1
    if seen == len(wanted) and clear:
        return lost / clear
    return None if withheld(run, frame_ids) else 0.0
