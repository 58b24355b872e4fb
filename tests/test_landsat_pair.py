"""The Landsat 8 pair of the shared data (training/landsat_pair.py): its bands through GDAL, rescaled to TOA
reflectance as the Collection 1 handbook says, and fill pixels kept out."""

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from training.landsat_pair import LANDSAT_BANDS, LANDSAT_DIR, LANDSAT_SCENES, band_path, landsat_toa

pytestmark = pytest.mark.skipif(not LANDSAT_DIR.is_dir(), reason=f"no Landsat pair at {LANDSAT_DIR}")


def test_every_scene_has_its_three_bands_on_one_grid():
    for scene in LANDSAT_SCENES:
        shapes = set()
        for band in LANDSAT_BANDS:
            with rasterio.open(band_path(scene, band)) as src:
                assert src.dtypes[0] == "uint16" and src.res == (30.0, 30.0)
                shapes.add(src.shape)
        assert len(shapes) == 1


def test_toa_is_the_collection_1_rescaling_and_fill_is_not_valid():
    scene = LANDSAT_SCENES[0]
    toa, valid = landsat_toa(scene, ("R", "B"))
    with rasterio.open(band_path(scene, "R")) as red, rasterio.open(band_path(scene, "B")) as blue:
        window = Window(900, 700, 40, 30)
        dn_red, dn_blue = (src.read(1, window=window).astype(np.float64) for src in (red, blue))
    rows, cols = slice(700, 730), slice(900, 940)
    np.testing.assert_allclose(toa[rows, cols, 0], 2e-5 * dn_red - 0.1, atol=1e-6)  # reflectance units
    np.testing.assert_allclose(toa[rows, cols, 1], 2e-5 * dn_blue - 0.1, atol=1e-6)
    assert valid[rows, cols].all()
    assert not valid[-1, 0]  # the scene's lower-left corner lies outside the swath: DN 0, fill
    assert 0.0 < np.median(toa[valid]) < 0.3  # a nearly cloud-free scene: land reflectance
