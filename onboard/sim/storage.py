"""Mass memory: a bounded number of bytes holding raw frames awaiting compute and products awaiting downlink.

When an item does not fit, the policy decides: ``drop_oldest`` evicts the oldest items, ``drop_lowest_priority``
evicts the lowest-priority (then oldest) items of no higher priority than the newcomer, and ``stop_imaging``
evicts nothing and refuses the newcomer. An item being transmitted, or a raw frame being computed, is never
evicted.

The downlink takes products in one of :data:`ORDERS` (scenario ``downlink.order``), always finishing a product in
progress first: ``priority`` sends the highest target priority, then the oldest; ``value_density`` sends the most
value per byte, then the oldest, where a product's value is its target priority times the clear pixels it holds
as estimated on board (the cloud filter's mask; every pixel without one). Value density first is the greedy rule
that is optimal for the fractional knapsack (G. B. Dantzig, "Discrete-variable extremum problems", Operations
Research 5(2), 1957): when a pass cannot carry everything stored, the bytes it does carry hold the most value,
up to the product cut off at its end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import simpy

POLICIES = ("drop_oldest", "drop_lowest_priority", "stop_imaging")
ORDERS = ("priority", "value_density")


@dataclass(eq=False)
class Item:
    """Something held in mass memory."""

    item_id: str
    frame_ids: tuple[str, ...]
    size_bytes: int
    priority: int
    kind: str  # "raw" (awaiting compute) or "product" (awaiting downlink)
    value: float = 0.0  # a product's target priority x estimated clear pixels (manifest value); 0 for a raw frame
    seq: int = 0  # arrival order, set by Storage
    sent_bytes: float = 0.0  # downlink progress on the air, retransmissions included; resumes at the next contact
    on_air_bytes: int | None = None  # size plus retransmissions, drawn when its downlink starts
    retransmitted_bytes: float = 0.0
    locked: bool = False  # being transmitted, or (a raw frame) being computed
    data: Any = None  # the product (payload and manifest fields) or the raw frame


class Storage:
    """Bounded byte store. ``on_evict(item, reason)`` is told about every item the policy throws away; ``order``
    (one of :data:`ORDERS`) is the downlink order :meth:`next_product` follows. Raises ValueError for an unknown
    policy or order."""

    def __init__(self, env: simpy.Environment, capacity_bytes: float, policy: str,
                 on_evict: Callable[[Item, str], None], order: str = "priority"):
        if policy not in POLICIES:
            raise ValueError(f"unknown storage policy {policy!r}; choose from {POLICIES}")
        if order not in ORDERS:
            raise ValueError(f"unknown downlink order {order!r}; choose from {ORDERS}")
        self.order = order
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
        """The product to downlink next: one already in progress, else by :attr:`order` the highest priority or
        the highest value per byte (``value / size_bytes``), then the oldest; None when no product is stored."""
        products = [i for i in self.items if i.kind == "product"]
        if not products:
            return None
        if self.order == "value_density":
            return min(products, key=lambda i: (i.sent_bytes == 0, -i.value / max(i.size_bytes, 1), i.seq))
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
