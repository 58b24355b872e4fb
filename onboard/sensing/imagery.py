"""Real imagery as a world: any raster GDAL reads, in any CRS, resampled into the frame grid.

An :class:`ImageryWorld` renders a :class:`~onboard.sensing.world.Scene` from image files: one band per camera band,
each a single-band file or one band of a multi-band file (GeoTIFF, COG, JPEG 2000, PNG with a world file, ...:
whatever GDAL opens), georeferenced in any CRS GDAL knows, north-up or rotated. Each band is read and reprojected
by :mod:`onboard.sensing.raster`: bilinear for reflectance, nearest for validity and cloud codes. A cloud mask holds cloud
codes, or a quality band's bits mapped by :mod:`onboard.sensing.mask_bits` rules.

:func:`check_world` is what ``orbitedge validate`` runs: it opens every file cheaply (metadata, and a decimated
read of the mask and of every band) and returns every problem, so a scenario is refused before a run
ever reads the pixels.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import psutil
from rasterio.enums import Resampling
from rasterio.errors import RasterioError

from rundir.codec import COMMON_NAMES
from rundir.errors import ConfigIssue, InputFileError
from rundir.truth import CLOUD_CLASSES, CLOUD_CLEAR, UNKNOWN

from .band_samples import alpha_problem, read_band
from .coverage import OVERLAP, Coverage, bounds_text, common_coverage
from .mask_bits import MASK_CODES, MaskBits, Problem, mask_problem, mask_rules, rule_beyond
from .projection import GridFootprint
from .raster import (VIRTUAL_NAME, BandSource, ImageInfo, as_source, band_metadata, earth_problem, gdal_cause,
                     load_band, open_image)
from .toa_reflectance import DN_CALIBRATION, calibration_problem, reflectance_problem, scaled_problem
from ..scenario.config_files import scenario_path
from ..scenario.schema import issue_at
from .world import Scene, World, band_indices

CGROUP_MEMORY_MAX = Path("/sys/fs/cgroup/memory.max")  # cgroup v2: this container's memory limit ...
CGROUP_MEMORY_CURRENT = Path("/sys/fs/cgroup/memory.current")  # ... and what it uses now

# validation reads a mask, or a band read as reflectance, decimated to at most this many pixels a side (overviews
# if any)
VALIDATE_READ_PX = 1024
# a target is on a file's no-data when no sample of those read is valid within this many of it, each way
TARGET_NODATA_REACH_SAMPLES = 3
# What files call the scenario's bands in their band descriptions (as rio edit-info and gdal_edit.py write them),
# lower case: the band's own name, its STAC eo common name, and NIR's other spellings
BAND_LABELS = {band: {band.lower(), common} | ({"near-infrared", "near infrared", "nir08"} if band == "NIR" else set())
               for band, common in COMMON_NAMES.items()}


class ImageryWorld(World):
    """Real imagery: one band of one image file per band name, and optionally a cloud mask, reprojected into any
    requested footprint.

    Reflectance = ``factor * (dn_scale * DN + dn_offset)`` (Landsat 8 Collection 1: 2e-5, -0.1, TOA reflectance
    before the sun-elevation correction, which ``factor`` can apply); ``dn_scale`` None takes each file's own scale
    and offset, or its floating-point samples as reflectance, and refuses integer DN without them and samples that
    are not reflectance (:func:`~onboard.sensing.toa_reflectance.reflectance_problem`); either way, fill no no-data
    value declares and a scene darker than the sky (:func:`~onboard.sensing.toa_reflectance.scaled_problem`). A
    frame pixel is valid where the image pixel under its centre is valid in every band (nearest); its reflectance is
    GDAL's bilinear over the valid neighbours, 0 where not valid. ``nodata`` replaces each band file's own no-data
    value. Cloud comes from the mask's codes (``mask_rules``: from its bits, see :class:`MaskBits`), 255 (unknown)
    where the mask has no data or there is no mask. Land cover is 255 and shadow False: real imagery carries no truth
    for them. Raises InputFileError naming the file and the problem.
    """

    def __init__(self, bands: Mapping[str, BandSource | str | Path], mask: BandSource | str | Path | None = None,
                 dn_scale: float | None = None, dn_offset: float = 0.0, nodata: float | None = None,
                 mask_rules: Sequence[MaskBits] = (), factor: float = 1.0):
        if not bands:
            raise ValueError("an ImageryWorld needs at least one band file")
        self._bands = {name: load_band(as_source(entry), nodata, None, dn_scale, dn_offset, factor)
                       for name, entry in bands.items()}
        self._mask = None if mask is None else load_band(as_source(mask), None, tuple(mask_rules))
        self.bands_available = tuple(self._bands)
        self.coverage = self._coverage()

    def _coverage(self) -> Coverage:
        """The intersection of the bands' outer bounds, across the antimeridian too; InputFileError (on the first
        band's file, listing every band's bounds) when they do not overlap."""
        boxes = {name: raster.info.bounds_lonlat() for name, raster in self._bands.items()}
        coverage = common_coverage(boxes)
        if coverage is None:
            raise InputFileError(next(iter(self._bands.values())).label, f"expected {OVERLAP}, found "
                                 f"{bounds_text(boxes)}")
        return coverage

    def render(self, footprint: GridFootprint, time_utc: Any, sun_elevation_deg: float,
               sun_azimuth_deg: float, bands: Sequence[str]) -> Scene:
        """Reproject ``bands`` into ``footprint``; the imagery is what it is, whatever the time and sun."""
        band_indices(bands, self.bands_available, f"imagery {[r.label for r in self._bands.values()]}")
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
        return BandSource(scenario_path(entry, base_dir))
    return BandSource(scenario_path(entry.file, base_dir), entry.band)


def world_from_config(cfg: Any, base_dir: Path) -> ImageryWorld:
    """The world of a ``source: geotiff`` WorldConfig, file paths relative to ``base_dir``; reflectance is divided
    by the sine of ``scene_sun_elevation_deg`` when given (Landsat's rescaling omits it: USGS Landsat 8 Data Users
    Handbook, section 5.1). InputFileError naming the file and the world key that names it when one cannot be
    read."""
    sun = 1.0 if cfg.scene_sun_elevation_deg is None else math.sin(math.radians(cfg.scene_sun_elevation_deg))
    bands = {name: band_source(entry, base_dir) for name, entry in cfg.bands.items()}
    mask = None if cfg.mask is None else band_source(cfg.mask, base_dir)
    try:
        return ImageryWorld(bands, mask=mask, dn_scale=cfg.dn_scale, dn_offset=cfg.dn_offset, nodata=cfg.nodata,
                            mask_rules=mask_rules(cfg.mask_bits), factor=1.0 / sun)
    except InputFileError as err:  # e.g. a truncated file, which validate opens but does not read whole
        keys = [key for key, source in (*((f"world.bands.{n}", s) for n, s in bands.items()), ("world.mask", mask))
                if source is not None and str(source.path) == err.path]
        raise InputFileError(err.path, f"{', '.join(keys) or 'world'}: {err.problem}") from None


def check_world(cfg: Any, base_dir: Path, targets: Iterable[tuple[str, str, float, float]]
                ) -> tuple[list[ConfigIssue], list[ConfigIssue]]:
    """``(problems, warnings)`` about the image files of a ``source: geotiff`` WorldConfig, each at its YAML path
    (:func:`onboard.scenario.schema.issue_at`). Problems: files GDAL cannot open, a band that is not there or not
    named in a multi-band file, no georeferencing or a CRS PROJ cannot place on the Earth
    (:func:`~onboard.sensing.raster.earth_problem`), a no-data value the samples cannot hold, and, without
    ``world.dn_scale``, integer DN that declare no scale and samples that are not reflectance
    (:func:`~onboard.sensing.toa_reflectance.reflectance_problem`), with or without it, fill that no no-data value
    declares and samples darker than the sky (:func:`~onboard.sensing.toa_reflectance.scaled_problem`), mask
    values that are not cloud codes, and band files that do not overlap or that a run cannot read whole into the
    memory this machine has free (:func:`memory_problem`; both at ``world.bands``).
    Warnings: bands none of whose samples read is valid, a mask of cloud codes whose no-data value is one,
    ``targets`` (``(yaml_path, name, lat_deg, lon_deg)``) whose centre is outside a band's image or on its no-data
    (the run goes on, and their frames hold no valid pixels there), or outside the mask or on its no-data (no cloud
    truth there), and bands their file's description calls another of the scenario's bands
    (:func:`_band_label_warnings`).

    Cheap: metadata, plus the mask and every band read decimated to VALIDATE_READ_PX; a run still reads every
    pixel, and refuses what slipped through.
    """
    entries = {f"world.bands.{name}": (entry, False) for name, entry in (cfg.bands or {}).items()}
    if cfg.mask is not None:
        entries["world.mask"] = (cfg.mask, True)
    rules = mask_rules(cfg.mask_bits)
    out: list[ConfigIssue] = []
    infos: dict[str, ImageInfo] = {}
    empty: list[ConfigIssue] = []  # bands none of whose samples read is valid
    mask_info: ImageInfo | None = None
    valid_of: dict[str, np.ndarray] = {}  # each file's valid samples as validate read them, decimated
    for key, (entry, is_mask) in entries.items():
        source = band_source(entry, base_dir)
        shown = entry if isinstance(entry, str) else entry.file
        try:
            ds = open_image(source.path)
        except InputFileError as err:
            out.append(_unopened(key, shown, source.path, err.problem))
            continue
        with ds:
            info, problems = band_metadata(ds, source, None if is_mask else cfg.nodata, shown)
            earth = None if info is None else earth_problem(info)  # contains() below needs PROJ to place it
            if info is not None:
                problems += [] if earth is None else [earth]
                found, valid = _sample_problems(ds, info, None if is_mask else cfg, rules, read=not problems)
                problems += found
                if valid is not None:
                    valid_of[key] = valid
                if valid is not None and not is_mask and not valid.any():
                    empty.append(issue_at(key, "a band with valid samples", f"{shown!r}: none of the samples read "
                                          f"(decimated to {VALIDATE_READ_PX} px a side) is valid: each is no-data, "
                                          "NaN or infinite, so every frame on it would be dropped as no_data"))
        out += [_issue_of(problem, key, shown, rules, info) for problem in problems]
        if info is not None and earth is None and not is_mask:
            infos[key] = info
        if info is not None and is_mask:
            mask_info = info
            if not rules and info.nodata in MASK_CODES:
                empty.append(_code_nodata_warning(info.nodata, shown))
    out += _files_together_problems(infos, mask_info)
    placed = mask_info if mask_info is not None and earth_problem(mask_info) is None else None  # PROJ places it
    return out, empty + _band_label_warnings(infos) + _off_imagery_warnings(targets, infos, placed, valid_of)


def _unopened(key: str, shown: str, path: Path, problem: str) -> ConfigIssue:
    """The issue at ``key`` of a file GDAL did not open (``shown`` as the scenario names it, at ``path``)."""
    expected = "an existing image file (relative to the scenario)" if problem == "no such file" else \
        "an image file on disk" if problem == VIRTUAL_NAME else \
        "an image file GDAL reads (GeoTIFF, COG, JPEG 2000, ...)"
    tried = f" ({path})" if problem == "no such file" else ""
    return issue_at(key, expected, f"{shown!r}{tried}: {problem}")


def _files_together_problems(infos: Mapping[str, ImageInfo], mask_info: ImageInfo | None) -> list[ConfigIssue]:
    """What is wrong with the bands (``world.bands.X`` -> its info) and the mask taken together, at ``world.bands``:
    files that share no ground, and more than a run can read whole (:func:`memory_problem`)."""
    out = []
    boxes = {key.removeprefix("world.bands."): info.bounds_lonlat() for key, info in infos.items()}
    if len(boxes) > 1 and common_coverage(boxes) is None:
        out.append(issue_at("world.bands", OVERLAP, bounds_text(boxes)))
    if infos and (problem := memory_problem([*infos.values(), *([mask_info] if mask_info else [])])):
        out.append(issue_at("world.bands", *problem))
    return out


def read_bytes(infos: Sequence[ImageInfo]) -> int:
    """Bytes a run's :class:`ImageryWorld` holds while it reads ``infos`` (its bands and mask) whole, one at a time
    (:func:`~onboard.sensing.raster.load_band`): the float32 values it keeps of each, and, at the largest, that one's
    samples as stored, their validity and a float32 temporary. A lower bound on the run: each frame-pool worker
    (``--workers``) holds a copy of the kept values too."""
    pixels = [info.width * info.height for info in infos]
    return 4 * sum(pixels) + max(n * (np.dtype(info.dtype).itemsize + 1 + 4) for n, info in zip(pixels, infos))


def free_memory_bytes() -> int:
    """The memory this process may still take: psutil's ``available``, or less under a cgroup v2 limit (a container:
    ``memory.max`` less ``memory.current``, which psutil does not see)."""
    free = psutil.virtual_memory().available
    try:
        limit = CGROUP_MEMORY_MAX.read_text().strip()
        if limit != "max":
            free = min(free, int(limit) - int(CGROUP_MEMORY_CURRENT.read_text()))
    except (OSError, ValueError):
        pass  # no cgroup v2 memory controller here
    return free


def memory_problem(infos: Sequence[ImageInfo]) -> Problem | None:
    """Why a run cannot read ``infos``' bands and mask whole: their :func:`read_bytes` above
    :func:`free_memory_bytes`, where reading them would end in a MemoryError or the kernel's OOM killer. None when
    they fit."""
    need, free = read_bytes(infos), free_memory_bytes()
    if need <= free:
        return None
    largest = max(infos, key=lambda info: info.width * info.height)
    return (f"image files a run can read whole in the memory this machine has free ({free / 1e9:.1f} GB)",
            f"{largest.source.path.name}: {largest.width} x {largest.height} px of {largest.dtype}, at least "
            f"{need / 1e9:.1f} GB for the {len(infos)} file band(s) in all: crop them to the targets first "
            "(gdal_translate -projwin ULX ULY LRX LRY IN OUT, or a VRT with gdalbuildvrt -te)")


def _code_nodata_warning(nodata: float, shown: str) -> ConfigIssue:
    """A warning at ``world.mask``: its file declares a cloud code as its no-data value (``gdal_translate -a_nodata
    0``, or a profile copied from a band whose no-data is 0), so every pixel of that class reads as unknown."""
    name = CLOUD_CLASSES[int(nodata)] + ("" if nodata == CLOUD_CLEAR else " cloud")
    codes = ", ".join(f"{code} {name}" for code, name in enumerate(CLOUD_CLASSES))
    return issue_at("world.mask", f"a no-data value that is not a cloud code ({codes})",
                    f"{shown!r} declares no-data {nodata:g}, the {name} code: every {name} pixel reads as unknown, "
                    "with no truth to score it (gdal_edit.py -unsetnodata FILE, or -a_nodata 255)")


def _issue_of(problem: Problem, key: str, shown: str, rules: Sequence[MaskBits], info: ImageInfo | None
              ) -> ConfigIssue:
    """A file's ``problem`` at the YAML path that fixes it: ``world.nodata``, ``world.dn_scale``, the
    ``world.mask_bits`` rule past the samples' width, or the file's own ``key`` (``shown`` as the scenario wrote it)."""
    expected, found = problem
    beyond = rule_beyond(rules, info.dtype) if expected.startswith("bits ") and info is not None else None
    where = "world.nodata" if expected.startswith("a no-data value") else \
        "world.dn_scale" if expected.startswith(DN_CALIBRATION) else \
        f"world.mask_bits[{beyond}].bits" if beyond is not None else \
        "world.mask_bits" if "mask_bits" in expected else key
    named = repr(shown) if where == key else f"{shown!r} ({key})"  # which band, when reported elsewhere
    return issue_at(where, expected, f"{named}: {found}")


def _off_imagery_warnings(targets: Iterable[tuple[str, str, float, float]], infos: Mapping[str, ImageInfo],
                          mask_info: ImageInfo | None, valid_of: Mapping[str, np.ndarray]) -> list[ConfigIssue]:
    """A warning at each of ``targets`` (``(yaml_path, name, lat_deg, lon_deg)``) whose centre is outside a band's
    image or on its no-data (the sample under it in ``valid_of``, each file's valid samples as validate read them,
    decimated): the run goes on, and its frames hold no valid pixels there (a tilted Landsat scene's fill corners
    lie within its bounds); and one for a centre outside the mask (``mask_info``) or on its no-data: no cloud truth
    there, so nothing to score the cloud filter against."""
    warnings = []
    for target in targets:
        for key, info in infos.items():
            if (warning := _off_warning(target, key, info, valid_of.get(key), "no valid pixels")) is not None:
                warnings.append(warning)
                break
        if mask_info is not None and (warning := _off_warning(target, "world.mask", mask_info,
                                                              valid_of.get("world.mask"), "no cloud truth")):
            warnings.append(warning)
    return warnings


def _off_warning(target: tuple[str, str, float, float], key: str, info: ImageInfo, valid: np.ndarray | None,
                 held: str) -> ConfigIssue | None:
    """The warning for ``target`` (``(yaml_path, name, lat_deg, lon_deg)``) when its centre is off ``key``'s image
    ``info`` (its frames hold ``held`` there), or on a sample that is not ``valid`` (decimated; None when not read:
    they hold ``held`` round their centre, a frame being larger than the samples looked at).
    None when it is on data."""
    path, name, lat_deg, lon_deg = target
    at = f"{name!r} at lat {lat_deg:g}, lon {lon_deg:g}"
    pixel = info.pixel_of(lat_deg, lon_deg)
    if pixel is None:
        west, south, east, north = info.bounds_lonlat()
        return issue_at(path, f"a target on the imagery ({key}: lat {south:.3f} to {north:.3f}, lon {west:.3f} to "
                              f"{east:.3f})", f"{at}, outside it: its frames will hold {held} there")
    if valid is None:
        return None
    row = min(int(pixel[1] * valid.shape[0] / info.height), valid.shape[0] - 1)
    col = min(int(pixel[0] * valid.shape[1] / info.width), valid.shape[1] - 1)
    reach = TARGET_NODATA_REACH_SAMPLES  # a gap of a few samples (Landsat 7's SLC-off stripes) is no fill around it
    if valid[max(row - reach, 0):row + reach + 1, max(col - reach, 0):col + reach + 1].any():
        return None
    side = 2 * reach + 1
    return issue_at(path, f"a target on the imagery's data ({key}: {info.source.path.name})",
                    f"{at}, on its no-data (no valid sample in the {side} x {side} round it, read {valid.shape[1]} x "
                    f"{valid.shape[0]} px): its frames will hold {held} round their centre")


def _band_label_warnings(infos: Mapping[str, ImageInfo]) -> list[ConfigIssue]:
    """A warning at ``world.bands.X`` for each band whose file calls it another of the scenario's bands (its
    description is one of BAND_LABELS' words for that band): band numbers mixed up, such as a file described N, R,
    G, B read as B, G, R, NIR from bands 1 to 4."""
    warnings = []
    for key, info in infos.items():
        name = key.rsplit(".", 1)[1]
        said = [other for other, words in BAND_LABELS.items() if info.label.strip().lower() in words]
        if said and said[0] != name:
            warnings.append(issue_at(key, f"band {info.band} of {info.source.path.name} to be {name}",
                                     f"the file calls band {info.band} {info.label!r}, which is {said[0]}: check "
                                     f"the band numbers"))
    return warnings


def _sample_problems(ds: Any, info: ImageInfo, cfg: Any, rules: Sequence[MaskBits], read: bool
                     ) -> tuple[list[Problem], np.ndarray | None]:
    """What validate finds in one band's samples, ``cfg`` the WorldConfig for a band and None for the mask: a band
    that the scenario leaves to its file (no ``dn_scale``) and that holds integer DN without a scale of its own, or,
    when ``read``, samples read decimated to VALIDATE_READ_PX a side (overviews if any) that are not reflectance
    (without ``dn_scale``) or that hold undeclared fill (either way), or an alpha band of opacity
    (:func:`~onboard.sensing.raster.alpha_problem`); a mask's values that are not cloud codes. With them, where the
    samples read are valid, (h, w) bool, when they were read and no problem was found (else None)."""
    calibrated = cfg is not None and cfg.dn_scale is not None
    problem = None if cfg is None or calibrated else calibration_problem(info)
    if problem is None and read:
        try:
            pixels, valid = read_band(ds, info.band, None if cfg is None else cfg.nodata, VALIDATE_READ_PX)
        except RasterioError as err:
            return [("a mask GDAL can decode" if cfg is None else "samples GDAL can decode",
                     f"GDAL cannot read them (a truncated or damaged file?): {gdal_cause(err)}")], None
        if cfg is None:
            problem = mask_problem(pixels, valid, rules)
        else:
            scale, offset = (cfg.dn_scale, cfg.dn_offset) if calibrated else (info.scale, info.offset)
            problem = alpha_problem(pixels, info) or (None if calibrated else reflectance_problem(
                pixels, valid, info)) or scaled_problem(pixels, valid, scale, offset, info.dtype)
    return ([] if problem is None else [problem]), (valid if problem is None and read else None)
