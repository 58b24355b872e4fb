"""Bursts for training and scoring the super-resolution model: the synthetic world through the burst camera,
registered and fused exactly as on board.

Each burst is drawn at random - place, season, hour, weather, ground sample distance, optics and noise - and
captured by :func:`onboard.sensing.burst.capture_burst` (K = 8 frames, x2, sub-pixel jitter, per-frame drifting
clouds), then registered by :func:`onboard.pipeline.registration.register` (ECC) on board-side data only: the model
learns with the registration errors it will meet. Scenes are clear-ish (world cloud cover 0..0.3, frame
clouds 0..0.15), since cloudy pixels are excluded from fusion and scoring anyway.

The splits are those of :mod:`training.cloud_data`: ``"train"`` draws places in 50 of the 60 UTM zones and
world seeds from ``TRAIN_WORLD_SEEDS``; ``"heldout"`` draws places in the other 10 zones
(``HELDOUT_ZONES``) and world seeds from ``HELDOUT_WORLD_SEEDS``. Everything is a pure function of
``(split, seed, count, size_px)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np

from onboard.orbit import sun
from onboard.sensing.burst import Burst, capture_burst
from onboard.scenario.spacecraft_config import CameraConfig
from onboard.sensing.projection import GridFootprint, epsg_code, utm_zone
from onboard.pipeline.registration import register
from onboard.sensing.imagery import ImageryWorld
from onboard.sensing.raster import image_info
from onboard.sensing.world import SYNTHETIC_BANDS, SyntheticWorld
from training.landsat_pair import LANDSAT_BANDS, LANDSAT_TIME_UTC, band_path
from training.cloud_data import (BIT_DEPTH, FULL_WELL_RANGE_E, HELDOUT_WORLD_SEEDS,
                                 READ_NOISE_RANGE_DN, SPLITS, TRAIN_WORLD_SEEDS, draw_sunlit_place)

FRAMES = 8  # K
SCALE = 2
_SPLIT_KEYS = {"train": 0x5A7E, "heldout": 0x5AFE}

# Draw ranges, documented in the model cards.
GSD_RANGE_M = (4.0, 60.0)  # low-res GSD, log-uniform: CubeSat to twice Landsat's
PSF_SIGMA_RANGE_PX = (0.35, 0.7)  # Gaussian optics, low-res px: MTF at Nyquist 0.55 .. 0.09 (times the pixel's 0.64)
MEAN_CLOUD_COVER_RANGE = (0.0, 0.3)
FRAME_CLOUD_COVER_RANGE = (0.0, 0.15)
CLOUD_DRIFT_RANGE_PX = (0.5, 3.0)  # per frame
JITTER_PX = 1.0  # shifts uniform in [-1, 1) low-res px
MIN_CLEAR_FRACTION = 0.5  # bursts whose truth is clear over less than this are drawn again

# Real scene content: the Landsat 8 pair of the shared data as the high-res truth at its own 30 m, imaged by the
# burst camera at 60 m. TOA reflectance = (2e-5 DN - 0.1) / sin(sun elevation), the Collection 1 rescaling
# with the sun-elevation correction for ~38 degrees (the scene centre at the usual overpass time).
LANDSAT_SUN_ELEVATION_DEG = 38.0
LANDSAT_GSD_M = 30.0
LANDSAT_READ_NOISE_DN = 1.5  # the read noise the shipped model's Landsat bursts were made with
# (scene, first row, first column) of each crop's truth in the scene's own 30 m grid: farmland, the
# Itaipu reservoir shore, and the Foz do Iguacu / Ciudad del Este urban area.
LANDSAT_CROPS = (("LC08_L1TP_224077_20200518_20200518_01_RT", 400, 400),
                 ("LC08_L1TP_224078_20200518_20200518_01_RT", 600, 800),
                 ("LC08_L1TP_224078_20200518_20200518_01_RT", 1300, 480))


@dataclass(frozen=True)
class BurstDraw:
    """Everything that decides one burst: where, when, which world, which camera and which clouds."""

    world_seed: int
    mean_cloud_cover: float
    lat_deg: float
    lon_deg: float
    time_utc: datetime
    sun_elevation_deg: float
    sun_azimuth_deg: float
    gsd_m: float
    psf_sigma_lr_px: float
    read_noise_dn: float
    full_well_e: float
    frame_cloud_cover: float
    cloud_drift_px: float

    def to_json(self) -> dict:
        """The draw as a JSON-ready dict (time as ISO 8601 UTC)."""
        return asdict(self) | {"time_utc": self.time_utc.strftime("%Y-%m-%dT%H:%M:%SZ")}


@dataclass
class RegisteredBurst:
    """A captured burst, the calibrated frames and the shifts the on-board registration estimated."""

    draw: BurstDraw | None  # None for real imagery
    burst: Burst
    lr: np.ndarray  # (K, H, W, B) float32 TOA reflectance
    clear: np.ndarray  # (K, H, W) bool, the frames' cloud-free pixels (truth masks: the cloud stage's job)
    shifts_px: np.ndarray  # (K, 2) estimated (dy, dx), low-res px


def draw_burst(split: str, rng: np.random.Generator) -> BurstDraw:
    """One burst's conditions: a sunlit place inside ``split``'s regions, drawn until one qualifies."""
    seeds = TRAIN_WORLD_SEEDS if split == "train" else HELDOUT_WORLD_SEEDS
    lat, lon, time_utc, elevation = draw_sunlit_place(split, rng)
    return BurstDraw(
        world_seed=int(rng.integers(seeds.start, seeds.stop)),
        mean_cloud_cover=float(rng.uniform(*MEAN_CLOUD_COVER_RANGE)),
        lat_deg=float(lat), lon_deg=float(lon), time_utc=time_utc, sun_elevation_deg=elevation,
        sun_azimuth_deg=float(sun.sun_azimuth_deg(lat, lon, time_utc, 0.0)),
        gsd_m=float(round(math.exp(rng.uniform(*np.log(GSD_RANGE_M))), 1)),
        psf_sigma_lr_px=float(rng.uniform(*PSF_SIGMA_RANGE_PX)),
        read_noise_dn=float(rng.uniform(*READ_NOISE_RANGE_DN)),
        full_well_e=float(rng.uniform(*FULL_WELL_RANGE_E)),
        frame_cloud_cover=float(rng.uniform(*FRAME_CLOUD_COVER_RANGE)),
        cloud_drift_px=float(rng.uniform(*CLOUD_DRIFT_RANGE_PX)))


def camera_spec(draw: BurstDraw, size_px: int) -> CameraConfig:
    """The burst's camera: ``size_px`` square low-res frames, all four bands, the draw's GSD, PSF and noise."""
    return CameraConfig(width_px=size_px, height_px=size_px, gsd_m=draw.gsd_m, bands=SYNTHETIC_BANDS,
                        bit_depth=BIT_DEPTH, psf_sigma_px=draw.psf_sigma_lr_px, read_noise_dn=draw.read_noise_dn,
                        full_well_e=draw.full_well_e)


def capture(draw: BurstDraw, size_px: int, rng: np.random.Generator) -> RegisteredBurst:
    """Capture and register the burst of ``draw`` with ``size_px`` square low-res frames."""
    world = SyntheticWorld(draw.world_seed, draw.mean_cloud_cover)
    zone, south = utm_zone(draw.lon_deg, draw.lat_deg)
    footprint = GridFootprint.centred(draw.lat_deg, draw.lon_deg, epsg_code(zone, south), draw.gsd_m, size_px,
                                      size_px)
    spec = camera_spec(draw, size_px)
    burst = capture_burst(spec, world, footprint, draw.time_utc, draw.sun_elevation_deg, draw.sun_azimuth_deg, rng,
                          k=FRAMES, scale=SCALE, jitter_px=JITTER_PX, frame_cloud_cover=draw.frame_cloud_cover,
                          cloud_drift_px=draw.cloud_drift_px)
    lr = burst.lr_reflectance()
    clear = ~burst.lr_cloud
    return RegisteredBurst(draw, burst, lr, clear, register(lr, clear))


def iter_bursts(split: str, count: int, size_px: int, seed: int) -> Iterator[RegisteredBurst]:
    """``count`` registered bursts of ``size_px`` square low-res frames for ``split``, a pure function of the
    arguments; bursts whose truth is clear over less than MIN_CLEAR_FRACTION are drawn again."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}. Choose from {SPLITS}")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    rng = np.random.default_rng([seed, _SPLIT_KEYS[split]])
    made = 0
    while made < count:
        draw = draw_burst(split, rng)
        sample = capture(draw, size_px, np.random.default_rng(rng.integers(2**63)))
        if sample.burst.hr_clear.mean() < MIN_CLEAR_FRACTION:
            continue
        made += 1
        yield sample


def make_bursts(split: str, count: int, size_px: int, seed: int) -> list[RegisteredBurst]:
    """The bursts of :func:`iter_bursts` as a list."""
    return list(iter_bursts(split, count, size_px, seed))


def landsat_world(scene: str) -> ImageryWorld:
    """One Landsat 8 scene of the shared data (bands B, G, R) as sun-corrected TOA reflectance."""
    gain = 1.0 / math.sin(math.radians(LANDSAT_SUN_ELEVATION_DEG))
    return ImageryWorld({band: band_path(scene, band) for band in LANDSAT_BANDS},
                        dn_scale=2e-5 * gain, dn_offset=-0.1 * gain, nodata=0)


def landsat_burst(scene: str, row0: int, col0: int, size_px: int, rng: np.random.Generator,
                  world: ImageryWorld | None = None) -> RegisteredBurst:
    """A registered burst of ``size_px`` square frames at twice Landsat's GSD whose truth is the scene's own
    pixels from (``row0``, ``col0``) on (the default camera: PSF sigma 0.5 px, 12 bits, read noise 1.5 DN,
    frame clouds)."""
    world = world or landsat_world(scene)
    grid = image_info(band_path(scene, "R"))  # north-up: x0 = c, y0 = f
    gsd_m = LANDSAT_GSD_M * SCALE
    footprint = GridFootprint(grid.crs.to_epsg(), grid.transform.c + col0 * LANDSAT_GSD_M,
                              grid.transform.f - row0 * LANDSAT_GSD_M, gsd_m, size_px, size_px)
    spec = CameraConfig(width_px=size_px, height_px=size_px, gsd_m=gsd_m, bands=tuple(LANDSAT_BANDS),
                        bit_depth=BIT_DEPTH, read_noise_dn=LANDSAT_READ_NOISE_DN)
    burst = capture_burst(spec, world, footprint, LANDSAT_TIME_UTC, LANDSAT_SUN_ELEVATION_DEG, 0.0, rng, k=FRAMES,
                          scale=SCALE, jitter_px=JITTER_PX)
    lr = burst.lr_reflectance()
    clear = ~burst.lr_cloud
    return RegisteredBurst(None, burst, lr, clear, register(lr, clear))
