"""The Earth the camera sees: a deterministic synthetic world (real imagery: :mod:`onboard.sensing.imagery`).

A world renders a :class:`Scene` - top-of-atmosphere (TOA) reflectance plus truth masks (:mod:`rundir.truth`
codes) - for a north-up :class:`~onboard.sensing.projection.GridFootprint` at a given time and sun position.

:class:`SyntheticWorld` is procedural: its land (:mod:`onboard.sensing.surface`), haze (:mod:`onboard.sensing.atmosphere`) and
clouds (:mod:`onboard.sensing.cloud_layers`) are value-noise fields (:mod:`onboard.sensing.noise`) evaluated in world coordinates,
so the world depends only on (place, time, seed). Land cover and clouds change at UTM zone boundaries, where the
world has a seam.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol, Sequence

import cv2
import numpy as np

from rundir.errors import OrbitEdgeError

from .atmosphere import ClearSky, clear_sky
from .cloud_layers import CloudColumn, CloudLayers, cloud_reflectance
from .noise import Fractal, fractal, ladder, mix, unit, world_axes
from .projection import GridFootprint, epsg_code, from_utm, utm_zones
from .surface import Surface

SYNTHETIC_BANDS = ("B", "G", "R", "NIR")
# Band centre wavelengths, micrometres: Sentinel-2 MSI B2, B3, B4, B8 (ESA band table); Landsat 8 OLI B2-B5, which
# the bands also stand for, are centred at 0.482, 0.561, 0.655 and 0.865 (USGS).
BAND_CENTRES_UM = np.array([0.49, 0.56, 0.665, 0.842], dtype=np.float32)
CLOUD_EPOCH_UTC = datetime(2020, 1, 1, tzinfo=timezone.utc)  # clouds drift with the wind from here
# Pixels rendered at once: rendering holds ~170 bytes per pixel of fields and layers while it works (measured with
# tracemalloc on a 2048 x 2048 footprint), so a large footprint is rendered in strips of rows of about this many
# pixels: ~180 MB at a time, where a 4096 x 3072 burst's 8192 x 6144 high-res scene would need 8.5 GB at once.
RENDER_STRIP_PX = 1 << 20


@dataclass
class Scene:
    """What a world looks like in one footprint: (H, W) grids aligned with the footprint's pixels."""

    reflectance: np.ndarray  # (H, W, B) float32 TOA reflectance, bands in the order asked for; 0 where not valid
    cloud: np.ndarray  # (H, W) uint8: 0 clear, 1 thin, 2 thick, 255 unknown
    shadow: np.ndarray  # (H, W) bool cloud shadow on the ground
    landcover: np.ndarray  # (H, W) uint8 index into truth.LANDCOVER_CLASSES, 255 unknown
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


def band_indices(bands: Sequence[str], available: Sequence[str], source: str) -> list[int]:
    """The index in ``available`` of each of ``bands``; MissingBandError (naming ``source``) for one not there."""
    for band in bands:
        if band not in available:
            raise MissingBandError(band, available, source)
    return [list(available).index(band) for band in bands]


class SyntheticWorld(World):
    """A procedural Earth with land cover, texture, haze, clouds and cloud shadows; deterministic in (place, time,
    seed).

    Land cover follows a crude climate, and each pixel's surface reflectance mixes end-member spectra
    (:class:`~onboard.sensing.surface.Surface`). The atmosphere adds Rayleigh and aerosol path reflectance and attenuates
    the ground (:func:`~onboard.sensing.atmosphere.clear_sky`); aerosol optical depth varies from region to region, so some
    places are hazy. Three cloud layers (:class:`~onboard.sensing.cloud_layers.CloudLayers`: cumulus, an altocumulus deck
    and cirrus) cover about ``mean_cloud_cover`` of the pixels, drift with the wind and cast shadows; the truth
    marks thin and thick cloud by the column's optical thickness.
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
        wind_dir = 2.0 * math.pi * unit(mix(self.seed, 0x17D), 0)
        wind = (wind_speed_m_s * math.sin(wind_dir), wind_speed_m_s * math.cos(wind_dir))
        self._surface = Surface(self.seed)
        self._aerosol = fractal(self.seed, "aerosol", ladder(1000e3, 20e3, 0.7), wind)  # smooth: haze has no texture
        self._clouds = CloudLayers(self.seed, self.mean_cloud_cover, self.cloud_height_m, cirrus_share, deck_share,
                                   wind)

    def render(self, footprint: GridFootprint, time_utc: datetime, sun_elevation_deg: float,
               sun_azimuth_deg: float, bands: Sequence[str]) -> Scene:
        """Render ``bands`` in ``footprint``; the sun must be above the horizon (azimuth clockwise from north)."""
        index = band_indices(bands, self.bands_available, "the synthetic world")
        if not 0.0 < sun_elevation_deg <= 90.0:
            raise ValueError(f"sun_elevation_deg must be in (0, 90] to image, got {sun_elevation_deg}")
        args = (_seconds_since(CLOUD_EPOCH_UTC, time_utc), time_utc.timetuple().tm_yday,
                math.radians(sun_elevation_deg), math.radians(sun_azimuth_deg))
        e, n = footprint.pixel_centres_m()
        ring_e = np.concatenate([e, e, np.full(n.size, e[0]), np.full(n.size, e[-1])])
        ring_n = np.concatenate([np.full(e.size, n[0]), np.full(e.size, n[-1]), n, n])
        lat, lon = from_utm(ring_e, ring_n, footprint.zone, footprint.south)
        if np.all(utm_zones(lon, lat) == footprint.zone):
            reflectance, cloud, shadow, landcover = self._render_native(footprint, index, *args)
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
            for k, layer in enumerate(self._render_native(native, index, *args)):
                method = cv2.INTER_LINEAR if k == 0 else cv2.INTER_NEAREST
                resampled = cv2.remap(layer.view(np.uint8) if layer.dtype == bool else layer, map_x, map_y, method,
                                      borderMode=cv2.BORDER_REPLICATE)
                out[k][box][part] = resampled.reshape(part.shape + out[k].shape[2:])[part]
        return tuple(out)

    def _render_native(self, footprint: GridFootprint, index: list[int], *args: Any) -> tuple[np.ndarray, ...]:
        """TOA reflectance (H, W, len(index)) float32 of the bands ``index`` (into B G R NIR), cloud uint8, shadow
        bool and land cover uint8 of a footprint in its own zone, rendered in strips of rows of about
        RENDER_STRIP_PX pixels. Every field is a function of world coordinates, so a strip's pixels are those of
        the whole footprint (bit for bit on a footprint whose corner lies on its GSD lattice, as frames' do)."""
        h, w = footprint.height_px, footprint.width_px
        out = (np.empty((h, w, len(index)), np.float32), np.empty((h, w), np.uint8), np.empty((h, w), bool),
               np.empty((h, w), np.uint8))
        rows = max(1, RENDER_STRIP_PX // max(w, 1))
        for row0 in range(0, h, rows):
            strip = footprint.window(row0, 0, min(rows, h - row0), w)
            planes, *masks = self._render_strip(strip, *args)
            for j, k in enumerate(index):
                out[0][row0:row0 + strip.height_px, :, j] = planes[k]
            for layer, mask in zip(out[1:], masks):
                layer[row0:row0 + strip.height_px] = mask
        return out

    def _render_strip(self, footprint: GridFootprint, t_s: float, day_of_year: int, sun_elevation_rad: float,
                      sun_azimuth_rad: float) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
        """TOA reflectance (4 (H, W) float32 planes, B G R NIR), cloud uint8, shadow bool and land cover uint8 of a
        footprint in its own zone, all at once."""
        u, v = world_axes(footprint)

        def field(f: Fractal, du_m: float = 0.0, dv_m: float = 0.0) -> np.ndarray:
            return f.evaluate(footprint.zone, u + du_m, v + dv_m, t_s, 2.0 * footprint.gsd_m)

        surface, landcover = self._surface.reflectance(footprint.zone, u, v, day_of_year, field,
                                                       (footprint.gsd_m, sun_elevation_rad, sun_azimuth_rad))
        sky = clear_sky(field(self._aerosol), math.sin(sun_elevation_rad), BAND_CENTRES_UM)
        column = self._clouds.column(footprint, field, t_s, sun_elevation_rad, sun_azimuth_rad)
        return compose(surface, column, sky), column.cloud, column.shadow, landcover


def compose(surface: Sequence[np.ndarray], column: CloudColumn, sky: ClearSky) -> list[np.ndarray]:
    """TOA reflectance planes (H, W) float32 of ``surface`` planes (one per band, in ``sky``'s bands) under a cloud
    column and a clear atmosphere."""
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
        toa.append(sky.rayleigh_path[b] + sky.aerosol_path[b] * t_cloud
                   + sky.rayleigh_t[b] * r_cloud / (1 - np.float32(0.92) * sky.rayleigh_tau[b] * r_cloud)
                   + sky.transmittance[b] * below)
    return toa


def _seconds_since(epoch: datetime, time_utc: datetime) -> float:
    """Seconds from ``epoch`` to ``time_utc`` (a naive time is taken as UTC)."""
    if time_utc.tzinfo is None:
        time_utc = time_utc.replace(tzinfo=timezone.utc)
    return (time_utc - epoch).total_seconds()
