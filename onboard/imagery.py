"""Real imagery through GDAL (rasterio): any raster GDAL reads, in any CRS, resampled into the frame grid.

An :class:`ImageryWorld` renders a :class:`~onboard.world.Scene` from image files: one band per camera band,
each a single-band file or one band of a multi-band file (GeoTIFF, COG, JPEG 2000, PNG with a world file, ...:
whatever GDAL opens), georeferenced in any CRS GDAL knows, north-up or rotated. Each band is reprojected into the
footprint's grid with ``rasterio.warp.reproject`` (GDAL's warper): bilinear for reflectance, nearest for validity
and cloud codes.

No-data is the file's own, per band: its no-data value (``GDAL_NODATA``, ``dataset.nodatavals``), its internal or
alpha mask (``dataset.read_masks``), and non-finite floats; a scenario's ``nodata`` replaces the value (not the
masks). Those pixels are not valid in the scene, so neither truth, scores nor mosaics count them.

A cloud mask holds its samples as stored (a 1-bit TIFF as 0/1, a palette image as its indices): the codes 0 clear,
1 thin, 2 thick, or the file's no-data (cloud unknown). A mask with any other value is refused with the values
found. A bit-field quality band (Landsat QA, ...) is read through :class:`MaskBits` rules instead.

:func:`check_world` is what ``orbitedge validate`` runs: it opens every file cheaply (metadata, and a decimated
read of the mask) and returns every problem, so a scenario is refused before a run ever reads the pixels.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.dtypes import in_dtype_range
from rasterio.enums import MaskFlags, Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.warp import reproject, transform as transform_points, transform_bounds

from rundir.errors import InputFileError

from .projection import GridFootprint
from .world import CLOUD_CLEAR, CLOUD_THICK, CLOUD_THIN, UNKNOWN, Scene, World, _band_indices

MASK_CODES = (CLOUD_CLEAR, CLOUD_THIN, CLOUD_THICK)  # what a cloud-mask file may hold, besides its no-data
CLOUD_CLASSES = {"thin": CLOUD_THIN, "thick": CLOUD_THICK, "unknown": UNKNOWN}  # what a MaskBits rule may set
VALIDATE_READ_PX = 1024  # validation reads a mask decimated to at most this many pixels a side (overviews if any)
LONLAT = CRS.from_epsg(4326)
Problem = tuple[str, str]  # (expected, found)


@dataclass(frozen=True)
class BandSource:
    """One band of an image file: ``band`` is 1-based, as GDAL counts; None: the file must have exactly one."""

    path: Path
    band: int | None = None

    def __str__(self) -> str:
        return str(self.path) if self.band is None else f"{self.path} band {self.band}"


@dataclass(frozen=True)
class MaskBits:
    """A rule for a bit-field quality band: pixels whose bits ``first_bit``..``last_bit`` (0 = least significant),
    read as an unsigned number, equal ``value`` get the cloud ``code`` (CLOUD_THIN, CLOUD_THICK or UNKNOWN).

    A pixel takes the most severe code of the rules it matches (unknown > thick > thin) and is clear when it
    matches none. Example, Landsat 8 Collection 1 Level-1 BQA (USGS, "Landsat 8 Collection 1 Level-1 Quality
    Assessment Band", LSDS-1873): bit 0 designated fill, bits 5-6 cloud confidence and bits 11-12 cirrus confidence
    (0 not determined, 1 low, 2 medium, 3 high): ``MaskBits(0, 0, 1, UNKNOWN)``, ``MaskBits(5, 6, 3, CLOUD_THICK)``,
    ``MaskBits(5, 6, 2, CLOUD_THIN)``, ``MaskBits(11, 12, 3, CLOUD_THIN)``.
    """

    first_bit: int
    last_bit: int
    value: int
    code: int

    def __post_init__(self) -> None:
        if not 0 <= self.first_bit <= self.last_bit <= 63:
            raise ValueError(f"bits {self.first_bit}..{self.last_bit}: expected 0 <= first <= last <= 63")
        if not 0 <= self.value < 2 ** (self.last_bit - self.first_bit + 1):
            raise ValueError(f"value {self.value} does not fit in bits {self.first_bit}..{self.last_bit}")
        if self.code not in CLOUD_CLASSES.values():
            raise ValueError(f"code {self.code}: expected one of {sorted(CLOUD_CLASSES.values())}")

    def matches(self, bits: np.ndarray) -> np.ndarray:
        """Where the rule holds, for ``bits`` (any shape) of an unsigned integer dtype: a bool array."""
        width = self.last_bit - self.first_bit + 1
        field = (bits >> np.uint64(self.first_bit)) & np.uint64((1 << width) - 1)
        return field == np.uint64(self.value)


def cloud_codes(pixels: np.ndarray, rules: Sequence[MaskBits]) -> np.ndarray:
    """Cloud codes (same shape, uint8) of integer quality-band ``pixels`` by ``rules`` (see :class:`MaskBits`).

    Signed samples are read as their two's-complement bit pattern."""
    bits = pixels.view(np.dtype(f"u{pixels.dtype.itemsize}")).astype(np.uint64)
    codes = np.full(pixels.shape, CLOUD_CLEAR, np.uint8)
    for rule in rules:
        codes[rule.matches(bits) & (codes < rule.code)] = rule.code
    return codes


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

    @property
    def calibrated(self) -> bool:
        """Whether the file says how its samples become reflectance: a scale or offset of its own, or floating-point
        samples (reflectance as stored)."""
        return (self.scale, self.offset) != (1.0, 0.0) or np.dtype(self.dtype).kind == "f"

    def contains(self, lat_deg: float, lon_deg: float) -> bool:
        """Whether the point falls on a pixel of the image."""
        xs, ys = transform_points(LONLAT, self.crs, [lon_deg], [lat_deg])
        if not (math.isfinite(xs[0]) and math.isfinite(ys[0])):
            return False
        col, row = ~self.transform @ (xs[0], ys[0])
        return 0.0 <= col <= self.width and 0.0 <= row <= self.height

    def bounds_lonlat(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) degrees of the image's outer edge (its corners and edges densified)."""
        cols = np.array([0, self.width, self.width, 0], dtype=np.float64)
        rows = np.array([0, 0, self.height, self.height], dtype=np.float64)
        xs, ys = self.transform @ (cols, rows)
        box = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        return tuple(transform_bounds(self.crs, LONLAT, *box, densify_pts=21))


@dataclass(frozen=True)
class Coverage:
    """Where every band of a world has pixels: the intersection of their outer bounds, degrees, and its centre.

    As a GeoJSON bbox (RFC 7946, section 5.2): ``west_deg > east_deg`` when it crosses the antimeridian, and
    west -180, east 180 when it spans every longitude (a pole's cap)."""

    west_deg: float
    south_deg: float
    east_deg: float
    north_deg: float

    @property
    def centre_lat_deg(self) -> float:
        return (self.south_deg + self.north_deg) / 2.0

    @property
    def centre_lon_deg(self) -> float:
        return _wrap_lon(self.west_deg + _span_deg(self.west_deg, self.east_deg) / 2.0)


def _wrap_lon(lon_deg: float) -> float:
    """Longitude in [-180, 180)."""
    return (lon_deg + 180.0) % 360.0 - 180.0


def _span_deg(west_deg: float, east_deg: float) -> float:
    """Degrees of longitude eastwards from ``west_deg`` to ``east_deg`` (RFC 7946 bbox: 360 for -180..180)."""
    return east_deg - west_deg if east_deg >= west_deg else east_deg - west_deg + 360.0


def _overlap_lon(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float] | None:
    """The longitudes (west, east) that two RFC 7946 ranges share, on the circle; None when none. Two ranges that
    meet on both sides of the globe share two arcs: the one that starts at ``b``'s west edge is kept."""
    if _span_deg(*a) >= 360.0 or _span_deg(*b) >= 360.0:
        return b if _span_deg(*a) >= 360.0 else a
    for first, second in ((a, b), (b, a)):
        into = (second[0] - first[0]) % 360.0  # how far east of the first range's west edge the second one starts
        if into <= _span_deg(*first):
            length = min(_span_deg(*first) - into, _span_deg(*second))
            if length > 0:
                west = _wrap_lon(second[0])
                return west, west + length - (360.0 if west + length > 180.0 else 0.0)
    return None


def _open(path: Path) -> Any:
    """``rasterio.open(path)``; InputFileError naming the file when GDAL cannot open it."""
    try:
        exists = path.is_file()
    except (OSError, ValueError):  # a name the OS refuses: too long, a NUL byte
        exists = False
    if not exists:
        raise InputFileError(path, "no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # reported as a problem of its own
            return rasterio.open(path)
    except RasterioError as err:
        raise InputFileError(path, f"GDAL cannot open it as an image (GeoTIFF, COG, JPEG 2000, ...): {err}") from None


def _describe_bands(ds: Any) -> str:
    """'3 bands: 1 red, 2 green, 3 blue' from the band descriptions or colour interpretations."""
    names = [desc or interp.name for desc, interp in zip(ds.descriptions, ds.colorinterp)]
    return f"{ds.count} bands: " + ", ".join(f"{i} {name}" for i, name in enumerate(names, 1))


def _metadata(ds: Any, source: BandSource, nodata: float | None, shown: str | None = None
              ) -> tuple[ImageInfo | None, list[Problem]]:
    """The band's :class:`ImageInfo` and every problem its metadata shows (``nodata``: the scenario's override;
    ``shown``: the file's name as the user wrote it)."""
    problems: list[Problem] = []
    band = source.band or 1
    if source.band is None and ds.count != 1:
        problems.append((f"a single-band file, or {{file: {shown or source.path}, band: N}} naming one of its bands",
                         _describe_bands(ds)))
    elif not 1 <= band <= ds.count:
        problems.append((f"a band from 1 to {ds.count} (1-based, as GDAL counts)",
                         f"band {band}; the file has {_describe_bands(ds)}"))
        band = 1
    georeferenced = ds.crs is not None and ds.transform != Affine.identity()
    if not georeferenced and ds.gcps[0]:
        problems.append(("an image on a grid (a CRS and a geotransform)", "ground control points only: warp it "
                         "onto a grid first, e.g. gdalwarp -t_srs EPSG:32631 in.tif out.tif"))
    elif not georeferenced:
        problems.append(("a georeferenced image: a CRS and a geotransform (GeoTIFF tags, a GeoJP2 or GMLJP2 box, or a "
                         "world file and a .prj or .aux.xml beside the image)",
                         "no CRS" if ds.crs is None else "no geotransform"))
    dtype = ds.dtypes[band - 1]
    if np.dtype(dtype).kind == "c":
        problems.append(("real-valued samples", f"complex samples ({dtype})"))
    elif nodata is not None and not in_dtype_range(nodata, dtype):
        problems.append((f"a no-data value that {dtype} samples can hold", f"{nodata:g}"))
    if problems and not georeferenced:
        return None, problems
    return ImageInfo(source, band, ds.count, ds.width, ds.height, dtype, ds.crs, ds.transform,
                     ds.nodatavals[band - 1], float(ds.scales[band - 1]), float(ds.offsets[band - 1])), problems


def _read(ds: Any, band: int, nodata: float | None, max_px: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The band's stored samples and where they are valid, both (H, W); decimated (nearest, or from overviews) to
    at most ``max_px`` a side when given. ``nodata`` replaces the file's no-data value; internal and alpha masks
    apply either way, and non-finite floats are never valid."""
    shape = (ds.height, ds.width)
    if max_px is not None and max(shape) > max_px:
        step = math.ceil(max(shape) / max_px)
        shape = (math.ceil(ds.height / step), math.ceil(ds.width / step))
    pixels = ds.read(band, out_shape=shape, resampling=Resampling.nearest)
    valid = np.ones(shape, bool)
    flags = ds.mask_flag_enums[band - 1]
    if MaskFlags.per_dataset in flags or MaskFlags.alpha in flags:
        valid &= ds.read_masks(band, out_shape=shape, resampling=Resampling.nearest) > 0
    value = nodata if nodata is not None else ds.nodatavals[band - 1]
    if value is not None:
        valid &= ~np.isnan(pixels) if math.isnan(value) else pixels != value
    if pixels.dtype.kind == "f":
        valid &= np.isfinite(pixels)
    return pixels, valid


def _mask_problem(pixels: np.ndarray, valid: np.ndarray, rules: Sequence[MaskBits]) -> Problem | None:
    """Why the mask's samples cannot be read as cloud codes (with ``rules``, as a quality band), or None."""
    if rules:
        if pixels.dtype.kind not in "iu":
            return "an integer quality band for world.mask_bits", f"{pixels.dtype} samples"
        width = 8 * pixels.dtype.itemsize
        beyond = [r for r in rules if r.last_bit >= width]
        if beyond:
            return f"bits 0 to {width - 1} of the {pixels.dtype} samples", f"a rule on bits {beyond[0].first_bit}-" \
                f"{beyond[0].last_bit}"
        return None
    found = np.unique(pixels[valid])
    bad = found[~np.isin(found, MASK_CODES)]
    if bad.size == 0:
        return None
    shown = ", ".join(f"{v:g}" for v in bad[:12].tolist()) + (f", ... ({bad.size} in all)" if bad.size > 12 else "")
    hint = ("a bit-field quality band needs world.mask_bits to map its bits onto the codes"
            if pixels.dtype.itemsize > 1 or pixels.dtype.kind != "u" else
            "map them with world.mask_bits, or declare the no-data value in the file (gdal_edit.py -a_nodata)")
    return "cloud codes 0 clear, 1 thin, 2 thick, or the file's no-data", f"{pixels.dtype} values {shown}: {hint}"


@dataclass(frozen=True)
class _Raster:
    """One band in memory: (H, W) float32 values, NaN where not valid, with its CRS and geotransform."""

    label: str
    values: np.ndarray
    crs: CRS
    transform: Affine
    info: ImageInfo

    def sample(self, footprint: GridFootprint, resampling: Resampling) -> np.ndarray:
        """The band reprojected into ``footprint``: (H, W) float32, NaN where no valid pixel contributes."""
        out = np.full((footprint.height_px, footprint.width_px), np.nan, np.float32)
        reproject(self.values, out, src_transform=self.transform, src_crs=self.crs, src_nodata=np.nan,
                  dst_transform=footprint_transform(footprint), dst_crs=_crs(footprint.epsg), dst_nodata=np.nan,
                  resampling=resampling)
        return out


@functools.lru_cache(maxsize=64)
def _crs(epsg: int) -> CRS:
    return CRS.from_epsg(epsg)


def footprint_transform(footprint: GridFootprint) -> Affine:
    """The GDAL geotransform of a footprint: pixel (col, row) -> (x, y) metres of its upper-left corner."""
    return Affine(footprint.gsd_m, 0.0, footprint.x0_m, 0.0, -footprint.gsd_m, footprint.y0_m)


def image_info(source: BandSource | str | Path) -> ImageInfo:
    """What the metadata of one band of an image file says (size, data type, CRS, geotransform, no-data), without
    reading its pixels; InputFileError naming the file and every problem (see :func:`check_world`)."""
    source = _as_source(source)
    with _open(source.path) as ds:
        info, problems = _metadata(ds, source, None)
    if problems:
        raise InputFileError(source.path, "; ".join(f"expected {e}, found {f}" for e, f in problems))
    return info


def _load(source: BandSource, nodata: float | None, mask_rules: Sequence[MaskBits] | None = None,
          dn_scale: float | None = None, dn_offset: float = 0.0, factor: float = 1.0) -> _Raster:
    """Read one band whole: reflectance ``factor * (dn_scale * DN + dn_offset)`` (``dn_scale`` None: the file's
    own scale and offset, see :func:`calibration_problem`), or, for a mask (``mask_rules`` not None), cloud codes.
    InputFileError naming the file and every problem found."""
    with _open(source.path) as ds:
        info, problems = _metadata(ds, source, nodata)
        if problems:
            raise InputFileError(source.path, "; ".join(f"expected {e}, found {f}" for e, f in problems))
        try:
            pixels, valid = _read(ds, info.band, nodata)
        except RasterioError as err:
            raise InputFileError(source.path, f"GDAL cannot read its pixels: {err}") from None
    if mask_rules is None:
        if dn_scale is None:
            problem = calibration_problem(info)
            if problem is not None:
                raise InputFileError(source.path, "expected {}, found {}".format(*problem))
            dn_scale, dn_offset = info.scale, info.offset
        values = (pixels.astype(np.float32) * np.float32(dn_scale * factor) + np.float32(dn_offset * factor))
    else:
        problem = _mask_problem(pixels, valid, mask_rules)
        if problem is not None:
            raise InputFileError(source.path, "expected {}, found {}".format(*problem))
        values = (cloud_codes(pixels, mask_rules) if mask_rules else pixels).astype(np.float32)
        valid &= values != UNKNOWN
    values[~valid] = np.nan
    return _Raster(str(source), values, info.crs, info.transform, info)


def calibration_problem(info: ImageInfo) -> Problem | None:
    """Why the samples of a band cannot be turned into reflectance without ``world.dn_scale``: integer DN whose
    file declares no scale or offset (GDAL's scale/offset metadata, e.g. ``gdal_edit.py -scale``). None when the
    file declares them or holds floating-point reflectance."""
    if info.calibrated:
        return None
    return ("world.dn_scale and world.dn_offset (reflectance = dn_scale * DN + dn_offset), or a file that declares "
            "its scale and offset", f"{info.dtype} DN and no scale or offset in the file: for example Landsat 8 "
            "Collection 1 2.0e-5 and -0.1 (USGS LSDS-1574), Sentinel-2 L1C 1.0e-4 and 0 (ESA S2 PDGS, before "
            "baseline 04.00), Landsat Collection 2 L2 2.75e-5 and -0.2")


def _as_source(entry: BandSource | str | Path) -> BandSource:
    return entry if isinstance(entry, BandSource) else BandSource(Path(entry))


class ImageryWorld(World):
    """Real imagery: one band of one image file per band name, and optionally a cloud mask, reprojected into any
    requested footprint.

    Reflectance = ``factor * (dn_scale * DN + dn_offset)`` (Landsat 8 Collection 1: 2e-5, -0.1, TOA reflectance
    before the sun-elevation correction, which ``factor`` can apply); ``dn_scale`` None takes each file's own scale
    and offset, or its floating-point samples as reflectance, and refuses integer DN without them. A frame pixel is valid where the image pixel under its centre is valid in every band
    (nearest); its reflectance is GDAL's bilinear over the valid neighbours, 0 where not valid. ``nodata`` replaces
    each band file's own no-data value. Cloud comes from the mask's codes (``mask_rules``: from its bits, see
    :class:`MaskBits`), 255 (unknown) where the mask has no data or there is no mask. Land cover is 255 and shadow
    False: real imagery carries no truth for them. Raises InputFileError naming the file and the problem.
    """

    def __init__(self, bands: Mapping[str, BandSource | str | Path], mask: BandSource | str | Path | None = None,
                 dn_scale: float | None = None, dn_offset: float = 0.0, nodata: float | None = None,
                 mask_rules: Sequence[MaskBits] = (), factor: float = 1.0):
        if not bands:
            raise ValueError("an ImageryWorld needs at least one band file")
        self._bands = {name: _load(_as_source(entry), nodata, None, dn_scale, dn_offset, factor)
                       for name, entry in bands.items()}
        self._mask = None if mask is None else _load(_as_source(mask), None, tuple(mask_rules))
        self.bands_available = tuple(self._bands)
        self.coverage = self._coverage()

    def _coverage(self) -> Coverage:
        """The intersection of the bands' outer bounds, across the antimeridian too; InputFileError when they do
        not overlap."""
        boxes = [raster.info.bounds_lonlat() for raster in self._bands.values()]
        west, south, east, north = boxes[0]
        lon: tuple[float, float] | None = (west, east)
        for w, s, e, n in boxes[1:]:
            lon = None if lon is None else _overlap_lon(lon, (w, e))
            south, north = max(south, s), min(north, n)
        if lon is None or south >= north:
            raise InputFileError(next(iter(self._bands.values())).label, "the band files do not overlap")
        return Coverage(float(lon[0]), float(south), float(lon[1]), float(north))

    def render(self, footprint: GridFootprint, time_utc: Any, sun_elevation_deg: float,
               sun_azimuth_deg: float, bands: Sequence[str]) -> Scene:
        """Reproject ``bands`` into ``footprint``; the imagery is what it is, whatever the time and sun."""
        _band_indices(bands, self.bands_available, f"imagery {[r.label for r in self._bands.values()]}")
        shape = (footprint.height_px, footprint.width_px)
        valid = np.ones(shape, bool)
        planes = []
        for band in bands:
            raster = self._bands[band]
            plane = raster.sample(footprint, Resampling.bilinear)
            valid &= np.isfinite(raster.sample(footprint, Resampling.nearest)) & np.isfinite(plane)
            planes.append(plane)
        reflectance = np.stack(planes, axis=-1)
        reflectance[~valid] = 0.0
        cloud = np.full(shape, UNKNOWN, dtype=np.uint8)
        if self._mask is not None:
            codes = self._mask.sample(footprint, Resampling.nearest)
            known = np.isfinite(codes)
            cloud[known] = codes[known].astype(np.uint8)
        return Scene(reflectance, cloud, np.zeros(shape, bool), np.full(shape, UNKNOWN, np.uint8), valid)


# --- the scenario's world block -----------------------------------------------------------------------------------

def band_source(entry: Any, base_dir: Path) -> BandSource:
    """The :class:`BandSource` of a ``world.bands`` value or ``world.mask``: a path, or an object with ``file``
    and ``band``, relative to ``base_dir``."""
    if isinstance(entry, (str, Path)):
        return BandSource(base_dir / entry)
    return BandSource(base_dir / entry.file, entry.band)


def mask_rules(rules: Iterable[Any]) -> tuple[MaskBits, ...]:
    """:class:`MaskBits` of ``world.mask_bits`` entries (``bits``: one bit or [first, last]; ``equals``; ``cloud``:
    thin, thick or unknown)."""
    out = []
    for rule in rules:
        bits = [rule.bits] if isinstance(rule.bits, int) else list(rule.bits)
        out.append(MaskBits(bits[0], bits[-1], rule.equals, CLOUD_CLASSES[rule.cloud]))
    return tuple(out)


def world_from_config(cfg: Any, base_dir: Path) -> ImageryWorld:
    """The world of a ``source: geotiff`` WorldConfig, file paths relative to ``base_dir``; reflectance is divided
    by the sine of ``scene_sun_elevation_deg`` when given (Landsat's rescaling omits it: USGS Landsat 8 Data Users
    Handbook, section 5.1)."""
    sun = 1.0 if cfg.scene_sun_elevation_deg is None else math.sin(math.radians(cfg.scene_sun_elevation_deg))
    return ImageryWorld({name: band_source(entry, base_dir) for name, entry in cfg.bands.items()},
                        mask=None if cfg.mask is None else band_source(cfg.mask, base_dir),
                        dn_scale=cfg.dn_scale, dn_offset=cfg.dn_offset, nodata=cfg.nodata,
                        mask_rules=mask_rules(cfg.mask_bits), factor=1.0 / sun)


def check_world(cfg: Any, base_dir: Path, targets: Iterable[tuple[str, str, float, float]]
                ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """``(problems, warnings)`` about the image files of a ``source: geotiff`` WorldConfig, each ``(yaml_path,
    expected, found)``. Problems: files GDAL cannot open, a band that is not there or not named in a multi-band
    file, no georeferencing, a no-data value the samples cannot hold, mask values that are not cloud codes (read
    decimated to VALIDATE_READ_PX). Warnings: ``targets`` (``(yaml_path, name, lat_deg, lon_deg)``) whose centre is
    outside a band's image: the run goes on, and their frames hold no valid pixels there.

    Cheap: metadata only, plus the decimated mask; a run still reads every pixel, and refuses what slipped through.
    """
    entries = {f"world.bands.{name}": (entry, False) for name, entry in (cfg.bands or {}).items()}
    if cfg.mask is not None:
        entries["world.mask"] = (cfg.mask, True)
    rules = mask_rules(cfg.mask_bits)
    out: list[tuple[str, str, str]] = []
    infos: dict[str, ImageInfo] = {}
    for key, (entry, is_mask) in entries.items():
        source = band_source(entry, base_dir)
        shown = entry if isinstance(entry, str) else entry.file
        try:
            ds = _open(source.path)
        except InputFileError as err:
            expected = "an existing image file (relative to the scenario)" if err.problem == "no such file" else \
                "an image file GDAL reads (GeoTIFF, COG, JPEG 2000, ...)"
            out.append((key, expected, f"{shown!r}: {err.problem}"))
            continue
        with ds:
            info, problems = _metadata(ds, source, None if is_mask else cfg.nodata, shown)
            if is_mask and info is not None and not problems:
                try:
                    problem = _mask_problem(*_read(ds, info.band, None, VALIDATE_READ_PX), rules)
                except RasterioError as err:
                    problem = ("a mask GDAL can decode", str(err))
                if problem is not None:
                    problems.append(problem)
            elif not is_mask and info is not None and cfg.dn_scale is None:
                problem = calibration_problem(info)
                if problem is not None:
                    problems.append(problem)
        for expected, found in problems:
            where = "world.nodata" if expected.startswith("a no-data value") else \
                "world.dn_scale" if expected.startswith("world.dn_scale") else \
                "world.mask_bits" if "mask_bits" in expected or expected.startswith("bits ") else key
            out.append((where, expected, f"{shown!r}: {found}"))
        if info is not None and not is_mask:
            infos[key] = info
    warnings: list[tuple[str, str, str]] = []
    for path, name, lat_deg, lon_deg in targets:
        for key, info in infos.items():
            if not info.contains(lat_deg, lon_deg):
                west, south, east, north = info.bounds_lonlat()
                warnings.append((path, f"a target on the imagery ({key}: lat {south:.3f} to {north:.3f}, lon "
                                 f"{west:.3f} to {east:.3f})", f"{name!r} at lat {lat_deg:g}, lon {lon_deg:g}, "
                                 "outside it: its frames will hold no valid pixels there"))
                break
    return out, warnings
