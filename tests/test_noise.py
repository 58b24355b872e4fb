"""Procedural noise (onboard/sensing/noise.py): how much of a fractal texture a pixel resolves, and world coordinates;
the seamless, bit-identical overlaps they give whole scenes are tested with the world (tests/test_world.py)."""

import numpy as np
import pytest

from onboard.sensing.noise import fractal, ladder, sample_lattice, world_axes
from onboard.sensing.projection import FALSE_NORTHING_SOUTH_M, GridFootprint


@pytest.mark.parametrize("gsd_m, expected", [(2.0, 1.0), (20.0, None), (60.0, None)])
def test_unresolved_texture_averages_away(gsd_m, expected):
    """A texture's contrast falls as pixels grow past its wavelengths (crowns vanish in 60 m pixels)."""
    canopy = fractal(1, "canopy", ladder(40.0, 5.0, 0.9))  # tree crowns, 40 m to 5 m, as the world's
    share = canopy.resolved_share(2.0 * gsd_m)
    if expected is not None:
        assert share == pytest.approx(expected)
    else:
        assert 0.0 < share < canopy.resolved_share(gsd_m) <= 1.0


def test_past_the_coarsest_wavelength_contrast_falls_as_the_pixel_grows():
    """Pixels wider than every wavelength average N ~ (pixel / wavelength)^2 independent cells: the standard
    deviation falls as 1 / sqrt(N), linearly in the pixel's width (twice the pixels, half the contrast)."""
    canopy = fractal(1, "canopy", ladder(40.0, 5.0, 0.9))
    assert canopy.resolved_share(160.0) == pytest.approx(canopy.resolved_share(80.0) / 2)
    assert canopy.resolved_share(120.0) == pytest.approx(canopy.resolved_share(80.0) * 80 / 120)


def test_world_axes_are_utm_without_the_southern_false_northing():
    north = GridFootprint(32633, 500_000.0, 5_000_000.0, 10.0, 3, 2)  # UTM 33N: rows go south from y0
    u, v = world_axes(north)
    assert list(u) == [500_005.0, 500_015.0, 500_025.0] and list(v) == [4_999_995.0, 4_999_985.0]
    south = GridFootprint(32733, 500_000.0, 5_000_000.0, 10.0, 3, 2)  # UTM 33S: false northing 10 000 km
    assert list(world_axes(south)[1]) == [v[0] - FALSE_NORTHING_SOUTH_M, v[1] - FALSE_NORTHING_SOUTH_M]
    with pytest.raises(ValueError, match="UPS"):
        world_axes(GridFootprint(32661, 2_000_000.0, 2_000_000.0, 100.0, 4, 4))


def test_lattice_samples_are_catmull_rom():
    """At a node the spline is the node's value; halfway between nodes b and c it is (-a + 9b + 9c - d) / 16
    (Catmull & Rom 1974, the cubic Hermite spline with tangents (c - a) / 2); off the lattice is refused."""
    nodes = np.random.default_rng(4).standard_normal((6, 7)).astype(np.float32)
    at_nodes = sample_lattice(nodes, np.array([1.0, 2.0, 3.0]), np.array([1.0, 4.0]))
    np.testing.assert_allclose(at_nodes, nodes[np.ix_([1, 2, 3], [1, 4])], atol=1e-6)
    halfway = sample_lattice(nodes, np.array([2.0]), np.array([2.5]))[0, 0]
    a, b, c, d = nodes[2, 1:5]
    assert halfway == pytest.approx((-a + 9 * b + 9 * c - d) / 16, abs=1e-6)
    with pytest.raises(ValueError, match="cols"):
        sample_lattice(nodes, np.array([2.0]), np.array([5.5]))
