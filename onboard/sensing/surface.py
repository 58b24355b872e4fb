"""The synthetic world's land: land cover from a crude climate, and its surface reflectance in bands B, G, R, NIR.

Land cover follows latitude, season and a fractal elevation: snow, desert, lakes, rivers with riparian forest, towns,
natural vegetation and farmland in parcels. Each pixel's surface reflectance is a linear mixture of end-member
spectra. Texture is what varies on real ground: leaf area within each stand (red falls as near infrared rises), shade
in the gaps between crowns, sharp-edged stands and fields, and gentle relief lit by the sun
(:meth:`Surface.relief_shading`); texture finer than a pixel averages away
(:meth:`~onboard.sensing.noise.Fractal.resolved_share`).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from rundir.truth import DESERT, SNOW, SOIL, URBAN, VEGETATION, WATER

from .atmosphere import SKY_DIFFUSE_SHARE
from .noise import fractal, hash01, ladder, mix, unit
from .projection import FALSE_EASTING_M, from_utm

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
RELIEF_LOWLAND_M, RELIEF_PER_ELEVATION = 15.0, 0.06  # local relief (std, m) = lowland + share * elevation
_DISTRICT_M = 12_000.0  # farmland is laid out in square districts, each with its own field orientation and size


class Surface:
    """The land of one world seed: its fractal fields and the reflectance and land cover they give a footprint."""

    def __init__(self, seed: int):
        self.seed = s = int(seed)
        self._terrain = fractal(s, "terrain", ladder(400e3, 500.0, 0.5))
        self._arid = fractal(s, "arid", ladder(3000e3, 2e3, 0.5))
        self._wild = fractal(s, "wild", ladder(40e3, 20.0, 0.6))  # nature vs farmland; its deepest lows are lakes
        self._river = fractal(s, "river", ladder(20e3, 40.0, 0.45))
        self._urban = fractal(s, "urban", ladder(12e3, 40.0, 0.55))  # towns on its peaks, brooks on its zeros
        # Relief: the amplitude halves per octave (Hurst exponent 1, profile spectra falling as k^-3), so every octave
        # adds about the same slope and a pixel's slopes do not grow as the GSD shrinks: a modelling choice. Real
        # terrain's profile spectra fall about as k^-2 (Huang & Turcotte 1989, J. Geophys. Res. 94; amplitude x0.71
        # per octave), rougher at short wavelengths than this relief.
        self._relief = fractal(s, "relief", ladder(16e3, 40.0, 0.5))
        self._stands = fractal(s, "stands", ladder(3000.0, 100.0, 0.6))  # forest stands, meadows, scrub
        self._canopy = fractal(s, "canopy", ladder(40.0, 5.0, 0.9))  # tree crowns and the gaps between them
        self._stand_key = mix(s, 0x57A)

    def reflectance(self, zone: int, u: np.ndarray, v: np.ndarray, day_of_year: int, field: Callable[..., np.ndarray],
                    sun: tuple[float, float, float]) -> tuple[list[np.ndarray], np.ndarray]:
        """Surface reflectance (4 (H, W) float32 planes, B G R NIR, a linear mixture of ``_SPECTRA`` end-members, lit
        as its slopes face the sun) and land cover (H, W) uint8 (:mod:`rundir.truth` codes) at world coordinates
        ``u`` (W,) x ``v`` (H,) metres of ``zone``. ``field(f, du_m, dv_m)`` evaluates a fractal on that grid, shifted
        by (du_m, dv_m); ``sun``: GSD (m), sun elevation and azimuth (rad)."""
        lat, winter, temp_c = _climate(zone, v, day_of_year)
        terrain, wild = field(self._terrain), field(self._wild)
        # leaf area (red falls as near infrared rises) and, independent of it, shade in the gaps between crowns
        share = np.float32(self._canopy.resolved_share(2.0 * sun[0]))
        canopy, gaps = field(self._canopy) * share, field(self._canopy, 5e3, 5e3) * share
        elevation_m = np.maximum(600.0 + 700.0 * terrain, 0.0)
        relief_m, shade = self.relief_shading(field, elevation_m, *sun)
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
        stand = hash01(self._stand_key, np.floor(1.5 * field(self._stands)).astype(np.int64), zone)
        crop = np.where(parcel < 0.45, 0.75 + 0.25 * tone, np.where(parcel < 0.75, 0.08 * tone, 0.25 + 0.4 * tone))
        cover = np.where(natural, np.minimum((0.8 + 0.18 * stand) * (1.0 + 0.12 * canopy), 1.0) * (1.0 - 0.3 * winter),
                         crop * (1.0 + 0.04 * canopy) * (1.0 - 0.7 * winter)) * (1.0 - 0.6 * dry)
        hedge = np.where(natural, np.float32(0), np.maximum(0.5 - edge_m / 16.0, 0))  # field edges: hedges, tracks
        light = np.clip(np.where(natural, np.float32(0.3), 0.3 * tone) + 0.2 + 0.3 * regional + dry, 0, 1)
        gain = 1.0 + gaps * np.where(natural, np.float32(0.06), np.float32(0.02))
        veg, bare = cover * (1.0 - hedge) * gain, (1.0 - cover) * (1.0 - hedge) * gain
        forest = np.where(natural, (0.25 + 0.75 * stand) * (1.0 - 0.5 * dry), np.float32(0)) * veg
        shares = [veg - forest, forest + hedge * gain, bare * (1.0 - light), bare * light]  # CROP .. SOIL_BRIGHT
        trees, buildings = block > 0.85, (0.55 + 1.1 * block) * gain  # block: 0 outside towns
        dunes = 1.0 + 0.06 * np.sin((u % 300.0).astype(np.float32)[None, :] * np.float32(2 * np.pi / 300.0)
                                    + relief_m / 30.0) + 0.02 * canopy
        turbid = np.clip(0.4 + 0.5 * regional + 0.2 * field(self._stands), 0, 1)  # sediment varies by region
        surface = []
        for b in range(4):
            plane = shares[0] * _SPECTRA[CROP, b]
            for e in (FOREST, SOIL_DARK, SOIL_BRIGHT):
                plane += shares[e] * _SPECTRA[e, b]
            if urban.any():
                built = np.where(trees, _SPECTRA[FOREST, b] * gain, _SPECTRA[ROOF, b] * buildings)
                plane = np.where(urban, built, plane)
            if desert.any():
                plane = np.where(desert, _SPECTRA[SAND, b] * dunes, plane)
            if water.any():
                clear, murky = _SPECTRA[WATER_CLEAR, b], _SPECTRA[WATER_TURBID, b]
                plane = np.where(water, clear + (murky - clear) * turbid, plane)
            if snow.any():
                plane += snow * (_SPECTRA[SNOW_PACK, b] * (1.0 + 0.03 * canopy) - plane)  # wind-packed: smooth
            surface.append(np.where(water, plane, plane * shade))
        return surface, _landcover(veg + hedge * gain >= 0.5 * gain, urban, desert, water, snow >= 0.5)

    def relief_shading(self, field: Callable[..., np.ndarray], elevation_m: np.ndarray, gsd_m: float,
                       sun_elevation_rad: float, sun_azimuth_rad: float) -> tuple[np.ndarray, np.ndarray]:
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
        shade = np.float32(SKY_DIFFUSE_SHARE) + np.float32((1 - SKY_DIFFUSE_SHARE) / sin_e) * np.maximum(cos_i, 0)
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
                key = mix(self.seed, zone, int(du), int(dv))
                angle = math.pi * unit(key, 0)
                cos, sin = np.float32(math.cos(angle)), np.float32(math.sin(angle))
                width_m = np.float32(150.0 + 300.0 * unit(key, 1))
                length_m = np.float32(250.0 + 900.0 * unit(key, 2))
                x = (u[cs] - du * _DISTRICT_M).astype(np.float32)[None, :]
                y = (v[rs] - dv * _DISTRICT_M).astype(np.float32)[:, None]
                a = x * cos + y * sin + 100.0 * warp[0][rs, cs]
                b = y * cos - x * sin + 300.0 * warp[1][rs, cs]
                raw = np.floor(b / width_m)
                fb = b / width_m - raw
                first = int(raw.min()) - 1
                raw = raw.astype(np.int32) - first
                strips = np.arange(first, first + raw.max() + 2)
                merged = hash01(key, strips, 0) < 0.35  # strip j is joined to strip j - 1
                joined = merged[raw]
                strip = raw - joined  # index into strips
                below = (fb + joined) * width_m  # a joined strip's lower edge is one width further
                above = (1 + merged[raw + 1] - fb) * width_m
                lengths = (length_m * (0.5 + hash01(key, strips, 1)))[strip]
                along = a / lengths + hash01(key, strips, 2)[strip]
                index = np.floor(along)
                fa = along - index
                index = index.astype(np.int32)
                lowest = int(index.min())
                span = int(index.max()) - lowest + 1
                draws = hash01(key ^ 1, np.arange(lowest, lowest + span)[None, :], strips[:, None], 2)
                flat = strip * span + (index - lowest)
                parcel[rs, cs] = np.take(draws[0].ravel(), flat)
                tone[rs, cs] = np.take(draws[1].ravel(), flat)
                edge_m[rs, cs] = np.minimum(np.minimum(fa, 1 - fa) * lengths, np.minimum(below, above))
                town = urban[rs, cs]
                if town.any():
                    block[rs, cs][town] = hash01(key ^ 3, np.floor(a[town] / 30.0).astype(np.int64),
                                                 np.floor(b[town] / 30.0).astype(np.int64))
        return parcel, tone, edge_m, block


def _landcover(vegetated: np.ndarray, urban: np.ndarray, desert: np.ndarray, water: np.ndarray,
               snowy: np.ndarray) -> np.ndarray:
    """Land cover (H, W) uint8 from (H, W) bool masks: vegetation or else soil, overlaid in turn by town, desert,
    water and snow."""
    landcover = np.where(vegetated, VEGETATION, SOIL).astype(np.uint8)
    landcover[urban] = URBAN
    landcover[desert] = DESERT
    landcover[water] = WATER
    landcover[snowy] = SNOW
    return landcover


def _climate(zone: int, v: np.ndarray, day_of_year: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Latitude (deg), winter (0 summer or tropics, 1 deep winter) and a crude surface temperature (deg C), each
    (H, 1) float32, at world northings ``v`` (H,) of ``zone`` on ``day_of_year``."""
    lat = from_utm(FALSE_EASTING_M, v, zone, False)[0].astype(np.float32)[:, None]
    season = math.cos(2.0 * math.pi * (day_of_year - 196) / 365.25)  # +1 in northern midsummer
    winter = np.clip(-season * np.sign(lat) * (np.abs(lat) - 25.0) / 25.0, 0, 1)
    temp_c = 27.0 - 0.0055 * lat**2 - 0.03 * np.maximum(np.abs(lat) - 55.0, 0) ** 2 + 0.2 * lat * season
    return lat, winter, temp_c
