"""Electrical power: solar input in sunlight, a battery, and loads for the bus, camera, computer and radio.

Activities report their busy seconds as they finish; the power process integrates energy every step, clamps the
battery to [0, capacity] and raises a brown-out flag below the configured state of charge.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable

import numpy as np
import simpy


class Power:
    """Battery and loads of one satellite. Loads in W; ``busy(load, seconds)`` is called by activities."""

    def __init__(self, env: simpy.Environment, battery_wh: float, initial_soc_fraction: float, solar_w: float,
                 idle_loads_w: dict[str, float], active_loads_w: dict[str, float], brownout_soc_fraction: float,
                 sunlit: Callable[[float], bool]):
        self.env = env
        self.capacity_wh = battery_wh
        self.energy_wh = battery_wh * initial_soc_fraction
        self.solar_w = solar_w
        self.idle_loads_w = idle_loads_w  # always drawn (bus, computer idle)
        self.active_loads_w = active_loads_w  # drawn on top while busy (camera, compute increment, radio)
        self.brownout_soc_fraction = brownout_soc_fraction
        self.sunlit = sunlit
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
        """Integrate energy over [t0_s, t1_s] from sunlight at the midpoint and the busy time reported."""
        dt_s = t1_s - t0_s
        self.balanced_to_s = t1_s
        solar_wh = self.solar_w * dt_s / 3600 if self.sunlit(0.5 * (t0_s + t1_s)) else 0.0
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
        events at T)."""
        if t_s > self.balanced_to_s:
            self.step(self.balanced_to_s, t_s)

    def wait_until_powered(self):
        """SimPy generator: returns at once unless in brown-out, else when the battery recovers."""
        while self.brownout:
            yield self.recovered
