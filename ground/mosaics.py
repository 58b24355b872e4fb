"""The report's ``mosaics`` section: the per-pass mosaics stitched from the delivered image tiles
(:func:`ground.stitch.stitch_passes`, run by :func:`ground.run_data.load_run`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
