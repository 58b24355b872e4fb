"""Energy balance: solar in, loads out, battery clamped, brown-out below the threshold."""

import pytest
import simpy

from onboard.sim.power import Power


def make(sunlit=True, soc=0.5, solar_w=100.0, idle=10.0):
    env = simpy.Environment()
    return env, Power(env, battery_wh=100, initial_soc_fraction=soc, solar_w=solar_w, idle_loads_w={"bus": idle},
                      active_loads_w={"radio": 50.0}, brownout_soc_fraction=0.2, sunlit=lambda t: sunlit)


def test_energy_balance_over_an_hour():
    _, p = make(sunlit=True, solar_w=40.0)
    p.busy("radio", 360.0)  # 0.1 h at 50 W = 5 Wh
    p.step(0, 3600)
    assert p.energy_wh == pytest.approx(50 + 40 - 10 - 5)
    assert (p.energy_in_wh, p.energy_out_wh) == pytest.approx((40, 15))


def test_battery_clamps_and_records_unmet_load():
    _, p = make(sunlit=False, soc=0.05)
    p.step(0, 3600)
    assert p.energy_wh == 0.0
    assert p.unmet_wh == pytest.approx(5.0)
    assert p.brownout
    _, full = make(sunlit=True, soc=1.0)
    full.step(0, 3600)
    assert full.energy_wh == 100.0


def test_brownout_recovers_and_wakes_waiters():
    env, p = make(sunlit=False, soc=0.21)
    woke = []

    def worker():
        yield env.timeout(1)
        yield from p.wait_until_powered()
        woke.append(env.now)

    def sun():
        p.step(0, 600)  # 10 W for 600 s = 1.67 Wh: below 20 %
        assert p.brownout
        yield env.timeout(10)
        p.sunlit = lambda t: True
        p.step(600, 1200)  # +15 Wh
        assert not p.brownout

    env.process(worker())
    env.process(sun())
    env.run()
    assert woke == [10]


@pytest.mark.parametrize("until_s", [1200.0, 1290.0])  # on a step, and 30 s past one
def test_the_balance_closed_at_the_end_counts_every_second_of_the_run(until_s):
    """A SimPy run until T stops before the events at T: the step ending at T (or the part step before it) is
    integrated only when the balance is closed, as the mission does at its end."""
    env, p = make(sunlit=True, solar_w=90.0, idle=28.0)

    def steps():
        while True:
            t0 = env.now
            yield env.timeout(60.0)
            p.step(t0, env.now)

    env.process(steps())
    env.run(until=until_s)
    assert p.energy_out_wh == pytest.approx(28.0 * (until_s - 60.0 if until_s % 60 == 0 else until_s // 60 * 60) / 3600)
    p.close(env.now)
    assert (p.energy_in_wh, p.energy_out_wh) == pytest.approx((90.0 * until_s / 3600, 28.0 * until_s / 3600))
    p.close(env.now)  # closing twice adds nothing
    assert p.energy_out_wh == pytest.approx(28.0 * until_s / 3600) and p.balanced_to_s == until_s


def test_brownout_time_and_lowest_charge_follow_the_steps():
    """100 Wh at 26 %, 10 W of bus in shadow for 6 steps of 600 s (1.667 Wh each), then sun at 100 W (+15 Wh a
    step): the charge falls by 1.667 Wh a step to 19.33 Wh after step 4, below 20 %, so steps 5 and 6 are spent in
    brown-out (1200 s); the lowest charge is 16.0 Wh (16 %); the first sunlit step, which began in brown-out, lifts it
    to 31 Wh, over 20 %."""
    _, p = make(sunlit=False, soc=0.26)
    for k in range(6):
        p.step(600.0 * k, 600.0 * (k + 1))
        assert p.brownout == (k >= 3)
    assert p.brownout_s == pytest.approx(1200.0)
    assert p.min_soc == pytest.approx(0.16) and p.energy_wh == pytest.approx(16.0)
    p.sunlit = lambda t: True
    p.step(3600.0, 4200.0)
    assert not p.brownout and p.brownout_s == pytest.approx(1800.0)
    assert p.min_soc == pytest.approx(0.16) and p.energy_wh == pytest.approx(31.0)
