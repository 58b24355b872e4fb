"""The imager: raw frame size, radiometric calibration, noise statistics, PSF width and determinism; the camera is
the scenario's CameraConfig."""

import dataclasses
import math
from datetime import datetime, timezone

import numpy as np
import pytest

from onboard.sensing.camera import capture, dn_to_reflectance, frame_footprint
from onboard.scenario.spacecraft_config import CameraConfig
from onboard.sensing.projection import GridFootprint
from onboard.scenario.schema import build
from onboard.scenario.yaml_source import Source
from onboard.pipeline.superres import to_dn
from onboard.sensing.world import Scene, SyntheticWorld
from rundir.codec import FILL_DN, has_data, pack_bits
from rundir.errors import ConfigError

BGRN = ("B", "G", "R", "NIR")
NOON = datetime(2026, 6, 21, 11, 0, tzinfo=timezone.utc)


class FlatWorld:
    """A world of one reflectance everywhere, or a step from ``left`` to ``right`` at easting ``edge_m``."""

    bands_available = ("B", "G", "R", "NIR")

    def __init__(self, left, right=None, edge_m=None):
        self.left, self.right, self.edge_m = left, left if right is None else right, edge_m

    def render(self, footprint, time_utc, sun_elevation_deg, sun_azimuth_deg, bands):
        e, _ = footprint.pixel_centres_m()
        row = np.where(e < (self.edge_m if self.edge_m is not None else np.inf), self.left, self.right)
        shape = (footprint.height_px, footprint.width_px)
        reflectance = np.broadcast_to(row[None, :, None], shape + (len(bands),)).astype(np.float32)
        return Scene(reflectance, np.zeros(shape, np.uint8), np.zeros(shape, bool), np.zeros(shape, np.uint8),
                     np.ones(shape, bool))


def grid_for(spec, x0_m=448000.0, y0_m=5412000.0):
    return GridFootprint(32631, x0_m, y0_m, spec.gsd_m, spec.width_px, spec.height_px)


def test_raw_bytes_is_the_bit_packed_frame_size():
    spec = CameraConfig(width_px=512, height_px=512, gsd_m=10.0, bands=BGRN, bit_depth=12)
    assert spec.raw_bytes == 512 * 512 * 4 * 12 // 8 == 1_572_864
    odd = CameraConfig(width_px=5, height_px=3, gsd_m=10.0, bands=("R",), bit_depth=12)
    assert odd.raw_bytes == math.ceil(5 * 3 * 12 / 8) == 23
    rgb = CameraConfig(width_px=7, height_px=3, gsd_m=5.0, bands=("B", "G", "R"), bit_depth=10)
    assert rgb.raw_bytes == math.ceil(7 * 3 * 3 * 10 / 8) == 79
    dn = np.zeros((3, 5, 1), np.uint16)
    assert len(pack_bits(dn, odd.bit_depth)) == odd.raw_bytes


def test_calibration_is_linear_and_invertible():
    spec = CameraConfig(width_px=4, height_px=4, gsd_m=10.0, bands=BGRN, bit_depth=12)
    assert spec.dn_max == 4095 and spec.reflectance_max == 1.2
    per_dn = spec.reflectance_max / spec.dn_max  # what the pipeline's stages get (Context.reflectance_per_dn)
    dn = np.arange(4096, dtype=np.uint16)
    assert np.array_equal(to_dn(dn_to_reflectance(dn, spec), per_dn, spec.bit_depth), dn)
    assert to_dn(np.array([0.0, 0.6, 1.2, 5.0, -1.0]), per_dn, spec.bit_depth).tolist() == [0, 2048, 4095, 4095, 0]
    assert dn_to_reflectance(np.array([4095]), spec)[0] == pytest.approx(1.2)


def test_noise_statistics_follow_shot_and_read_noise():
    spec = CameraConfig(width_px=256, height_px=256, gsd_m=10.0, bands=("R", "NIR"), bit_depth=12, psf_sigma_px=0.0,
                        read_noise_dn=3.0, full_well_e=20_000.0)
    reflectance = 0.3
    frame = capture(spec, FlatWorld(reflectance), grid_for(spec), NOON, 50.0, 150.0, np.random.default_rng(1),
                    "f0", "sat", 0.0)
    ideal_dn = reflectance * spec.dn_max / spec.reflectance_max
    expected_sigma = math.sqrt(ideal_dn / spec.electrons_per_dn + spec.read_noise_dn**2)  # ~ 11.5 DN
    dn = frame.dn.astype(np.float64)
    assert frame.dn.shape == (256, 256, 2) and frame.dn.dtype == np.uint16
    assert abs(dn.mean() - ideal_dn) < 0.2  # unbiased, to a fifth of a DN
    assert dn.std() == pytest.approx(expected_sigma, rel=0.02)
    dark = capture(spec, FlatWorld(0.02), grid_for(spec), NOON, 50.0, 150.0, np.random.default_rng(2), "f1", "sat", 0.0)
    dark_ideal = 0.02 * spec.dn_max / spec.reflectance_max
    assert dark.dn.astype(float).std() == pytest.approx(math.sqrt(dark_ideal / spec.electrons_per_dn + 9.0), rel=0.03)


def test_bright_scenes_saturate_at_dn_max():
    spec = CameraConfig(width_px=32, height_px=32, gsd_m=10.0, bands=("G",), bit_depth=10, psf_sigma_px=0.0)
    frame = capture(spec, FlatWorld(1.5), grid_for(spec), NOON, 50.0, 150.0, np.random.default_rng(0), "f", "s", 0.0)
    assert (frame.dn == 1023).all()


def test_a_dark_pixel_never_reads_as_fill():
    """An 8-bit NIR camera over water (TOA 0.002, under one DN): measured pixels read 0 at most in some bands, never
    in all of them, which is a product's fill; they read 1 instead (Landsat Level-1's valid DN start at 1)."""
    for bands in (("NIR",), ("R", "NIR")):
        spec = CameraConfig(width_px=64, height_px=64, gsd_m=10.0, bands=bands, bit_depth=8, psf_sigma_px=0.0)
        frame = capture(spec, FlatWorld(0.002), grid_for(spec), NOON, 50.0, 150.0, np.random.default_rng(1), "f",
                        "s", 0.0)
        assert has_data(frame.dn).all() and (frame.dn <= 10).all()  # read noise of 2 DN
        assert (frame.dn == 1).all(axis=-1).mean() > 0.3  # most read 0 before the floor


def test_where_the_world_has_no_data_the_frame_holds_fill_in_every_band():
    """Off a GeoTIFF's data the world is not valid: the camera writes FILL_DN there (no noise, no blur), so the
    product says so; the valid side keeps its signal."""
    spec = CameraConfig(width_px=32, height_px=8, gsd_m=10.0, bands=BGRN, psf_sigma_px=1.0, read_noise_dn=4.0)
    fp = grid_for(spec)
    world = FlatWorld(0.2)
    render = world.render

    def render_half_valid(footprint, *args):
        scene = render(footprint, *args)
        e, _ = footprint.pixel_centres_m()
        valid = np.broadcast_to(e[None, :] < fp.x0_m + 16 * 10.0, scene.valid.shape).copy()
        return Scene(np.where(valid[..., None], scene.reflectance, 0), scene.cloud, scene.shadow, scene.landcover,
                     valid)

    world.render = render_half_valid
    frame = capture(spec, world, fp, NOON, 50.0, 150.0, np.random.default_rng(0), "f", "s", 0.0)
    assert (frame.dn[:, 16:] == FILL_DN).all() and not has_data(frame.dn)[:, 16:].any()
    assert (frame.dn[:, :14] > 0).all() and has_data(frame.dn)[:, :16].all()
    np.testing.assert_array_equal(frame.truth.valid, has_data(frame.dn))
    # the column beside the fill keeps the ground's brightness: the PSF spreads only the world there is (blurred
    # with the fill's 0, a 1 px PSF darkened it by ~30 %); shot noise ~17 DN over 8 x 4 samples: 3 DN, 0.5 %
    level = 0.2 * spec.dn_max / spec.reflectance_max
    assert abs(frame.dn[:, 15].mean() - level) < 0.02 * level and abs(frame.dn[:, :8].mean() - level) < 0.02 * level


def test_psf_blurs_an_edge_by_its_sigma():
    spec = CameraConfig(width_px=64, height_px=16, gsd_m=10.0, bands=("R",), bit_depth=16, psf_sigma_px=1.5,
                        read_noise_dn=0.0, full_well_e=1e12)
    fp = grid_for(spec)
    world = FlatWorld(0.1, 0.5, edge_m=fp.x0_m + 32 * 10.0)  # a step between columns 31 and 32
    frame = capture(spec, world, fp, NOON, 50.0, 150.0, np.random.default_rng(0), "f", "s", 0.0)
    profile = dn_to_reflectance(frame.dn[8, :, 0], spec)
    rise = (profile - 0.1) / 0.4  # 0 .. 1 across the edge: the normal CDF of (x - 32) / sigma
    x = np.arange(64) + 0.5
    centre = np.interp(0.5, rise, x)
    width = np.interp(0.8413, rise, x) - np.interp(0.1587, rise, x)  # +-1 sigma of a Gaussian PSF
    assert centre == pytest.approx(32.0, abs=0.05)
    assert width / 2 == pytest.approx(math.hypot(1.5, 1 / math.sqrt(12)), abs=0.1)  # PSF and the pixel's own step
    assert (frame.truth.reflectance[:, :32] == np.float32(0.1)).all()  # truth is unblurred and noise-free


def test_same_rng_seed_gives_identical_frames():
    spec = CameraConfig(width_px=96, height_px=64, gsd_m=10.0, bands=BGRN)
    world = SyntheticWorld(3, 0.4)
    fp = GridFootprint.centred(45.3, 9.2, 32632, 10.0, 96, 64)
    a, b, c = (capture(spec, world, fp, NOON, 55.0, 140.0, np.random.default_rng(seed), "f", "s", 1.0)
               for seed in (7, 7, 8))
    assert np.array_equal(a.dn, b.dn) and not np.array_equal(a.dn, c.dn)
    assert a.dn.max() <= spec.dn_max and a.truth.reflectance.shape == (64, 96, 4)
    direct = world.render(fp, NOON, 55.0, 140.0, spec.bands)
    assert np.array_equal(a.truth.reflectance, direct.reflectance) and np.array_equal(a.truth.cloud, direct.cloud)
    # Frame DN track the truth through the calibration, up to blur and noise.
    error = dn_to_reflectance(a.dn, spec) - a.truth.reflectance
    assert abs(float(np.median(error))) < 0.005


def test_footprint_must_fit_the_camera():
    spec = CameraConfig(width_px=64, height_px=64, gsd_m=10.0, bands=BGRN)
    assert frame_footprint(spec, 48.85, 2.35).epsg == 32631 and frame_footprint(spec, 48.85, 2.35).width_px == 64
    with pytest.raises(ValueError, match="does not match"):
        capture(spec, FlatWorld(0.1), GridFootprint(32631, 0.0, 0.0, 10.0, 32, 64), NOON, 50.0, 150.0,
                np.random.default_rng(0), "f", "s", 0.0)


def test_a_scenario_camera_is_checked_where_it_is_built():
    with pytest.raises(ConfigError) as caught:
        build(CameraConfig, {"width_px": 8, "height_px": 8, "gsd_m": 10.0, "bands": ["B", "G"], "bit_depth": 17},
              Source(), "camera.yaml")
    assert [(i.path, i.found) for i in caught.value.issues] == [("bit_depth", "int 17")]


def test_single_frame_mtf_is_the_sampled_kernels():
    """A sine of 0.48 cycles/px through psf_sigma_px 0.5: the frame keeps the response of OpenCV's 5-tap kernel
    sampled on the frame grid, sum_n k_n cos(2 pi f n) = 0.576, not the continuous Gaussian's exp(-2 pi^2 sigma^2
    f^2) = 0.32: the simplification the capture's docstring states (a burst frame's is tested in test_burst)."""
    import cv2

    spec = CameraConfig(width_px=200, height_px=8, gsd_m=10.0, bands=("R",), bit_depth=16, psf_sigma_px=0.5,
                        read_noise_dn=0.0, full_well_e=1e12)
    f = 0.48  # cycles per px
    fp = grid_for(spec)

    class SineWorld(FlatWorld):
        def render(self, footprint, time_utc, sun_elevation_deg, sun_azimuth_deg, bands):
            scene = FlatWorld(0.3).render(footprint, time_utc, sun_elevation_deg, sun_azimuth_deg, bands)
            e, _ = footprint.pixel_centres_m()
            wave = (0.3 + 0.1 * np.cos(2 * np.pi * f * (e - fp.x0_m) / spec.gsd_m)).astype(np.float32)
            return dataclasses.replace(scene, reflectance=np.broadcast_to(wave[None, :, None],
                                                                         scene.reflectance.shape).copy())

    frame = capture(spec, SineWorld(0.3), fp, NOON, 50.0, 150.0, np.random.default_rng(0), "f", "s", 0.0)
    row = dn_to_reflectance(frame.dn[4, :, 0], spec) - 0.3
    x = np.arange(spec.width_px) + 0.5
    amplitude = np.hypot(row @ np.cos(2 * np.pi * f * x), row @ np.sin(2 * np.pi * f * x)) * 2 / x.size / 0.1
    kernel = cv2.getGaussianKernel(5, 0.5)[:, 0]
    sampled = sum(k * math.cos(2 * math.pi * f * n) for k, n in zip(kernel, range(-2, 3)))
    assert amplitude == pytest.approx(sampled, abs=0.01) and sampled == pytest.approx(0.576, abs=0.002)
    assert amplitude > math.exp(-2 * (math.pi * 0.5 * f) ** 2) + 0.2
