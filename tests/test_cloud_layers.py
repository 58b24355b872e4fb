"""The synthetic world's clouds (onboard/sensing/cloud_layers.py): the Eddington cloud reflectance against the asymptotic
theory; cover, shadows and brightness of whole scenes are tested with the world (tests/test_world.py)."""

import numpy as np
import pytest

from onboard.sensing.cloud_layers import cloud_reflectance


def test_two_stream_cloud_reflectance_approaches_the_asymptotic_theory():
    # Thick conservative clouds: T = 1 / (0.75 (1 - g) tau + 1.07) (King 1987 / Kokhanovsky 2004, eq. 3.13); the
    # Eddington slab's 1 / (0.75 x + 1) differs from it by 0.07 / (1 + 0.75 x) relative, under 1 % from x = 15
    for x in (15.0, 30.0, 60.0):
        assert 1 - cloud_reflectance(np.float32(x)) == pytest.approx(1 / (0.75 * x + 1.07), rel=0.01)
    assert cloud_reflectance(np.float32(0.0)) == 0.0
