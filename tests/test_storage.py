"""Mass memory: capacity is never exceeded, and every eviction is reported with its reason."""

import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from onboard.storage import Item, Storage


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
