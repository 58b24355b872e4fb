"""Energy balance: solar in, loads out, battery clamped, brown-out below the threshold."""

import pytest
import simpy

import numpy as np

from onboard.sim.power import Power, Sunlight


def make(sunlit=True, soc=0.5, solar_w=100.0, idle=10.0):
    env = simpy.Environment()
    return env, Power(env, battery_wh=100, initial_soc_fraction=soc, solar_w=solar_w, idle_loads_w={"bus": idle},
                      active_loads_w={"radio": 50.0}, brownout_soc_fraction=0.2, sunlight=Sunlight.constant(sunlit))


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
        p.sunlight = Sunlight.constant(True)
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


def test_busy_time_reported_after_the_last_step_is_integrated_when_the_run_ends_on_that_step():
    """A run stopped (Ctrl-C) just after a step, with a frame in the computer: the mission reports its busy time at
    the end, and closing the balance at the step's own time integrated nothing, so the run's compute_busy_s held
    time whose energy was never drawn."""
    _, p = make(sunlit=False, idle=10.0)
    p.step(0.0, 600.0)
    before_wh = p.energy_out_wh
    p.busy("radio", 72.0)  # 72 s at 50 W = 1 Wh
    p.close(600.0)
    assert p.energy_out_wh - before_wh == pytest.approx(1.0) and p.balanced_to_s == 600.0


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
    p.sunlight = Sunlight.constant(True)
    p.step(3600.0, 4200.0)
    assert not p.brownout and p.brownout_s == pytest.approx(1800.0)
    assert p.min_soc == pytest.approx(0.16) and p.energy_wh == pytest.approx(31.0)


def test_sunlight_is_held_from_each_sample_and_integrated_exactly():
    light = Sunlight(np.array([False, True, True, False]), 30.0)  # lit over [30, 90) s, and not after
    assert [light.at(t) for t in (0.0, 29.9, 30.0, 89.9, 90.0, 500.0)] == [False, False, True, True, False, False]
    assert light.seconds(0.0, 500.0) == pytest.approx(60.0)
    assert light.seconds(45.0, 75.0) == pytest.approx(30.0)
    assert light.seconds(10.0, 40.0) == pytest.approx(10.0)
    assert light.seconds(85.0, 95.0) == pytest.approx(5.0)


@pytest.mark.parametrize("step_s", [5.0, 60.0, 600.0, 1170.0])
def test_solar_energy_does_not_depend_on_the_step(step_s):
    """A 95 min orbit with a 35 min eclipse, sampled every 30 s, over 5 h: the panel's energy is its power times
    the sunlit seconds, whatever the step the balance is integrated in (a step's middle once stood for all of it:
    here 600 s steps took in 2.6 % more, 1170 s steps 6.2 % less)."""
    t_s = np.arange(0.0, 5 * 3600.0, 30.0)
    lit = (t_s % 5700.0) < 3600.0
    env = simpy.Environment()
    p = Power(env, battery_wh=1e6, initial_soc_fraction=0.5, solar_w=36.0, idle_loads_w={"bus": 0.0},
              active_loads_w={}, brownout_soc_fraction=0.0, sunlight=Sunlight(lit, 30.0))
    edges = np.append(np.arange(0.0, t_s[-1] + 30.0, step_s), t_s[-1] + 30.0)
    for t0, t1 in zip(edges[:-1], edges[1:]):
        p.step(float(t0), float(t1))
    assert p.energy_in_wh == pytest.approx(36.0 * lit.sum() * 30.0 / 3600.0, rel=1e-12)
