"""The frame ledger: every captured frame ends as delivered, dropped (with a reason) or still on board.

A dropped product is either a pipeline stage's decision (the cloud filter's cloudy tile, a triage plugin's discarded
frame: :meth:`Ledger.processed`, which names the stage) or a loss (storage had no room, an eviction:
:meth:`Ledger.dropped`). Each row's ``dropped_by_reason`` counts both; ``decided_by_stage`` counts the decisions by
stage and reason, so that the ground tells them apart without knowing any stage's reasons.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import zip_longest

from rundir.telemetry import LedgerRow

UNNAMED_STAGE = "pipeline"  # the stage a decided drop is put down to when the caller names none


@dataclass
class FrameEntry:
    frame_id: str
    satellite: str
    capture_t_s: float
    pending: int = 1  # work not yet resolved: the raw frame, then its products
    delivered: int = 0
    dropped: Counter = field(default_factory=Counter)  # product or frame drops by reason
    decided: dict[str, Counter] = field(default_factory=dict)  # of which a stage's decision: by stage, then reason
    bytes_on_board: int = 0

    def status(self) -> tuple[str, str | None]:
        """``(status, reason)``: on_board while anything is pending; delivered if any product arrived. A dropped
        frame's reason is its most common loss (storage_full, an eviction) when any product was lost, and its most
        common decision only when every drop was a stage's decision: a frame whose clear tiles were all lost to
        storage would have reached the ground, whatever share of it the cloud filter dropped."""
        if self.pending > 0:
            return "on_board", None
        if self.delivered > 0:
            return "delivered", None
        lost = self.dropped - sum(self.decided.values(), Counter())
        reason = (lost or self.dropped).most_common(1)[0][0] if self.dropped else "no_product"
        return "dropped", reason


class Ledger:
    """Counts per frame; ``rows(end_t_s)`` gives the final accounting."""

    def __init__(self) -> None:
        self.frames: dict[str, FrameEntry] = {}

    def captured(self, frame_id: str, satellite: str, t_s: float) -> None:
        self.frames[frame_id] = FrameEntry(frame_id, satellite, t_s)

    def processed(self, frame_id: str, n_products: int, dropped_reasons: list[str], stages: Sequence[str] = ()) -> None:
        """The raw frame became ``n_products`` products; ``dropped_reasons`` for tiles (or the whole frame) the
        pipeline discarded, each a decision of the stage at the same place in ``stages`` (UNNAMED_STAGE where
        ``stages`` is shorter)."""
        entry = self.frames[frame_id]
        entry.pending += n_products - 1
        entry.dropped.update(dropped_reasons)
        for reason, stage in zip_longest(dropped_reasons, stages[:len(dropped_reasons)], fillvalue=UNNAMED_STAGE):
            entry.decided.setdefault(stage, Counter())[reason] += 1

    def delivered(self, frame_id: str) -> None:
        entry = self.frames[frame_id]
        entry.pending -= 1
        entry.delivered += 1

    def dropped(self, frame_id: str, reason: str) -> None:
        entry = self.frames[frame_id]
        entry.pending -= 1
        entry.dropped[reason] += 1

    def rows(self, end_t_s: float, bytes_on_board: dict[str, int]) -> list[LedgerRow]:
        """One row per captured frame, in capture order, at the run's end ``end_t_s`` (s); ``bytes_on_board``:
        bytes each frame holds in storage by frame id (absent: 0)."""
        out = []
        for entry in self.frames.values():
            status, reason = entry.status()
            out.append(LedgerRow(
                frame_id=entry.frame_id, satellite=entry.satellite, status=status, reason=reason,
                products_delivered=entry.delivered, products_dropped=sum(entry.dropped.values()),
                dropped_by_reason=dict(sorted(entry.dropped.items())),
                products_on_board=entry.pending, bytes_on_board=bytes_on_board.get(entry.frame_id, 0),
                age_s=round(end_t_s - entry.capture_t_s, 3) if status == "on_board" else None,
                decided_by_stage={stage: dict(sorted(c.items())) for stage, c in sorted(entry.decided.items())}))
        return out
