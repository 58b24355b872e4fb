"""One band of an image file through GDAL: metadata, samples and validity, calibration, reprojection
(onboard/sensing/raster.py)."""

import warnings

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings, strategies as st
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning

from onboard.sensing.projection import GridFootprint
from onboard.sensing.raster import (REFLECTANCE_MAX, BandSource, band_metadata, calibration_problem, image_info,
                                    load_band, open_image, read_band, reflectance_problem)
from rundir.errors import InputFileError

NODATA_DTYPES = ("uint8", "uint16", "int16", "int32", "float32")
UTM33 = Affine(20.0, 0.0, 300000.0, 0.0, -20.0, 5000000.0)


def write_raster(path, pixels, crs, transform, nodata=None, driver="GTiff", **options):
    """Write (H, W) or (count, H, W) ``pixels`` with rasterio; returns ``path``."""
    pixels = pixels[None] if pixels.ndim == 2 else pixels
    with rasterio.open(path, "w", driver=driver, width=pixels.shape[2], height=pixels.shape[1], count=pixels.shape[0],
                       dtype=pixels.dtype, crs=crs, transform=transform, nodata=nodata, **options) as ds:
        ds.write(pixels)
    return path


def test_bad_input_files_are_named(tmp_path):
    with pytest.raises(InputFileError, match="nope.tif: no such file"):
        open_image(tmp_path / "nope.tif")
    (tmp_path / "imagery").mkdir()
    with pytest.raises(InputFileError, match="imagery: a folder, not an image file"):
        open_image(tmp_path / "imagery")
    with pytest.raises(InputFileError, match="x: no such file"):  # a name the OS refuses (too long) is no file
        open_image(tmp_path / ("x" * 300))
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(InputFileError, match="junk.png: GDAL cannot open"):
        open_image(tmp_path / "junk.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # on purpose: a PNG with no georeferencing
        write_raster(tmp_path / "plain.png", np.ones((8, 8), np.uint8), None, Affine.identity(), driver="PNG")
    with pytest.raises(InputFileError, match=r"plain.png: expected a georeferenced image.*world file.*found no CRS"):
        image_info(tmp_path / "plain.png")


def test_band_metadata_names_the_band_problems(tmp_path):
    path = write_raster(tmp_path / "three.tif", np.zeros((3, 4, 4), np.uint16), "EPSG:32633", UTM33)
    with rasterio.open(path) as ds:
        info, problems = band_metadata(ds, BandSource(path), None, "three.tif")
        assert info.count == 3 and problems == [("a single-band file, or {file: three.tif, band: N} naming one of its "
                                                 "bands", "3 bands: 1 gray, 2 undefined, 3 undefined")]
        info, problems = band_metadata(ds, BandSource(path, 4), None)
        assert problems[0][0] == "a band from 1 to 3 (1-based, as GDAL counts)"
        info, problems = band_metadata(ds, BandSource(path, 2), -1.0)
        assert problems == [("a no-data value that uint16 samples can hold", "-1")]
        info, problems = band_metadata(ds, BandSource(path, 2), 0.0)
        assert problems == [] and info.band == 2 and info.transform == UTM33 and info.crs.to_epsg() == 32633


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(dtype=st.sampled_from(NODATA_DTYPES), seed=st.integers(0, 2**32 - 1), fill_share=st.floats(0.0, 0.9),
       nan=st.booleans())
def test_nodata_family(tmp_path_factory, dtype, seed, fill_share, nan):
    """Any dtype and no-data value (NaN for floats too): exactly those pixels are not valid, the rest as stored."""
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if dtype != "float32" else np.finfo(dtype)
    lo, hi = (max(float(info.min), -1e6), min(float(info.max), 1e6))
    nodata = float("nan") if nan and dtype == "float32" else float(rng.integers(int(lo), int(hi) + 1))
    pixels = rng.uniform(lo, hi, (40, 48)).astype(dtype)
    pixels[rng.random(pixels.shape) < fill_share] = nodata
    path = write_raster(tmp_path_factory.mktemp("nd") / "band.tif", pixels, "EPSG:32633", UTM33, nodata=nodata)
    real = ~np.isnan(pixels) if nan and dtype == "float32" else pixels != pixels.dtype.type(nodata)
    with rasterio.open(path) as ds:
        stored, valid = read_band(ds, 1, None)
        assert np.array_equal(valid, real) and np.array_equal(stored[real], pixels[real])
        value = float(pixels[real][0]) if real.any() else 1.0  # a scenario value replaces the file's
        _, replaced = read_band(ds, 1, value)
        assert np.array_equal(replaced, (pixels != pixels.dtype.type(value)) & ~np.isnan(pixels.astype(np.float64)))
        small, _ = read_band(ds, 1, None, max_px=10)
        assert max(small.shape) <= 10


def test_calibration_from_the_file_or_refused_with_the_usual_products(tmp_path):
    dn = np.full((4, 4), 5000, np.uint16)
    plain = write_raster(tmp_path / "dn.tif", dn, "EPSG:32633", UTM33)
    expected, found = calibration_problem(image_info(plain))
    assert expected.startswith("world.dn_scale") and "Sentinel-2 L1C 1.0e-4" in found
    with pytest.raises(InputFileError, match="dn.tif: expected world.dn_scale"):
        load_band(BandSource(plain), None)
    scaled = write_raster(tmp_path / "scaled.tif", dn, "EPSG:32633", UTM33)
    with rasterio.open(scaled, "r+") as ds:
        ds.scales, ds.offsets = (2e-5,), (-0.1,)
    assert calibration_problem(image_info(scaled)) is None
    raster = load_band(BandSource(scaled), None, factor=2.0)
    assert np.allclose(raster.values, 2.0 * (5000 * 2e-5 - 0.1), atol=1e-6)
    assert np.allclose(load_band(BandSource(plain), None, dn_scale=1e-4).values, 0.5, atol=1e-6)


FLOAT_DTYPES = ("float32", "float64")


def reflectance_file(path, pixels, fill, nodata):
    """``pixels`` with ``fill`` (a boolean (H, W)) set to ``nodata`` (NaN: also declared as NaN), written as a
    GeoTIFF in UTM 33 N; returns the path."""
    pixels = pixels.copy()
    pixels[fill] = nodata
    return write_raster(path, pixels, "EPSG:32633", UTM33, nodata=nodata)


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(dtype=st.sampled_from(FLOAT_DTYPES), seed=st.integers(0, 2**32 - 1), fill_share=st.floats(0.0, 0.9),
       nodata=st.sampled_from([float("nan"), -9999.0, float(np.finfo(np.float32).min)]),
       hot_share=st.floats(0.0, 0.005), bright=st.floats(0.0, 1.3))
def test_float_reflectance_is_read_as_stored(tmp_path_factory, dtype, seed, fill_share, nodata, hot_share, bright):
    """Float reflectance up to snow and cloud brightness, with any share of declared no-data (NaN, -9999, float32's
    lowest) and up to 0.5 % of hot pixels (saturation: 6.55, or wild values), is reflectance as stored."""
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(-0.05, bright, (40, 48)).astype(dtype)
    pixels.flat[rng.choice(pixels.size, int(hot_share * pixels.size), replace=False)] = rng.choice([6.55, 3e4])
    fill = rng.random(pixels.shape) < fill_share
    path = reflectance_file(tmp_path_factory.mktemp("refl") / "band.tif", pixels, fill, nodata)
    with rasterio.open(path) as ds:
        assert reflectance_problem(*read_band(ds, 1, None), image_info(path)) is None
    raster = load_band(BandSource(path), None)
    assert np.array_equal(np.isnan(raster.values), fill) and np.allclose(raster.values[~fill], pixels[~fill])


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(dtype=st.sampled_from(FLOAT_DTYPES), seed=st.integers(0, 2**32 - 1), fill_share=st.floats(0.0, 0.9),
       top=st.sampled_from([255.0, 4095.0, 10000.0, 65535.0]))
def test_float_dn_are_refused_as_reflectance_and_read_with_a_scale(tmp_path_factory, dtype, seed, fill_share, top):
    """DN of any depth stored as floats (8-bit, 12-bit, Sentinel-2's 10000 for reflectance 1, 16-bit), no-data
    declared or not, are refused when read as reflectance, naming the file, what was expected and the samples
    found; a world.dn_scale reads them."""
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(2.0, top, (40, 48)).astype(dtype)
    fill = rng.random(pixels.shape) < fill_share
    fill.flat[0] = False  # one valid sample at least
    path = reflectance_file(tmp_path_factory.mktemp("dn") / "dn.tif", pixels, fill, float("nan"))
    info = image_info(path)
    with rasterio.open(path) as ds:
        expected, found = reflectance_problem(*read_band(ds, 1, None), info)
    assert expected.startswith("world.dn_scale") and f"at most {REFLECTANCE_MAX:g}" in expected
    valid = pixels[~fill]
    assert found.startswith(f"{dtype} samples {valid.min():g} to {valid.max():g} whose 99th percentile")
    assert calibration_problem(info) is None  # floats declare their calibration: their values tell
    with pytest.raises(InputFileError, match=r"dn.tif: expected world.dn_scale .* found .* DN, not reflectance"):
        load_band(BandSource(path), None)
    raster = load_band(BandSource(path), None, dn_scale=1.0 / top)
    assert np.allclose(raster.values[~fill], valid / top, rtol=1e-6)


def test_a_files_own_scale_is_held_to_reflectance_too(tmp_path):
    """A file's scale and offset that do not give reflectance (radiance, a wrong scale) are refused like float DN,
    saying so; a negative scale is held by its other tail."""
    dn = np.full((8, 8), 3000, np.int16)
    for scale, offset, refused in ((0.1, 0.0, True), (1e-4, -0.1, False), (-1e-4, 0.0, False), (-1e-3, 0.0, False),
                                   (-1e-3, 5.0, True)):
        path = write_raster(tmp_path / "scaled.tif", dn, "EPSG:32633", UTM33)
        with rasterio.open(path, "r+") as ds:
            ds.scales, ds.offsets = (scale,), (offset,)
        with rasterio.open(path) as ds:
            problem = reflectance_problem(*read_band(ds, 1, None), image_info(path))
        assert (problem is not None) == refused, (scale, offset)
        if refused:
            assert f"int16 samples 3000 to 3000, times the file's scale {scale:g} plus its offset {offset:g}," in \
                problem[1]


def test_reprojection_into_a_footprint_keeps_pixels_on_their_own_grid_and_nan_outside(tmp_path):
    pixels = np.arange(12 * 10, dtype=np.float32).reshape(12, 10)
    raster = load_band(BandSource(write_raster(tmp_path / "r.tif", pixels, "EPSG:32633", UTM33)), None, dn_scale=1.0)
    own = GridFootprint(32633, 300000.0, 5000000.0, 20.0, 10, 12)
    assert np.array_equal(raster.sample(own, Resampling.nearest), pixels)
    shifted = GridFootprint(32633, 300100.0, 5000000.0, 20.0, 10, 12)  # five pixels east: the last five are outside
    out = raster.sample(shifted, Resampling.nearest)
    assert np.array_equal(out[:, :5], pixels[:, 5:]) and np.isnan(out[:, 5:]).all()
