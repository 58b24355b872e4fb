"""The report's ``mosaics`` section: the per-pass mosaics stitched from the delivered image tiles
(:func:`ground.stitch.stitch_passes`, run by :func:`ground.run_data.load_run`), and their previews cropped to the
data with their map extent (:func:`preview`, drawn by :func:`ground.plots.plot_mosaics`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from rasterio.warp import transform as transform_points

from .document import Block, Heading, Image, Paragraph, Table, capped, fmt_fraction
from .run_data import RunData


def mosaics_section(run: RunData) -> dict[str, Any]:
    """report.json ``mosaics``: count, the GeoTIFF and PNG paths (relative to the run directory) and each pass."""
    return {"count": len(run.mosaics), "paths": [m[key] for m in run.mosaics for key in ("tif", "png")],
            "passes": list(run.mosaics)}


def mosaics_blocks(mosaics: Mapping[str, Any], figures: Mapping[str, str]) -> list[Block]:
    """report.md/html blocks: one row per mosaic (capped), and the quick-looks when ``figures`` has ``mosaics``."""
    blocks: list[Block] = [Heading(2, "Mosaics")]
    if not mosaics["passes"]:
        return blocks + [Paragraph("No image products to stitch.")]
    rows, note = capped(tuple(
        (m["name"], m["satellite"], m["target"], m["tiles"], f"{m['width_px']} x {m['height_px']}",
         f"EPSG:{m['footprint']['epsg']}", fmt_fraction(m["covered_fraction"]), m["tif"]) for m in mosaics["passes"]),
        "mosaics")
    blocks += [Table(("mosaic", "satellite", "target", "tiles", "size (px)", "CRS", "covered", "GeoTIFF"), rows), *note]
    if "mosaics" in figures:
        blocks.append(Image("mosaic quick-looks", figures["mosaics"]))
    return blocks


@dataclass(frozen=True)
class Preview:
    """A mosaic quick-look cropped to its data, ready to draw: ``rgba`` (h, w, 4) uint8, alpha 0 where no product
    covers the ground and 255 elsewhere (bytes, which matplotlib draws as they are: a float copy took 8x the memory
    and came back one DN off in places), its ``extent_m`` (left, right, bottom, top) in the mosaic's projected CRS
    (``epsg``, metres) and the geographic centre of the crop (``lat_deg``, ``lon_deg``)."""

    rgba: np.ndarray
    extent_m: tuple[float, float, float, float]
    epsg: int
    lat_deg: float
    lon_deg: float


def preview(mosaic: Mapping[str, Any], run_dir: Path, max_px: int) -> Preview:
    """The quick-look PNG of a ``mosaics.passes`` entry (uncovered pixels black, :func:`ground.stitch.quicklook_rgb`)
    shrunk to at most ``max_px`` a side and cropped to the rows and columns that hold data; its extent follows from
    the mosaic's footprint (upper-left ``x0_m``, ``y0_m``, ``gsd_m``; the PNG may be smaller than the mosaic)."""
    bgr = cv2.imread(str(run_dir / mosaic["png"]), cv2.IMREAD_COLOR)
    fp = mosaic["footprint"]
    width_m, height_m = fp["width_px"] * fp["gsd_m"], fp["height_px"] * fp["gsd_m"]
    shrink = max_px / max(bgr.shape[:2])
    if shrink < 1:  # matplotlib resamples slowly: hand it a preview-sized image
        bgr = cv2.resize(bgr, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    covered = bgr.any(axis=2)
    rows, cols = np.flatnonzero(covered.any(axis=1)), np.flatnonzero(covered.any(axis=0))
    (r0, r1), (c0, c1) = ((a[0], a[-1] + 1) if a.size else (0, n) for a, n in zip((rows, cols), bgr.shape[:2]))
    alpha = np.where(covered[r0:r1, c0:c1], np.uint8(255), np.uint8(0))
    rgba = np.dstack([cv2.cvtColor(bgr[r0:r1, c0:c1], cv2.COLOR_BGR2RGB), alpha])
    px_x, px_y = width_m / bgr.shape[1], height_m / bgr.shape[0]
    x0, y0 = float(fp["x0_m"]), float(fp["y0_m"])
    extent = (x0 + c0 * px_x, x0 + c1 * px_x, y0 - r1 * px_y, y0 - r0 * px_y)
    lon, lat = transform_points(f"EPSG:{fp['epsg']}", "EPSG:4326", [(extent[0] + extent[1]) / 2],
                                [(extent[2] + extent[3]) / 2])
    return Preview(rgba, extent, int(fp["epsg"]), float(lat[0]), float(lon[0]))
