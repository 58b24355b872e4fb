"""ground.mosaics: the report's mosaics section and its blocks."""

from __future__ import annotations

import shutil

from ground.document import Image, Paragraph, Table
from ground.mosaics import mosaics_blocks, mosaics_section
from ground.run_data import load_run


def test_one_pass_one_mosaic(tiny_run):
    mosaics = mosaics_section(load_run(tiny_run))
    assert mosaics["count"] == 1 and mosaics["paths"] == ["mosaics/sat-1-p000.tif", "mosaics/sat-1-p000.png"]
    assert all((tiny_run / path).is_file() for path in mosaics["paths"])
    [passed] = mosaics["passes"]
    assert passed["tiles"] == 4 and passed["footprint"]["epsg"] == 32631
    blocks = mosaics_blocks(mosaics, {"mosaics": "plots/mosaics.png"})
    [table] = [b for b in blocks if isinstance(b, Table)]
    assert table.rows[0][0] == passed["name"] and table.rows[0][5] == "EPSG:32631"
    assert blocks[-1] == Image("mosaic quick-looks", "plots/mosaics.png")


def test_no_product_no_mosaic(tiny_run):
    shutil.rmtree(tiny_run / "downlink")
    mosaics = mosaics_section(load_run(tiny_run))
    assert mosaics == {"count": 0, "paths": [], "passes": []}
    assert mosaics_blocks(mosaics, {})[-1] == Paragraph("No image products to stitch.")
