"""A classic spectral-threshold cloud test on TOA reflectance, like a small Fmask: the baseline the cloud model
is measured against.

Fmask (Zhu & Woodcock 2012, "Object-based cloud and cloud shadow detection in Landsat imagery") flags a
*potential cloud pixel* when it passes a set of per-pixel tests. Without SWIR and thermal bands we keep
the ones that need only visible and near-infrared light, and stand in for the SWIR tests:

- brightness: the mean visible reflectance is high (stands in for Fmask's SWIR2 > 0.03 basic test);
- whiteness: ``sum(|b - mean| / mean)`` over B, G, R is small, as Fmask's (grey or white, not coloured);
- HOT, the haze-optimised transform (Zhang et al. 2002): ``B - 0.5 R - 0.08 > 0``, haze and cloud are
  bluer than clear land at the same red reflectance;
- blue/red ratio: cloud is spectrally flat (B/R ~ 1), bright desert and soil are red (B/R ~ 0.5-0.7);
- with NIR: NDVI is low (vegetation seen through thin cloud is not), and the NIR/red ratio is high, which
  stands in for the snow test (NDSI needs SWIR): snow's NIR is ~25 % below its red, cloud's ~5 %.

Without NIR, snow and cloud have nearly the same visible spectrum and this test cannot tell them apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

REQUIRED_BANDS = ("B", "G", "R")


@dataclass(frozen=True)
class SpectralThresholds:
    """Thresholds of the test, all on TOA reflectance (unitless).

    HOT's offset is Fmask's; the others were chosen by a grid search for the best pixel F1 on the training
    split of ``training.cloud_data`` (four bands), so the baseline is as good as its rules allow.
    """

    min_brightness: float = 0.12  # mean of B, G, R
    max_whiteness: float = 0.5  # Fmask: 0.7
    hot_offset: float = 0.08  # Fmask's HOT: B - 0.5 R - hot_offset > 0
    min_blue_red: float = 0.6  # B / R
    max_ndvi: float = 0.4  # (NIR - R) / (NIR + R), only with NIR; Fmask: 0.8 (with its NDSI test)
    min_nir_red: float = 0.8  # NIR / R, only with NIR


def whiteness(blue: np.ndarray, green: np.ndarray, red: np.ndarray) -> np.ndarray:
    """Fmask's whiteness of TOA reflectance, arrays of one shape: ``sum(|band - mean|) / mean`` over B, G and R, near
    0 for grey and white targets (Zhu & Woodcock 2012, Remote Sens. Environ. 118, eq. 2)."""
    mean = (blue + green + red) / 3
    return (np.abs(blue - mean) + np.abs(green - mean) + np.abs(red - mean)) / np.maximum(mean, np.float32(1e-6))


def spectral_tests(toa: np.ndarray, bands: Sequence[str],
                   thresholds: SpectralThresholds = SpectralThresholds()) -> dict[str, np.ndarray]:
    """Each test's verdict, (H, W) bool, True where the pixel looks like cloud, by test name.

    toa: (H, W, len(bands)) TOA reflectance; bands: its channel names, which must include B, G and R and may
    include NIR (the NIR tests are left out without it). Raises ValueError for a missing band or a shape that
    does not match ``bands``.
    """
    bands = list(bands)
    missing = [band for band in REQUIRED_BANDS if band not in bands]
    if missing:
        raise ValueError(f"the spectral cloud test needs bands {list(REQUIRED_BANDS)}; {missing} missing from {bands}")
    toa = np.asarray(toa, dtype=np.float32)
    if toa.ndim != 3 or toa.shape[-1] != len(bands):
        raise ValueError(f"toa must be (H, W, {len(bands)}) for bands {bands}, got shape {toa.shape}")
    tiny = np.float32(1e-6)
    blue, green, red = (toa[..., bands.index(band)] for band in REQUIRED_BANDS)
    verdicts = {
        "brightness": (blue + green + red) / 3 > thresholds.min_brightness,
        "whiteness": whiteness(blue, green, red) < thresholds.max_whiteness,
        "hot": blue - 0.5 * red - thresholds.hot_offset > 0,
        "blue_red": blue > thresholds.min_blue_red * red,
    }
    if "NIR" in bands:
        nir = toa[..., bands.index("NIR")]
        verdicts["ndvi"] = (nir - red) < thresholds.max_ndvi * np.maximum(nir + red, tiny)
        verdicts["nir_red"] = nir > thresholds.min_nir_red * red
    return verdicts


def cloud_mask(toa: np.ndarray, bands: Sequence[str],
               thresholds: SpectralThresholds = SpectralThresholds()) -> np.ndarray:
    """(H, W) bool: True where every test of :func:`spectral_tests` flags cloud."""
    verdicts = spectral_tests(toa, bands, thresholds)
    return np.logical_and.reduce(list(verdicts.values()))
