"""One band of an image file through GDAL: metadata, samples and validity, calibration, reprojection
(onboard/sensing/raster.py)."""

import math
import warnings

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from hypothesis import given, settings, strategies as st
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning

from onboard.sensing.projection import GridFootprint
from onboard.sensing.raster import (REFLECTANCE_MAX, REFLECTANCE_MIN, BandSource, band_metadata, calibration_problem,
                                    fill_problem, image_info, load_band, open_image, read_band, reflectance_problem,
                                    wrap_lon)
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


def test_gdal_virtual_files_and_subdatasets_are_named_as_such(tmp_path):
    """A user's /vsizip/ path or netCDF subdataset name, which GDAL opens but orbitedge does not, read "no such file";
    they are named for what they are, with what to do. A plain missing file is still no such file."""
    for name in ("/vsizip//data/scene.zip/scene/b2.tif", 'NETCDF:"/data/scene.nc":Band1', "zip:///data/a.zip!/b.tif",
                 "/vsicurl/https://example.com/b2.tif"):
        with pytest.raises(InputFileError, match="a GDAL virtual file or subdataset name, which orbitedge does not "
                                                 "open: extract or convert the band to a file first"):
            open_image(tmp_path / name)
    with pytest.raises(InputFileError, match="b2.tif: no such file"):
        open_image(tmp_path / "data" / "b2.tif")


def test_a_container_of_subdatasets_is_refused_naming_them(tmp_path):
    """A netCDF file of two variables (as gdal_translate -of netCDF writes a 2-band image) has no bands of its own,
    only subdatasets: refused naming them and how to convert one (it raised IndexError)."""
    two = write_raster(tmp_path / "two.tif", np.ones((2, 8, 8), np.float32), "EPSG:32633", UTM33)
    rasterio.shutil.copy(two, tmp_path / "scene.nc", driver="netCDF")
    with open_image(tmp_path / "scene.nc") as ds:
        info, problems = band_metadata(ds, BandSource(tmp_path / "scene.nc", 1), None)
    assert info is None and problems == [("an image with bands", "no bands: a container of 2 subdataset(s) (netcdf:"
                                          f"{tmp_path / 'scene.nc'}:Band1, netcdf:{tmp_path / 'scene.nc'}:Band2); "
                                          "convert one to a file first, e.g. gdal_translate 'NAME' band.tif")]


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


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(dtype=st.sampled_from(("int16", "int32", "float32")), seed=st.integers(0, 2**32 - 1),
       fill=st.sampled_from([-9999.0, -32768.0, -1.0, -2e9]), fill_share=st.floats(0.001, 0.9),
       scale=st.sampled_from([1e-4, 2.75e-5, 1.0]), declared=st.sampled_from(["file", "scenario", None]))
def test_fill_no_one_declares_is_refused_naming_the_value(tmp_path_factory, dtype, seed, fill, fill_share, scale,
                                                          declared):
    """Fill (-9999, -32768, -1, a float's wild low value) that neither the file nor the scenario declares is read as
    reflectance far below 0 at any scale: refused, naming the value to declare; declared either way, it is
    no-data and the rest reads as stored. Fill whose reflectance is above REFLECTANCE_MIN (-1 at scale 1e-4) is
    indistinguishable from dark ground and reads as data."""
    if not np.can_cast(np.min_scalar_type(fill), dtype) and np.dtype(dtype).kind == "i":
        fill = -1.0  # what the integer type can hold
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(0.0, 0.6 / scale, (40, 48)).astype(dtype)  # reflectance 0 to 0.6
    holes = rng.random(pixels.shape) < fill_share
    holes.flat[0], holes.flat[1] = True, False
    pixels[holes] = fill
    path = write_raster(tmp_path_factory.mktemp("fill") / "band.tif", pixels, "EPSG:32633", UTM33,
                        nodata=fill if declared == "file" else None)
    nodata = fill if declared == "scenario" else None
    if declared is None and fill * scale < REFLECTANCE_MIN:
        with pytest.raises(InputFileError, match=rf"band.tif: expected a no-data value for the fill .* found "
                                                 rf"{int(holes.sum())} of 1920 valid {dtype} samples below it, most at "
                                                 rf"{fill:g} .* world.nodata: {fill:g}$"):
            load_band(BandSource(path), nodata, dn_scale=scale)
        with rasterio.open(path) as ds:
            assert fill_problem(*read_band(ds, 1, None), scale, 0.0, dtype) is not None
        return
    raster = load_band(BandSource(path), nodata, dn_scale=scale)
    data = ~holes if declared else np.ones(holes.shape, bool)
    assert np.array_equal(~np.isnan(raster.values), data)
    assert np.allclose(raster.values[data], pixels[data].astype(np.float64) * scale, rtol=1e-5, atol=1e-7)


def test_a_per_band_mask_is_honoured(tmp_path):
    """A band whose mask is its own (GDAL's per-band mask: a VRT's MaskBand, a .msk per band) has no mask flag at
    all, neither per-dataset nor alpha; its masked pixels are not valid, as with the other kinds of mask."""
    pixels = np.full((8, 10), 0.3, np.float32)
    write_raster(tmp_path / "data.tif", pixels, "EPSG:32633", UTM33)
    keep = np.ones((8, 10), np.uint8) * 255
    keep[:, :4] = 0
    write_raster(tmp_path / "mask.tif", keep, "EPSG:32633", UTM33)
    band = ('<VRTRasterBand dataType="{}" band="1"><SimpleSource><SourceFilename relativeToVRT="1">{}'
            '</SourceFilename><SourceBand>1</SourceBand></SimpleSource>{}</VRTRasterBand>')
    mask = "<MaskBand>" + band.format("Byte", "mask.tif", "") + "</MaskBand>"
    vrt = ('<VRTDataset rasterXSize="10" rasterYSize="8"><SRS>EPSG:32633</SRS><GeoTransform>300000, 20, 0, 5000000, '
           '0, -20</GeoTransform>' + band.format("Float32", "data.tif", mask) + '</VRTDataset>')
    (tmp_path / "masked.vrt").write_text(vrt)
    with rasterio.open(tmp_path / "masked.vrt") as ds:
        assert ds.mask_flag_enums == ([],)  # per band: no flag
        _, valid = read_band(ds, 1, None)
    assert np.array_equal(valid, keep > 0)
    assert np.array_equal(np.isnan(load_band(BandSource(tmp_path / "masked.vrt"), None).values), keep == 0)


def test_reprojection_into_a_footprint_keeps_pixels_on_their_own_grid_and_nan_outside(tmp_path):
    pixels = np.arange(12 * 10, dtype=np.float32).reshape(12, 10)
    raster = load_band(BandSource(write_raster(tmp_path / "r.tif", pixels, "EPSG:32633", UTM33)), None, dn_scale=1.0)
    own = GridFootprint(32633, 300000.0, 5000000.0, 20.0, 10, 12)
    assert np.array_equal(raster.sample(own, Resampling.nearest), pixels)
    shifted = GridFootprint(32633, 300100.0, 5000000.0, 20.0, 10, 12)  # five pixels east: the last five are outside
    out = raster.sample(shifted, Resampling.nearest)
    assert np.array_equal(out[:, :5], pixels[:, 5:]) and np.isnan(out[:, 5:]).all()


MERCATOR_WORLD_M = 2.0 * math.pi * 6_378_137.0  # EPSG:3857's x period: the WGS 84 equator on a sphere of radius a


@pytest.mark.parametrize("crs, x0, pixel, offsets", [
    ("EPSG:3857", 20_037_508.34 - 5_000.0, 1_000.0, (0.0, -MERCATOR_WORLD_M)),  # across 180 E, as gdalwarp writes
    ("EPSG:4326", 284.3, 0.01, (-360.0,)),  # 0..360 longitudes
    ("EPSG:4326", 179.95, 0.01, (0.0, -360.0)),  # across 180 E
    ("EPSG:4326", -180.05, 0.01, (360.0, 0.0)),
    ("EPSG:32633", 300_000.0, 20.0, (0.0,)),  # within its world
    ("+proj=sinu +R=6371007.181 +units=m", -20_015_109.0 - 5_000.0, 1_000.0, (0.0,)),  # a wrap no shift can follow
])
def test_copies_of_a_file_past_its_crs_world_edge(tmp_path, crs, x0, pixel, offsets):
    """The x offsets of the copies that hold a file's pixels inside its CRS's world, and its bounds as a GeoJSON
    bbox within -180..180 (lon/lat: the file's own longitudes, wrapped)."""
    path = write_raster(tmp_path / "edge.tif", np.ones((10, 10), np.uint8), crs,
                        Affine(pixel, 0.0, x0, 0.0, -pixel, 10 * pixel))
    info = image_info(path)
    assert info.world_offsets_x == pytest.approx(offsets, abs=1e-3)
    west, _, east, _ = info.bounds_lonlat()
    assert -180.0 <= west < 180.0 and -180.0 < east <= 180.0
    if crs == "EPSG:4326":
        assert (west, east) == pytest.approx((wrap_lon(x0), wrap_lon(x0 + 0.1)))
