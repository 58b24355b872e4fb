"""ground.mosaics: the report's mosaics section, its blocks, and the previews cropped to the data."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from pyproj import Transformer

from ground.document import Image, Paragraph, Table
from ground.mosaics import mosaics_blocks, mosaics_section, preview
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


def test_preview_is_cropped_to_the_data_with_its_map_extent(tmp_path):
    """A 2000 x 1000 m mosaic whose quick-look (100 x 50 px, half the mosaic's 10 m pixels) holds data in rows
    20-59 and columns 10-29 only."""
    bgr = np.zeros((100, 50, 3), np.uint8)
    bgr[20:60, 10:30] = (40, 80, 120)
    bgr[30, 15] = 0  # a black pixel inside the data stays, as no data
    cv2.imwrite(str(tmp_path / "m.png"), bgr)
    mosaic = {"png": "m.png", "footprint": {"epsg": 32631, "x0_m": 500_000.0, "y0_m": 5_000_000.0, "gsd_m": 10.0,
                                             "width_px": 100, "height_px": 200}}
    view = preview(mosaic, tmp_path, max_px=800)
    assert view.rgba.shape == (40, 20, 4) and view.epsg == 32631
    assert view.rgba.dtype == np.uint8 and view.rgba[0, 0].tolist() == [120, 80, 40, 255]
    assert view.rgba[10, 5, 3] == 0
    assert view.extent_m == (500_000.0 + 10 * 20, 500_000.0 + 30 * 20, 5_000_000.0 - 60 * 20, 5_000_000.0 - 20 * 20)
    lon, lat = Transformer.from_crs(32631, 4326, always_xy=True).transform(500_400.0, 4_999_200.0)
    assert (view.lat_deg, view.lon_deg) == pytest.approx((lat, lon), abs=1e-9)  # centre, pyproj independently
    small = preview(mosaic, tmp_path, max_px=50)  # shrunk by half first: the same ground
    assert small.rgba.shape == (20, 10, 4) and small.extent_m == view.extent_m
