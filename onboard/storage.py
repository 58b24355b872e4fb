"""Mass memory: a bounded number of bytes holding raw frames awaiting compute and products awaiting downlink.

When an item does not fit, the policy decides: ``drop_oldest`` evicts the oldest items, ``drop_lowest_priority``
evicts the lowest-priority (then oldest) items of no higher priority than the newcomer, and ``stop_imaging``
evicts nothing and refuses the newcomer. An item being transmitted is never evicted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import simpy

POLICIES = ("drop_oldest", "drop_lowest_priority", "stop_imaging")


@dataclass(eq=False)
class Item:
    """Something held in mass memory."""

    item_id: str
    frame_ids: tuple[str, ...]
    size_bytes: int
    priority: int
    kind: str  # "raw" (awaiting compute) or "product" (awaiting downlink)
    seq: int = 0  # arrival order, set by Storage
    sent_bytes: float = 0.0  # downlink progress on the air, retransmissions included; resumes at the next contact
    on_air_bytes: int | None = None  # size plus retransmissions, drawn when its downlink starts
    retransmitted_bytes: float = 0.0
    locked: bool = False  # being transmitted
    data: Any = None  # the product (payload and manifest fields) or the raw frame


class Storage:
    """Bounded byte store. ``on_evict(item, reason)`` is told about every item the policy throws away."""

    def __init__(self, env: simpy.Environment, capacity_bytes: float, policy: str,
                 on_evict: Callable[[Item, str], None]):
        if policy not in POLICIES:
            raise ValueError(f"unknown storage policy {policy!r}; choose from {POLICIES}")
        self.env = env
        self.capacity_bytes = capacity_bytes
        self.policy = policy
        self.on_evict = on_evict
        self.items: list[Item] = []
        self.used_bytes = 0
        self.peak_bytes = 0
        self._seq = 0
        self.changed = env.event()

    def free_bytes(self) -> float:
        return self.capacity_bytes - self.used_bytes

    def put(self, item: Item) -> bool:
        """Store ``item``, evicting by policy to make room. False (and nothing evicted) when it cannot fit."""
        victims = self._victims(item)
        if victims is None:
            return False
        for victim in victims:
            self.remove(victim)
            self.on_evict(victim, "storage_full")
        self._seq += 1
        item.seq = self._seq
        self.items.append(item)
        self.used_bytes += item.size_bytes
        self.peak_bytes = max(self.peak_bytes, self.used_bytes)
        self._notify()
        return True

    def remove(self, item: Item) -> None:
        self.items.remove(item)
        self.used_bytes -= item.size_bytes

    def next_product(self) -> Item | None:
        """The product to downlink next: one already in progress, else highest priority, then oldest."""
        products = [i for i in self.items if i.kind == "product"]
        if not products:
            return None
        return min(products, key=lambda i: (i.sent_bytes == 0, -i.priority, i.seq))

    def _victims(self, item: Item) -> list[Item] | None:
        need = item.size_bytes - self.free_bytes()
        if need <= 0:
            return []
        if self.policy == "stop_imaging" or item.size_bytes > self.capacity_bytes:
            return None
        candidates = [i for i in self.items if not i.locked]
        if self.policy == "drop_lowest_priority":
            candidates = sorted((i for i in candidates if i.priority <= item.priority), key=lambda i: (i.priority, i.seq))
        else:
            candidates = sorted(candidates, key=lambda i: i.seq)
        victims, freed = [], 0
        for victim in candidates:
            if freed >= need:
                break
            victims.append(victim)
            freed += victim.size_bytes
        return victims if freed >= need else None

    def _notify(self) -> None:
        event, self.changed = self.changed, self.env.event()
        event.succeed()
