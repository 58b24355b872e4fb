"""Whether a band's samples are TOA reflectance (onboard/sensing/toa_reflectance.py): the calibration a band needs,
DN stored as floats refused, and fill no one declares refused naming its value; each through load_band, as a run
reads, on real GeoTIFFs."""

import re

import numpy as np
import pytest
import rasterio
import yaml
from hypothesis import assume, given, settings, strategies as st

from onboard.sensing.band_samples import read_band
from onboard.sensing.raster import BandSource, image_info, load_band
from onboard.sensing.toa_reflectance import (REFLECTANCE_FLOOR, REFLECTANCE_MAX, REFLECTANCE_MIN, calibration_problem,
                                             dark_problem, fill_problem, reflectance_problem)
from onboard.runtime.real_tiles import load_real_tiles
from rundir.errors import InputFileError
from training.cloud_scores import REAL_CLOUD_VAL_DIR
from tests.test_raster import UTM33, write_raster


def test_calibration_from_the_file_or_refused_with_the_usual_products(tmp_path):
    dn = np.full((4, 4), 10000, np.uint16)
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
    assert np.allclose(raster.values, 2.0 * (10000 * 2e-5 - 0.1), atol=1e-6)
    assert np.allclose(load_band(BandSource(plain), None, dn_scale=1e-4).values, 1.0, atol=1e-6)


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
       hot_share=st.floats(0.0, 0.005), bright=st.floats(0.02, 1.3))
def test_float_reflectance_is_read_as_stored(tmp_path_factory, dtype, seed, fill_share, nodata, hot_share, bright):
    """Float reflectance from dark water (its 99th percentile above the sky's REFLECTANCE_FLOOR) up to snow and
    cloud brightness, with any share of declared no-data (NaN, -9999, float32's
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


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(dtype=st.sampled_from(FLOAT_DTYPES + ("uint8",)), seed=st.integers(0, 2**32 - 1),
       fill_share=st.floats(0.0, 0.9), bright=st.floats(0.05, 1.3),
       calibration=st.sampled_from([(2e-5, -0.1), (1e-4, 0.0), (2.75e-5, -0.2), (1e-5, 0.0)]))
def test_reflectance_read_through_a_dn_scale_is_refused(tmp_path_factory, dtype, seed, fill_share, bright,
                                                        calibration):
    """Reflectance files (float, or 8-bit 0..255 counts under a negative offset) read through a 16-bit sensor's
    scale (Landsat 8 C1 2e-5 and
    -0.1, Sentinel-2 L1C 1e-4, Landsat C2 L2 2.75e-5 and -0.2) are darker than the sky: below 0, or below 1e-4.
    Taken as reflectance they made every product black and scored a verdict on it; now refused at world.dn_scale,
    with the samples and their percentile as reflectance; read as stored they are accepted."""
    assume(dtype != "uint8" or calibration[1] < 0)  # 255 counts at 1e-4 are 0.0255, as dark as a real scene can be
    rng = np.random.default_rng(seed)
    top = 255.0 if dtype == "uint8" else bright
    pixels = rng.uniform(0.02 * top / bright, top, (40, 48)).astype(dtype)  # a scene, 0.02 at its darkest
    fill = rng.random(pixels.shape) < fill_share
    fill.flat[0] = False
    nodata = 0.0 if dtype == "uint8" else float("nan")
    path = reflectance_file(tmp_path_factory.mktemp("refl") / "refl.tif", pixels, fill, nodata)
    scale, offset = calibration
    with rasterio.open(path) as ds:
        expected, found = dark_problem(*read_band(ds, 1, None), scale, offset, dtype)
    assert expected.startswith("world.dn_scale") and f"at least {REFLECTANCE_FLOOR:g}" in expected
    assert f"times {scale:g} plus {offset:g}, whose 99th percentile as reflectance is" in found
    with pytest.raises(InputFileError, match=r"refl.tif: expected world.dn_scale .* darker than any sunlit scene: "
                                             r"reflectance read through a DN scale \(world.dn_scale: 1 with"):
        load_band(BandSource(path), None, dn_scale=scale, dn_offset=offset)
    if dtype != "uint8":
        assert np.allclose(load_band(BandSource(path), None).values[~fill], pixels[~fill])
        with pytest.raises(InputFileError, match=r"refl.tif: expected .* samples [-0-9.e]+ to [-0-9.e]+ whose 99th "
                                                 r"percentile as reflectance is .*: darker than any sunlit scene"):
            # reflectance x 1e-4 stored as floats, read as stored
            load_band(BandSource(write_raster(path, pixels * 1e-4, "EPSG:32633", UTM33)), None)


def test_the_sky_floor_holds_for_the_darkest_real_band():
    """The real tiles' darkest band, NIR over the Kyushu sea (Sentinel-2 L1C, scale 1e-4), has its 99th percentile
    far above REFLECTANCE_FLOOR, as the Rayleigh bound says every sunlit band must."""
    tiles = load_real_tiles(REAL_CLOUD_VAL_DIR)
    darkest = min((np.percentile(t.toa[..., b], 99.0), t.name, b) for t in tiles for b in range(4))
    assert darkest[0] > REFLECTANCE_FLOOR, darkest


def test_a_tile_mostly_of_undeclared_fill_is_told_to_declare_it(tmp_path):
    """A Sentinel-2 tile at the swath's edge, 99 % DN 0 with no no-data value declared, reads darker than the sky
    at its scale: the refusal names the commonest value as the fill to declare, since the scale is right."""
    dn = np.zeros((40, 48), np.uint16)
    dn[:1, :10] = 1500  # 0.5 % of the tile on the ground
    path = write_raster(tmp_path / "edge.tif", dn, "EPSG:32633", UTM33)
    with pytest.raises(InputFileError, match=r"edge.tif: expected .* 99 % of them are 0: if that is fill, declare it "
                                             r"\(world.nodata: 0\)$"):
        load_band(BandSource(path), None, dn_scale=1e-4)
    assert np.nanmax(load_band(BandSource(path), 0, dn_scale=1e-4).values) == pytest.approx(0.15)


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
       fill=st.sampled_from([-9999.0, -32768.0, -1.0, -2e9, float(np.finfo(np.float32).min)]),
       fill_share=st.floats(0.001, 0.9),
       scale=st.sampled_from([1e-4, 2.75e-5, 1.0]), declared=st.sampled_from(["file", "scenario", None]))
def test_fill_no_one_declares_is_refused_naming_the_value(tmp_path_factory, dtype, seed, fill, fill_share, scale,
                                                          declared):
    """Fill (-9999, -32768, -1, a float's wild low value) that neither the file nor the scenario declares is read as
    reflectance far below 0 at any scale: refused, naming the value to declare; declared either way, it is
    no-data and the rest reads as stored. Fill whose reflectance is above REFLECTANCE_MIN (-1 at scale 1e-4) is
    indistinguishable from dark ground and reads as data."""
    assume(np.dtype(dtype).kind == "f" or scale < 1.0)  # integers at scale 1 hold reflectance 0 or 1, no scene
    if np.dtype(dtype).kind == "i" and not np.iinfo(dtype).min <= fill <= np.iinfo(dtype).max:
        fill = float(np.iinfo(dtype).min)  # the integer type's own lowest
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(0.0, 0.6 / scale, (40, 48)).astype(dtype)  # reflectance 0 to 0.6
    holes = rng.random(pixels.shape) < fill_share
    holes.flat[0], holes.flat[1] = True, False
    pixels[holes] = fill
    path = write_raster(tmp_path_factory.mktemp("fill") / "band.tif", pixels, "EPSG:32633", UTM33,
                        nodata=fill if declared == "file" else None)
    nodata = fill if declared == "scenario" else None
    if declared is None and fill * scale < REFLECTANCE_MIN:
        stored = pixels[holes][0].item()  # as the file holds it: an int, or the float32 value
        with pytest.raises(InputFileError, match=rf"band.tif: expected a no-data value for the fill .* found "
                                                 rf"{int(holes.sum())} of 1920 valid {dtype} samples below it, most at "
                                                 rf"{re.escape(repr(stored))} .* world.nodata: "
                                                 rf"{re.escape(repr(stored))}$") as refused:
            load_band(BandSource(path), nodata, dn_scale=scale)
        with rasterio.open(path) as ds:
            assert fill_problem(*read_band(ds, 1, None), scale, 0.0, dtype) is not None
        suggested = yaml.safe_load(str(refused.value).rsplit("world.nodata: ", 1)[1])  # as a scenario reads it
        assert np.array_equal(np.isnan(load_band(BandSource(path), suggested, dn_scale=scale).values), holes)
        return
    raster = load_band(BandSource(path), nodata, dn_scale=scale)
    data = ~holes if declared else np.ones(holes.shape, bool)
    assert np.array_equal(~np.isnan(raster.values), data)
    assert np.allclose(raster.values[data], pixels[data].astype(np.float64) * scale, rtol=1e-5, atol=1e-7)


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2**32 - 1), fill_share=st.floats(0.0, 0.9),
       sensor=st.sampled_from([(5000, 30000, 2e-5, -0.1), (500, 12000, 1e-4, 0.0), (7000, 40000, 2.75e-5, -0.2)]),
       wrong=st.sampled_from([(1e-4, 0.0), (1e-3, 0.0), (2.75e-5, 0.0), (1.0 / 4095, 0.0)]))
def test_dn_through_another_sensor_s_scale_are_refused(tmp_path_factory, seed, fill_share, sensor, wrong):
    """A world.dn_scale was trusted whatever the reflectance it gave: Landsat 8 DN through Sentinel-2's 1e-4 read
    1.07-1.66 in the median, 8-25 through 1e-3, and the cloud filter then dropped every tile as cloud. Brighter
    than snow and cloud tops (the 99th percentile above REFLECTANCE_MAX) is now refused there, as for DN stored as
    floats, naming the samples; the sensor's own scale reads them."""
    low, high, scale, offset = sensor
    rng = np.random.default_rng(seed)
    pixels = rng.integers(low, high, (40, 48)).astype(np.uint16)
    fill = rng.random(pixels.shape) < fill_share
    fill.flat[0] = False
    path = reflectance_file(tmp_path_factory.mktemp("dn") / "dn.tif", pixels, fill, 0)
    reflectance = np.percentile(pixels[~fill], 99) * wrong[0] + wrong[1]
    assume(reflectance > REFLECTANCE_MAX * 1.01)  # a scale that leaves them within is no mix-up this can see
    with pytest.raises(InputFileError, match=r"dn.tif: expected world.dn_scale .* that makes the samples reflectance: "
                       r"the 99th percentile of the valid samples at most 1.6, found uint16 samples .* brighter than "
                       r"snow and cloud tops"):
        load_band(BandSource(path), 0, dn_scale=wrong[0], dn_offset=wrong[1])
    raster = load_band(BandSource(path), 0, dn_scale=scale, dn_offset=offset)
    assert np.allclose(raster.values[~fill], pixels[~fill] * scale + offset, atol=1e-5)


@pytest.mark.parametrize("dtype, scale, offset, bright", [("uint16", 1e-4, 0.0, 9000), ("uint16", 2.75e-5, -0.2, 45000),
                                                          ("uint8", 1 / 150, 0.0, 140)])
def test_saturated_samples_do_not_make_a_scale_another_sensor_s(tmp_path, dtype, scale, offset, bright):
    """Sentinel-2 L1C cloud with 2 % of its samples at 65535 (saturated: 6.55 at 1e-4) was refused as "DN of another
    scale", and a Landsat Collection 2 L2 snow scene at 1.6022 (65535 at 2.75e-5 less 0.2). The type's largest
    value is saturation and is left out of the percentile; without it, the same samples still are refused."""
    rng = np.random.default_rng(1)
    top = np.iinfo(dtype).max
    pixels = rng.integers(bright // 3, bright, (40, 50)).astype(dtype)
    pixels.flat[rng.choice(pixels.size, pixels.size // 20, replace=False)] = top  # 5 % saturated
    path = write_raster(tmp_path / "sat.tif", pixels, "EPSG:32633", UTM33)
    raster = load_band(BandSource(path), None, dn_scale=scale, dn_offset=offset)
    assert np.isfinite(raster.values).all()
    with rasterio.open(path) as ds:
        stored = read_band(ds, 1, None)
    assert reflectance_problem(*stored, image_info(path)) is not None  # the DN as stored are no reflectance
    brighter = write_raster(tmp_path / "bright.tif", np.full((40, 50), top - 1, dtype), "EPSG:32633", UTM33)
    if (top - 1) * scale + offset > REFLECTANCE_MAX:  # one below saturation is a sample like any other
        with pytest.raises(InputFileError, match="brighter than snow and cloud tops"):
            load_band(BandSource(brighter), None, dn_scale=scale, dn_offset=offset)
