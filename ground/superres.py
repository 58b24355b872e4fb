"""Scores of a super-resolved image against the high-res truth: cPSNR as the PROBA-V challenge defines it, and SSIM.

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
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

REFLECTANCE_RANGE = 1.0  # default data range: TOA reflectance 0..1, not each image's own min..max
SSIM_SIGMA_PX = 1.5
SSIM_WINDOW_PX = 11
SSIM_K1, SSIM_K2 = 0.01, 0.03
_EXACT_CANDIDATES = 3  # offsets of the float32 search scored exactly


@dataclass(frozen=True)
class CPSNR:
    """A cPSNR score: ``db``, the offset (drow, dcol) of the truth window that gave it (px) and the per-band
    brightness bias removed there (truth minus SR, in the images' units)."""

    db: float
    shift_px: tuple[int, int]
    bias: tuple[float, ...]


def _bands(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image, np.float64)
    return image[..., None] if image.ndim == 2 else image


def cpsnr(sr: np.ndarray, hr: np.ndarray, clear_mask: np.ndarray | None = None, border_px: int = 3,
          max_shift_px: int = 3, data_range: float = REFLECTANCE_RANGE) -> CPSNR:
    """PROBA-V cPSNR of ``sr`` against ``hr``, both (H, W) or (H, W, B), over ``clear_mask`` (H, W) bool of the
    truth (None: all pixels). Needs ``border_px >= max_shift_px``. ``db`` is NaN when no pixel is clear, inf
    when a window matches exactly."""
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
        keep = clear_mask[window(*offset)]
        diff = hr[window(*offset)][keep] - sr_core[keep]  # (n, B), float64, two passes: no cancellation
        bias = diff.mean(axis=0)
        return float(np.mean((diff - bias) ** 2)), bias

    # NOTE: the search over offsets runs in float32 with BLAS dot products (fast), on bands first brought to a
    # common level so that the bias left at each offset is small; the best few are then scored exactly.
    shifts = range(-max_shift_px, max_shift_px + 1)
    offsets = [(dy, dx) for dy in shifts for dx in shifts]
    level = np.array([np.mean(hr[window(0, 0)][..., c] - sr_core[..., c]) for c in range(hr.shape[2])])
    hr_planes = np.ascontiguousarray(np.moveaxis(hr, -1, 0), dtype=np.float32)
    sr_planes = np.ascontiguousarray(np.moveaxis(sr_core + level, -1, 0), dtype=np.float32)
    searched = []
    for offset in offsets:
        keep = np.ascontiguousarray(clear_mask[window(*offset)], dtype=np.float32).ravel()
        n = float(keep.sum(dtype=np.float64))
        if n == 0:
            continue
        mse = 0.0
        for hr_plane, sr_plane in zip(hr_planes, sr_planes):
            diff = (hr_plane[window(*offset)] - sr_plane).ravel()
            weighted = keep * diff
            mse += float(np.dot(weighted, diff)) / n - (float(np.dot(keep, diff)) / n) ** 2
        searched.append((mse, offset))
    if not searched:
        return CPSNR(float("nan"), (0, 0), (float("nan"),) * sr.shape[2])
    scored = {offset: exact_mse(offset) for _, offset in sorted(searched)[:_EXACT_CANDIDATES]}
    best = min(scored, key=lambda offset: scored[offset][0])
    mse, bias = scored[best]
    db = float("inf") if mse == 0 else float(10.0 * np.log10(data_range**2 / mse))
    return CPSNR(db, best, tuple(float(v) for v in bias))


def cpsnr_db(sr: np.ndarray, hr: np.ndarray, clear_mask: np.ndarray | None = None, border_px: int = 3,
             max_shift_px: int = 3, data_range: float = REFLECTANCE_RANGE) -> float:
    """PROBA-V cPSNR (dB) of ``sr`` against ``hr`` over the truth's clear pixels; see :func:`cpsnr`."""
    return cpsnr(sr, hr, clear_mask, border_px, max_shift_px, data_range).db


def ssim(sr: np.ndarray, hr: np.ndarray, mask: np.ndarray | None = None,
         data_range: float = REFLECTANCE_RANGE) -> float:
    """Mean SSIM of ``sr`` against ``hr``, (H, W) or (H, W, B): per band over the pixels whose whole window is
    inside the image (and, with ``mask`` (H, W) bool, kept by it), then the mean over bands. NaN if none is.

    ``data_range`` (L in the paper) defaults to TOA reflectance 0..1, so a dark scene is not scored as if its
    own brightest pixel were white.
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

    def local_mean(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (SSIM_WINDOW_PX, SSIM_WINDOW_PX), SSIM_SIGMA_PX, borderType=cv2.BORDER_REFLECT)

    scores = []
    for band in range(hr.shape[2]):
        x, y = np.ascontiguousarray(sr[..., band]), np.ascontiguousarray(hr[..., band])
        mx, my = local_mean(x), local_mean(y)
        vx, vy, cxy = local_mean(x * x) - mx * mx, local_mean(y * y) - my * my, local_mean(x * y) - mx * my
        ssim_map = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        scores.append(float(ssim_map[keep].mean()))
    return float(np.mean(scores))
