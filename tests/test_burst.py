"""The burst camera: frames carry the jitter they report, the optics' MTF and the camera's noise, clouds move from
frame to frame, and the truth is the world itself on the high-res grid."""

import math
from datetime import datetime, timezone

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onboard.sensing import burst as burst_module
from onboard.sensing.burst import BurstError, capture_burst, high_res_footprint, psf_sigma_from_mtf
from onboard.sensing.camera import frame_footprint
from onboard.scenario.spacecraft_config import CameraConfig
from onboard.sensing.world import SYNTHETIC_BANDS, Scene, SyntheticWorld
from rundir.codec import FILL_DN

TIME_UTC = datetime(2026, 6, 21, 10, 30, tzinfo=timezone.utc)
PARIS = (48.85, 2.35)
HUNDREDTH_PX = 0.01


class FieldWorld:
    """A world whose TOA reflectance is ``field(easting_m, northing_m)`` in every band, with no clouds."""

    bands_available = ("B", "G", "R", "NIR")

    def __init__(self, field):
        self.field = field

    def render(self, footprint, time_utc, sun_elevation_deg, sun_azimuth_deg, bands):
        e, n = footprint.pixel_centres_m()
        plane = self.field(e[None, :], n[:, None]).astype(np.float32) * np.ones((n.size, e.size), np.float32)
        shape = plane.shape
        return Scene(np.repeat(plane[..., None], len(bands), axis=-1), np.zeros(shape, np.uint8),
                     np.zeros(shape, bool), np.zeros(shape, np.uint8), np.ones(shape, bool))



def gaussian_mtf(sigma_px: float, cycles_per_px: float) -> float:
    """MTF of a Gaussian PSF of ``sigma_px`` at ``cycles_per_px``: exp(-2 pi^2 sigma^2 f^2), the Fourier transform of
    the Gaussian (Goodman, Introduction to Fourier Optics, table 2.1)."""
    return math.exp(-2.0 * (math.pi * sigma_px * cycles_per_px) ** 2)

def quiet_camera(size_px: int = 128, gsd_m: float = 10.0, **kwargs) -> CameraConfig:
    """Nearly noise-free: a huge full well, no read noise, 16 bits."""
    return CameraConfig(width_px=size_px, height_px=size_px, gsd_m=gsd_m, bands=SYNTHETIC_BANDS, bit_depth=16,
                        read_noise_dn=0.0, full_well_e=1e12, **kwargs)


def burst_of(world, spec, seed=0, **kwargs):
    return capture_burst(spec, world, frame_footprint(spec, *PARIS), TIME_UTC, 50.0, 160.0, np.random.default_rng(seed),
                         **kwargs)


def test_shapes_dtypes_and_shift_range():
    spec = CameraConfig(width_px=96, height_px=80, gsd_m=10.0, bands=SYNTHETIC_BANDS)
    b = capture_burst(spec, SyntheticWorld(3, 0.2), frame_footprint(spec, *PARIS), TIME_UTC, 50.0, 160.0,
                      np.random.default_rng(1), k=6)
    assert b.lr_dn.shape == (6, 80, 96, 4) and b.lr_dn.dtype == np.uint16 and b.lr_dn.max() <= spec.dn_max
    assert b.lr_cloud.shape == (6, 80, 96) and b.lr_cloud.dtype == bool
    assert b.hr_truth.shape == (160, 192, 4) and b.hr_truth.dtype == np.float32
    assert b.hr_clear.shape == (160, 192)
    assert b.shifts_px.shape == (6, 2) and np.all(b.shifts_px[0] == 0)
    assert np.all(np.abs(b.shifts_px) <= 1.0) and len(np.unique(b.shifts_px[1:])) > 6
    assert high_res_footprint(b.footprint_lr, b.scale).gsd_m == 5.0 and b.k == 6 and b.scale == 2


def test_truth_is_the_world_on_the_high_res_grid():
    world = SyntheticWorld(4, 0.3)
    spec = CameraConfig(width_px=64, height_px=64, gsd_m=20.0, bands=SYNTHETIC_BANDS)
    b = burst_of(world, spec)
    scene = world.render(high_res_footprint(frame_footprint(spec, *PARIS), 2), TIME_UTC, 50.0, 160.0, spec.bands)
    np.testing.assert_array_equal(b.hr_truth, scene.reflectance)
    assert not b.hr_clear[scene.cloud > 0].any()


@pytest.mark.parametrize("axis", [0, 1])
def test_frames_are_displaced_by_their_reported_shift(axis):
    # On a reflectance ramp (linear in easting or northing) blur and pixel integration keep the ramp, so each
    # frame's mean moves by slope x shift.
    slope_per_m = 2e-5  # 2e-4 reflectance per 10 m pixel
    ramp = (lambda e, n: 0.2 + slope_per_m * (e - e.mean())) if axis == 1 else \
        (lambda e, n: 0.2 - slope_per_m * (n - n.mean()))  # rows go south
    spec = quiet_camera()
    b = burst_of(FieldWorld(ramp), spec, cloud_per_frame=False)
    per_px = slope_per_m * spec.gsd_m * spec.dn_max / spec.reflectance_max
    measured = (b.lr_dn.astype(float).mean(axis=(1, 2, 3)) - b.lr_dn[0].astype(float).mean()) / per_px
    assert np.abs(measured - b.shifts_px[:, axis]).max() < HUNDREDTH_PX


def test_mtf_matches_the_gaussian_psf_and_the_pixel():
    # A sine along easting, 0.25 cycles per low-res px: its amplitude in the frames over that in the truth is the
    # Gaussian's MTF times the 2x2 pixel's (the mean of two high-res samples half a high-res pixel apart).
    spec = quiet_camera(psf_sigma_px=0.6)
    period_m = 4 * spec.gsd_m
    b = burst_of(FieldWorld(lambda e, n: 0.3 + 0.1 * np.sin(2 * np.pi * e / period_m)), spec, k=3,
                 cloud_per_frame=False)
    lr = b.lr_reflectance()[..., 0]
    x_m = (np.arange(spec.width_px) + 0.5) * spec.gsd_m

    def amplitude(rows: np.ndarray, x: np.ndarray) -> float:
        basis = np.stack([np.sin(2 * np.pi * x / period_m), np.cos(2 * np.pi * x / period_m)])
        coef = (rows - rows.mean()) @ basis.T * 2 / x.size
        return float(np.hypot(*coef.mean(axis=0)))

    truth = amplitude(b.hr_truth[..., 0], (np.arange(2 * spec.width_px) + 0.5) * spec.gsd_m / 2)
    f_hr = 0.125  # cycles per high-res px
    expected = gaussian_mtf(0.6, 0.25) * math.cos(math.pi * f_hr)
    for frame in lr:
        assert amplitude(frame, x_m) / truth == pytest.approx(expected, rel=0.02)


def test_psf_from_mtf():
    assert psf_sigma_from_mtf(0.3) == pytest.approx(math.sqrt(-2 * math.log(0.3)) / math.pi, rel=1e-12)
    assert gaussian_mtf(psf_sigma_from_mtf(0.17), 0.5) == pytest.approx(0.17, rel=1e-12)
    b = burst_of(SyntheticWorld(5, 0.0), CameraConfig(width_px=32, height_px=32, gsd_m=10.0, bands=SYNTHETIC_BANDS),
                 mtf_nyquist=0.3, k=2)
    assert b.psf_sigma_lr_px == pytest.approx(0.4939, abs=1e-4)


def test_noise_is_shot_plus_read_noise():
    spec = CameraConfig(width_px=128, height_px=128, gsd_m=10.0, bands=SYNTHETIC_BANDS)
    b = burst_of(FieldWorld(lambda e, n: np.full_like(e, 0.3)), spec, cloud_per_frame=False)
    signal_dn = 0.3 * spec.dn_max / spec.reflectance_max
    expected_sigma_dn = math.sqrt(signal_dn / spec.electrons_per_dn + spec.read_noise_dn**2)
    dn = b.lr_dn.astype(float)
    assert dn.mean() == pytest.approx(signal_dn, abs=0.1)
    assert dn.std() == pytest.approx(expected_sigma_dn, rel=0.02)
    # frames are independent draws
    assert abs(np.corrcoef(dn[0].ravel(), dn[1].ravel())[0, 1]) < 0.02


def test_clouds_differ_from_frame_to_frame():
    spec = CameraConfig(width_px=128, height_px=128, gsd_m=10.0, bands=SYNTHETIC_BANDS)
    b = burst_of(SyntheticWorld(6, 0.0), spec, seed=3, frame_cloud_cover=0.2, cloud_drift_px=3.0)
    cover = b.lr_cloud.mean(axis=(1, 2))
    assert np.all((cover > 0.1) & (cover < 0.35))
    assert all((b.lr_cloud[f] != b.lr_cloud[0]).mean() > 0.01 for f in range(1, b.k))
    # the frame clouds are bright where the mask says so, and not in the truth
    lr = b.lr_reflectance()
    assert lr[b.lr_cloud].mean() > lr[~b.lr_cloud].mean() + 0.2
    # the drift uncovers ground: what every frame hides is well under what frame 0 hides
    assert 1 - b.hr_clear.mean() < 0.75 * b.lr_cloud[0].mean() and b.hr_truth.max() < 0.6
    still = burst_of(SyntheticWorld(6, 0.0), spec, seed=3, cloud_per_frame=False)
    assert not still.lr_cloud.any()


@pytest.mark.parametrize("gsd_m", [0.3, 0.01])
def test_frame_clouds_at_centimetre_gsd_need_only_the_frame(gsd_m):
    """Kilometre cloud cells under centimetre pixels: the layer was the node lattice resized whole (4 cells of
    120,000 px a side at 1 cm: OpenCV asked for 920 GB and the run stopped with a traceback)."""
    spec = CameraConfig(width_px=64, height_px=48, gsd_m=gsd_m, bands=SYNTHETIC_BANDS)
    b = burst_of(SyntheticWorld(6, 0.0), spec, seed=3, frame_cloud_cover=0.4, cloud_drift_px=1.0)
    assert b.lr_dn.shape == (8, 48, 64, 4)
    layer = burst_module._cloud_layer(np.random.default_rng(0), 480, 640, gsd_m, 0.4)
    assert layer.shape == (480, 640) and (layer > 0).mean() == pytest.approx(0.4, abs=0.01)
    # a frame far smaller than a cell sees a smooth field: neighbouring opacities differ by little more than the
    # step of 0.15 at a cloud's edge
    assert np.abs(np.diff(layer, axis=1)).max() < 0.2


def test_frame_zero_truth_is_on_the_low_res_grid_with_its_own_clouds():
    spec = CameraConfig(width_px=64, height_px=48, gsd_m=10.0, bands=SYNTHETIC_BANDS)
    world = SyntheticWorld(6, 0.3)
    b = burst_of(world, spec, seed=3, frame_cloud_cover=0.2)
    truth = b.truth_lr
    assert truth.reflectance.shape == (48, 64, 4) and truth.cloud.shape == (48, 64)
    # reflectance: the mean of each pixel's 2 x 2 high-res cells
    np.testing.assert_allclose(truth.reflectance[5, 7], b.hr_truth[10:12, 14:16].mean(axis=(0, 1)), rtol=1e-6)
    # cloud: the world's, and frame 0's own drifting layer where it covers the ground
    assert (truth.cloud[b.lr_cloud[0]] > 0).mean() > 0.8  # lr_cloud also flags cloud edges within the PSF
    world_lr = world.render(frame_footprint(spec, *PARIS), TIME_UTC, 50.0, 160.0, spec.bands)
    assert ((truth.cloud > 0) >= (world_lr.cloud > 0)).mean() > 0.97  # the world's clouds are all there


def test_where_the_world_has_no_data_every_frame_holds_fill():
    """Off a GeoTIFF's data each frame of a burst holds fill (FILL_DN in every band) where its pixel centre has no
    world, as a single frame does; frame 0's fill is exactly where its truth is not valid."""
    spec = CameraConfig(width_px=64, height_px=64, gsd_m=10.0, bands=SYNTHETIC_BANDS)  # read noise: DN > 0 anyway
    edge_m = frame_footprint(spec, *PARIS).x0_m + 40 * spec.gsd_m

    class HalfWorld(FieldWorld):
        def render(self, footprint, *args):
            scene = super().render(footprint, *args)
            e, _ = footprint.pixel_centres_m()
            valid = np.broadcast_to(e[None, :] < edge_m, scene.valid.shape).copy()
            return Scene(scene.reflectance * valid[..., None], scene.cloud, scene.shadow, scene.landcover, valid)

    b = burst_of(HalfWorld(lambda e, n: 0.2 + 0 * e), spec, k=4, cloud_per_frame=False)
    fill = (b.lr_dn == FILL_DN).all(axis=-1)  # (K, H, W)
    np.testing.assert_array_equal(fill[0], ~b.truth_lr.valid)
    assert fill[:, :, 42:].all() and not fill[:, :, :38].any()  # jitter moves the edge by at most a pixel
    assert (b.lr_dn[~fill] > 0).all()
    # the ground beside the fill keeps its brightness: the optics spread only the world there is (with the fill's
    # 0 the last valid column of each frame was ~20 % dark); 64 rows x 4 bands a column, read noise ~1 DN
    level = 0.2 * spec.dn_max / spec.reflectance_max
    for f in range(b.k):
        last = int(np.flatnonzero(~fill[f].any(axis=0)).max())  # the frame's last column with no fill
        assert abs(b.lr_dn[f][:, last].mean() - level) < 0.01 * level, (f, last, b.lr_dn[f][:, last].mean(), level)


def test_bad_parameters_are_refused():
    spec = CameraConfig(width_px=32, height_px=32, gsd_m=10.0, bands=SYNTHETIC_BANDS)
    coarse = CameraConfig(width_px=32, height_px=32, gsd_m=20.0, bands=SYNTHETIC_BANDS)
    with pytest.raises(BurstError, match="footprint_lr"):
        capture_burst(spec, SyntheticWorld(1, 0.0), frame_footprint(coarse, *PARIS), TIME_UTC, 50, 0,
                      np.random.default_rng(0))
    with pytest.raises(BurstError, match="mtf_nyquist"):
        burst_of(SyntheticWorld(1, 0.0), spec, mtf_nyquist=0.3, psf_sigma_lr_px=0.5)
    with pytest.raises(BurstError, match="mtf_nyquist"):
        burst_of(SyntheticWorld(1, 0.0), spec, mtf_nyquist=1.5)


def test_frames_sampled_in_strips_are_those_sampled_whole(monkeypatch):
    # strips of 1 to 3 rows of samples against strips larger than the frame: the same DN, clouds and truth
    spec = CameraConfig(width_px=96, height_px=80, gsd_m=10.0, bands=SYNTHETIC_BANDS)
    world = SyntheticWorld(3, 0.4)
    whole = burst_of(world, spec, seed=5, k=4, scale=3)
    row_bytes = (96 * 3 + 200) * 5 * 4  # one high-res row of the optics' layers is about this
    for strip_bytes in (row_bytes, 7 * row_bytes):
        monkeypatch.setattr(burst_module, "SAMPLE_STRIP_BYTES", strip_bytes)
        strips = burst_of(world, spec, seed=5, k=4, scale=3)
        for name in ("lr_dn", "lr_cloud", "shifts_px", "hr_truth", "hr_clear"):
            assert np.array_equal(getattr(whole, name), getattr(strips, name)), name


@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 90), width=st.integers(1, 12), channels=st.sampled_from([0, 1, 5]),
       sigma_px=st.floats(0.3, 4.0), strip_rows=st.integers(1, 40), seed=st.integers(0, 2**16))
def test_the_optics_gaussian_in_strips_is_the_whole_image_gaussian(height, width, channels, sigma_px, strip_rows, seed):
    """OpenCV's Gaussian copies what it blurs, 1 GB for a 4096 x 3072 burst at x2, so the optics blur in place strip by
    strip: bit for bit what blurring the layers whole gives, whatever the strips."""
    shape = (height, width, channels) if channels else (height, width)
    layers = np.random.default_rng(seed).random(shape, dtype=np.float32)
    whole = cv2.GaussianBlur(layers, (0, 0), sigma_px, borderType=cv2.BORDER_REFLECT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(burst_module, "SAMPLE_STRIP_BYTES", strip_rows * layers[0].nbytes)
        burst_module._gaussian_in_place(layers, sigma_px)
    assert np.array_equal(layers.reshape(whole.shape), whole)


def test_a_burst_holds_the_scene_its_optics_and_its_frames_and_no_more(monkeypatch):
    """Imaging a 4096 x 3072 burst of 8 at x2 peaked at 4.6 GB: the optics' layers stayed alive while the truth was
    copied out of the scene. The truth is now a view of the scene and the layers go first, so what the burst holds
    at once is the scene (reflectance and class layers), the optics' layers, the frames and their masks: here, with
    the world rendered and the frames sampled in small strips, 4.9x the truth's bytes (it was 6.0x, then 5.1x while
    a frame's sampled layers stayed alive through its noise and its cloud was blended in through two temporaries)."""
    import tracemalloc

    from onboard.sensing import world as world_module

    monkeypatch.setattr(world_module, "RENDER_STRIP_PX", 4096)
    monkeypatch.setattr(burst_module, "SAMPLE_STRIP_BYTES", 1 << 14)
    spec = CameraConfig(width_px=256, height_px=192, gsd_m=10.0, bands=SYNTHETIC_BANDS)
    world = SyntheticWorld(5, 0.1)
    burst_of(world, spec)  # the world's own caches warm
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        shot = burst_of(world, spec)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert peak < 5.0 * shot.hr_truth.nbytes


def test_a_burst_is_imaged_a_strip_of_rows_at_a_time(monkeypatch):
    """Each frame is sampled, clouded and given its noise a strip of rows at a time, the noise drawn in the same
    order as for the whole frame: the same DN to the bit as strips of any size, and a lower peak. Whole, a frame's
    samples, signal and noise (about three float32 frames besides the render, the optics' layers and the burst's DN,
    ~15 frames' worth at x2 with 8 frames) took the peak to 19.4 frames' worth (numpy's allocations, traced)."""
    import tracemalloc

    spec = CameraConfig(width_px=512, height_px=512, gsd_m=10.0, bands=SYNTHETIC_BANDS)  # with its noise
    world = FieldWorld(lambda e, n: 0.1 + 0.05 * np.sin(e / 37.0) * np.cos(n / 53.0))
    monkeypatch.setattr(burst_module, "SAMPLE_STRIP_BYTES", 1 << 20)
    tracemalloc.start()
    try:
        strips = burst_of(world, spec, seed=4)
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    monkeypatch.setattr(burst_module, "SAMPLE_STRIP_BYTES", 1 << 30)  # one strip: each frame whole
    whole = burst_of(world, spec, seed=4)
    assert np.array_equal(strips.lr_dn, whole.lr_dn) and np.array_equal(strips.lr_cloud, whole.lr_cloud)
    assert peak_bytes < 16.5 * (512 * 512 * 4 * 4)


def test_a_burst_spilled_to_disk_is_the_same_burst_without_the_scene_beside_its_frames(monkeypatch, tmp_path):
    """A pool's worker imaged a 4096 x 3072 burst of 8 at x2 in 3.65 GB: the rendered scene (1 GB), the optics'
    layers (1 GB) and the frames (0.8 GB) at once, the scene kept for the truth. With ``spill_dir`` the truth goes
    to a file as soon as it is rendered and the scene before the optics are made: the same burst to the bit, its
    truth mapped from disk, and a peak lower by about the truth's bytes, 3.2x them here against 4.2x (numpy's
    allocations, traced)."""
    import tracemalloc

    from onboard.sensing import world as world_module

    monkeypatch.setattr(world_module, "RENDER_STRIP_PX", 4096)
    monkeypatch.setattr(burst_module, "SAMPLE_STRIP_BYTES", 1 << 14)
    spec = CameraConfig(width_px=256, height_px=192, gsd_m=10.0, bands=SYNTHETIC_BANDS)
    world = SyntheticWorld(5, 0.1)
    burst_of(world, spec)  # the world's own caches warm
    shots, peaks = [], []
    for spill_dir in (None, tmp_path / "records"):
        tracemalloc.start()
        try:
            start = tracemalloc.get_traced_memory()[0]
            shots.append(burst_of(world, spec, seed=3, spill_dir=spill_dir))
            peaks.append(tracemalloc.get_traced_memory()[1] - start)
        finally:
            tracemalloc.stop()
    kept, spilled = shots
    assert isinstance(spilled.hr_truth, np.memmap) and not isinstance(kept.hr_truth, np.memmap)
    for name in ("lr_dn", "lr_cloud", "shifts_px", "hr_truth", "hr_clear"):
        assert np.array_equal(getattr(kept, name), getattr(spilled, name)), name
    for layer in ("reflectance", "cloud", "shadow", "landcover", "valid"):
        assert np.array_equal(getattr(kept.truth_lr, layer), getattr(spilled.truth_lr, layer)), layer
    assert peaks[1] < peaks[0] - 0.9 * kept.hr_truth.nbytes
    assert list((tmp_path / "records").iterdir()) == []  # the file has no name: it goes with its last mapping
