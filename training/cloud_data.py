"""Frames for training and scoring the cloud model: the synthetic world seen through the camera, with truth.

Each frame is drawn at random - place, season, hour, weather, ground sample distance and camera - and
rendered by :class:`~onboard.sensing.world.SyntheticWorld`, then passed through the camera model (PSF, shot and
read noise, quantisation to ``bit_depth`` bits) and calibrated back to TOA reflectance: exactly what the
on-board ``cloud_filter`` stage sees. The label of a pixel is *cloud* when the truth says thin or thick
cloud (``Scene.cloud != CLOUD_CLEAR``): thin cirrus and the semi-transparent fringes of cumulus count as
cloud, cloud shadows and bright ground (snow, desert, roofs) do not.

Two splits that share neither world seeds nor regions: ``"train"`` draws places in 50 of the 60 UTM zones
and world seeds from ``TRAIN_WORLD_SEEDS``; ``"heldout"`` draws places in the other 10 zones
(``HELDOUT_ZONES``, every sixth: 3, 9, ..., 57, spread around the globe) and world seeds from
``HELDOUT_WORLD_SEEDS``. Everything is a pure function of ``(split, seed, count, size_px)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Sequence

import numpy as np

from onboard.sensing import camera
from onboard.orbit import sun
from onboard.scenario.spacecraft_config import CameraConfig
from onboard.sensing.projection import GridFootprint, epsg_code, utm_zone
from rundir.truth import CLOUD_CLEAR, DESERT, SNOW, URBAN
from onboard.sensing.world import SYNTHETIC_BANDS, SyntheticWorld

SPLITS = ("train", "heldout")
HELDOUT_ZONES = frozenset(range(3, 61, 6))
TRAIN_WORLD_SEEDS = range(1_000, 500_000)
HELDOUT_WORLD_SEEDS = range(500_000, 1_000_000)
_SPLIT_KEYS = {"train": 0x7EA1, "heldout": 0x4E1D}
YEAR_START_UTC = datetime(2026, 1, 1, tzinfo=timezone.utc)

# Draw ranges, documented in the model cards.
LATITUDE_RANGE_DEG = (-56.0, 72.0)  # uniform in sin(latitude): equal area
LOCAL_SOLAR_TIME_RANGE_H = (9.0, 14.5)  # morning and afternoon sun-synchronous orbits
MIN_SUN_ELEVATION_DEG = 15.0
GSD_RANGE_M = (4.0, 40.0)  # log-uniform: CubeSat to Landsat class
MEAN_CLOUD_COVER_RANGE = (0.0, 1.0)
CIRRUS_SHARE_RANGE = (0.0, 0.5)
DECK_SHARE_RANGE = (0.0, 0.4)
CLOUD_HEIGHT_RANGE_M = (500.0, 4000.0)
PSF_SIGMA_RANGE_PX = (0.3, 1.0)
READ_NOISE_RANGE_DN = (1.0, 4.0)
FULL_WELL_RANGE_E = (10_000.0, 40_000.0)
BIT_DEPTH = 12
CONFOUNDER_FRACTION = 0.05  # a frame with this much snow, desert or urban ground is always kept ...
PLAIN_KEEP_PROBABILITY = 0.5  # ... others only with this probability, to over-sample bright ground


@dataclass(frozen=True)
class FrameDraw:
    """Everything that decides one frame: where, when, which world, and which camera."""

    world_seed: int
    mean_cloud_cover: float
    cirrus_share: float
    deck_share: float
    cloud_height_m: float
    lat_deg: float
    lon_deg: float
    time_utc: datetime
    sun_elevation_deg: float
    sun_azimuth_deg: float
    gsd_m: float
    psf_sigma_px: float
    read_noise_dn: float
    full_well_e: float


@dataclass
class CloudFrames:
    """A set of frames: ``toa`` (N, H, W, 4) float16 TOA reflectance in SYNTHETIC_BANDS order (B, G, R, NIR),
    truth ``cloud`` (N, H, W) uint8 (0 clear, 1 thin, 2 thick) and ``landcover`` (N, H, W) uint8, and the draws."""

    toa: np.ndarray
    cloud: np.ndarray
    landcover: np.ndarray
    draws: list[FrameDraw]

    @property
    def label(self) -> np.ndarray:
        """(N, H, W) bool training label: cloud, thin or thick."""
        return self.cloud != CLOUD_CLEAR

    def bands(self, names: Sequence[str], frames: slice | np.ndarray = slice(None)) -> np.ndarray:
        """``toa`` of ``frames`` (default all) restricted to ``names`` (of SYNTHETIC_BANDS, in the order given)."""
        return self.toa[frames][..., [SYNTHETIC_BANDS.index(name) for name in names]]


def in_split(split: str, zone: int) -> bool:
    """Whether UTM ``zone`` belongs to ``split``'s regions."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}. Choose from {SPLITS}")
    return (zone in HELDOUT_ZONES) == (split == "heldout")


def draw_sunlit_place(split: str, rng: np.random.Generator) -> tuple[float, float, datetime, float]:
    """``(lat_deg, lon_deg, time_utc, sun_elevation_deg)``: a place inside ``split``'s UTM zones at a daytime when
    the sun is at least MIN_SUN_ELEVATION_DEG high, drawn until one qualifies."""
    sin_lo, sin_hi = (math.sin(math.radians(d)) for d in LATITUDE_RANGE_DEG)
    while True:
        lat = math.degrees(math.asin(rng.uniform(sin_lo, sin_hi)))
        lon = rng.uniform(-180.0, 180.0)
        day = int(rng.integers(0, 365))
        local_h = rng.uniform(*LOCAL_SOLAR_TIME_RANGE_H)
        if not in_split(split, utm_zone(lon, lat)[0]):
            continue
        time_utc = (YEAR_START_UTC + timedelta(days=day, hours=local_h - lon / 15.0)).replace(microsecond=0)
        elevation = float(sun.sun_elevation_deg(lat, lon, time_utc, 0.0))
        if elevation >= MIN_SUN_ELEVATION_DEG:
            return float(lat), float(lon), time_utc, elevation


def _draw(split: str, rng: np.random.Generator) -> FrameDraw:
    """One frame's conditions: a sunlit place inside ``split``'s regions, then its world, weather and camera."""
    seeds = TRAIN_WORLD_SEEDS if split == "train" else HELDOUT_WORLD_SEEDS
    lat, lon, time_utc, elevation = draw_sunlit_place(split, rng)
    azimuth = float(sun.sun_azimuth_deg(lat, lon, time_utc, 0.0))
    return FrameDraw(
        world_seed=int(rng.integers(seeds.start, seeds.stop)),
        mean_cloud_cover=float(rng.uniform(*MEAN_CLOUD_COVER_RANGE)),
        cirrus_share=float(rng.uniform(*CIRRUS_SHARE_RANGE)),
        deck_share=float(rng.uniform(*DECK_SHARE_RANGE)),
        cloud_height_m=float(rng.uniform(*CLOUD_HEIGHT_RANGE_M)),
        lat_deg=float(lat), lon_deg=float(lon), time_utc=time_utc,
        sun_elevation_deg=elevation, sun_azimuth_deg=azimuth,
        gsd_m=float(round(math.exp(rng.uniform(*np.log(GSD_RANGE_M))), 1)),
        psf_sigma_px=float(rng.uniform(*PSF_SIGMA_RANGE_PX)),
        read_noise_dn=float(rng.uniform(*READ_NOISE_RANGE_DN)),
        full_well_e=float(rng.uniform(*FULL_WELL_RANGE_E)))


def camera_spec(draw: FrameDraw, size_px: int) -> CameraConfig:
    """The camera of one frame: ``size_px`` square, all four bands, the draw's GSD, PSF and noise."""
    return CameraConfig(width_px=size_px, height_px=size_px, gsd_m=draw.gsd_m, bands=SYNTHETIC_BANDS,
                        bit_depth=BIT_DEPTH, psf_sigma_px=draw.psf_sigma_px, read_noise_dn=draw.read_noise_dn,
                        full_well_e=draw.full_well_e)


def render(draw: FrameDraw, size_px: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One frame through the camera: TOA reflectance (H, W, 4) float32 after calibration, truth cloud (H, W)
    uint8 and land cover (H, W) uint8."""
    world = SyntheticWorld(draw.world_seed, draw.mean_cloud_cover, cloud_height_m=draw.cloud_height_m,
                           cirrus_share=draw.cirrus_share, deck_share=draw.deck_share)
    zone, south = utm_zone(draw.lon_deg, draw.lat_deg)
    footprint = GridFootprint.centred(draw.lat_deg, draw.lon_deg, epsg_code(zone, south), draw.gsd_m, size_px, size_px)
    spec = camera_spec(draw, size_px)
    frame = camera.capture(spec, world, footprint, draw.time_utc, draw.sun_elevation_deg, draw.sun_azimuth_deg,
                           rng, frame_id="training", satellite="training", t_s=0.0)
    return camera.dn_to_reflectance(frame.dn, spec), frame.truth.cloud, frame.truth.landcover


def make_frames(split: str, count: int, size_px: int, seed: int, oversample_bright: bool = True) -> CloudFrames:
    """``count`` frames of ``size_px`` square for ``split``, a pure function of the arguments.

    With ``oversample_bright``, frames with at least CONFOUNDER_FRACTION of snow, desert or urban ground are always
    kept, others with PLAIN_KEEP_PROBABILITY, so bright ground that is not cloud is well represented; without it,
    every draw is kept and the frames sample the world's own mix of ground.
    """
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}. Choose from {SPLITS}")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    rng = np.random.default_rng([seed, _SPLIT_KEYS[split]])
    toa = np.empty((count, size_px, size_px, len(SYNTHETIC_BANDS)), np.float16)
    cloud = np.empty((count, size_px, size_px), np.uint8)
    landcover = np.empty((count, size_px, size_px), np.uint8)
    draws: list[FrameDraw] = []
    while len(draws) < count:
        draw = _draw(split, rng)
        frame_toa, frame_cloud, frame_landcover = render(draw, size_px, np.random.default_rng(rng.integers(2**63)))
        bright = np.isin(frame_landcover, (SNOW, DESERT, URBAN)).mean()
        if oversample_bright and bright < CONFOUNDER_FRACTION and rng.random() >= PLAIN_KEEP_PROBABILITY:
            continue
        k = len(draws)
        toa[k], cloud[k], landcover[k] = frame_toa, frame_cloud, frame_landcover
        draws.append(draw)
    return CloudFrames(toa, cloud, landcover, draws)
