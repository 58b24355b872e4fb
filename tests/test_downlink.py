"""The downlink process in a real SimPy environment: only inside windows, at the payload rate, resuming across passes."""

from dataclasses import dataclass

import pytest
import simpy

from onboard.downlink import downlink
from onboard.storage import Item, Storage


@dataclass
class Window:
    satellite: str
    station: str
    aos_t_s: float
    los_t_s: float
    max_elevation_deg: float = 45.0


def setup(windows, sizes, rate=1000.0, antennas=("gs",), extra=()):
    env = simpy.Environment()
    store = Storage(env, 1e9, "drop_oldest", lambda i, r: None)
    for n, size in enumerate(sizes):
        store.put(Item(f"p{n}", (f"f{n}",), size, 1, "product"))
    ants = {a: simpy.Resource(env, 1) for a in antennas}
    delivered, log, busy = [], [], []
    env.process(downlink(env, windows, ants, store, rate, lambda k, s: busy.append(s),
                         lambda item, t, st: delivered.append((item.item_id, t, st)), log))
    for proc in extra:
        env.process(proc(env, ants))
    return env, store, delivered, log, busy


def test_transmits_only_inside_windows_at_the_rate():
    env, store, delivered, log, busy = setup([Window("s", "gs", 100, 110)], [4000, 4000, 4000])
    env.run(until=1000)
    assert [(d[0], d[1]) for d in delivered] == [("p0", 104.0), ("p1", 108.0)]
    assert log[0].bytes_sent == pytest.approx(10 * 1000)
    assert log[0].used_s == pytest.approx(10.0)
    assert store.items[0].sent_bytes == pytest.approx(2000)  # half of p2 went: it resumes next pass
    assert sum(busy) == pytest.approx(10.0)


def test_partial_product_resumes_at_next_pass():
    env, store, delivered, log, _ = setup([Window("s", "gs", 0, 3), Window("s", "gs", 50, 60)], [5000])
    env.run(until=100)
    assert delivered == [("p0", 52.0, "gs")]
    assert [round(c.bytes_sent) for c in log] == [3000, 2000]


def test_busy_antenna_blocks_a_second_satellite():
    def hog(env, ants):
        with ants["gs"].request() as req:
            yield req
            yield env.timeout(105)

    env, store, delivered, log, _ = setup([Window("s", "gs", 100, 110)], [3000], extra=[hog])
    env.run(until=200)
    assert delivered == [("p0", 108.0, "gs")]  # waited 5 s for the antenna
    assert log[0].tracked


def test_products_arriving_mid_pass_are_sent():
    env, store, delivered, log, _ = setup([Window("s", "gs", 0, 100)], [])

    def late(env):
        yield env.timeout(30)
        store.put(Item("late", ("f",), 1000, 1, "product"))

    env.process(late(env))
    env.run(until=200)
    assert delivered == [("late", 31.0, "gs")]
