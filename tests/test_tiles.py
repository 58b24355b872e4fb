"""The decision-tile grid (rundir.tiles): every pixel of a frame lies in exactly one tile, tiles go row-major from
the upper-left corner, full tiles are tile_px square and only the bottom and right edges are smaller."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rundir.tiles import TileBox, cloud_fractions, tile_boxes, tile_sums, withheld

sizes = st.integers(min_value=0, max_value=200)
tiles = st.integers(min_value=1, max_value=140)


@settings(deadline=None)  # a shared CI machine: the time of one example is not what is tested
@given(sizes, sizes, tiles)
def test_every_pixel_lies_in_exactly_one_tile(height_px, width_px, tile_px):
    count = np.zeros((height_px, width_px), np.int64)
    for box in tile_boxes(height_px, width_px, tile_px):
        count[box.window] += 1
        assert box.pixels == count[box.window].size  # the window lies inside the frame, not clipped by numpy
    assert np.all(count == 1)


@settings(deadline=None)  # a shared CI machine: the time of one example is not what is tested
@given(sizes, sizes, tiles)
def test_tiles_are_row_major_and_only_edge_tiles_are_smaller(height_px, width_px, tile_px):
    boxes = tile_boxes(height_px, width_px, tile_px)
    assert [(b.row0, b.col0) for b in boxes] == sorted((b.row0, b.col0) for b in boxes)
    assert len(boxes) == -(-height_px // tile_px) * -(-width_px // tile_px)
    for b in boxes:
        assert b.row0 % tile_px == 0 and b.col0 % tile_px == 0
        assert b.height == tile_px or b.row0 + b.height == height_px
        assert b.width == tile_px or b.col0 + b.width == width_px
        assert 1 <= b.height <= tile_px and 1 <= b.width <= tile_px


def test_a_frame_of_250_px_in_100_px_tiles():
    assert tile_boxes(250, 100, 100) == [TileBox(0, 0, 100, 100), TileBox(100, 0, 100, 100), TileBox(200, 0, 50, 100)]
    row0, col0, height, width = tile_boxes(250, 100, 100)[2]  # a box unpacks as (row0, col0, height, width)
    assert (row0, col0, height, width) == (200, 0, 50, 100)


@pytest.mark.parametrize("height_px, width_px, tile_px", [(10, 10, 0), (10, 10, -4), (-1, 10, 4)])
def test_a_grid_without_tiles_is_refused(height_px, width_px, tile_px):
    with pytest.raises(ValueError, match="tile_px"):
        tile_boxes(height_px, width_px, tile_px)


@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 90), width=st.integers(1, 90), tile_px=st.integers(1, 40), seed=st.integers(0, 99))
def test_tile_sums_and_cloud_fractions_match_the_tile_grid(height, width, tile_px, seed):
    values = np.random.default_rng(seed).integers(0, 2, (height, width)).astype(bool)
    boxes = tile_boxes(height, width, tile_px)
    assert tile_sums(values, tile_px).tolist() == [int(values[box.window].sum()) for box in boxes]
    assert cloud_fractions(values, tile_px).tolist() == [float(values[box.window].mean()) for box in boxes]
    data = np.random.default_rng(seed + 1).random((height, width)) < 0.7  # the rest: fill, no world there
    expected = [float(values[box.window][data[box.window]].mean()) if data[box.window].any() else 0.0
                for box in boxes]
    np.testing.assert_allclose(cloud_fractions(values, tile_px, data), expected, rtol=1e-12)


def test_a_tile_mostly_fill_is_judged_on_its_data():
    """90 % fill and 10 % cloud: all of its ground is cloud, so it is withheld (over all its pixels it was 0.1)."""
    cloudy = np.zeros((10, 10), bool)
    cloudy[0] = True
    data = cloudy.copy()
    assert cloud_fractions(cloudy, 10).tolist() == [0.1] and cloud_fractions(cloudy, 10, data).tolist() == [1.0]
    assert withheld(cloud_fractions(cloudy, 10, data), 0.9).tolist() == [True]


def test_a_tile_at_the_limit_is_kept_and_one_above_it_withheld():
    fractions = cloud_fractions(np.array([[True, False, True, True]]), 2)  # tiles of 2 px: 1/2 and 2/2 cloudy
    assert fractions.tolist() == [0.5, 1.0]
    assert withheld(fractions, 0.5).tolist() == [False, True]
    assert not withheld(0.3, 0.3) and withheld(0.31, 0.3)
