"""Stitching: place verified image tiles on their common map grid, one mosaic per pass.

Tiles are north-up on a UTM grid snapped to the GSD, so placement is integer pixel offsets from each tile's
footprint: ``col = (x0_m - X0_m) / gsd_m`` and ``row = (Y0_m - y0_m) / gsd_m`` with ``(X0_m, Y0_m)`` the mosaic's
upper-left corner. Where tiles overlap, the first delivered tile keeps its pixels: delivery order is the one fact
the ground has that does not depend on how the pass was tiled, so the mosaic is reproducible from the manifest.
Uncovered mosaic pixels hold DN 0; the coverage mask says which pixels are data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import tifffile

from onboard.codec import decode_product

from .reception import Product, anomaly

GRID_TOLERANCE_PX = 1e-3  # offsets further than this from whole pixels mean the tiles are not on one grid
MAX_MOSAIC_PX = 200_000_000  # bigger mosaics (H * W) are skipped with an anomaly rather than exhaust memory
STRETCH_PERCENTILES = (2.0, 98.0)
QUICKLOOK_REFLECTANCE_MAX = 0.4  # TOA reflectance shown as white: land stays readable, clouds saturate
QUICKLOOK_GAMMA = 1 / 1.8

# GeoTIFF tags (OGC GeoTIFF 1.1) and GeoKeys
MODEL_PIXEL_SCALE_TAG = 33550
MODEL_TIEPOINT_TAG = 33922
GEO_KEY_DIRECTORY_TAG = 34735
GT_MODEL_TYPE_KEY, MODEL_TYPE_PROJECTED = 1024, 1
GT_RASTER_TYPE_KEY, RASTER_PIXEL_IS_AREA = 1025, 1
PROJECTED_CRS_KEY = 3072


class TileGridError(ValueError):
    """Tiles that cannot share one mosaic grid; carries the two footprints that disagree."""

    def __init__(self, problem: str, first: Mapping[str, Any], other: Mapping[str, Any]):
        self.first = dict(first)
        self.other = dict(other)
        super().__init__(f"{problem}: {self.first} vs {self.other}")


def place_tiles(tiles: Sequence[tuple[np.ndarray, Mapping[str, Any]]]
                ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Place tiles on their common grid; where they overlap the earlier tile in ``tiles`` wins.

    ``tiles``: ``(dn, footprint)`` pairs, ``dn`` (h, w, B) or (h, w) uint16, ``footprint`` a dict with ``epsg``,
    ``x0_m``, ``y0_m`` (upper-left corner of the upper-left pixel) and ``gsd_m``. Returns ``(mosaic, coverage,
    footprint)``: (H, W, B) uint16 DN with 0 where uncovered, (H, W) bool coverage, and the mosaic's footprint
    dict (epsg, x0_m, y0_m, gsd_m, width_px, height_px). Raises TileGridError when tiles differ in EPSG, GSD or
    band count, or sit off the common pixel grid; ValueError when ``tiles`` is empty.
    """
    if not tiles:
        raise ValueError("no tiles to place")
    arrays = [dn.reshape(dn.shape[0], dn.shape[1], -1) for dn, _ in tiles]
    first = tiles[0][1]
    gsd_m = float(first["gsd_m"])
    for (dn, fp), array in zip(tiles, arrays):
        if fp["epsg"] != first["epsg"] or not np.isclose(float(fp["gsd_m"]), gsd_m, rtol=0, atol=1e-9):
            raise TileGridError("tiles differ in EPSG or GSD", first, fp)
        if array.shape[2] != arrays[0].shape[2]:
            raise TileGridError(f"tiles differ in band count ({arrays[0].shape[2]} vs {array.shape[2]})", first, fp)
    x0_m = min(float(fp["x0_m"]) for _, fp in tiles)
    y0_m = max(float(fp["y0_m"]) for _, fp in tiles)
    offsets = []
    for _, fp in tiles:
        col_px = (float(fp["x0_m"]) - x0_m) / gsd_m
        row_px = (y0_m - float(fp["y0_m"])) / gsd_m
        if max(abs(col_px - round(col_px)), abs(row_px - round(row_px))) > GRID_TOLERANCE_PX:
            raise TileGridError("tile is off the common pixel grid", first, fp)
        offsets.append((round(row_px), round(col_px)))
    height_px = max(row + a.shape[0] for (row, _), a in zip(offsets, arrays))
    width_px = max(col + a.shape[1] for (_, col), a in zip(offsets, arrays))
    mosaic = np.zeros((height_px, width_px, arrays[0].shape[2]), dtype=np.uint16)
    coverage = np.zeros((height_px, width_px), dtype=bool)
    for (row, col), array in zip(offsets, arrays):
        window = (slice(row, row + array.shape[0]), slice(col, col + array.shape[1]))
        free = ~coverage[window]
        mosaic[window][free] = array[free]
        coverage[window] = True
    footprint = {"epsg": int(first["epsg"]), "x0_m": x0_m, "y0_m": y0_m, "gsd_m": gsd_m,
                 "width_px": width_px, "height_px": height_px}
    return mosaic, coverage, footprint


def mosaic_shape_px(footprints: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """``(height_px, width_px)`` of the mosaic that :func:`place_tiles` would build, without building it."""
    gsd_m = float(footprints[0]["gsd_m"])
    x0_m = min(float(fp["x0_m"]) for fp in footprints)
    y0_m = max(float(fp["y0_m"]) for fp in footprints)
    x1_m = max(float(fp["x0_m"]) + fp["width_px"] * gsd_m for fp in footprints)
    y1_m = min(float(fp["y0_m"]) - fp["height_px"] * gsd_m for fp in footprints)
    return round((y0_m - y1_m) / gsd_m), round((x1_m - x0_m) / gsd_m)


def quicklook_rgb(mosaic: np.ndarray, coverage: np.ndarray, bands: Sequence[str],
                  reflectance_per_dn: float | None = None) -> np.ndarray:
    """An (H, W, 3) uint8 true-colour quick-look of an (H, W, B) mosaic from bands R, G, B (else the first band
    as grey); uncovered pixels are black. One stretch serves all three channels so colours stay true: with the
    product's calibration, TOA reflectance 0..QUICKLOOK_REFLECTANCE_MAX with a display gamma; without it, the
    2nd..98th percentile of the covered pixels of all three channels together."""
    names = list(bands)
    if all(b in names for b in ("R", "G", "B")):
        channels = [names.index(b) for b in ("R", "G", "B")]
    else:
        channels = [0, 0, 0]
    out = np.zeros(mosaic.shape[:2] + (3,), dtype=np.uint8)
    if not coverage.any():
        return out
    if reflectance_per_dn:
        dn = np.arange(1 << 16, dtype=np.float64)
        lut = (dn * (reflectance_per_dn / QUICKLOOK_REFLECTANCE_MAX)).clip(0.0, 1.0) ** QUICKLOOK_GAMMA
    else:
        sample = mosaic[coverage][:, channels]
        low, high = np.percentile(sample, STRETCH_PERCENTILES)
        lut = ((np.arange(1 << 16, dtype=np.float64) - low) / max(float(high - low), 1.0)).clip(0.0, 1.0)
    lut = np.round(lut * 255.0).astype(np.uint8)  # NOTE: a lookup table: mosaics run to 10^8 samples
    for i, band in enumerate(channels):
        out[..., i] = lut[mosaic[..., band]]
    out[~coverage] = 0
    return out


def geotiff_tags(footprint: Mapping[str, Any]) -> list[tuple[int, str, int, tuple, bool]]:
    """tifffile ``extratags`` georeferencing a north-up grid: ModelPixelScale (gsd, gsd, 0), ModelTiepoint
    (pixel (0, 0) -> (x0_m, y0_m)), and a GeoKeyDirectory: projected model, pixel-is-area, ProjectedCRS = EPSG."""
    gsd_m = float(footprint["gsd_m"])
    geokeys = (1, 1, 0, 3,  # directory version 1.1.0, three keys follow
               GT_MODEL_TYPE_KEY, 0, 1, MODEL_TYPE_PROJECTED,
               GT_RASTER_TYPE_KEY, 0, 1, RASTER_PIXEL_IS_AREA,
               PROJECTED_CRS_KEY, 0, 1, int(footprint["epsg"]))
    return [
        (MODEL_PIXEL_SCALE_TAG, "d", 3, (gsd_m, gsd_m, 0.0), True),
        (MODEL_TIEPOINT_TAG, "d", 6, (0.0, 0.0, 0.0, float(footprint["x0_m"]), float(footprint["y0_m"]), 0.0), True),
        (GEO_KEY_DIRECTORY_TAG, "H", len(geokeys), geokeys, True),
    ]


def write_geotiff(path: Path, mosaic: np.ndarray, footprint: Mapping[str, Any]) -> None:
    """Write an (H, W, B) uint16 mosaic as a deflate-compressed GeoTIFF (stdlib zlib: no imagecodecs needed),
    tiled 256 x 256 with horizontal differencing, as a cloud-optimised reader expects."""
    tifffile.imwrite(path, mosaic, photometric="minisblack", planarconfig="contig", compression="zlib",
                     compressionargs={"level": 3}, predictor=True, tile=(256, 256),
                     extratags=geotiff_tags(footprint), metadata=None)


def write_quicklook(path: Path, rgb: np.ndarray) -> None:
    """Write an (H, W, 3) uint8 RGB array as PNG."""
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"OpenCV could not write {path}")


@dataclass(frozen=True)
class MosaicGroup:
    """The image products that make one mosaic: ``name`` (a safe file name) is the pass id, suffixed by the target
    (and EPSG) only when one pass holds tiles of several targets or zones."""

    name: str
    pass_id: str
    products: tuple[Product, ...]


def group_by_pass(products: Sequence[Product]) -> list[MosaicGroup]:
    """Image products with a footprint (of a raw burst, frame 0's), grouped per pass (split by target and EPSG where a pass has several), in
    order of first delivery; each group keeps delivery order."""
    groups: dict[tuple[str, str, int], list[Product]] = {}
    for product in products:
        line = product.line
        if line["kind"] != "image" or not line.get("footprint") or line.get("burst_frame", 0) != 0:
            continue  # a raw burst's mosaic shows its frame 0
        key = (str(line["pass_id"]), str(line.get("target")), int(line["footprint"]["epsg"]))
        groups.setdefault(key, []).append(product)
    keys_per_pass: dict[str, list[tuple[str, str, int]]] = {}
    for key in groups:
        keys_per_pass.setdefault(key[0], []).append(key)
    out = []
    for key, members in groups.items():
        pass_id, target, epsg = key
        siblings = keys_per_pass[pass_id]
        name = pass_id
        if len(siblings) > 1:
            name += f"-{target}"
            if sum(1 for k in siblings if k[1] == target) > 1:
                name += f"-{epsg}"
        out.append(MosaicGroup(re.sub(r"[^A-Za-z0-9._-]+", "_", name), pass_id, tuple(members)))
    return out


def stitch_passes(products: Sequence[Product], run_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Build and write one mosaic per pass into ``run_dir/mosaics``: ``<name>.tif`` (GeoTIFF, uint16, all bands)
    and ``<name>.png`` (8-bit RGB quick-look). Returns ``(mosaics, anomalies)``: one JSON-ready dict per mosaic
    (paths relative to ``run_dir``) and anomalies for passes that could not be stitched."""
    mosaics: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    groups = group_by_pass(products)
    if groups:
        (run_dir / "mosaics").mkdir(exist_ok=True)
    for group in groups:
        lines = [p.line for p in group.products]
        first_file = f"downlink/{lines[0]['file']}"
        height_px, width_px = mosaic_shape_px([line["footprint"] for line in lines])
        if height_px * width_px > MAX_MOSAIC_PX:
            problems.append(anomaly("mosaic_too_large", first_file, f"pass {group.pass_id} would make a "
                                    f"{height_px} x {width_px} px mosaic (limit {MAX_MOSAIC_PX} px); not stitched"))
            continue
        tiles = [(decode_product(p.path, p.line), p.line["footprint"]) for p in group.products]
        try:
            mosaic, coverage, footprint = place_tiles(tiles)
        except TileGridError as err:
            problems.append(anomaly("unstitchable_pass", first_file, f"pass {group.pass_id}: {err}"))
            continue
        tif_rel, png_rel = f"mosaics/{group.name}.tif", f"mosaics/{group.name}.png"
        write_geotiff(run_dir / tif_rel, mosaic, footprint)
        bands = list(lines[0].get("bands") or [])
        write_quicklook(run_dir / png_rel, quicklook_rgb(mosaic, coverage, bands, lines[0].get("reflectance_per_dn")))
        mosaics.append({
            "name": group.name, "pass_id": group.pass_id, "satellite": lines[0].get("satellite"),
            "target": lines[0].get("target"), "tiles": len(lines), "bands": bands,
            "width_px": footprint["width_px"], "height_px": footprint["height_px"],
            "covered_fraction": float(coverage.mean()), "footprint": footprint, "tif": tif_rel, "png": png_rel,
        })
    return mosaics, problems
