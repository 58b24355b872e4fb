"""A band's samples and where they are valid (onboard/sensing/band_samples.py): an alpha band of opacity refused
as a measurement, and a band marked alpha that holds measurements (an RGBN file's NIR) neither refused nor taken as
the other bands' mask; on real GeoTIFFs written by rasterio."""

import numpy as np
import pytest
import rasterio
from rasterio.enums import ColorInterp

from onboard.sensing.band_samples import alpha_problem, is_opacity, read_band
from onboard.sensing.raster import BandSource, band_metadata, load_band
from rundir.errors import InputFileError
from tests.test_raster import UTM33, write_raster


@pytest.mark.parametrize("options, marked", [({"photometric": "RGB", "alpha": "YES"}, None), ({}, None),
                                             ({"photometric": "MINISBLACK"}, ColorInterp.alpha)])
def test_an_alpha_band_of_opacity_is_refused_as_a_measurement(tmp_path, options, marked):
    """An RGBA file's fourth band given as NIR was read as NIR: 255 wherever the image has data, NIR 1.02 through a
    scale of 0.004, and validate said OK. A band the file marks alpha (PHOTOMETRIC=RGB with ALPHA=YES, GDAL's
    default for 4-band 8-bit files, or a colour interpretation set so) that holds only 0 and 255 is refused; one
    whose samples vary (an RGBN file's NIR, marked alpha by that default) is read as stored."""
    opacity = np.full((4, 4), 255, np.uint8)
    opacity[0, 0] = 0
    nir = np.arange(16, dtype=np.uint8).reshape(4, 4) * 10 + 20
    for name, fourth in (("rgba.tif", opacity), ("rgbn.tif", nir)):
        pixels = np.stack([np.full((4, 4), 40 * (b + 1), np.uint8) for b in range(3)] + [fourth])
        path = write_raster(tmp_path / name, pixels, "EPSG:32633", UTM33, **options)
        if marked is not None:
            with rasterio.open(path, "r+") as ds:
                ds.colorinterp = [ColorInterp.gray, ColorInterp.undefined, ColorInterp.undefined, marked]
        with rasterio.open(path) as ds:
            assert ds.colorinterp[3] == ColorInterp.alpha
            info, problems = band_metadata(ds, BandSource(path, 4), None, name)
            assert info.alpha and problems == []
            assert alpha_problem(read_band(ds, 4, None)[0], info) == (None if fourth is nir else (
                "a band of measurements, not the file's alpha band", "band 4, which the file marks alpha, holding "
                "only 0 and 255 (the other bands' transparency, which reads as their no-data mask)"))
    with pytest.raises(InputFileError, match="rgba.tif: expected a band of measurements, not the file's alpha band"):
        load_band(BandSource(tmp_path / "rgba.tif", 4), None, dn_scale=0.004)
    raster = load_band(BandSource(tmp_path / "rgbn.tif", 4), None, dn_scale=2.0**-8)
    np.testing.assert_array_equal(raster.values, nir * np.float32(2.0**-8))


def test_a_band_marked_alpha_that_holds_measurements_masks_no_other_band(tmp_path):
    """An 8-bit RGBN file written with GDAL's defaults has its NIR marked alpha, and GDAL takes it as the other
    bands' mask: red, green and blue read as no-data wherever NIR is 0 (water), half the file here. Read as
    measurements, it masks nothing; a real alpha band of opacity still does."""
    nir = np.where(np.arange(16)[None, :] < 8, 0, 90).repeat(16, 0).astype(np.uint8)  # water on the left half
    rgb = [np.full((16, 16), 40 * (b + 1), np.uint8) for b in range(3)]
    for fourth, masks in ((nir, False), (np.where(nir > 0, 255, 0).astype(np.uint8), True)):
        path = write_raster(tmp_path / "rgbn.tif", np.stack([*rgb, fourth]), "EPSG:32633", UTM33)
        with rasterio.open(path) as ds:
            assert ds.colorinterp[3] == ColorInterp.alpha
            valid = read_band(ds, 1, None)[1]
        assert valid.all() != masks and (valid == (fourth > 0)).all() == masks
    assert is_opacity(np.array([0, 255, 65535], np.uint16)) and not is_opacity(np.array([0, 90], np.uint8))
    assert not is_opacity(np.array([0.0, 255.0], np.float32))


def test_an_internal_mask_applies_beside_an_alpha_band_that_holds_measurements(tmp_path):
    """The alpha band's measurements set aside every mask: an internal mask (GDAL's per-dataset mask, which it gives
    ahead of the alpha band) hiding half an RGBN file was dropped too. Only the alpha band's own masking is."""
    rgbn = np.stack([np.full((8, 8), 40 * (b + 1), np.uint8) for b in range(3)] + [np.full((8, 8), 90, np.uint8)])
    path = write_raster(tmp_path / "masked.tif", rgbn, "EPSG:32633", UTM33)
    hidden = np.ones((8, 8), bool)
    hidden[:4] = False
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "r+") as ds:
        ds.write_mask(hidden)
    with rasterio.open(path) as ds:
        assert ds.colorinterp[3] == ColorInterp.alpha
        np.testing.assert_array_equal(read_band(ds, 1, None)[1], hidden)
