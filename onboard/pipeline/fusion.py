"""Multi-frame fusion: K registered low-res frames of one scene into one image ``scale`` times finer.

Two classic baselines - bicubic upsampling of the mean of the clear frames, and shift-and-add with a median
per high-res cell - and the learned one (:func:`misr`), a small full-int8 network that corrects the bicubic
mean with what the shift-and-add grid and the fused samples show. All are pure numpy/OpenCV functions of the
same inputs: ``lr`` (K, H, W, B) float frames, ``clear`` (K, H, W) bool (cloud-free pixels), and for the
registered methods ``shifts`` (K, 2) (dy, dx) low-res px in :mod:`onboard.sensing.burst`'s convention.

High-res grid: low-res pixel ``(i, j)`` of frame 0 covers high-res pixels ``s*i .. s*i + s - 1`` (rows and
columns alike), the same ground (``onboard.sensing.burst.high_res_footprint``).
"""

from __future__ import annotations

from typing import Callable, Protocol, Sequence

import cv2
import numpy as np

from .tiling import depth_to_space, predict_tiled

# The learned model's input: per band, three high-res planes folded into s*s channels each (space-to-depth,
# channel = (row phase * s + column phase) * 3 + plane), standardised per window by the bicubic plane's mean
# and standard deviation (floored at FEATURE_FLOOR, reflectance), then clipped to +-FEATURE_CLIP.
FEATURE_PLANES = ("bicubic_mean", "shift_and_add", "samples")
SCALES = (2, 3, 4)  # the resolution gains the superres stage runs (a MISR model folds its planes at one of them)
FEATURE_FLOOR = 0.004  # TOA reflectance: below this a window is flat; its noise is not blown up
FEATURE_CLIP = 6.0
_INPAINT_RADIUS_PX = 3
UPSAMPLE_STRIP_ROWS = 256  # low-res rows that upsample_band resizes at once
PLANES_BLOCK_ROWS = 256  # low-res rows of a band's MISR planes that BandPlanes makes at once
MODEL_OVERLAP_PX = 16  # low-res px of overlap between the model's windows (8 px of context cropped each side)


class Predictor(Protocol):
    """A fixed-size model: onboard.runtime.model.Model and anything with its ``predict`` and ``input_shape``."""

    input_shape: tuple[int, ...]

    def predict(self, x: np.ndarray) -> np.ndarray: ...


def _as_float32(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, np.float32)


def _check(lr: np.ndarray, clear: np.ndarray, shifts: np.ndarray | None = None) -> None:
    if lr.ndim != 4:
        raise ValueError(f"lr must be (K, H, W, B), got shape {lr.shape}")
    if clear.shape != lr.shape[:3]:
        raise ValueError(f"clear must be (K, H, W) = {lr.shape[:3]}, got {clear.shape}")
    if shifts is not None and np.shape(shifts) != (lr.shape[0], 2):
        raise ValueError(f"shifts must be (K, 2) = ({lr.shape[0]}, 2), got {np.shape(shifts)}")


def upsample(image: np.ndarray, scale: int) -> np.ndarray:
    """(H * scale, W * scale, B) float32 bicubic upsampling of ``image`` (H, W, B), pixel areas aligned; OpenCV's
    cubic resize of a channel among four differs by up to an ulp from the same channel alone, so bands go four at a
    time, always."""
    h, w, b = image.shape
    planes = [cv2.resize(image[..., c:c + 4], (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)
              .reshape(h * scale, w * scale, -1) for c in range(0, b, 4)]
    return planes[0] if len(planes) == 1 else np.concatenate(planes, axis=-1)  # no copy of four bands or fewer


def strips(height_px: int, scale: int) -> list[tuple[int, int]]:
    """The runs of low-res rows (row0, row1) of an image ``height_px`` high that :func:`upsample_band` resizes at once
    at ``scale``: UPSAMPLE_STRIP_ROWS at a time at a power of two, all of them at another scale (OpenCV rounds each
    source row, (row + 0.5) / scale - 0.5, to float32, so its fraction would depend on where a strip starts)."""
    step = height_px if scale & (scale - 1) else UPSAMPLE_STRIP_ROWS
    return [(r0, min(height_px, r0 + step)) for r0 in range(0, height_px, step)]


def upsample_band(image: np.ndarray, band: int, scale: int, rows: tuple[int, int] | None = None) -> np.ndarray:
    """(n * scale, W * scale, 1) float32: band ``band`` of :func:`upsample` of ``image`` (H, W, B), the same values,
    for the low-res ``rows`` (row0, row1) (all H by default: n = row1 - row0). Made strip by strip (:func:`strips`,
    each with the 3 rows around it that the cubic kernel reaches) with the bands of its group of four: never every
    band at the finer scale at once, for the time of resizing the group once per band. At a scale that is not a
    power of two the group is resized whole, once per call (as much memory for a moment as the group upsampled)."""
    h, w, _ = image.shape
    first, last = (0, h) if rows is None else rows
    group = band - band % 4
    out = np.empty(((last - first) * scale, w * scale, 1), np.float32)
    for r0, r1 in strips(h, scale):
        r0, r1 = max(r0, first), min(r1, last)
        if r0 >= r1:
            continue
        a, b = (0, h) if scale & (scale - 1) else (max(0, r0 - 3), min(h, r1 + 3))
        strip = upsample(image[a:b, :, group:group + 4], scale)
        out[(r0 - first) * scale:(r1 - first) * scale, :, 0] = strip[(r0 - a) * scale:(r1 - a) * scale, :, band - group]
    return out


def _inpainted(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """``image`` (H, W, B) with the ``hole`` (H, W) pixels filled from their surroundings (Navier-Stokes).

    An image one pixel high or wide is inpainted as three copies of itself side by side, and the middle one kept:
    OpenCV's ``inpaint`` reads memory it never wrote on such an image (OpenCV 5.1: the same 1 x N or N x 1 input,
    N from 4 to 39 tried, gives other values from one process to the next, NaN among them).
    """
    if not hole.any() or hole.all():
        return image
    h, w, _ = image.shape
    if h == 1 or w == 1:
        pad = ((int(h == 1),) * 2, (int(w == 1),) * 2)
        return _inpainted(np.pad(image, (*pad, (0, 0)), mode="edge"), np.pad(hole, pad, mode="edge"))[
            pad[0][0]:pad[0][0] + h, pad[1][0]:pad[1][0] + w]
    mask = hole.astype(np.uint8)
    # NOTE: not INPAINT_TELEA, which returns garbage on float32 images in OpenCV 5.0.
    return np.stack([cv2.inpaint(np.ascontiguousarray(image[..., b]), mask, _INPAINT_RADIUS_PX, cv2.INPAINT_NS)
                     for b in range(image.shape[-1])], axis=-1)


def mean_frame(lr: np.ndarray, clear: np.ndarray, shifts: np.ndarray | None = None,
               value: Callable[[np.ndarray], np.ndarray] = _as_float32) -> np.ndarray:
    """(H, W, B) float32 per-pixel mean over the frames clear there; pixels clear in no frame are inpainted
    from their clear surroundings (the mean of all frames when none is clear anywhere), so that no cloud
    bleeds into clear ground when the mean is upsampled.

    With ``shifts`` every frame is first resampled (bicubic) onto frame 0's grid, its cloudy pixels filled
    beforehand with the unregistered mean so that interpolation drags no cloud into clear pixels, band by band
    (so a band's mean is the same made alone: OpenCV's cubic warp of one, three or four channels gives each channel
    the values it gives it alone, of two channels not). The frames are summed one at a time, in order (the values of
    summing the stack along its first axis), so that memory holds no resampled copy of the burst. ``lr`` may hold
    any numbers: ``value`` gives a frame's float32 samples (e.g. DN as reflectance), one frame at a time.
    """
    _check(lr, clear, shifts)
    k, h, w, b = lr.shape
    unregistered = None if shifts is None else mean_frame(lr, clear, value=value)
    total = np.zeros((h, w, b), np.float32)  # of the clear samples
    plain = np.zeros((h, w, b), np.float32)  # of all samples
    count = np.zeros((h, w, 1), np.float32)
    for f in range(k):
        frame, usable = value(lr[f]), clear[f]
        if shifts is not None:
            dy, dx = np.asarray(shifts[f], np.float64)
            back = np.array([[1, 0, -dx], [0, 1, -dy]], np.float64)
            filled = np.where(clear[f, ..., None], frame, unregistered)
            frame = np.empty((h, w, b), np.float32)
            for c in range(b):  # band by band: OpenCV warps two channels otherwise than each alone
                frame[..., c] = cv2.warpAffine(np.ascontiguousarray(filled[..., c]), back, (w, h),
                                               flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                               borderMode=cv2.BORDER_REFLECT)
            usable = cv2.warpAffine(clear[f].astype(np.uint8), back, (w, h), flags=cv2.INTER_NEAREST |
                                    cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE) > 0
        weight = usable[..., None].astype(np.float32)
        total += frame * weight
        plain += frame
        count += weight
    mean = np.where(count > 0, total / np.maximum(count, 1), plain / np.float32(k))
    return _inpainted(mean.astype(np.float32), count[..., 0] == 0)


def bicubic(lr: np.ndarray, clear: np.ndarray, scale: int, shifts: np.ndarray | None = None) -> np.ndarray:
    """(H * scale, W * scale, B) float32: bicubic upsampling of :func:`mean_frame` (registered with ``shifts``)."""
    return upsample(mean_frame(lr, clear, shifts), scale)


def _cells(shifts: np.ndarray, scale: int) -> np.ndarray:
    """(K, 2) int high-res cell of each frame's low-res pixel (0, 0): pixel (i, j) lands in s*(i, j) + cell."""
    # NOTE: a pixel centre halfway between two cells (even scale, whole-pixel shift) goes to the lower-right one.
    return np.floor(scale * np.asarray(shifts, np.float64) + (scale - 1) / 2 + 0.5).astype(int)


def _median(planes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Element-wise median of equally shaped float32 ``planes`` ignoring NaN (NaN where all are), and the count
    of non-NaN values (int)."""
    # NOTE: an odd-even transposition network of element-wise min/max sorts the few planes (NaN as +inf last)
    # far faster than np.sort along a short last axis.
    values = [np.where(np.isnan(plane), np.float32(np.inf), plane) for plane in planes]
    count = sum((np.isfinite(v) for v in values), np.zeros(planes[0].shape, np.int32))
    for sweep in range(len(values)):
        for i in range(sweep % 2, len(values) - 1, 2):
            values[i], values[i + 1] = np.minimum(values[i], values[i + 1]), np.maximum(values[i], values[i + 1])
    median = np.full(planes[0].shape, np.nan, np.float32)
    for n in range(1, len(values) + 1):
        np.copyto(median, (values[(n - 1) // 2] + values[n // 2]) / 2, where=count == n)
    return median, count


def shift_and_add_sparse(lr: np.ndarray, shifts: np.ndarray, clear: np.ndarray, scale: int,
                         rows: tuple[int, int] | None = None,
                         value: Callable[[np.ndarray], np.ndarray] = _as_float32) -> tuple[np.ndarray, np.ndarray]:
    """Shift-and-add without filling: (n*s, W*s, B) float32 median of the clear samples that land in each
    high-res cell (NaN where none does) and (n*s, W*s) int count of those samples (first band's), for the cells of
    the low-res ``rows`` (row0, row1) of frame 0's grid (all H by default: n = row1 - row0). ``lr`` may hold any
    numbers: ``value`` gives the float32 samples of a piece of it (e.g. DN as reflectance), read as needed."""
    _check(lr, clear, shifts)
    k, h, w, b = lr.shape
    first, last = (0, h) if rows is None else rows
    n = last - first
    fused = np.full((n * scale, w * scale, b), np.nan, np.float32)
    count = np.zeros((n * scale, w * scale), np.int32)
    cells = _cells(shifts, scale)
    phase, offset = cells % scale, cells // scale  # a frame fills one phase of the grid, moved by whole LR px
    for py in range(scale):
        for px in range(scale):
            members = np.flatnonzero((phase[:, 0] == py) & (phase[:, 1] == px))
            if members.size == 0:
                continue
            planes = []
            for f in members:
                oy, ox = offset[f]
                # sample (i, j) lands at sub-grid position (i + oy, j + ox); a frame moved off the grid lands nowhere
                rows_in = slice(max(oy, first), max(min(h + oy, last), first))
                cols = slice(max(ox, 0), max(min(w + ox, w), 0))
                if rows_in.stop <= rows_in.start or cols.stop <= cols.start:
                    continue
                src = (slice(rows_in.start - oy, rows_in.stop - oy), slice(cols.start - ox, cols.stop - ox))
                plane = np.full((n, w, b), np.nan, np.float32)
                plane[rows_in.start - first:rows_in.stop - first, cols] = np.where(
                    clear[f][src][..., None], value(lr[f][src]), np.float32(np.nan))
                planes.append(plane)
            if not planes:
                continue
            median, n_samples = _median(planes)
            fused[py::scale, px::scale] = median
            count[py::scale, px::scale] = n_samples[..., 0]
    return fused, count


def shift_and_add(lr: np.ndarray, shifts: np.ndarray, clear: np.ndarray, scale: int) -> np.ndarray:
    """(H * scale, W * scale, B) float32: every clear low-res sample placed in the high-res cell nearest to its
    registered centre, the median of each cell's samples, and empty cells filled by the registered
    :func:`bicubic`."""
    fused, _ = shift_and_add_sparse(lr, shifts, clear, scale)
    empty = np.isnan(fused)
    if empty.any():
        fused[empty] = bicubic(lr, clear, scale, shifts)[empty]
    return fused


# ------------------------------------------------------------------------------------------ learned fusion


def _planes_rows(lr: np.ndarray, shifts: np.ndarray, clear: np.ndarray, scale: int, mean: np.ndarray,
                 rows: tuple[int, int], value: Callable[[np.ndarray], np.ndarray] = _as_float32) -> np.ndarray:
    """(n*s, W*s, 3) float32 FEATURE_PLANES of one band ``lr`` (K, H, W, 1) for the low-res ``rows`` (row0, row1),
    n = row1 - row0, given their registered bicubic mean ``mean`` (n*s, W*s, 1)."""
    fused, count = shift_and_add_sparse(lr, shifts, clear, scale, rows, value)
    out = np.empty(mean.shape[:2] + (3,), np.float32)
    out[..., 0] = mean[..., 0]
    np.copyto(fused, mean, where=np.isnan(fused))
    out[..., 1] = fused[..., 0]
    out[..., 2] = (count * (scale * scale / lr.shape[0])).astype(np.float32)
    return out


def misr_planes(lr: np.ndarray, shifts: np.ndarray, clear: np.ndarray, scale: int) -> np.ndarray:
    """(B, H*s, W*s, 3) float32 high-res planes of FEATURE_PLANES per band: the registered bicubic mean, the
    shift-and-add (filled) and its clear samples per cell relative to the mean (K / s^2)."""
    mean = bicubic(lr, clear, scale, shifts)
    h = lr.shape[1]
    return np.stack([_planes_rows(lr[..., b:b + 1], shifts, clear, scale, mean[..., b:b + 1], (0, h))
                     for b in range(lr.shape[-1])])


class BandPlanes:
    """The MISR planes of one band, (H*s, W*s, 3) float32 (FEATURE_PLANES, the values of :func:`misr_planes`), made
    PLANES_BLOCK_ROWS low-res rows at a time as they are read, never whole: indexing the first axis with a slice or
    an index array of high-res rows (as :func:`onboard.pipeline.tiling.predict_tiled` reads a frame) gives those
    rows, C-ordered. Blocks are made in order and the last two are kept, so rows read in order by windows of at
    most PLANES_BLOCK_ROWS low-res rows, as the sliding windows read them, are made once (taller windows make some
    again); ``on_block(row0, planes)`` sees each block once, in order (its first low-res row and its (rows*s, W*s,
    3) planes), so baselines drawn from the planes need not hold them either. At a scale that is not a power of two
    the band's upsampled mean is made whole, once, and kept (:func:`upsample_band`).

    ``lr`` (K, H, W, 1) is the band's burst in any numbers, ``value`` gives its float32 samples (as for
    :func:`shift_and_add_sparse`); ``means`` (H, W, B) the registered mean of every band (:func:`mean_frame`), of
    which ``band`` is upsampled (:func:`upsample_band`)."""

    def __init__(self, lr: np.ndarray, shifts: np.ndarray, clear: np.ndarray, scale: int, means: np.ndarray,
                 band: int, value: Callable[[np.ndarray], np.ndarray] = _as_float32,
                 on_block: Callable[[int, np.ndarray], None] | None = None):
        _check(lr, clear, shifts)
        _, h, w, _ = lr.shape
        self.shape, self.ndim = (h * scale, w * scale, len(FEATURE_PLANES)), 3
        self._args = lr, shifts, clear, scale
        self._means, self._band, self._value, self._on_block = means, band, value, on_block
        self._whole_mean = None  # at a scale not a power of two, upsample_band resizes whole: once, kept
        self._blocks: dict[int, np.ndarray] = {}
        self._made = -1  # the last block made

    def block(self, index: int) -> np.ndarray:
        """The planes of low-res rows index * PLANES_BLOCK_ROWS .. (+ PLANES_BLOCK_ROWS), (rows*s, W*s, 3). Blocks
        are made in order, each handed to ``on_block`` when first made; one read again after it was let go is made
        again."""
        while self._made < index:
            self._made += 1
            planes = self._keep(self._made)
            if self._on_block is not None:
                self._on_block(self._made * PLANES_BLOCK_ROWS, planes)
        return self._blocks[index] if index in self._blocks else self._keep(index)

    def _keep(self, index: int) -> np.ndarray:
        """Make block ``index``, keep it and the one before it (the rows the next windows may read again)."""
        lr, shifts, clear, scale = self._args
        rows = (index * PLANES_BLOCK_ROWS, min(lr.shape[1], (index + 1) * PLANES_BLOCK_ROWS))
        if scale & (scale - 1):
            if self._whole_mean is None:
                self._whole_mean = upsample_band(self._means, self._band, scale)
            mean = self._whole_mean[rows[0] * scale:rows[1] * scale]
        else:
            mean = upsample_band(self._means, self._band, scale, rows)
        self._blocks = {i: b for i, b in self._blocks.items() if index - 1 <= i <= index + 1}
        self._blocks[index] = _planes_rows(lr, shifts, clear, scale, mean, rows, self._value)
        return self._blocks[index]

    def __getitem__(self, rows: slice | np.ndarray) -> np.ndarray:
        span = PLANES_BLOCK_ROWS * self._args[3]  # high-res rows per block
        wanted = np.arange(*rows.indices(self.shape[0])) if isinstance(rows, slice) else np.asarray(rows)
        index = wanted // span
        if isinstance(rows, slice) and rows.step in (None, 1) and index[0] == index[-1]:
            return self.block(int(index[0]))[wanted[0] - index[0] * span:wanted[-1] + 1 - index[0] * span]
        out = np.empty((wanted.size,) + self.shape[1:], np.float32)
        for i in np.unique(index):
            out[index == i] = self.block(int(i))[wanted[index == i] - i * span]
        return out

    def blocks(self) -> None:
        """Make every block in order (for ``on_block``), when no model reads them."""
        for index in range(-(-self._args[0].shape[1] // PLANES_BLOCK_ROWS)):
            self.block(index)


def misr_shape_problem(input_shape: tuple[int, ...], output_shape: tuple[int, ...], scale: int
                       ) -> tuple[str, str] | None:
    """(expected, found) for what keeps a MISR model with these NHWC shapes from the superres stage at ``scale``:
    its input must be one square window of the FEATURE_PLANES folded by space-to-depth, (1, n, n, scale² x 3), and
    its output the correction on the finer grid, (1, n x scale, n x scale, 1). None when both are. The stage and
    ``card init --task super-resolution`` both ask it."""
    planes = scale * scale * len(FEATURE_PLANES)
    if len(input_shape) != 4 or input_shape[0] != 1 or input_shape[1] != input_shape[2] or input_shape[3] != planes:
        return (f"input (1, n, n, {planes}) at scale {scale} (the planes folded by space-to-depth, NHWC)",
                str(list(input_shape)))
    side = input_shape[1] * scale
    if tuple(output_shape) != (1, side, side, 1):
        return (f"output (1, {side}, {side}, 1) (one channel, {scale} times the {input_shape[1]} px window)",
                str(list(output_shape)))
    return None


def standardise(window: np.ndarray, scale: int) -> tuple[np.ndarray, float]:
    """A model input window (n, n, s*s*3) of raw planes standardised, and its scale (reflectance per unit).

    Reflectance planes lose the bicubic plane's mean and are divided by its standard deviation (at least
    FEATURE_FLOOR); the model's output times that scale is the correction to add to the bicubic mean.
    """
    planes = window.reshape(window.shape[:2] + (scale * scale, len(FEATURE_PLANES)))
    mean = float(planes[..., 0].mean())
    sigma = max(float(planes[..., 0].std()), FEATURE_FLOOR)
    out = planes.copy()
    out[..., :2] = (planes[..., :2] - np.float32(mean)) / np.float32(sigma)
    np.clip(out, -FEATURE_CLIP, FEATURE_CLIP, out=out)
    return out.reshape(window.shape), sigma


def misr(model: Predictor, lr: np.ndarray, shifts: np.ndarray, clear: np.ndarray, scale: int = 2,
         overlap_px: int = MODEL_OVERLAP_PX) -> np.ndarray:
    """(H * scale, W * scale, B) float32: the learned fusion, one band at a time (the model is band-agnostic).

    ``model`` takes (1, n, n, s*s*3) standardised planes (:func:`standardise`) and gives (1, n*s, n*s, 1), the
    correction to the registered bicubic mean in units of the window's scale. Frames larger than the window
    go through :func:`onboard.pipeline.tiling.predict_tiled` with ``overlap_px`` and cropped edges.
    """
    _check(lr, clear, shifts)
    means = mean_frame(lr, clear, shifts)
    return np.concatenate([misr_from_planes([model], BandPlanes(lr[..., b:b + 1], shifts, clear, scale, means, b),
                                            scale, overlap_px) for b in range(lr.shape[-1])], axis=-1)


def misr_from_planes(models: Sequence[Predictor], planes: np.ndarray | BandPlanes, scale: int,
                     overlap_px: int = MODEL_OVERLAP_PX, emit: Callable[[int, np.ndarray], None] | None = None
                     ) -> np.ndarray | None:
    """(H*s, W*s, M) float32: the learned fusion of one band by each of ``models`` from its planes (H*s, W*s, 3)
    (:class:`BandPlanes`, or an array of them) in one pass of sliding windows: each window's registered bicubic mean
    (plane 0) plus the model's correction. With ``emit``, None: the fusion goes to ``emit`` a row of windows at a
    time (:func:`onboard.pipeline.tiling.predict_tiled`)."""
    window_px = int(models[0].input_shape[1])
    for model in models:
        if model.input_shape[-1] != scale * scale * len(FEATURE_PLANES):
            raise ValueError(f"model takes {model.input_shape[-1]} channels; scale {scale} needs "
                             f"{scale * scale * len(FEATURE_PLANES)}")

    def fused(window: np.ndarray) -> np.ndarray:
        x, sigma = standardise(window, scale)
        mean = depth_to_space(window.reshape(window.shape[:2] + (scale * scale, len(FEATURE_PLANES)))[..., 0], scale)
        return np.concatenate([mean + model.predict(x) * np.float32(sigma) for model in models],
                              axis=-1).astype(np.float32, copy=False)

    return predict_tiled(planes, fused, window_px, overlap_px, scale, fold=scale, emit=emit)
