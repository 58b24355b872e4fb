"""The synthetic world (determinism, seamless overlaps, cloud statistics, shadows, spectra); real imagery is
tests/test_imagery.py; build_world is tested with the mission (tests/test_mission.py). Its parts have their own
files: tests/test_noise.py, test_surface.py, test_atmosphere.py, test_cloud_layers.py and test_truth.py."""

import math
import tracemalloc
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from onboard.sensing.projection import GridFootprint, epsg_code, utm_zone
from rundir.truth import CLOUD_THICK, LANDCOVER_CLASSES, VEGETATION, WATER
from onboard.sensing import world as world_module
from onboard.sensing.world import MissingBandError, SyntheticWorld

BANDS = ("B", "G", "R", "NIR")
NOON = datetime(2026, 6, 21, 11, 0, tzinfo=timezone.utc)


def footprint(lat_deg, lon_deg, gsd_m, width_px, height_px=None):
    return GridFootprint.centred(lat_deg, lon_deg, epsg_code(*utm_zone(lon_deg, lat_deg)), gsd_m, width_px,
                                 height_px or width_px)


def random_places(rng, n):
    """Places spread evenly over the sphere between 60 S and 60 N, and times over a year."""
    for _ in range(n):
        lat = math.degrees(math.asin(rng.uniform(-0.87, 0.87)))
        yield lat, rng.uniform(-180.0, 180.0), NOON + timedelta(days=rng.uniform(0.0, 365.0))


def test_same_seed_place_and_time_give_identical_scenes():
    fp = footprint(45.3, 9.2, 10.0, 160)
    a = SyntheticWorld(7, 0.4).render(fp, NOON, 55.0, 140.0, BANDS)
    b = SyntheticWorld(7, 0.4).render(fp, NOON, 55.0, 140.0, BANDS)
    for layer in ("reflectance", "cloud", "shadow", "landcover", "valid"):
        assert np.array_equal(getattr(a, layer), getattr(b, layer))
    assert a.reflectance.shape == (160, 160, 4) and a.reflectance.dtype == np.float32
    other_seed = SyntheticWorld(8, 0.4).render(fp, NOON, 55.0, 140.0, BANDS)
    assert not np.array_equal(a.reflectance, other_seed.reflectance)
    later = SyntheticWorld(7, 0.4).render(fp, NOON + timedelta(minutes=30), 55.0, 140.0, BANDS)
    assert np.array_equal(a.landcover, later.landcover) and not np.array_equal(a.reflectance, later.reflectance)


@pytest.mark.parametrize("lat_deg, lon_deg", [(45.3, 9.2), (-25.3, -54.6)])
def test_overlapping_footprints_agree_exactly(lat_deg, lon_deg):
    world = SyntheticWorld(11, 0.5)
    a = footprint(lat_deg, lon_deg, 10.0, 300, 200)
    b = GridFootprint(a.epsg, a.x0_m + 137 * 10.0, a.y0_m - 61 * 10.0, 10.0, 256, 333)  # another size and offset
    sa = world.render(a, NOON, 50.0, 140.0, BANDS)
    sb = world.render(b, NOON, 50.0, 140.0, ("NIR", "R"))
    window = (slice(61, 200), slice(137, 300))
    h, w = 200 - 61, 300 - 137
    assert np.array_equal(sa.reflectance[window][..., [3, 2]], sb.reflectance[:h, :w])
    for layer in ("cloud", "shadow", "landcover"):
        assert np.array_equal(getattr(sa, layer)[window], getattr(sb, layer)[:h, :w])


def test_footprint_across_a_zone_boundary_matches_each_zone():
    world = SyntheticWorld(11, 0.4)
    across = GridFootprint.centred(45.0, 6.0, 32631, 10.0, 256, 256)  # zones 31 | 32 meet at 6 E
    west = GridFootprint(32631, across.x0_m - 200 * 10.0, across.y0_m, 10.0, 256, 256)  # all in zone 31
    east = GridFootprint.centred(45.0, 6.0, 32632, 10.0, 320, 320)
    s_across, s_west, s_east = (world.render(fp, NOON, 50.0, 140.0, BANDS) for fp in (across, west, east))
    lon = across.pixel_centres_latlon()[1]
    shared = np.zeros(lon.shape, bool)
    shared[:, :56] = True  # columns 200..255 of `west`
    in_zone_31 = shared & (lon < 6.0)
    assert in_zone_31.sum() > 5000
    assert np.array_equal(s_across.reflectance[in_zone_31], s_west.reflectance[:, 200:][in_zone_31[:, :56]])
    e, n = across.pixel_centres_in(32632)  # zone 32 part: resampled from zone 32's own grid
    col = np.rint((e - east.x0_m) / 10.0 - 0.5).astype(int)
    row = np.rint((east.y0_m - n) / 10.0 - 0.5).astype(int)
    part = (lon >= 6.0) & (col >= 0) & (col < 320) & (row >= 0) & (row < 320)
    assert part.sum() > 5000
    assert np.mean(s_across.landcover[part] == s_east.landcover[row[part], col[part]]) > 0.99


SCENE_LAYERS = ("reflectance", "cloud", "shadow", "landcover", "valid")


@pytest.mark.parametrize("place", [(45.3, 9.2, 32632), (-25.3, -54.6, 32721), (45.0, 6.0, 32631)])
def test_rendering_in_strips_gives_the_whole_footprints_pixels(monkeypatch, place):
    # the last place straddles the zone 31 | 32 boundary: each zone's native grid is rendered in strips too
    lat_deg, lon_deg, epsg = place
    fp = GridFootprint.centred(lat_deg, lon_deg, epsg, 10.0, 150, 97)
    world = SyntheticWorld(5, 0.5)
    whole = world.render(fp, NOON, 50.0, 140.0, ("NIR", "B", "R"))
    monkeypatch.setattr(world_module, "RENDER_STRIP_PX", 150 * 7 + 3)  # strips of 7 rows, the last of 6
    strips = world.render(fp, NOON, 50.0, 140.0, ("NIR", "B", "R"))
    for layer in SCENE_LAYERS:
        a, b = getattr(whole, layer), getattr(strips, layer)
        assert a.dtype == b.dtype and np.array_equal(a, b), layer


def test_rendering_memory_is_bounded_by_the_strip(monkeypatch):
    # tracemalloc counts numpy's buffers: the scene itself is 20 bytes a pixel (4 float32 bands, 4 one-byte
    # layers), the fields of a strip being rendered ~170; strips of 64 rows keep the rest small
    fp = footprint(45.3, 9.2, 10.0, 768, 768)
    monkeypatch.setattr(world_module, "RENDER_STRIP_PX", 768 * 64)
    tracemalloc.start()
    try:
        scene = SyntheticWorld(5, 0.5).render(fp, NOON, 50.0, 140.0, BANDS)
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    scene_bytes = sum(getattr(scene, layer).nbytes for layer in SCENE_LAYERS)
    assert scene_bytes == 768 * 768 * 20
    assert peak_bytes < scene_bytes + 768 * 64 * 400  # the whole footprint at once would need ~8x the scene


@pytest.mark.parametrize("cover", [0.1, 0.4, 0.7])
def test_cloud_fraction_tracks_mean_cloud_cover(cover):
    world = SyntheticWorld(3, cover)
    rng = np.random.default_rng(0)
    fractions = [np.mean(world.render(footprint(lat, lon, 100.0, 48), t, 40.0, 150.0, ("R",)).cloud > 0)
                 for lat, lon, t in random_places(rng, 120)]
    assert abs(np.mean(fractions) - cover) < 0.1
    assert np.std(fractions) > 0.1  # cover varies from place to place and time to time


def test_no_clouds_and_full_overcast():
    fp = footprint(48.85, 2.35, 30.0, 64)
    clear = SyntheticWorld(1, 0.0).render(fp, NOON, 50.0, 140.0, BANDS)
    assert not clear.cloud.any() and not clear.shadow.any()
    overcast = SyntheticWorld(1, 1.0).render(fp, NOON, 50.0, 140.0, BANDS)
    assert (overcast.cloud > 0).all()


def cloudy_scene(world, azimuth_deg, elevation_deg, gsd_m=30.0, size_px=256):
    """A deterministic scene with some thick cloud and some clear ground: the first such place on a list."""
    rng = np.random.default_rng(5)
    for lat, lon, t in random_places(rng, 200):
        fp = footprint(lat, lon, gsd_m, size_px)
        scene = world.render(fp, t, elevation_deg, azimuth_deg, BANDS)
        if 0.1 < np.mean(scene.cloud == CLOUD_THICK) < 0.4:
            return fp, t, scene
    raise AssertionError("no partly cloudy scene found")


@pytest.mark.parametrize("azimuth_deg", [135.0, 250.0])
def test_shadows_fall_away_from_the_sun(azimuth_deg):
    height_m, elevation_deg, gsd_m = 1500.0, 40.0, 30.0
    _, _, scene = cloudy_scene(SyntheticWorld(2, 0.5, cloud_height_m=height_m), azimuth_deg, elevation_deg)
    reach_px = height_m / math.tan(math.radians(elevation_deg)) / gsd_m
    sun_col = reach_px * math.sin(math.radians(azimuth_deg))  # toward the sun, in columns (east) and rows (south)
    sun_row = -reach_px * math.cos(math.radians(azimuth_deg))
    thick = scene.cloud == CLOUD_THICK

    def cloud_fraction_at_offset(d_row, d_col):
        rows, cols = np.nonzero(scene.shadow)
        r, c = np.rint(rows + d_row).astype(int), np.rint(cols + d_col).astype(int)
        inside = (r >= 0) & (r < thick.shape[0]) & (c >= 0) & (c < thick.shape[1])
        assert inside.sum() > 200
        return np.mean(thick[r[inside], c[inside]])

    assert cloud_fraction_at_offset(sun_row, sun_col) > 0.9  # every shadow has its cloud up-sun ...
    assert cloud_fraction_at_offset(-sun_row, -sun_col) < 0.6  # ... and not down-sun
    assert cloud_fraction_at_offset(sun_col, -sun_row) < 0.6  # ... nor sideways


def test_shadows_darken_the_ground():
    fp, t, scene = cloudy_scene(SyntheticWorld(2, 0.5), 135.0, 40.0)
    ground = SyntheticWorld(2, 0.0).render(fp, t, 40.0, 135.0, BANDS)  # same land, no clouds
    nir = scene.reflectance[..., 3] / ground.reflectance[..., 3]
    assert 0.35 < np.median(nir[scene.shadow & (scene.cloud == 0)]) < 0.75  # diffuse light only: 0.3-0.7 of direct
    assert np.median(nir[~scene.shadow & (scene.cloud == 0)]) > 0.97


def test_reflectance_of_each_land_cover_class():
    world = SyntheticWorld(5, 0.0)
    rng = np.random.default_rng(1)
    pixels = {k: [] for k in range(len(LANDCOVER_CLASSES))}
    for lat, lon, t in random_places(rng, 40):
        scene = world.render(footprint(lat, lon, 60.0, 64), t, 45.0, 150.0, BANDS)
        for k in pixels:
            pixels[k].append(scene.reflectance[scene.landcover == k])
    for lat, lon, t in ((72.0, 20.0, NOON - timedelta(days=170)), (23.0, 10.0, NOON)):  # Arctic winter, Sahara
        scene = world.render(footprint(lat, lon, 60.0, 64), t, 10.0, 150.0, BANDS)
        for k in pixels:
            pixels[k].append(scene.reflectance[scene.landcover == k])
    median = {LANDCOVER_CLASSES[k]: np.median(np.concatenate(v), axis=0) for k, v in pixels.items()}
    (b, g, r, nir) = median["vegetation"]
    assert 0.25 < nir < 0.5 and r < 0.08 and nir > 3 * r and b > r  # red edge; blue path radiance
    (b, g, r, nir) = median["water"]
    assert nir < 0.03 and nir < r < g < b  # dark, darkest in NIR
    (b, g, r, nir) = median["soil"]
    assert 0.08 < r < 0.25 and g < r and nir < 2.5 * r  # reddish; B carries the path reflectance
    (b, g, r, nir) = median["urban"]
    assert all(0.08 < x < 0.25 for x in (b, g, r)) and nir < 2 * r
    (b, g, r, nir) = median["snow"]
    assert min(b, g, r) > 0.6 and nir < r
    (b, g, r, nir) = median["desert"]
    assert 0.3 < r < 0.5 and b < g < r


def test_thick_clouds_are_bright_and_grey():
    _, _, scene = cloudy_scene(SyntheticWorld(2, 0.5), 135.0, 40.0)
    top = scene.reflectance[scene.cloud == CLOUD_THICK]
    # tau >= 3.6 with g = 0.85 reflects at least 0.29 (Eddington); cumulus cores reach 0.6-0.9
    assert 0.2 < np.percentile(top[:, 1], 5) and np.percentile(top[:, 1], 95) < 0.95
    assert np.percentile(top[:, 1], 99) > 0.5
    assert np.all(np.abs(np.median(top, axis=0) / np.median(top[:, 1]) - 1.0) < 0.1)  # flat spectrum


def test_thin_cloud_brightens_its_ground_and_haze_is_blue():
    fp, t, scene = cloudy_scene(SyntheticWorld(2, 0.5), 135.0, 40.0)
    ground = SyntheticWorld(2, 0.0).render(fp, t, 40.0, 135.0, BANDS)  # same land and air, no clouds
    thin = (scene.cloud == 1) & ~scene.shadow
    rise = scene.reflectance[..., 0] - ground.reflectance[..., 0]
    assert np.median(rise[thin]) > 0.02  # the truth's thin cloud is visible in blue ...
    assert np.median(rise[scene.cloud == CLOUD_THICK]) > np.median(rise[thin])  # ... and thick more so
    b, g, r, nir = np.median(ground.reflectance[ground.landcover == WATER], axis=0) if (
        ground.landcover == WATER).any() else np.median(ground.reflectance.reshape(-1, 4), axis=0)
    assert b > g  # Rayleigh and aerosol path reflectance: clear scenes are bluest in B


def test_band_selection_and_errors():
    world = SyntheticWorld(1, 0.2)
    fp = footprint(10.0, 10.0, 30.0, 32)
    full = world.render(fp, NOON, 60.0, 90.0, BANDS)
    assert np.array_equal(world.render(fp, NOON, 60.0, 90.0, ("G",)).reflectance[..., 0], full.reflectance[..., 1])
    with pytest.raises(MissingBandError, match="SWIR"):
        world.render(fp, NOON, 60.0, 90.0, ("R", "SWIR"))
    with pytest.raises(ValueError, match="sun_elevation_deg"):
        world.render(fp, NOON, -5.0, 90.0, BANDS)
    with pytest.raises(ValueError, match="mean_cloud_cover"):
        SyntheticWorld(1, 1.5)


def test_vegetation_texture_is_leaf_area_not_brightness():
    """Real forest at 10 m (Sentinel-2, ../shared/data/real_clear: Belgium, Queensland) varies mostly in the near
    infrared: its red and NIR correlate at only 0.15-0.4. A texture that brightens every band together (correlation
    ~0.9) looks like cloud to a real-trained cloud CNN, which flagged 42 % of such clear vegetation."""
    world = SyntheticWorld(3, 0.0)
    rng = np.random.default_rng(4)
    correlations = []
    for lat, lon, t in random_places(rng, 30):
        scene = world.render(footprint(lat, lon, 10.0, 128), t, 50.0, 150.0, BANDS)
        red, nir = scene.reflectance[..., 2], scene.reflectance[..., 3]
        veg = (scene.landcover == VEGETATION) & ((nir - red) / (nir + red) > 0.5)
        if veg.sum() > 2000:
            correlations.append(np.corrcoef(red[veg], nir[veg])[0, 1])
    assert len(correlations) >= 5
    assert np.median(correlations) < 0.6
