"""The run's STAC catalog on a short real run: pystac reads it, one Item per mosaic and per product, and the proj,
eo and raster fields agree with the files GDAL opens and with pyproj."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pystac
import pystac.validation
import pytest
import rasterio
import shapely
import shapely.geometry
from hypothesis import given, settings, strategies as st
from pyproj import Transformer
from pystac.extensions.eo import EOExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import RasterExtension

from app.cli import main
from ground.stac import MEDIA_TYPES, _geometry
from rundir.codec import FORMATS, NODATA_DN
from rundir.manifest import Footprint

ROOT = Path(__file__).parents[1]
FAST = ("duration_h=10", "pipeline=[{stage: encode, format: png}]")  # quickstart, single frames: 15 in 10 h
ONE_M = 1.0


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stac")
    args = ["run", str(ROOT / "scenarios" / "quickstart.yaml"), "--out", str(out), "--quiet"]
    for assignment in FAST:
        args += ["--set", assignment]
    assert main(args) == 0
    return out


def manifest(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "downlink" / "manifest.jsonl").read_text().splitlines()]


def test_catalog_holds_one_item_per_mosaic_and_per_product(run_dir):
    catalog = pystac.Catalog.from_file(str(run_dir / "stac" / "catalog.json"))
    items = {item.id: item for item in catalog.get_items(recursive=True)}
    report = json.loads((run_dir / "report.json").read_text())
    lines = manifest(run_dir)
    assert report["mosaics"]["count"] >= 1 and lines
    assert len(items) == report["mosaics"]["count"] + len(lines)
    assert {line["id"] for line in lines} | {f"mosaic-{m['name']}" for m in report["mosaics"]["passes"]} == set(items)
    for item in items.values():
        for asset in item.assets.values():
            assert Path(asset.get_absolute_href()).is_file(), asset.href  # relative hrefs that resolve
        assert item.datetime is not None and item.datetime.tzinfo is not None


def test_product_items_match_the_manifest_and_the_files(run_dir):
    catalog = pystac.Catalog.from_file(str(run_dir / "stac" / "catalog.json"))
    items = {item.id: item for item in catalog.get_items(recursive=True)}
    for line in manifest(run_dir):
        item = items[line["id"]]
        fp = line["footprint"]
        proj = ProjectionExtension.ext(item)
        assert proj.code == f"EPSG:{fp['epsg']}" and proj.shape == [fp["height_px"], fp["width_px"]]
        assert proj.transform == [fp["gsd_m"], 0.0, fp["x0_m"], 0.0, -fp["gsd_m"], fp["y0_m"]]
        assert item.datetime.isoformat().startswith(line["capture_utc"][:19])
        data = item.assets["data"]
        assert data.roles == ["data"] and data.media_type == pystac.MediaType.PNG
        assert {a.href.rsplit("/", 1)[-1] for a in item.assets.values() if a.roles == ["metadata"]} == \
            {s["file"] for s in line["sidecars"]}
        with rasterio.open(data.get_absolute_href()) as src:  # GDAL reads what STAC says, through the sidecars
            assert src.crs.to_epsg() == fp["epsg"] and list(src.transform)[:6] == proj.transform
            eo_names = [b.name for b in EOExtension.ext(data).bands]
            assert list(src.descriptions) == eo_names
        raster = RasterExtension.ext(data).bands
        assert [b.nodata for b in raster] == [NODATA_DN] * len(raster)
        assert all(b.scale == line["reflectance_per_dn"] and b.offset == 0.0 and b.bits_per_sample == 12
                   and b.data_type == "uint16" for b in raster)
        centres = dict(zip(line["bands"], line["band_centres_um"]))
        common = {"B": "blue", "G": "green", "R": "red", "NIR": "nir"}
        assert [(b.common_name, b.center_wavelength) for b in EOExtension.ext(data).bands] == \
            [(common[name], centres[name]) for name in eo_names]


def test_geometry_is_the_footprint_in_lon_lat_checked_with_pyproj(run_dir):
    catalog = pystac.Catalog.from_file(str(run_dir / "stac" / "catalog.json"))
    for item in catalog.get_items(recursive=True):
        proj = ProjectionExtension.ext(item)
        to_map = Transformer.from_crs("EPSG:4326", proj.code, always_xy=True)
        ring = np.array(item.geometry["coordinates"][0])
        x_m, y_m = to_map.transform(ring[:, 0], ring[:, 1])
        x0, y0, x1, y1 = proj.bbox
        # every vertex lies on the footprint's edge, within a metre (coordinates kept to 1e-7 degree, ~1 cm)
        on_edge = np.minimum.reduce([abs(x_m - x0), abs(x_m - x1), abs(y_m - y0), abs(y_m - y1)])
        assert on_edge.max() < ONE_M
        assert x_m.min() == pytest.approx(x0, abs=ONE_M) and y_m.max() == pytest.approx(y1, abs=ONE_M)
        lon0, lat0, lon1, lat1 = item.bbox
        assert lon0 <= ring[:, 0].min() and ring[:, 0].max() <= lon1 and lat0 <= ring[:, 1].min() <= lat1


def test_mosaic_items_point_at_the_cog_and_its_quicklook(run_dir):
    catalog = pystac.Catalog.from_file(str(run_dir / "stac" / "catalog.json"))
    mosaics = [item for item in catalog.get_items(recursive=True) if item.id.startswith("mosaic-")]
    assert mosaics
    for item in mosaics:
        data, visual = item.assets["data"], item.assets["visual"]
        assert data.media_type == pystac.MediaType.COG and set(visual.roles) == {"overview", "visual"}
        assert item.properties["start_datetime"] <= item.properties["end_datetime"]
        with rasterio.open(data.get_absolute_href()) as src:
            assert ProjectionExtension.ext(item).shape == [src.height, src.width]
            assert [b.nodata for b in RasterExtension.ext(data).bands] == [src.nodata] * src.count
            assert [b.name for b in EOExtension.ext(data).bands] == list(src.descriptions)


def test_every_product_format_has_its_media_type():
    """A STAC client picks a reader by the asset's type: the flight codecs' products had none."""
    assert set(MEDIA_TYPES) == set(FORMATS) and all(MEDIA_TYPES.values())


def test_a_mosaics_time_range_is_its_tiles_own(run_dir):
    """A mosaic's start and end are the first and last capture time of its tiles' own Items, so a temporal query
    that finds the mosaic finds its first tile: the mosaic's start came from capture_t_s rounded to the millisecond
    and the tiles' from capture_utc truncated to it, and 8 of 16 mosaics started 1 ms after their first tile."""
    catalog = pystac.Catalog.from_file(str(run_dir / "stac" / "catalog.json"))
    items = list(catalog.get_items(recursive=True))
    mosaics = [i for i in items if i.id.startswith("mosaic-")]
    assert mosaics
    for mosaic in mosaics:
        times = [i.datetime for i in items if not i.id.startswith("mosaic-") and i.properties["orbitedge:kind"] ==
                 "image" and i.properties["orbitedge:pass_id"] == mosaic.properties["orbitedge:pass_id"]]
        assert (mosaic.common_metadata.start_datetime, mosaic.common_metadata.end_datetime) == (min(times), max(times))


def test_catalog_and_items_validate_against_the_stac_1_1_schemas(run_dir):
    """pystac's validator (jsonschema) on the core STAC 1.1 schemas that pystac ships, offline. The eo, proj and
    raster extension schemas live at stac-extensions.github.io, which a test must not fetch; their fields are
    checked through pystac's extension classes in the tests above."""
    catalog = pystac.Catalog.from_file(str(run_dir / "stac" / "catalog.json"))
    assert pystac.validation.validate_dict(catalog.to_dict(), extensions=[])
    items = list(catalog.get_items(recursive=True))
    for item in items:
        assert pystac.validation.validate_dict(item.to_dict(), extensions=[])
    broken = items[0].to_dict()
    broken["properties"]["datetime"] = "yesterday"  # the validator is live: it refuses what the schema forbids
    with pytest.raises(pystac.errors.STACValidationError):
        pystac.validation.validate_dict(broken, extensions=[])


# --- geometry over a pole and across the antimeridian (RFC 7946, sections 3.1.9, 5.2, 5.3) ------------------------

def _signed_area(ring) -> float:
    xy = np.asarray(ring, dtype=np.float64)
    return float(np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1])) / 2.0


def _item_dict(geometry, bbox) -> dict:
    item = pystac.Item("x", geometry, bbox, dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), {})
    return item.to_dict(include_self_link=False)


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(st.sampled_from([32661, 32761]), st.floats(-0.95, 0.95), st.floats(-0.95, 0.95), st.integers(20, 800),
       st.integers(20, 800))
def test_a_footprint_over_a_pole_is_one_counterclockwise_polygon_to_the_pole(epsg, fx, fy, w_px, h_px):
    """The ring follows the footprint's edge in longitude order and closes along the antimeridian at the pole; every
    edge point (pyproj) is on it; the bbox spans -180..180 up to the pole."""
    pole_deg = 90.0 if epsg == 32661 else -90.0
    gsd_m = 10.0
    x0 = 2_000_000.0 + (fx - 1) * w_px * gsd_m / 2  # UPS puts the pole at (2000 km, 2000 km); fx, fy: where in
    y0 = 2_000_000.0 + (fy + 1) * h_px * gsd_m / 2  # the footprint, -1 to 1 from edge to edge
    fp = {"epsg": epsg, "x0_m": x0, "y0_m": y0, "gsd_m": gsd_m, "width_px": w_px, "height_px": h_px}
    geometry, bbox = _geometry(Footprint(**fp))
    assert geometry["type"] == "Polygon" and len(geometry["coordinates"]) == 1
    ring = geometry["coordinates"][0]
    assert ring[0] == ring[-1] and _signed_area(ring) > 0
    assert [-180.0, pole_deg] in ring and [180.0, pole_deg] in ring
    edge = [p for p in ring if abs(p[1]) != 90.0 and abs(p[0]) != 180.0]
    lons = [p[0] for p in edge]
    assert lons == sorted(lons, reverse=pole_deg < 0)  # no edge crosses another
    lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform([x0, x0 + w_px * gsd_m], [y0, y0])
    for corner in zip(lon, lat):
        assert min(abs(p[0] - corner[0]) + abs(p[1] - corner[1]) for p in edge) < 1e-6
    assert bbox[0] == -180.0 and bbox[2] == 180.0 and pole_deg in bbox
    assert min(abs(p[1]) for p in ring) == pytest.approx(min(abs(bbox[1]), abs(bbox[3])), abs=1e-7)
    assert _worst_edge_error_px(fp, geometry) <= 0.5
    pystac.validation.validate_dict(_item_dict(geometry, bbox), extensions=[])


@pytest.mark.parametrize("epsg, lon_deg", [(32760, 179.99), (32601, -179.99), (32660, 179.9), (32601, -179.9)])
def test_a_footprint_across_the_antimeridian_is_cut_with_a_bbox_from_west_to_east(epsg, lon_deg):
    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon_deg, -16.5 if epsg > 32700 else 65.0)
    fp = {"epsg": epsg, "x0_m": x - 10_000.0, "y0_m": y + 5_000.0, "gsd_m": 10.0, "width_px": 2000,
          "height_px": 1000}
    geometry, bbox = _geometry(Footprint(**fp))
    assert geometry["type"] == "MultiPolygon" and len(geometry["coordinates"]) == 2
    for polygon in geometry["coordinates"]:
        assert _signed_area(polygon[0]) > 0
    corners = Transformer.from_crs(epsg, 4326, always_xy=True).transform(
        [fp["x0_m"], fp["x0_m"] + 20_000.0, fp["x0_m"] + 20_000.0, fp["x0_m"]], [y + 5_000, y + 5_000, y - 5_000,
                                                                                 y - 5_000])
    west = min(lon for lon in corners[0] if lon > 0)
    east = max(lon for lon in corners[0] if lon < 0)
    assert bbox[0] > bbox[2]  # RFC 7946 5.2: west edge greater than east edge
    assert bbox[0] == pytest.approx(west, abs=1e-6) and bbox[2] == pytest.approx(east, abs=1e-6)
    assert bbox[1] == pytest.approx(min(corners[1]), abs=1e-6) and bbox[3] == pytest.approx(max(corners[1]), abs=1e-6)
    pystac.validation.validate_dict(_item_dict(geometry, bbox), extensions=[])


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(st.sampled_from([32661, 32761]), st.floats(80.5, 88.0), st.floats(-0.9, 0.9), st.integers(20, 800),
       st.integers(20, 800))
def test_a_polar_stereographic_footprint_across_the_antimeridian_is_cut_there(epsg, abs_lat_deg, fx, w_px, h_px):
    """UPS (north of 84 N, south of 80 S) as UTM: a footprint that crosses 180 deg but holds no pole is two
    counterclockwise polygons, one either side, with a bbox whose west edge is greater than its east edge and
    that holds every point of the footprint's edge (pyproj, 50 a side)."""
    lat_deg = abs_lat_deg if epsg == 32661 else -abs_lat_deg
    to_grid = Transformer.from_crs(4326, epsg, always_xy=True)
    x, y = to_grid.transform(180.0, lat_deg)
    gsd_m = 10.0
    x0 = x + (fx - 1) * w_px * gsd_m / 2  # fx: where the antimeridian's point falls, -1 to 1 from edge to edge
    fp = {"epsg": epsg, "x0_m": x0, "y0_m": y + h_px * gsd_m / 2, "gsd_m": gsd_m, "width_px": w_px, "height_px": h_px}
    geometry, bbox = _geometry(Footprint(**fp))
    t = np.linspace(0.0, 1.0, 50)
    xs = np.concatenate([x0 + t * w_px * gsd_m, np.full(50, x0 + w_px * gsd_m), x0 + t * w_px * gsd_m, np.full(50, x0)])
    y0, y1 = fp["y0_m"], fp["y0_m"] - h_px * gsd_m
    ys = np.concatenate([np.full(50, y0), y0 + t * (y1 - y0), np.full(50, y1), y0 + t * (y1 - y0)])
    lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform(xs, ys)
    if not ((lon > 90).any() and (lon < -90).any()):  # the antimeridian passes outside this side's sample
        return
    assert geometry["type"] == "MultiPolygon" and len(geometry["coordinates"]) == 2
    sides = []
    for polygon in geometry["coordinates"]:
        assert _signed_area(polygon[0]) > 0
        lons = [p[0] for p in polygon[0]]
        assert min(lons) >= 0 or max(lons) <= 0  # each part on one side of the antimeridian
        sides.append(min(lons) >= 0)
    assert sorted(sides) == [False, True]
    west, south, east, north = bbox
    assert west > east and south < north
    assert all(lo >= west - 1e-6 or lo <= east + 1e-6 for lo in lon)
    assert south - 1e-6 <= lat.min() and lat.max() <= north + 1e-6
    assert _worst_edge_error_px(fp, geometry) <= 0.5
    pystac.validation.validate_dict(_item_dict(geometry, bbox), extensions=[])


@pytest.mark.parametrize("epsg, side", [(32661, -1), (32661, 1), (32761, -1), (32761, 1)])
def test_a_polar_footprint_with_an_edge_on_the_antimeridian_is_not_cut(epsg, side):
    """A UPS grid point at x = 2000 km on the 180 deg side of the pole is at longitude +-180 exactly (PROJ says +180
    on both sides), and tile edges land there at every usual GSD: a footprint that only touches 180 deg is one valid
    polygon on its own side, not a cut with a zero-area part and a bbox round the globe."""
    lat_deg = 87.0 if epsg == 32661 else -85.0
    _, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(180.0, lat_deg)
    x0 = 2_000_000.0 if side > 0 else 2_000_000.0 - 2560.0  # east of the edge or west of it, 256 px at 10 m
    fp = {"epsg": epsg, "x0_m": x0, "y0_m": round(y, -1), "gsd_m": 10.0, "width_px": 256, "height_px": 256}
    geometry, bbox = _geometry(Footprint(**fp))
    assert geometry["type"] == "Polygon" and shapely.is_valid(shapely.geometry.shape(geometry))
    assert _signed_area(geometry["coordinates"][0]) > 0
    west, _, east, _ = bbox
    assert west < east and (east <= 180.0 and west > 179.0 or west >= -180.0 and east < -179.0)
    pystac.validation.validate_dict(_item_dict(geometry, bbox), extensions=[])


def test_an_ordinary_footprint_is_a_counterclockwise_polygon():
    fp = {"epsg": 32633, "x0_m": 585_000.0, "y0_m": 6_573_560.0, "gsd_m": 10.0, "width_px": 256, "height_px": 256}
    geometry, bbox = _geometry(Footprint(**fp))
    assert geometry["type"] == "Polygon" and _signed_area(geometry["coordinates"][0]) > 0 and bbox[0] < bbox[2]


def _worst_edge_error_px(fp: dict, geometry: dict) -> float:
    """How far the geometry's edges (straight in lon/lat, 64 points each, taken to the grid with pyproj) stray from
    the footprint rectangle's sides, in pixels; the edges along a pole or the antimeridian cut are not sides."""
    to_grid = Transformer.from_crs(4326, fp["epsg"], always_xy=True)
    x0, y0, gsd_m = fp["x0_m"], fp["y0_m"], fp["gsd_m"]
    x1, y1 = x0 + fp["width_px"] * gsd_m, y0 - fp["height_px"] * gsd_m
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    worst_m = 0.0
    for a, b in (pair for polygon in polygons for pair in zip(polygon[0], polygon[0][1:])):
        if abs(a[1]) == abs(b[1]) == 90.0 or abs(a[0]) == abs(b[0]) == 180.0:
            continue
        s = np.linspace(0.0, 1.0, 64)
        x, y = to_grid.transform(a[0] + s * (b[0] - a[0]), a[1] + s * (b[1] - a[1]))
        outside = np.hypot(np.maximum(0, np.maximum(x0 - x, x - x1)), np.maximum(0, np.maximum(y - y0, y1 - y)))
        inside = np.minimum(np.minimum(np.abs(x - x0), np.abs(x - x1)), np.minimum(np.abs(y - y0), np.abs(y - y1)))
        worst_m = max(worst_m, float(np.max(np.where(outside > 0, outside, inside))))
    return worst_m / gsd_m


@pytest.mark.parametrize("epsg, dx_px, dy_px, size_px", [
    (32761, -512, 512, 1024),  # a 1024 px mosaic centred on the South Pole
    (32761, 400, 1500, 1024),  # ... with 89.9 S inside it
    (32761, -1, 64, 128),  # the pole one pixel inside a frame's side
    (32761, 0, 64, 128),  # the pole on a side: any longitude
    (32761, -1e-5, 64, 128),  # ... a hair inside it (a ring through a pole's neighbourhood crossed itself)
    (32761, 1e-5, 64, 128),  # ... a hair outside it
    (32661, -1e-5, 1e-5, 128),  # ... a hair inside a corner
    (32761, 0, 0, 128),  # the pole on a corner
    (32661, -128, -128, 128),  # ... the North Pole on the opposite corner
    (32661, 0, 64, 128),
    (32761, -64, -100, 128),  # the pole outside, the antimeridian through the frame
])
def test_a_polar_geometry_follows_the_footprint_within_half_a_pixel(epsg, dx_px, dy_px, size_px):
    """Near a pole a straight side of the UPS grid is a curve in lon/lat, where RFC 7946's edges are straight: with 3
    points a side, the geometry of a mosaic round the pole strayed 12-18 px from it, and a frame's 2-4 px, leaving
    1-3 % of its pixels outside its own geometry; a pole on a corner gave a self-intersecting polygon."""
    gsd_m = 10.0
    fp = {"epsg": epsg, "x0_m": 2_000_000.0 + dx_px * gsd_m, "y0_m": 2_000_000.0 + dy_px * gsd_m, "gsd_m": gsd_m,
          "width_px": size_px, "height_px": size_px}
    geometry, bbox = _geometry(Footprint(**fp))
    shape = shapely.geometry.shape(geometry)
    assert shapely.is_valid(shape) and _worst_edge_error_px(fp, geometry) <= 0.5
    centres = (np.arange(size_px) + 0.5) * gsd_m
    x, y = np.meshgrid(fp["x0_m"] + centres, fp["y0_m"] - centres)
    lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform(x.ravel(), y.ravel())
    assert (shapely.contains_xy(shape, lon, lat) | shapely.intersects_xy(shape, lon, lat)).all()  # each pixel centre
    pystac.validation.validate_dict(_item_dict(geometry, bbox), extensions=[])
