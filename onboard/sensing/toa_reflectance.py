"""Whether a band's samples are TOA reflectance: a calibration to get there (the file's or the scenario's), a bright
tail that reflectance cannot have (DN stored as floats, or DN through another sensor's scale), a scene darker than the
sky alone (reflectance read through a DN scale), and fill far below zero that nothing declares.

(Reading the samples is :mod:`onboard.sensing.raster`; each check returns a ``(expected, found)`` problem.)
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .mask_bits import Problem


class Calibration(Protocol):
    """What a band's metadata says of its calibration (:class:`onboard.sensing.raster.ImageInfo` is one)."""

    dtype: str
    scale: float  # the file's own DN -> value scale (1.0 when none)
    offset: float  # ... and offset (0.0 when none)
    calibrated: bool  # a scale or offset of its own, or floating-point samples


# What fixes a band whose samples are not reflectance: the scenario's own calibration.
DN_CALIBRATION = "world.dn_scale and world.dn_offset (reflectance = dn_scale * DN + dn_offset)"
REFLECTANCE_MAX = 1.6  # TOA reflectance, at most, of a band's REFLECTANCE_PERCENTILE: see reflectance_problem
REFLECTANCE_PERCENTILE = 99.0  # of a band's valid samples
REFLECTANCE_MIN = -0.5  # TOA reflectance, at least, of every valid sample: see fill_problem
REFLECTANCE_FLOOR = 0.0005  # TOA reflectance, at least, of a band's REFLECTANCE_PERCENTILE: see dark_problem


def calibration_problem(info: Calibration) -> Problem | None:
    """Why the samples of a band cannot be turned into reflectance without ``world.dn_scale``: integer DN whose
    file declares no scale or offset (GDAL's scale/offset metadata, e.g. ``gdal_edit.py -scale``). None when the
    file declares them or holds floating-point samples (whose values :func:`reflectance_problem` then checks)."""
    if info.calibrated:
        return None
    return (f"{DN_CALIBRATION}, or a file that declares its scale and offset", f"{info.dtype} DN and no scale or "
            "offset in the file: for example Landsat 8 Collection 1 2.0e-5 and -0.1 (USGS LSDS-1574), Sentinel-2 L1C "
            "1.0e-4 and 0 (ESA S2 PDGS, before baseline 04.00), Landsat Collection 2 L2 2.75e-5 and -0.2")


def reflectance_problem(pixels: np.ndarray, valid: np.ndarray, info: Calibration) -> Problem | None:
    """Why a band read as reflectance by its file alone (``pixels`` (H, W) as stored, times the file's own scale plus
    its offset: floats as stored) is not TOA reflectance: the REFLECTANCE_PERCENTILE of its ``valid`` samples (the
    file's no-data, masks and non-finite floats left out) above REFLECTANCE_MAX, as DN stored as floats are. None
    when within, or when no sample is valid.

    Why 1.6: fresh snow and thick cloud tops reach about 1.0-1.3 TOA reflectance in the visible at high sun, and the
    sensors' own reflectance products stop near there: MODIS MOD09 surface reflectance's valid range is -100..16000
    at scale 1e-4, at most 1.6 (MODIS Collection 6 Surface Reflectance User's Guide), and Landsat 8 Collection 1 TOA
    rescaling tops out at 2e-5 * 65535 - 0.1 = 1.21 (USGS LSDS-1574). DN lie far above: 8-bit 0..255, Landsat 8's
    16-bit 5000..30000, Sentinel-2 L1C's 10000 for reflectance 1. Why the 99th percentile: up to 1 % of saturated,
    sun-glint or other hot pixels (Sentinel-2 L1C saturates at 65535 * 1e-4 = 6.55) do not refuse a real
    reflectance file.
    """
    scaled = "" if (info.scale, info.offset) == (1.0, 0.0) else \
        f", times the file's scale {info.scale:g} plus its offset {info.offset:g},"
    return _bright_problem(pixels, valid, info.scale, info.offset, f"{DN_CALIBRATION} for DN, or TOA reflectance",
                           f"{info.dtype} samples", scaled, "DN, not reflectance")


def _bright_problem(pixels: np.ndarray, valid: np.ndarray, scale: float, offset: float, expected: str, what: str,
                    scaled: str, verdict: str) -> Problem | None:
    """The REFLECTANCE_PERCENTILE of the ``valid`` samples of ``pixels`` as reflectance ``scale * stored + offset``
    above REFLECTANCE_MAX, as a problem: ``expected`` that keeps it within, found ``what`` (their range, ``scaled``)
    and ``verdict``. None when within, or when no sample is valid. Integer samples at their type's largest value
    are saturated, whatever their share (Sentinel-2 L1C's 65535 for a saturated cloud, an 8-bit product's 255), and
    left out: 65535 is 6.55 at L1C's scale and 1.602 at Landsat Collection 2 L2's."""
    samples = pixels[valid]
    if samples.dtype.kind in "iu":
        samples = samples[samples != np.iinfo(samples.dtype).max]
    if not samples.size:
        return None
    # the percentile of the stored samples, then the scale and offset: a negative scale swaps the tails
    tails = np.percentile(samples, [100.0 - REFLECTANCE_PERCENTILE, REFLECTANCE_PERCENTILE])
    high = float(np.max(tails * scale + offset))
    if high <= REFLECTANCE_MAX:
        return None
    return (f"{expected}: the {REFLECTANCE_PERCENTILE:g}th percentile of the valid samples at most "
            f"{REFLECTANCE_MAX:g}", f"{what} {samples.min():g} to {samples.max():g}{scaled} whose "
            f"{REFLECTANCE_PERCENTILE:g}th percentile as reflectance is {high:.5g}: {verdict}")


def fill_problem(pixels: np.ndarray, valid: np.ndarray, dn_scale: float, dn_offset: float, dtype: str
                 ) -> Problem | None:
    """Why ``valid`` samples of a band (``pixels`` (H, W) as stored) hold fill that no no-data value declares: any
    whose reflectance ``dn_scale * stored + dn_offset`` is below REFLECTANCE_MIN. None when none is.

    Why -0.5: TOA reflectance is at least 0, and noise and rescaling keep valid samples within a few hundredths
    below it (Landsat 8 Collection 1's DN 1 is 2e-5 - 0.1 = -0.09998, USGS LSDS-1574; MODIS MOD09's valid range
    starts at -0.01). Fill lies far below: -9999, -32768, -1, float32's lowest. (Fill above it, such as Landsat's
    DN 0 at -0.1, reads as dark ground unless declared: scenarios/landsat_parana.yaml sets ``nodata: 0``.)"""
    samples = pixels[valid]
    if not samples.size or dn_scale == 0:
        return None
    bound = (REFLECTANCE_MIN - dn_offset) / dn_scale  # in stored units; a negative scale turns the inequality
    low = samples < bound if dn_scale > 0 else samples > bound
    if not low.any():
        return None
    values, counts = np.unique(samples[low], return_counts=True)
    fill = values[np.argmax(counts)].item()  # a Python int or float, exactly the stored value: repr round-trips it
    return (f"a no-data value for the fill (world.nodata, or the file's own): valid samples that are TOA reflectance, "
            f"at least {REFLECTANCE_MIN:g}", f"{int(low.sum())} of {samples.size} valid {dtype} samples below it, "
            f"most at {fill!r} (reflectance {fill * dn_scale + dn_offset:.5g}): fill no no-data value declares, e.g. "
            f"world.nodata: {fill!r}")


def scaled_problem(pixels: np.ndarray, valid: np.ndarray, dn_scale: float, dn_offset: float, dtype: str
                   ) -> Problem | None:
    """What is wrong with a band's samples (``pixels`` (H, W) as stored) read as reflectance ``dn_scale * stored +
    dn_offset``: fill no no-data value declares (:func:`fill_problem`), else a scene brighter than snow and cloud
    tops (:func:`bright_problem`) or darker than the sky (:func:`dark_problem`). None when none is."""
    return (fill_problem(pixels, valid, dn_scale, dn_offset, dtype) or
            bright_problem(pixels, valid, dn_scale, dn_offset, dtype) or
            dark_problem(pixels, valid, dn_scale, dn_offset, dtype))


def bright_problem(pixels: np.ndarray, valid: np.ndarray, dn_scale: float, dn_offset: float, dtype: str
                   ) -> Problem | None:
    """Why a band's ``valid`` samples (``pixels`` (H, W) as stored) are not reflectance as ``dn_scale * stored +
    dn_offset``: their REFLECTANCE_PERCENTILE above REFLECTANCE_MAX, brighter than snow and cloud tops (the bound
    and its sources: :func:`reflectance_problem`), as DN of one sensor through another's scale are (Landsat 8's
    DN 5000..30000 times Sentinel-2 L1C's 1e-4 read 0.5..3). None when within, or when no sample is valid."""
    scaled = "" if (dn_scale, dn_offset) == (1.0, 0.0) else f", times {dn_scale:g} plus {dn_offset:g},"
    return _bright_problem(pixels, valid, dn_scale, dn_offset, f"{DN_CALIBRATION} that makes the samples "
                           "reflectance", f"{dtype} samples", scaled, "brighter than snow and cloud tops: DN of "
                           "another scale (Landsat 8 Collection 1: 2.0e-5 and -0.1; Sentinel-2 L1C: 1.0e-4 and 0), or "
                           "DN stored as reflectance")


def dark_problem(pixels: np.ndarray, valid: np.ndarray, dn_scale: float, dn_offset: float, dtype: str
                 ) -> Problem | None:
    """Why a band's ``valid`` samples (``pixels`` (H, W) as stored) are not reflectance as ``dn_scale * stored +
    dn_offset``: their REFLECTANCE_PERCENTILE below REFLECTANCE_FLOOR, darker than any sunlit scene, as reflectance
    read through a DN scale is (reflectance 0..1.3 times Landsat 8's 2e-5 less 0.1 lies below 0, times Sentinel-2's
    1e-4 below 1.3e-4), as 8-bit counts through a 16-bit sensor's scale less an offset are, and as a tile mostly of
    fill no no-data value declares is (its commonest value is named). None when not, or when no sample is valid.

    Why 0.0005: Rayleigh scattering alone gives a sunlit band a TOA path reflectance of about
    ``tau_R * P / (4 mu_v)`` (single scattering; the phase function P at least 0.75, mu_v at most 1): 0.0029 at
    865 nm, where the Rayleigh optical depth is 0.0155 at sea level (Bodhaine et al. 1999, J. Atmos. Oceanic
    Technol. 16, 1854), 0.028 at 490 nm. At 640 hPa (a high plateau) or in the exact single-scattering value with
    the sun 1 degree up it falls to ~0.0018; the floor lies four times below that, and leaves room for surface
    reflectance (Rayleigh removed) of dark water, whose noise alone spreads a few thousandths.
    """
    samples = pixels[valid]
    if not samples.size:
        return None
    tails = np.percentile(samples, [100.0 - REFLECTANCE_PERCENTILE, REFLECTANCE_PERCENTILE])
    high = float(np.max(tails * dn_scale + dn_offset))  # a negative scale swaps the tails
    if high >= REFLECTANCE_FLOOR:
        return None
    values, counts = np.unique(samples, return_counts=True)
    commonest = values[np.argmax(counts)].item()
    fill = (f"; {100 * counts.max() / samples.size:.0f} % of them are {commonest!r}: if that is fill, declare it "
            f"(world.nodata: {commonest!r})" if counts.max() >= 0.5 * samples.size else "")
    scaled = "" if (dn_scale, dn_offset) == (1.0, 0.0) else f", times {dn_scale:g} plus {dn_offset:g},"
    return (f"{DN_CALIBRATION} that makes the samples reflectance: the {REFLECTANCE_PERCENTILE:g}th percentile of the "
            f"valid samples at least {REFLECTANCE_FLOOR:g} (the sky's Rayleigh scattering alone gives more)",
            f"{dtype} samples {samples.min():g} to {samples.max():g}{scaled} whose {REFLECTANCE_PERCENTILE:g}th "
            f"percentile as reflectance is {high:.3g}: darker than any sunlit scene: reflectance read through a DN "
            f"scale (world.dn_scale: 1 with world.dn_offset: 0 reads it as stored), or DN of another scale{fill}")
