"""The run's STAC catalog on a short real run: pystac reads it, one Item per mosaic and per product, and the proj,
eo and raster fields agree with the files GDAL opens and with pyproj."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pystac
import pystac.validation
import pytest
import rasterio
from pyproj import Transformer
from pystac.extensions.eo import EOExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import RasterExtension

from onboard.cli import main
from onboard.codec import NODATA_DN

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
