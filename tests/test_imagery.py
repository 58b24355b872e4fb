"""Real imagery through GDAL: any CRS reprojected to the frame grid, band choice, no-data, cloud masks as stored,
bit-field quality bands, and what ``validate`` says about image files (onboard/sensing/imagery.py)."""

import dataclasses
import json
import math
import re
import shutil
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import psutil
import pytest
import rasterio
import rasterio.rpc
import rasterio.windows
from affine import Affine
from hypothesis import HealthCheck, given, settings, strategies as st
from pyproj import Transformer
from rasterio.errors import NotGeoreferencedWarning

from app.cli import main
from onboard.scenario.config import load_scenario
from onboard.sensing import imagery
from onboard.sensing.imagery import ImageryWorld, world_from_config
from onboard.sensing.mask_bits import MASK_CODES, MaskBits
from onboard.sensing.raster import BandSource, footprint_transform, image_info
from onboard.sensing.projection import GridFootprint, epsg_code, utm_zone
from rundir.truth import CLOUD_THICK, CLOUD_THIN, UNKNOWN
from onboard.sensing.world import MissingBandError
from rundir.codec import FILL_DN, decode_product, has_data
from rundir.errors import ConfigError, InputFileError
from rundir.manifest import ManifestLine
from tests.test_raster import write_raster

NOON = datetime(2026, 6, 21, 11, 0, tzinfo=timezone.utc)
DATA = Path(__file__).resolve().parent / "data" / "imagery"
LANDSAT = Path(__file__).resolve().parents[2] / "shared" / "data" / "landsat8_p224_r077_r078"  # shared/ beside the repo
LANDSAT_DN = 2e-5  # reflectance of one Landsat 8 DN
FORCE_SCALE = 1e-4  # reflectance of one DN of l8_B2_int16_nodata-9999.tif (FORCE / THEIA: reflectance x 10000)
FILL = -9999  # GDAL_NODATA of the FORCE-style band
# Pre-collection Landsat 8 QA (USGS, "Landsat 8 Quality Assessment Band", pre-collection L1T): bits 14-15 cloud
# confidence, 01 no, 10 maybe, 11 yes; bit 0 designated fill.
PRE_COLLECTION_CLOUD = (MaskBits(14, 15, 2, CLOUD_THIN), MaskBits(14, 15, 3, CLOUD_THICK), MaskBits(0, 0, 1, UNKNOWN))
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def grid_of(info):
    """The footprint that is the image's own (north-up, square-pixel, projected) grid."""
    t = info.transform
    return GridFootprint(info.crs.to_epsg(), t.c, t.f, t.a, info.width, info.height)


# --- Landsat 8 (../shared/data): georeferencing, overlaps, edges -------------------------------------------------

def landsat_files(row):
    return {name: LANDSAT / f"LC08_L1TP_224{row}_20200518_20200518_01_RT_B{b}.TIF"
            for name, b in (("B", 2), ("G", 3), ("R", 4))}


@pytest.fixture(scope="module")
def landsat():
    # Landsat 8 L1 fill is DN 0 (USGS LSDS-1574), and these files do not declare it: the scenario says so.
    return {row: ImageryWorld(landsat_files(row), dn_scale=LANDSAT_DN, dn_offset=-0.1, nodata=0)
            for row in ("077", "078")}


def test_landsat_georeference_and_coverage(landsat):
    info = image_info(landsat_files("077")["B"])
    # The tie point (694020, -2766630) is the centre of the upper-left pixel (GeoTIFF PixelIsPoint).
    assert (info.crs.to_epsg(), info.transform) == (32621, Affine(30.0, 0.0, 694005.0, 0.0, -30.0, -2766615.0))
    assert (info.width, info.height, info.dtype, info.nodata) == (2006, 1515, "uint16", None)
    cov = landsat["077"].coverage
    assert -25.3 < cov.centre_lat_deg < -25.1 and -54.9 < cov.centre_lon_deg < -54.6
    assert landsat["077"].bands_available == ("B", "G", "R")


def test_landsat_rows_agree_in_their_overlap(landsat):
    # Row 078 starts 778 columns east and 346 rows south of row 077; they overlap by 1228 x 1169 pixels.
    overlap = GridFootprint(32621, 694005.0 + 778 * 30.0, -2766615.0 - 346 * 30.0, 30.0, 1228, 1169)
    a = landsat["077"].render(overlap, NOON, 40.0, 40.0, ("B", "G", "R"))
    b = landsat["078"].render(overlap, NOON, 40.0, 40.0, ("B", "G", "R"))
    both = a.valid & b.valid
    assert both.mean() > 0.8 and (a.cloud == UNKNOWN).all() and (a.landcover == UNKNOWN).all()
    dn = np.abs(a.reflectance[both] - b.reflectance[both]) / LANDSAT_DN
    assert np.median(dn) <= 1.0 and dn.mean() < 2.0
    # Resampled (bilinear) into a 10 m grid of the next UTM zone, the two rows still agree.
    cov = landsat["078"].coverage
    fp = GridFootprint.centred(cov.centre_lat_deg, cov.centre_lon_deg, 32722, 10.0, 256, 256)
    a, b = (landsat[row].render(fp, NOON, 40.0, 40.0, ("R",)) for row in ("077", "078"))
    assert (a.valid & b.valid).all()
    assert np.mean(np.abs(a.reflectance - b.reflectance)) / LANDSAT_DN < 2.0


def test_landsat_pixels_copied_exactly_on_their_own_grid_and_fill_is_not_valid(landsat):
    info = image_info(landsat_files("078")["R"])
    with rasterio.open(landsat_files("078")["R"]) as ds:
        dn = ds.read(1)
    scene = landsat["078"].render(grid_of(info), NOON, 40.0, 40.0, ("R",))
    assert np.array_equal(scene.valid, dn != 0)  # 16.5 % of row 078 is fill
    expected = dn.astype(np.float32) * np.float32(LANDSAT_DN) + np.float32(-0.1)
    assert np.array_equal(scene.reflectance[..., 0][dn != 0], expected[dn != 0])
    assert (scene.reflectance[dn == 0] == 0).all()


def test_outside_the_imagery_is_not_valid(landsat):
    info = image_info(landsat_files("077")["R"])
    x_max, y_max = info.transform @ (info.width, 0)
    fp = GridFootprint(32621, x_max - 50 * 30.0, y_max - 100 * 30.0, 30.0, 100, 64)
    scene = landsat["077"].render(fp, NOON, 40.0, 40.0, ("R",))
    assert scene.valid[:, :50].all() and not scene.valid[:, 50:].any()  # the last column counts too
    assert (scene.reflectance[~scene.valid] == 0).all()


def test_missing_band_names_it(landsat):
    fp = GridFootprint(32621, 720000.0, -2780000.0, 30.0, 8, 8)
    with pytest.raises(MissingBandError, match="'NIR'"):
        landsat["077"].render(fp, NOON, 40.0, 40.0, ("B", "G", "R", "NIR"))


def test_png_georeferenced_by_its_sidecar_reads_like_the_geotiff(tmp_path, landsat):
    with rasterio.open(landsat_files("077")["R"]) as ds:
        dn = ds.read(1)[300:364, 500:580]
    x0, y0 = 694005.0 + 500 * 30.0, -2766615.0 - 300 * 30.0
    transform = Affine(30.0, 0.0, x0, 0.0, -30.0, y0)
    write_raster(tmp_path / "red.png", dn, "EPSG:32621", transform, driver="PNG")  # georeferenced by .aux.xml
    mask = np.zeros(dn.shape, np.uint8)
    mask[:, 40:] = CLOUD_THICK
    write_raster(tmp_path / "mask.tif", mask, "EPSG:32621", transform)
    fp = GridFootprint(32621, x0, y0, 30.0, 80, 64)
    expected = landsat["077"].render(fp, NOON, 40.0, 40.0, ("R",)).reflectance
    world = ImageryWorld({"R": tmp_path / "red.png"}, mask=tmp_path / "mask.tif", dn_scale=LANDSAT_DN,
                         dn_offset=-0.1, nodata=0)
    scene = world.render(fp, NOON, 40.0, 40.0, ("R",))
    assert np.array_equal(scene.reflectance, expected)
    assert (scene.cloud[:, :40] == 0).all() and (scene.cloud[:, 40:] == CLOUD_THICK).all()


def test_bad_input_files_are_named(tmp_path):
    with pytest.raises(InputFileError, match="nope.tif: no such file"):
        ImageryWorld({"R": tmp_path / "nope.tif"})
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(InputFileError, match="junk.png: GDAL cannot open"):
        ImageryWorld({"R": tmp_path / "junk.png"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # on purpose: a PNG with no georeferencing
        write_raster(tmp_path / "plain.png", np.ones((8, 8), np.uint8), None, Affine.identity(), driver="PNG")
    with pytest.raises(InputFileError, match=r"plain.png: expected a georeferenced image.*world file.*its CRS in a "
                                             r"\.aux\.xml.*GDAL reads no \.prj beside a PNG.*found no CRS"):
        ImageryWorld({"R": tmp_path / "plain.png"})


def test_an_image_with_rpcs_only_is_told_to_orthorectify_it(tmp_path):
    """A satellite image with rational polynomial coefficients and no grid (a Level-1 product as delivered) gets
    its own hint, not the GeoTIFF-tag advice of an image with no georeferencing."""
    coefficients = dict(height_off=0, height_scale=100, lat_off=30, lat_scale=1, long_off=-87, long_scale=1,
                        line_off=4, line_scale=4, samp_off=4, samp_scale=4, line_den_coeff=[1] + [0] * 19,
                        line_num_coeff=[0, 1] + [0] * 18, samp_den_coeff=[1] + [0] * 19,
                        samp_num_coeff=[0, 0, 1] + [0] * 17)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # on purpose: RPCs and no grid
        with rasterio.open(tmp_path / "l1.tif", "w", driver="GTiff", width=8, height=8, count=1,
                           dtype="uint16") as ds:
            ds.write(np.full((8, 8), 1500, np.uint16), 1)
            ds.rpcs = rasterio.rpc.RPC(**coefficients)
        with pytest.raises(InputFileError, match=r"l1.tif: expected an image on a grid .* found rational polynomial "
                                                 r"coefficients \(RPCs\) only: orthorectify it .* gdalwarp -rpc"):
            ImageryWorld({"R": tmp_path / "l1.tif"}, dn_scale=1e-4)


# --- no-data (kind C) --------------------------------------------------------------------------------------------

def test_the_files_own_nodata_is_not_valid():
    """FORCE-style int16 x 10000 with GDAL_NODATA -9999: 30.7 % fill, invalid in the scene, never -0.9999."""
    path = DATA / "l8_B2_int16_nodata-9999.tif"
    info = image_info(path)
    assert info.nodata == FILL and info.dtype == "int16"
    with rasterio.open(path) as ds:
        dn = ds.read(1)
    world = ImageryWorld({"B": path}, dn_scale=1e-4, dn_offset=0.0)
    scene = world.render(grid_of(info), NOON, 50.0, 150.0, ("B",))
    assert 1.0 - scene.valid.mean() == pytest.approx(0.3067, abs=1e-4)  # the fill share of the file
    assert np.array_equal(scene.valid, dn != FILL)
    assert np.array_equal(scene.reflectance[..., 0][scene.valid], (dn[dn != FILL] * np.float32(1e-4)))
    assert scene.reflectance.min() >= 0.0
    # A frame larger than the image, off its grid: invalid fill and outside, bilinear elsewhere from valid pixels.
    fp = GridFootprint.centred(30.75, -87.475, 32616, 25.0, 400, 400)
    scene = world.render(fp, NOON, 50.0, 150.0, ("B",))
    assert 0.0 < scene.valid.mean() < (dn != FILL).mean() * (256 * 30 / (400 * 25)) ** 2 + 0.01
    assert scene.reflectance[scene.valid].min() > 0.0


def test_a_scenario_nodata_replaces_the_files():
    path = DATA / "l8_B2_int16_nodata-9999.tif"
    info = image_info(path)
    with rasterio.open(path) as ds:
        dn = ds.read(1)
    value = int(np.median(dn[dn != FILL]))
    scene = ImageryWorld(dn_scale=1e-4, bands={"B": path}, nodata=FILL).render(grid_of(info), NOON, 50.0, 150.0,
                                                                              ("B",))
    assert np.array_equal(scene.valid, dn != FILL)
    # another value instead: -9999 is data, as the scenario says, and reflectance -0.9999 is fill no one declared
    with pytest.raises(InputFileError, match=rf"{path.name}: expected a no-data value for the fill .* at least -0.5, "
                                             rf"found \d+ of \d+ valid int16 samples below it, most at -9999 "
                                             r"\(reflectance -0.9999\): .* world.nodata: -9999"):
        ImageryWorld(dn_scale=1e-4, bands={"B": path}, nodata=value)


NODATA_DTYPES = ("uint8", "uint16", "int16", "int32", "float32")


@SETTINGS
@given(dtype=st.sampled_from(NODATA_DTYPES), seed=st.integers(0, 2**32 - 1), fill_share=st.floats(0.0, 0.9),
       nan=st.booleans())
def test_nodata_family(tmp_path, dtype, seed, fill_share, nan):
    """Any dtype and no-data value (NaN for floats too): exactly those pixels are not valid, the rest copied."""
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if dtype != "float32" else np.finfo(dtype)
    lo, hi = (max(float(info.min), -1e6), min(float(info.max), 1e6))
    nodata = float("nan") if nan and dtype == "float32" else float(rng.integers(int(lo), int(hi) + 1))
    pixels = rng.uniform(max(lo, 0.0), hi, (40, 48)).astype(dtype)  # data at least 0; the no-data value anywhere
    fill = rng.random(pixels.shape) < fill_share
    pixels[fill] = nodata
    transform = Affine(20.0, 0.0, 300000.0, 0.0, -20.0, 5000000.0)
    path = write_raster(tmp_path / f"nd-{seed}.tif", pixels, "EPSG:32633", transform, nodata=nodata)
    scale = 2.0 ** -math.ceil(math.log2(hi))  # reflectance up to 1, each sample's exact
    scene = ImageryWorld(dn_scale=scale, bands={"R": path}).render(
        GridFootprint(32633, 300000.0, 5000000.0, 20.0, 48, 40), NOON, 50.0, 150.0, ("R",))
    real = ~np.isnan(pixels) if nan and dtype == "float32" else pixels != pixels.dtype.type(nodata)
    assert np.array_equal(scene.valid, real)
    assert np.array_equal(scene.reflectance[..., 0][real], pixels[real].astype(np.float32) * np.float32(scale))


# --- cloud masks as stored (kind B) ------------------------------------------------------------------------------

def test_one_bit_mask_reads_as_zero_and_one():
    path = DATA / "l8_cloud_1bit.tif"
    with rasterio.open(path) as ds:
        assert ds.tags(1, ns="IMAGE_STRUCTURE")["NBITS"] == "1"
    with rasterio.open(DATA / "l8_cloudcodes_crop.tif") as ds:
        codes = ds.read(1)
    info = image_info(path)
    scene = ImageryWorld(dn_scale=1e-4, bands={"B": DATA / "l8_B2_int16_nodata-9999.tif"}, mask=path).render(
        grid_of(info), NOON, 50.0, 150.0, ("B",))
    assert np.array_equal(scene.cloud, (codes == CLOUD_THICK).astype(np.uint8))  # 1 = cloud: thin by our codes
    rules = [MaskBits(0, 0, 1, CLOUD_THICK)]  # a 1-bit cloud/no-cloud mask mapped onto "thick"
    scene = ImageryWorld(dn_scale=1e-4, bands={"B": DATA / "l8_B2_int16_nodata-9999.tif"}, mask=path,
                         mask_rules=rules).render(
        grid_of(info), NOON, 50.0, 150.0, ("B",))
    assert np.array_equal(scene.cloud == CLOUD_THICK, codes == CLOUD_THICK)


def test_palette_mask_reads_as_its_indices(tmp_path):
    indices = np.zeros((32, 32), np.uint8)
    indices[8:, :] = 1
    indices[20:, 10:] = 2
    transform = Affine(30.0, 0.0, 452475.0, 0.0, -30.0, 3403845.0)
    path = write_raster(tmp_path / "palette.tif", indices, "EPSG:32616", transform, photometric="palette")
    with rasterio.open(path, "r+") as ds:
        ds.write_colormap(1, {0: (0, 0, 0, 255), 1: (200, 200, 200, 255), 2: (255, 255, 255, 255)})
    with rasterio.open(path) as ds:
        assert ds.colorinterp[0].name == "palette"
    scene = ImageryWorld(dn_scale=1e-4, bands={"B": DATA / "l8_B2_int16_nodata-9999.tif"}, mask=path).render(
        GridFootprint(32616, 452475.0, 3403845.0, 30.0, 32, 32), NOON, 50.0, 150.0, ("B",))
    assert np.array_equal(scene.cloud, indices)


def test_quality_band_without_a_mapping_is_refused_with_its_values():
    with pytest.raises(InputFileError) as err:
        ImageryWorld(dn_scale=1e-4, bands={"B": DATA / "l8_B2_int16_nodata-9999.tif"}, mask=DATA / "l8_BQA_crop.tif")
    assert "l8_BQA_crop.tif" in str(err.value) and "world.mask_bits" in str(err.value)
    with rasterio.open(DATA / "l8_BQA_crop.tif") as ds:
        values = np.unique(ds.read(1))
    assert all(f"{v}" in err.value.problem for v in values)  # 20480 ... 61472: every value found is listed


def test_quality_band_with_a_mapping_gives_the_cloud_codes():
    """The BQA's pre-collection cloud confidence gives exactly the field case's cloud-code file."""
    info = image_info(DATA / "l8_BQA_crop.tif")
    world = ImageryWorld(dn_scale=1e-4, bands={"B": DATA / "l8_B2_int16_nodata-9999.tif"},
                         mask=DATA / "l8_BQA_crop.tif",
                         mask_rules=PRE_COLLECTION_CLOUD)
    with rasterio.open(DATA / "l8_cloudcodes_crop.tif") as ds:
        codes = ds.read(1)
    assert np.array_equal(world.render(grid_of(info), NOON, 50.0, 150.0, ("B",)).cloud, codes)


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), dtype=st.sampled_from(["uint8", "uint16", "int16", "float32"]),
       extra=st.lists(st.integers(3, 254), max_size=3), nodata=st.sampled_from([None, 255]))
def test_mask_codes_family(tmp_path, seed, dtype, extra, nodata):
    """A mask is refused exactly when it holds a value outside 0, 1, 2 and its no-data; every such value is named."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 3, (24, 24)).astype(dtype)
    flat = pixels.reshape(-1)
    flat[rng.choice(flat.size, len(extra) + 1, replace=False)] = [*extra, 255 if nodata else 0]
    transform = Affine(30.0, 0.0, 452475.0, 0.0, -30.0, 3403845.0)
    path = write_raster(tmp_path / f"mask-{seed}.tif", pixels, "EPSG:32616", transform, nodata=nodata)
    bad = sorted(set(extra) - {nodata})
    band = DATA / "l8_B2_int16_nodata-9999.tif"
    if bad:
        with pytest.raises(InputFileError) as err:
            ImageryWorld(dn_scale=1e-4, bands={"B": band}, mask=path)
        assert all(f"{v:g}" in err.value.problem for v in bad)
        return
    cloud = ImageryWorld(dn_scale=1e-4, bands={"B": band}, mask=path).render(
        GridFootprint(32616, 452475.0, 3403845.0, 30.0, 24, 24), NOON, 50.0, 150.0, ("B",)).cloud
    expected = np.where(pixels == (nodata if nodata is not None else -1), UNKNOWN, pixels).astype(np.uint8)
    assert np.array_equal(cloud, expected) and set(np.unique(cloud)) <= {*MASK_CODES, UNKNOWN}


@pytest.mark.parametrize("nodata, warned", [(0, "clear"), (2, "thick cloud"), (255, None), (None, None)])
def test_a_cloud_code_declared_as_the_masks_no_data_is_warned_about(tmp_path, capsys, nodata, warned):
    """The real codes mask with no-data 0 (gdal_translate -a_nodata 0, or a band's profile copied) read every clear
    pixel as unknown, and the verdict said the frames "held no clear ground to lose"; validate and run now warn at
    world.mask, naming the code. A no-data value that is no code, or none, is no warning."""
    with rasterio.open(DATA / "l8_cloudcodes_crop.tif") as ds:
        codes, crs, transform = ds.read(1), ds.crs, ds.transform
    write_raster(tmp_path / "codes.tif", codes, crs, transform, nodata=nodata)
    path = scenario_file(tmp_path, "{B: l8_B2_int16_nodata-9999.tif, G: l8_B2_int16_nodata-9999.tif}", "codes.tif")
    warnings_ = [w for w in load_scenario(path).warnings if ": world.mask: " in w]  # not the target's (below)
    if warned is None:
        assert warnings_ == []
        return
    (warning,) = warnings_
    assert warning.startswith(f"{path}:8: world.mask: expected a no-data value that is not a cloud code") and \
        f"'codes.tif' declares no-data {nodata}, the {warned} code: every {warned} pixel reads as unknown" in warning
    assert main(["validate", str(path)]) == 0 and f"orbitedge: warning: {warning}" in capsys.readouterr().err


# --- any CRS, any band, any driver (kind D) ----------------------------------------------------------------------

def test_epsg4326_world_lands_where_pyproj_puts_it():
    """world.byte.tif (EPSG:4326, 0.125 degree pixels) in a 300 m UTM frame over Paris: each frame pixel holds the
    value of the 4326 pixel under its centre, found with pyproj (nearest: validity; bilinear stays in range)."""
    path = DATA / "world.byte.tif"
    info = image_info(path)
    assert info.crs.to_epsg() == 4326
    fp = GridFootprint.centred(48.86, 2.35, 32631, 300.0, 128, 128)
    scene = ImageryWorld(dn_scale=1.0, bands={"R": path}).render(fp, NOON, 50.0, 150.0, ("R",))
    with rasterio.open(path) as ds:
        grid = ds.read(1).astype(np.float32)
    x0, y0 = fp.x0_m, fp.y0_m
    cols, rows = np.meshgrid(np.arange(128) + 0.5, np.arange(128) + 0.5)
    lon, lat = Transformer.from_crs(32631, 4326, always_xy=True).transform(x0 + cols * 300.0, y0 - rows * 300.0)
    c, r = ~info.transform @ (lon, lat)
    r0, c0 = np.floor(r - 0.5).astype(int), np.floor(c - 0.5).astype(int)
    low = np.minimum.reduce([grid[r0 + i, c0 + j] for i in (0, 1) for j in (0, 1)])
    high = np.maximum.reduce([grid[r0 + i, c0 + j] for i in (0, 1) for j in (0, 1)])
    got = scene.reflectance[..., 0]
    assert scene.valid.all() and (got >= low - 1e-3).all() and (got <= high + 1e-3).all()


CRS_AREAS = [  # (source CRS, lat range, lon range) inside the CRS's area of use
    ("utm", (-60.0, 60.0), (-170.0, 170.0)),
    ("utm-next-zone", (-60.0, 60.0), (-170.0, 170.0)),
    ("EPSG:4326", (-60.0, 60.0), (-170.0, 170.0)),
    ("EPSG:3035", (36.0, 64.0), (-8.0, 28.0)),  # ETRS89 / LAEA Europe
    ("EPSG:2154", (43.0, 50.0), (-3.0, 7.0)),  # RGF93 / Lambert-93
    ("EPSG:5070", (26.0, 47.0), (-122.0, -70.0)),  # NAD83 / Conus Albers
]


@SETTINGS
@given(data=st.data(), area=st.sampled_from(CRS_AREAS), gsd_m=st.sampled_from([30.0, 60.0, 100.0]),
       source_px_m=st.floats(25.0, 120.0), rotation_deg=st.sampled_from([0.0, 0.0, 17.0, -40.0]))
def test_any_crs_lands_where_pyproj_puts_it(tmp_path, data, area, gsd_m, source_px_m, rotation_deg):
    """A bright 5 x 5 block centred on a point, in a raster of any CRS (rotated too), lands in the point's UTM frame
    with its centroid within half a pixel (frame's or source's, the larger) of where pyproj puts the point."""
    lat = data.draw(st.floats(*area[1]))
    lon = data.draw(st.floats(*area[2]))
    zone, south = utm_zone(lon, lat)
    epsg = epsg_code(zone, south)
    crs = {"utm": f"EPSG:{epsg}", "utm-next-zone": f"EPSG:{epsg_code(zone % 60 + 1, south)}"}.get(area[0], area[0])
    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
    res = source_px_m / (111_320.0 * math.cos(math.radians(lat))) if crs == "EPSG:4326" else source_px_m
    k = 32  # the point is the centre of source pixel (k, k)
    transform = (Affine.translation(x, y) @ Affine.rotation(rotation_deg) @ Affine.scale(res, -res)
                 @ Affine.translation(-(k + 0.5), -(k + 0.5)))
    pixels = np.full((2 * k + 1, 2 * k + 1), 1000, np.uint16)  # reflectance 0.1 ...
    pixels[k - 2:k + 3, k - 2:k + 3] = 5000  # ... and 0.5 in the block
    path = write_raster(tmp_path / "block.tif", pixels, crs, transform)
    fp = GridFootprint.centred(lat, lon, epsg, gsd_m, 64, 64)
    scene = ImageryWorld(dn_scale=1e-4, bands={"R": path}).render(fp, NOON, 50.0, 150.0, ("R",))
    weights = np.where(scene.valid, scene.reflectance[..., 0].astype(np.float64) - 0.1, 0.0)
    assert weights.sum() > 0
    cols, rows = np.meshgrid(np.arange(64) + 0.5, np.arange(64) + 0.5)
    centroid = footprint_transform(fp) @ ((weights * cols).sum() / weights.sum(), (weights * rows).sum() / weights.sum())
    e, n = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    assert math.hypot(centroid[0] - e, centroid[1] - n) <= 0.5 * max(gsd_m, source_px_m)


@SETTINGS
@given(count=st.integers(1, 5), data=st.data())
def test_band_of_a_multiband_file_family(tmp_path, count, data):
    """{file, band} picks that band; a multi-band file without a band, or a band beyond the count, is refused."""
    planes = np.stack([np.full((16, 16), 10 * (b + 1), np.uint8) for b in range(count)])
    planes[:, 0, 0] = 0
    transform = Affine(300.0, 0.0, 101985.0, 0.0, -300.0, 2826915.0)
    path = write_raster(tmp_path / f"bands{count}.tif", planes, "EPSG:32618", transform, nodata=0)
    fp = GridFootprint(32618, 101985.0, 2826915.0, 300.0, 16, 16)
    band, scale = data.draw(st.integers(1, count)), 2.0**-6  # DN 10..50 as reflectance 0.16..0.78, exactly
    scene = ImageryWorld(dn_scale=scale, bands={"R": BandSource(path, band)}).render(fp, NOON, 50.0, 150.0, ("R",))
    assert (scene.reflectance[..., 0][1:] == 10 * band * scale).all() and not scene.valid[0, 0]
    if count > 1:
        with pytest.raises(InputFileError, match=f"found {count} bands: 1 "):
            ImageryWorld(dn_scale=scale, bands={"R": path})
    beyond = data.draw(st.integers(count + 1, count + 3))
    with pytest.raises(InputFileError, match=f"expected a band from 1 to {count}"):
        ImageryWorld(dn_scale=scale, bands={"R": BandSource(path, beyond)})


def test_jpeg2000_reads_like_the_geotiff(tmp_path):
    """A Sentinel-2-like uint16 band written as lossless JPEG 2000 (GDAL's JP2OpenJPEG) reads back exactly."""
    rng = np.random.default_rng(2)
    dn = rng.integers(800, 4000, (64, 80)).astype(np.uint16)
    transform = Affine(60.0, 0.0, 435720.0, 0.0, -60.0, 4179480.0)
    jp2 = write_raster(tmp_path / "B01.jp2", dn, "EPSG:32618", transform, driver="JP2OpenJPEG", REVERSIBLE="YES",
                       QUALITY="100")
    with rasterio.open(jp2) as ds:
        assert ds.driver == "JP2OpenJPEG"
    fp = GridFootprint(32618, 435720.0, 4179480.0, 60.0, 80, 64)
    scene = ImageryWorld({"B": jp2}, dn_scale=1e-4, dn_offset=0.0).render(fp, NOON, 50.0, 150.0, ("B",))
    assert scene.valid.all() and np.array_equal(scene.reflectance[..., 0], dn.astype(np.float32) * np.float32(1e-4))


# --- validate: every image file opened, every problem with its YAML path and line -----------------------------

SCENARIO = """\
name: imagery
seed: 3
start_utc: 2026-06-21T00:00:00Z
duration_h: 2
world:
  source: geotiff
  bands: {BANDS}
  mask: {MASK}
  dn_scale: 1.0e-4
  dn_offset: 0.0
spacecraft:
  camera: {{width_px: 64, height_px: 64, gsd_m: 60, bands: [B, G], max_off_nadir_deg: 45}}
  storage: {{capacity_mb: 500}}
  power: {{battery_wh: 100, solar_w: 60, bus_idle_w: 10, radio_tx_w: 20}}
  radio: {{rate_mbps: 100}}
satellites:
  - name: sat-1
    orbit: {{altitude_km: 550, sun_synchronous: true, ltan_h: 10.5}}
ground_stations:
  - {{name: svalbard, lat_deg: 78.23, lon_deg: 15.39, min_elevation_deg: 5}}
targets:
  - {{name: coast, lat_deg: {LAT}, lon_deg: {LON}, radius_km: 2}}
pipeline:
  - {{stage: encode, format: tiff}}
"""


def scenario_file(tmp_path, bands, mask="null", lat=30.718, lon=-87.44):
    """The SCENARIO in tmp_path with its files, its target on the data of the FORCE-style band (whose upper-left
    half is its no-data): that band and the quality band as they are, and world.tif,
    world.byte.tif's land (1) and sea (0) as 16-bit reflectance x 10000 (0.30 and 0.08, under dn_scale 1e-4)."""
    for name in ("l8_B2_int16_nodata-9999.tif", "l8_BQA_crop.tif"):
        shutil.copy(DATA / name, tmp_path / name)
    with rasterio.open(DATA / "world.byte.tif") as ds:
        land, crs, transform = ds.read(1), ds.crs, ds.transform
    write_raster(tmp_path / "world.tif", (800 + 2200 * land.astype(np.uint16)), crs, transform)
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO.format(BANDS=bands, MASK=mask, LAT=lat, LON=lon))
    return path


def issues_of(path):
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    return {(i.path, i.line): i for i in err.value.issues}


def test_validate_reports_every_image_problem_with_path_and_line(tmp_path):
    rgb = write_raster(tmp_path / "rgb.tif", np.ones((3, 8, 8), np.uint8), "EPSG:32616",
                       Affine(30.0, 0.0, 452475.0, 0.0, -30.0, 3403845.0))
    path = scenario_file(tmp_path, "{B: rgb.tif, G: {file: rgb.tif, band: 4}}", "l8_BQA_crop.tif", lat=48.86,
                         lon=2.35)
    issues = issues_of(path)
    assert set(issues) == {("world.bands.B", 7), ("world.bands.G", 7), ("world.mask", 8)}  # the target: a warning
    assert "{file: rgb.tif, band: N}" in issues[("world.bands.B", 7)].expected
    assert "3 bands" in issues[("world.bands.B", 7)].found and rgb.name in issues[("world.bands.G", 7)].found
    assert "a band from 1 to 3" in issues[("world.bands.G", 7)].expected
    assert "world.mask_bits" in issues[("world.mask", 8)].found and "61440" in issues[("world.mask", 8)].found
    assert main(["validate", str(path)]) == 2


def test_a_target_off_the_imagery_is_warned_about_not_refused(tmp_path, capsys):
    path = scenario_file(tmp_path, "{B: world.tif, G: l8_B2_int16_nodata-9999.tif}", lat=48.86, lon=2.35)
    scenario = load_scenario(path)
    (warning,) = scenario.warnings
    assert warning.startswith(f"{path}:22: targets[0]: expected a target on the imagery (world.bands.")
    assert "'coast' at lat 48.86, lon 2.35, outside it: its frames will hold no valid pixels" in warning
    assert main(["validate", str(path)]) == 0
    assert f"orbitedge: warning: {warning}\n" in capsys.readouterr().err
    assert load_scenario(scenario_file(tmp_path, "{B: world.tif, G: l8_B2_int16_nodata-9999.tif}")).warnings == ()


@pytest.mark.parametrize("pixels, nodata", [(np.zeros((8, 8), np.uint16), 0),
                                             (np.full((8, 8), np.nan, np.float32), None)])
def test_a_band_with_no_valid_sample_is_warned_about(tmp_path, capsys, pixels, nodata):
    """Every sample no-data (or NaN) validated OK, and the run dropped every frame as no_data."""
    write_raster(tmp_path / "empty.tif", pixels, "EPSG:32616", Affine(30.0, 0.0, 452475.0, 0.0, -30.0, 3403845.0),
                 nodata=nodata)
    path = scenario_file(tmp_path, "{B: empty.tif, G: l8_B2_int16_nodata-9999.tif}")
    [warning] = [w for w in load_scenario(path).warnings if "world.bands.B" in w.split(": expected")[0]]
    assert warning == (f"{path}:7: world.bands.B: expected a band with valid samples, found 'empty.tif': none of the "
                       f"samples read (decimated to 1024 px a side) is valid: each is no-data, NaN or infinite, so "
                       f"every frame on it would be dropped as no_data")
    assert main(["validate", str(path)]) == 0 and f"orbitedge: warning: {warning}\n" in capsys.readouterr().err


@pytest.mark.parametrize("labels, colours", [(("NIR", "Green", "red", "blue"), None), (None, "RGB")])
def test_a_band_the_file_calls_another_of_the_scenarios_bands_is_warned_about(tmp_path, labels, colours):
    """Band numbers mixed up: a file whose band descriptions name another of the scenario's bands than the one a
    band number reads. Warned at that band's key; the same file read in its own order is not. Colour
    interpretations (red, green, blue: GDAL's default for a 3- or 4-band 8-bit GeoTIFF) are no names."""
    shutil.copy(DATA / "l8_B2_int16_nodata-9999.tif", tmp_path / "one.tif")
    with rasterio.open(tmp_path / "one.tif") as src:
        pixels, profile = src.read(1), src.profile
    count = 3 if colours else 4
    profile.update(count=count, **({"photometric": "RGB"} if colours else {}))
    with rasterio.open(tmp_path / "stack.tif", "w", **profile) as dst:
        dst.write(np.stack([pixels] * count))
        for i, label in enumerate(labels or (), 1):
            dst.set_band_description(i, label)
    wrong = scenario_file(tmp_path, "{B: {file: stack.tif, band: 1}, G: {file: stack.tif, band: 2}}")
    warned = {w.split(": expected")[0].rsplit(": ", 1)[1]: w for w in load_scenario(wrong).warnings}
    if colours:  # band 1 is "red" to GDAL, yet no warning
        assert warned == {}
        return
    assert set(warned) == {"world.bands.B"} and ("expected band 1 of stack.tif to be B, found the file calls band 1 "
                                                 "'NIR', which is NIR: check the band numbers") in warned["world.bands.B"]
    right = scenario_file(tmp_path, f"{{B: {{file: stack.tif, band: {count}}}, G: {{file: stack.tif, band: 2}}}}")
    assert load_scenario(right).warnings == ()


def test_validate_accepts_4326_imagery_and_a_mapped_quality_band(tmp_path):
    path = scenario_file(tmp_path, "{B: world.tif, G: l8_B2_int16_nodata-9999.tif}", "l8_BQA_crop.tif")
    text = path.read_text().replace("  dn_scale:", "  mask_bits: [{bits: [14, 15], equals: 2, cloud: thin},"
                                    " {bits: [14, 15], equals: 3, cloud: thick}]\n  dn_scale:")
    path.write_text(text)
    scenario = load_scenario(path)
    assert [r.bits for r in scenario.world.mask_bits] == [[14, 15], [14, 15]]
    path.write_text(text.replace("equals: 3, cloud: thick", "equals: 3, cloud: thick}, {bits: [15, 16], equals: 1, "
                                 "cloud: thin"))
    issues = issues_of(path)
    assert list(issues) == [("world.mask_bits[2].bits", 9)]  # the rule itself, not the list
    assert issues[("world.mask_bits[2].bits", 9)].expected == "bits 0 to 15 of the uint16 samples"
    block = text.replace("  mask_bits: [{bits: [14, 15], equals: 2, cloud: thin}, {bits: [14, 15], equals: 3, "
                         "cloud: thick}]", "  mask_bits:\n    - {bits: [14, 15], equals: 2, cloud: thin}\n"
                         "    - {bits: 16, equals: 1, cloud: thick}")
    path.write_text(block)
    assert list(issues_of(path)) == [("world.mask_bits[1].bits", 11)]  # its own line, below the key's


def test_validate_names_a_nodata_the_samples_cannot_hold_and_missing_files(tmp_path):
    path = scenario_file(tmp_path, "{B: l8_BQA_crop.tif, G: absent.tif}")
    path.write_text(path.read_text().replace("  dn_scale:", "  nodata: -9999\n  dn_scale:"))
    issues = issues_of(path)
    assert set(issues) == {("world.nodata", 9), ("world.bands.G", 7)}
    assert "uint16" in issues[("world.nodata", 9)].expected
    assert "an existing image file" in issues[("world.bands.G", 7)].expected


# --- imagery across the antimeridian ----------------------------------------------------------------------------

COLUMN_DN_SCALE = 1e-4  # the column files' DN 7..3907 as reflectance 0.0007..0.39 (Sentinel-2 L1C's scale)


def antimeridian_file(tmp_path, lat_deg=-16.5):
    """A UTM zone 60 South band (1 km pixels, 40 x 40) centred on 180 E at ``lat_deg``: DN = 100 * column + 7."""
    x, y = Transformer.from_crs(4326, 32760, always_xy=True).transform(180.0, lat_deg)
    cols = np.broadcast_to(np.arange(40, dtype=np.uint16) * 100 + 7, (40, 40))
    return write_raster(tmp_path / "fiji.tif", np.ascontiguousarray(cols), "EPSG:32760",
                        Affine(1000.0, 0.0, x - 20_000.0, 0.0, -1000.0, y + 20_000.0))


@pytest.mark.parametrize("lon_deg", [179.95, -179.95])
def test_imagery_across_the_antimeridian_renders_on_both_sides(tmp_path, lon_deg):
    path = antimeridian_file(tmp_path)
    world = ImageryWorld({"B": path, "G": path}, dn_scale=COLUMN_DN_SCALE, dn_offset=0.0)
    assert abs(abs(world.coverage.centre_lon_deg) - 180.0) < 1e-3
    assert_renders_its_columns(world, path, 32760, lon_deg)


def assert_renders_its_columns(world, path, crs, lon_deg, world_width=0.0):
    """``world`` of one band ``path`` (DN = 100 * column + 7, in ``crs``) across 180 E: its coverage is an RFC 7946
    bbox across the antimeridian, and a 10 km frame at ``lon_deg`` is filled, each pixel with the column pyproj puts
    under it (x below the file's left edge moved on by ``world_width``). DN is linear in the column: bilinear gives
    100 * (column of the pixel centre - 0.5) + 7; 0.1 DN is 1 m on the ground at 100 DN per 1 km pixel (GDAL's
    warper approximates the transformation within a pixel)."""
    cov = world.coverage
    assert cov.west_deg > 179.0 and cov.east_deg < -179.0
    epsg = epsg_code(*utm_zone(lon_deg, -16.5))
    fp = GridFootprint.centred(-16.5, lon_deg, epsg, 500.0, 20, 20)
    scene = world.render(fp, NOON, 50.0, 150.0, ("B",))
    assert scene.valid.all()
    with rasterio.open(path) as ds:
        e, n = fp.pixel_centres_m()
        x, y = Transformer.from_crs(epsg, crs, always_xy=True).transform(*np.meshgrid(e, n))
        x = np.where(x < ds.bounds.left, x + world_width, x)
        col = (~ds.transform @ (x, y))[0]
    inside = (col > 1) & (col < 39)
    assert inside.sum() > 300
    np.testing.assert_allclose(scene.reflectance[..., 0][inside] / COLUMN_DN_SCALE, 100 * (col[inside] - 0.5) + 7,
                               atol=0.1)


def test_bands_that_do_not_overlap_are_refused_across_the_antimeridian_too(tmp_path):
    fiji = antimeridian_file(tmp_path)
    with pytest.raises(InputFileError, match=r"expected band files that overlap .* found B: lat .*; G: lat .* the band "
                                             r"files do not overlap"):
        ImageryWorld(dn_scale=COLUMN_DN_SCALE, bands={"B": fiji, "G": DATA / "l8_B2_int16_nodata-9999.tif"})


def test_imagery_too_large_to_read_whole_is_refused_before_it_is_read(tmp_path, capsys, monkeypatch):
    """A sparse 20000 x 20000 uint16 mosaic (a few kB on disk) beside a band, on a machine with 3 GB free (the
    fault injected: free_memory_bytes): at least 4 B a pixel a band kept, 4.6 GB. A sparse 80000 x 80000 one passed
    validate and the run ended in a MemoryError traceback or the OOM killer; validate and run now refuse it at
    world.bands with its line, before any pixel is read."""
    monkeypatch.setattr(imagery, "free_memory_bytes", lambda: 3_000_000_000)
    band = "l8_B2_int16_nodata-9999.tif"
    with rasterio.open(DATA / band) as ds:
        crs, transform = ds.crs, ds.transform
    with rasterio.open(tmp_path / "huge.tif", "w", driver="GTiff", width=20_000, height=20_000, count=1,
                       dtype="uint16", crs=crs, transform=transform, tiled=True, compress="deflate",
                       sparse_ok=True, nodata=0) as ds:  # the unwritten blocks: no data
        ds.write(np.full((256, 256), 1500, np.uint16), 1, window=rasterio.windows.Window(0, 0, 256, 256))
    need = 4 * (20_000**2 + 256**2) + 20_000**2 * 7  # kept float32 of both, and the largest's samples, mask, temporary
    path = scenario_file(tmp_path, f"{{B: {band}, G: huge.tif}}")
    issues = issues_of(path)
    assert list(issues) == [("world.bands", 7)]
    assert issues[("world.bands", 7)].expected == "image files a run can read whole in the memory this machine " \
                                                  "has free (3.0 GB)"
    assert issues[("world.bands", 7)].found.startswith(f"huge.tif: 20000 x 20000 px of uint16, at least "
                                                       f"{need / 1e9:.1f} GB for the 2 file band(s) in all: crop them")
    for command in (["validate", str(path)], ["run", str(path), "--out", str(tmp_path / "run"), "--quiet"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert f"{path}:7: world.bands: expected image files a run can read whole" in err and "Traceback" not in err
    monkeypatch.setattr(imagery, "free_memory_bytes", lambda: 2 * need)
    assert load_scenario(path).warnings == ()  # with the memory, no problem


def test_free_memory_is_the_containers_when_it_has_less(tmp_path, monkeypatch):
    """Under a cgroup v2 memory limit (a container) the memory free is the limit less what the container uses, which
    psutil's available does not see; with no limit ("max") or no controller, psutil's."""
    (tmp_path / "memory.max").write_text("1000000000\n")
    (tmp_path / "memory.current").write_text("400000000\n")
    monkeypatch.setattr(imagery, "CGROUP_MEMORY_MAX", tmp_path / "memory.max")
    monkeypatch.setattr(imagery, "CGROUP_MEMORY_CURRENT", tmp_path / "memory.current")
    assert imagery.free_memory_bytes() == min(600_000_000, psutil.virtual_memory().available)
    (tmp_path / "memory.max").write_text("max\n")
    assert imagery.free_memory_bytes() > 600_000_000 or psutil.virtual_memory().available <= 600_000_000
    monkeypatch.setattr(imagery, "CGROUP_MEMORY_MAX", tmp_path / "absent")
    assert imagery.free_memory_bytes() > 0


def test_validate_refuses_band_files_that_do_not_overlap_at_world_bands(tmp_path, capsys):
    """One band 100 km east of the others: validate said OK and the run stopped on the first band's file, with no
    line; now validate and run refuse at world.bands and its line, with every band's bounds."""
    band = "l8_B2_int16_nodata-9999.tif"
    with rasterio.open(DATA / band) as ds:
        pixels, crs, transform = ds.read(1), ds.crs, ds.transform
    write_raster(tmp_path / "east.tif", pixels, crs, transform @ Affine.translation(100_000 / 30.0, 0), nodata=FILL)
    path = scenario_file(tmp_path, f"{{B: {band}, G: east.tif}}")
    issues = issues_of(path)
    assert list(issues) == [("world.bands", 7)]
    assert issues[("world.bands", 7)].expected.startswith("band files that overlap")
    assert re.fullmatch(r"B: lat 30\.\d+ to 30\.\d+, lon -87\.\d+ to -87\.\d+; G: lat 30\.\d+ to 30\.\d+, lon -86\.\d+ to "
                        r"-86\.\d+: the band files do not overlap", issues[("world.bands", 7)].found)
    for command in (["validate", str(path)], ["run", str(path), "--out", str(tmp_path / "run"), "--quiet"]):
        assert main(command) == 2 and f"{path}:7: world.bands: expected band files" in capsys.readouterr().err
    assert load_scenario(scenario_file(tmp_path, f"{{B: {band}, G: {band}}}")).warnings == ()


def past_the_edge_file(tmp_path, crs, centre_lon_deg=180.0, lat_deg=-16.5):
    """A 40 x 40 band (DN = 100 * column + 7) in ``crs`` centred on ``centre_lon_deg``, its x continuing past the
    CRS's world edge as gdalwarp writes it (x beyond 20,037,508 m in EPSG:3857, longitudes beyond 180 or 0..360 in
    EPSG:4326): 1 km pixels, 0.01 degree in EPSG:4326. Returns its path and the CRS's world width, CRS units."""
    to_crs = Transformer.from_crs(4326, crs, always_xy=True)
    x, y = to_crs.transform(179.999999, lat_deg)
    world = 2.0 * x if x > 1000.0 else 360.0
    x += (centre_lon_deg - 180.0) * world / 360.0
    px = 0.01 if world == 360.0 else 1000.0
    cols = np.broadcast_to(np.arange(40, dtype=np.uint16) * 100 + 7, (40, 40))
    path = write_raster(tmp_path / "edge.tif", np.ascontiguousarray(cols), crs,
                        Affine(px, 0.0, x - 20 * px, 0.0, -px, y + 20 * px))
    return path, world


@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:4326", "EPSG:32662"])
@pytest.mark.parametrize("lon_deg", [179.95, 179.999, -179.95])
def test_imagery_past_its_crs_world_edge_renders_on_both_sides(tmp_path, crs, lon_deg):
    """Web Mercator, plate carree and lon/lat files across 180 E whose x runs past the world's edge: frames on either
    side are filled from the file, each pixel with the column pyproj puts under it (x wrapped by one world width)."""
    path, world = past_the_edge_file(tmp_path, crs)
    world_ = ImageryWorld({"B": path, "G": path}, dn_scale=COLUMN_DN_SCALE, dn_offset=0.0)
    assert_renders_its_columns(world_, path, crs, lon_deg, world)  # 1 km pixels (about 1.06 km in EPSG:4326)
    # a 12.8 km frame astride 180 E holds no hole along the edge (GDAL's warper sampled its source window short)
    astride = GridFootprint.centred(-16.5, 179.999, 32760, 100.0, 128, 128)
    assert world_.render(astride, NOON, 50.0, 150.0, ("B",)).valid.all()


@pytest.mark.parametrize("crs, centre_lon_deg, target_lon_deg, shown", [
    ("EPSG:4326", 180.0, -179.95, None), ("EPSG:3857", 180.0, -179.95, None), ("EPSG:4326", 284.4, -75.6, None),
    ("EPSG:4326", 180.0, -179.0, "lon 179.800 to -179.800"), ("EPSG:4326", 284.4, -75.0, "lon -75.800 to -75.400")])
def test_a_target_on_imagery_whose_longitudes_wrap_is_no_warning(tmp_path, crs, centre_lon_deg, target_lon_deg,
                                                                   shown):
    """A target on the imagery modulo 360 degrees (a file across 180 E, or with 0..360 longitudes) is on it: no
    warning; one off it is warned about with the imagery's longitudes within -180..180."""
    path, _ = past_the_edge_file(tmp_path, crs, centre_lon_deg, lat_deg=-16.5)
    scenario = scenario_file(tmp_path, f"{{B: {path.name}, G: {path.name}}}", lat=-16.5, lon=target_lon_deg)
    warnings_ = load_scenario(scenario).warnings
    if shown is None:
        assert warnings_ == ()
    else:
        (warning,) = warnings_
        assert f"lat -16.700 to -16.300, {shown})" in warning and "outside it" in warning


def target_line(path) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if "name: coast" in line)


@pytest.mark.parametrize("lat, lon, warned", [(30.718, -87.44, None), (30.7503, -87.4776, "world.bands.B")])
def test_a_target_on_the_imagery_s_no_data_is_warned_about(tmp_path, lat, lon, warned):
    """A tilted Landsat scene's fill corners lie within its bounds: a target on them passed validate, and the run
    dropped its every frame as no_data and called the bandwidth 100 % saved. The sample under the target, as
    validate reads the band, is now checked too: on the file's no-data (the FORCE-style band's upper-left half) it
    is warned about at the target's line; on data, not."""
    path = scenario_file(tmp_path, "{B: l8_B2_int16_nodata-9999.tif, G: world.tif}", lat=lat, lon=lon)
    warnings_ = load_scenario(path).warnings
    if warned is None:
        assert warnings_ == ()
        return
    (warning,) = warnings_
    assert warning == (f"{path}:{target_line(path)}: targets[0]: expected a target on the imagery's data ({warned}: "
                       f"l8_B2_int16_nodata-9999.tif), found 'coast' at lat {lat:g}, lon {lon:g}, on its no-data "
                       "(no valid sample in the 7 x 7 round it, read 256 x 256 px): its frames will hold no valid "
                       "pixels round their centre")


def test_a_gap_of_a_few_samples_under_a_target_is_no_warning(tmp_path, monkeypatch):
    """A single sample decided it: a target on a 3-px stripe of an SLC-off-like scene, or on a gap of the decimated
    read of a large file, was warned of as if its frames would hold no data. No valid sample within 3 of it now."""
    with rasterio.open(DATA / "world.byte.tif") as ds:
        crs, transform = ds.crs, ds.transform
    land = np.full((1200, 2880), 2000, np.uint16)
    land[:, 736:745] = 0  # no-data through the target's column: 3 samples of validate's read (every 3rd)
    write_raster(tmp_path / "stripes.tif", land, crs, transform, nodata=0)
    path = scenario_file(tmp_path, "{B: stripes.tif, G: world.tif}")
    assert [w for w in load_scenario(path).warnings if "targets[0]" in w] == []
    monkeypatch.setattr(imagery, "TARGET_NODATA_REACH_SAMPLES", 0)  # the sample under it alone, as before: warned
    assert [w for w in load_scenario(path).warnings if "targets[0]" in w] != []


@pytest.mark.parametrize("shift_m, nodata, found", [
    (0.0, None, None),
    (200_000.0, None, "outside it"),  # the mask 200 km east of the bands and the target
    (0.0, 255, "on its no-data"),  # the mask's no-data all round the target: unknown
])
def test_a_target_off_the_cloud_mask_is_warned_about(tmp_path, shift_m, nodata, found):
    """A mask 200 km off the bands passed validate, and the run scored no frame ("no finished frame with both
    truth/ and evaluation/ records"), hiding the cause. A target outside the mask, or on its no-data, is now warned
    about at its line: its frames hold no cloud truth there."""
    with rasterio.open(DATA / "l8_cloudcodes_crop.tif") as ds:
        codes, crs, transform = ds.read(1), ds.crs, ds.transform
    assert codes[180, 180] == 2  # thick cloud under the target
    if nodata is not None:
        codes[160:201, 160:201] = nodata
    write_raster(tmp_path / "codes.tif", codes, crs, Affine.translation(shift_m, 0.0) * transform, nodata=nodata)
    path = scenario_file(tmp_path, "{B: l8_B2_int16_nodata-9999.tif, G: l8_B2_int16_nodata-9999.tif}",
                         "codes.tif")
    warnings_ = [w for w in load_scenario(path).warnings if "targets[0]" in w]
    if found is None:
        assert warnings_ == []
        return
    (warning,) = warnings_
    assert f"{path}:{target_line(path)}: targets[0]: expected a target on the imagery" in warning
    assert "(world.mask" in warning
    where = "there" if found == "outside it" else "round their centre"  # a frame is larger than the samples looked at
    assert found in warning and warning.endswith(f"its frames will hold no cloud truth {where}")


UNEARTHLY_CRS = {
    "local": 'LOCAL_CS["unnamed",UNIT["metre",1]]',  # what GDAL gives for a user-defined or unknown projection
    "mars": "IAU_2015:49900",  # Mars (2015) geographic: another body
    "no inverse": "+proj=bacon +R=6371000 +units=m",  # PROJ has no inverse: lon/lat of a pixel is unknown
}


@pytest.mark.parametrize("kind", UNEARTHLY_CRS)
def test_a_crs_proj_cannot_place_on_the_earth_is_refused_by_validate_and_run(tmp_path, capsys, kind):
    """validate and run refuse, at the band's and the mask's YAML path and line and with exit 2, a file whose CRS
    PROJ cannot transform to or from WGS 84, naming its kind; no traceback, nothing simulated."""
    crs = rasterio.crs.CRS.from_user_input(UNEARTHLY_CRS[kind])
    band = write_raster(tmp_path / "odd.tif", np.full((16, 16), 500, np.uint16), crs,
                        Affine(30.0, 0.0, 1000.0, 0.0, -30.0, 5000.0))
    mask = write_raster(tmp_path / "oddmask.tif", np.zeros((16, 16), np.uint8), crs,
                        Affine(30.0, 0.0, 1000.0, 0.0, -30.0, 5000.0))
    path = scenario_file(tmp_path, "{B: odd.tif, G: world.tif}", "oddmask.tif")
    issues = issues_of(path)
    assert set(issues) == {("world.bands.B", 7), ("world.mask", 8)}
    for issue in issues.values():
        assert issue.expected.startswith("a CRS that PROJ can relate to the Earth") and "gdal_edit.py -a_srs" in \
            issue.expected
        assert "PROJ finds no transformation between it and WGS 84" in issue.found
    assert issues[("world.bands.B", 7)].found.startswith("'odd.tif': the ")
    for command in (["validate", str(path)], ["run", str(path), "--out", str(tmp_path / "run"), "--quiet"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert f"{path}:7: world.bands.B: expected a CRS that PROJ" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
    with pytest.raises(InputFileError, match=r"odd.tif: expected a CRS that PROJ can relate to the Earth"):
        ImageryWorld({"B": band}, dn_scale=1e-4)
    with pytest.raises(InputFileError, match=r"oddmask.tif: expected a CRS that PROJ can relate to the Earth"):
        ImageryWorld({"B": tmp_path / "world.tif"}, mask=mask, dn_scale=1e-4)


def test_reflectance_comes_from_the_files_own_scale_and_offset_or_the_scenario(tmp_path):
    """With no world.dn_scale, a file's own GDAL scale/offset (Sentinel-2 L2A style: 1e-4, -0.1) gives reflectance,
    float samples are reflectance as stored, and integer DN that declare neither are refused, naming the file and
    examples; validate reports the last at world.dn_scale and its line."""
    dn = np.full((16, 16), 3000, np.uint16)
    t = Affine(30.0, 0.0, 452475.0, 0.0, -30.0, 3403845.0)
    declared = write_raster(tmp_path / "declared.tif", dn, "EPSG:32616", t)
    with rasterio.open(declared, "r+") as ds:
        ds.scales, ds.offsets = (1e-4,), (-0.1,)
    fp = GridFootprint(32616, 452475.0 + 60.0, 3403845.0 - 60.0, 30.0, 8, 8)
    scene = ImageryWorld({"B": declared}).render(fp, NOON, 50.0, 150.0, ("B",))
    assert np.allclose(scene.reflectance[scene.valid], 0.2, atol=1e-6) and scene.valid.all()
    floats = write_raster(tmp_path / "floats.tif", np.full((16, 16), 0.25, np.float32), "EPSG:32616", t)
    assert np.allclose(ImageryWorld({"B": floats}).render(fp, NOON, 50.0, 150.0, ("B",)).reflectance, 0.25)
    bare = write_raster(tmp_path / "bare.tif", dn, "EPSG:32616", t)
    with pytest.raises(InputFileError, match=r"uint16 DN and no scale or offset in the file: for example Landsat 8"):
        ImageryWorld({"B": bare})
    assert np.allclose(ImageryWorld({"B": bare}, dn_scale=2e-5, dn_offset=-0.02).render(
        fp, NOON, 50.0, 150.0, ("B",)).reflectance, 0.04, atol=1e-6)
    shutil.copy(bare, tmp_path / "world.byte.tif")
    path = scenario_file(tmp_path, "{B: world.byte.tif, G: world.byte.tif}")
    path.write_text(path.read_text().replace("  dn_scale: 1.0e-4\n", "").replace("  dn_offset: 0.0\n", ""))
    issues = issues_of(path)
    assert list(issues) == [("world.dn_scale", 6)] and "no scale or offset" in issues[("world.dn_scale", 6)].found


def float_bands(tmp_path, dtype):
    """The int16 Landsat 8 B2 test band as ``dtype`` in tmp_path: its DN as stored (dn.tif, no-data -9999
    declared) and its reflectance 1e-4 * DN (refl.tif, no-data NaN)."""
    with rasterio.open(DATA / "l8_B2_int16_nodata-9999.tif") as ds:
        dn, crs, transform = ds.read(1), ds.crs, ds.transform
    refl = np.where(dn == FILL, np.nan, dn * FORCE_SCALE)
    write_raster(tmp_path / "dn.tif", dn.astype(dtype), crs, transform, nodata=FILL)
    write_raster(tmp_path / "refl.tif", refl.astype(dtype), crs, transform, nodata=float("nan"))
    return dn


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_dn_read_as_reflectance_are_refused_at_dn_scale(tmp_path, capsys, dtype):
    """Landsat DN stored as floats, with no world.dn_scale: validate and run refuse them at world.dn_scale and its
    line, naming the file, the band and the samples, and simulate nothing; float reflectance beside them, or a
    world.dn_scale, is fine."""
    dn = float_bands(tmp_path, dtype)
    path = scenario_file(tmp_path, "{B: refl.tif, G: dn.tif}")
    path.write_text(path.read_text().replace("  dn_scale: 1.0e-4\n", "").replace("  dn_offset: 0.0\n", ""))
    issues = issues_of(path)
    assert list(issues) == [("world.dn_scale", 6)]  # G only: B is reflectance
    issue = issues[("world.dn_scale", 6)]
    assert "or TOA reflectance: the 99th percentile of the valid samples at most 1.6" in issue.expected
    assert issue.found.startswith(f"'dn.tif' (world.bands.G): {dtype} samples {dn[dn != FILL].min()} to "
                                  f"{dn[dn != FILL].max()} whose 99th percentile as reflectance is ")
    for command in (["validate", str(path)], ["run", str(path), "--out", str(tmp_path / "run"), "--quiet"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert f"{path}:6: world.dn_scale: expected world.dn_scale" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
    assert main(["validate", str(path), "--set", "world.bands.G=refl.tif"]) == 0
    assert main(["validate", str(path), "--set", "world.dn_scale=1.0e-4", "--set", "world.dn_offset=0",
                 "--set", "world.bands.B=dn.tif"]) == 0


def test_no_data_is_no_product_no_clear_pixel_and_no_mosaic_pixel(tmp_path):
    """The field case of a file's own no-data (FORCE-style int16, GDAL_NODATA -9999) run whole: the frame's pixels
    off the data hold fill, tiles of fill only are dropped as no_data, no product is worth a fill pixel, and the
    mosaic marks fill as no data."""
    band = "l8_B2_int16_nodata-9999.tif"  # the target on the edge of its data: frames half fill
    path = scenario_file(tmp_path, f"{{B: {band}, G: {band}, R: {band}, NIR: {band}}}", lat=30.7503, lon=-87.4776)
    text = path.read_text().replace("duration_h: 2", "duration_h: 24").replace(
        "width_px: 64, height_px: 64, gsd_m: 60, bands: [B, G]", "width_px: 128, height_px: 128, gsd_m: 30, "
        "bands: [B, G, R, NIR]").replace("  - {stage: encode, format: tiff}", "  - {stage: cloud_filter, tile_px: 32, "
                                         "max_cloud_fraction: 0.9}\n  - {stage: encode, format: tiff}")
    path.write_text(text)
    run_dir = tmp_path / "run"
    assert main(["run", str(path), "--out", str(run_dir), "--quiet"]) == 0
    report = json.loads((run_dir / "report.json").read_text())
    ledger = report["ledger"]
    assert ledger["balanced"] and ledger["products_decided_by_stage"]["cloud_filter"].get("no_data", 0) > 0
    lines = [json.loads(x) for x in (run_dir / "downlink" / "manifest.jsonl").read_text().splitlines()]
    assert lines
    for line in lines:
        data = has_data(decode_product(run_dir / "downlink" / line["file"], ManifestLine.from_json(line)))
        assert data.any() and line["clear_px"] <= data.sum()
    (mosaic,) = report["mosaics"]["passes"]
    with rasterio.open(run_dir / mosaic["tif"]) as src:
        pixels = src.read(masked=True)
    assert mosaic["covered_fraction"] == pytest.approx((~pixels.mask[0]).mean())
    assert (pixels.filled(FILL_DN) != FILL_DN).any(axis=0).sum() == (~pixels.mask[0]).sum()
    assert report["value"]["oracle_value"] is None  # no cloud mask: the truth does not know the clear pixels


def test_a_truncated_band_file_is_named_with_its_key_and_nothing_is_simulated(tmp_path, capsys):
    """validate reads each band decimated; a file cut short (an interrupted download) fails there, and when the
    run reads its pixels, before anything is simulated: exit 2, the file and its world key, no run directory."""
    band = "l8_B2_int16_nodata-9999.tif"
    path = scenario_file(tmp_path, f"{{B: cut.tif, G: {band}}}")
    whole = (DATA / band).read_bytes()
    (tmp_path / "cut.tif").write_bytes(whole[:len(whole) // 2])
    assert main(["validate", str(path)]) == 2
    assert (f"{path}:7: world.bands.B: expected samples GDAL can decode, found 'cut.tif': GDAL cannot read them (a "
            "truncated or damaged file?): cut.tif, band 1: IReadBlock failed") in capsys.readouterr().err
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "world.bands.B: expected samples GDAL can decode, found 'cut.tif'" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
    # the run's own reading (a file whose damage a decimated read misses) names the file and its key too
    (tmp_path / "whole").mkdir()
    whole_world = load_scenario(scenario_file(tmp_path / "whole", f"{{B: {band}, G: {band}}}")).world
    with pytest.raises(InputFileError, match=r"cut.tif: world.bands.B: GDAL cannot read its pixels \(a truncated "):
        world_from_config(dataclasses.replace(whole_world, bands={"B": "cut.tif", "G": band}), tmp_path)
    (tmp_path / "mount").mkdir()  # an empty folder of the user's (a mount point) stays
    assert main(["run", str(path), "--out", str(tmp_path / "mount"), "--quiet"]) == 2
    assert (tmp_path / "mount").is_dir() and not any((tmp_path / "mount").iterdir())
