"""WGS 84 <-> UTM / UPS through PROJ (pyproj), and north-up pixel grids in either.

Frames are map tiles in the grid of their target, like an orthorectified L1C product: a :class:`GridFootprint` is
a north-up grid of square pixels in one projected CRS, snapped to multiples of the ground sample distance so that
tiles of one pass align exactly in a mosaic. The CRS is the target's UTM zone (EPSG 326zz north / 327zz south)
from 80 S up to 84 N, and Universal Polar Stereographic beyond (EPSG 32661 UPS North, 32761 UPS South): the
division of NGA.SIG.0012_2.0.0_UTMUPS (2014), "The Universal Grids and the Transverse Mercator and Polar
Stereographic Map Projections", and DMA TM 8358.2 (1989), "The Universal Grids: Universal Transverse Mercator
(UTM) and Universal Polar Stereographic (UPS)", as GeographicLib's ``UTMUPS::StandardZone`` applies it.
Every transformation is PROJ's (``+proj=utm``: Poder/Engsager extended Transverse Mercator, sub-millimetre within
a zone; ``+proj=stere`` for UPS), through a :class:`pyproj.Transformer` cached per pair of CRSs.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pyproj
from numpy.typing import ArrayLike

from rundir.manifest import Footprint

FALSE_EASTING_M = 500_000.0  # UTM (DMA TM 8358.2)
FALSE_NORTHING_SOUTH_M = 10_000_000.0  # UTM south zones (DMA TM 8358.2)
UTM_NORTH_LIMIT_DEG = 84.0  # UTM covers 80 S <= lat < 84 N, UPS the caps beyond (NGA.SIG.0012, DMA TM 8358.2)
UTM_SOUTH_LIMIT_DEG = -80.0
UPS_ZONE = 0  # the zone number of UPS, as in GeographicLib's UTMUPS class
UPS_NORTH_EPSG = 32661
UPS_SOUTH_EPSG = 32761
WGS84_EPSG = 4326

_TRANSFORMERS = threading.local()  # pyproj Transformers are not thread-safe: one cache per thread


def _transformer(source_epsg: int, target_epsg: int) -> pyproj.Transformer:
    """The PROJ transformation between two EPSG CRSs, (lon, lat) / (x, y) axis order, cached per thread."""
    cache = _TRANSFORMERS.__dict__.setdefault("cache", {})
    key = (source_epsg, target_epsg)
    if key not in cache:
        cache[key] = pyproj.Transformer.from_crs(source_epsg, target_epsg, always_xy=True)
    return cache[key]


def _transform(source_epsg: int, target_epsg: int, x: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) in ``source_epsg`` -> float64 arrays of their broadcast shape (scalars for scalars) in
    ``target_epsg``; lon/lat for EPSG:4326."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    out_x, out_y = _transformer(source_epsg, target_epsg).transform(np.array(x, order="C"), np.array(y, order="C"))
    return np.reshape(out_x, x.shape)[()], np.reshape(out_y, y.shape)[()]  # numpy scalars for scalar input


def utm_zones(lon_deg: ArrayLike, lat_deg: ArrayLike) -> np.ndarray:
    """UTM zone (1..60, int64, broadcast shape) of each point, with the Norway (32V) and Svalbard (31X..37X)
    exceptions (NGA.SIG.0012). Defined at every latitude: beyond UTM's limits it is the zone whose
    longitude strip holds the point (:func:`crs_for` says which grid a point is imaged in)."""
    lon = (np.asarray(lon_deg, dtype=np.float64) + 180.0) % 360.0 - 180.0
    lat = np.asarray(lat_deg, dtype=np.float64)
    zone = np.minimum(((lon + 180.0) // 6.0).astype(np.int64) + 1, 60)
    zone = np.where((lat >= 56.0) & (lat < 64.0) & (lon >= 3.0) & (lon < 12.0), 32, zone)
    svalbard = (lat >= 72.0) & (lat < 84.0) & (lon >= 0.0) & (lon < 42.0)
    return np.where(svalbard, np.select([lon < 9.0, lon < 21.0, lon < 33.0], [31, 33, 35], 37), zone)


def utm_zone(lon_deg: float, lat_deg: float) -> tuple[int, bool]:
    """UTM zone (1..60) and hemisphere (``south``) of one point; see :func:`utm_zones`."""
    return int(utm_zones(lon_deg, lat_deg)), bool(lat_deg < 0.0)


def epsg_code(zone: int, south: bool) -> int:
    """EPSG code of WGS 84 / UTM ``zone`` (1..60) north (326zz) or south (327zz); zone 0 (:data:`UPS_ZONE`) is
    UPS North (32661) or South (32761). ValueError for any other zone."""
    if zone == UPS_ZONE:
        return UPS_SOUTH_EPSG if south else UPS_NORTH_EPSG
    if not 1 <= zone <= 60:
        raise ValueError(f"UTM zone must be 1..60 (or {UPS_ZONE} for UPS), got {zone}")
    return (32700 if south else 32600) + zone


def zone_of_epsg(epsg: int) -> tuple[int, bool]:
    """Inverse of :func:`epsg_code`: ``(zone, south)``, zone 0 for UPS; ValueError for a code that is neither."""
    if 32601 <= epsg <= 32660:
        return epsg - 32600, False
    if 32701 <= epsg <= 32760:
        return epsg - 32700, True
    if epsg in (UPS_NORTH_EPSG, UPS_SOUTH_EPSG):
        return UPS_ZONE, epsg == UPS_SOUTH_EPSG
    raise ValueError(f"EPSG:{epsg} is not a WGS 84 / UTM zone or UPS; supported: 32601-32660 and 32701-32760 "
                     f"(UTM north and south), {UPS_NORTH_EPSG} and {UPS_SOUTH_EPSG} (UPS North and South)")


def crs_for(lat_deg: float, lon_deg: float) -> int:
    """EPSG code of the grid a point is imaged in: its UTM zone (with the Norway and Svalbard exceptions) for
    80 S <= lat < 84 N, else UPS North (32661) or UPS South (32761), as NGA.SIG.0012 and GeographicLib's
    ``UTMUPS::StandardZone`` divide the globe. ValueError for a latitude outside [-90, 90]."""
    if not -90.0 <= lat_deg <= 90.0:
        raise ValueError(f"latitude must be in [-90, 90] degrees, got {lat_deg}")
    if lat_deg >= UTM_NORTH_LIMIT_DEG:
        return UPS_NORTH_EPSG
    if lat_deg < UTM_SOUTH_LIMIT_DEG:
        return UPS_SOUTH_EPSG
    return epsg_code(*utm_zone(lon_deg, lat_deg))


def central_meridian_deg(zone: int) -> float:
    """Longitude of the central meridian of a UTM zone (1..60), degrees east."""
    if not 1 <= zone <= 60:
        raise ValueError(f"UTM zone must be 1..60, got {zone}")
    return 6.0 * zone - 183.0


def to_grid(lat_deg: ArrayLike, lon_deg: ArrayLike, epsg: int) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS 84 latitude/longitude (degrees, any broadcastable shapes) into a UTM or UPS CRS:
    (easting_m, northing_m) float64 arrays of the broadcast shape, with the CRS's false easting and northing.
    Far from a grid's own area PROJ still gives numbers, thousands of km out (UPS South of the equator), or inf
    where the projection has none (Transverse Mercator 90 degrees from its meridian on the equator):
    :func:`crs_for` names the grid a point belongs in."""
    zone_of_epsg(epsg)
    return _transform(WGS84_EPSG, epsg, lon_deg, lat_deg)


def from_grid(easting_m: ArrayLike, northing_m: ArrayLike, epsg: int) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`to_grid`: (lat_deg, lon_deg) float64 arrays of the broadcast shape, longitude in
    [-180, 180]."""
    zone_of_epsg(epsg)
    lon, lat = _transform(epsg, WGS84_EPSG, easting_m, northing_m)
    return lat, lon


def from_utm(easting_m: ArrayLike, northing_m: ArrayLike, zone: int, south: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`from_grid` of UTM ``zone`` (or UPS for zone 0): (lat_deg, lon_deg) of coordinates in metres.

    The zone need not be the point's own: PROJ's extended Transverse Mercator stays sub-millimetre within
    ~30 degrees of longitude of the central meridian. South-zone northings carry the 10 000 km false northing.
    """
    return from_grid(easting_m, northing_m, epsg_code(zone, south))


@dataclass(frozen=True)
class GridFootprint(Footprint):
    """A north-up grid of square pixels in a WGS 84 / UTM or UPS CRS (see :func:`zone_of_epsg`): the run directory's
    :class:`rundir.manifest.Footprint` (its fields), checked and with the spacecraft's geometry.

    ``(x0_m, y0_m)`` is the upper-left corner of the upper-left pixel (easting, northing); columns go east and rows
    go south (grid east and grid south in UPS), so pixel ``(row, col)`` has its centre at
    ``(x0_m + (col + 0.5) * gsd_m, y0_m - (row + 0.5) * gsd_m)``.
    """

    def __post_init__(self) -> None:
        zone_of_epsg(self.epsg)
        if not (self.gsd_m > 0 and self.width_px > 0 and self.height_px > 0):
            raise ValueError(f"footprint needs gsd_m > 0 and a positive size, got {self}")

    @classmethod
    def centred(cls, lat_deg: float, lon_deg: float, epsg: int, gsd_m: float, width_px: int,
                height_px: int) -> GridFootprint:
        """The grid of ``width_px`` x ``height_px`` pixels centred (to within a pixel) on a point.

        The corner is floor-snapped to a multiple of ``gsd_m`` so that any two footprints of the same CRS and GSD
        share one pixel lattice. ValueError when the point has no finite coordinates in the CRS.
        """
        e, n = (float(v) for v in to_grid(lat_deg, lon_deg, epsg))
        if not (math.isfinite(e) and math.isfinite(n)):
            raise ValueError(f"({lat_deg}, {lon_deg}) deg has no coordinates in EPSG:{epsg}")
        x0 = math.floor((e - width_px * gsd_m / 2.0) / gsd_m) * gsd_m
        y0 = math.floor((n + height_px * gsd_m / 2.0) / gsd_m) * gsd_m
        return cls(epsg, float(x0), float(y0), float(gsd_m), int(width_px), int(height_px))

    @property
    def zone(self) -> int:
        """UTM zone number, 1..60, or 0 (:data:`UPS_ZONE`) for UPS."""
        return zone_of_epsg(self.epsg)[0]

    @property
    def south(self) -> bool:
        """True for a southern CRS: a south UTM zone (327zz, false northing 10 000 km) or UPS South (32761)."""
        return zone_of_epsg(self.epsg)[1]

    @property
    def bounds_m(self) -> tuple[float, float, float, float]:
        """Outer edges (x_min, y_min, x_max, y_max) in metres."""
        return (self.x0_m, self.y0_m - self.height_px * self.gsd_m,
                self.x0_m + self.width_px * self.gsd_m, self.y0_m)

    def pixel_centres_m(self) -> tuple[np.ndarray, np.ndarray]:
        """Easting of each column (W,) and northing of each row (H,), float64 metres.

        When the corner lies on the GSD lattice the centres are computed from integer lattice indices, so two
        footprints that share a pixel give it bit-identical coordinates.
        """
        kx, ky = self.x0_m / self.gsd_m, self.y0_m / self.gsd_m
        cols = np.arange(self.width_px, dtype=np.float64) + 0.5
        rows = np.arange(self.height_px, dtype=np.float64) + 0.5
        if abs(kx - round(kx)) < 1e-9 and abs(ky - round(ky)) < 1e-9:
            return (round(kx) + cols) * self.gsd_m, (round(ky) - rows) * self.gsd_m
        return self.x0_m + cols * self.gsd_m, self.y0_m - rows * self.gsd_m

    def pixel_centres_latlon(self, step_px: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Latitude and longitude of every pixel centre: two (H, W) float64 arrays, degrees.

        With ``step_px`` PROJ is evaluated only every ``step_px`` pixels and the unit vector towards each point
        (cos lat cos lon, cos lat sin lon, sin lat) is interpolated bilinearly in between: smooth across the
        antimeridian and the poles, and within ~1 cm for steps up to ~500 m on the ground.
        """
        e, n = self.pixel_centres_m()
        if step_px is None:
            return from_grid(e[None, :], n[:, None], self.epsg)

        def unit_vectors(e_nodes: np.ndarray, n_nodes: np.ndarray) -> list[np.ndarray]:
            lat, lon = np.radians(from_grid(e_nodes[None, :], n_nodes[:, None], self.epsg))
            return [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)]

        x, y, z = _interpolated(e, n, step_px, unit_vectors)
        return np.degrees(np.arctan2(z, np.hypot(x, y))), np.degrees(np.arctan2(y, x))

    def pixel_centres_in(self, epsg: int, step_px: int = 16) -> tuple[np.ndarray, np.ndarray]:
        """Easting and northing (two (H, W) float64 arrays, metres) of every pixel centre in another UTM or UPS CRS.

        Exact every ``step_px`` pixels and bilinear in between: within ~1 mm for steps up to ~500 m on the ground.
        """
        zone_of_epsg(epsg)
        e, n = self.pixel_centres_m()
        return tuple(_interpolated(e, n, step_px, lambda e_nodes, n_nodes: list(
            _transform(self.epsg, epsg, e_nodes[None, :], n_nodes[:, None]))))

    def window(self, row0: int, col0: int, height_px: int, width_px: int) -> GridFootprint:
        """The footprint of the sub-grid of ``height_px`` x ``width_px`` pixels starting at pixel (row0, col0)."""
        return GridFootprint(self.epsg, self.x0_m + col0 * self.gsd_m, self.y0_m - row0 * self.gsd_m,
                             self.gsd_m, width_px, height_px)


def _interpolated(e_m: np.ndarray, n_m: np.ndarray, step_px: int,
                  at_nodes: Callable[[np.ndarray, np.ndarray], list[np.ndarray]]) -> list[np.ndarray]:
    """Evaluate ``at_nodes`` on every ``step_px``-th column/row (plus the last) and interpolate bilinearly to (H, W)."""

    def node_weights(size: int) -> tuple[np.ndarray, np.ndarray]:
        nodes = np.unique(np.append(np.arange(0, size, max(1, step_px)), size - 1))
        weights = np.zeros((size, nodes.size))
        k = np.clip(np.searchsorted(nodes, np.arange(size), side="right") - 1, 0, max(nodes.size - 2, 0))
        if nodes.size == 1:
            weights[:, 0] = 1.0
        else:
            f = (np.arange(size) - nodes[k]) / (nodes[k + 1] - nodes[k])
            weights[np.arange(size), k] = 1.0 - f
            weights[np.arange(size), k + 1] = f
        return nodes, weights

    cols, wx = node_weights(e_m.size)
    rows, wy = node_weights(n_m.size)
    return [wy @ grid @ wx.T for grid in at_nodes(e_m[cols], n_m[rows])]
