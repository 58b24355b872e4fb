"""A band's samples as stored and where they are valid: its no-data value, its per-band, per-dataset or alpha mask
and non-finite floats; and an alpha band given as a measurement.

(The band's metadata and its reprojection are :mod:`onboard.sensing.raster`.)
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
from rasterio.enums import ColorInterp, MaskFlags, Resampling

from .mask_bits import Problem


class Marked(Protocol):
    """What :func:`alpha_problem` reads of a band's metadata (:class:`onboard.sensing.raster.ImageInfo` is one)."""

    band: int  # 1-based
    alpha: bool  # the file marks it alpha


def read_band(ds: Any, band: int, nodata: float | None, max_px: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The band's stored samples and where they are valid, both (H, W); decimated (nearest, or from overviews) to
    at most ``max_px`` a side when given. ``nodata`` replaces the file's no-data value; internal and alpha masks
    apply either way (per-dataset, per-band, alpha), and non-finite floats are never valid."""
    shape = (ds.height, ds.width)
    if max_px is not None and max(shape) > max_px:
        step = math.ceil(max(shape) / max_px)
        shape = (math.ceil(ds.height / step), math.ceil(ds.width / step))
    pixels = ds.read(band, out_shape=shape, resampling=Resampling.nearest)
    valid = np.ones(shape, bool)
    flags = ds.mask_flag_enums[band - 1]
    if MaskFlags.all_valid not in flags and flags != [MaskFlags.nodata] and (
            MaskFlags.alpha not in flags or _alpha_is_opacity(ds, shape)):  # an internal or per-band mask: always
        valid &= ds.read_masks(band, out_shape=shape, resampling=Resampling.nearest) > 0
    value = nodata if nodata is not None else ds.nodatavals[band - 1]
    if value is not None:
        valid &= ~np.isnan(pixels) if math.isnan(value) else pixels != value
    if pixels.dtype.kind == "f":
        valid &= np.isfinite(pixels)
    return pixels, valid


def _alpha_is_opacity(ds: Any, shape: tuple[int, int]) -> bool:
    """Whether the file's alpha band, the mask GDAL gives its other bands, holds opacity (:func:`is_opacity`), not
    measurements: GDAL marks the fourth band of any 4-band 8-bit GeoTIFF alpha, and an RGBN file's NIR of 0 over
    water then masked R, G and B there."""
    alpha = [b for b, interp in enumerate(ds.colorinterp, start=1) if interp == ColorInterp.alpha]
    return not alpha or is_opacity(ds.read(alpha[0], out_shape=shape, resampling=Resampling.nearest))


def alpha_problem(pixels: np.ndarray, info: Marked) -> Problem | None:
    """Why a band is no measurement: the file marks it alpha and its samples ``pixels`` (as stored) hold nothing
    but transparent and opaque (:func:`is_opacity`: an RGBA file's opacity, which given as NIR read 255 wherever
    the image had data). GDAL marks the fourth band of any 4-band 8-bit GeoTIFF written without
    PHOTOMETRIC=MINISBLACK alpha, so a marked band whose samples vary (an RGBN file's NIR) is read. None when not."""
    if not info.alpha or not is_opacity(pixels):
        return None
    return ("a band of measurements, not the file's alpha band", f"band {info.band}, which the file marks alpha, "
            f"holding only {' and '.join(f'{v:g}' for v in np.unique(pixels).tolist())} (the other bands' "
            f"transparency, which reads as their no-data mask)")


def is_opacity(pixels: np.ndarray) -> bool:
    """Whether integer samples hold nothing but transparent and opaque: 0, 255 (8-bit opacity, written so into
    16-bit files too) and their type's largest value, as an alpha band does."""
    return pixels.dtype.kind in "iu" and bool(np.isin(pixels, (0, 255, np.iinfo(pixels.dtype).max)).all())
