"""Stitching: exact tile placement (property tests), first-delivered-wins overlaps, COG mosaics as GDAL and rio-cogeo
read them (CRS, transform, no-data, bands, overviews, scale and offset), quick-looks."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from rio_cogeo.cogeo import cog_validate

from ground.reception import receive
from ground.stitch import QUICKLOOK_MAX_PX, TileGridError, mosaic_grid, quicklook_rgb, stitch_passes, write_cog
from rundir.codec import FILL_DN, NODATA_DN, Georef, encode
from rundir.manifest import Footprint

GSD_M = 10.0
X0_M, Y0_M = 448_000.0, 5_412_000.0
ONE_MM = 1e-3


def footprint(row: int, col: int, height: int, width: int, epsg: int = 32631, gsd_m: float = GSD_M) -> Footprint:
    """Footprint of a tile whose upper-left pixel is (row, col) on the grid anchored at (X0_M, Y0_M)."""
    return Footprint(epsg, X0_M + col * gsd_m, Y0_M - row * gsd_m, gsd_m, width, height)


rects = st.tuples(st.integers(0, 20), st.integers(0, 20), st.integers(1, 12), st.integers(1, 12))
BAND_NAMES = ("B", "G", "R", "NIR")


def stitched(tiles: list[tuple[np.ndarray, Footprint]]) -> tuple[np.ndarray, np.ndarray, Footprint]:
    """Tiles placed as stitch_passes places them (:func:`mosaic_grid`, the last delivered written first) into a real
    COG, read back through rasterio: ``(mosaic (H, W, B) with 0 where no data, coverage, footprint)``."""
    footprint, offsets = mosaic_grid([fp for _, fp in tiles])
    placed = [(row, col, dn.reshape(dn.shape[0], dn.shape[1], -1)) for (dn, _), (row, col) in zip(tiles, offsets)]
    georef = Georef(footprint.epsg, footprint.x0_m, footprint.y0_m, footprint.gsd_m,
                    BAND_NAMES[:placed[0][2].shape[2]], 1.2 / 4095, NODATA_DN, None)
    with tempfile.TemporaryDirectory() as tmp:
        coverage = write_cog(Path(tmp) / "m.tif", reversed(placed), (footprint.height_px, footprint.width_px), georef)
        with rasterio.open(Path(tmp) / "m.tif") as src:
            data = src.read(masked=True)
    np.testing.assert_array_equal(~data.mask[0], coverage)
    return np.moveaxis(data.filled(0), 0, -1), coverage, footprint


@settings(max_examples=60, deadline=None)
@given(st.lists(rects, min_size=1, max_size=8), st.integers(1, 4), st.integers(0, 2**32 - 1),
       st.sampled_from([0.0, 0.3]))
def test_tiles_cut_from_one_image_reconstruct_it_exactly(boxes, bands, seed, fill_share):
    """Fill (every band FILL_DN: no world there, masked cloud) is no data in the mosaic."""
    rng = np.random.default_rng(seed)
    scene = rng.integers(0, 4096, (32, 32, bands), dtype=np.uint16)
    scene[rng.random((32, 32)) < fill_share] = FILL_DN
    tiles = [(scene[r:r + h, c:c + w], footprint(r, c, h, w)) for r, c, h, w in boxes]
    mosaic, coverage, fp = stitched(tiles)

    row0, col0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    row1, col1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    union = np.zeros(scene.shape[:2], dtype=bool)
    for r, c, h, w in boxes:
        union[r:r + h, c:c + w] = True
    union &= (scene != FILL_DN).any(axis=-1)
    assert mosaic.shape == (row1 - row0, col1 - col0, bands) and mosaic.dtype == np.uint16
    assert (fp.height_px, fp.width_px) == mosaic.shape[:2]
    np.testing.assert_array_equal(coverage, union[row0:row1, col0:col1])
    assert coverage.sum() == union.sum()  # every covered pixel counted once, however many tiles hold it
    expected = np.where(coverage[..., None], scene[row0:row1, col0:col1], 0)
    np.testing.assert_array_equal(mosaic, expected)
    assert abs(fp.x0_m - (X0_M + col0 * GSD_M)) < ONE_MM and abs(fp.y0_m - (Y0_M - row0 * GSD_M)) < ONE_MM
    assert fp.epsg == 32631 and fp.gsd_m == GSD_M


@settings(max_examples=40, deadline=None)
@given(st.lists(rects, min_size=1, max_size=8))
def test_overlaps_keep_the_first_delivered_tile(boxes):
    tiles = [(np.full((h, w, 1), i + 1, dtype=np.uint16), footprint(r, c, h, w))
             for i, (r, c, h, w) in enumerate(boxes)]
    mosaic, coverage, _ = stitched(tiles)
    row0, col0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    first = np.zeros(mosaic.shape[:2], dtype=np.uint16)
    for i, (r, c, h, w) in reversed(list(enumerate(boxes))):
        first[r - row0:r - row0 + h, c - col0:c - col0 + w] = i + 1
    np.testing.assert_array_equal(mosaic[..., 0], first)
    np.testing.assert_array_equal(coverage, first > 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(rects, min_size=1, max_size=8), st.integers(0, 2**32 - 1))
def test_data_of_a_later_tile_shows_through_an_earlier_ones_fill(boxes, seed):
    """Where the first delivered tile holds fill (cloud it masked out) and a later one data, the mosaic has the
    later one's data: the first delivered tile with data at a pixel wins."""
    rng = np.random.default_rng(seed)
    tiles = []
    for i, (r, c, h, w) in enumerate(boxes):
        dn = np.full((h, w, 1), i + 1, dtype=np.uint16)
        dn[rng.random((h, w)) < 0.4] = FILL_DN
        tiles.append((dn, footprint(r, c, h, w)))
    mosaic, coverage, _ = stitched(tiles)
    row0, col0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    first = np.zeros(mosaic.shape[:2], dtype=np.uint16)
    for (dn, _), (r, c, h, w) in reversed(list(zip(tiles, boxes))):
        window = first[r - row0:r - row0 + h, c - col0:c - col0 + w]
        np.copyto(window, dn[..., 0], where=dn[..., 0] != FILL_DN)
    np.testing.assert_array_equal(mosaic[..., 0], first)
    np.testing.assert_array_equal(coverage, first > 0)


def test_two_dimensional_tiles_become_one_band():
    mosaic, coverage, _ = stitched([(np.ones((2, 3), dtype=np.uint16), footprint(0, 0, 2, 3))])
    assert mosaic.shape == (2, 3, 1) and coverage.all()


@pytest.mark.parametrize("other", [footprint(0, 4, 4, 4, epsg=32632), footprint(0, 4, 4, 4, gsd_m=20.0)])
def test_tiles_of_other_crs_or_gsd_are_refused(other):
    with pytest.raises(TileGridError) as err:
        mosaic_grid([footprint(0, 0, 4, 4), other])
    assert err.value.other == other


def test_tile_off_the_pixel_grid_is_refused():
    shifted = dataclasses.replace(footprint(0, 4, 4, 4), x0_m=X0_M + 4 * GSD_M + 3.0)  # 0.3 px off
    with pytest.raises(TileGridError, match="off the common pixel grid"):
        mosaic_grid([footprint(0, 0, 4, 4), shifted])


def test_no_tiles_is_an_error():
    with pytest.raises(ValueError):
        mosaic_grid([])


def test_a_tile_of_another_band_count_is_refused_and_writes_nothing(tmp_path):
    fps = [footprint(0, 0, 4, 4), footprint(0, 4, 4, 4)]
    grid, _ = mosaic_grid(fps)
    georef = Georef(32631, X0_M, Y0_M, GSD_M, BAND_NAMES, 1.2 / 4095, NODATA_DN, None)
    tiles = [(0, 0, np.zeros((4, 4, 4), np.uint16)), (0, 4, np.zeros((4, 4, 3), np.uint16))]
    with pytest.raises(TileGridError, match="3 bands, the mosaic 4"):
        write_cog(tmp_path / "m.tif", tiles, (grid.height_px, grid.width_px), georef, quicklook=tmp_path / "m.png")
    assert list(tmp_path.iterdir()) == []


def test_a_cog_is_the_same_bytes_written_in_one_thread_as_in_one_per_core(tmp_path, monkeypatch):
    """A run on a sweep's worker writes its COGs in one thread (app.run_setup.run_threads)."""
    mosaic = np.random.default_rng(5).integers(1, 4096, (700, 600, 4), dtype=np.uint16)
    georef = Georef(32633, 500_000.0, 6_600_000.0, 30.0, ("B", "G", "R", "NIR"), 1.2 / 4095, NODATA_DN,
                    (0.49, 0.56, 0.665, 0.842))
    asked, real_copy = [], rasterio.shutil.copy

    def copy(*args, **kwargs):  # the real copy, its num_threads noted
        asked.append(kwargs["num_threads"])
        return real_copy(*args, **kwargs)

    monkeypatch.setattr(rasterio.shutil, "copy", copy)
    write_cog(tmp_path / "all.tif", [(0, 0, mosaic)], mosaic.shape[:2], georef)
    write_cog(tmp_path / "one.tif", [(0, 0, mosaic)], mosaic.shape[:2], georef, threads=1)
    assert asked == ["ALL_CPUS", 1]  # GDAL's COG driver was asked for each
    assert (tmp_path / "one.tif").read_bytes() == (tmp_path / "all.tif").read_bytes()


@pytest.mark.parametrize("epsg,x0_m,y0_m", [(32721, 694_020.0, 7_233_370.0), (32761, 2_000_000.0, 2_100_000.0),
                                           (32661, 1_900_000.0, 2_000_000.0)])
@pytest.mark.parametrize("bit_depth", [12, 16])
def test_cog_carries_crs_nodata_bands_overviews_and_calibration(tmp_path, epsg, x0_m, y0_m, bit_depth):
    """UTM south and UPS south/north; 12 bits has a no-data DN, 16 bits an internal mask."""
    rng = np.random.default_rng(3)
    mosaic = rng.integers(1, 2**bit_depth, (700, 600, 4), dtype=np.uint16)  # 0 in every band would be fill
    coverage = np.zeros((700, 600), dtype=bool)
    coverage[100:600, 50:550] = True
    georef = Georef(epsg, x0_m, y0_m, 30.0, ("B", "G", "R", "NIR"), 1.2 / (2**bit_depth - 1),
                    NODATA_DN if bit_depth < 16 else None, (0.49, 0.56, 0.665, 0.842))
    path = tmp_path / "m.tif"
    assert (write_cog(path, [(100, 50, mosaic[100:600, 50:550])], coverage.shape, georef) == coverage).all()
    assert cog_validate(str(path)) == (True, [], [])
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == epsg
        assert src.transform.almost_equals(rasterio.Affine(30.0, 0.0, x0_m, 0.0, -30.0, y0_m))
        assert src.descriptions == ("B", "G", "R", "NIR")
        assert src.scales == (pytest.approx(1.2 / (2**bit_depth - 1)),) * 4 and src.offsets == (0.0,) * 4
        assert src.units == ("1",) * 4
        assert src.tags(4, ns="IMAGERY")["CENTRAL_WAVELENGTH_UM"] == "0.842"
        assert src.overviews(1) == [2, 4]  # halved until it fits one 256 px tile
        assert src.nodata == (NODATA_DN if bit_depth < 16 else None)
        data = src.read(masked=True)
    np.testing.assert_array_equal(~data.mask[0], coverage)  # uncovered pixels are no-data, not zeros
    np.testing.assert_array_equal(data.data[:, coverage], np.moveaxis(mosaic, -1, 0)[:, coverage])


def test_quicklook_is_at_most_2048_px_by_area_averaging_keeping_the_aspect():
    mosaic = np.full((5000, 1250, 3), 1000, dtype=np.uint16)
    coverage = np.zeros((5000, 1250), dtype=bool)
    coverage[:, :625] = True
    rgb = quicklook_rgb(lambda b: mosaic[..., b], coverage, ["B", "G", "R"], 1.2 / 4095)
    assert rgb.shape == (QUICKLOOK_MAX_PX, 512, 3)
    expected = round(255 * (1000 * 1.2 / 4095 / 0.4) ** (1 / 1.8))  # the covered mean keeps its stretched value
    assert (rgb[:, :256] == expected).all() and (rgb[:, 256:] == 0).all()


def test_quicklook_uses_r_g_b_bands_in_rgb_order():
    mosaic = np.zeros((8, 8, 4), dtype=np.uint16)
    mosaic[..., 2] = np.arange(64, dtype=np.uint16).reshape(8, 8) * 60  # R band ramps, others constant
    coverage = np.ones((8, 8), dtype=bool)
    coverage[0, 0] = False
    rgb = quicklook_rgb(lambda b: mosaic[..., b], coverage, ["B", "G", "R", "NIR"])
    assert rgb.dtype == np.uint8 and rgb.shape == (8, 8, 3)
    assert rgb[..., 0].max() == 255 and rgb[..., 0].min() == 0
    assert rgb[..., 1].max() == 0 and rgb[..., 2].max() == 0
    assert tuple(rgb[0, 0]) == (0, 0, 0)
    grey = quicklook_rgb(lambda b: mosaic[..., 2 + b], coverage, ["NIR"])
    np.testing.assert_array_equal(grey[..., 0], grey[..., 2])


def write_pass(run_dir: Path, scene: np.ndarray, pass_id: str, boxes: list[tuple[int, int, int, int]],
               lines: list[dict]) -> None:
    """Write tiles of ``scene`` as tiff products of one pass into run_dir/downlink, appending their manifest lines."""
    for i, (r, c, h, w) in enumerate(boxes):
        dn = np.ascontiguousarray(scene[r:r + h, c:c + w])
        data = encode(dn, "tiff", 12)
        product_id = f"{pass_id}-t{i:02d}"
        (run_dir / "downlink" / f"{product_id}.tif").write_bytes(data)
        lines.append({"id": product_id, "file": f"{product_id}.tif", "pass_id": pass_id, "satellite": "sat-1",
                      "frame_ids": [f"{pass_id}-f{i:02d}"],
                      "target": "paris", "kind": "image", "format": "tiff", "bit_depth": 12, "shape": list(dn.shape),
                      "bands": ["B", "G", "R", "NIR"], "reflectance_per_dn": 1.2 / 4095, "bytes": len(data),
                      "sha256": hashlib.sha256(data).hexdigest(),
                      "capture_t_s": 0.0, "downlink_t_s": 1.0, "raw_bytes": dn.size * 12 // 8,
                      "tile": {"row0": r, "col0": c, "height": h, "width": w, "frame_height": 40, "frame_width": 40},
                      "footprint": dataclasses.asdict(footprint(r, c, h, w))})


def test_stitch_passes_writes_one_geotiff_and_quicklook_per_pass(tmp_path):
    (tmp_path / "downlink").mkdir()
    scene = np.random.default_rng(5).integers(0, 4096, (40, 40, 4), dtype=np.uint16)
    lines: list[dict] = []
    write_pass(tmp_path, scene, "sat-1-p000", [(0, 0, 16, 16), (0, 12, 16, 16), (16, 0, 12, 20)], lines)
    write_pass(tmp_path, scene, "sat-1-p001", [(20, 20, 20, 20)], lines)
    (tmp_path / "downlink" / "manifest.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    mosaics, problems = stitch_passes(receive(tmp_path).products, tmp_path)
    assert problems == []
    assert [m["name"] for m in mosaics] == ["sat-1-p000", "sat-1-p001"]
    first = mosaics[0]
    assert (first["height_px"], first["width_px"], first["tiles"]) == (28, 28, 3)
    assert first["covered_fraction"] == pytest.approx((16 * 28 + 12 * 20) / 28**2, abs=1e-12)
    with rasterio.open(tmp_path / first["tif"]) as src:
        pixels = np.moveaxis(src.read(masked=True), 0, -1)
        nodata = ~src.read_masks(1).astype(bool)
        # the COG's grid is the manifest's: each tile's footprint corner maps to its pixel, within a millimetre
        for line in lines[:3]:
            row, col = src.index(line["footprint"]["x0_m"] + GSD_M / 2, line["footprint"]["y0_m"] - GSD_M / 2)
            assert (row, col) == (round((Y0_M - line["footprint"]["y0_m"]) / GSD_M),
                                  round((line["footprint"]["x0_m"] - X0_M) / GSD_M))
        assert src.transform.c == pytest.approx(X0_M, abs=ONE_MM) and src.transform.f == pytest.approx(Y0_M, abs=ONE_MM)
        assert src.crs.to_epsg() == 32631 and src.descriptions == ("B", "G", "R", "NIR")
    np.testing.assert_array_equal(pixels[:16, :28], scene[:16, :28])
    assert nodata[16:, 20:].all() and not nodata[:16].any()  # the corner no tile reaches is no-data
    with rasterio.open(tmp_path / mosaics[1]["tif"]) as src:
        np.testing.assert_array_equal(np.moveaxis(src.read(), 0, -1), scene[20:, 20:])
    png = cv2.imread(str(tmp_path / first["png"]), cv2.IMREAD_UNCHANGED)
    assert png.shape == (28, 28, 3) and png.dtype == np.uint8


WRITE_UNDER_A_LIMIT = """
import resource, sys
from pathlib import Path
import numpy as np
sys.path.insert(0, {root!r})
from ground.stitch import write_cog
from rundir.codec import Georef
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))  # Python ignores SIGXFSZ: writes past it fail, EFBIG
tiles = [(r, c, np.random.default_rng(r + c).integers(1, 65000, (256, 256, 4)).astype(np.uint16))
         for r in range(0, 1024, 256) for c in range(0, 1024, 256)]
georef = Georef(32631, 500000.0, 5000000.0, 10.0, ("B", "G", "R", "NIR"), 1.2 / 4095, 65535)
try:
    write_cog(Path({out!r}) / "m.tif", tiles, (1024, 1024), georef, quicklook=Path({out!r}) / "m.png")
except OSError as err:
    print("OSError", err.filename, err.strerror)
"""


@pytest.mark.parametrize("limit_kb", [4000, 9500])
def test_a_mosaic_gdal_could_not_write_whole_is_an_oserror_and_not_left(tmp_path, limit_kb):
    """Under a file-size limit (`ulimit -f`) the COG's blocks, which GDAL compresses and writes in its own threads,
    failed with nothing raised (rasterio logs GDAL's errors there): the run and its report exited 0 with mosaics
    holed below row 228. Fault injected: the operating system's own file-size limit (RLIMIT_FSIZE), in a child
    process, on 8.4 MB of incompressible samples: at 4 MB the temporary GeoTIFF is cut short (rasterio raises, an
    OSError without the file's name), at 9.5 MB the COG with its overviews (about 11 MB; it was left at 9.7 MB)."""
    import subprocess
    import sys

    code = WRITE_UNDER_A_LIMIT.format(root=str(Path(__file__).parents[1]), limit=limit_kb * 1024, out=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"OSError {tmp_path / 'm.tif'} GDAL could not write it: "), done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither the mosaic nor its quicklook, nor a temporary
