"""The synthetic world's clouds: three layers of optical thickness, their reflectance, shadows and truth codes.

(The on-board cloud-mask stage is :mod:`onboard.pipeline.cloud`.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Callable

import numpy as np

from rundir.truth import CLOUD_CLEAR, CLOUD_THICK, CLOUD_THIN

from .atmosphere import SKY_DIFFUSE_SHARE
from .noise import fractal, ladder, mix, unit, world_axes
from .projection import GridFootprint

# Cloud asymmetry parameters in the visible and near infrared (Kokhanovsky 2004, "Optical properties of terrestrial
# clouds", Earth-Sci. Rev. 64): liquid water droplets 0.85, ice crystals of cirrus 0.75.
WATER_CLOUD_ASYMMETRY = 0.85
ICE_CLOUD_ASYMMETRY = 0.75
# Optical-thickness classes of the truth. Thin from 0.3, the boundary between Sassen & Cho's (1992, J. Appl.
# Meteor. 31) "thin" and "opaque" cirrus: such a layer adds ~0.03-0.05 to blue TOA reflectance over dark ground, the
# thin-cloud boundary (0.03) of the Sentinel-2 multi-temporal labels. Thick from 3.6: the ISCCP boundary between thin
# and medium optical thickness (Rossow & Schiffer 1999, BAMS 80).
THIN_CLOUD_TAU = 0.3
THICK_CLOUD_TAU = 3.6
SHADOW_MAX_ILLUMINATION = 0.75  # ground lit at most this much (relative to sunlit) is flagged cloud shadow: a
# modelling choice for the truth mask, between full sun (1) and the sky light alone (SKY_DIFFUSE_SHARE)


def cloud_reflectance(scaled_tau: np.ndarray) -> np.ndarray:
    """Reflectance of a non-absorbing cloud layer from its scaled optical thickness ``(1 - g) tau`` (any shape).

    Eddington approximation for a conservative scattering slab (Shettle & Weinman 1970, J. Atmos. Sci. 27;
    Meador & Weaver 1980, J. Atmos. Sci. 37): transmittance T = 1 / (1 + 0.75 (1 - g) tau) and R = 1 - T, which
    tends to the asymptotic theory's 1 / (0.75 (1 - g) tau + 1.07) for thick clouds (King 1987, J. Atmos. Sci.
    44). Clouds are grey across the visible and near infrared, where water and ice hardly absorb."""
    x = np.float32(0.75) * scaled_tau
    return x / (np.float32(1.0) + x)


def _layer_tau(excess: np.ndarray, tau_scale: float, power: float, fringe: float = 0.1) -> np.ndarray:
    """Optical thickness of a cloud layer from its field's excess over its threshold (unit-variance units).

    Zero below ``-fringe``, rising linearly to THIN_CLOUD_TAU at the threshold (the sub-visual fringe, truth clear),
    then ``THIN_CLOUD_TAU + tau_scale * excess**power`` inside the cloud."""
    inside = np.maximum(excess, 0)
    return np.where(excess > 0, np.float32(THIN_CLOUD_TAU) + np.float32(tau_scale) * inside ** np.float32(power),
                    np.float32(THIN_CLOUD_TAU / fringe) * np.maximum(excess + np.float32(fringe), 0)).astype(np.float32)


def _threshold(probability: float) -> float:
    """Level a unit normal field exceeds with ``probability`` (inf: never; -1000: always, beyond any field value)."""
    if probability <= 0.0:
        return math.inf
    if probability >= 1.0:
        return -1000.0
    return NormalDist().inv_cdf(1.0 - probability)


@dataclass
class CloudColumn:
    """The clouds over a footprint, each (H, W) float32 unless noted."""

    scaled_tau: np.ndarray  # sum over the layers of (1 - g) tau
    sunlit: np.ndarray  # ground illumination relative to a cloud-free sky (cumulus shadows)
    brightness: np.ndarray  # cloud-top reflectance factor: sunlit and shaded cumulus flanks
    cloud: np.ndarray  # uint8 truth: clear, thin, thick
    shadow: np.ndarray  # bool truth: cloud shadow


class CloudLayers:
    """Three cloud layers, each an optical-thickness field: low cumulus (fractal, optically thick cores, thin
    fringes), a mid-level altocumulus deck (a cellular sheet with holes, grey and semi-transparent) and high cirrus
    (streaks stretched along the wind, thin).

    Their scaled optical thicknesses add, and the column's reflectance and transmittance follow the Eddington
    solution (:func:`cloud_reflectance`). Truth is exact: cloud is thin where the column's optical thickness is at
    least THIN_CLOUD_TAU and thick from THICK_CLOUD_TAU; fainter fringes are clear. The cover drifts with the wind
    and varies regionally around ``mean_cloud_cover`` (the expected fraction of pixels flagged thin or thick).
    Cumulus shadows fall ``cloud_height_m / tan(sun elevation)`` from their cloud, away from the sun.
    """

    def __init__(self, seed: int, mean_cloud_cover: float, cloud_height_m: float, cirrus_share: float,
                 deck_share: float, wind_m_s: tuple[float, float]):
        """``cirrus_share``, ``deck_share``: parts of ``mean_cloud_cover`` that are cirrus and altocumulus deck
        (their sum at most 1; the rest is cumulus); ``wind_m_s``: (east, north) velocity the fields drift with."""
        s, wind = seed, wind_m_s
        self.cloud_height_m = cloud_height_m
        # Cloud fields: regional octaves (cover varies from place to place and with the weather) over a k^-5/3
        # spectrum (amplitude x 2^-1/3 per halving), as measured in real cloud fields.
        regional = ladder(2000e3, 250e3, 0.7, 0.75)
        self._cumulus = fractal(s, "cumulus", regional + ladder(20e3, 40.0, 0.79), wind)
        self._deck = fractal(s, "deck", regional + ladder(60e3, 500.0, 0.6), wind)
        self._cells = fractal(s, "cells", ladder(600.0, 40.0, 0.8), wind)  # altocumulus cells, ~300 m
        self._cirrus = fractal(s, "cirrus", regional + ladder(40e3, 40.0, 0.75), wind, 4.0)
        self._deck_tau = 0.5 + 0.5 * unit(mix(s, 0xDEC), 0)  # each world's decks, thin altocumulus to altostratus
        cover = mean_cloud_cover
        cirrus_p, deck_p = cirrus_share * cover, deck_share * cover
        rest = (1.0 - cirrus_p) * (1.0 - deck_p)
        cumulus_p = 1.0 - (1.0 - cover) / rest if rest > 0.0 else 0.0
        # independent fields: P(cumulus or deck or cirrus) = mean_cloud_cover
        self._cumulus_level = _threshold(cumulus_p)
        self._deck_level = _threshold(deck_p)
        self._cirrus_level = _threshold(cirrus_p)

    def column(self, footprint: GridFootprint, field: Callable[..., np.ndarray], t_s: float,
               sun_elevation_rad: float, sun_azimuth_rad: float) -> CloudColumn:
        """The cloud column over a footprint in its own zone: the three layers' optical thickness, the ground's
        illumination under cumulus shadows, and the truth codes. ``field(f, du_m, dv_m)`` evaluates a fractal on the
        footprint's grid, shifted by (du_m, dv_m); angles in radians, the sun's azimuth clockwise from north."""
        shape = (footprint.height_px, footprint.width_px)
        scaled_tau = np.zeros(shape, np.float32)  # sum over layers of (1 - g) tau
        tau = np.zeros(shape, np.float32)
        sunlit = np.ones(shape, np.float32)
        brightness = np.ones(shape, np.float32)
        if self._cumulus_level < math.inf:
            east, north = math.sin(sun_azimuth_rad), math.cos(sun_azimuth_rad)
            reach_m = self.cloud_height_m / math.tan(sun_elevation_rad)
            up_sun = _layer_tau(field(self._cumulus, reach_m * east, reach_m * north) - np.float32(self._cumulus_level),
                                60.0, 1.5)
            sunlit = np.float32(SKY_DIFFUSE_SHARE) + np.float32(1 - SKY_DIFFUSE_SHARE) * (
                1 - cloud_reflectance(np.float32(1 - WATER_CLOUD_ASYMMETRY) * up_sun))
            ring_u, ring_v = world_axes(footprint.window(-1, -1, footprint.height_px + 2, footprint.width_px + 2))
            excess = self._cumulus.evaluate(footprint.zone, ring_u, ring_v, t_s, 2.0 * footprint.gsd_m) - np.float32(
                self._cumulus_level)
            cumulus = _layer_tau(excess[1:-1, 1:-1], 60.0, 1.5)
            toward_sun = (excess[1:-1, 2:] - excess[1:-1, :-2]) * east + (excess[:-2, 1:-1] - excess[2:, 1:-1]) * north
            lit = np.clip(toward_sun * np.float32(60.0 / footprint.gsd_m), -1, 1)  # slope over ~120 m: lit flank
            brightness += np.float32(0.08) * lit * np.minimum(cumulus / np.float32(THICK_CLOUD_TAU), 1)
            tau += cumulus
            scaled_tau += np.float32(1 - WATER_CLOUD_ASYMMETRY) * cumulus
        if self._deck_level < math.inf:
            cells = np.clip(np.float32(0.5) + np.float32(0.5) * field(self._cells), 0, 1)
            # cells of a few hundred metres, thickest in their centres and open between them (altocumulus)
            deck = _layer_tau(field(self._deck) - np.float32(self._deck_level), self._deck_tau, 1.0) * (
                np.float32(0.25) + np.float32(2.5) * cells * cells)
            tau += deck
            scaled_tau += np.float32(1 - WATER_CLOUD_ASYMMETRY) * deck
        if self._cirrus_level < math.inf:
            cirrus = np.minimum(_layer_tau(field(self._cirrus) - np.float32(self._cirrus_level), 3.0, 1.0), 3.0)
            tau += cirrus
            scaled_tau += np.float32(1 - ICE_CLOUD_ASYMMETRY) * cirrus
        cloud = np.where(tau >= THICK_CLOUD_TAU, CLOUD_THICK,
                         np.where(tau >= THIN_CLOUD_TAU, CLOUD_THIN, CLOUD_CLEAR)).astype(np.uint8)
        shadow = (sunlit <= SHADOW_MAX_ILLUMINATION) & (cloud != CLOUD_THICK)
        return CloudColumn(scaled_tau, sunlit, brightness, cloud, shadow)
