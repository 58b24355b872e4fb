"""The frame ledger: every captured frame ends as delivered, dropped (with a reason) or still on board."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class FrameEntry:
    frame_id: str
    satellite: str
    capture_t_s: float
    pending: int = 1  # work not yet resolved: the raw frame, then its products
    delivered: int = 0
    dropped: Counter = field(default_factory=Counter)  # product or frame drops by reason
    bytes_on_board: int = 0

    def status(self) -> tuple[str, str | None]:
        """``(status, reason)``: on_board while anything is pending; delivered if any product arrived."""
        if self.pending > 0:
            return "on_board", None
        if self.delivered > 0:
            return "delivered", None
        reason = self.dropped.most_common(1)[0][0] if self.dropped else "no_product"
        return "dropped", reason


class Ledger:
    """Counts per frame; ``rows(end_t_s)`` gives the final accounting."""

    def __init__(self) -> None:
        self.frames: dict[str, FrameEntry] = {}

    def captured(self, frame_id: str, satellite: str, t_s: float) -> None:
        self.frames[frame_id] = FrameEntry(frame_id, satellite, t_s)

    def processed(self, frame_id: str, n_products: int, dropped_reasons: list[str]) -> None:
        """The raw frame became ``n_products`` products; ``dropped_reasons`` for tiles the pipeline discarded."""
        entry = self.frames[frame_id]
        entry.pending += n_products - 1
        entry.dropped.update(dropped_reasons)

    def delivered(self, frame_id: str) -> None:
        entry = self.frames[frame_id]
        entry.pending -= 1
        entry.delivered += 1

    def dropped(self, frame_id: str, reason: str) -> None:
        entry = self.frames[frame_id]
        entry.pending -= 1
        entry.dropped[reason] += 1

    def rows(self, end_t_s: float, bytes_on_board: dict[str, int]) -> list[dict]:
        out = []
        for entry in self.frames.values():
            status, reason = entry.status()
            out.append({
                "frame_id": entry.frame_id, "satellite": entry.satellite, "status": status, "reason": reason,
                "products_delivered": entry.delivered, "products_dropped": sum(entry.dropped.values()),
                "dropped_by_reason": dict(sorted(entry.dropped.items())), "products_on_board": entry.pending,
                "bytes_on_board": bytes_on_board.get(entry.frame_id, 0),
                "age_s": round(end_t_s - entry.capture_t_s, 3) if status == "on_board" else None,
            })
        return out
