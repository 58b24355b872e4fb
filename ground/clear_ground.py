"""Clear ground delivered: which truly clear pixels of each finished frame reached the ground, whatever withheld the
others on board (a cloud filter's dropped or masked tiles, a triage stage's discarded frame, any plugin's drop).

The cloud section scores the frames its filter saw on these records; the comparison and the verdict count the clear
pixels lost over every finished frame (:func:`lost_fraction`), so that a drop by any stage is seen.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
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
    truth_cloud: np.ndarray  # thin or thick cloud (truth/ cloud 1 or 2)
    scored: np.ndarray  # valid pixels with known truth (cloud not 255)
    delivered: np.ndarray  # pixels that reached the ground (:func:`delivered_pixels`)
    raw_bytes: int  # the capture's bent-pipe bytes (telemetry/captures.jsonl)
    valid: np.ndarray | None = None  # where the world has data (truth/ valid); None: everywhere

    @property
    def clear_px(self) -> int:
        """Truly clear scored pixels."""
        return int(np.count_nonzero(self.scored & ~self.truth_cloud))

    @property
    def clear_lost_px(self) -> int:
        """Truly clear scored pixels that never reached the ground."""
        return int(np.count_nonzero(self.scored & ~self.truth_cloud & ~self.delivered))


def delivered_pixels(shape: tuple[int, int], products: Sequence[Product], run_dir: Path) -> np.ndarray:
    """Pixels of a frame (on the camera's grid) that reached the ground: its delivered image tiles, less
    masked-out pixels (fill, :func:`rundir.codec.has_data`); a super-resolved tile (``scale`` s) covers its pixels
    divided by s."""
    seen = np.zeros(shape, bool)
    for product in products:
        line = product.line
        if line.kind != "image":
            continue
        s = line.scale
        box = TileBox.of(line.tile).camera_window(s)
        if line.masked:
            seen[box] |= has_data(decode_product(product.path, line))[::s, ::s]
        else:
            seen[box] = True
    return seen


def _products_by_frame(run: Any) -> dict[str, list[Product]]:
    by_frame: dict[str, list[Product]] = {}
    for product in run.reception.products:
        for frame_id in product.line.frame_ids:
            by_frame.setdefault(frame_id, []).append(product)
    return by_frame


def frames(run: Any) -> Iterator[FrameTruth]:
    """The finished frames (``run.finished``: :func:`ground.metrics.finished_frames`) that have truth/, in capture
    order, read one at a time; none without ledger or capture telemetry."""
    if run.ledger is None or run.captures is None:
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
        yield FrameTruth(frame_id, is_cloud(cloud), scored,
                         delivered_pixels(cloud.shape, by_frame.get(frame_id, []), run.run_dir),
                         capture.raw_bytes, valid)


def withheld(run: Any, frame_ids: Sequence[str]) -> bool:
    """Whether anything of ``frame_ids`` was withheld on board, as the run directory records it: a stage's decided
    drop (telemetry/ledger.jsonl ``decided_by_stage``) or a delivered product with masked-out pixels (manifest
    ``masked``)."""
    wanted = set(frame_ids)
    if any(metrics.decided(r) for r in run.ledger or [] if r.frame_id in wanted):
        return True
    return any(p.line.masked for p in run.reception.products if wanted & set(p.line.frame_ids))


def lost_fraction(run: Any, frame_ids: Sequence[str]) -> float | None:
    """Clear pixels lost over ``frame_ids`` (finished frames): the truly clear scored pixels (truth/: valid, cloud
    0) that no delivered image product covers, over all truly clear scored pixels, whichever stage withheld them.

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
