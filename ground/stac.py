"""STAC metadata for a run: ``RUN/stac/catalog.json``, a Catalog with one Item per mosaic and per verified product.

Written with pystac (STAC 1.1.0) and the extensions a GIS or a STAC browser needs to use the files as they are:

- ``proj`` (v2.0.0): ``proj:code`` (EPSG), ``proj:transform`` (GDAL order a, b, c, d, e, f), ``proj:shape``
  (rows, columns) and ``proj:bbox`` in the product's CRS;
- ``eo`` (v1.1.0), per asset: each band's name, STAC common name (blue, green, red, nir) and centre wavelength in
  micrometres (the manifest's ``band_centres_um``), in the file's band order (a PNG holds a B, G, R[, NIR] tile
  as R, G, B[, NIR]: :data:`onboard.codec.PNG_STORED_BANDS`);
- ``raster`` (v1.1.0), per asset: no-data DN, data type, bits per sample (the camera's bit depth) and the
  DN-to-TOA-reflectance ``scale`` and ``offset``.

Geometry is the footprint rectangle in WGS 84 lon/lat (``rasterio.warp.transform_geom``, each side densified, cut at
the antimeridian); the Item's datetime is the capture time (a mosaic: ``start_datetime``..``end_datetime`` of its
tiles). Asset hrefs are relative, so the run directory can be moved: data (the product or the mosaic COG),
metadata (a PNG product's world file and ``.aux.xml``) and overview/visual (a mosaic's quick-look).
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pystac
from pystac.extensions.eo import Band, EOExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension
from rasterio.features import bounds
from rasterio.warp import transform_geom

from onboard.codec import PNG_STORED_BANDS, Georef

STAC_DIR = "stac"
COMMON_NAMES = {"B": "blue", "G": "green", "R": "red", "NIR": "nir"}  # STAC eo common band names of our bands
DENSIFY_PTS = 3  # points added along each footprint side before reprojection: UTM edges curve in lon/lat
MEDIA_TYPES = {"png": pystac.MediaType.PNG, "tiff": pystac.MediaType.GEOTIFF, "raw": "application/octet-stream"}


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def capture_time(line: Mapping[str, Any], start_utc: dt.datetime | None) -> dt.datetime | None:
    """When a product was captured: its ``capture_utc``, else the run start plus ``capture_t_s``; None if neither."""
    if line.get("capture_utc"):
        return _utc(str(line["capture_utc"]))
    return None if start_utc is None else start_utc + dt.timedelta(seconds=float(line["capture_t_s"]))


def _geometry(footprint: Mapping[str, Any]) -> tuple[dict[str, Any], list[float]]:
    """GeoJSON polygon (lon/lat degrees, WGS 84) and bbox of a footprint rectangle."""
    x0, y0 = float(footprint["x0_m"]), float(footprint["y0_m"])
    x1 = x0 + footprint["width_px"] * float(footprint["gsd_m"])
    y1 = y0 - footprint["height_px"] * float(footprint["gsd_m"])
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    ring = [[xa + (xb - xa) * k / (DENSIFY_PTS + 1), ya + (yb - ya) * k / (DENSIFY_PTS + 1)]
            for (xa, ya), (xb, yb) in zip(corners, corners[1:]) for k in range(DENSIFY_PTS + 1)] + [[x0, y0]]
    geometry = transform_geom(f"EPSG:{int(footprint['epsg'])}", "EPSG:4326", {"type": "Polygon", "coordinates": [ring]},
                              antimeridian_cutting=True, precision=7)
    return geometry, list(bounds(geometry))


def _add_projection(item: pystac.Item, footprint: Mapping[str, Any]) -> None:
    x0_m, y0_m, gsd_m = float(footprint["x0_m"]), float(footprint["y0_m"]), float(footprint["gsd_m"])
    height_px, width_px = int(footprint["height_px"]), int(footprint["width_px"])
    ProjectionExtension.ext(item, add_if_missing=True).apply(
        code=f"EPSG:{int(footprint['epsg'])}", shape=[height_px, width_px],
        transform=[gsd_m, 0.0, x0_m, 0.0, -gsd_m, y0_m],
        bbox=[x0_m, y0_m - gsd_m * height_px, x0_m + gsd_m * width_px, y0_m])


def _describe_bands(asset: pystac.Asset, line: Mapping[str, Any], order: Sequence[int], nodata: int | None) -> None:
    """eo and raster band objects of ``asset``, whose band ``i + 1`` holds array band ``order[i]`` of ``line``."""
    bands = list(line.get("bands") or [])
    centres = line.get("band_centres_um") or [None] * len(bands)
    scale = line.get("reflectance_per_dn")
    if bands:
        EOExtension.ext(asset, add_if_missing=True).bands = [
            Band.create(name=bands[i], common_name=COMMON_NAMES.get(bands[i]), center_wavelength=centres[i])
            for i in order]
    dtype = str(line.get("dtype") or "uint16")
    RasterExtension.ext(asset, add_if_missing=True).bands = [
        RasterBand.create(nodata=nodata, data_type=DataType(dtype), bits_per_sample=int(line["bit_depth"]),
                          scale=scale, offset=0.0 if scale else None, unit="1" if scale else None)
        for _ in order]


def product_item(line: Mapping[str, Any], downlink_dir: Path, start_utc: dt.datetime | None) -> pystac.Item | None:
    """The Item of one verified product (manifest ``line``): its file as the data asset, its sidecars as metadata
    assets. None for a product with no footprint or no known capture time."""
    when = capture_time(line, start_utc)
    if not line.get("footprint") or when is None:
        return None
    geometry, bbox = _geometry(line["footprint"])
    item = pystac.Item(str(line["id"]), geometry, bbox, when, properties={
        "platform": line.get("satellite"), "orbitedge:kind": line["kind"], "orbitedge:pass_id": line["pass_id"],
        "orbitedge:target": line.get("target"), "gsd": float(line["footprint"]["gsd_m"])})
    _add_projection(item, line["footprint"])
    fmt = str(line["format"])
    asset = pystac.Asset(str(downlink_dir / line["file"]), media_type=MEDIA_TYPES.get(fmt), roles=["data"])
    n_bands = int(line["shape"][-1])
    order = PNG_STORED_BANDS[n_bands] if fmt == "png" else range(n_bands)
    item.add_asset("data", asset)
    _describe_bands(asset, line, order, Georef.from_line(line).nodata)
    for sidecar in line.get("sidecars", ()):
        name = str(sidecar["file"])
        media = "application/xml" if name.endswith(".xml") else "text/plain"
        item.add_asset(name, pystac.Asset(str(downlink_dir / name), media_type=media, roles=["metadata"]))
    return item


def mosaic_item(mosaic: Mapping[str, Any], first_line: Mapping[str, Any], run_dir: Path,
                start_utc: dt.datetime | None) -> pystac.Item | None:
    """The Item of one mosaic (a dict from :func:`ground.stitch.stitch_passes`): its COG as the data asset and its
    quick-look as the overview/visual asset. None when its capture times are unknown (no run start)."""
    first_t_s, last_t_s = mosaic["capture_t_s"]
    start = capture_time({"capture_t_s": first_t_s}, start_utc)
    end = capture_time({"capture_t_s": last_t_s}, start_utc)
    if start is None or end is None:
        return None
    geometry, bbox = _geometry(mosaic["footprint"])
    item = pystac.Item(f"mosaic-{mosaic['name']}", geometry, bbox, start, start_datetime=start, end_datetime=end,
                       properties={"platform": mosaic.get("satellite"), "orbitedge:pass_id": mosaic["pass_id"],
                                   "orbitedge:target": mosaic.get("target"), "orbitedge:tiles": mosaic["tiles"],
                                   "gsd": float(mosaic["footprint"]["gsd_m"])})
    _add_projection(item, mosaic["footprint"])
    data = pystac.Asset(str(run_dir / mosaic["tif"]), media_type=pystac.MediaType.COG, roles=["data"])
    item.add_asset("data", data)
    _describe_bands(data, {**first_line, "reflectance_per_dn": mosaic.get("reflectance_per_dn")},
                    range(len(mosaic["bands"])), mosaic.get("nodata"))
    item.add_asset("visual", pystac.Asset(str(run_dir / mosaic["png"]), media_type=pystac.MediaType.PNG,
                                          roles=["overview", "visual"], title="true-colour quick-look"))
    return item


def write_catalog(run_dir: Path, lines: Sequence[Mapping[str, Any]], mosaics: Sequence[Mapping[str, Any]],
                  run_info: Mapping[str, Any] | None) -> Path:
    """Write ``run_dir/stac`` afresh: ``catalog.json`` and one ``<item id>/<item id>.json`` per mosaic and per
    verified product (manifest ``lines``) that has a footprint and a capture time. ``run_info`` (telemetry/run.json)
    gives the run start for lines without ``capture_utc``. Returns the catalog's path."""
    run_dir = Path(run_dir).resolve()
    start_utc = _utc(str(run_info["start_utc"])) if run_info and run_info.get("start_utc") else None
    name = str((run_info or {}).get("scenario") or run_dir.name)
    catalog = pystac.Catalog(id=f"orbitedge-{name}", title=f"orbitedge run: {name}",
                             description="Downlinked products and per-pass mosaics of an orbitedge run")
    by_id = {str(line["id"]): line for line in lines}
    items = [product_item(line, run_dir / "downlink", start_utc) for line in lines]
    items += [mosaic_item(m, by_id[m["product_ids"][0]], run_dir, start_utc) for m in mosaics]
    for item in items:
        if item is not None:
            catalog.add_item(item)
    stac_dir = run_dir / STAC_DIR
    shutil.rmtree(stac_dir, ignore_errors=True)  # items of an earlier report of this run must not linger
    catalog.normalize_hrefs(str(stac_dir))
    catalog.make_all_asset_hrefs_relative()
    catalog.save(pystac.CatalogType.SELF_CONTAINED)
    return stac_dir / "catalog.json"
