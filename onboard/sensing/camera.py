"""The imager: turns a world's TOA reflectance in a footprint into digital numbers, with optics blur and noise.

Radiometric calibration is linear with no offset: ``DN = reflectance * dn_max / reflectance_max``, where
``dn_max = 2**bit_depth - 1``. TOA reflectance 0 reads DN 0 and ``reflectance_max`` (1.2, above the brightest
cloud or snow) fills the full well and reads ``dn_max``; brighter saturates. Noise is photon shot
noise (``full_well_e`` electrons at ``dn_max``) plus read noise, drawn as one Gaussian per sample (the shot noise
of >= ~20 electrons is near Gaussian), then rounded and clipped to ``[0, dn_max]``; a pixel that reads 0 in every
band reads 1 (0 in every band is a product's fill, :data:`rundir.codec.FILL_DN`). The camera is the scenario's
:class:`~onboard.scenario.spacecraft_config.CameraConfig`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import cv2
import numpy as np

from rundir.codec import FILL_DN, reserve_fill

from ..scenario.spacecraft_config import CameraConfig
from .projection import GridFootprint, crs_for
from .world import Scene, World


def frame_footprint(camera: CameraConfig, lat_deg: float, lon_deg: float, epsg: int | None = None) -> GridFootprint:
    """The camera's frame grid centred on a point, in ``epsg`` (default: the point's own UTM zone, or UPS beyond
    80 S and 84 N: :func:`~onboard.sensing.projection.crs_for`), snapped to the GSD."""
    if epsg is None:
        epsg = crs_for(lat_deg, lon_deg)
    return GridFootprint.centred(lat_deg, lon_deg, epsg, camera.gsd_m, camera.width_px, camera.height_px)


@dataclass
class Frame:
    """One captured frame: the digital numbers that go to storage, and the truth that never leaves the ground."""

    frame_id: str
    satellite: str
    t_s: float
    time_utc: datetime
    footprint: GridFootprint
    dn: np.ndarray  # (H, W, B) uint16 digital numbers, < 2**bit_depth, bands as CameraConfig.bands
    truth: Scene  # the world in the footprint, without blur or noise; kept apart, never downlinked
    burst: Any = None  # onboard.sensing.burst.Burst when the camera took K frames; dn is then its frame 0


def valid_weight(blurred_valid: np.ndarray) -> np.ndarray:
    """The share of a blur's weight on the world at each pixel (the validity mask blurred by the same filter), with
    no world at all read as 1: the divisor of a normalised convolution, whose result there is fill anyway."""
    return np.where(blurred_valid > 1e-6, blurred_valid, np.float32(1.0))


def dn_to_reflectance(dn: np.ndarray, spec: CameraConfig) -> np.ndarray:
    """Inverse calibration: DN (any shape) to float32 TOA reflectance."""
    return np.asarray(dn, dtype=np.float32) * np.float32(spec.reflectance_max / spec.dn_max)


def capture(spec: CameraConfig, world: World, footprint: GridFootprint, time_utc: datetime, sun_elevation_deg: float,
            sun_azimuth_deg: float, rng: np.random.Generator, frame_id: str, satellite: str, t_s: float) -> Frame:
    """Image ``footprint``: render the world, blur by the PSF, add shot and read noise from ``rng``, quantise.

    The PSF is OpenCV's Gaussian kernel of ``psf_sigma_px`` sampled on the frame's own grid, with no detector pixel
    after it: a simplification. At 0.5 px that kernel's MTF at Nyquist is 0.57 (measured 0.576 at 0.48 cycles/px),
    where the continuous Gaussian's is ``exp(-pi^2 sigma^2 / 2)`` = 0.29 and a burst frame of the same camera, which
    has the pixel too (:mod:`onboard.sensing.burst`), 0.21: single frames are sharper than a real camera's and than
    the bursts'.

    The scene is rendered with a margin of 3 PSF sigmas so the blur needs no made-up border: neighbouring frames
    agree up to noise. Beside pixels with no world (``truth.valid`` false) the blur is normalised by the share of
    its weight that falls on the world (normalised convolution, Knutsson & Westin 1993), so the edge of real imagery
    keeps its brightness: blurred with the fill's 0, a 0.5 px PSF darkened the pixels beside it by ~10 %. Pixels
    where the world has no data (``truth.valid`` false: off a GeoTIFF's data) hold :data:`rundir.codec.FILL_DN` in
    every band. ``footprint`` must match the camera's frame size and GSD.
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
        def blur(plane: np.ndarray) -> np.ndarray:
            return cv2.GaussianBlur(plane, (0, 0), spec.psf_sigma_px, borderType=cv2.BORDER_REFLECT)

        signal_dn = np.dstack([blur(signal_dn[..., b]) for b in range(len(spec.bands))])
        if not scene.valid.all():  # off a GeoTIFF's data: the PSF spreads only the ground there is
            signal_dn /= valid_weight(blur(scene.valid.astype(np.float32)))[..., None]
    signal_dn = np.maximum(signal_dn[inner], 0)
    sigma_dn = np.sqrt(signal_dn / np.float32(spec.electrons_per_dn) + np.float32(spec.read_noise_dn**2))
    noisy = signal_dn + sigma_dn * rng.standard_normal(signal_dn.shape, dtype=np.float32)
    dn = reserve_fill(np.clip(np.rint(noisy), 0, spec.dn_max).astype(np.uint16))
    truth = Scene(*(np.ascontiguousarray(layer[inner]) for layer in
                    (scene.reflectance, scene.cloud, scene.shadow, scene.landcover, scene.valid)))
    dn[~truth.valid] = FILL_DN  # no world there (off a GeoTIFF's data): the product says so, in every band
    return Frame(frame_id, satellite, t_s, time_utc, footprint, dn, truth)

