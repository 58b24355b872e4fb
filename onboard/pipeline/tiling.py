"""Sliding-window inference for frames larger than a model's input: overlapping windows, cropped edges, no seams.

Pure and model-free. Along each axis, windows of ``window_px`` advance by ``stride = window_px - overlap_px``.
Each window keeps only its *core*: its prediction less ``overlap_px // 2`` px on the leading edge (top, left)
and ``overlap_px - overlap_px // 2`` on the trailing edge (bottom, right), so that the cores tile the frame
exactly once and no kept pixel lies within ``overlap_px // 2`` of its window's edge, where a convolutional
model sees zero padding instead of the scene. The last window on each axis is shifted back toward the
frame so that it sees as much real scene as it can; frames smaller than a window are centred in it. Window
parts outside the frame are filled by reflection (``np.pad`` mode ``"reflect"``, OpenCV's BORDER_REFLECT_101).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Box:
    """A half-open pixel box ``[row0, row0 + height) x [col0, col0 + width)`` in frame coordinates."""

    row0: int
    col0: int
    height: int
    width: int

    @property
    def row1(self) -> int:
        return self.row0 + self.height

    @property
    def col1(self) -> int:
        return self.col0 + self.width


@dataclass(frozen=True)
class Window:
    """One inference window.

    ``input`` is the ``window_px`` square fed to the model; it may extend past the frame borders (those
    pixels are reflections). ``core`` is the part of the prediction that is kept; it lies inside the frame,
    and the cores of all windows of a frame tile it exactly once.
    """

    input: Box
    core: Box

    def core_in_prediction(self, scale: int = 1) -> tuple[slice, slice]:
        """Row and column slices that cut the core out of this window's prediction, ``scale`` output px per input px."""
        top = self.core.row0 - self.input.row0
        left = self.core.col0 - self.input.col0
        return (slice(top * scale, (top + self.core.height) * scale),
                slice(left * scale, (left + self.core.width) * scale))

    def core_in_output(self, scale: int = 1) -> tuple[slice, slice]:
        """Row and column slices where the core goes in the stitched output, ``scale`` output px per input px."""
        return (slice(self.core.row0 * scale, self.core.row1 * scale),
                slice(self.core.col0 * scale, self.core.col1 * scale))


def _spans(length_px: int, window_px: int, overlap_px: int) -> list[tuple[int, int, int]]:
    """Along one axis: ``(input_start, core_start, core_end)`` per window, cores tiling ``[0, length_px)``."""
    lead = overlap_px // 2
    trail = overlap_px - lead
    stride = window_px - overlap_px
    spans = []
    for core_start in range(0, length_px, stride):
        core_end = min(core_start + stride, length_px)
        input_start = core_start - lead
        if core_end == length_px:
            # NOTE: every start in [length_px + trail - window_px, core_start - lead] keeps both margins;
            # take the one nearest to centring the frame in the window (the first bound, once the frame is
            # at least a window long), so the last core sees real scene rather than reflections.
            input_start = max(length_px + trail - window_px, min(input_start, (length_px - window_px) // 2))
        spans.append((input_start, core_start, core_end))
    return spans


def windows(height_px: int, width_px: int, window_px: int, overlap_px: int) -> list[Window]:
    """The windows covering a ``height_px`` x ``width_px`` frame, in row-major order.

    ``window_px`` is the model's square input size and ``0 <= overlap_px < window_px`` the overlap of
    neighbouring windows, both in input pixels. Raises ValueError for sizes that admit no tiling.
    """
    if height_px < 1 or width_px < 1:
        raise ValueError(f"frame must be at least 1x1 px, got {height_px}x{width_px}")
    if window_px < 1:
        raise ValueError(f"window_px must be at least 1, got {window_px}")
    if not 0 <= overlap_px < window_px:
        raise ValueError(f"overlap_px must be in [0, window_px={window_px}), got {overlap_px}")
    rows = _spans(height_px, window_px, overlap_px)
    cols = _spans(width_px, window_px, overlap_px)
    return [Window(input=Box(r_in, c_in, window_px, window_px),
                   core=Box(r0, c0, r1 - r0, c1 - c0))
            for r_in, r0, r1 in rows for c_in, c0, c1 in cols]


DEFAULT_OVERLAP_PX = 32  # the cloud_filter stage's overlap_px, where a model's window is large enough for it


def stage_overlap_px(overlap_px: int | None, window_px: int) -> int:
    """A stage's sliding-window overlap: ``overlap_px`` as the scenario sets it, or for null
    :func:`default_overlap_px` of its model's ``window_px``."""
    return default_overlap_px(window_px) if overlap_px is None else overlap_px


def overlap_problem(overlap_px: int | None, window_px: int, model: str) -> str | None:
    """What the sliding-window overlap of ``model`` (its name or file, for the text) must be, as ``less than half
    the 64 px window of MODEL (e.g. 16)``, when ``overlap_px`` is not that; None when it is. Under half the window,
    each window advances by more than half its width, so no pixel is computed in more than two windows along each
    axis. The cloud_filter stage (at ``overlap_px``) and ``card score`` (at ``--overlap-px``) both ask it. None (the
    stage's null, :func:`stage_overlap_px`) is never a problem."""
    if overlap_px is None or overlap_px < window_px // 2:
        return None
    return f"less than half the {window_px} px window of {model} (e.g. {default_overlap_px(window_px)})"


def default_overlap_px(window_px: int) -> int:
    """The overlap for square windows of ``window_px``: DEFAULT_OVERLAP_PX, or a quarter of a window under
    4 x DEFAULT_OVERLAP_PX px (16 px for 64 px: the same 3/4 of each window advanced as 32 px of 128 px)."""
    return min(DEFAULT_OVERLAP_PX, window_px // 4)


WINDOW_MAP = ("one square window in, a per-pixel map of the input's size out (NHWC: (1, H, H, C) in, (1, H, H, K) "
              "out; an ONNX model's may be NCHW: (1, C, H, H) in, (1, K, H, H) out)")
"""What a segmentation model must be for the cloud_filter stage: :func:`predict_tiled` slides square windows over a
frame and stitches the maps they give."""


def window_map_problem(input_shape: tuple[int, ...], output_shape: tuple[int, ...]) -> str | None:
    """What keeps a model with these shapes (NHWC, an NCHW model's as orbitedge reads it) from the sliding window
    (expected: WINDOW_MAP), as ``[1, 64, 64, 4] in, [1, 2] out``, followed by what is wrong where the shapes tell:
    an output with no channel axis, as PyTorch exports a one-channel map squeezed to (1, H, W), or a window that is
    not square. None when nothing does. The cloud_filter stage and ``card init --task segmentation`` both ask it."""
    found = f"{list(input_shape)} in, {list(output_shape)} out"
    if len(input_shape) != 4 or input_shape[0] != 1:
        return f"{found}: the input is no single image window (1, H, W, C)"
    _, height, width, _ = input_shape
    if tuple(output_shape) == (1, height, width):
        return (f"{found}: the output [1, {height}, {width}] has no channel axis; expected (1, {height}, {width}, K) "
                f"or NCHW (1, K, {height}, {width}), K = 1 for one cloud channel (keep that axis when exporting)")
    if len(output_shape) != 4 or tuple(output_shape[:3]) != (1, height, width):
        return found
    if height != width:
        return f"{found}: a window of {height} x {width} px, not square (the stage slides square windows)"
    return None


def space_to_depth(planes: np.ndarray, scale: int) -> np.ndarray:
    """(..., H*s, W*s, C) to (..., H, W, s*s*C) in TensorFlow's ``space_to_depth`` channel order."""
    *lead, hs, ws, c = planes.shape
    h, w = hs // scale, ws // scale
    folded = planes.reshape(*lead, h, scale, w, scale, c)
    folded = np.moveaxis(folded, -4, -3)  # (..., h, w, s_row, s_col, c)
    return folded.reshape(*lead, h, w, scale * scale * c)


def depth_to_space(x: np.ndarray, scale: int) -> np.ndarray:
    """Inverse of :func:`space_to_depth`: (..., H, W, s*s*C) to (..., H*s, W*s, C)."""
    *lead, h, w, cs = x.shape
    c = cs // (scale * scale)
    unfolded = np.moveaxis(x.reshape(*lead, h, w, scale, scale, c), -3, -4)
    return unfolded.reshape(*lead, h * scale, w * scale, c)


def _reflected(start: int, stop: int, size: int) -> slice | np.ndarray:
    """Positions ``start`` .. ``stop - 1`` along an axis of ``size`` samples extended past its ends as ``np.pad``'s
    ``"reflect"`` mode extends it (reflected without repeating the edge, again and again: period 2 (size - 1)): the
    slice itself where every position lies on the axis, else their indices."""
    if 0 <= start and stop <= size:
        return slice(start, stop)
    if size == 1:
        return np.zeros(stop - start, np.intp)
    period = 2 * (size - 1)
    index = np.abs(np.arange(start, stop)) % period
    return np.where(index < size, index, period - index)


def _unfolded(positions: slice | np.ndarray, fold: int) -> slice | np.ndarray:
    """The rows of an image folded by ``fold`` that ``positions`` (rows of its folded pixels) cover."""
    if isinstance(positions, slice):
        return slice(positions.start * fold, positions.stop * fold)
    return (positions[:, None] * fold + np.arange(fold)).ravel()


def _padded_columns(rows: np.ndarray, pad_left: int, pad_right: int) -> np.ndarray:
    """``rows`` (n, W, C) with ``pad_left`` and ``pad_right`` columns added as ``np.pad``'s ``"reflect"`` adds them: a
    new C-ordered array (one copy of ``rows``, where ``np.pad`` is slower)."""
    n, width, channels = rows.shape
    band = np.empty((n, pad_left + width + pad_right, channels), rows.dtype)
    band[:, pad_left:pad_left + width] = rows
    band[:, :pad_left] = rows[:, _reflected(-pad_left, 0, width)]
    band[:, pad_left + width:] = rows[:, _reflected(width, width + pad_right, width)]
    return band


class Rows(Protocol):
    """An image made as it is read: its rows, C-ordered, for a slice or an index array of them."""

    shape: tuple[int, ...]
    ndim: int

    def __getitem__(self, rows: slice | np.ndarray) -> np.ndarray: ...


def predict_tiled(image: np.ndarray | Rows, predict: Callable[[np.ndarray], np.ndarray],
                  window_px: int, overlap_px: int, scale: int = 1, fold: int = 1,
                  emit: Callable[[int, np.ndarray], None] | None = None) -> np.ndarray | None:
    """Run ``predict`` over overlapping windows of ``image`` and stitch the cores of its predictions.

    image: (H, W, C) array, any dtype, or :class:`Rows` of that shape (rows made as they are read:
    fusion.BandPlanes). predict: maps a (window_px, window_px, C) view of the image's dtype (into
    the reflection-padded frame, not necessarily contiguous: copy it to keep it) to a (window_px * scale,
    window_px * scale, K) array; ``scale`` > 1 serves super-resolution models. With ``fold`` > 1 the image is
    (H * fold, W * fold, C) and ``predict`` sees it folded by :func:`space_to_depth` (fold² C channels). The frame
    is padded and folded one row of windows at a time, never whole: each window has the values and strides of the
    same view into the whole frame padded (and folded), and where no padding reaches it, it is a view into
    ``image`` itself (C-ordered here), not to be written to. Returns the (H * scale, W * scale, K) mosaic in the
    predictions' dtype; with ``emit``, None: each row of windows' stitched cores, (n, W * scale, K), goes to
    ``emit(row0, rows)`` (``row0`` its first row in the mosaic) once the row's last window is predicted, so that the
    mosaic is never held whole. Raises ValueError when ``predict`` returns another shape, or ``image`` is not
    (H, W, C) with H and W multiples of ``fold``.
    """
    if scale < 1 or fold < 1:
        raise ValueError(f"scale and fold must be at least 1, got {scale} and {fold}")
    if image.ndim != 3 or image.shape[0] % fold or image.shape[1] % fold:
        raise ValueError(f"image must be (H, W, C) with H and W multiples of fold {fold}, got shape {image.shape}")
    if isinstance(image, np.ndarray):
        image = np.ascontiguousarray(image)  # C order, as a padded copy of it was: the same strides
    height_px, width_px = image.shape[0] // fold, image.shape[1] // fold
    tiles = windows(height_px, width_px, window_px, overlap_px)
    # The first window starts at or before the frame's origin and the last ends at or past its far edge.
    pad_left, pad_right = -tiles[0].input.col0, tiles[-1].input.col1 - width_px
    out_px = window_px * scale
    mosaic = band = band_row0 = None
    top = 0  # the mosaic row where ``mosaic`` starts: with ``emit``, the first of this row of windows' cores
    for window in tiles:
        if window.input.row0 != band_row0:  # the padded (and folded) rows of this row of windows
            if emit is not None and mosaic is not None:
                emit(top, mosaic)
                mosaic = None
            band_row0 = window.input.row0
            band = image[_unfolded(_reflected(band_row0, band_row0 + window_px, height_px), fold)]
            band = space_to_depth(band, fold) if fold > 1 else band
            if pad_left or pad_right:
                band = _padded_columns(band, pad_left, pad_right)
        c0 = window.input.col0 + pad_left
        prediction = predict(band[:, c0:c0 + window_px])
        if prediction.ndim != 3 or prediction.shape[:2] != (out_px, out_px):
            raise ValueError(f"predict returned shape {prediction.shape}, expected ({out_px}, {out_px}, K)")
        if mosaic is None:
            rows = (window.core.row0, window.core.row1) if emit is not None else (0, height_px)
            top = rows[0] * scale
            mosaic = np.empty(((rows[1] - rows[0]) * scale, width_px * scale, prediction.shape[2]), prediction.dtype)
        out_rows, out_cols = window.core_in_output(scale)
        mosaic[out_rows.start - top:out_rows.stop - top, out_cols] = prediction[window.core_in_prediction(scale)]
    if emit is None:
        return mosaic
    emit(top, mosaic)
    return None
