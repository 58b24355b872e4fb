"""Stitching: place verified image tiles on their common map grid, one mosaic per pass.

Tiles are north-up on a map grid (UTM or UPS) snapped to the GSD, so placement is integer pixel offsets from each tile's
footprint: ``col = (x0_m - X0_m) / gsd_m`` and ``row = (Y0_m - y0_m) / gsd_m`` with ``(X0_m, Y0_m)`` the mosaic's
upper-left corner. Where tiles overlap, the first delivered tile keeps its pixels: delivery order is the one fact
the ground has that does not depend on how the pass was tiled, so the mosaic is reproducible from the manifest.
The mosaic is never whole in memory: its tiles are decoded and written one at a time, the last delivered first, so
that the first delivered is written last; only the (H, W) coverage mask, which says which pixels are data, is kept.

A mosaic is written through rasterio (GDAL) as a Cloud Optimized GeoTIFF (GDAL's COG driver: 256 px tiles, Zstandard
level 1 with the horizontal-differencing predictor, internal overviews by area averaging; Zstandard in TIFF needs
GDAL 2.3 / libtiff 4.0.10 or newer to read, and costs a quarter of deflate level 3's time for 1 % more bytes) that holds its CRS and transform, the no-data DN of uncovered pixels
(:func:`onboard.codec.nodata_dn`; at 16 bits, where no DN is free, an internal mask instead), band descriptions, the
DN-to-TOA-reflectance scale and offset with their unit, and band centre wavelengths. Its quick-look is a true-colour
PNG at most :data:`QUICKLOOK_MAX_PX` on its long side.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import rasterio
import rasterio.shutil
from rasterio._err import CPLE_BaseError  # NOTE: private; rasterio.errors exports no base of GDAL's own errors
from rasterio.errors import RasterioError
from rasterio.windows import Window

from rundir.codec import Georef, decode_product, has_data
from rundir.manifest import Footprint
from rundir.files import remade_folder, write_atomic

from .reception import Product, anomaly

GRID_TOLERANCE_PX = 1e-3  # offsets further than this from whole pixels mean the tiles are not on one grid
MAX_MOSAIC_PX = 200_000_000  # bigger mosaics (H * W) are skipped with an anomaly rather than exhaust memory
STRETCH_PERCENTILES = (2.0, 98.0)
QUICKLOOK_REFLECTANCE_MAX = 0.4  # TOA reflectance shown as white: land stays readable, clouds saturate
QUICKLOOK_GAMMA = 1 / 1.8
QUICKLOOK_MAX_PX = 2048  # long side of a quick-look; larger mosaics are shrunk by area averaging
ALL_CORES = "ALL_CPUS"  # GDAL's NUM_THREADS for one compression thread per core (GTiff/COG drivers)
COG_BLOCK_PX = 256  # COG tile size; overviews halve the mosaic until it fits one tile
# GDAL's block cache while a COG is written (GDAL's default is 5 % of RAM, kept by the process after the write)
COG_CACHE_MB = 64


class TileGridError(ValueError):
    """Tiles that cannot share one mosaic grid; carries the two footprints that disagree."""

    def __init__(self, problem: str, first: Footprint, other: Footprint | Mapping[str, Any]):
        self.first = first
        self.other = other
        super().__init__(f"{problem}: {self.first} vs {self.other}")


def mosaic_grid(footprints: Sequence[Footprint]) -> tuple[Footprint, list[tuple[int, int]]]:
    """The common map grid of tiles with these footprints (``x0_m``, ``y0_m``: the upper-left pixel's upper-left
    corner): the mosaic's footprint and each tile's ``(row, col)`` offset in it. Raises TileGridError when
    footprints differ in EPSG or GSD or sit off the common pixel grid; ValueError when there are none."""
    if not footprints:
        raise ValueError("no tiles to place")
    first = footprints[0]
    gsd_m = float(first.gsd_m)
    for fp in footprints:
        if fp.epsg != first.epsg or not np.isclose(float(fp.gsd_m), gsd_m, rtol=0, atol=1e-9):
            raise TileGridError("tiles differ in EPSG or GSD", first, fp)
    x0_m = min(float(fp.x0_m) for fp in footprints)
    y0_m = max(float(fp.y0_m) for fp in footprints)
    offsets = []
    for fp in footprints:
        col_px = (float(fp.x0_m) - x0_m) / gsd_m
        row_px = (y0_m - float(fp.y0_m)) / gsd_m
        if max(abs(col_px - round(col_px)), abs(row_px - round(row_px))) > GRID_TOLERANCE_PX:
            raise TileGridError("tile is off the common pixel grid", first, fp)
        offsets.append((round(row_px), round(col_px)))
    height_px = max(row + fp.height_px for (row, _), fp in zip(offsets, footprints))
    width_px = max(col + fp.width_px for (_, col), fp in zip(offsets, footprints))
    return Footprint(first.epsg, x0_m, y0_m, gsd_m, width_px, height_px), offsets


def shrink_area(channels: Iterable[np.ndarray], coverage: np.ndarray, max_px: int = QUICKLOOK_MAX_PX
                ) -> tuple[np.ndarray, np.ndarray]:
    """Shrink a mosaic's channels, each (H, W) uint16 with DN 0 where uncovered (taken one at a time, so that only
    one is in memory), and its (H, W) bool coverage so that the long side is at most ``max_px``, keeping the aspect
    ratio, by area averaging (OpenCV INTER_AREA) over the covered pixels only: each output pixel is the mean DN of
    the covered input pixels under it, and is covered when at least half of them are.
    Returns ``(float32 (h, w, C) DN, (h, w) bool coverage)``; unshrunk when it already fits."""
    height_px, width_px = coverage.shape
    factor = max_px / max(height_px, width_px)
    if factor >= 1:
        return np.stack(list(channels), axis=-1).astype(np.float32), coverage
    size = (max(1, round(width_px * factor)), max(1, round(height_px * factor)))  # OpenCV: (width, height)
    cover = cv2.resize(coverage.astype(np.uint8) * np.uint8(255), size, interpolation=cv2.INTER_AREA).astype(np.float32)
    small = [cv2.resize(np.ascontiguousarray(channel), size, interpolation=cv2.INTER_AREA)
             for channel in channels]  # uncovered pixels are DN 0: the mean over all, rescaled below
    return np.stack(small, axis=-1).astype(np.float32) * (255.0 / np.maximum(cover, 1.0))[..., None], cover >= 127.5


def quicklook_rgb(band: Callable[[int], np.ndarray], coverage: np.ndarray, bands: Sequence[str],
                  reflectance_per_dn: float | None = None, max_px: int = QUICKLOOK_MAX_PX) -> np.ndarray:
    """An (h, w, 3) uint8 true-colour quick-look of a mosaic with (H, W) bool ``coverage``, whose band ``i`` (of
    ``bands``) ``band(i)`` gives as (H, W) uint16 DN, 0 where uncovered: bands R, G, B (else the first band as
    grey), at most ``max_px`` on its long side (:func:`shrink_area`); uncovered pixels are black. One stretch
    serves all three channels so colours stay true: with the product's calibration, TOA reflectance
    0..QUICKLOOK_REFLECTANCE_MAX with a display gamma; without it, the 2nd..98th percentile of the covered pixels of
    all three channels together."""
    names = list(bands)
    if all(b in names for b in ("R", "G", "B")):
        channels = [names.index(b) for b in ("R", "G", "B")]
    else:
        channels = [0, 0, 0]
    read = sorted(set(channels))
    dn, covered = shrink_area((band(c) for c in read), coverage, max_px)
    dn = dn[..., [read.index(c) for c in channels]]
    out = np.zeros(dn.shape[:2] + (3,), dtype=np.uint8)
    if not covered.any():
        return out
    if reflectance_per_dn:
        level = (dn * (reflectance_per_dn / QUICKLOOK_REFLECTANCE_MAX)).clip(0.0, 1.0) ** QUICKLOOK_GAMMA
    else:
        low, high = np.percentile(dn[covered], STRETCH_PERCENTILES)
        level = ((dn - low) / max(float(high - low), 1.0)).clip(0.0, 1.0)
    out[covered] = np.round(level[covered] * 255.0).astype(np.uint8)
    return out


def write_cog(path: Path, tiles: Iterable[tuple[int, int, np.ndarray]], shape: tuple[int, int], georef: Georef,
              quicklook: Path | None = None, threads: int | str = ALL_CORES) -> np.ndarray:
    """Write a mosaic of ``shape`` (H, W) px as a COG that carries ``georef`` (see the module docstring), tile by
    tile, so that the whole mosaic is never in memory: ``tiles`` yields ``(row, col, dn)``, ``dn`` (h, w, B) uint16
    placed with its upper-left pixel at (row, col). A pixel that holds fill in every band (:func:`rundir.codec.
    has_data`: no world there, or cloud masked out on board) is not data and writes nothing; where tiles overlap
    with data, the one written last wins. Returns the coverage, (H, W) bool: the pixels some tile gave data. The
    others hold ``georef.nodata``, and with no no-data DN an internal mask says which pixels are data. With
    ``quicklook``, its PNG (:func:`quicklook_rgb`) is written too.

    GDAL's COG driver only copies a dataset, so the mosaic goes through a temporary tiled GeoTIFF beside ``path``
    (uncompressed: it is read once; GDAL fills the blocks and parts of blocks no tile wrote with the no-data DN, or
    0), and its blocks are compressed in ``threads`` threads (GDAL's NUM_THREADS: a number, or ALL_CPUS for one per
    core; the same bytes whatever the number); ``path`` appears whole or not at all. Raises TileGridError when a
    tile's band count is not ``georef``'s."""
    with gdal_writing(path, quicklook):
        return _write_cog(path, tiles, shape, georef, quicklook, threads)


class GdalFailures(logging.Handler):
    """The failures GDAL signals that rasterio logs, on its ``rasterio`` loggers at INFO, without raising them:
    a block that a full disk or the file-size limit kept from being written as GDAL flushed its cache, which left a
    mosaic with holes where the run went on as if whole."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("GDAL signalled an error"):  # args: GDAL's error number and message
            self.messages.append(str(record.args[-1]) if isinstance(record.args, tuple) and record.args else
                                 record.getMessage())


@contextlib.contextmanager
def gdal_writing(path: Path, *made_with: Path | None) -> Iterator[None]:
    """Write ``path`` through GDAL, its failures an OSError naming the file and GDAL's words, and ``path`` removed
    with the files ``made_with`` it (each is whole or not there): those rasterio raises (its CPLE errors, not
    OSErrors: "IReadBlock failed" of a temporary file cut short was a traceback) and those it only logs
    (:class:`GdalFailures`). The mosaics are written one at a time, so what is logged meanwhile is this file's."""
    logger, failures = logging.getLogger("rasterio"), GdalFailures()
    level = logger.level
    logger.addHandler(failures)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    except (CPLE_BaseError, RasterioError) as err:
        raise OSError(errno.EIO, f"GDAL could not write it: {err}", str(path)) from None
    finally:
        logger.removeHandler(failures)
        logger.setLevel(level)
    if failures.messages:
        for made in (path, *made_with):
            if made is not None:
                made.unlink(missing_ok=True)
        raise OSError(errno.EIO, f"GDAL could not write it: {failures.messages[0]}", str(path))


def _write_cog(path: Path, tiles: Iterable[tuple[int, int, np.ndarray]], shape: tuple[int, int], georef: Georef,
               quicklook: Path | None, threads: int | str) -> np.ndarray:
    """:func:`write_cog`, its GDAL failures not yet raised."""
    height_px, width_px = shape
    coverage = np.zeros(shape, bool)
    n_bands = len(georef.bands)
    profile = {"driver": "GTiff", "width": width_px, "height": height_px, "count": n_bands, "dtype": "uint16",
               "tiled": True, "blockxsize": COG_BLOCK_PX, "blockysize": COG_BLOCK_PX, "interleave": "pixel",
               "photometric": "minisblack"}
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp, rasterio.Env(
            GDAL_TIFF_INTERNAL_MASK=True, GDAL_CACHEMAX=COG_CACHE_MB * 2**20):
        source = Path(tmp) / path.name
        with rasterio.open(source, "w+", **profile, **georef.profile) as dst:
            georef.describe(dst)
            for row, col, dn in tiles:
                if dn.shape[2] != n_bands:
                    raise TileGridError(f"a tile has {dn.shape[2]} bands, the mosaic {n_bands}",
                                        {"row": row, "col": col}, {"bands": list(georef.bands)})
                window, data = Window(col, row, dn.shape[1], dn.shape[0]), has_data(dn)
                pixels = np.moveaxis(dn, -1, 0)
                if not data.all():  # fill keeps what is there: another tile's data, or the no-data DN
                    pixels = np.where(data, pixels, dst.read(window=window))
                dst.write(pixels, window=window)
                coverage[row:row + dn.shape[0], col:col + dn.shape[1]] |= data
            if georef.nodata is None:
                dst.write_mask(coverage)
        write_atomic(path, lambda part: rasterio.shutil.copy(
            source, part, driver="COG", compress="ZSTD", level=1, predictor="YES", blocksize=COG_BLOCK_PX,
            overview_resampling="AVERAGE", resampling="AVERAGE", num_threads=threads))
        if quicklook is not None:
            with rasterio.open(source) as src:
                rgb = quicklook_rgb(lambda b: np.where(coverage, src.read(b + 1), np.uint16(0)), coverage,
                                    georef.bands, georef.reflectance_per_dn)
            write_quicklook(quicklook, rgb)
    return coverage


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
        if line.kind != "image" or line.footprint is None or (line.burst_frame or 0) != 0:
            continue  # a raw burst's mosaic shows its frame 0
        key = (line.pass_id, str(line.target), line.footprint.epsg)
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


def stitch_passes(products: Sequence[Product], run_dir: Path,
                  cog_threads: int | str = ALL_CORES) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Build and write one mosaic per pass into ``run_dir/mosaics``: ``<name>.tif`` (COG, uint16, all bands, see
    :func:`write_cog`, compressed in ``cog_threads``) and ``<name>.png`` (8-bit RGB quick-look, at most
    QUICKLOOK_MAX_PX a side), in place of what an earlier report wrote there. Returns
    ``(mosaics, anomalies)``: one JSON-ready dict per mosaic (paths relative to ``run_dir``; ``capture_t_s`` the
    first and last capture time of its tiles, ``product_ids`` its tiles in delivery order) and anomalies for passes
    that could not be stitched."""
    mosaics: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    groups = group_by_pass(products)
    if not groups and not (run_dir / "mosaics").is_dir():
        return mosaics, problems
    with remade_folder(run_dir / "mosaics"):  # an earlier report's mosaics, no longer backed by products, go
        for group in groups:
            lines = [p.line for p in group.products]
            first_file = f"downlink/{lines[0].file}"
            footprints = [line.footprint for line in lines]
            try:
                footprint, offsets = mosaic_grid(footprints)
            except TileGridError as err:
                problems.append(anomaly("unstitchable_pass", first_file, f"pass {group.pass_id}: {err}"))
                continue
            height_px, width_px = footprint.height_px, footprint.width_px
            if height_px * width_px > MAX_MOSAIC_PX:
                problems.append(anomaly("mosaic_too_large", first_file, f"pass {group.pass_id} would make a "
                                        f"{height_px} x {width_px} px mosaic (limit {MAX_MOSAIC_PX} px); not stitched"))
                continue
            tif_rel, png_rel = f"mosaics/{group.name}.tif", f"mosaics/{group.name}.png"
            georef = Georef.from_line(lines[0], footprint)
            # the last delivered tile is written first, so that where tiles overlap the first delivered one wins
            placed = ((row, col, _tile_dn(product)) for product, (row, col)
                      in zip(reversed(group.products), reversed(offsets)))
            try:
                coverage = write_cog(run_dir / tif_rel, placed, (height_px, width_px), georef,
                                     quicklook=run_dir / png_rel, threads=cog_threads)
            except TileGridError as err:
                problems.append(anomaly("unstitchable_pass", first_file, f"pass {group.pass_id}: {err}"))
                continue
            bands = list(georef.bands)
            mosaics.append({
                "name": group.name, "pass_id": group.pass_id, "satellite": lines[0].satellite,
                "target": lines[0].target, "tiles": len(lines), "bands": bands,
                "width_px": width_px, "height_px": height_px, "covered_fraction": float(coverage.mean()),
                "footprint": dataclasses.asdict(footprint), "tif": tif_rel, "png": png_rel,
                "nodata": georef.nodata, "reflectance_per_dn": georef.reflectance_per_dn,
                "capture_t_s": [min(line.capture_t_s for line in lines), max(line.capture_t_s for line in lines)],
                "product_ids": [line.id for line in lines],
            })
    return mosaics, problems


def _tile_dn(product: Product) -> np.ndarray:
    """A product's decoded pixels as (h, w, B) uint16. Raises TileGridError when they do not fill its footprint."""
    dn = decode_product(product.path, product.line)
    dn = dn.reshape(dn.shape[0], dn.shape[1], -1)
    footprint = product.line.footprint
    if dn.shape[:2] != (footprint.height_px, footprint.width_px):
        raise TileGridError(f"a tile's pixels ({dn.shape[0]} x {dn.shape[1]}) do not fill its footprint", footprint,
                            {"file": product.line.file})
    return dn
