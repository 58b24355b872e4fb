"""The scenario: one typed, validated config object built from a YAML file (units in every key name)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from rundir.codec import packed_size_bytes
from rundir.errors import ConfigError, ConfigIssue

from . import hardware, pipeline
from .downlink import frame_error_rate
from .schema import Builder, apply_override, join, line_of, load_yaml, sort_issues, spec

BANDS = ("B", "G", "R", "NIR")


@dataclass(frozen=True, kw_only=True)
class OrbitConfig:
    """Either a two- or three-line element set, or mean elements for a circular (or near-circular) orbit."""

    tle: list[str] | str | None = spec(None, doc="two TLE lines, or three with the title (line 0) first, as a list or "
                                       "as a YAML block of text; excludes the element keys")
    altitude_km: float | None = spec(None, gt=150, lt=40000, doc="mean altitude above the WGS72 equatorial radius")
    inclination_deg: float | None = spec(None, ge=0, le=180, doc="inclination; or use sun_synchronous")
    sun_synchronous: bool = spec(False, doc="derive the inclination from J2 for a sun-synchronous orbit")
    raan_deg: float | None = spec(None, ge=0, lt=360, doc="right ascension of the ascending node at epoch")
    ltan_h: float | None = spec(None, ge=0, lt=24, doc="local time of the ascending node, hours (SSO); excludes raan_deg")
    phase_deg: float = spec(0.0, ge=0, lt=360, doc="argument of latitude at epoch")
    eccentricity: float = spec(0.0, ge=0, lt=0.1, doc="eccentricity")

    def check(self) -> list[tuple[str, str, str]]:
        out = []
        elements = self.altitude_km is not None
        if self.tle is not None:
            if elements or self.inclination_deg is not None or self.sun_synchronous:
                out.append(("tle", "either tle or orbital elements", "both"))
            try:
                self.satrec(None)
            except ValueError as err:
                out.append(("tle", "a valid TLE: 2 lines, or 3 with the title (line 0) first", str(err)))
            return out
        if not elements:
            return [("altitude_km", "tle, or altitude_km with inclination_deg or sun_synchronous", "neither")]
        if (self.inclination_deg is None) == (not self.sun_synchronous):
            out.append(("inclination_deg", "exactly one of inclination_deg or sun_synchronous: true",
                        "both" if self.sun_synchronous else "neither"))
        if (self.raan_deg is None) == (self.ltan_h is None):
            out.append(("ltan_h", "exactly one of raan_deg or ltan_h", "neither" if self.ltan_h is None else "both"))
        if not out:
            try:  # NOTE: any epoch serves: it only turns ltan_h into a RAAN, which cannot fail
                self.satrec(dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc))
            except ValueError as err:
                out.append(("", "orbital elements SGP4 accepts", str(err)))
        return out

    @property
    def title(self) -> str | None:
        """The title (line 0) of a three-line TLE; None for two lines, for elements, or for a TLE that is invalid."""
        from .elements import element_set

        try:
            return element_set(self.tle).title if self.tle is not None else None
        except ValueError:
            return None

    def satrec(self, start_utc: dt.datetime | None) -> Any:
        """The SGP4 record (``sgp4.api.Satrec``): from the TLE, or from the elements with their epoch at ``start_utc``
        (the run's start; unused with a TLE). ValueError naming the problem, from ``elements.element_set``,
        ``elements.satrec_from_tle`` or ``elements.satrec_from_elements``."""
        from .elements import element_set, satrec_from_elements

        if self.tle is not None:
            return element_set(self.tle).satrec()
        return satrec_from_elements(start_utc, self.altitude_km, self.inclination_deg, self.sun_synchronous,
                                    self.raan_deg, self.ltan_h, self.phase_deg, self.eccentricity)


@dataclass(frozen=True, kw_only=True)
class SatelliteConfig:
    name: str | None = spec(None, doc="unique name of letters, digits, - and _, used in product ids and file names; "
                            "null: the title (line 0) of a three-line TLE, each run of other characters made one -")
    orbit: OrbitConfig = spec(doc="TLE or elements")

    def __post_init__(self) -> None:
        if self.name is None and self.orbit.title is not None:
            name = re.sub(r"[^A-Za-z0-9_-]+", "-", self.orbit.title).strip("-")[:40].strip("-")
            object.__setattr__(self, "name", name or None)  # NOTE: frozen; None: check() asks for a name

    def check(self) -> list[tuple[str, str, str]]:
        if self.name is None:
            found = f"a title {self.orbit.title!r} without letters or digits" if self.orbit.title else "neither"
            return [("name", "a name, or a three-line TLE whose title (line 0) names the satellite", found)]
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", self.name):
            return [("name", "1-40 letters, digits, - or _ (it names files)", repr(self.name))]
        return []

    def _epoch_note(self, satrec: Any, start_utc: dt.datetime, duration_s: float) -> str | None:
        """How far the run lies from a TLE's epoch, when beyond ``elements.STALE_EPOCH_DAYS``; else None."""
        from .elements import STALE_EPOCH_DAYS, epoch_offset_days, tle_epoch_utc

        if self.orbit.tle is None:
            return None
        days = epoch_offset_days(satrec, start_utc, duration_s)
        if abs(days) <= STALE_EPOCH_DAYS:
            return None
        where = f"ends {days:.1f} days after" if days > 0 else f"starts {-days:.1f} days before"
        return f"the run {where} the TLE epoch {_utc_text(tle_epoch_utc(satrec))}, over the {STALE_EPOCH_DAYS:g}-day limit"

    def stale_epoch(self, start_utc: dt.datetime, duration_s: float) -> tuple[str, str, str] | None:
        """``(relative_path, expected, found)`` when the run lies further than ``elements.STALE_EPOCH_DAYS`` from the
        TLE's epoch, where SGP4's error has grown to tens of km (the constant cites why); else None. A warning."""
        from .elements import STALE_EPOCH_DAYS

        note = self._epoch_note(self.orbit.satrec(start_utc), start_utc, duration_s)
        if note is None:
            return None
        return ("orbit.tle", f"a TLE epoch within {STALE_EPOCH_DAYS:g} days of the run (SGP4's error grows by 1-3 km "
                f"a day from it)", f"satellite {self.name!r}: {note}; positions and passes drift: use a recent TLE")

    def not_an_orbit(self, start_utc: dt.datetime, duration_s: float) -> tuple[str, str, str] | None:
        """``(relative_path, expected, found)`` when SGP4's state is not an orbit somewhere in the run
        (``elements.implausible_orbit``: an error code, below the altitude floor, or a semi-major axis far from the mean
        motion's), with how stale the TLE is; else None. An error."""
        from .elements import implausible_orbit

        satrec = self.orbit.satrec(start_utc)
        problem = implausible_orbit(satrec, start_utc, duration_s)
        if problem is None:
            return None
        t_s, what = problem
        note = self._epoch_note(satrec, start_utc, duration_s)
        stale = f"; {note}: it may have re-entered, use a recent TLE" if note else ""
        source = "TLE" if self.orbit.tle is not None else "elements"
        return ("orbit.tle" if self.orbit.tle is not None else "orbit",
                f"a {source} that SGP4 propagates as an orbit over the whole run",
                f"satellite {self.name!r} at {_utc_text(start_utc + dt.timedelta(seconds=t_s))} (t = {t_s:.0f} s): "
                f"{what}{stale}")


def _utc_text(when: dt.datetime) -> str:
    """ISO 8601 UTC to the second, with a Z."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, kw_only=True)
class BurstConfig:
    """Burst imaging for multi-frame super-resolution, used when the pipeline has a ``superres`` stage."""

    frames: int = spec(8, ge=2, le=64, doc="K low-res frames taken of each scene")
    jitter_px: float = spec(1.0, ge=0, le=10, doc="platform jitter: each frame's shift is uniform in +-jitter_px per axis")
    mtf_nyquist: float | None = spec(None, gt=0, lt=1, doc="optics MTF at Nyquist; null: the Gaussian psf_sigma_px")
    frame_cloud_cover: float = spec(0.05, ge=0, lt=1, doc="cover of a cloud layer that moves from frame to frame")
    cloud_drift_px: float = spec(2.0, ge=0, le=50, doc="how far that layer moves between frames")


@dataclass(frozen=True, kw_only=True)
class CameraConfig:
    """The imager: frame size, ground sample distance, bands, radiometry, pointing limits and burst imaging; the
    one description of the camera that the scenario, :mod:`onboard.camera` and :mod:`onboard.burst` share.

    Radiometric calibration is linear with no offset: ``DN = reflectance * dn_max / reflectance_max`` with
    ``dn_max = 2**bit_depth - 1``; TOA reflectance ``reflectance_max`` (1.2, above the brightest cloud or snow)
    fills the full well. The key rules (``bit_depth`` 8..16 and the rest) are checked where a scenario is built.
    """

    reflectance_max: ClassVar[float] = 1.2  # TOA reflectance that reads dn_max; not a scenario key
    width_px: int = spec(gt=0, le=20000, doc="frame width")
    height_px: int = spec(gt=0, le=20000, doc="frame height (along track)")
    gsd_m: float = spec(gt=0, le=1000, doc="ground sample distance at nadir")
    bands: list[Literal["B", "G", "R", "NIR"]] = spec(min_items=1, doc="band order, a subset of B, G, R, NIR")
    bit_depth: int = spec(12, ge=8, le=16, doc="bits per sample; raw bytes = W*H*bands*bit_depth/8")
    psf_sigma_px: float = spec(0.5, ge=0, le=5, doc="Gaussian PSF sigma")
    read_noise_dn: float = spec(2.0, ge=0, doc="read noise, DN rms")
    full_well_e: float = spec(20000.0, gt=0, doc="electrons at full scale, sets shot noise")
    max_off_nadir_deg: float = spec(30.0, ge=0, le=60, doc="pointing limit for imaging a target")
    min_sun_elevation_deg: float = spec(10.0, ge=-10, le=90, doc="image only when the sun is this high at the target")
    forward_overlap_fraction: float = spec(0.1, ge=0, lt=0.9, doc="overlap between successive frames of a strip")
    power_w: float = spec(4.0, ge=0, doc="camera power while imaging")
    burst: BurstConfig = spec(BurstConfig(), doc="burst imaging (with a superres stage)")

    def check(self) -> list[tuple[str, str, str]]:
        if len(set(self.bands)) != len(self.bands):
            return [("bands", "each band once", repr(self.bands))]
        return []

    @property
    def raw_bytes(self) -> int:
        """Bytes of one bit-packed raw frame: ``ceil(W * H * B * bit_depth / 8)``, the bent-pipe cost."""
        return packed_size_bytes(self.width_px * self.height_px * len(self.bands), self.bit_depth)

    @property
    def dn_max(self) -> int:
        """Largest digital number, ``2**bit_depth - 1``."""
        return (1 << self.bit_depth) - 1

    @property
    def electrons_per_dn(self) -> float:
        """Conversion gain, electrons per DN."""
        return self.full_well_e / self.dn_max


@dataclass(frozen=True, kw_only=True)
class ComputeConfig:
    hardware: str = spec("host", doc="hardware profile name (orbitedge hardware list)")
    timing: Literal["projected", "measured"] = spec("projected", doc="stage times projected from the profile, or "
                                                    "measured: the wall time of each stage on the device running "
                                                    "the simulation (hardware in the loop)")

    def check(self) -> list[tuple[str, str, str]]:
        names = hardware.profile_names()
        if self.hardware not in names:
            return [("hardware", "one of " + ", ".join(names), repr(self.hardware))]
        return []


@dataclass(frozen=True, kw_only=True)
class StorageConfig:
    capacity_mb: float = spec(gt=0, doc="mass memory for frames and products, 1 MB = 1e6 bytes")
    policy: Literal["drop_oldest", "drop_lowest_priority", "stop_imaging"] = spec("drop_oldest", doc="what to do when full")


@dataclass(frozen=True, kw_only=True)
class PowerConfig:
    battery_wh: float = spec(gt=0, doc="battery capacity")
    initial_soc_fraction: float = spec(1.0, ge=0, le=1, doc="state of charge at start")
    solar_w: float = spec(ge=0, doc="array output in sunlight (orbit-average attitude)")
    bus_idle_w: float = spec(ge=0, doc="platform load, always on")
    radio_tx_w: float = spec(ge=0, doc="transmitter load while downlinking")
    brownout_soc_fraction: float = spec(0.2, ge=0, lt=1, doc="below this, imaging and compute pause")


@dataclass(frozen=True, kw_only=True)
class RadioConfig:
    rate_mbps: float = spec(gt=0, doc="downlink bit rate, 1 Mbps = 1e6 bit/s")
    protocol_overhead_fraction: float = spec(0.1, ge=0, lt=1, doc="framing, coding and protocol share of the rate")
    frame_bytes: int = spec(1024, ge=64, le=65536, doc="transfer frame size: the unit lost and retransmitted")
    frame_error_rate: float | None = spec(None, ge=0, lt=1, doc="share of frames lost (CRC fails) and sent again; "
                                          "excludes eb_n0_db; null: 0 unless eb_n0_db is set")
    eb_n0_db: float | None = spec(None, ge=-5, le=30, doc="link budget Eb/N0 at the demodulator: the frame error "
                                  "rate of uncoded BPSK/QPSK frames of frame_bytes")

    @property
    def payload_bytes_per_s(self) -> float:
        return self.rate_mbps * 1e6 / 8 * (1 - self.protocol_overhead_fraction)

    @property
    def link_frame_error_rate(self) -> float:
        """The frame error rate set, or derived from ``eb_n0_db``."""
        if self.eb_n0_db is not None:
            return frame_error_rate(self.eb_n0_db, self.frame_bytes)
        return self.frame_error_rate or 0.0

    def check(self) -> list[tuple[str, str, str]]:
        if self.frame_error_rate is not None and self.eb_n0_db is not None:
            return [("frame_error_rate", "either frame_error_rate or eb_n0_db", "both")]
        if self.eb_n0_db is not None and self.link_frame_error_rate > 0.9:
            return [("eb_n0_db", f"a link that delivers frames of {self.frame_bytes} bytes (frame error rate <= 0.9)",
                     f"{self.eb_n0_db} dB: frame error rate {self.link_frame_error_rate:.3f}")]
        return []


@dataclass(frozen=True, kw_only=True)
class SpacecraftConfig:
    camera: CameraConfig = spec(doc="imager")
    compute: ComputeConfig = spec(ComputeConfig(), doc="on-board computer")
    storage: StorageConfig = spec(doc="mass memory")
    power: PowerConfig = spec(doc="electrical power system")
    radio: RadioConfig = spec(doc="payload downlink")


@dataclass(frozen=True, kw_only=True)
class GroundStationConfig:
    name: str = spec(doc="unique name")
    lat_deg: float = spec(ge=-90, le=90, doc="geodetic latitude")
    lon_deg: float = spec(ge=-180, le=180, doc="longitude, east positive")
    alt_m: float = spec(0.0, ge=-500, le=9000, doc="height above the WGS84 ellipsoid")
    min_elevation_deg: float = spec(10.0, ge=0, lt=90, doc="contact mask")


@dataclass(frozen=True, kw_only=True)
class TargetConfig:
    name: str = spec(doc="unique name")
    lat_deg: float = spec(ge=-90, le=90, doc="centre latitude")
    lon_deg: float = spec(ge=-180, le=180, doc="centre longitude")
    radius_km: float = spec(gt=0, le=1000, doc="strip half-length: frames are taken while the footprint is this close")
    priority: int = spec(1, ge=0, le=100, doc="higher is downlinked first and dropped last")


@dataclass(frozen=True, kw_only=True)
class ImageBandConfig:
    """One band of a multi-band image file."""

    file: str = spec(doc="image file GDAL reads (GeoTIFF, COG, JPEG 2000, ...), relative to the scenario")
    band: int = spec(ge=1, doc="the band's number in the file, 1-based as GDAL counts (gdalinfo lists them)")


@dataclass(frozen=True, kw_only=True)
class MaskBitsConfig:
    """A rule that reads a bit-field quality band as cloud codes (``onboard.imagery.MaskBits``)."""

    bits: int | list[int] = spec(doc="the field: one bit, or [first, last] bits, 0 = least significant")
    equals: int = spec(ge=0, doc="the field's value (its bits read as an unsigned number) that the rule selects")
    cloud: Literal["thin", "thick", "unknown"] = spec(doc="the cloud code of those pixels; a pixel takes the most "
                                                      "severe of the rules it matches (unknown > thick > thin), "
                                                      "and is clear when it matches none")

    def check(self) -> list[tuple[str, str, str]]:
        bits = [self.bits] if isinstance(self.bits, int) else self.bits
        if not (1 <= len(bits) <= 2 and all(0 <= b <= 63 for b in bits) and bits[0] <= bits[-1]):
            return [("bits", "a bit from 0 to 63, or [first, last] with first <= last", repr(self.bits))]
        if self.equals >= 2 ** (bits[-1] - bits[0] + 1):
            return [("equals", f"a value that fits in bits {bits[0]}-{bits[-1]}", str(self.equals))]
        return []


@dataclass(frozen=True, kw_only=True)
class WorldConfig:
    source: Literal["synthetic", "geotiff"] = spec("synthetic", doc="synthetic Earth, or real imagery (any file "
                                                   "GDAL reads, not only GeoTIFF)")
    mean_cloud_cover: float = spec(0.3, ge=0, le=1, doc="scenario-mean cloud fraction (synthetic)")
    cloud_height_m: float = spec(2000.0, gt=0, le=15000, doc="cloud-top height for shadow displacement (synthetic)")
    bands: dict[str, str | ImageBandConfig] | None = spec(
        None, doc="geotiff: band name -> image file GDAL reads (GeoTIFF, COG, JPEG 2000, ...; relative to the "
        "scenario), georeferenced in any CRS and reprojected to each frame; a file with several bands as "
        "{file: rgb.tif, band: 3} (1-based, as GDAL counts)")
    mask: str | ImageBandConfig | None = spec(None, doc="geotiff: optional cloud mask, a file or {file, band}, read as "
                                              "stored (1-bit as 0/1, palette as indices): 0 clear, 1 thin, 2 thick, "
                                              "or its no-data (cloud unknown); other values are refused")
    mask_bits: list[MaskBitsConfig] = spec([], doc="geotiff: read the mask as a bit-field quality band, e.g. Landsat 8 "
                                           "Collection 1 BQA: [{bits: [5, 6], equals: 3, cloud: thick}, {bits: [5, 6], "
                                           "equals: 2, cloud: thin}, {bits: [11, 12], equals: 3, cloud: thin}, {bits: "
                                           "0, equals: 1, cloud: unknown}] (USGS LSDS-1873)")
    nodata: float | None = spec(None, doc="geotiff: the band files' no-data value, replacing what each file declares "
                                "(GDAL_NODATA); null: each file's own no-data and masks. Those pixels are not valid")
    dn_scale: float | None = spec(None, doc="geotiff: reflectance = dn_scale * DN + dn_offset, e.g. Landsat 8 C1 "
                                  "2.0e-5, Sentinel-2 L1C 1.0e-4; null: each file's own scale and offset (GDAL "
                                  "metadata), or float samples as reflectance; integer DN without either are refused")
    dn_offset: float = spec(0.0, doc="geotiff: see dn_scale (Landsat 8 C1: -0.1); used with dn_scale")
    scene_sun_elevation_deg: float | None = spec(None, gt=0, le=90, doc="geotiff: sun elevation of the acquisition; "
                                                 "reflectance is divided by its sine (Landsat's rescaling omits it)")

    def check(self) -> list[tuple[str, str, str]]:
        if self.source == "geotiff":
            if not self.bands:
                return [("bands", "a mapping of band name to image file", "nothing")]
            bad = [b for b in self.bands if b not in BANDS]
            if bad:
                return [("bands", "band names from B, G, R, NIR", repr(bad))]
            if self.mask_bits and self.mask is None:
                return [("mask_bits", "a mask for the rules to read (world.mask)", "no mask")]
        return []


@dataclass(frozen=True, kw_only=True)
class StageConfig:
    """One pipeline stage: its registered name and its validated parameters object."""

    name: str
    params: Any


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str = spec(doc="scenario name, used in reports")
    seed: int = spec(ge=0, doc="seeds the world, the camera noise and every random choice")
    start_utc: dt.datetime = spec(doc="simulation epoch, ISO 8601 UTC")
    duration_h: float = spec(gt=0, le=24 * 14, doc="simulated time")
    world: WorldConfig = spec(WorldConfig(), doc="where the pixels come from")
    spacecraft: SpacecraftConfig = spec(doc="shared by every satellite")
    satellites: list[SatelliteConfig] = spec(min_items=1, doc="one or more")
    ground_stations: list[GroundStationConfig] = spec(min_items=1, doc="one or more")
    targets: list[TargetConfig] = spec(min_items=1, doc="imaging targets, one or more")
    pipeline: list[Any] = spec(min_items=1, doc="on-board stages in order, each {stage: NAME, ...params}")
    timeline_step_s: float = spec(60.0, gt=0, le=3600, doc="sampling of the storage and battery timeline")
    source_file: str = dataclasses.field(default="", metadata={"internal": True})
    stages: tuple[StageConfig, ...] = dataclasses.field(default=(), metadata={"internal": True})
    resolved: dict[str, Any] = dataclasses.field(default_factory=dict, metadata={"internal": True}, repr=False)
    # "FILE:LINE: path: expected ..., found ..." for what a run may go ahead with but the user should know
    warnings: tuple[str, ...] = dataclasses.field(default=(), metadata={"internal": True})

    @property
    def duration_s(self) -> float:
        return self.duration_h * 3600.0

    def check(self) -> list[tuple[str, str, str]]:
        """Rules across sections. Each runs on what is there: on a partial scenario (``schema.Builder`` leaves out
        the sections with problems of their own) a rule whose sections are missing is skipped."""
        out = []
        for key in ("satellites", "ground_stations", "targets"):
            names = [i.name for i in getattr(self, key, ())]
            for i, name in enumerate(names):
                if names.index(name) != i:
                    out.append((f"{key}[{i}].name", "a unique name", f"duplicate {name!r}"))
        if not all(hasattr(self, key) for key in ("satellites", "start_utc", "duration_h")):
            return out
        for i, sat in enumerate(self.satellites):
            refused = sat.not_an_orbit(self.start_utc, self.duration_s)
            if refused is not None:
                out.append((join(f"satellites[{i}]", refused[0]), *refused[1:]))
        return out

    def warning_checks(self) -> list[tuple[str, str, str]]:
        """``(yaml_path, expected, found)`` for what does not stop a run but should be said: stale TLE epochs."""
        out = []
        for i, sat in enumerate(self.satellites):
            stale = sat.stale_epoch(self.start_utc, self.duration_s)
            if stale is not None:
                out.append((join(f"satellites[{i}]", stale[0]), *stale[1:]))
        return out


def load_scenario(path: str | Path, overrides: list[str] = ()) -> Scenario:
    """Read, override (``key.path=value``) and validate a scenario; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise ConfigError(path, [ConfigIssue("", None, "a readable scenario file", err.strerror or str(err))]) from None
    data, source = load_yaml(raw, str(path))
    if not isinstance(data, dict):
        found = "an empty file" if data is None else f"{type(data).__name__} {data!r}"[:60]
        raise ConfigError(path, [ConfigIssue("", 1, "a mapping of scenario keys at the top level", found)])
    issues = []
    for assignment in overrides:
        try:
            apply_override(data, source, assignment, str(path))
        except ConfigError as err:
            issues += err.issues
    try:
        scenario = scenario_from_data(data, source, path)
    except ConfigError as err:
        issues += err.issues
    if not issues:
        return scenario
    # NOTE: an issue the file's lines name may still come from an override (a band list set that the encoder's
    # format no longer fits), so each says which were applied; the --set values' own issues name their --set.
    note = " (after --set " + ", ".join(overrides) + ")"
    raise ConfigError(path, sort_issues([i if i.override or not overrides else dataclasses.replace(i, found=i.found + note)
                                         for i in issues]))


def scenario_from_data(data: dict[str, Any], lines: dict[str, int], path: Path) -> Scenario:
    """Validate parsed YAML ``data`` (with its ``schema.Source``: lines, scalar texts, ``--set`` values) into a
    Scenario. The pipeline's rules run whenever its stages and the camera's bands are readable, whatever else has
    problems, so that one ConfigError lists every problem."""
    builder = Builder(lines)
    scenario = builder.build(Scenario, data, "")
    stages = _build_stages(builder, data.get("pipeline"))
    bands = _camera_bands(data)
    if stages is not None and bands is not None:
        for i, stage in enumerate(stages):
            if stage.params is None:
                continue
            for rel, expected, found in pipeline.check_stage(stage, i, stages, bands):
                builder.fail(join(f"pipeline[{i}]", rel) if rel else f"pipeline[{i}]", expected, found)
    if scenario is not None and stages is not None and not builder.issues:
        warnings = tuple(f"{path}:{ConfigIssue(p, line_of(lines, p), e, f)}" for p, e, f in scenario.warning_checks())
        scenario = dataclasses.replace(scenario, stages=tuple(stages), source_file=str(path), resolved=data,
                                       warnings=warnings)
    world = getattr(scenario, "world", None)
    if world is not None and world.source == "geotiff" and world.bands:
        from .imagery import check_world

        targets = [(f"targets[{i}]", t.name, t.lat_deg, t.lon_deg)
                   for i, t in enumerate(getattr(scenario, "targets", None) or ()) if t is not None]
        problems, off_imagery = check_world(world, path.parent, targets)
        for key, expected, found in problems:
            builder.fail(key, expected, found)
        if isinstance(scenario, Scenario):
            scenario = dataclasses.replace(scenario, warnings=scenario.warnings + tuple(
                f"{path}:{ConfigIssue(p, line_of(lines, p), e, f)}" for p, e, f in off_imagery))
        missing = [b for b in bands or () if b not in world.bands]
        if missing:
            builder.fail("spacecraft.camera.bands", f"bands the imagery has ({', '.join(world.bands)})", f"{missing} not in world.bands")
    issues = builder.finish()
    if issues:
        raise ConfigError(path, issues)
    return scenario


def _camera_bands(data: dict[str, Any]) -> tuple[str, ...] | None:
    """The camera's band list as the data gives it; None unless it is one the camera accepts (its own issue says
    why), so that no pipeline rule judges a band list that is itself wrong."""
    try:
        bands = data["spacecraft"]["camera"]["bands"]
    except (KeyError, TypeError):
        return None
    if not (isinstance(bands, list) and bands and all(isinstance(b, str) and b in BANDS for b in bands)
            and len(set(bands)) == len(bands)):
        return None
    return tuple(bands)


def _build_stages(builder: Builder, items: Any) -> list[StageConfig] | None:
    """Each pipeline item as a StageConfig, its ``params`` None where they have problems (reported); None where an
    item names no stage (reported), since the pipeline's order rules then have no pipeline to judge."""
    if not isinstance(items, list):
        return None
    out = []
    names = Literal[tuple(sorted(pipeline.stage_classes()))]
    for i, item in enumerate(items):
        path = f"pipeline[{i}]"
        if not isinstance(item, dict) or "stage" not in item:
            builder.fail(path, "a mapping with a 'stage' key naming a stage", builder.show(path, item)[:60])
            continue
        name = builder.build(names, item["stage"], join(path, "stage"))
        if name is not None:
            params = builder.build(pipeline.stage_classes()[name].Params, {k: v for k, v in item.items() if k != "stage"}, path)
            out.append(StageConfig(name=name, params=params))
    return out if len(out) == len(items) else None


def key_reference(cls: type = Scenario, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Every scenario key as ``(yaml_path, type, default, doc)``, for the README's tour of the keys."""
    import typing

    from .schema import _type_name

    rows = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        path = f"{prefix}{f.name}"
        tp = hints[f.name]
        inner = [a for a in typing.get_args(tp) if dataclasses.is_dataclass(a)] or ([tp] if dataclasses.is_dataclass(tp) else [])
        if f.default is not dataclasses.MISSING and not dataclasses.is_dataclass(f.default):
            default = "null" if f.default is None else str(f.default)
        elif f.default_factory is not dataclasses.MISSING or dataclasses.is_dataclass(f.default):
            default = "(see below)" if inner else "[]"
        else:
            default = "required"
        rows.append((path, _type_name(tp), default, f.metadata.get("doc", "")))
        if inner:
            sub = f"{path}[]." if typing.get_origin(tp) is list else f"{path}."
            rows += key_reference(inner[0], sub)
    return rows


def key_table() -> str:
    """The Markdown tables of scenario keys and pipeline stage parameters (``python -m onboard.config``)."""
    out = ["| key | type | default | meaning |", "|---|---|---|---|"]
    out += ["| `{}` | {} | {} | {} |".format(*row) for row in key_reference()]
    out += ["", "| stage | parameter | type | default | meaning |", "|---|---|---|---|---|"]
    for name, cls in sorted(pipeline.stage_classes().items()):
        rows = key_reference(cls.Params)
        out += [f"| `{name}` | `{p}` | {t} | {d} | {m} |" for p, t, d, m in rows] or [f"| `{name}` | | | | (no parameters) |"]
    return "\n".join(out)


if __name__ == "__main__":
    print(key_table())
