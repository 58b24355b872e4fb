"""Burst imaging: K low-res frames of one scene, each seen through its own sub-pixel pointing jitter, for
multi-frame super-resolution, with the high-res truth kept apart.

The scene is rendered once, at ``gsd_m / scale`` on the low-res footprint (plus a margin). Every frame then sees
it through the same optics - a Gaussian point-spread function (PSF), then the detector's square pixel
(``scale`` x ``scale`` high-res pixels, 100 % fill factor) - sampled at the low-res pixel grid moved by that
frame's jitter, with shot and read noise and quantisation as in :func:`onboard.sensing.camera.capture`. The Gaussian
is the optics (and residual motion blur): its MTF at Nyquist is ``exp(-2 pi^2 sigma^2 f_N^2)`` with
``f_N = 0.5`` cycles/px; the system MTF is that times the pixel's, the mean of ``scale`` x ``scale`` high-res samples:
``sin(pi f) / (scale sin(pi f / scale))`` (0.71 at x2, 0.67 at x3; a continuous pixel's ``sinc(0.5)`` is 0.64), so
0.21 at Nyquist for sigma 0.5 px at x2 (measured 0.234 at 0.48 cycles/px, as predicted).

Shift convention (used by :mod:`onboard.pipeline.registration` and :mod:`onboard.pipeline.fusion` too): frame k has shift
``(dy, dx)`` in low-res px when its pixel ``(i, j)`` sees the ground that frame 0's pixel ``(i + dy, j + dx)``
sees - ``dy`` towards the south (down the rows), ``dx`` towards the east. Frame 0 is the reference, shift 0.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from rundir.codec import FILL_DN, reserve_fill
from rundir.truth import CLOUD_THICK, CLOUD_THIN, is_cloud

from .camera import dn_to_reflectance, valid_weight
from .noise import sample_lattice
from ..scenario.spacecraft_config import CameraConfig
from .projection import GridFootprint
from .world import Scene, World

_CLOUD_REFLECTANCE = 0.8  # TOA reflectance of a frame cloud's bright core, all bands (grey)
_CLOUD_SCALES_M = (1200.0, 600.0, 300.0)  # value-noise cell sizes of the frame cloud layer, coarse to fine
THICK_OPACITY = 0.9  # a frame cloud at least this opaque is flagged thick; below, thin
_WORLD_CLOUD_SHARE = 1e-3  # a low-res pixel is cloudy when this much of its PSF-weighted footprint is world cloud
# the high-res layers filtered at once: by the optics' Gaussian, and as a frame is sampled from them
SAMPLE_STRIP_BYTES = 64 << 20


class BurstError(ValueError):
    """Burst parameters that cannot be imaged; carries the offending parameter and its value."""

    def __init__(self, parameter: str, value: object, expected: str):
        self.parameter = parameter
        self.value = value
        super().__init__(f"{parameter} must be {expected}, got {value!r}")


@dataclass
class Burst:
    """K low-res frames of one footprint and the high-res truth behind them (never downlinked)."""

    lr_dn: np.ndarray  # (K, H, W, B) uint16 digital numbers at the camera's bit depth
    shifts_px: np.ndarray  # (K, 2) float64 true (dy, dx) of each frame in low-res px; row 0 is (0, 0)
    lr_cloud: np.ndarray  # (K, H, W) bool: cloud (the world's, or the frame's own drifting layer) or no data
    hr_truth: np.ndarray  # (H * scale, W * scale, B) float32 TOA reflectance of the scene at time_utc: a view of the
    # rendered scene, whose margin of a few pixels it keeps alive, or with ``spill_dir`` a read-only np.memmap
    hr_clear: np.ndarray  # (H * scale, W * scale) bool: clear ground in the truth that some frame sees clear
    footprint_lr: GridFootprint
    scale: int
    spec: CameraConfig  # the camera (its calibration turns lr_dn into reflectance)
    psf_sigma_lr_px: float  # Gaussian PSF sigma actually used, low-res px
    truth_lr: Scene  # frame 0's ground truth on the low-res grid, its own drifting clouds included

    @property
    def k(self) -> int:
        """Number of frames."""
        return int(self.lr_dn.shape[0])

    def lr_reflectance(self) -> np.ndarray:
        """(K, H, W, B) float32 TOA reflectance of the frames through the camera's calibration."""
        return dn_to_reflectance(self.lr_dn, self.spec)


def psf_sigma_from_mtf(mtf_nyquist: float) -> float:
    """Sigma (px) of the Gaussian PSF whose MTF at Nyquist (0.5 cycles/px) is ``mtf_nyquist`` (0 < MTF < 1)."""
    if not 0.0 < mtf_nyquist < 1.0:
        raise BurstError("mtf_nyquist", mtf_nyquist, "in (0, 1)")
    return math.sqrt(-2.0 * math.log(mtf_nyquist)) / math.pi


def high_res_footprint(footprint_lr: GridFootprint, scale: int) -> GridFootprint:
    """The same ground as ``footprint_lr`` on a grid ``scale`` times finer."""
    return dataclasses.replace(footprint_lr, gsd_m=footprint_lr.gsd_m / scale, width_px=footprint_lr.width_px * scale,
                               height_px=footprint_lr.height_px * scale)


def _psf_sigma(spec: CameraConfig, mtf_nyquist: float | None, psf_sigma_lr_px: float | None) -> float:
    if mtf_nyquist is not None and psf_sigma_lr_px is not None:
        raise BurstError("mtf_nyquist", mtf_nyquist, "None when psf_sigma_lr_px is given")
    if psf_sigma_lr_px is not None:
        if psf_sigma_lr_px < 0:
            raise BurstError("psf_sigma_lr_px", psf_sigma_lr_px, ">= 0")
        return float(psf_sigma_lr_px)
    if mtf_nyquist is not None:
        return psf_sigma_from_mtf(mtf_nyquist)
    return spec.psf_sigma_px


def _jitter(rng: np.random.Generator, k: int, jitter_px: float) -> np.ndarray:
    """(k, 2) shifts uniform in [-jitter_px, jitter_px); the first is (0, 0)."""
    shifts = rng.uniform(-jitter_px, jitter_px, (k, 2))
    shifts[0] = 0.0
    return shifts


def _catmull_rom(t: float) -> tuple[int, np.ndarray]:
    """First of the 4 nodes around position ``t`` and their Catmull-Rom weights (exact on linear ramps)."""
    i = math.floor(t)
    f = t - i
    return i - 1, np.array([(-f**3 + 2 * f**2 - f) / 2, (3 * f**3 - 5 * f**2 + 2) / 2,
                            (-3 * f**3 + 4 * f**2 + f) / 2, (f**3 - f**2) / 2], np.float32)


def _sample(layers: np.ndarray, row0: float, col0: float, step: int, h: int, w: int) -> np.ndarray:
    """(h, w, C) values of ``layers`` (H, W, C) at rows ``row0 + step * i`` and columns ``col0 + step * j``.

    Every sample has the same fractional offset, so the interpolation is one 4-tap filter per axis, then a
    decimation. The filter runs on strips of rows of about SAMPLE_STRIP_BYTES, each holding the 4 rows its
    samples need: the same values as filtering ``layers`` whole, without a filtered copy of all of it.
    """
    first_row, row_weights = _catmull_rom(row0)
    first_col, col_weights = _catmull_rom(col0)
    out = np.empty((h, w, layers.shape[2]), layers.dtype)
    strip = max(1, SAMPLE_STRIP_BYTES // (step * layers[0].nbytes))
    for i0 in range(0, h, strip):
        i1 = min(h, i0 + strip)
        rows = layers[first_row + step * i0:first_row + step * (i1 - 1) + 4]
        filtered = cv2.sepFilter2D(rows, -1, col_weights, row_weights, anchor=(0, 0),
                                   borderType=cv2.BORDER_REFLECT).reshape(rows.shape)
        out[i0:i1] = filtered[:step * (i1 - 1 - i0) + 1:step, first_col:first_col + step * (w - 1) + 1:step]
    return out


def _nearest(layer: np.ndarray, row0: float, col0: float, step: int, h: int, w: int) -> np.ndarray:
    """(h, w) values of ``layer`` (H, W) nearest to the centres of a frame's pixels, rows ``row0 + step * i +
    step // 2`` (columns alike): where :func:`_low_res_truth` samples frame 0's class layers."""
    rows = np.clip(np.floor(row0 + step * np.arange(h) + step // 2).astype(int), 0, layer.shape[0] - 1)
    cols = np.clip(np.floor(col0 + step * np.arange(w) + step // 2).astype(int), 0, layer.shape[1] - 1)
    return layer[rows[:, None], cols[None, :]]


def _cloud_layer(rng: np.random.Generator, height_px: int, width_px: int, gsd_m: float, cover: float) -> np.ndarray:
    """(height_px, width_px) float32 cloud opacity 0..1, cumulus-like value noise covering ``cover`` of the area.

    Each scale is a lattice of normal node values ``cell_m`` apart (at least 2 px), interpolated at the pixel centres
    only (:func:`.noise.sample_lattice`), so memory stays (height_px, width_px) at any GSD."""
    field = np.zeros((height_px, width_px), np.float32)
    for k, cell_m in enumerate(_CLOUD_SCALES_M):
        cell_px = max(cell_m / gsd_m, 2.0)
        nodes = rng.standard_normal((int(height_px / cell_px) + 4, int(width_px / cell_px) + 4)).astype(np.float32)
        rows, cols = ((np.arange(n) + 0.5) / cell_px + 1.0 for n in (height_px, width_px))
        field += sample_lattice(nodes, rows, cols) * np.float32(0.6**k)
    level = np.quantile(field, 1.0 - cover)
    excess = (field - level) / max(float(field.std()), 1e-6)
    return np.where(excess > 0, np.minimum(0.15 + 2.5 * excess, 1.0), 0.0).astype(np.float32)


def capture_burst(spec: CameraConfig, world: World, footprint_lr: GridFootprint, time_utc: datetime,
                  sun_elevation_deg: float, sun_azimuth_deg: float, rng: np.random.Generator, k: int = 8,
                  scale: int = 2, mtf_nyquist: float | None = None, psf_sigma_lr_px: float | None = None,
                  cloud_per_frame: bool = True, jitter_px: float = 1.0, frame_cloud_cover: float = 0.1,
                  cloud_drift_px: float = 2.0, spill_dir: Path | None = None) -> Burst:
    """Image ``footprint_lr`` K times in quick succession.

    The PSF is a Gaussian of ``psf_sigma_lr_px`` (low-res px), or the one with ``mtf_nyquist``, or the camera's
    ``psf_sigma_px``. Each frame after the first is displaced by a jitter uniform in ``[-jitter_px, jitter_px)``
    per axis. With ``cloud_per_frame`` a layer of cumulus covering ``frame_cloud_cover`` of the frame drifts by
    ``cloud_drift_px`` low-res px per frame (a random direction) over the world's own clouds, so that every
    frame is cloudy somewhere else; it is not in the truth, but ground it hides in every frame is not
    ``hr_clear``: nothing could restore it. Noise comes from ``rng``. ``footprint_lr`` must
    match the camera's frame size and GSD. With ``spill_dir`` the high-res truth goes to a file there before the
    optics are made (:func:`_spilled`), and the rendered scene is let go before the frames are imaged: a 4096 x 3072
    burst at x2 then never holds the scene (1 GB) beside the optics (1 GB) and the frames (0.8 GB).
    """
    _check_burst(spec, footprint_lr, k, scale, frame_cloud_cover, jitter_px, cloud_drift_px)
    sigma_lr = _psf_sigma(spec, mtf_nyquist, psf_sigma_lr_px)
    h, w, s = footprint_lr.height_px, footprint_lr.width_px, scale
    margin = s * (math.ceil(jitter_px) + 1) + math.ceil(4.0 * sigma_lr * s) + 2  # OpenCV truncates at 4 sigma
    wide = high_res_footprint(footprint_lr, s).window(-margin, -margin, h * s + 2 * margin, w * s + 2 * margin)
    scene = world.render(wide, time_utc, sun_elevation_deg, sun_azimuth_deg, spec.bands)
    inner = (slice(margin, margin + h * s), slice(margin, margin + w * s))
    cloudy = is_cloud(scene.cloud)
    hr_clear = ~cloudy[inner] & scene.valid[inner]
    no_world = None if scene.valid.all() else ~scene.valid  # off a GeoTIFF's data
    shifts = _jitter(rng, k, jitter_px)
    drift = cloud_drift_px * np.array([math.sin(a := rng.uniform(0, 2 * math.pi)), math.cos(a)])
    reach = math.ceil(cloud_drift_px * (k - 1)) + 1
    clouds = (_cloud_layer(rng, h + 2 * reach, w + 2 * reach, spec.gsd_m, frame_cloud_cover)
              if cloud_per_frame and frame_cloud_cover > 0 else None)
    truth_lr = _low_res_truth(scene, inner, s, clouds[reach:reach + h, reach:reach + w] if clouds is not None else None)
    hr_truth = scene.reflectance[inner] if spill_dir is None else _spilled(scene.reflectance[inner], spill_dir)
    reflectance, valid = scene.reflectance, scene.valid
    del scene  # its cloud, shadow and land cover layers go before the optics are made
    layers = _optics(reflectance, valid, cloudy, spec, sigma_lr, s)
    del reflectance, valid  # spilled, the truth is in the file: the scene's reflectance goes too
    lr_dn, lr_cloud = _frames(layers, margin, (h, w, s), shifts, clouds, reach + np.rint(np.outer(range(k), drift)),
                              no_world, spec, rng)
    del layers  # 1 GB for a 4096 x 3072 burst at x2
    hr_clear &= _seen_clear(lr_cloud, shifts, s)
    return Burst(lr_dn, shifts, lr_cloud, hr_truth, hr_clear, footprint_lr, s, spec, sigma_lr, truth_lr)


def _frames(layers: np.ndarray, margin: int, grid: tuple[int, int, int], shifts: np.ndarray,
            clouds: np.ndarray | None, cloud_origins: np.ndarray, no_world: np.ndarray | None, spec: CameraConfig,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(lr_dn (K, H, W, B) uint16, lr_cloud (K, H, W) bool)``: the K frames sampled from the optics' ``layers``
    (:func:`_optics`, a ``margin`` of high-res px around the frame's ``grid`` (H, W, scale)) at their ``shifts``,
    each with the frame cloud layer ``clouds`` from its row and column ``cloud_origins`` (K, 2) blended in and its
    noise from ``rng``, a strip of SAMPLE_STRIP_BYTES of layers' rows at a time (the noise drawn in the order of the
    whole frame's); fill where the frame's pixel centre falls on ``no_world``."""
    (h, w, s), n_bands = grid, layers.shape[2] - 1
    cloud_dn = np.float32(_CLOUD_REFLECTANCE * spec.dn_max / spec.reflectance_max)
    lr_dn = np.empty((len(shifts), h, w, n_bands), np.uint16)
    lr_cloud = np.empty((len(shifts), h, w), bool)
    strip = max(1, SAMPLE_STRIP_BYTES // (s * layers[0].nbytes))  # low-res rows imaged at a time
    for f, (dy, dx) in enumerate(shifts):
        r0, c0 = cloud_origins[f].astype(int)
        for i0 in range(0, h, strip):  # in order: the noise is drawn as for the whole frame at once
            i1 = min(h, i0 + strip)
            rows = _sample(layers, margin + s * (dy + i0), margin + s * dx, s, i1 - i0, w)
            signal = np.ascontiguousarray(rows[..., :n_bands])
            lr_cloud[f, i0:i1] = rows[..., n_bands] > _WORLD_CLOUD_SHARE
            del rows
            if clouds is not None:
                opacity = clouds[r0 + i0:r0 + i1, c0:c0 + w, None]
                _blend_cloud(signal, opacity, cloud_dn)
                lr_cloud[f, i0:i1] |= opacity[..., 0] > 0
            lr_dn[f, i0:i1] = _detect(signal, spec, rng)
        reserve_fill(lr_dn[f])
        if no_world is not None:  # fill, as camera.capture writes it, where the frame's pixel centre has no world
            lr_dn[f][_nearest(no_world, margin + s * dy, margin + s * dx, s, h, w)] = FILL_DN
    return lr_dn, lr_cloud


def _blend_cloud(signal: np.ndarray, opacity: np.ndarray, cloud_dn: np.float32) -> None:
    """A frame's own cloud of ``opacity`` (h, w, 1) 0..1 blended in place over its ``signal`` (h, w, B) float32 DN,
    towards ``cloud_dn`` times 0.75 (thin) to 1 (opaque)."""
    towards = cloud_dn * (0.75 + 0.25 * opacity) - signal
    towards *= opacity
    signal += towards


def _check_burst(spec: CameraConfig, footprint_lr: GridFootprint, k: int, scale: int, frame_cloud_cover: float,
                 jitter_px: float, cloud_drift_px: float) -> None:
    """BurstError naming the first argument of :func:`capture_burst` that it cannot take."""
    if (footprint_lr.width_px, footprint_lr.height_px) != (spec.width_px, spec.height_px) or \
            footprint_lr.gsd_m != spec.gsd_m:
        raise BurstError("footprint_lr", footprint_lr, f"{spec.width_px}x{spec.height_px} px at {spec.gsd_m} m "
                                                       "like the camera")
    if k < 1:
        raise BurstError("k", k, ">= 1")
    if scale < 1:
        raise BurstError("scale", scale, ">= 1")
    if not 0.0 <= frame_cloud_cover < 1.0:
        raise BurstError("frame_cloud_cover", frame_cloud_cover, "in [0, 1)")
    if jitter_px < 0 or cloud_drift_px < 0:
        raise BurstError("jitter_px" if jitter_px < 0 else "cloud_drift_px", min(jitter_px, cloud_drift_px), ">= 0")


def _optics(reflectance: np.ndarray, valid: np.ndarray, cloudy: np.ndarray, spec: CameraConfig, sigma_lr: float,
            s: int) -> np.ndarray:
    """Optics and detector footprint, shared by all frames, of a scene's ``reflectance`` (H', W', B) float32 and
    ``valid`` (H', W') bool: (H', W', B + 1) float32, the signal in DN and, as a last channel, where the ground is
    unusable (``cloudy``, no data), blurred by the PSF (``sigma_lr`` low-res px) and by the square pixel of ``s``
    high-res samples; beside ground with no world, normalised by the share of their weight on the world
    (:func:`onboard.sensing.camera.valid_weight`)."""
    n_bands = len(spec.bands)
    layers = np.empty(reflectance.shape[:2] + (n_bands + 1,), np.float32)
    np.multiply(reflectance, np.float32(spec.dn_max / spec.reflectance_max), out=layers[..., :n_bands])
    layers[..., n_bands] = cloudy | ~valid

    def optics(planes: np.ndarray) -> np.ndarray:
        # dst = src: the box filter runs in place; the Gaussian, which makes its own copy, runs strip by strip
        if sigma_lr > 0:
            _gaussian_in_place(planes, sigma_lr * s)
        # NOTE: the box's anchor (0, 0) puts the mean of high-res pixels x .. x + s - 1 at x, so low-res pixel i of
        # a frame shifted by d samples position margin + s * (i + d) of the filtered layers.
        cv2.blur(planes, (s, s), dst=planes, anchor=(0, 0), borderType=cv2.BORDER_REFLECT)
        return planes

    optics(layers)
    if not valid.all():  # off a GeoTIFF's data: the optics spread only the ground there is (camera.capture)
        layers[..., :n_bands] /= valid_weight(optics(valid.astype(np.float32)))[..., None]
    return layers


def _spilled(image: np.ndarray, folder: Path) -> np.ndarray:
    """``image`` written, SAMPLE_STRIP_BYTES at a time, to an unnamed file in ``folder`` (made if need be; gone once
    no array maps it) and mapped back read-only (np.memmap): the same values, on disk and in the page cache rather
    than in the process's own memory."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = max(1, SAMPLE_STRIP_BYTES // image[0].nbytes)
    with tempfile.TemporaryFile(dir=folder) as file:
        for r0 in range(0, image.shape[0], rows):
            file.write(np.ascontiguousarray(image[r0:r0 + rows]).data)
        file.flush()
        return np.memmap(file, image.dtype, "r", shape=image.shape)


def _gaussian_in_place(planes: np.ndarray, sigma_px: float) -> None:
    """``cv2.GaussianBlur`` of ``planes`` (H, W[, C]) float32 (reflected borders) in place, strips of rows of about
    SAMPLE_STRIP_BYTES at a time, each blurred with the rows its kernel reaches beyond it: the same values as blurring
    it whole, without OpenCV's copy of all of it (1 GB for a 4096 x 3072 burst at x2). OpenCV's kernel for float32
    has ``cvRound(8 sigma + 1) | 1`` taps (``getGaussianKernel``)."""
    reach = (round(8 * sigma_px + 1) | 1) // 2 + 1
    height = planes.shape[0]
    rows = max(reach, SAMPLE_STRIP_BYTES // planes[0].nbytes)
    above = planes[:0].copy()  # the rows above the strip as they were before the strip above it was blurred
    for r0 in range(0, height, rows):
        r1 = min(height, r0 + rows)
        strip, skip = np.concatenate([above, planes[r0:r1 + reach]]), len(above)
        above = planes[max(r1 - reach, 0):r1].copy()
        blurred = cv2.GaussianBlur(strip, (0, 0), sigma_px, borderType=cv2.BORDER_REFLECT).reshape(strip.shape)
        planes[r0:r1] = blurred[skip:skip + r1 - r0]


def _detect(signal: np.ndarray, spec: CameraConfig, rng: np.random.Generator) -> np.ndarray:
    """One frame's (H, W, B) float32 signal in DN (changed in place) with shot and read noise from ``rng``,
    rounded and clipped to the camera's bit depth: the DN it records."""
    np.maximum(signal, 0, out=signal)
    noise_dn = signal * np.float32(1.0 / spec.electrons_per_dn)
    noise_dn += np.float32(spec.read_noise_dn ** 2)
    np.sqrt(noise_dn, out=noise_dn)
    noise_dn *= rng.standard_normal(signal.shape, dtype=np.float32)
    signal += noise_dn
    np.rint(signal, out=signal)
    np.clip(signal, 0, spec.dn_max, out=signal)
    return signal


def _seen_clear(lr_cloud: np.ndarray, shifts: np.ndarray, s: int) -> np.ndarray:
    """(H*s, W*s) bool: high-res cells that at least one frame of ``lr_cloud`` (K, H, W) sees clear, each frame
    shifted by its ``shifts`` (K, 2) low-res px."""
    _, h, w = lr_cloud.shape
    seen = np.zeros((h * s, w * s), bool)
    centres = (np.arange(h * s) + 0.5) / s, (np.arange(w * s) + 0.5) / s  # high-res centres in low-res px
    for f, (dy, dx) in enumerate(shifts):
        rows = np.clip(np.floor(centres[0] - dy).astype(int), 0, h - 1)
        cols = np.clip(np.floor(centres[1] - dx).astype(int), 0, w - 1)
        seen |= ~lr_cloud[f][rows[:, None], cols[None, :]]
    return seen


def _low_res_truth(scene: Scene, inner: tuple[slice, slice], scale: int, opacity: np.ndarray | None) -> Scene:
    """Frame 0's truth on the low-res grid: reflectance averaged over each pixel's ``scale`` x ``scale`` high-res
    cells, class layers sampled at the pixel centre, and the frame's own cloud layer (``opacity`` (H, W)) as thin
    or thick cloud."""
    centre = (slice(scale // 2, None, scale), slice(scale // 2, None, scale))
    hr = scene.reflectance[inner]
    h, w = hr.shape[0] // scale, hr.shape[1] // scale
    reflectance = hr.reshape(h, scale, w, scale, -1).mean(axis=(1, 3), dtype=np.float32)
    cloud, shadow, landcover, valid = (np.ascontiguousarray(layer[inner][centre])
                                       for layer in (scene.cloud, scene.shadow, scene.landcover, scene.valid))
    if opacity is not None:
        cloud = np.where(opacity >= THICK_OPACITY, CLOUD_THICK,
                         np.where((opacity > 0) & (cloud != CLOUD_THICK), CLOUD_THIN, cloud)).astype(cloud.dtype)
    return Scene(reflectance, cloud, shadow, landcover, valid)
