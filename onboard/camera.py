"""The imager: turns a world's TOA reflectance in a footprint into digital numbers, with optics blur and noise.

Radiometric calibration is linear with no offset: ``DN = reflectance * dn_max / reflectance_max``, where
``dn_max = 2**bit_depth - 1``. TOA reflectance 0 reads DN 0 and ``reflectance_max`` (1.2 by default, above the
brightest cloud or snow) fills the full well and reads ``dn_max``; brighter saturates. Noise is photon shot
noise (``full_well_e`` electrons at ``dn_max``) plus read noise, drawn as one Gaussian per sample (the shot noise
of >= ~20 electrons is near Gaussian), then rounded and clipped to ``[0, dn_max]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import cv2
import numpy as np

from rundir.codec import packed_size_bytes

from .projection import GridFootprint, crs_for
from .world import Scene, World


@dataclass(frozen=True)
class CameraSpec:
    """A push-frame imager: frame size, ground sample distance, bands and radiometry."""

    width_px: int
    height_px: int
    gsd_m: float
    bands: tuple[str, ...] = ("B", "G", "R", "NIR")
    bit_depth: int = 12
    psf_sigma_px: float = 0.5  # Gaussian point-spread function, standard deviation in pixels
    read_noise_dn: float = 1.5  # standard deviation, DN
    full_well_e: float = 20_000.0  # electrons at dn_max
    reflectance_max: float = 1.2  # TOA reflectance that reads dn_max

    def __post_init__(self) -> None:
        if not 1 <= self.bit_depth <= 16:
            raise ValueError(f"bit_depth must be 1..16, got {self.bit_depth}")
        if self.width_px <= 0 or self.height_px <= 0 or self.gsd_m <= 0 or not self.bands:
            raise ValueError(f"camera needs a positive frame size and GSD and at least one band, got {self}")
        if self.psf_sigma_px < 0 or self.read_noise_dn < 0 or self.full_well_e <= 0 or self.reflectance_max <= 0:
            raise ValueError(f"camera needs psf_sigma_px, read_noise_dn >= 0 and full_well_e, reflectance_max > 0, "
                             f"got {self}")

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

    def footprint(self, lat_deg: float, lon_deg: float, epsg: int | None = None) -> GridFootprint:
        """The frame's grid centred on a point, in ``epsg`` (default: the point's own UTM zone, or UPS beyond 80 S
        and 84 N: :func:`~onboard.projection.crs_for`), snapped to the GSD."""
        if epsg is None:
            epsg = crs_for(lat_deg, lon_deg)
        return GridFootprint.centred(lat_deg, lon_deg, epsg, self.gsd_m, self.width_px, self.height_px)


@dataclass
class Frame:
    """One captured frame: the digital numbers that go to storage, and the truth that never leaves the ground."""

    frame_id: str
    satellite: str
    t_s: float
    time_utc: datetime
    footprint: GridFootprint
    dn: np.ndarray  # (H, W, B) uint16 digital numbers, < 2**bit_depth, bands as CameraSpec.bands
    truth: Scene  # the world in the footprint, without blur or noise; kept apart, never downlinked
    burst: Any = None  # onboard.burst.Burst when the camera took K frames; dn is then its frame 0


def reflectance_to_dn(reflectance: np.ndarray, spec: CameraSpec) -> np.ndarray:
    """Noise-free calibration: TOA reflectance (any shape) to uint16 DN, rounded and clipped to [0, dn_max]."""
    dn = np.rint(np.asarray(reflectance, dtype=np.float32) * np.float32(spec.dn_max / spec.reflectance_max))
    return np.clip(dn, 0, spec.dn_max).astype(np.uint16)


def dn_to_reflectance(dn: np.ndarray, spec: CameraSpec) -> np.ndarray:
    """Inverse calibration: DN (any shape) to float32 TOA reflectance."""
    return np.asarray(dn, dtype=np.float32) * np.float32(spec.reflectance_max / spec.dn_max)


def capture(spec: CameraSpec, world: World, footprint: GridFootprint, time_utc: datetime, sun_elevation_deg: float,
            sun_azimuth_deg: float, rng: np.random.Generator, frame_id: str, satellite: str, t_s: float) -> Frame:
    """Image ``footprint``: render the world, blur by the PSF, add shot and read noise from ``rng``, quantise.

    The scene is rendered with a margin of 3 PSF sigmas so the blur needs no made-up border: neighbouring frames
    agree up to noise. ``footprint`` must match the camera's frame size and GSD.
    """
    if (footprint.width_px, footprint.height_px) != (spec.width_px, spec.height_px) or footprint.gsd_m != spec.gsd_m:
        raise ValueError(f"footprint {footprint.width_px}x{footprint.height_px} px at {footprint.gsd_m} m does not "
                         f"match the camera's {spec.width_px}x{spec.height_px} px at {spec.gsd_m} m")
    margin = math.ceil(3.0 * spec.psf_sigma_px)
    wide = footprint.window(-margin, -margin, spec.height_px + 2 * margin, spec.width_px + 2 * margin)
    scene = world.render(wide, time_utc, sun_elevation_deg, sun_azimuth_deg, spec.bands)
    inner = (slice(margin, margin + spec.height_px), slice(margin, margin + spec.width_px))
    signal_dn = scene.reflectance * np.float32(spec.dn_max / spec.reflectance_max)
    if spec.psf_sigma_px > 0:
        signal_dn = np.dstack([cv2.GaussianBlur(signal_dn[..., b], (0, 0), spec.psf_sigma_px,
                                                borderType=cv2.BORDER_REFLECT) for b in range(len(spec.bands))])
    signal_dn = np.maximum(signal_dn[inner], 0)
    sigma_dn = np.sqrt(signal_dn / np.float32(spec.electrons_per_dn) + np.float32(spec.read_noise_dn**2))
    noisy = signal_dn + sigma_dn * rng.standard_normal(signal_dn.shape, dtype=np.float32)
    dn = np.clip(np.rint(noisy), 0, spec.dn_max).astype(np.uint16)
    truth = Scene(*(np.ascontiguousarray(layer[inner]) for layer in
                    (scene.reflectance, scene.cloud, scene.shadow, scene.landcover, scene.valid)))
    return Frame(frame_id, satellite, t_s, time_utc, footprint, dn, truth)

