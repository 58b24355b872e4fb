"""Mass memory: capacity is never exceeded, and every eviction is reported with its reason."""

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from onboard.sim.storage import Item, Storage


def make(policy, capacity=100):
    evicted = []
    store = Storage(simpy.Environment(), capacity, policy, lambda item, reason: evicted.append((item.item_id, reason)))
    return store, evicted


def item(name, size, priority=1, kind="product"):
    return Item(name, (name,), size, priority, kind)


def test_drop_oldest_evicts_in_arrival_order():
    store, evicted = make("drop_oldest")
    for i in range(4):
        assert store.put(item(f"p{i}", 30))
    assert [e[0] for e in evicted] == ["p0"]
    assert store.used_bytes == 90


def test_drop_lowest_priority_keeps_important_items():
    store, evicted = make("drop_lowest_priority")
    store.put(item("hi", 60, priority=5))
    store.put(item("lo", 30, priority=1))
    assert store.put(item("mid", 40, priority=3))
    assert evicted == [("lo", "storage_full")]
    assert not store.put(item("lo2", 50, priority=1))  # only higher priorities to evict: refused
    assert [i.item_id for i in store.items] == ["hi", "mid"]


def test_drop_lowest_priority_evicts_an_equal_priority_item_oldest_first():
    """"Of no higher priority": an item may push out one of its own priority, the oldest of the lowest first."""
    store, evicted = make("drop_lowest_priority")
    for name in ("a", "b", "c"):
        store.put(item(name, 30, priority=2))
    assert store.put(item("d", 30, priority=2))
    assert evicted == [("a", "storage_full")]
    store.put(item("low", 5, priority=1))  # 95 of 100 bytes: the next 30 need 25 freed
    assert store.put(item("e", 30, priority=2))
    assert evicted[1:] == [("low", "storage_full"), ("b", "storage_full")]  # the lowest first, then the oldest


def test_stop_imaging_refuses_without_evicting():
    store, evicted = make("stop_imaging")
    assert store.put(item("a", 80))
    assert not store.put(item("b", 30))
    assert evicted == [] and store.used_bytes == 80


def test_item_in_transmission_is_never_evicted():
    store, evicted = make("drop_oldest")
    first = item("sending", 60)
    store.put(first)
    first.locked = True
    assert not store.put(item("new", 50))
    assert evicted == []


def test_next_product_resumes_partial_then_priority_then_age():
    store, _ = make("drop_oldest", 1000)
    a, b, c = item("a", 10), item("b", 10, priority=3), item("c", 10)
    for x in (a, b, c):
        store.put(x)
    assert store.next_product() is b
    c.sent_bytes = 4
    assert store.next_product() is c


@settings(max_examples=200, deadline=None)
@given(policy=st.sampled_from(["drop_oldest", "drop_lowest_priority", "stop_imaging"]),
       ops=st.lists(st.tuples(st.integers(1, 120), st.integers(0, 3), st.booleans()), max_size=40))
def test_accounting_property(policy, ops):
    """Every item offered is either stored, refused, evicted or removed: nothing vanishes, capacity holds."""
    store, evicted = make(policy)
    refused, removed = [], []
    for n, (size, priority, take) in enumerate(ops):
        new = item(f"i{n}", size, priority)
        if not store.put(new):
            refused.append(new.item_id)
        if take and store.items:
            victim = store.next_product()
            store.remove(victim)
            removed.append(victim.item_id)
        assert 0 <= store.used_bytes <= store.capacity_bytes
        assert store.used_bytes == sum(i.size_bytes for i in store.items)
    held = [i.item_id for i in store.items]
    accounted = held + refused + removed + [e[0] for e in evicted]
    assert sorted(accounted) == sorted(f"i{n}" for n in range(len(ops)))


def test_unknown_order_is_refused():
    with pytest.raises(ValueError, match="unknown downlink order 'fastest'"):
        Storage(simpy.Environment(), 100, "drop_oldest", lambda item, reason: None, order="fastest")


def test_value_density_sends_the_most_value_per_byte_then_the_oldest():
    store = Storage(simpy.Environment(), 10_000, "drop_oldest", lambda item, reason: None, order="value_density")
    # value per byte: a 0.3 (priority 3 but mostly cloud), b 2.0 (clear), c and d 1.0 each
    a, b, c, d = (Item(n, (n,), size, prio, "product", value=v)
                  for n, size, prio, v in (("a", 1000, 3, 300), ("b", 1000, 1, 2000), ("c", 500, 1, 500),
                                           ("d", 250, 2, 250)))
    for x in (a, b, c, d):
        store.put(x)
    assert store.next_product() is b  # 2.0 per byte beats c and d (1.0) and a (0.3), whatever the priority
    store.remove(b)
    assert store.next_product() is c  # c and d tie at 1.0 per byte: the older first
    a.sent_bytes = 10.0
    assert store.next_product() is a  # a product in progress is finished first


def drain(store):
    """The order next_product empties the store in (every product, each once)."""
    order = []
    while (nxt := store.next_product()) is not None:
        order.append(nxt)
        store.remove(nxt)
    return order


@settings(max_examples=200, deadline=None)
@given(products=st.lists(st.tuples(st.integers(1, 5000), st.integers(0, 5), st.integers(0, 10_000)), min_size=1,
                         max_size=30),
       started=st.integers(-1, 29), raws=st.integers(0, 3))
def test_value_density_order_property(products, started, raws):
    """Draining the store in value_density order: every product once and no raw frame, the one in progress first,
    then value per byte never increasing, equal densities oldest first."""
    store = Storage(simpy.Environment(), 1e12, "drop_oldest", lambda item, reason: None, order="value_density")
    items = [Item(f"p{n}", (f"p{n}",), size, prio, "product", value=prio * px)
             for n, (size, prio, px) in enumerate(products)]
    for n, x in enumerate(items):
        store.put(x)
        if n < raws:
            store.put(item(f"raw{n}", 10, kind="raw"))
    if 0 <= started < len(items):
        items[started].sent_bytes = 1.0
    order = drain(store)
    assert sorted(x.item_id for x in order) == sorted(x.item_id for x in items)
    rest = order
    if 0 <= started < len(items):
        assert order[0] is items[started]
        rest = order[1:]
    keys = [(-x.value / x.size_bytes, x.seq) for x in rest]
    assert keys == sorted(keys)
    assert [x.kind for x in store.items] == ["raw"] * min(raws, len(items))


@settings(max_examples=100, deadline=None)
@given(products=st.lists(st.tuples(st.integers(1, 5000), st.integers(0, 5)), min_size=1, max_size=30))
def test_priority_order_property(products):
    """The default order: highest priority first, equal priorities oldest first, whatever the value."""
    store, _ = make("drop_oldest", 1e12)
    for n, (size, prio) in enumerate(products):
        store.put(Item(f"p{n}", (f"p{n}",), size, prio, "product", value=size))
    keys = [(-x.priority, x.seq) for x in drain(store)]
    assert keys == sorted(keys) and len(keys) == len(products)
