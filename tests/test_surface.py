"""The synthetic world's land (onboard/sensing/surface.py): relief shading; the reflectance of each land-cover class and
the texture of vegetation are tested on whole scenes with the world (tests/test_world.py)."""

import math

import numpy as np

from onboard.sensing.surface import Surface


def test_relief_shading_faces_the_sun():
    """Slopes facing the sun are lit more than those facing away (Lambert's law): swapping the sun's azimuth by
    180 degrees turns the illumination pattern over, and over many slopes it averages to flat ground's."""
    surface = Surface(5)
    u = np.arange(256) * 30.0 + 600_000.0
    v = np.arange(256) * 30.0 + 4_000_000.0

    def field(f, du_m=0.0, dv_m=0.0):
        return f.evaluate(33, u + du_m, v + dv_m, 0.0, 60.0)

    elevation_m = np.full((256, 256), 2000.0, np.float32)  # mountains: relief ~135 m
    relief_m, east = surface.relief_shading(field, elevation_m, 30.0, math.radians(35.0), math.radians(90.0))
    _, west = surface.relief_shading(field, elevation_m, 30.0, math.radians(35.0), math.radians(270.0))
    assert 20.0 < relief_m.std() < 300.0  # 135 m over the whole field; a 7.7 km window sees part of it
    assert np.corrcoef(east.ravel(), west.ravel())[0, 1] < -0.5
    assert abs(east.mean() - 1.0) < 0.03 and east.min() >= 0.25 - 1e-6  # sky light reaches every slope
