"""The downlink process in a real SimPy environment: only inside windows, at the payload rate, resuming across passes."""

import math
import dataclasses
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
import simpy

from onboard.sim.downlink import Link, downlink, frame_error_rate
from onboard.sim.link_budget import PassRates
from onboard.sim.storage import Item, Storage


@dataclass
class Window:
    satellite: str
    station: str
    aos_t_s: float
    los_t_s: float
    max_elevation_deg: float = 45.0


def setup(windows, sizes, rate=1000.0, antennas=("gs",), extra=(), fer=0.0, frame_bytes=100, seed=0, pass_rates=None):
    env = simpy.Environment()
    store = Storage(env, 1e9, "drop_oldest", lambda i, r: None)
    for n, size in enumerate(sizes):
        store.put(Item(f"p{n}", (f"f{n}",), size, 1, "product"))
    ants = {a: simpy.Resource(env, 1) for a in antennas}
    delivered, log, busy = [], [], []
    env.process(downlink(env, windows, ants, store, Link(rate, frame_bytes, fer), lambda k, s: busy.append(s),
                         lambda item, t, st: delivered.append((item.item_id, t, st)), log,
                         np.random.default_rng(seed), pass_rates))
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


def test_a_window_used_whole_is_recorded_within_its_rounded_length():
    """AOS 1.0006 and LOS 69.3494 round to 1.001 and 69.349: 68.348 s of window; 68.3488 s of sending rounded on its
    own read 68.349 s, usage over 1 (cubesat_sband's second pass read 1.000015)."""
    env, _, _, log, _ = setup([Window("s", "gs", 1.0006, 69.3494)], [10**9])
    env.run(until=100)
    assert log[0].used_s == pytest.approx(68.3488)
    record = log[0].contact_record()
    assert (record.aos_t_s, record.los_t_s, record.duration_s, record.used_s) == (1.001, 69.349, 68.348, 68.348)
    # telemetry/link.jsonl gives the same times under a link budget
    log[0].link = SimpleNamespace(g_t_db_k=21.0, link_up_s=68.3488, cumulative_bytes=np.array([0.0, 1e6]),
                                  constant_model="8PSK 3/5", constant_bytes_per_s=1e5, samples=[])
    link = log[0].link_record()
    assert (link.aos_t_s, link.los_t_s, link.used_s) == (1.001, 69.349, 68.348)


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


def test_lost_frames_are_sent_again_within_the_pass_and_after_it():
    sizes = [20_000] * 10  # 200 frames each
    env, store, delivered, log, _ = setup([Window("s", "gs", 0, 150), Window("s", "gs", 1000, 1200)], sizes,
                                          fer=0.1, seed=4)
    env.run(until=2000)
    assert [d[0] for d in delivered] == [f"p{n}" for n in range(10)]  # nothing lost that ARQ could save
    items = [d for d in delivered]
    assert len(items) == 10 and not store.items
    on_air = sum(c.bytes_sent for c in log)
    assert on_air > sum(sizes)
    # failures before 2000 successes at FER 0.1: mean 2000 * 0.1 / 0.9 = 222 frames, sd 16
    assert on_air - sum(sizes) == pytest.approx(222.2 * 100, abs=4 * 16 * 100)
    assert log[0].used_s == pytest.approx(150.0) and log[1].bytes_sent > 0  # the first pass ended mid-way


def test_each_frame_is_sent_until_it_arrives():
    """Selective-repeat ARQ: a frame is sent again until it gets through, so the failures before 2000 successes at
    FER 0.5 are negative-binomial, mean 2000 * 0.5 / 0.5 = 2000 frames, sd sqrt(2000 * 0.5) / 0.5 = 63 (Feller,
    An Introduction to Probability Theory, vol. 1, VI.8). One resend per lost frame would give 1000."""
    env, _, delivered, log, _ = setup([Window("s", "gs", 0, 1000)], [20_000] * 10, fer=0.5, seed=4)
    env.run(until=2000)
    assert len(delivered) == 10
    resent_frames = (sum(c.bytes_sent for c in log) - 200_000) / 100
    assert resent_frames == pytest.approx(2000, abs=4 * 63)


def test_zero_frame_error_rate_sends_each_byte_once():
    env, store, delivered, log, _ = setup([Window("s", "gs", 0, 100)], [4000, 4000])
    env.run(until=200)
    assert sum(c.bytes_sent for c in log) == 8000 and len(delivered) == 2


def test_frame_error_rate_from_a_link_budget_matches_the_textbook():
    # uncoded BPSK: BER at Eb/N0 = 9.6 dB is 1.0e-5 (Sklar, Digital Communications, fig. 4.25); 1024-byte frames
    ber = 0.5 * math.erfc(math.sqrt(10 ** 0.96))
    assert ber == pytest.approx(1.0e-5, rel=0.1)
    assert frame_error_rate(9.6, 1024) == pytest.approx(1 - (1 - ber) ** 8192, rel=1e-9)
    assert frame_error_rate(9.6, 1024) == pytest.approx(0.078, abs=0.005)
    assert frame_error_rate(20.0, 1024) < 1e-12 and frame_error_rate(0.0, 1024) > 0.999


def steps(edges_s, bytes_per_s, constant=500.0):
    names = tuple("QPSK 1/2" if r else None for r in bytes_per_s)
    return PassRates(np.array(edges_s, float), np.array(bytes_per_s, float), names, constant, "rate_mbps", 28.0)


def test_a_pass_rate_that_varies_is_integrated_and_a_product_resumes_at_the_next_pass():
    # link down for 10 s after AOS, then 1000 B/s for 10 s, then 2000 B/s for 10 s: 30 000 B in the pass
    passes = [steps([100, 110, 120, 130], [0, 1000, 2000]), steps([200, 210], [1000])]
    env, store, delivered, log, busy = setup([Window("s", "gs", 100, 130), Window("s", "gs", 200, 210)],
                                             [4000, 20000, 10000], pass_rates=passes)
    env.run(until=300)
    assert [(d[0], round(d[1], 9)) for d in delivered] == [("p0", 114.0), ("p1", 127.0), ("p2", 204.0)]
    assert [c.bytes_sent for c in log] == [pytest.approx(30000), pytest.approx(4000)]  # p2: 6000 B, then the rest
    first = log[0].link_record()  # the radio transmits while a MODCOD closes: 20 of the pass's 30 s
    assert (first.capacity_bytes, first.bytes_sent, first.used_s, first.link_up_s) == (30000, 30000, 20.0, 20.0)
    assert (first.constant_model, first.constant_rate_bytes) == ("rate_mbps", 500 * 30)  # it has no link-down time
    assert sum(busy) == pytest.approx(20.0 + 4.0)


def test_a_pass_whose_link_never_closes_carries_nothing_and_keeps_the_radio_off():
    """The pass counted as busy (used_s 50 s, the transmitter's power drawn) while it sent nothing."""
    env, store, delivered, log, busy = setup([Window("s", "gs", 0, 50)], [100], pass_rates=[steps([0, 50], [0])])
    env.run(until=100)
    assert delivered == [] and log[0].bytes_sent == 0.0 and store.items[0].sent_bytes == 0.0
    assert log[0].link_record().link_up_s == 0.0 and log[0].used_s == 0.0 and sum(busy) == 0.0


def test_a_pass_whose_link_never_closes_takes_no_antenna_from_a_station_that_closes():
    """Two stations see the satellite at once; the first in AOS order never closes its link (too little G/T): the
    satellite goes down through the other from its AOS, and leaves the first station's antenna free."""
    passes = [steps([0, 100], [0]), steps([10, 90], [1000])]
    env, store, delivered, log, _ = setup([Window("s", "deaf", 0, 100), Window("s", "gs", 10, 90)], [5000],
                                          antennas=("deaf", "gs"), pass_rates=passes)
    env.run(until=200)
    assert delivered == [("p0", 15.0, "gs")]
    assert [c.tracked for c in log] == [False, True]


def test_a_pass_whose_link_drops_before_los_hands_over_to_the_next_station():
    """The link of the first pass closes until t = 50 s, its LOS is at 100 s; the second station's pass closes from
    60 s: what the first could not send goes through the second from 60 s, not from the first one's LOS. The
    constant-rate model (500 B/s), whose link is never down, is credited with the time the product waited in the
    first pass, 50 to 60 s, and with its time sending."""
    passes = [steps([0, 50, 100], [1000, 0]), steps([60, 200], [1000])]
    env, store, delivered, log, _ = setup([Window("s", "gs1", 0, 100), Window("s", "gs2", 60, 200)], [70000],
                                          antennas=("gs1", "gs2"), pass_rates=passes)
    env.run(until=300)
    assert delivered == [("p0", 80.0, "gs2")]
    assert [c.bytes_sent for c in log] == [pytest.approx(50000), pytest.approx(20000)]
    assert [c.link_record().constant_rate_bytes for c in log] == [500 * 60, 500 * 20]


def test_a_satellite_waiting_for_its_link_leaves_the_antenna_to_another():
    """The satellite's pass closes only from 40 s; another satellite uses the station's antenna from 0 to 30 s
    meanwhile, and this one then takes it."""
    used = []

    def other(env, ants):
        yield env.timeout(1)
        with ants["gs"].request() as req:
            result = yield req | env.timeout(0)
            used.append((env.now, req in result))
            yield env.timeout(29)

    env, store, delivered, log, _ = setup([Window("s", "gs", 0, 100)], [1000], extra=[other],
                                          pass_rates=[steps([0, 40, 100], [0, 1000])])
    env.run(until=200)
    assert used == [(1, True)] and delivered == [("p0", 41.0, "gs")]


def test_a_pass_whose_link_closes_late_leaves_the_satellite_to_an_earlier_closing_one():
    """The first pass in AOS order (0-200 s) closes its link only from 100 s; the second (10-90 s, another station)
    from its AOS: the product goes down through the second from 10 s, not through the first from 100 s."""
    passes = [steps([0, 100, 200], [0, 1000]), steps([10, 90], [1000])]
    env, store, delivered, log, _ = setup([Window("s", "gs1", 0, 200), Window("s", "gs2", 10, 90)], [50000],
                                          antennas=("gs1", "gs2"), pass_rates=passes)
    env.run(until=400)
    assert delivered == [("p0", 60.0, "gs2")]


@pytest.mark.parametrize("model, credited_s", [("rate_mbps", 100.0), ("lowest_elevation_modcod", 60.0)])
def test_only_a_link_never_down_is_credited_with_the_time_a_product_waits_for_the_pass_to_close(model, credited_s):
    """A pass of 100 s whose link closes from 40 s, a product too large to finish: the constant rate_mbps, never
    down, would have sent all 100 s; the one fixed MODCOD that closes at the lowest elevation where any does is
    down wherever adaptive coding has no mode, so it sends for the 60 s the link is up (it was credited with the
    100 s, and carried more than adaptive coding could)."""
    rates = dataclasses.replace(steps([0, 40, 100], [0, 1000]), constant_model=model)
    env, store, delivered, log, _ = setup([Window("s", "gs", 0, 100)], [10**9], pass_rates=[rates])
    env.run(until=200)
    assert log[0].link_record().constant_rate_bytes == 500 * credited_s


def test_a_pass_whose_link_never_closes_is_still_credited_to_a_constant_rate():
    """A constant rate_mbps, never down, would have sent through a pass whose link never closes as through any."""
    env, store, delivered, log, _ = setup([Window("s", "gs", 0, 100)], [10**9], pass_rates=[steps([0, 100], [0])])
    env.run(until=200)
    assert not log[0].tracked and log[0].link_record().constant_rate_bytes == 500 * 100


def _fleet(windows_by_satellite, sizes_by_satellite, antennas, rate=1000.0):
    """Several satellites, each its own storage and downlink process, sharing the stations' antennas."""
    env = simpy.Environment()
    ants = {a: simpy.Resource(env, 1) for a in antennas}
    delivered, logs, stores = [], {}, {}
    for sat, windows in windows_by_satellite.items():
        store = stores[sat] = Storage(env, 1e9, "drop_oldest", lambda i, r: None)
        for n, size in enumerate(sizes_by_satellite[sat]):
            store.put(Item(f"{sat}-p{n}", (f"{sat}-f{n}",), size, 1, "product"))
        logs[sat] = []
        env.process(downlink(env, windows, ants, store, Link(rate, 100), lambda k, s: None,
                             lambda item, t, st: delivered.append((item.item_id, t, st)), logs[sat],
                             np.random.default_rng(0)))
    return env, delivered, logs, stores


def test_a_satellite_with_nothing_left_to_send_lets_the_antenna_go():
    """a, in view first, sends its one product in 2 s; b, in view from 10 s, gets the antenna at once, not at a's
    LOS (the antenna idle for 90 s while b waited, as a constellation operator found)."""
    env, delivered, logs, _ = _fleet({"a": [Window("a", "gs", 0, 100)], "b": [Window("b", "gs", 10, 200)]},
                                  {"a": [2000], "b": [3000]}, ("gs",))
    env.run(until=300)
    assert delivered == [("a-p0", 2.0, "gs"), ("b-p0", 13.0, "gs")]
    assert logs["a"][0].tracked and logs["b"][0].tracked
    assert logs["b"][0].waited_s == 0.0 and logs["b"][0].contact_record().waited_s == 0.0


def test_a_satellite_takes_a_free_station_in_view_rather_than_wait_for_a_taken_one():
    """a holds gs1 for its whole pass; b, in view of gs1 and of gs2 beside it, goes down through gs2."""
    windows = {"a": [Window("a", "gs1", 0, 100)], "b": [Window("b", "gs1", 5, 100), Window("b", "gs2", 5, 100)]}
    env, delivered, logs, _ = _fleet(windows, {"a": [10**6], "b": [3000]}, ("gs1", "gs2"))
    env.run(until=300)
    assert ("b-p0", 8.0, "gs2") in delivered
    assert [(c.station, c.tracked, c.waited_s) for c in logs["b"]] == [("gs1", False, 0.0), ("gs2", True, 0.0)]


def test_a_satellite_blocked_on_one_station_moves_to_the_next_that_comes_into_view():
    """Handover: b waits on a taken gs1 until gs2 rises at 40 s, and sends there."""
    windows = {"a": [Window("a", "gs1", 0, 100)], "b": [Window("b", "gs1", 5, 100), Window("b", "gs2", 40, 120)]}
    env, delivered, logs, _ = _fleet(windows, {"a": [10**6], "b": [3000]}, ("gs1", "gs2"))
    env.run(until=300)
    assert ("b-p0", 43.0, "gs2") in delivered
    assert logs["b"][0].contact_record().waited_s == 35.0  # from its AOS at 5 s until gs2 rose


def test_a_satellite_stays_on_a_taken_station_when_the_next_is_taken_too_or_gone():
    """No handover into nothing (a session-58 review found both): b's next window is over when its product comes,
    or that window's station is taken when it rises; b waits for gs1 and sends there once a lets it go."""
    gone = {"a": [Window("a", "gs1", 0, 100)], "b": [Window("b", "gs1", 0, 200), Window("b", "gs2", 10, 30)]}
    env, delivered, logs, stores = _fleet(gone, {"a": [10**5], "b": []}, ("gs1", "gs2"))

    def late(env):
        yield env.timeout(50)
        stores["b"].put(Item("b-late", ("b-f",), 3000, 1, "product"))

    env.process(late(env))
    env.run(until=300)
    assert ("b-late", 103.0, "gs1") in delivered
    assert logs["b"][0].waited_s == 50.0
    taken = {"a": [Window("a", "gs1", 0, 100)], "b": [Window("b", "gs1", 5, 100), Window("b", "gs2", 40, 120)],
             "c": [Window("c", "gs2", 0, 120)]}
    env, delivered, logs, _ = _fleet(taken, {"a": [60_000], "b": [3000], "c": [10**6]}, ("gs1", "gs2"))
    env.run(until=300)
    assert ("b-p0", 63.0, "gs1") in delivered
    assert logs["b"][0].waited_s == 55.0
