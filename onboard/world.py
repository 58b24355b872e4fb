"""The Earth the camera sees: a deterministic synthetic world (real imagery: :mod:`onboard.imagery`).

A world renders a :class:`Scene` - top-of-atmosphere (TOA) reflectance plus truth masks - for a north-up
:class:`~onboard.projection.GridFootprint` at a given time and sun position.

:class:`SyntheticWorld` is procedural. Its land cover, texture and clouds are value-noise fields evaluated in
world coordinates - the UTM coordinates of each point in its own zone (north-hemisphere convention) - so the
world depends only on (place, time, seed): footprints that share pixels get bit-identical values there, whatever
their extent. Land cover and clouds change at UTM zone boundaries, where the world has a seam.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from statistics import NormalDist
from typing import Any, Protocol, Sequence

import cv2
import numpy as np

from rundir.errors import OrbitEdgeError

from .projection import (FALSE_EASTING_M, FALSE_NORTHING_SOUTH_M, UPS_ZONE, GridFootprint, epsg_code, from_utm,
                         utm_zones)

LANDCOVER_CLASSES = ("water", "vegetation", "soil", "urban", "snow", "desert")
WATER, VEGETATION, SOIL, URBAN, SNOW, DESERT = range(len(LANDCOVER_CLASSES))
CLOUD_CLEAR, CLOUD_THIN, CLOUD_THICK = 0, 1, 2
UNKNOWN = 255  # cloud or land-cover code of a pixel whose truth is not known (real imagery without a mask)
SYNTHETIC_BANDS = ("B", "G", "R", "NIR")
CLOUD_EPOCH_UTC = datetime(2020, 1, 1, tzinfo=timezone.utc)  # clouds drift with the wind from here


@dataclass
class Scene:
    """What a world looks like in one footprint: (H, W) grids aligned with the footprint's pixels."""

    reflectance: np.ndarray  # (H, W, B) float32 TOA reflectance, bands in the order asked for; 0 where not valid
    cloud: np.ndarray  # (H, W) uint8: 0 clear, 1 thin, 2 thick, 255 unknown
    shadow: np.ndarray  # (H, W) bool cloud shadow on the ground
    landcover: np.ndarray  # (H, W) uint8 index into LANDCOVER_CLASSES, 255 unknown
    valid: np.ndarray  # (H, W) bool, False outside the imagery


class World(Protocol):
    """Anything that renders a :class:`Scene` for a footprint; ``bands_available`` names the bands it can give."""

    bands_available: tuple[str, ...]

    def render(self, footprint: GridFootprint, time_utc: datetime, sun_elevation_deg: float,
               sun_azimuth_deg: float, bands: Sequence[str]) -> Scene:
        """The scene in ``footprint`` at ``time_utc`` with the sun at the given elevation and azimuth (degrees)."""
        ...


class MissingBandError(OrbitEdgeError):
    """A band was asked of a world that does not have it."""

    def __init__(self, band: str, available: Sequence[str], source: str):
        self.band = band
        self.available = tuple(available)
        self.source = source
        super().__init__(f"{source} has no band {band!r}; it has {list(self.available)}")


def _band_indices(bands: Sequence[str], available: Sequence[str], source: str) -> list[int]:
    for band in bands:
        if band not in available:
            raise MissingBandError(band, available, source)
    return [list(available).index(band) for band in bands]


# --- value noise ------------------------------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1


def _mix(*values: int) -> int:
    """A 64-bit key from a sequence of integers (splitmix64 steps)."""
    h = 0x243F6A8885A308D3
    for value in values:
        h = ((h ^ (value & _MASK64)) + 0x9E3779B97F4A7C15) & _MASK64
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _MASK64
        h ^= h >> 31
    return h


def _hash01(key: int, a: np.ndarray, b: np.ndarray, draws: int = 1) -> Any:
    """Uniform float32 draws in [0, 1) for each pair of broadcastable int64 arrays ``a``, ``b``: a pure function of
    them. One array, or a tuple of ``draws`` (at most 2) independent arrays."""
    h = (np.asarray(a, dtype=np.int64).view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ (
        np.asarray(b, dtype=np.int64).view(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F)) ^ np.uint64(key)
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    units = [((h >> np.uint64(40 - 24 * k)) & np.uint64(0xFFFFFF)).astype(np.float32) * np.float32(2.0**-24)
             for k in range(draws)]
    return units[0] if draws == 1 else tuple(units)


def _unit(key: int, k: int) -> float:
    """A uniform float in [0, 1) from a key and an index."""
    return (_mix(key, k) >> 11) / 2.0**53


def _cubic_taps(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Catmull-Rom taps at lattice positions ``p`` (n,): first of 4 node indices (n,) int64, weights (n, 4) float32."""
    i = np.floor(p)
    f = (p - i).astype(np.float32)
    f2 = f * f
    f3 = f2 * f
    weights = np.empty((p.size, 4), dtype=np.float32)
    weights[:, 0] = (-f3 + 2 * f2 - f) / 2
    weights[:, 1] = (3 * f3 - 5 * f2 + 2) / 2
    weights[:, 2] = (-3 * f3 + 4 * f2 + f) / 2
    weights[:, 3] = (f3 - f2) / 2
    return i.astype(np.int64) - 1, weights


# Mean over positions of the sum of squared 2-D Catmull-Rom weights: variance of interpolated i.i.d. unit noise.
_CUBIC_VARIANCE = float(np.mean(np.sum(_cubic_taps(np.arange(4096) / 4096)[1].astype(np.float64) ** 2, axis=1))) ** 2
_FOUR = np.arange(4)


def _interpolate(grid: np.ndarray, taps_u: tuple[np.ndarray, np.ndarray], taps_v: tuple[np.ndarray, np.ndarray],
                 first_u: int, first_v: int) -> np.ndarray:
    """Separable cubic interpolation of ``grid`` (rows = v nodes from ``first_v``, cols = u nodes from ``first_u``).

    Each output value is a fixed-order sum over its own 4 x 4 nodes, so it does not depend on the grid's extent.
    """
    (iu, wu), (iv, wv) = taps_u, taps_v
    along_u = np.einsum("mwk,wk->mw", grid[:, (iu - first_u)[:, None] + _FOUR], wu)
    return np.einsum("hkw,hk->hw", along_u[(iv - first_v)[:, None] + _FOUR], wv)


@dataclass(frozen=True)
class _Fractal:
    """A sum of value-noise octaves in world metres, normalised to zero mean and unit variance.

    Octave k has lattice spacing ``wavelengths_m[k]`` (times ``stretch_u`` along u), a random phase, and drifts at
    ``drift_m_s[k]``. Coarser octaves are sampled at the nodes of the next finer one and added there, so only the
    finest lattice is interpolated at every pixel; each node's value depends on its global index only.
    """

    key: int
    wavelengths_m: tuple[float, ...]  # coarse to fine
    amplitudes: tuple[float, ...]
    phases: np.ndarray  # (K, 2) in lattice cells
    drift_m_s: np.ndarray  # (K, 2) (u, v) velocity
    stretch_u: float = 1.0

    def evaluate(self, zone: int, u_m: np.ndarray, v_m: np.ndarray, t_s: float, min_wavelength_m: float) -> np.ndarray:
        """(H, W) float32 field at the grid of world coordinates ``u_m`` (W,) x ``v_m`` (H,), time ``t_s``.

        Octaves finer than ``min_wavelength_m`` are left out (the coarsest is always kept).
        """
        used = [k for k, w in enumerate(self.wavelengths_m) if w >= min_wavelength_m] or [0]
        levels = []
        qu, qv = u_m, v_m
        for k in reversed(used):  # fine to coarse: which nodes each level needs
            su, sv = self.wavelengths_m[k] * self.stretch_u, self.wavelengths_m[k]
            du, dv = self.drift_m_s[k] * t_s
            taps_u = _cubic_taps((qu - du) / su - self.phases[k, 0])
            taps_v = _cubic_taps((qv - dv) / sv - self.phases[k, 1])
            nodes_u = np.arange(taps_u[0].min(), taps_u[0].max() + 4)
            nodes_v = np.arange(taps_v[0].min(), taps_v[0].max() + 4)
            levels.append((k, taps_u, taps_v, nodes_u, nodes_v))
            qu = (nodes_u + self.phases[k, 0]) * su + du
            qv = (nodes_v + self.phases[k, 1]) * sv + dv
        grid = None
        for level, (k, _, _, nodes_u, nodes_v) in reversed(list(enumerate(levels))):  # coarse to fine: node values
            fresh = (_hash01(_mix(self.key, zone, k), nodes_u[None, :], nodes_v[:, None]) * 2 - 1) * self.amplitudes[k]
            if grid is not None:
                _, coarse_u, coarse_v, coarse_nodes_u, coarse_nodes_v = levels[level + 1]
                fresh += _interpolate(grid, coarse_u, coarse_v, coarse_nodes_u[0], coarse_nodes_v[0])
            grid = fresh
        _, taps_u, taps_v, nodes_u, nodes_v = levels[0]
        sigma = math.sqrt(sum(self.amplitudes[k] ** 2 for k in used) / 3.0 * _CUBIC_VARIANCE)
        return _interpolate(grid, taps_u, taps_v, nodes_u[0], nodes_v[0]) * np.float32(1.0 / sigma)

    def resolved_share(self, min_wavelength_m: float) -> float:
        """Standard deviation of the field seen by pixels of ``min_wavelength_m / 2``, relative to the full field's
        (1 where every octave is resolved). The octaves ``evaluate`` leaves out average away inside a pixel; where
        even the coarsest is finer than ``min_wavelength_m``, its variance falls as the pixel area it averages
        over grows, (wavelength / min_wavelength_m)^2. Multiply ``evaluate``'s unit-variance field by it for a
        texture whose contrast is set at full resolution."""
        power = [a * a for a in self.amplitudes]
        kept = sum(p for w, p in zip(self.wavelengths_m, power) if w >= min_wavelength_m)
        if kept == 0.0:
            kept = power[0] * (self.wavelengths_m[0] / min_wavelength_m) ** 2
        return math.sqrt(kept / sum(power))


def _fractal(seed: int, name: str, octaves: Sequence[tuple[float, float]], wind_m_s: tuple[float, float] = (0.0, 0.0),
             stretch_u: float = 1.0) -> _Fractal:
    """A :class:`_Fractal` with (wavelength_m, amplitude) ``octaves``; each drifts within ~5 % of ``wind_m_s``."""
    key = _mix(seed, *name.encode())
    rng = np.random.default_rng(key)
    speed = math.hypot(*wind_m_s)
    drift = np.asarray(wind_m_s, dtype=np.float64) * (1.0 + 0.05 * rng.standard_normal((len(octaves), 1)))
    drift += 0.05 * speed * rng.standard_normal((len(octaves), 2))
    return _Fractal(key, tuple(w for w, _ in octaves), tuple(a for _, a in octaves), rng.random((len(octaves), 2)),
                    drift, stretch_u)


def _ladder(coarsest_m: float, finest_m: float, gain: float, amplitude: float = 1.0) -> list[tuple[float, float]]:
    """Octaves halving in wavelength from ``coarsest_m`` to ``finest_m``, amplitude times ``gain`` each step."""
    n = int(math.floor(math.log2(coarsest_m / finest_m))) + 1
    return [(coarsest_m / 2**k, amplitude * gain**k) for k in range(n)]


# --- synthetic world --------------------------------------------------------------------------------------------

# Surface reflectance of the land-cover end-members in bands B, G, R, NIR (Landsat 8 OLI B2-B5, Sentinel-2 B2-B4, B8).
_ENDMEMBERS = ("crop", "forest", "soil_dark", "soil_bright", "urban", "water_clear", "water_turbid", "snow", "desert")
_SPECTRA = np.array([
    [0.025, 0.050, 0.028, 0.45],  # crop
    [0.018, 0.035, 0.020, 0.30],  # forest
    [0.050, 0.068, 0.100, 0.16],  # dark red tropical soil
    [0.110, 0.150, 0.200, 0.27],  # bright dry soil
    [0.110, 0.120, 0.130, 0.17],  # roofs, roads
    [0.028, 0.030, 0.014, 0.004],  # clear water
    [0.045, 0.068, 0.060, 0.022],  # turbid water
    [0.930, 0.910, 0.870, 0.63],  # snow
    [0.210, 0.300, 0.410, 0.46],  # sand desert
], dtype=np.float32)
CROP, FOREST, SOIL_DARK, SOIL_BRIGHT, ROOF, WATER_CLEAR, WATER_TURBID, SNOW_PACK, SAND = range(len(_ENDMEMBERS))
# Band centre wavelengths, micrometres: Landsat 8 OLI B2-B5 / Sentinel-2 MSI B2-B4, B8 (USGS, ESA band tables).
BAND_CENTRES_UM = np.array([0.49, 0.56, 0.665, 0.842], dtype=np.float32)


def rayleigh_optical_depth(wavelength_um: np.ndarray) -> np.ndarray:
    """Sea-level Rayleigh optical depth at ``wavelength_um`` (any shape, micrometres), unitless.

    Hansen & Travis (1974), Space Sci. Rev. 16, eq. 2.31: 0.008569 L^-4 (1 + 0.0113 L^-2 + 0.00013 L^-4)."""
    w2 = np.asarray(wavelength_um, dtype=np.float32) ** -2
    return (np.float32(0.008569) * w2 * w2 * (1 + np.float32(0.0113) * w2 + np.float32(0.00013) * w2 * w2))


_RAYLEIGH_TAU = rayleigh_optical_depth(BAND_CENTRES_UM)
ANGSTROM_EXPONENT = 1.3  # continental aerosol (Holben et al. 2001, AERONET climatology)
AEROSOL_ASYMMETRY = 0.65  # Henyey-Greenstein g of continental aerosol (Dubovik et al. 2002)
AEROSOL_SSA = 0.93  # single-scattering albedo (Dubovik et al. 2002)
AOD550_MEDIAN = 0.14  # global median aerosol optical depth at 550 nm over land (Remer et al. 2008, MODIS)
AOD_LOG_SIGMA = 0.75  # AOD is log-normal, sigma of ln(AOD) ~0.6-0.9 at AERONET sites (O'Neill et al. 2000)
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
_SKY_DIFFUSE_SHARE = 0.25  # share of ground irradiance that is sky light, which still reaches a cloud's shadow
SHADOW_MAX_ILLUMINATION = 0.75  # ground lit at most this much (relative to sunlit) is flagged cloud shadow
RELIEF_LOWLAND_M, RELIEF_PER_ELEVATION = 15.0, 0.06  # local relief (std, m) = lowland + share * elevation
_DISTRICT_M = 12_000.0  # farmland is laid out in square districts, each with its own field orientation and size


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


def _seconds_since(epoch: datetime, time_utc: datetime) -> float:
    """Seconds from ``epoch`` to ``time_utc`` (a naive time is taken as UTC)."""
    if time_utc.tzinfo is None:
        time_utc = time_utc.replace(tzinfo=timezone.utc)
    return (time_utc - epoch).total_seconds()


@dataclass
class _CloudColumn:
    """The clouds over a footprint, each (H, W) float32 unless noted."""

    scaled_tau: np.ndarray  # sum over the layers of (1 - g) tau
    sunlit: np.ndarray  # ground illumination relative to a cloud-free sky (cumulus shadows)
    brightness: np.ndarray  # cloud-top reflectance factor: sunlit and shaded cumulus flanks
    cloud: np.ndarray  # uint8 truth: clear, thin, thick
    shadow: np.ndarray  # bool truth: cloud shadow


def _compose(surface: Sequence[np.ndarray], column: _CloudColumn, rayleigh_path: np.ndarray,
             aerosol_path: np.ndarray, rayleigh_t: np.ndarray, transmittance: np.ndarray,
             rayleigh_tau: np.ndarray) -> list[np.ndarray]:
    """TOA reflectance planes (H, W) of ``surface`` planes under a cloud column and an atmosphere (per band, as
    :meth:`SyntheticWorld._atmosphere` gives it)."""
    r_cloud = cloud_reflectance(column.scaled_tau) * column.brightness
    t_cloud = 1 - cloud_reflectance(column.scaled_tau)
    toa = []
    for b, plane in enumerate(surface):
        ground = plane * column.sunlit
        # Adding method: the cloud layer over the ground, light bouncing between them (Liou 2002, sec. 6.4)
        below = t_cloud * t_cloud * ground / (1 - r_cloud * ground)
        # Aerosol lies mostly below the cloud tops (scale height ~2 km), the Rayleigh atmosphere mostly above
        # (~8 km): a cloud hides the aerosol's path reflectance and is seen through the Rayleigh atmosphere
        # and lit by the sky light it sends back down (spherical albedo ~0.92 tau_R; Tanre et al. 1979)
        toa.append(rayleigh_path[b] + aerosol_path[b] * t_cloud
                   + rayleigh_t[b] * r_cloud / (1 - np.float32(0.92) * rayleigh_tau[b] * r_cloud)
                   + transmittance[b] * below)
    return toa


class SyntheticWorld(World):
    """A procedural Earth with land cover, texture, haze, clouds and cloud shadows; deterministic in (place, time,
    seed).

    Land cover follows a crude climate (latitude, season, a fractal elevation): snow, desert, lakes, rivers with
    riparian forest, towns, natural vegetation and farmland in parcels. Each pixel's surface reflectance is a linear
    mixture of end-member spectra. Texture is what varies on real ground: leaf area within each stand (red falls as
    near infrared rises), shade in the gaps between crowns, sharp-edged stands and fields, and gentle relief lit by
    the sun (:meth:`_relief_shading`); texture finer than a pixel averages away (:meth:`_Fractal.resolved_share`).
    The atmosphere adds Rayleigh and aerosol path reflectance and attenuates the ground (:meth:`_atmosphere`);
    aerosol optical depth varies from region to region, so some places are hazy.

    Three cloud layers, each an optical-thickness field: low cumulus (fractal, optically thick cores, thin
    fringes), a mid-level altocumulus deck (a cellular sheet with holes, grey and semi-transparent) and high cirrus
    (streaks stretched along the wind, thin). Their scaled optical thicknesses add, and the column's reflectance
    and transmittance follow the Eddington solution (:func:`cloud_reflectance`). Truth is exact: cloud is thin
    where the column's optical thickness is at least THIN_CLOUD_TAU and thick from THICK_CLOUD_TAU; fainter
    fringes are clear. The cover drifts with the wind and varies regionally around ``mean_cloud_cover`` (the
    expected fraction of pixels flagged thin or thick). Cumulus shadows fall ``cloud_height_m / tan(sun
    elevation)`` from their cloud, away from the sun.
    """

    bands_available = SYNTHETIC_BANDS

    def __init__(self, seed: int, mean_cloud_cover: float, cloud_height_m: float = 1500.0,
                 cirrus_share: float = 0.25, wind_speed_m_s: float = 8.0, deck_share: float = 0.25):
        """``cirrus_share``, ``deck_share``: parts of ``mean_cloud_cover`` that are cirrus and altocumulus deck
        (their sum at most 1); the rest is cumulus. The wind blows a seed-chosen way."""
        if not 0.0 <= mean_cloud_cover <= 1.0:
            raise ValueError(f"mean_cloud_cover must be in [0, 1], got {mean_cloud_cover}")
        if not (0.0 <= cirrus_share <= 1.0 and 0.0 <= deck_share <= 1.0 and cirrus_share + deck_share <= 1.0):
            raise ValueError(f"cirrus_share and deck_share must be in [0, 1] with a sum at most 1, "
                             f"got {cirrus_share}, {deck_share}")
        if cloud_height_m < 0.0 or wind_speed_m_s < 0.0:
            raise ValueError(f"cloud_height_m and wind_speed_m_s must be >= 0, got {cloud_height_m}, {wind_speed_m_s}")
        self.seed = int(seed)
        self.mean_cloud_cover = float(mean_cloud_cover)
        self.cloud_height_m = float(cloud_height_m)
        wind_dir = 2.0 * math.pi * _unit(_mix(self.seed, 0x17D), 0)
        wind = (wind_speed_m_s * math.sin(wind_dir), wind_speed_m_s * math.cos(wind_dir))
        s = self.seed
        self._terrain = _fractal(s, "terrain", _ladder(400e3, 500.0, 0.5))
        self._arid = _fractal(s, "arid", _ladder(3000e3, 2e3, 0.5))
        self._wild = _fractal(s, "wild", _ladder(40e3, 20.0, 0.6))  # nature vs farmland; its deepest lows are lakes
        self._river = _fractal(s, "river", _ladder(20e3, 40.0, 0.45))
        self._urban = _fractal(s, "urban", _ladder(12e3, 40.0, 0.55))  # towns on its peaks, brooks on its zeros
        # Relief: elevation spectra of real terrain fall as k^-2 (amplitude halving per octave), so every octave
        # adds about the same slope (Huang & Turcotte 1989, J. Geophys. Res. 94).
        self._relief = _fractal(s, "relief", _ladder(16e3, 40.0, 0.5))
        self._stands = _fractal(s, "stands", _ladder(3000.0, 100.0, 0.6))  # forest stands, meadows, scrub
        self._canopy = _fractal(s, "canopy", _ladder(40.0, 5.0, 0.9))  # tree crowns and the gaps between them
        self._stand_key = _mix(s, 0x57A)
        self._aerosol = _fractal(s, "aerosol", _ladder(1000e3, 20e3, 0.7), wind)  # smooth: haze has no texture
        # Cloud fields: regional octaves (cover varies from place to place and with the weather) over a k^-5/3
        # spectrum (amplitude x 2^-1/3 per halving), as measured in real cloud fields.
        regional = _ladder(2000e3, 250e3, 0.7, 0.75)
        self._cumulus = _fractal(s, "cumulus", regional + _ladder(20e3, 40.0, 0.79), wind)
        self._deck = _fractal(s, "deck", regional + _ladder(60e3, 500.0, 0.6), wind)
        self._cells = _fractal(s, "cells", _ladder(600.0, 40.0, 0.8), wind)  # altocumulus cells, ~300 m
        self._cirrus = _fractal(s, "cirrus", regional + _ladder(40e3, 40.0, 0.75), wind, 4.0)
        self._deck_tau = 0.5 + 0.5 * _unit(_mix(s, 0xDEC), 0)  # each world's decks, thin altocumulus to altostratus
        cover = self.mean_cloud_cover
        cirrus_p, deck_p = cirrus_share * cover, deck_share * cover
        rest = (1.0 - cirrus_p) * (1.0 - deck_p)
        cumulus_p = 1.0 - (1.0 - cover) / rest if rest > 0.0 else 0.0
        # independent fields: P(cumulus or deck or cirrus) = mean_cloud_cover
        self._cumulus_level = _threshold(cumulus_p)
        self._deck_level = _threshold(deck_p)
        self._cirrus_level = _threshold(cirrus_p)

    def render(self, footprint: GridFootprint, time_utc: datetime, sun_elevation_deg: float,
               sun_azimuth_deg: float, bands: Sequence[str]) -> Scene:
        """Render ``bands`` in ``footprint``; the sun must be above the horizon (azimuth clockwise from north)."""
        index = _band_indices(bands, self.bands_available, "the synthetic world")
        if not 0.0 < sun_elevation_deg <= 90.0:
            raise ValueError(f"sun_elevation_deg must be in (0, 90] to image, got {sun_elevation_deg}")
        args = (_seconds_since(CLOUD_EPOCH_UTC, time_utc), time_utc.timetuple().tm_yday,
                math.radians(sun_elevation_deg), math.radians(sun_azimuth_deg))
        e, n = footprint.pixel_centres_m()
        ring_e = np.concatenate([e, e, np.full(n.size, e[0]), np.full(n.size, e[-1])])
        ring_n = np.concatenate([np.full(e.size, n[0]), np.full(e.size, n[-1]), n, n])
        lat, lon = from_utm(ring_e, ring_n, footprint.zone, footprint.south)
        if np.all(utm_zones(lon, lat) == footprint.zone):
            planes, cloud, shadow, landcover = self._render_native(footprint, *args)
            reflectance = cv2.merge([planes[k] for k in index]).reshape(cloud.shape + (len(index),))
        else:
            reflectance, cloud, shadow, landcover = self._render_reprojected(footprint, index, *args)
        return Scene(reflectance, cloud, shadow, landcover, np.ones(cloud.shape, dtype=bool))

    def _render_reprojected(self, footprint: GridFootprint, index: list[int], *args: Any) -> tuple[np.ndarray, ...]:
        """Render a footprint that reaches outside its CRS's own zone: each zone's part on its native grid, resampled."""
        lat, lon = footprint.pixel_centres_latlon(step_px=16)
        zones = utm_zones(lon, lat)
        h, w, gsd = footprint.height_px, footprint.width_px, footprint.gsd_m
        out = [np.zeros((h, w, len(index)), np.float32), np.zeros((h, w), np.uint8), np.zeros((h, w), bool),
               np.zeros((h, w), np.uint8)]
        for zone in np.unique(zones):
            # only the rows and columns the zone's part spans: a frame over a pole touches all 60 zones
            rows, cols = (np.flatnonzero((zones == zone).any(axis=axis)) for axis in (1, 0))
            box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
            part = zones[box] == zone
            e, n = footprint.window(rows[0], cols[0], part.shape[0], part.shape[1]).pixel_centres_in(
                epsg_code(int(zone), False))
            x0 = math.floor(e[part].min() / gsd - 2) * gsd
            y0 = math.ceil(n[part].max() / gsd + 2) * gsd
            native = GridFootprint(epsg_code(int(zone), False), x0, y0, gsd,
                                   math.ceil((e[part].max() - x0) / gsd) + 3, math.ceil((y0 - n[part].min()) / gsd) + 3)
            map_x = ((e - x0) / gsd - 0.5).astype(np.float32)
            map_y = ((y0 - n) / gsd - 0.5).astype(np.float32)
            planes, *masks = self._render_native(native, *args)
            for k, layer in enumerate([cv2.merge([planes[i] for i in index])] + masks):
                method = cv2.INTER_LINEAR if k == 0 else cv2.INTER_NEAREST
                resampled = cv2.remap(layer.view(np.uint8) if layer.dtype == bool else layer, map_x, map_y, method,
                                      borderMode=cv2.BORDER_REPLICATE)
                out[k][box][part] = resampled.reshape(part.shape + out[k].shape[2:])[part]
        return tuple(out)

    def _render_native(self, footprint: GridFootprint, t_s: float, day_of_year: int, sun_elevation_rad: float,
                       sun_azimuth_rad: float) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        """TOA reflectance (4 (H, W) float32 planes, B G R NIR), cloud uint8, shadow bool and land cover uint8 of a
        footprint in its own zone."""
        u, v = _world_axes(footprint)

        def field(f: _Fractal, du_m: float = 0.0, dv_m: float = 0.0) -> np.ndarray:
            return f.evaluate(footprint.zone, u + du_m, v + dv_m, t_s, 2.0 * footprint.gsd_m)

        surface, landcover = self._surface(footprint.zone, u, v, day_of_year, field,
                                           (footprint.gsd_m, sun_elevation_rad, sun_azimuth_rad))
        atmosphere = self._atmosphere(field(self._aerosol), math.sin(sun_elevation_rad))
        column = self._clouds(footprint, field, t_s, sun_elevation_rad, sun_azimuth_rad)
        return _compose(surface, column, *atmosphere, _RAYLEIGH_TAU), column.cloud, column.shadow, landcover

    def _clouds(self, footprint: GridFootprint, field: Any, t_s: float, sun_elevation_rad: float,
                sun_azimuth_rad: float) -> _CloudColumn:
        """The cloud column over a footprint in its own zone: the three layers' optical thickness, the ground's
        illumination under cumulus shadows, and the truth codes. ``field(f, du_m, dv_m)`` evaluates a fractal on the
        footprint's grid, shifted by (du_m, dv_m)."""
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
            sunlit = np.float32(_SKY_DIFFUSE_SHARE) + np.float32(1 - _SKY_DIFFUSE_SHARE) * (
                1 - cloud_reflectance(np.float32(1 - WATER_CLOUD_ASYMMETRY) * up_sun))
            ring_u, ring_v = _world_axes(footprint.window(-1, -1, footprint.height_px + 2, footprint.width_px + 2))
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
        return _CloudColumn(scaled_tau, sunlit, brightness, cloud, shadow)

    @staticmethod
    def _atmosphere(aerosol: np.ndarray, mu_sun: float) -> tuple[np.ndarray, ...]:
        """Rayleigh and aerosol path reflectance, Rayleigh-only and total two-way transmittance, each (4, H, W)
        (or (4, 1, 1) for Rayleigh), for a nadir view with the sun's zenith cosine ``mu_sun``; ``aerosol`` (H, W) is
        a unit-variance field that sets the aerosol optical depth.

        AOD at 550 nm is log-normal around AOD550_MEDIAN (AOD_LOG_SIGMA), with ANGSTROM_EXPONENT across the
        bands. Path reflectance is single scattering (Gordon 1997, J. Geophys. Res. 102, eq. 3):
        ``(tau_R P_R + w tau_a P_HG) / (4 mu_s mu_v)`` at the backscatter angle 180 deg - sun zenith, Rayleigh phase
        0.75 (1 + cos^2), Henyey-Greenstein for aerosol. Diffuse transmittance keeps the forward-scattered light:
        ``exp(-(tau_R / 2 + (1 - w g) tau_a) (1/mu_s + 1/mu_v))`` (Gordon & Wang 1994, Appl. Opt. 33, 443)."""
        mu_sun = max(mu_sun, 0.1)
        cos_scatter = -mu_sun  # nadir view: scattering angle 180 deg minus the sun's zenith angle
        rayleigh_phase = 0.75 * (1.0 + cos_scatter**2)
        g = AEROSOL_ASYMMETRY
        aerosol_phase = (1 - g * g) / (1 + g * g - 2 * g * cos_scatter) ** 1.5
        aod550 = np.float32(AOD550_MEDIAN) * np.exp(np.float32(AOD_LOG_SIGMA) * aerosol)
        airmass = np.float32(1.0 / mu_sun + 1.0)
        tau_r = _RAYLEIGH_TAU[:, None, None]
        tau_a = aod550[None] * ((BAND_CENTRES_UM / np.float32(0.55)) ** np.float32(-ANGSTROM_EXPONENT))[:, None, None]
        rayleigh_path = tau_r * np.float32(rayleigh_phase / (4.0 * mu_sun))
        aerosol_path = tau_a * np.float32(AEROSOL_SSA * aerosol_phase / (4.0 * mu_sun))
        rayleigh_t = np.exp(-tau_r / 2 * airmass)
        return rayleigh_path, aerosol_path, rayleigh_t, rayleigh_t * np.exp(-np.float32(1 - AEROSOL_SSA * g) * tau_a
                                                                             * airmass)

    def _surface(self, zone: int, u: np.ndarray, v: np.ndarray, day_of_year: int, field: Any,
                 sun: tuple[float, float, float]) -> tuple[list[np.ndarray], np.ndarray]:
        """Surface reflectance (4 (H, W) float32 planes, a linear mixture of ``_SPECTRA`` end-members, lit as its
        slopes face the sun) and land cover (H, W) uint8. ``sun``: GSD (m), sun elevation and azimuth (rad)."""
        lat, winter, temp_c = _climate(zone, v, day_of_year)
        terrain, wild = field(self._terrain), field(self._wild)
        # leaf area (red falls as near infrared rises) and, independent of it, shade in the gaps between crowns
        share = np.float32(self._canopy.resolved_share(2.0 * sun[0]))
        canopy, gaps = field(self._canopy) * share, field(self._canopy, 5e3, 5e3) * share
        elevation_m = np.maximum(600.0 + 700.0 * terrain, 0.0)
        relief_m, shade = self._relief_shading(field, elevation_m, *sun)
        snow = np.clip((0.5 - temp_c / 3.0) + (6.5e-3 / 3.0) * (elevation_m + relief_m) - 0.1 * canopy, 0, 1)
        regional = field(self._arid)
        arid = 1.7 * np.exp(-(((np.abs(lat) - 23.0) / 11.0) ** 2)) + 0.8 * regional
        dry = np.clip((arid - 0.5) / 1.2, 0, 1)
        desert = (arid + 0.3 * wild > 1.9) & (snow < 0.5)
        river = np.abs(field(self._river))
        water = ((wild + 0.35 * terrain < -2.4) & (dry < 0.7)) | ((river < 0.015) & (dry < 0.8))
        water &= ~desert
        towns = field(self._urban)
        urban = (towns > 2.3) & ~water & ~desert
        streams = (np.abs(towns) < 0.06) & (dry < 0.6)  # brooks every few km, lined with trees
        natural = (wild > 0.8 - 0.03 * np.maximum(np.abs(lat) - 50.0, 0) - dry) | (river < 0.1) | streams

        parcel, tone, edge_m, block = self._farmland(zone, u, v, (wild, river), urban)
        stand = _hash01(self._stand_key, np.floor(1.5 * field(self._stands)).astype(np.int64), zone)
        crop = np.where(parcel < 0.45, 0.75 + 0.25 * tone, np.where(parcel < 0.75, 0.08 * tone, 0.25 + 0.4 * tone))
        cover = np.where(natural, np.minimum((0.8 + 0.18 * stand) * (1.0 + 0.12 * canopy), 1.0) * (1.0 - 0.3 * winter),
                         crop * (1.0 + 0.04 * canopy) * (1.0 - 0.7 * winter)) * (1.0 - 0.6 * dry)
        hedge = np.where(natural, np.float32(0), np.maximum(0.5 - edge_m / 16.0, 0))  # field edges: hedges, tracks
        light = np.clip(np.where(natural, np.float32(0.3), 0.3 * tone) + 0.2 + 0.3 * regional + dry, 0, 1)
        gain = 1.0 + gaps * np.where(natural, np.float32(0.06), np.float32(0.02))
        veg, bare = cover * (1.0 - hedge) * gain, (1.0 - cover) * (1.0 - hedge) * gain
        forest = np.where(natural, (0.25 + 0.75 * stand) * (1.0 - 0.5 * dry), np.float32(0)) * veg
        mix = [veg - forest, forest + hedge * gain, bare * (1.0 - light), bare * light]  # CROP .. SOIL_BRIGHT
        trees, buildings = block > 0.85, (0.55 + 1.1 * block) * gain  # block: 0 outside towns
        dunes = 1.0 + 0.06 * np.sin((u % 300.0).astype(np.float32)[None, :] * np.float32(2 * np.pi / 300.0)
                                    + relief_m / 30.0) + 0.02 * canopy
        turbid = np.clip(0.4 + 0.5 * regional + 0.2 * field(self._stands), 0, 1)  # sediment varies by region
        surface = []
        for b in range(4):
            plane = mix[0] * _SPECTRA[CROP, b]
            for e in (FOREST, SOIL_DARK, SOIL_BRIGHT):
                plane += mix[e] * _SPECTRA[e, b]
            if urban.any():
                plane = np.where(urban, np.where(trees, _SPECTRA[FOREST, b] * gain, _SPECTRA[ROOF, b] * buildings), plane)
            if desert.any():
                plane = np.where(desert, _SPECTRA[SAND, b] * dunes, plane)
            if water.any():
                clear, murky = _SPECTRA[WATER_CLEAR, b], _SPECTRA[WATER_TURBID, b]
                plane = np.where(water, clear + (murky - clear) * turbid, plane)
            if snow.any():
                plane += snow * (_SPECTRA[SNOW_PACK, b] * (1.0 + 0.03 * canopy) - plane)  # wind-packed: smooth
            surface.append(np.where(water, plane, plane * shade))
        landcover = np.where(veg + hedge * gain >= 0.5 * gain, VEGETATION, SOIL).astype(np.uint8)
        landcover[urban] = URBAN
        landcover[desert] = DESERT
        landcover[water] = WATER
        landcover[snow >= 0.5] = SNOW
        return surface, landcover

    def _relief_shading(self, field: Any, elevation_m: np.ndarray, gsd_m: float, sun_elevation_rad: float,
                        sun_azimuth_rad: float) -> tuple[np.ndarray, np.ndarray]:
        """Local relief (H, W) float32 metres about the regional ``elevation_m`` and the ground's illumination
        (H, W) float32 relative to flat ground: the direct sun on each slope, plus sky light that every slope gets.

        Relief (standard deviation) grows with elevation: RELIEF_LOWLAND_M + RELIEF_PER_ELEVATION x elevation, ~20 m
        on lowland plains, ~135 m at 2000 m. It is gentle on purpose: kilometre-wide blobs that brighten every band
        together are what clouds look like, and a real-trained cloud CNN flags them (benchmarks/realism.py). Slopes
        are forward differences over one pixel. The direct share follows Lambert's cosine law,
        cos(i) / cos(sun zenith) (Teillet et al. 1982, Can. J. Remote Sens. 8), with cos(i) the cosine between
        the slope's normal and the sun."""
        scale_m = np.float32(RELIEF_LOWLAND_M) + np.float32(RELIEF_PER_ELEVATION) * elevation_m
        relief = field(self._relief)
        slope_u = (field(self._relief, gsd_m, 0.0) - relief) * scale_m / np.float32(gsd_m)  # dz/dx, east
        slope_v = (field(self._relief, 0.0, gsd_m) - relief) * scale_m / np.float32(gsd_m)  # dz/dy, north
        sin_e, cos_e = math.sin(sun_elevation_rad), math.cos(sun_elevation_rad)
        toward_sun = slope_u * np.float32(math.sin(sun_azimuth_rad)) + slope_v * np.float32(math.cos(sun_azimuth_rad))
        cos_i = (np.float32(sin_e) - np.float32(cos_e) * toward_sun) / np.sqrt(1 + slope_u**2 + slope_v**2)
        shade = np.float32(_SKY_DIFFUSE_SHARE) + np.float32((1 - _SKY_DIFFUSE_SHARE) / sin_e) * np.maximum(cos_i, 0)
        return relief * scale_m, shade

    def _farmland(self, zone: int, u: np.ndarray, v: np.ndarray, warp: tuple[np.ndarray, np.ndarray],
                  urban: np.ndarray) -> tuple[np.ndarray, ...]:
        """Field parcels: per pixel (H, W) float32 parcel draw, tone draw, distance to the parcel edge (m), and
        (where ``urban``) a draw per ~30 m building block. ``warp``: two smooth (H, W) fields that bend boundaries.

        Each district has its own orientation, strip width and parcel length. Strips are one or two widths wide
        and cut into parcels whose length varies from strip to strip, like a cadastre.
        """
        shape = (v.size, u.size)
        parcel, tone, edge_m = (np.empty(shape, np.float32) for _ in range(3))
        block = np.zeros(shape, np.float32)
        col_district = np.floor(u / _DISTRICT_M).astype(np.int64)
        row_district = np.floor(v / _DISTRICT_M).astype(np.int64)
        for du in np.unique(col_district):
            cols = np.flatnonzero(col_district == du)
            cs = slice(cols[0], cols[-1] + 1)
            for dv in np.unique(row_district):
                rows = np.flatnonzero(row_district == dv)
                rs = slice(rows[0], rows[-1] + 1)
                key = _mix(self.seed, zone, int(du), int(dv))
                angle = math.pi * _unit(key, 0)
                cos, sin = np.float32(math.cos(angle)), np.float32(math.sin(angle))
                width_m = np.float32(150.0 + 300.0 * _unit(key, 1))
                length_m = np.float32(250.0 + 900.0 * _unit(key, 2))
                x = (u[cs] - du * _DISTRICT_M).astype(np.float32)[None, :]
                y = (v[rs] - dv * _DISTRICT_M).astype(np.float32)[:, None]
                a = x * cos + y * sin + 100.0 * warp[0][rs, cs]
                b = y * cos - x * sin + 300.0 * warp[1][rs, cs]
                raw = np.floor(b / width_m)
                fb = b / width_m - raw
                first = int(raw.min()) - 1
                raw = raw.astype(np.int32) - first
                strips = np.arange(first, first + raw.max() + 2)
                merged = _hash01(key, strips, 0) < 0.35  # strip j is joined to strip j - 1
                joined = merged[raw]
                strip = raw - joined  # index into strips
                below = (fb + joined) * width_m  # a joined strip's lower edge is one width further
                above = (1 + merged[raw + 1] - fb) * width_m
                lengths = (length_m * (0.5 + _hash01(key, strips, 1)))[strip]
                along = a / lengths + _hash01(key, strips, 2)[strip]
                index = np.floor(along)
                fa = along - index
                index = index.astype(np.int32)
                lowest = int(index.min())
                span = int(index.max()) - lowest + 1
                draws = _hash01(key ^ 1, np.arange(lowest, lowest + span)[None, :], strips[:, None], 2)
                flat = strip * span + (index - lowest)
                parcel[rs, cs] = np.take(draws[0].ravel(), flat)
                tone[rs, cs] = np.take(draws[1].ravel(), flat)
                edge_m[rs, cs] = np.minimum(np.minimum(fa, 1 - fa) * lengths, np.minimum(below, above))
                town = urban[rs, cs]
                if town.any():
                    block[rs, cs][town] = _hash01(key ^ 3, np.floor(a[town] / 30.0).astype(np.int64),
                                                  np.floor(b[town] / 30.0).astype(np.int64))
        return parcel, tone, edge_m, block


def _climate(zone: int, v: np.ndarray, day_of_year: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latitude (deg), winter (0 summer or tropics, 1 deep winter) and a crude surface temperature (deg C), each
    (H, 1) float32, at world northings ``v`` (H,) of ``zone`` on ``day_of_year``."""
    lat = from_utm(FALSE_EASTING_M, v, zone, False)[0].astype(np.float32)[:, None]
    season = math.cos(2.0 * math.pi * (day_of_year - 196) / 365.25)  # +1 in northern midsummer
    winter = np.clip(-season * np.sign(lat) * (np.abs(lat) - 25.0) / 25.0, 0, 1)
    temp_c = 27.0 - 0.0055 * lat**2 - 0.03 * np.maximum(np.abs(lat) - 55.0, 0) ** 2 + 0.2 * lat * season
    return lat, winter, temp_c


def _world_axes(footprint: GridFootprint) -> tuple[np.ndarray, np.ndarray]:
    """World coordinates of a footprint in a UTM zone: u = easting (W,), v = northing (H,) with no false northing.

    ValueError for a UPS footprint: world coordinates are UTM, and ``render`` resamples a UPS footprint from the
    UTM zones it covers (the UPS false northing is not the UTM one)."""
    if footprint.zone == UPS_ZONE:
        raise ValueError(f"world coordinates are UTM; EPSG:{footprint.epsg} is UPS and must be resampled from UTM")
    u, v = footprint.pixel_centres_m()
    return u, (v - FALSE_NORTHING_SOUTH_M if footprint.south else v)
