"""STAC metadata for a run: ``RUN/stac/catalog.json``, a Catalog with one Item per mosaic and per verified product.

Written with pystac (STAC 1.1.0) and the extensions a GIS or a STAC browser needs to use the files as they are:

- ``proj`` (v2.0.0): ``proj:code`` (EPSG), ``proj:transform`` (GDAL order a, b, c, d, e, f), ``proj:shape``
  (rows, columns) and ``proj:bbox`` in the product's CRS;
- ``eo`` (v1.1.0), per asset: each band's name, STAC common name (blue, green, red, nir) and centre wavelength in
  micrometres (the manifest's ``band_centres_um``), in the file's band order (a PNG holds a B, G, R[, NIR] tile
  as R, G, B[, NIR]: :data:`onboard.codec.PNG_STORED_BANDS`);
- ``raster`` (v1.1.0), per asset: no-data DN, data type, bits per sample (the camera's bit depth) and the
  DN-to-TOA-reflectance ``scale`` and ``offset``.

Geometry is the footprint rectangle in WGS 84 lon/lat (each side densified to within half a pixel, cut by the
``antimeridian`` package), as RFC 7946 asks: counterclockwise, cut at the antimeridian with a bbox whose west edge
is greater than its east edge, and a footprint over a pole as one polygon closed along the antimeridian at the pole.
The Item's datetime is the capture time (a mosaic: ``start_datetime``..``end_datetime`` of its tiles). Asset hrefs
are relative, so the run directory can be moved: data (the product or the mosaic COG), metadata (a PNG product's
world file and ``.aux.xml``), data-mask (a lossy or PNG product's ``.msk``) and overview/visual (a mosaic's
quick-look).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import antimeridian
import numpy as np
import pystac
import shapely
import shapely.geometry
from pystac.extensions.eo import Band, EOExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension
from rasterio.warp import transform as transform_points

from rundir.codec import COMMON_NAMES, MASK_SUFFIX, PNG_STORED_BANDS, Georef
from rundir.files import remade_folder
from rundir.manifest import Footprint, ManifestLine
from rundir.run_info import RunInfo

STAC_DIR = "stac"
DENSIFY_PTS = 3  # points added along each footprint side before reprojection, at least: UTM edges curve in lon/lat
MAX_EDGE_ERROR_PX = 0.5  # how far an edge of the geometry (straight in lon/lat) may stray from the footprint's side
COORDINATE_DECIMALS = 7  # of a degree in geometries and bboxes: 1e-7 deg is 1.1 cm on the ground, below any GSD
# Each product format's IANA media type: image/j2c (a JPEG 2000 codestream, ISO/IEC 15444-1), image/jls (ISO/IEC
# 14495-1), image/jxl (ISO/IEC 18181), application/zstd (RFC 8878); raw bit-packed DN and CCSDS 121 streams (no
# registered type) as bytes
MEDIA_TYPES = {"png": pystac.MediaType.PNG, "tiff": pystac.MediaType.GEOTIFF, "raw": "application/octet-stream",
               "ccsds121": "application/octet-stream",
               "jpeg2000": "image/j2c", "jpegls": "image/jls", "jpegxl": "image/jxl", "zstd": "application/zstd"}


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def capture_time(capture_utc: str | None, capture_t_s: float, start_utc: dt.datetime | None) -> dt.datetime | None:
    """When a product was captured: its ``capture_utc``, else the run start plus ``capture_t_s``; None if neither."""
    if capture_utc:
        return _utc(capture_utc)
    return None if start_utc is None else start_utc + dt.timedelta(seconds=float(capture_t_s))


def _geometry(footprint: Footprint) -> tuple[dict[str, Any], list[float]]:
    """GeoJSON polygon (lon/lat degrees, WGS 84, exterior ring counterclockwise) and bbox of a footprint rectangle,
    as RFC 7946 asks: cut at the antimeridian into a MultiPolygon (section 3.1.9) with a bbox whose west edge is
    greater than its east edge (section 5.2); a footprint over a pole as one polygon whose ring follows the
    antimeridian up to the pole, with a bbox from -180 to 180 reaching the pole (section 5.3).

    The rectangle's sides are densified in its own grid, until each edge is within MAX_EDGE_ERROR_PX of its side
    (:func:`_densified`), and reprojected point by point; the cutting and the bbox are the ``antimeridian``
    package's (``fix_polygon``, ``bbox``), which reads a crossing from the jump in longitude between two points, so
    the same rule holds in any projection (UTM, UPS). Whether a pole is inside is decided in the grid, where it is
    a point, and passed on to it; a pole on a side or a corner (within a quarter of MAX_EDGE_ERROR_PX of it, either
    way), whose longitude is any, is taken inside, the rectangle grown by half of MAX_EDGE_ERROR_PX."""
    epsg, gsd_m = footprint.epsg, float(footprint.gsd_m)
    x0, y0 = float(footprint.x0_m), float(footprint.y0_m)
    x1, y1 = x0 + footprint.width_px * gsd_m, y0 - footprint.height_px * gsd_m
    near_m = MAX_EDGE_ERROR_PX * gsd_m / 4
    pole_deg = _pole_inside(epsg, x0, y1, x1, y0)
    if not _pole_inside(epsg, x0 + near_m, y1 + near_m, x1 - near_m, y0 - near_m) and \
            (pole_deg := _pole_inside(epsg, x0 - near_m, y1 - near_m, x1 + near_m, y0 + near_m)):
        x0, y0, x1, y1 = x0 - 2 * near_m, y0 + 2 * near_m, x1 + 2 * near_m, y1 - 2 * near_m
    corners = [(x0, y0), (x0, y1), (x1, y1), (x1, y0), (x0, y0)]  # counterclockwise: the grid is conformal
    n = DENSIFY_PTS + 1
    ring = np.array([[xa + (xb - xa) * k / n, ya + (yb - ya) * k / n]
                     for (xa, ya), (xb, yb) in zip(corners, corners[1:]) for k in range(n)] + [corners[0]])
    lon, lat = _densified(ring, f"EPSG:{epsg}", near_m)  # with the growth round a pole, 3/4 of MAX_EDGE_ERROR_PX
    lon = _on_their_side(lon)
    fixed = antimeridian.fix_polygon(shapely.Polygon(list(zip(lon, lat))), force_north_pole=pole_deg > 0,
                                     force_south_pole=pole_deg < 0, fix_winding=True)
    geometry = shapely.geometry.mapping(fixed)
    return ({"type": geometry["type"], "coordinates": _rounded(geometry["coordinates"])},
            [round(float(v), COORDINATE_DECIMALS) for v in antimeridian.bbox(fixed)])


def _densified(ring: np.ndarray, crs: str, max_error_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes (degrees) of the closed ``ring`` (N, 2) of grid metres in ``crs``, each of its
    segments halved until the straight line between its ends in lon/lat (an edge, as RFC 7946 section 3.1.1 draws
    it) passes within ``max_error_m`` of the grid segment at its middle (or the segment is shorter than a tenth of
    that): near a pole a straight side of a UPS grid is a curve in lon/lat. The ring's last point (its first)
    is left out."""
    xy = np.asarray(ring, np.float64)
    lon, lat = (np.asarray(v, np.float64) for v in transform_points(crs, "EPSG:4326", xy[:, 0], xy[:, 1]))
    while True:
        step = np.diff(xy, axis=0)
        turn = (np.diff(lon) + 180.0) % 360.0 - 180.0  # the short way round, as the antimeridian package reads it
        mx, my = transform_points("EPSG:4326", crs, lon[:-1] + turn / 2, (lat[:-1] + lat[1:]) / 2)
        length = np.hypot(step[:, 0], step[:, 1])
        off_m = np.abs(step[:, 0] * (np.asarray(my) - xy[:-1, 1]) - step[:, 1] * (np.asarray(mx) - xy[:-1, 0]))
        split = np.flatnonzero((off_m > max_error_m * length) & (length > max_error_m / 10))
        if split.size == 0:
            return lon[:-1], lat[:-1]
        middle = (xy[split] + xy[split + 1]) / 2
        mlon, mlat = transform_points(crs, "EPSG:4326", middle[:, 0], middle[:, 1])
        xy = np.insert(xy, split + 1, middle, axis=0)
        lon, lat = np.insert(lon, split + 1, mlon), np.insert(lat, split + 1, mlat)


def _on_their_side(lon: np.ndarray) -> np.ndarray:
    """Ring longitudes (degrees) with each point on the antimeridian itself (+-180, as PROJ gives a grid point
    on it: x = 2000 km in UPS, a multiple of every usual GSD) given its ring neighbours' sign, so that an edge lying
    along 180 deg does not read as a 360 deg jump: a crossing the footprint does not make."""
    out = lon.copy()
    off = np.flatnonzero(np.abs(lon) != 180.0)
    for i in np.flatnonzero(np.abs(lon) == 180.0) if off.size else ():
        nearest = off[np.argmin(np.minimum(np.abs(off - i), lon.size - np.abs(off - i)))]  # along the closed ring
        out[i] = math.copysign(180.0, lon[nearest])
    return out


def _rounded(coordinates: Any) -> list:
    """GeoJSON ``coordinates`` (nested tuples) as nested lists, every number rounded to COORDINATE_DECIMALS."""
    if isinstance(coordinates[0], (int, float)):
        return [round(float(v), COORDINATE_DECIMALS) for v in coordinates]
    return [_rounded(part) for part in coordinates]


def _pole_inside(epsg: int, x_min: float, y_min: float, x_max: float, y_max: float) -> float:
    """90 or -90 when that pole lies inside the rectangle (grid metres of ``epsg``), else 0."""
    for pole_deg, (x, y) in zip((90.0, -90.0), _poles_m(epsg)):
        if x_min < x < x_max and y_min < y < y_max:
            return pole_deg
    return 0.0


@functools.lru_cache(maxsize=None)
def _poles_m(epsg: int) -> tuple[tuple[float, float], ...]:
    """The North and South Poles in the grid of ``epsg``, metres (asked for up to three times per item)."""
    xs, ys = transform_points("EPSG:4326", f"EPSG:{epsg}", [0.0, 0.0], [90.0, -90.0])
    return tuple(zip(map(float, xs), map(float, ys)))


def _add_projection(item: pystac.Item, footprint: Footprint) -> None:
    x0_m, y0_m, gsd_m = float(footprint.x0_m), float(footprint.y0_m), float(footprint.gsd_m)
    height_px, width_px = footprint.height_px, footprint.width_px
    ProjectionExtension.ext(item, add_if_missing=True).apply(
        code=f"EPSG:{footprint.epsg}", shape=[height_px, width_px],
        transform=[gsd_m, 0.0, x0_m, 0.0, -gsd_m, y0_m],
        bbox=[x0_m, y0_m - gsd_m * height_px, x0_m + gsd_m * width_px, y0_m])


def _describe_bands(asset: pystac.Asset, line: ManifestLine, order: Sequence[int], nodata: int | None) -> None:
    """eo and raster band objects of ``asset``, whose band ``i + 1`` holds array band ``order[i]`` of ``line``."""
    bands = line.bands
    centres = line.band_centres_um or [None] * len(bands)
    scale = line.reflectance_per_dn
    if bands:
        EOExtension.ext(asset, add_if_missing=True).bands = [
            Band.create(name=bands[i], common_name=COMMON_NAMES.get(bands[i]), center_wavelength=centres[i])
            for i in order]
    RasterExtension.ext(asset, add_if_missing=True).bands = [
        RasterBand.create(nodata=nodata, data_type=DataType(line.dtype or "uint16"), bits_per_sample=line.bit_depth,
                          scale=scale, offset=0.0 if scale else None, unit="1" if scale else None)
        for _ in order]


def product_item(line: ManifestLine, downlink_dir: Path, start_utc: dt.datetime | None) -> pystac.Item | None:
    """The Item of one verified product (manifest ``line``): its file as the data asset, its sidecars as metadata
    assets (its fill mask as a data-mask asset). None for a product with no footprint or no known capture time."""
    when = capture_time(line.capture_utc, line.capture_t_s, start_utc)
    if line.footprint is None or when is None:
        return None
    geometry, bbox = _geometry(line.footprint)
    item = pystac.Item(line.id, geometry, bbox, when, properties={
        "platform": line.satellite, "orbitedge:kind": line.kind, "orbitedge:pass_id": line.pass_id,
        "orbitedge:target": line.target, "gsd": float(line.footprint.gsd_m)})
    _add_projection(item, line.footprint)
    fmt = line.format
    asset = pystac.Asset(str(downlink_dir / line.file), media_type=MEDIA_TYPES.get(fmt), roles=["data"])
    n_bands = line.shape[-1]
    order = PNG_STORED_BANDS[n_bands] if fmt == "png" else range(n_bands)
    item.add_asset("data", asset)
    _describe_bands(asset, line, order, Georef.from_line(line).nodata)
    for sidecar in line.sidecars or ():
        name = sidecar.file
        if name.endswith(MASK_SUFFIX):  # STAC best practices' asset role for a valid-data mask
            media, roles = pystac.MediaType.TIFF, ["data-mask"]
        else:
            media, roles = ("application/xml" if name.endswith(".xml") else "text/plain"), ["metadata"]
        item.add_asset(name, pystac.Asset(str(downlink_dir / name), media_type=media, roles=roles))
    return item


def mosaic_item(mosaic: Mapping[str, Any], first_line: ManifestLine, run_dir: Path,
                span: tuple[dt.datetime, dt.datetime] | None) -> pystac.Item | None:
    """The Item of one mosaic (a dict from :func:`ground.stitch.stitch_passes`): its COG as the data asset and its
    quick-look as the overview/visual asset, from ``span``, the first and last capture time of its tiles' own Items
    (so a temporal query that finds the mosaic finds its first tile too). None when ``span`` is None: a tile has no
    capture time (no run start)."""
    if span is None:
        return None
    start, end = span
    footprint = Footprint(**mosaic["footprint"])
    geometry, bbox = _geometry(footprint)
    item = pystac.Item(f"mosaic-{mosaic['name']}", geometry, bbox, start, start_datetime=start, end_datetime=end,
                       properties={"platform": mosaic.get("satellite"), "orbitedge:pass_id": mosaic["pass_id"],
                                   "orbitedge:target": mosaic.get("target"), "orbitedge:tiles": mosaic["tiles"],
                                   "gsd": float(footprint.gsd_m)})
    _add_projection(item, footprint)
    data = pystac.Asset(str(run_dir / mosaic["tif"]), media_type=pystac.MediaType.COG, roles=["data"])
    item.add_asset("data", data)
    _describe_bands(data, dataclasses.replace(first_line, reflectance_per_dn=mosaic.get("reflectance_per_dn")),
                    range(len(mosaic["bands"])), mosaic.get("nodata"))
    item.add_asset("visual", pystac.Asset(str(run_dir / mosaic["png"]), media_type=pystac.MediaType.PNG,
                                          roles=["overview", "visual"], title="true-colour quick-look"))
    return item


def write_catalog(run_dir: Path, lines: Iterable[ManifestLine], mosaics: Sequence[Mapping[str, Any]],
                  run_info: RunInfo | None) -> Path:
    """Write ``run_dir/stac`` afresh: ``catalog.json`` and one ``<item id>/<item id>.json`` per mosaic and per
    verified product (manifest ``lines``) that has a footprint and a capture time. ``run_info`` (telemetry/run.json)
    gives the run start for lines without ``capture_utc``. Returns the catalog's path.

    Each Item is written as soon as it is made, and the catalog keeps only its link's href: memory stays flat in
    the number of items (a 96-satellite day has ~2000)."""
    run_dir = Path(run_dir).resolve()
    start_utc = _utc(run_info.start_utc) if run_info and run_info.start_utc else None
    name = run_info.scenario if run_info and run_info.scenario else run_dir.name
    stac_dir = run_dir / STAC_DIR
    with remade_folder(stac_dir):  # items of an earlier report of this run must not linger
        catalog = pystac.Catalog(id=f"orbitedge-{name}", title=f"orbitedge run: {name}",
                                 description="Downlinked products and per-pass mosaics of an orbitedge run",
                                 catalog_type=pystac.CatalogType.SELF_CONTAINED)
        catalog.set_self_href(str(stac_dir / "catalog.json"))
        first_lines: dict[str, ManifestLine] = {}  # the first tile's line of each mosaic, for its bands
        times: dict[str, dt.datetime | None] = {}  # each mosaic tile's capture time, as its own Item gives it
        wanted = {str(m["product_ids"][0]) for m in mosaics}
        tiles = {str(i) for m in mosaics for i in m["product_ids"]}
        for line in lines:
            if line.id in wanted:
                first_lines[line.id] = line
            if line.id in tiles:
                times[line.id] = capture_time(line.capture_utc, line.capture_t_s, start_utc)
            _save_item(catalog, product_item(line, run_dir / "downlink", start_utc))
        for mosaic in mosaics:
            spans = [times.get(str(i)) for i in mosaic["product_ids"]]
            _save_item(catalog, mosaic_item(mosaic, first_lines[str(mosaic["product_ids"][0])], run_dir,
                                            None if None in spans else (min(spans), max(spans))))
        catalog.save_object(include_self_link=False)
    return stac_dir / "catalog.json"


def _save_item(catalog: pystac.Catalog, item: pystac.Item | None) -> None:
    """Write ``item`` (none: nothing) to ``<catalog dir>/<id>/<id>.json`` as a self-contained catalog's Item, and
    leave in ``catalog`` only the link to that file, not the Item."""
    if item is None:
        return
    link = catalog.add_item(item)  # the Item's root, parent and self href, as pystac lays them out
    item.make_asset_hrefs_relative()
    item.save_object(include_self_link=False)
    item.set_root(None)  # out of the root's cache of resolved objects
    link.target = str(item.get_self_href())
