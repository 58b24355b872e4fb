"""The synthetic world's clear atmosphere (onboard/sensing/atmosphere.py): Rayleigh optical depth against an outside formula;
the haze it adds to whole scenes is tested with the world (tests/test_world.py)."""

import numpy as np
import pytest

from onboard.sensing.atmosphere import rayleigh_optical_depth


def test_rayleigh_optical_depth_matches_bodhaine():
    # Bodhaine et al. 1999 (J. Atmos. Oceanic Technol. 16), eq. 30: sea level, 360 ppm CO2
    um = np.array([0.45, 0.49, 0.55, 0.665, 0.842])
    bodhaine = 0.0021520 * (1.0455996 - 341.29061 * um**-2 - 0.90230850 * um**2) / (
        1 + 0.0027059889 * um**-2 - 85.968563 * um**2)
    assert rayleigh_optical_depth(um) == pytest.approx(bodhaine, rel=0.01)
