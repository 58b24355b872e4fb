"""One band of an image file through GDAL (rasterio): its metadata, its samples and validity, and the band
reprojected into a frame's grid.

No-data is the file's own, per band: its no-data value (``GDAL_NODATA``, ``dataset.nodatavals``), its internal,
per-band or alpha mask (``dataset.read_masks``), and non-finite floats (:mod:`onboard.sensing.band_samples`); a
scenario's ``nodata`` replaces the value (not the masks). Valid samples far below zero as reflectance are fill no
one declared, and refused. Reprojection is ``rasterio.warp.reproject`` (GDAL's warper), into any footprint, from any
CRS GDAL knows, north-up or rotated, and from files whose x runs past their CRS's world edge (see
``ImageInfo.world_offsets_x``).
"""

from __future__ import annotations

import functools
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyproj
import rasterio
from affine import Affine
from rasterio._err import CPLE_BaseError  # NOTE: private; rasterio.errors exports no base of GDAL's own errors
from rasterio.crs import CRS
from rasterio.enums import ColorInterp, Resampling
from rasterio.errors import CRSError, NotGeoreferencedWarning, RasterioError
from rasterio.warp import reproject, transform as transform_points, transform_bounds

from rundir.errors import InputFileError
from rundir.truth import UNKNOWN

from .band_samples import alpha_problem, read_band
from .mask_bits import MaskBits, Problem, cloud_codes, mask_problem
from .projection import GridFootprint
from .toa_reflectance import calibration_problem, reflectance_problem, scaled_problem

LONLAT = CRS.from_epsg(4326)
# GDAL's names for what is not a plain file: a virtual file system at the root (/vsizip/..., /vsicurl/...), or a
# driver prefix before a path (NETCDF:"f.nc":var, HDF5:/d/f.h5://x, zip:///d/a.zip!/b.tif); a file name that merely
# holds a colon (scene_T10:30.tif) or a folder named vsi... is not one
GDAL_NAME = re.compile(r"^/vsi[a-z0-9_]+/|(^|/)[A-Za-z][A-Za-z0-9_]*:[/\"]")
# The problem of such a name (open_image), which validate reports as not an image file on disk
VIRTUAL_NAME = ("a GDAL virtual file or subdataset name, which orbitedge does not open: extract or convert the band "
                "to a file first, e.g. gdal_translate 'NAME' band.tif")
WRAP_SAMPLES = 9  # points a side of the grid on which ImageInfo.world_offsets_x finds where the image wraps
WRAP_TOLERANCE_DEG = 1e-6  # a point and its copy one world width along are one place: ~0.1 m on the ground


@dataclass(frozen=True)
class BandSource:
    """One band of an image file: ``band`` is 1-based, as GDAL counts; None: the file must have exactly one."""

    path: Path
    band: int | None = None

    def __str__(self) -> str:
        return str(self.path) if self.band is None else f"{self.path} band {self.band}"


@dataclass(frozen=True)
class ImageInfo:
    """One band of an image file as its metadata describes it: size, data type, georeferencing, no-data."""

    source: BandSource
    band: int  # 1-based
    count: int  # bands in the file
    width: int
    height: int
    dtype: str
    crs: CRS
    transform: Affine  # pixel (col, row) -> CRS coordinates of the pixel's upper-left corner; may be rotated
    nodata: float | None  # the file's own no-data value of this band
    scale: float  # the file's own DN -> physical value scale of this band (GDAL scale metadata; 1.0 when none)
    offset: float  # ... and offset (0.0 when none)
    label: str = ""  # what the file calls the band: its description ("" when none; colour interpretations are
    # not read as names: GDAL writes red, green, blue by default for any 3- or 4-band 8-bit GeoTIFF)
    alpha: bool = False  # the file marks it alpha (opacity): see alpha_problem

    @property
    def calibrated(self) -> bool:
        """Whether the file says how its samples become reflectance: a scale or offset of its own, or floating-point
        samples (reflectance as stored, if their values are: see :func:`reflectance_problem`)."""
        return (self.scale, self.offset) != (1.0, 0.0) or np.dtype(self.dtype).kind == "f"

    def pixel_of(self, lat_deg: float, lon_deg: float) -> tuple[float, float] | None:
        """``(col, row)``, fractional px from the image's upper-left corner, of the point on the image or on one of
        its :attr:`world_offsets_x` copies; None when it falls on neither."""
        xs, ys = transform_points(LONLAT, self.crs, [lon_deg], [lat_deg])
        if not (math.isfinite(xs[0]) and math.isfinite(ys[0])):
            return None
        for offset_x in self.world_offsets_x:
            col, row = ~self.transform @ (xs[0] - offset_x, ys[0])
            if 0.0 <= col <= self.width and 0.0 <= row <= self.height:
                return col, row
        return None

    def bounds_lonlat(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) degrees of the image's outer edge (its corners and edges densified), as a
        GeoJSON bbox (RFC 7946, section 5.2): longitudes within -180..180, ``west > east`` across the antimeridian,
        -180..180 for every longitude (a file's own 0..360 or 180.05 longitudes too)."""
        cols = np.array([0, self.width, self.width, 0], dtype=np.float64)
        rows = np.array([0, 0, self.height, self.height], dtype=np.float64)
        xs, ys = self.transform @ (cols, rows)
        box = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        west, south, east, north = transform_bounds(self.crs, LONLAT, *box, densify_pts=21)
        if east - west >= 360.0:
            return -180.0, south, 180.0, north
        return wrap_lon(west), south, 180.0 - (180.0 - east) % 360.0, north  # east in (-180, 180]

    @functools.cached_property
    def world_offsets_x(self) -> tuple[float, ...]:
        """The x offsets (CRS units) of the copies of the image that hold its pixels where the CRS puts their place
        on the Earth: (0.0,) for an image within its CRS's world. Where x wraps with longitude by a world width W
        (geographic CRSs: 360 degrees; Web Mercator and other cylindrical projections: 2 pi R, 40,075,017 m for
        EPSG:3857) and the image runs past the world's edge (x beyond 180 degrees, as gdalwarp writes across the
        antimeridian, or 0..360 longitudes), a pixel at x is the place PROJ puts at x - k W, and the copy moved by
        -k W holds it: the k of each pixel, from the round trip x -> lon/lat -> lon wrapped to -180..180 -> x.
        A CRS whose wrap is no shift along x alone (sinusoidal: W varies with latitude) keeps (0.0,): only the
        pixels within its world are read, as for MODIS tiles whose pixels beyond it are fill."""
        # pixel centres: a file that ends exactly at the world's edge (x = 180 degrees) holds no pixel past it
        cols, rows = np.meshgrid(np.linspace(0.5, self.width - 0.5, WRAP_SAMPLES),
                                 np.linspace(0.5, self.height - 0.5, WRAP_SAMPLES))
        xs, ys = self.transform @ (cols.ravel(), rows.ravel())
        lon, lat = (np.asarray(v) for v in transform_points(self.crs, LONLAT, xs, ys))
        back_x, back_y = (np.asarray(v) for v in transform_points(LONLAT, self.crs, wrap_lon(lon), lat))
        pixel = math.hypot(self.transform.a, self.transform.d)  # one pixel's width, CRS units
        known = np.isfinite(back_x) & np.isfinite(back_y)
        shift = xs[known] - back_x[known]
        if not (np.abs(shift) > pixel).any() or (np.abs(ys[known] - back_y[known]) > pixel).any():
            return (0.0,)
        world = float(np.abs(shift[np.abs(shift) > pixel]).min())
        turns = np.round(shift / world)
        if (np.abs(shift - turns * world) > pixel).any() or not self._same_place(xs, ys, lon, lat, world):
            return (0.0,)
        return tuple(-k * world + 0.0 for k in range(int(turns.min()), int(turns.max()) + 1))

    def _same_place(self, xs: np.ndarray, ys: np.ndarray, lon: np.ndarray, lat: np.ndarray, world: float) -> bool:
        """Whether every point (``xs``, ``ys``) and the point ``world`` further along x are one place: within
        WRAP_TOLERANCE_DEG, wherever PROJ gives both."""
        lon2, lat2 = (np.asarray(v) for v in transform_points(self.crs, LONLAT, xs + world, ys))
        both = np.isfinite(lon) & np.isfinite(lat) & np.isfinite(lon2) & np.isfinite(lat2)
        apart_deg = np.maximum(np.abs(wrap_lon(lon2 - lon)), np.abs(lat2 - lat))
        return bool(both.any() and (apart_deg[both] <= WRAP_TOLERANCE_DEG).all())


def wrap_lon(lon_deg: Any) -> Any:
    """Longitude (degrees, a float or an array) in [-180, 180)."""
    return (lon_deg + 180.0) % 360.0 - 180.0


def earth_problem(info: ImageInfo) -> Problem | None:
    """Why PROJ cannot place the image on the Earth: no transformation between its CRS and WGS 84, either way (a
    local or engineering CRS, another planet's, a projection with no inverse). None when it can."""
    centre = info.transform @ (info.width / 2.0, info.height / 2.0)
    try:
        lon, lat = transform_points(info.crs, LONLAT, [centre[0]], [centre[1]])
        transform_points(LONLAT, info.crs, lon, lat)
    except (CPLE_BaseError, CRSError) as err:
        crs = pyproj.CRS.from_wkt(info.crs.to_wkt())
        wkt = info.crs.to_wkt()
        short = wkt if len(wkt) <= 60 else wkt[:57] + "..."
        reason = str(err).split(": '")[0].split(" from '")[0]
        return ("a CRS that PROJ can relate to the Earth: an EPSG code, or a geographic or projected WKT (if the file "
                "holds an unknown or local one, set its true CRS with gdal_edit.py -a_srs EPSG:NNNN)",
                f"the {crs.type_name} {crs.name!r} ({short}): PROJ finds no transformation between it and WGS 84 "
                f"(EPSG:4326) ({reason})")
    return None


def open_image(path: Path) -> Any:
    """``rasterio.open(path)``; InputFileError naming the file when GDAL cannot open it."""
    try:
        exists, folder = path.is_file(), path.is_dir()
    except (OSError, ValueError):  # a name the OS refuses: too long, a NUL byte
        exists = folder = False
    if not exists and not folder and GDAL_NAME.search(str(path)):
        raise InputFileError(path, VIRTUAL_NAME)
    if not exists:
        raise InputFileError(path, "a folder, not an image file" if folder else "no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # reported as a problem of its own
            return rasterio.open(path)
    except RasterioError as err:
        raise InputFileError(path, f"GDAL cannot open it as an image (GeoTIFF, COG, JPEG 2000, ...): {err}") from None


def describe_bands(ds: Any) -> str:
    """'3 bands: 1 red, 2 green, 3 blue' from the band descriptions or colour interpretations."""
    names = [desc or interp.name for desc, interp in zip(ds.descriptions, ds.colorinterp)]
    return f"{ds.count} bands: " + ", ".join(f"{i} {name}" for i, name in enumerate(names, 1))


def band_metadata(ds: Any, source: BandSource, nodata: float | None, shown: str | None = None
              ) -> tuple[ImageInfo | None, list[Problem]]:
    """The band's :class:`ImageInfo` and every problem its metadata shows (``nodata``: the scenario's override;
    ``shown``: the file's name as the user wrote it)."""
    problems: list[Problem] = []
    band = source.band or 1
    if not ds.count:  # a container: netCDF, HDF
        names = ", ".join(ds.subdatasets[:3]) + (", ..." if len(ds.subdatasets) > 3 else "")
        return None, [("an image with bands", f"no bands: a container of {len(ds.subdatasets)} subdataset(s) "
                       f"({names}); convert one to a file first, e.g. gdal_translate 'NAME' band.tif")]
    if source.band is None and ds.count != 1:
        problems.append((f"a single-band file, or {{file: {shown or source.path}, band: N}} naming one of its bands",
                         describe_bands(ds)))
    elif not 1 <= band <= ds.count:
        problems.append((f"a band from 1 to {ds.count} (1-based, as GDAL counts)",
                         f"band {band}; the file has {describe_bands(ds)}"))
        band = 1
    georeferenced = ds.crs is not None and ds.transform != Affine.identity()
    if not georeferenced and ds.gcps[0]:
        problems.append(("an image on a grid (a CRS and a geotransform)", "ground control points only: warp it "
                         "onto a grid first, e.g. gdalwarp -t_srs EPSG:32631 in.tif out.tif"))
    elif not georeferenced and ds.rpcs:
        problems.append(("an image on a grid (a CRS and a geotransform)", "rational polynomial coefficients "
                         "(RPCs) only: orthorectify it onto a grid first, e.g. gdalwarp -rpc -t_srs EPSG:32631 in.tif "
                         "out.tif"))
    elif not georeferenced:
        problems.append(("a georeferenced image: a CRS and a geotransform (GeoTIFF tags, a GeoJP2 or GMLJP2 box, or a "
                         "world file beside the image with its CRS in a .aux.xml: gdal_edit.py -a_srs EPSG:N FILE "
                         "writes one; GDAL reads no .prj beside a PNG or JPEG)",
                         "no CRS" if ds.crs is None else "no geotransform"))
    dtype = ds.dtypes[band - 1]
    if np.dtype(dtype).kind == "c":
        problems.append(("real-valued samples", f"complex samples ({dtype})"))
    elif nodata is not None and not holds_value(nodata, dtype):
        problems.append((f"a no-data value that {dtype} samples can hold", f"{nodata:g}"))
    if problems and not georeferenced:
        return None, problems
    return ImageInfo(source, band, ds.count, ds.width, ds.height, dtype, ds.crs, ds.transform,
                     ds.nodatavals[band - 1], float(ds.scales[band - 1]), float(ds.offsets[band - 1]),
                     ds.descriptions[band - 1] or "", ds.colorinterp[band - 1] == ColorInterp.alpha), problems


def holds_value(value: float, dtype: str) -> bool:
    """Whether samples of ``dtype`` can hold ``value``: a whole number in range for integers (no sample of a uint16
    band equals 0.5); for floats, NaN, an infinity, or a value that stays finite cast to the type as GDAL stores it
    (-3.4028235e+38, float32's lowest as numpy prints it, rounds to it; 1e40 overflows float32)."""
    kind = np.dtype(dtype).kind
    if kind in "iu":
        limits = np.iinfo(dtype)
        return math.isfinite(value) and float(value).is_integer() and limits.min <= value <= limits.max
    with np.errstate(over="ignore"):
        return not math.isfinite(value) or bool(np.isfinite(np.asarray(value, dtype)))


@dataclass(frozen=True)
class Raster:
    """One band in memory: (H, W) float32 values, NaN where not valid, with its CRS and geotransform."""

    label: str
    values: np.ndarray
    crs: CRS
    transform: Affine
    info: ImageInfo

    def sample(self, footprint: GridFootprint, resampling: Resampling) -> np.ndarray:
        """The band reprojected into ``footprint``: (H, W) float32, NaN where no valid pixel contributes. Each of
        the image's :attr:`ImageInfo.world_offsets_x` copies fills what the ones before left empty: a frame beside the
        antimeridian finds the pixels a file holds past its CRS's world edge (x beyond 180 degrees)."""
        out = np.full((footprint.height_px, footprint.width_px), np.nan, np.float32)
        offsets = self.info.world_offsets_x
        options = self._seam_options(footprint) if len(offsets) > 1 else {}
        if holds_pole(footprint):  # the source window from the frame's edges misses the pole within it
            options["SAMPLE_GRID"] = "YES"
        for offset_x in offsets:
            copy = np.full_like(out, np.nan)
            reproject(self.values, copy, src_transform=Affine.translation(offset_x, 0.0) @ self.transform,
                      src_crs=self.crs, src_nodata=np.nan, dst_transform=footprint_transform(footprint),
                      dst_crs=crs_of(footprint.epsg), dst_nodata=np.nan, resampling=resampling, **options)
            np.copyto(out, copy, where=np.isnan(out))
        return out

    def _seam_options(self, footprint: GridFootprint) -> dict[str, Any]:
        """GDAL warp options (GDALWarpOptions) that find every source pixel of a frame astride the world's edge.

        GDAL's warper takes the source window from points sampled along the frame's edges (21 a side by default).
        Across the edge the points jump by a world width, so the window ends at the last point short of it: with
        every frame pixel sampled (SAMPLE_STEPS=ALL) it falls short by at most one frame pixel, which SOURCE_EXTRA
        adds back in source pixels, plus one for bilinear's neighbour (measured: 30 m and 60 m frames over 10 m
        EPSG:3857 pixels miss 42 and 31 pixels along 180 E with a margin of 1 and 2)."""
        east_m, north_m = footprint.x0_m + footprint.width_px * footprint.gsd_m / 2.0, footprint.y0_m - \
            footprint.height_px * footprint.gsd_m / 2.0
        xs, ys = transform_points(crs_of(footprint.epsg), self.crs, [east_m, east_m + footprint.gsd_m, east_m],
                                  [north_m, north_m, north_m - footprint.gsd_m])
        step = max(math.hypot(xs[i] - xs[0], ys[i] - ys[0]) for i in (1, 2)) / math.hypot(self.transform.a,
                                                                                          self.transform.d)
        whole = max(self.info.width, self.info.height)  # no window needs more
        return {"SAMPLE_STEPS": "ALL", "SOURCE_EXTRA": math.ceil(min(step, whole)) + 1 if math.isfinite(step)
                else whole}


def holds_pole(footprint: GridFootprint) -> bool:
    """Whether a pole lies on ``footprint`` (within a pixel of it). GDAL's warper takes the source window from
    points along the frame's edges; over a pole, the image's highest latitudes and its whole longitude range lie
    inside the frame, and the window from a geographic (EPSG:4326) file held a ring: 4246 of 16384 pixels of a
    frame on the south pole. GDALWarpOptions' SAMPLE_GRID=YES samples the frame's interior too (all 16384)."""
    west, north = footprint.x0_m - footprint.gsd_m, footprint.y0_m + footprint.gsd_m
    east = footprint.x0_m + (footprint.width_px + 1) * footprint.gsd_m
    south = footprint.y0_m - (footprint.height_px + 1) * footprint.gsd_m
    return any(west <= x <= east and south <= y <= north for x, y in _poles_m(footprint.epsg))


@functools.lru_cache(maxsize=64)
def _poles_m(epsg: int) -> tuple[tuple[float, float], ...]:
    """The poles in ``epsg``'s coordinates, those it can place: asked once a CRS, not once a band and frame."""
    xs, ys = transform_points(crs_of(4326), crs_of(epsg), [0.0, 0.0], [90.0, -90.0])
    return tuple((x, y) for x, y in zip(xs, ys) if math.isfinite(x + y))


@functools.lru_cache(maxsize=64)
def crs_of(epsg: int) -> CRS:
    return CRS.from_epsg(epsg)


def footprint_transform(footprint: GridFootprint) -> Affine:
    """The GDAL geotransform of a footprint: pixel (col, row) -> (x, y) metres of its upper-left corner."""
    return Affine(footprint.gsd_m, 0.0, footprint.x0_m, 0.0, -footprint.gsd_m, footprint.y0_m)


def image_info(source: BandSource | str | Path) -> ImageInfo:
    """What the metadata of one band of an image file says (size, data type, CRS, geotransform, no-data), without
    reading its pixels; InputFileError naming the file and every problem (see :func:`check_world`)."""
    source = as_source(source)
    with open_image(source.path) as ds:
        info, problems = band_metadata(ds, source, None)
    if problems:
        raise InputFileError(source.path, "; ".join(f"expected {e}, found {f}" for e, f in problems))
    return info


def load_band(source: BandSource, nodata: float | None, mask_rules: Sequence[MaskBits] | None = None,
          dn_scale: float | None = None, dn_offset: float = 0.0, factor: float = 1.0) -> Raster:
    """Read one band whole: reflectance ``factor * (dn_scale * DN + dn_offset)`` (``dn_scale`` None: the file's
    own scale and offset, see :func:`calibration_problem` and :func:`reflectance_problem`), or, for a mask
    (``mask_rules`` not None), cloud codes. InputFileError naming the file and every problem found."""
    with open_image(source.path) as ds:
        info, problems = band_metadata(ds, source, nodata)
        earth = None if info is None else earth_problem(info)  # before the pixels are read: no use without a place
        problems += [] if earth is None else [earth]
        if problems:
            raise InputFileError(source.path, "; ".join(f"expected {e}, found {f}" for e, f in problems))
        try:
            pixels, valid = read_band(ds, info.band, nodata)
        except RasterioError as err:
            raise InputFileError(source.path, f"GDAL cannot read its pixels (a truncated or damaged file?): "
                                              f"{gdal_cause(err)}") from None
    if mask_rules is None:
        if (problem := alpha_problem(pixels, info)) is not None:
            raise InputFileError(source.path, "expected {}, found {}".format(*problem))
        if dn_scale is None:
            problem = calibration_problem(info) or reflectance_problem(pixels, valid, info)
            if problem is not None:
                raise InputFileError(source.path, "expected {}, found {}".format(*problem))
            dn_scale, dn_offset = info.scale, info.offset
        problem = scaled_problem(pixels, valid, dn_scale, dn_offset, info.dtype)
        if problem is not None:
            raise InputFileError(source.path, "expected {}, found {}".format(*problem))
        values = (pixels.astype(np.float32) * np.float32(dn_scale * factor) + np.float32(dn_offset * factor))
    else:
        problem = mask_problem(pixels, valid, mask_rules)
        if problem is not None:
            raise InputFileError(source.path, "expected {}, found {}".format(*problem))
        values = (cloud_codes(pixels, mask_rules) if mask_rules else pixels).astype(np.float32)
        valid &= values != UNKNOWN
    values[~valid] = np.nan
    return Raster(str(source), values, info.crs, info.transform, info)


def gdal_cause(err: RasterioError) -> str:
    """GDAL's own words behind a rasterio read error ("IReadBlock failed at ...": a truncated file), or the error."""
    return str(err.__cause__.args[-1] if err.__cause__ is not None and err.__cause__.args else err)


def as_source(entry: BandSource | str | Path) -> BandSource:
    return entry if isinstance(entry, BandSource) else BandSource(Path(entry))
