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
from onboard.sensing.band_samples import read_band
from onboard.sensing.raster import (BandSource, band_metadata, holds_pole, holds_value, image_info, load_band,
                                    open_image, wrap_lon)
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
    for plain in ("data/b2.tif", "vsidata/b2.tif", "vsis3_copy/b2.tif", "scene_T10:30.tif", "run:1/b2.tif"):
        with pytest.raises(InputFileError, match="b2.tif: no such file|T10:30.tif: no such file"):
            open_image(tmp_path / plain)  # a missing file whose name merely looks like one


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
    pixels = np.arange(12 * 10, dtype=np.float32).reshape(12, 10) / 128  # reflectance 0..0.93, each exact
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
    ("EPSG:4326", 179.9, 0.01, (0.0,)),  # ending exactly at 180 E: no pixel past it, one warp
    ("EPSG:4326", -180.0, 36.0, (0.0,)),  # the whole globe
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
    if crs == "EPSG:4326":  # east within (-180, 180]: a file ending at 180 E ends at 180, not -180
        whole = 10 * pixel >= 360.0
        expected = (-180.0, 180.0) if whole else (wrap_lon(x0), 180.0 - (180.0 - (x0 + 10 * pixel)) % 360.0)
        assert (west, east) == pytest.approx(expected)


@pytest.mark.parametrize("lat_deg, epsg", [(-90.0, 32761), (90.0, 32661), (-89.95, 32761), (89.95, 32661)])
def test_a_frame_over_a_pole_takes_every_pixel_of_a_geographic_file(tmp_path, lat_deg, epsg):
    """A frame on a pole (UPS) from an EPSG:4326 file of the polar cap: GDAL's source window from the frame's edges
    left a ring, 4246 of 16384 pixels valid, the rest fill; sampling its interior too (holds_pole), every pixel is
    valid and within the file's values. A frame beside the pole was whole before and stays so."""
    rng = np.random.default_rng(0)
    pixels = rng.uniform(1000, 3000, (500, 1440)).astype(np.uint16)  # the cap from 89.9 degrees, 11 km wide
    top = 90.0 if lat_deg > 0 else -89.9  # 0.25 x 0.0002 degree pixels
    transform = Affine(0.25, 0, -180, 0, -0.0002, top)
    path = write_raster(tmp_path / "cap.tif", pixels, "EPSG:4326", transform)
    band = load_band(BandSource(path), None, dn_scale=1e-4)
    footprint = GridFootprint.centred(lat_deg, 0.0, epsg, 30.0, 128, 128)
    assert holds_pole(footprint) == (abs(lat_deg) == 90.0)
    sampled = band.sample(footprint, Resampling.bilinear)
    assert np.isfinite(sampled).all() and 0.1 <= sampled.min() and sampled.max() <= 0.3


def test_only_a_frame_on_a_pole_holds_one():
    assert holds_pole(GridFootprint.centred(84.0, 10.0, 32633, 30.0, 512, 512)) is False  # UTM's northern limit
    assert holds_pole(GridFootprint.centred(89.97, 10.0, 32661, 30.0, 128, 128)) is False  # 1.4 km short of it
    assert holds_pole(GridFootprint.centred(89.97, 10.0, 32661, 30.0, 128, 1024)) is True  # 31 km tall: on it
    assert holds_pole(GridFootprint.centred(-89.99, 10.0, 32761, 30.0, 128, 128)) is True  # 1.1 km from it


@pytest.mark.parametrize("value, dtype, holds", [
    (0.5, "uint16", False), (-1, "uint16", False), (65535, "uint16", True), (65536, "uint16", False),
    (float("nan"), "uint16", False), (-9999, "int16", True), (1e40, "float32", False), (1e40, "float64", True),
    (float("nan"), "float32", True), (-3.4e38, "float32", True), (-3.4028235e+38, "float32", True),
    (-3.40282346638529e+38, "float32", True), (float("-inf"), "float32", True), (3.5e38, "float32", False)])
def test_a_no_data_value_is_one_the_samples_can_hold_exactly(value, dtype, holds):
    """No uint16 sample equals 0.5 (rasterio's in_dtype_range took it: a range test), and 1e40 overflows float32
    (where in_dtype_range printed numpy's overflow warning before the error); float32's lowest as numpy and gdalinfo
    print it rounds to it, as GDAL stores it."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning on the way
        assert holds_value(value, dtype) is holds
