"""Electrical power: solar input in sunlight, a battery, and loads for the bus, camera, computer and radio.

Activities report their busy seconds as they finish; the power process integrates energy every step, clamps the
battery to [0, capacity] and raises a brown-out flag below the configured state of charge. The solar energy of a
step is the panel's power times the seconds of it in sunlight (:class:`Sunlight`), whatever the step.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import simpy


class Sunlight:
    """A satellite's sunlight, sampled every ``step_s`` from t = 0: ``lit`` (T,) bool, sample i at ``i * step_s``,
    held until the next one (the last held to the end)."""

    def __init__(self, lit: np.ndarray, step_s: float):
        self.lit = np.asarray(lit, bool)
        self.step_s = float(step_s)
        self._lit_s = np.concatenate([[0.0], np.cumsum(self.lit) * self.step_s])  # sunlit seconds before sample i

    @classmethod
    def constant(cls, lit: bool) -> "Sunlight":
        """Always lit, or never."""
        return cls(np.array([lit]), 1.0)

    def _index(self, t_s: float) -> int:
        return min(int(t_s // self.step_s), len(self.lit) - 1)

    def at(self, t_s: float) -> bool:
        """Whether the satellite is in sunlight at ``t_s``, s."""
        return bool(self.lit[self._index(t_s)])

    def seconds(self, t0_s: float, t1_s: float) -> float:
        """Seconds in sunlight within [t0_s, t1_s]."""
        return self._before(t1_s) - self._before(t0_s)

    def _before(self, t_s: float) -> float:
        i = self._index(t_s)
        return float(self._lit_s[i] + self.lit[i] * (t_s - i * self.step_s))


class Power:
    """Battery and loads of one satellite. Loads in W; ``busy(load, seconds)`` is called by activities."""

    def __init__(self, env: simpy.Environment, battery_wh: float, initial_soc_fraction: float, solar_w: float,
                 idle_loads_w: dict[str, float], active_loads_w: dict[str, float], brownout_soc_fraction: float,
                 sunlight: Sunlight):
        self.env = env
        self.capacity_wh = battery_wh
        self.energy_wh = battery_wh * initial_soc_fraction
        self.solar_w = solar_w
        self.idle_loads_w = idle_loads_w  # always drawn (bus, computer idle)
        self.active_loads_w = active_loads_w  # drawn on top while busy (camera, compute increment, radio)
        self.brownout_soc_fraction = brownout_soc_fraction
        self.sunlight = sunlight
        self._busy_s: dict[str, float] = defaultdict(float)
        self.brownout = False
        self.brownout_s = 0.0
        self.min_soc = self.soc
        self.energy_in_wh = 0.0
        self.energy_out_wh = 0.0
        self.unmet_wh = 0.0  # load the empty battery could not supply
        self.balanced_to_s = 0.0  # the end of the last step integrated
        self.recovered = env.event()

    @property
    def soc(self) -> float:
        return self.energy_wh / self.capacity_wh

    def busy(self, load: str, seconds: float) -> None:
        self._busy_s[load] += seconds

    def step(self, t0_s: float, t1_s: float) -> None:
        """Integrate energy over [t0_s, t1_s] from the seconds of it in sunlight and the busy time reported."""
        dt_s = t1_s - t0_s
        self.balanced_to_s = t1_s
        solar_wh = self.solar_w * self.sunlight.seconds(t0_s, t1_s) / 3600
        load_wh = sum(self.idle_loads_w.values()) * dt_s / 3600
        load_wh += sum(self.active_loads_w[k] * s for k, s in self._busy_s.items()) / 3600
        self._busy_s.clear()
        self.energy_in_wh += solar_wh
        self.energy_out_wh += load_wh
        energy = self.energy_wh + solar_wh - load_wh
        self.unmet_wh += max(0.0, -energy)
        self.energy_wh = float(np.clip(energy, 0.0, self.capacity_wh))
        self.min_soc = min(self.min_soc, self.soc)
        if self.brownout:
            self.brownout_s += dt_s
        was = self.brownout
        self.brownout = self.soc < self.brownout_soc_fraction
        if was and not self.brownout:
            event, self.recovered = self.recovered, self.env.event()
            event.succeed()

    def close(self, t_s: float) -> None:
        """Integrate the part step from the last one integrated to ``t_s``, the end of the run: a run ends at or
        between steps, and the step that ends with it has not been integrated (a SimPy run until T stops before the
        events at T). Busy time reported since the last step (a frame still in the computer) is integrated even
        when the run ends on a step."""
        if t_s > self.balanced_to_s or self._busy_s:
            self.step(self.balanced_to_s, t_s)

    def wait_until_powered(self):
        """SimPy generator: returns at once unless in brown-out, else when the battery recovers."""
        while self.brownout:
            yield self.recovered
