"""Scores of an image against its truth: cPSNR as the PROBA-V challenge defines it, SSIM, and how well a burst was
registered.

cPSNR (Kelvins PROBA-V Super Resolution challenge, ESA Advanced Concepts Team, 2018-2019, "Scoring":
https://kelvins.esa.int/proba-v-super-resolution/scoring/; Märtens et al., "Super-resolution of PROBA-V images
using convolutional neural networks", Astrodynamics 3, 2019): the SR image loses a border of 3 px (384 -> 378);
for every offset (u, v) in 0..6 the truth's 378 px window at (u, v), HR_uv, is compared over the pixels its
clear mask keeps, after removing the brightness bias b = mean(HR_uv - SR) over those pixels:
cMSE = mean((HR_uv - (SR + b))^2), cPSNR = -10 log10(cMSE) on images scaled to [0, 1]; the score is the best
(highest) cPSNR over the 49 offsets. Here the border and the offset range are parameters (3 and +-3 px by
default, as in the challenge), ``data_range`` takes the place of the [0, 1] scaling, and for multi-band images
each band has its own bias while one offset serves all bands and the cMSE is averaged over bands.

SSIM (Wang, Bovik, Sheikh and Simoncelli, "Image quality assessment: from error visibility to structural
similarity", IEEE Trans. Image Processing 13(4), 2004): an 11 x 11 Gaussian window of sigma 1.5 px,
K1 = 0.01, K2 = 0.03, the map kept where the window lies inside the image, averaged per band, then over bands.
Over a mask, each window's means, variances and covariance are weighted by the mask (normalized convolution,
Knutsson and Westin, "Normalized and differential convolution", CVPR 1993): pixels outside it, a product's fill
or a cloud, do not enter the statistics of the pixels scored beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

REFLECTANCE_RANGE = 1.0  # default data range: TOA reflectance 0..1, not each image's own min..max
SSIM_SIGMA_PX = 1.5
SSIM_WINDOW_PX = 11
SSIM_K1, SSIM_K2 = 0.01, 0.03
_EXACT_CANDIDATES = 2  # offsets of the float32 search scored exactly
SSIM_STRIP_ROWS = 256  # rows of the SSIM map made at a time (:func:`_band_ssim`)
CPSNR_STRIP_ROWS = 256  # rows of the SR image whose offset sums are taken at a time (:func:`_offset_search`)


@dataclass(frozen=True)
class CPSNR:
    """A cPSNR score: ``db``, the offset (drow, dcol) of the truth window that gave it (px) and the per-band
    brightness bias removed there (truth minus SR, in the images' units)."""

    db: float
    shift_px: tuple[int, int]
    bias: tuple[float, ...]


def _values(samples: np.ndarray, per_dn: float | None) -> np.ndarray:
    """``samples`` as the values scored: DN times ``per_dn`` in float32 (the products' calibration, e.g. reflectance
    per DN), or as they are with None. Elementwise, so that a part of an image gives the values of that part of the
    whole image converted."""
    return samples if per_dn is None else samples * np.float32(per_dn)


def _bands(image: np.ndarray) -> np.ndarray:
    """(H, W, B) view of an (H, W) or (H, W, B) image in its own dtype: the scores cast one band or one selection
    of pixels at a time to float64, so a large image is never copied whole."""
    image = np.asarray(image)
    return image[..., None] if image.ndim == 2 else image


def cpsnr(sr: np.ndarray, hr: np.ndarray, clear_mask: np.ndarray | None = None, border_px: int = 3,
          max_shift_px: int = 3, data_range: float = REFLECTANCE_RANGE, sr_per_dn: float | None = None) -> CPSNR:
    """PROBA-V cPSNR of ``sr`` against ``hr``, both (H, W) or (H, W, B), over ``clear_mask`` (H, W) bool of the
    truth (None: all pixels). Needs ``border_px >= max_shift_px``. ``db`` is NaN when no pixel is clear, inf
    when a window matches exactly. With ``sr_per_dn``, ``sr`` holds DN and is scored as DN times ``sr_per_dn``
    (float32), converted a strip or a band at a time: the same score as converted whole, without a float copy."""
    sr, hr = _bands(sr), _bands(hr)
    if sr.shape != hr.shape:
        raise ValueError(f"sr {sr.shape} and hr {hr.shape} differ in shape")
    h, w = hr.shape[:2]
    if clear_mask is None:
        clear_mask = np.ones((h, w), bool)
    if clear_mask.shape != (h, w):
        raise ValueError(f"clear_mask must be {(h, w)}, got {clear_mask.shape}")
    if not 0 <= max_shift_px <= border_px or 2 * border_px >= min(h, w):
        raise ValueError(f"need 0 <= max_shift_px ({max_shift_px}) <= border_px ({border_px}) < half the image")
    b = border_px
    sr_core = sr[b:h - b, b:w - b]

    def window(dy: int, dx: int) -> tuple[slice, slice]:
        return slice(b + dy, h - b + dy), slice(b + dx, w - b + dx)

    def exact_mse(offset: tuple[int, int]) -> tuple[float, np.ndarray]:
        keep, truth = clear_mask[window(*offset)], hr[window(*offset)]
        bias, mse = np.empty(sr.shape[2]), np.empty(sr.shape[2])
        for c in range(sr.shape[2]):  # a band at a time: (n,) float64, where (n, B) was 1.6 GB at 50 Mpx
            diff = truth[..., c][keep].astype(np.float64)  # two passes: no cancellation
            diff -= _values(sr_core[..., c][keep], sr_per_dn)
            bias[c] = diff.mean()
            diff -= bias[c]
            diff *= diff
            mse[c] = diff.mean()
        return float(mse.mean()), bias  # every band has the same n pixels: the mean over all of them

    count, mse_map = _offset_search(hr, sr_core, clear_mask, b, sr_per_dn)
    shifts = range(-max_shift_px, max_shift_px + 1)
    searched = [(float(mse_map[b + dy, b + dx]), (dy, dx)) for dy in shifts for dx in shifts
                if count[b + dy, b + dx] >= 0.5]  # a pixel count, in float32: round-off is far below one pixel
    if not searched:
        return CPSNR(float("nan"), (0, 0), (float("nan"),) * sr.shape[2])
    scored = {offset: exact_mse(offset) for _, offset in sorted(searched)[:_EXACT_CANDIDATES]}
    best = min(scored, key=lambda offset: scored[offset][0])
    mse, bias = scored[best]
    db = float("inf") if mse == 0 else float(10.0 * np.log10(data_range**2 / mse))
    return CPSNR(db, best, tuple(float(v) for v in bias))


def _offset_search(hr: np.ndarray, sr_core: np.ndarray, clear_mask: np.ndarray, b: int, sr_per_dn: float | None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """``(count, mse_map)``, each (2b+1, 2b+1) float64: entry (b + dy, b + dx) holds the clear pixels and the
    bias-free MSE summed over bands of ``sr_core`` (the SR image without its ``b`` px border) against the truth
    ``hr``'s window at offset (dy, dx).

    It runs in float32 on bands brought to a common level (the bias left at each offset is small): per band, the
    masked sums over every offset at once are cross-correlations with the SR image (cv2.matchTemplate, TM_CCORR:
    sum over the template of template * image shifted by the offset), and the sums of the truth alone are window
    sums (:func:`_window_sums`). :func:`cpsnr` scores the best few offsets in float64. The sums are taken over
    strips of :data:`CPSNR_STRIP_ROWS` rows of ``sr_core`` (each with the truth's rows under it at every offset) and
    added, so that a large image needs a few strips' planes, not a dozen planes of its size; ``sr_per_dn`` as in
    :func:`cpsnr` (a strip of all bands converted at once: each band's values summed in the same order)."""
    w = hr.shape[1]
    core_h, core_w = sr_core.shape[:2]
    bands = range(hr.shape[2])
    strips = [(top, min(top + CPSNR_STRIP_ROWS, core_h)) for top in range(0, core_h, CPSNR_STRIP_ROWS)]
    level = np.zeros(hr.shape[2])
    for top, bottom in strips:
        sr_strip = _values(sr_core[top:bottom], sr_per_dn)
        for c in bands:
            level[c] += (np.sum(hr[b + top:b + bottom, b:w - b, c], dtype=np.float64)
                         - np.sum(sr_strip[..., c], dtype=np.float64))
    level /= core_h * core_w

    def ccorr(image: np.ndarray, template: np.ndarray) -> np.ndarray:
        return cv2.matchTemplate(image, template, cv2.TM_CCORR).astype(np.float64)

    count = np.zeros((2 * b + 1, 2 * b + 1))
    sum_diff, sum_sq = np.zeros((2, hr.shape[2], 2 * b + 1, 2 * b + 1))
    for top, bottom in strips:
        rows, window = slice(top, bottom + 2 * b), (bottom - top, core_w)  # the truth's rows at dy = -b..b
        mask = clear_mask[rows].astype(np.float32)
        count += _window_sums(mask, window)
        for c in bands:
            hr_plane = np.ascontiguousarray(hr[rows, :, c], dtype=np.float32)
            sr_plane = _values(sr_core[top:bottom, :, c], sr_per_dn).astype(np.float64)
            sr_plane = np.ascontiguousarray(sr_plane + level[c], dtype=np.float32)
            masked = mask * hr_plane
            sum_diff[c] += _window_sums(masked, window) - ccorr(mask, sr_plane)
            sum_sq[c] += (_window_sums(masked * hr_plane, window) - 2 * ccorr(masked, sr_plane)
                          + ccorr(mask, sr_plane * sr_plane))
    with np.errstate(invalid="ignore", divide="ignore"):
        return count, np.sum(sum_sq / count - (sum_diff / count) ** 2, axis=0)


def _window_sums(image: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """(H - h + 1, W - w + 1) float64: entry (i, j) is the sum of ``image`` (H, W) over rows i..i+h-1 and columns
    j..j+w-1, for ``window`` (h, w); from the image's integral (summed-area table; Crow 1984, "Summed-area tables
    for texture mapping", SIGGRAPH '84), four reads per window instead of a correlation with a window of ones."""
    table = cv2.integral(image, sdepth=cv2.CV_64F)
    h, w = window
    return table[h:, w:] - table[:-h, w:] - table[h:, :-w] + table[:-h, :-w]


def cpsnr_db(sr: np.ndarray, hr: np.ndarray, clear_mask: np.ndarray | None = None, border_px: int = 3,
             max_shift_px: int = 3, data_range: float = REFLECTANCE_RANGE, sr_per_dn: float | None = None) -> float:
    """PROBA-V cPSNR (dB) of ``sr`` against ``hr`` over the truth's clear pixels; see :func:`cpsnr`."""
    return cpsnr(sr, hr, clear_mask, border_px, max_shift_px, data_range, sr_per_dn).db


def ssim(sr: np.ndarray, hr: np.ndarray, mask: np.ndarray | None = None,
         data_range: float = REFLECTANCE_RANGE, sr_per_dn: float | None = None) -> float:
    """Mean SSIM of ``sr`` against ``hr``, (H, W) or (H, W, B): per band over the pixels whose whole window is
    inside the image (and, with ``mask`` (H, W) bool, kept by it, each window's statistics taken over the mask's
    pixels alone), then the mean over bands. NaN if none is.

    ``data_range`` (L in the paper) defaults to TOA reflectance 0..1, so a dark scene is not scored as if its
    own brightest pixel were white. ``sr_per_dn`` as in :func:`cpsnr`.
    """
    sr, hr = _bands(sr), _bands(hr)
    if sr.shape != hr.shape:
        raise ValueError(f"sr {sr.shape} and hr {hr.shape} differ in shape")
    h, w = hr.shape[:2]
    r = SSIM_WINDOW_PX // 2
    keep = np.zeros((h, w), bool)
    keep[r:h - r, r:w - r] = True
    if mask is not None:
        keep &= mask
    if not keep.any():
        return float("nan")
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    kept = np.empty(int(np.count_nonzero(keep)))  # one band's kept SSIM values, in row-major order
    return float(np.mean([_band_ssim(sr, hr, band, keep, mask, c1, c2, kept, sr_per_dn)
                          for band in range(hr.shape[2])]))


def _gaussian_window(z: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(z, (SSIM_WINDOW_PX, SSIM_WINDOW_PX), SSIM_SIGMA_PX, borderType=cv2.BORDER_REFLECT)


def _band_ssim(sr: np.ndarray, hr: np.ndarray, band: int, keep: np.ndarray, mask: np.ndarray | None, c1: float,
               c2: float, kept: np.ndarray, sr_per_dn: float | None) -> float:
    """Mean over ``keep`` of the SSIM map of one band of two (H, W, B) images, in float64:
    ((2 mx my + c1) (2 cxy + c2)) / ((mx^2 + my^2 + c1) (vx + vy + c2)); with ``mask`` (H, W) bool, each window's
    statistics over its pixels in the mask (normalized convolution). Made :data:`SSIM_STRIP_ROWS` rows at a time,
    each strip with the window's reach of rows above and below it, so that a large band needs a few strips' planes,
    not ten planes of its size; each map value is the same as made whole (the filter's rows are the same rows), and
    they are gathered into ``kept`` (one value per pixel of ``keep``) so that the mean is summed as it was whole.
    ``sr`` is DN scored as DN times ``sr_per_dn`` when that is given (:func:`cpsnr`)."""
    h, r, done = keep.shape[0], SSIM_WINDOW_PX // 2, 0
    for top in range(0, h, SSIM_STRIP_ROWS):
        bottom = min(top + SSIM_STRIP_ROWS, h)
        strip_keep = keep[top:bottom]
        n = int(np.count_nonzero(strip_keep))
        if not n:
            continue
        lo, hi = max(top - r, 0), min(bottom + r, h)
        ssim_map = _ssim_map(_values(sr[lo:hi, :, band], sr_per_dn), hr[lo:hi, :, band],
                             None if mask is None else mask[lo:hi], c1, c2)
        kept[done:done + n] = ssim_map[top - lo:bottom - lo][strip_keep]
        done += n
    return float(kept.mean())


def _ssim_map(x: np.ndarray, y: np.ndarray, mask: np.ndarray | None, c1: float, c2: float) -> np.ndarray:
    """The SSIM map (h, w) float64 of two (h, w) planes, computed in place in the order of :func:`_band_ssim`'s
    formula so that few planes are held; with ``mask``, each window's statistics over its pixels in it."""
    x, y = np.ascontiguousarray(x, np.float64), np.ascontiguousarray(y, np.float64)
    weight = None if mask is None else mask.astype(np.float64)
    window_weight = None if weight is None else _gaussian_window(weight)

    def local_mean(z: np.ndarray) -> np.ndarray:
        if window_weight is None:
            return _gaussian_window(z)
        with np.errstate(invalid="ignore", divide="ignore"):  # no weight in the window: a pixel never kept
            return _gaussian_window(z * weight) / window_weight

    mx, my = local_mean(x), local_mean(y)
    vx, vy, cxy = local_mean(x * x), local_mean(y * y), local_mean(x * y)
    del x, y
    vx -= mx * mx
    vy -= my * my
    cxy -= mx * my
    numerator = 2 * mx
    numerator *= my
    numerator += c1
    cxy *= 2
    cxy += c2
    numerator *= cxy
    denominator = mx * mx
    denominator += my * my
    denominator += c1
    vx += vy
    vx += c2
    denominator *= vx
    numerator /= denominator
    return numerator


def registration_error_px(estimated: np.ndarray, true: np.ndarray) -> float:
    """How well a burst was registered: the RMS (px) over frames 1..K-1 of the Euclidean distance between the
    estimated and the true ``(K, 2)`` shifts (low-res px, :mod:`onboard.sensing.burst`'s ``(dy, dx)`` convention)."""
    error = np.asarray(estimated, np.float64)[1:] - np.asarray(true, np.float64)[1:]
    return float(np.sqrt(np.mean(np.sum(error**2, axis=1)))) if len(error) else 0.0
