"""Sliding-window inference: the cores tile the frame exactly once, and a local model stitched from windows equals
the same model run on the whole reflect-padded frame."""

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onboard.pipeline.tiling import (DEFAULT_OVERLAP_PX, Box, Window, _reflected, default_overlap_px, depth_to_space,
                                     overlap_problem, predict_tiled, space_to_depth, window_map_problem, windows)


@st.composite
def tilings(draw, max_frame_px=48, max_window_px=24):
    """(height_px, width_px, window_px, overlap_px) with frames both smaller and larger than the window."""
    window_px = draw(st.integers(1, max_window_px))
    overlap_px = draw(st.integers(0, window_px - 1))
    return draw(st.integers(1, max_frame_px)), draw(st.integers(1, max_frame_px)), window_px, overlap_px


def box_filter(image: np.ndarray, radius_px: int) -> np.ndarray:
    """(h, w, C) float32 -> (h, w, C): mean over a (2r+1)^2 square (OpenCV reflects at the array's own edges)."""
    k = 2 * radius_px + 1
    return cv2.blur(image, (k, k)).reshape(image.shape)


def upsample(image: np.ndarray, scale: int) -> np.ndarray:
    """(h, w, C) -> (h*s, w*s, C) by repeating each pixel in an s x s block."""
    return np.kron(image, np.ones((scale, scale, 1), image.dtype))


def integer_image(rng: np.random.Generator, height_px: int, width_px: int, channels: int) -> np.ndarray:
    """float32 image of whole numbers in [0, 255]: box-filter sums are then exact in float32, in any order."""
    return rng.integers(0, 256, (height_px, width_px, channels)).astype(np.float32)


def test_windows_worked_example():
    # 10 px, window 6, overlap 2: stride 4, crop 1 px each inner side; the last window is pulled back to
    # end 1 px past the frame, so its core keeps 3 px of context above and 1 below.
    rows = [(w.input.row0, w.core.row0, w.core.row1) for w in windows(10, 1, 6, 2)]
    assert rows == [(-1, 0, 4), (3, 4, 8), (5, 8, 10)]


def test_frame_smaller_than_window_is_centred():
    assert windows(3, 5, 8, 2) == [Window(input=Box(-3, -2, 8, 8), core=Box(0, 0, 3, 5))]


@settings(max_examples=300, deadline=None)
@given(tilings(max_frame_px=80, max_window_px=40), st.integers(1, 3))
def test_cores_cover_every_output_pixel_exactly_once(tiling, scale):
    height_px, width_px, window_px, overlap_px = tiling
    tiles = windows(height_px, width_px, window_px, overlap_px)
    stride_px = window_px - overlap_px
    assert len(tiles) == math.ceil(height_px / stride_px) * math.ceil(width_px / stride_px)
    count = np.zeros((height_px * scale, width_px * scale), int)
    for w in tiles:
        assert (w.input.height, w.input.width) == (window_px, window_px)
        # Kept pixels sit at least overlap//2 px (leading side) and overlap - overlap//2 px (trailing side)
        # inside their window.
        assert w.core.row0 - w.input.row0 >= overlap_px // 2 and w.core.col0 - w.input.col0 >= overlap_px // 2
        assert w.input.row1 - w.core.row1 >= overlap_px - overlap_px // 2
        assert w.input.col1 - w.core.col1 >= overlap_px - overlap_px // 2
        rows, cols = w.core_in_prediction(scale)
        assert 0 <= rows.start < rows.stop <= window_px * scale and 0 <= cols.start < cols.stop <= window_px * scale
        count[w.core_in_output(scale)] += 1
    assert (count == 1).all()


@settings(max_examples=150, deadline=None)
@given(tilings(), st.integers(1, 3), st.integers(1, 3))
def test_each_output_pixel_comes_from_its_own_place(tiling, scale, channels):
    # The "model" returns its window upsampled; pixel values are their frame coordinates, so any
    # misplaced or shifted core shows.
    height_px, width_px, window_px, overlap_px = tiling
    rows, cols = np.mgrid[:height_px, :width_px]
    image = np.dstack([rows, cols, rows * width_px + cols][:channels]).astype(np.int32)
    mosaic = predict_tiled(image, lambda window: upsample(window, scale), window_px, overlap_px, scale)
    np.testing.assert_array_equal(mosaic, upsample(image, scale))


@settings(max_examples=150, deadline=None)
@given(tilings(), st.integers(1, 4), st.data())
def test_local_model_stitches_to_whole_frame_result(tiling, channels, data):
    """With a model whose receptive-field radius r is at most overlap//2, every output pixel equals the model
    applied to the whole frame after reflection padding: an exact equality, at the borders too, because
    the windows are cut from one reflect-padded frame and each kept pixel has its whole field in its window."""
    height_px, width_px, window_px, overlap_px = tiling
    if overlap_px < 2:
        overlap_px = min(2, window_px - 1)
    radius_px = data.draw(st.integers(0, overlap_px // 2), label="radius_px")
    image = integer_image(np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))), height_px, width_px, channels)
    mosaic = predict_tiled(image, lambda window: box_filter(window, radius_px), window_px, overlap_px)
    padded = np.pad(image, ((radius_px, radius_px), (radius_px, radius_px), (0, 0)), mode="reflect")
    whole = box_filter(padded, radius_px)[radius_px:radius_px + height_px, radius_px:radius_px + width_px]
    np.testing.assert_array_equal(mosaic, whole)


@settings(max_examples=100, deadline=None)
@given(tilings(max_frame_px=32, max_window_px=16), st.integers(2, 3), st.data())
def test_super_resolution_model_stitches_to_whole_frame_result(tiling, scale, data):
    """Same, for an s-times upsampling model (nearest-neighbour upsampling then a box filter of radius r output
    px, r <= s * (overlap//2)): stitched == model on the whole reflect-padded frame, exactly."""
    height_px, width_px, window_px, overlap_px = tiling
    if overlap_px < 2:
        overlap_px = min(2, window_px - 1)
    radius_px = data.draw(st.integers(0, scale * (overlap_px // 2)), label="radius_px")
    image = integer_image(np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))), height_px, width_px, 2)

    def model(window):
        return box_filter(upsample(window, scale), radius_px)

    mosaic = predict_tiled(image, model, window_px, overlap_px, scale)
    pad_px = math.ceil(radius_px / scale)
    padded = np.pad(image, ((pad_px, pad_px), (pad_px, pad_px), (0, 0)), mode="reflect")
    crop_px = pad_px * scale
    whole = model(padded)[crop_px:crop_px + height_px * scale, crop_px:crop_px + width_px * scale]
    np.testing.assert_array_equal(mosaic, whole)


def test_without_overlap_a_local_model_shows_seams():
    # The counter-example that motivates cropping: with no overlap, a box filter reflects at each window's
    # edge instead of seeing the neighbouring window's pixels, and the mosaic differs from the whole-frame result.
    image = integer_image(np.random.default_rng(1), 32, 32, 1)
    mosaic = predict_tiled(image, lambda window: box_filter(window, 2), 8, 0)
    whole = box_filter(np.pad(image, ((2, 2), (2, 2), (0, 0)), mode="reflect"), 2)[2:-2, 2:-2]
    assert not np.array_equal(mosaic, whole)
    np.testing.assert_array_equal(predict_tiled(image, lambda window: box_filter(window, 2), 8, 4), whole)


@pytest.mark.parametrize("height_px, width_px, window_px, overlap_px", [
    (0, 5, 4, 1), (5, 5, 0, 0), (5, 5, 4, 4), (5, 5, 4, -1)])
def test_windows_rejects_impossible_tilings(height_px, width_px, window_px, overlap_px):
    with pytest.raises(ValueError):
        windows(height_px, width_px, window_px, overlap_px)


def test_predict_tiled_rejects_bad_image_and_bad_prediction():
    image = np.zeros((10, 10, 1), np.float32)
    with pytest.raises(ValueError, match=r"\(H, W, C\)"):
        predict_tiled(image[..., 0], lambda w: w, 4, 2)
    with pytest.raises(ValueError, match=r"expected \(8, 8, K\)"):
        predict_tiled(image, lambda w: w, 4, 2, scale=2)


@pytest.mark.parametrize("shape_in, shape_out, found", [
    ((1, 64, 64, 4), (1, 64, 64, 3), None),
    ((1, 64, 64, 4), (1, 64, 64), "[1, 64, 64, 4] in, [1, 64, 64] out: the output [1, 64, 64] has no channel axis; "
                                  "expected (1, 64, 64, K) or NCHW (1, K, 64, 64), K = 1 for one cloud channel (keep "
                                  "that axis when exporting)"),
    ((1, 64, 128, 4), (1, 64, 128, 1), "[1, 64, 128, 4] in, [1, 64, 128, 1] out: a window of 64 x 128 px, not square "
                                       "(the stage slides square windows)"),
    ((1, 64, 64, 4), (1, 2), "[1, 64, 64, 4] in, [1, 2] out"),
    ((1, 64, 64, 4), (1, 32, 32, 1), "[1, 64, 64, 4] in, [1, 32, 32, 1] out"),
    ((2, 64, 64, 4), (2, 64, 64, 1), "[2, 64, 64, 4] in, [2, 64, 64, 1] out: the input is no single image window "
                                     "(1, H, W, C)")])
def test_what_keeps_a_model_from_the_sliding_window_is_named(shape_in, shape_out, found):
    """The one check of the cloud_filter stage and of card init --task segmentation."""
    assert window_map_problem(shape_in, shape_out) == found


@pytest.mark.parametrize("window_px, default_px, refused_from_px", [(256, 32, 128), (128, 32, 64), (64, 16, 32),
                                                                     (48, 12, 24), (65, 16, 32)])
def test_an_overlap_is_under_half_the_window_and_defaults_to_what_fits(window_px, default_px, refused_from_px):
    """The one rule of the cloud_filter stage and of card score: the shipped 256 px models keep the stage's 32 px,
    a small window gets a quarter of itself, never an overlap it would refuse."""
    assert default_overlap_px(window_px) == default_px and default_px <= DEFAULT_OVERLAP_PX
    assert overlap_problem(default_px, window_px, "m.tflite") is None
    assert overlap_problem(refused_from_px - 1, window_px, "m.tflite") is None
    assert overlap_problem(refused_from_px, window_px, "m.tflite") == (
        f"less than half the {window_px} px window of m.tflite (e.g. {default_px})")


def test_space_to_depth_follows_tensorflow_order():
    planes = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)  # (H*2, W*2, C) with H=1, W=2
    folded = space_to_depth(planes, 2)
    assert folded.shape == (1, 2, 12)
    # channel = (row phase * 2 + column phase) * C + c
    assert folded[0, 1, (1 * 2 + 0) * 3 + 2] == planes[1, 2, 2]
    np.testing.assert_array_equal(depth_to_space(folded, 2), planes)


@settings(max_examples=80, deadline=None)
@given(size=st.integers(1, 9), start=st.integers(-30, 9), length=st.integers(1, 30))
def test_positions_past_the_edge_are_reflected_as_np_pad_reflects(size, start, length):
    """Windows past the frame read it reflected, as np.pad's "reflect" extends it (again and again when a window is
    wider than the frame), without a padded copy of the frame."""
    stop = start + length
    pad_before, pad_after = max(0, -start), max(0, stop - size)
    padded = np.pad(np.arange(size), (pad_before, pad_after), mode="reflect")
    assert np.arange(size)[_reflected(start, stop, size)].tolist() == padded[start + pad_before:stop + pad_before].tolist()


@settings(max_examples=30, deadline=None)
@given(height=st.integers(1, 40), width=st.integers(1, 40), fold=st.integers(2, 3), window_px=st.integers(4, 16),
       overlap_frac=st.floats(0, 0.5), seed=st.integers(0, 2**16))
def test_windows_folded_one_at_a_time_are_those_of_the_folded_image(height, width, fold, window_px, overlap_frac,
                                                                   seed):
    """The super-resolution stage's planes go to its model folded by space-to-depth: each window folded on its own
    (``fold``) gives the mosaic of the whole image folded first, bit for bit, without that copy of the image."""
    image = np.random.default_rng(seed).random((height * fold, width * fold, 3), dtype=np.float32)
    overlap_px = 2 * int(overlap_frac * window_px / 2)

    seen = []

    def predict(window: np.ndarray) -> np.ndarray:  # a non-local function of the window, its values kept
        seen.append((window.copy(), window.strides))
        return np.repeat(np.repeat(window - window.mean(), 2, 0), 2, 1)

    folded = space_to_depth(image, fold)
    expected = predict_tiled(folded, predict, window_px, overlap_px, 2)
    np.testing.assert_array_equal(predict_tiled(image, predict, window_px, overlap_px, 2, fold=fold), expected)
    # each window the view into the whole folded frame padded that the stage's windows were, values and strides
    tiles = windows(height, width, window_px, overlap_px)
    top, left = -tiles[0].input.row0, -tiles[0].input.col0
    padded = np.pad(folded, ((top, tiles[-1].input.row1 - height), (left, tiles[-1].input.col1 - width), (0, 0)),
                    mode="reflect")
    for (window, strides), tile in zip(seen, tiles + tiles):  # unfolded first, then folded window by window
        view = padded[tile.input.row0 + top:tile.input.row1 + top, tile.input.col0 + left:tile.input.col1 + left]
        assert np.array_equal(window, view) and strides == view.strides


def test_an_image_that_does_not_fold_whole_is_refused():
    # 65 rows at fold 2 would lose its last row silently; a ragged width failed deep inside a reshape
    for shape in ((65, 64, 3), (64, 63, 3)):
        with pytest.raises(ValueError, match=r"multiples of fold 2, got shape \(" + str(shape[0])):
            predict_tiled(np.zeros(shape, np.float32), lambda w: w, 8, 2, fold=2)


class ReadRows:
    """An image made as it is read (tiling.Rows): a copy of the rows asked for, each read recorded."""

    def __init__(self, image: np.ndarray):
        self.image, self.shape, self.ndim, self.reads = image, image.shape, image.ndim, []

    def __getitem__(self, rows):
        index = np.arange(self.shape[0])[rows]
        self.reads.append((int(index.min()), int(index.max())))
        return np.ascontiguousarray(self.image[rows])


@settings(max_examples=40, deadline=None)
@given(tilings(max_frame_px=40, max_window_px=16), st.integers(1, 3), st.integers(0, 2**16))
def test_an_image_made_as_it_is_read_gives_the_mosaic_of_the_array_reading_rows_in_order(tiling, fold, seed):
    """The super-resolution stage hands the windows planes made as they are read (fusion.BandPlanes), keeping only
    the last rows it made: the mosaic is the array's, bit for bit, and each row of windows reads from no earlier a
    row than the one before, so rows once passed are never read again."""
    height_px, width_px, window_px, overlap_px = tiling
    image = np.random.default_rng(seed).random((height_px * fold, width_px * fold, 2), dtype=np.float32)

    def predict(window: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(window - window.mean(), 2, 0), 2, 1)

    rows = ReadRows(image)
    np.testing.assert_array_equal(predict_tiled(rows, predict, window_px, overlap_px, 2, fold=fold),
                                  predict_tiled(image, predict, window_px, overlap_px, 2, fold=fold))
    starts = [first for first, _ in rows.reads]
    assert starts == sorted(starts) and len(rows.reads) == len({t.input.row0 for t in windows(height_px, width_px,
                                                                                             window_px, overlap_px)})


@settings(max_examples=80, deadline=None)
@given(tilings(max_frame_px=40, max_window_px=16), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**16))
def test_rows_of_windows_emitted_as_they_are_done_are_the_mosaic(tiling, scale, fold, seed):
    """With ``emit`` the mosaic is never held whole (the super-resolution stage's fusion of a 4096 x 3072 band was
    0.2 GB per model): each row of windows' cores goes out once its last window is predicted, top to bottom, rows
    that tile the mosaic and hold its values."""
    h, w, window_px, overlap_px = tiling
    image = np.random.default_rng(seed).random((h * fold, w * fold, 2), dtype=np.float32)

    def predict(x: np.ndarray) -> np.ndarray:  # each output pixel from its own input pixel and the window's mean
        up = np.repeat(np.repeat(x[..., :1] + x.mean(), scale, 0), scale, 1)
        return np.concatenate([up, -up], axis=-1).astype(np.float16)

    whole = predict_tiled(image, predict, window_px, overlap_px, scale, fold)
    emitted = []
    assert predict_tiled(image, predict, window_px, overlap_px, scale, fold,
                         emit=lambda row0, rows: emitted.append((row0, rows.copy()))) is None
    starts = [row0 for row0, _ in emitted]
    assert starts == sorted(set(starts)) and starts[0] == 0
    assert [row0 + len(rows) for row0, rows in emitted[:-1]] == starts[1:]
    assert np.array_equal(np.concatenate([rows for _, rows in emitted]), whole)
    assert emitted[0][1].dtype == whole.dtype
    assert len(emitted) == len({win.core.row0 for win in windows(h, w, window_px, overlap_px)})
