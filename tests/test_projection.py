"""WGS84 <-> UTM / UPS against PROJ, EPSG and GeographicLib values, independent textbook series (Snyder 1987),
pyproj's own CRS objects and geodesics, and round trips."""

import functools
import math

import numpy as np
import pyproj
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onboard.sensing.projection import (UPS_NORTH_EPSG, UPS_SOUTH_EPSG, UPS_ZONE, GridFootprint, central_meridian_deg,
                                crs_for, epsg_code, from_grid, from_utm, to_grid, utm_zone, utm_zones,
                                zone_of_epsg)

TENTH_MM = 1e-4
ONE_MM = 1e-3
ONE_MM_DEG = 1e-3 / 111_000.0  # a millimetre of latitude, in degrees


# PROJ test/gie/tmerczoned.gie (EPSG:4326 -> EPSG:32600/32700, tolerance 0.1 mm): zone boundary points, 3 degrees
# from the central meridian, on the equator and at 80 degrees.
@pytest.mark.parametrize("lat_deg, lon_deg, zone, south, easting_m, northing_m", [
    (0.0, -180.0, 1, False, 166021.4431, 0.0),
    (80.0, -180.0, 1, False, 441867.7849, 8883084.9559),
    (80.0, 5.999999999, 31, False, 558132.2151, 8883084.9559),
    (0.0, 179.999999999, 60, False, 833978.5568, 0.0),
    (-80.0, -174.000000001, 1, True, 558132.2151, 1116915.0441),
    (0.0, 30.0, 36, True, 166021.4431, 10000000.0),
])
def test_matches_proj_at_zone_edges(lat_deg, lon_deg, zone, south, easting_m, northing_m):
    e, n = to_grid(lat_deg, lon_deg, epsg_code(zone, south))
    assert abs(e - easting_m) < TENTH_MM and abs(n - northing_m) < TENTH_MM
    lat, lon = from_utm(easting_m, northing_m, zone, south)
    e2, n2 = to_grid(lat, lon, epsg_code(zone, south))
    assert abs(e2 - easting_m) < TENTH_MM and abs(n2 - northing_m) < TENTH_MM


def test_matches_geographiclib_geoconvert():
    # GeoConvert(1) manual: "33.3 44.4" is "38n 444140.54 3684706.36" (printed to the centimetre).
    assert utm_zone(44.4, 33.3) == (38, False)
    e, n = to_grid(33.3, 44.4, epsg_code(38, False))
    assert abs(e - 444140.54) < 0.005 and abs(n - 3684706.36) < 0.005


def _snyder_forward(lat_deg: float, lon_deg: float, zone: int) -> tuple[float, float]:
    """Transverse Mercator by the USGS series (Snyder 1987, Map Projections: A Working Manual, eqs. 8-9 to 8-13):
    independent of the Krüger series and good to well under a millimetre within ~2 degrees of the central meridian."""
    a, f, k0 = 6378137.0, 1 / 298.257223563, 0.9996
    e2 = f * (2 - f)
    ep2 = e2 / (1 - e2)
    phi, lam = math.radians(lat_deg), math.radians(lon_deg - central_meridian_deg(zone))
    big_n = a / math.sqrt(1 - e2 * math.sin(phi) ** 2)
    t, c, aa = math.tan(phi) ** 2, ep2 * math.cos(phi) ** 2, lam * math.cos(phi)
    m = a * ((1 - e2 / 4 - 3 * e2**2 / 64 - 5 * e2**3 / 256) * phi
             - (3 * e2 / 8 + 3 * e2**2 / 32 + 45 * e2**3 / 1024) * math.sin(2 * phi)
             + (15 * e2**2 / 256 + 45 * e2**3 / 1024) * math.sin(4 * phi) - (35 * e2**3 / 3072) * math.sin(6 * phi))
    x = k0 * big_n * (aa + (1 - t + c) * aa**3 / 6 + (5 - 18 * t + t * t + 72 * c - 58 * ep2) * aa**5 / 120)
    y = k0 * (m + big_n * math.tan(phi) * (aa**2 / 2 + (5 - t + 9 * c + 4 * c * c) * aa**4 / 24
                                          + (61 - 58 * t + t * t + 600 * c - 330 * ep2) * aa**6 / 720))
    return 500000.0 + x, y


def test_landsat_corner_against_textbook_series():
    # Row 077's GeoTIFF tie point (EPSG:32621; south of the equator, so the northing is negative in a north zone).
    lat, lon = from_utm(694020.0, -2766630.0, 21, False)
    assert -25.1 < lat < -24.9 and -55.2 < lon < -55.0  # Paraná, near Itaipu
    e, n = _snyder_forward(float(lat), float(lon), 21)
    assert abs(e - 694020.0) < ONE_MM and abs(n + 2766630.0) < ONE_MM
    # The same place in the south-zone CRS differs by exactly the false northing.
    lat_s, lon_s = from_utm(694020.0, 10_000_000.0 - 2766630.0, 21, True)
    assert abs(lat_s - lat) < 1e-12 and abs(lon_s - lon) < 1e-12


@settings(max_examples=200, deadline=None)
@given(st.floats(-80.0, 84.0), st.floats(-180.0, 180.0), st.floats(-3.5, 3.5))
def test_round_trip_is_sub_millimetre(lat_deg, lon_deg, offset_deg):
    zone, south = utm_zone(lon_deg, lat_deg)
    lon = central_meridian_deg(zone) + offset_deg  # anywhere in (or just beyond) the zone
    e, n = to_grid(lat_deg, lon, epsg_code(zone, south))
    lat2, lon2 = from_utm(e, n, zone, south)
    assert abs(lat2 - lat_deg) < ONE_MM_DEG
    assert abs(((lon2 - lon + 180) % 360 - 180) * math.cos(math.radians(lat_deg))) < ONE_MM_DEG


def test_zones_and_epsg_codes():
    assert utm_zone(2.35, 48.85) == (31, False)  # Paris
    assert utm_zone(-54.6, -25.3) == (21, True)  # Itaipu
    assert utm_zone(5.3, 60.4) == (32, False)  # Bergen: the Norway exception
    assert utm_zone(15.6, 78.2) == (33, False)  # Longyearbyen: the Svalbard exception
    assert utm_zone(180.0, 0.0) == (1, False) and utm_zone(179.99, 0.0) == (60, False)
    assert list(utm_zones(np.array([-177.0, 3.0, 177.0]), np.zeros(3))) == [1, 31, 60]
    assert epsg_code(21, True) == 32721 and zone_of_epsg(32621) == (21, False)
    with pytest.raises(ValueError, match="EPSG:3857"):
        zone_of_epsg(3857)


def test_centred_footprint_snaps_to_the_gsd_lattice():
    fp = GridFootprint.centred(48.85, 2.35, 32631, 10.0, 512, 256)
    assert fp.x0_m % 10.0 == 0.0 and fp.y0_m % 10.0 == 0.0
    x_min, y_min, x_max, y_max = fp.bounds_m
    lon, lat = pyproj.Transformer.from_crs(32631, 4326, always_xy=True).transform((x_min + x_max) / 2, (y_min + y_max) / 2)
    assert abs(lat - 48.85) * 111e3 < 15.0 and abs(lon - 2.35) * 73e3 < 15.0  # within a pixel and a half
    neighbour = GridFootprint.centred(48.86, 2.36, 32631, 10.0, 512, 256)
    assert (neighbour.x0_m - fp.x0_m) % 10.0 == 0.0  # one pixel lattice for the whole pass


def test_footprint_geometry():
    fp = GridFootprint(32621, 694020.0, -2766630.0, 30.0, 4, 3)
    e, n = fp.pixel_centres_m()
    assert e[0] == 694035.0 and n[0] == -2766645.0 and n[-1] == -2766645.0 - 60.0
    assert fp.bounds_m == (694020.0, -2766720.0, 694140.0, -2766630.0)
    tile = fp.window(1, 2, 2, 2)
    assert (tile.x0_m, tile.y0_m, tile.width_px, tile.height_px) == (694080.0, -2766660.0, 2, 2)


def test_interpolated_pixel_centres_are_centimetre_accurate():
    fp = GridFootprint.centred(60.0, 2.9, 32631, 30.0, 300, 200)  # far from the central meridian
    lat, lon = fp.pixel_centres_latlon()
    lat_i, lon_i = fp.pixel_centres_latlon(step_px=16)
    assert np.abs(lat_i - lat).max() < 10 * ONE_MM_DEG and np.abs(lon_i - lon).max() < 20 * ONE_MM_DEG
    e, n = fp.pixel_centres_in(32632)
    e_ref, n_ref = to_grid(lat, lon, epsg_code(32, False))
    assert np.abs(e - e_ref).max() < ONE_MM and np.abs(n - n_ref).max() < ONE_MM


# --- pyproj's own CRS objects, as a user would call them -------------------------------------------------------


@functools.cache
def _proj(epsg: int) -> pyproj.Proj:
    return pyproj.Proj(pyproj.CRS.from_epsg(epsg))


@settings(max_examples=200, deadline=None)
@given(st.floats(-80.0, 83.999), st.floats(-180.0, 180.0))
def test_utm_matches_pyproj_proj_in_the_points_own_zone(lat_deg, lon_deg):
    epsg = crs_for(lat_deg, lon_deg)
    e, n = to_grid(lat_deg, lon_deg, epsg)
    e_ref, n_ref = _proj(epsg)(lon_deg, lat_deg)
    assert abs(e - e_ref) < TENTH_MM and abs(n - n_ref) < TENTH_MM


# --- UPS ------------------------------------------------------------------------------------------------------


def test_ups_matches_the_epsg_guidance_note_example():
    # EPSG Guidance Note 7-2, Polar Stereographic (variant A), WGS 84 / UPS North: 73 N 44 E is E 3320416.75 m,
    # N 632668.43 m (printed to the centimetre). UPS South is its mirror image: N = 2 000 km + (2 000 km - N_north).
    e, n = to_grid(73.0, 44.0, UPS_NORTH_EPSG)
    assert abs(e - 3320416.75) < 0.005 and abs(n - 632668.43) < 0.005
    e, n = to_grid(-73.0, 44.0, UPS_SOUTH_EPSG)
    assert abs(e - 3320416.75) < 0.005 and abs(n - 3367331.57) < 0.005
    lat, lon = from_grid(3320416.75, 632668.43, UPS_NORTH_EPSG)
    assert abs(lat - 73.0) < 10 * ONE_MM_DEG and abs(lon - 44.0) < 30 * ONE_MM_DEG


def _snyder_ups(lat_deg: float, lon_deg: float, south: bool) -> tuple[float, float]:
    """UPS by the ellipsoidal polar stereographic formulas of Snyder (1987), eqs. 15-9, 21-33, 21-30 and 21-31
    (south pole by the sign changes of p. 161), k0 = 0.994, false easting and northing 2 000 km (DMA TM 8358.2)."""
    a, f, k0, false_m = 6378137.0, 1 / 298.257223563, 0.994, 2_000_000.0
    e = math.sqrt(f * (2 - f))
    phi = math.radians(-lat_deg if south else lat_deg)
    lam = math.radians(lon_deg)
    t = math.tan(math.pi / 4 - phi / 2) / ((1 - e * math.sin(phi)) / (1 + e * math.sin(phi))) ** (e / 2)
    rho = 2 * a * k0 * t / math.sqrt((1 + e) ** (1 + e) * (1 - e) ** (1 - e))
    return false_m + rho * math.sin(lam), false_m + (rho if south else -rho) * math.cos(lam)


polar_latitudes = st.one_of(st.floats(-90.0, -79.5), st.floats(83.5, 90.0), st.sampled_from([-90.0, 90.0]))


@settings(max_examples=300, deadline=None)
@given(polar_latitudes, st.floats(-180.0, 180.0))
def test_ups_matches_the_textbook_formulas_and_pyproj_to_a_tenth_of_a_millimetre(lat_deg, lon_deg):
    epsg = UPS_SOUTH_EPSG if lat_deg < 0 else UPS_NORTH_EPSG
    e, n = to_grid(lat_deg, lon_deg, epsg)
    e_ref, n_ref = _snyder_ups(lat_deg, lon_deg, lat_deg < 0)
    assert abs(e - e_ref) < TENTH_MM and abs(n - n_ref) < TENTH_MM
    e_proj, n_proj = _proj(epsg)(lon_deg, lat_deg)
    assert abs(e - e_proj) < TENTH_MM and abs(n - n_proj) < TENTH_MM


@settings(max_examples=300, deadline=None)
@given(polar_latitudes, st.floats(-180.0, 180.0))
def test_ups_round_trip_is_sub_millimetre(lat_deg, lon_deg):
    epsg = UPS_SOUTH_EPSG if lat_deg < 0 else UPS_NORTH_EPSG
    e, n = to_grid(lat_deg, lon_deg, epsg)
    lat, lon = from_grid(e, n, epsg)
    assert abs(lat - lat_deg) < ONE_MM_DEG
    # a longitude error of dlon moves the point by dlon * cos(lat) on the ground; at a pole every longitude is one point
    assert abs(((lon - lon_deg + 180) % 360 - 180) * math.cos(math.radians(lat_deg))) < ONE_MM_DEG
    e2, n2 = to_grid(lat, lon, epsg)
    assert math.hypot(e2 - e, n2 - n) < ONE_MM


def test_ups_zone_codes_and_the_poles():
    assert epsg_code(UPS_ZONE, True) == 32761 and epsg_code(UPS_ZONE, False) == 32661
    assert zone_of_epsg(32761) == (UPS_ZONE, True) and zone_of_epsg(32661) == (UPS_ZONE, False)
    for lon_deg in (-180.0, -37.5, 0.0, 123.0, 180.0):  # a pole is one point, whatever its longitude
        assert to_grid(-90.0, lon_deg, UPS_SOUTH_EPSG) == (2_000_000.0, 2_000_000.0)
        assert to_grid(90.0, lon_deg, UPS_NORTH_EPSG) == (2_000_000.0, 2_000_000.0)
    with pytest.raises(ValueError, match="EPSG:32601"):  # Transverse Mercator has no point 90 deg off its meridian
        GridFootprint.centred(0.0, 87.0, 32601, 10.0, 64, 64)
    with pytest.raises(ValueError, match="zone"):
        epsg_code(61, False)


# --- which grid a point is imaged in ----------------------------------------------------------------------------


def test_crs_for_follows_the_utm_and_ups_limits():
    # NGA.SIG.0012 / DMA TM 8358.2 (as GeographicLib's UTMUPS::StandardZone): UTM for 80 S <= lat < 84 N.
    assert crs_for(-80.0, 0.0) == 32731 and crs_for(-80.000001, 0.0) == UPS_SOUTH_EPSG
    assert crs_for(83.999999, 15.0) == 32633 and crs_for(84.0, 15.0) == UPS_NORTH_EPSG  # Svalbard band X up to 84 N
    assert crs_for(-90.0, 0.0) == crs_for(-90.0, 179.0) == UPS_SOUTH_EPSG
    assert crs_for(90.0, -180.0) == UPS_NORTH_EPSG
    assert crs_for(60.4, 5.3) == 32632 and crs_for(78.2, 15.6) == 32633  # Bergen, Longyearbyen
    with pytest.raises(ValueError, match="latitude"):
        crs_for(90.5, 0.0)


@settings(max_examples=300, deadline=None)
@given(st.floats(-90.0, 90.0), st.floats(-180.0, 180.0))
def test_every_point_is_near_the_centre_of_its_grid(lat_deg, lon_deg):
    epsg = crs_for(lat_deg, lon_deg)
    zone, south = zone_of_epsg(epsg)
    if zone == UPS_ZONE:
        assert (lat_deg < -80.0 and south) or (lat_deg >= 84.0 and not south)
        e, n = to_grid(lat_deg, lon_deg, epsg)
        e_limit, n_limit = _snyder_ups(-80.0 if south else 84.0, 0.0, south)  # the cap's edge, on the grid
        assert math.hypot(e - 2e6, n - 2e6) <= math.hypot(e_limit - 2e6, n_limit - 2e6) + ONE_MM
    else:
        assert south == (lat_deg < 0.0)
        dlon = abs((lon_deg - central_meridian_deg(zone) + 180.0) % 360.0 - 180.0)
        # 3 degrees in a standard zone; the Norway (32V, 3..12 E) and Svalbard (31X..37X, 9..12 degrees wide)
        # exceptions widen some zones, but no point lies more than 6 degrees from its zone's central meridian
        exception = (56.0 <= lat_deg < 64.0 and 3.0 <= lon_deg < 12.0) or (72.0 <= lat_deg and 0.0 <= lon_deg < 42.0)
        assert dlon <= (6.0 if exception else 3.0) + 1e-9


# --- grids in UPS -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lat_deg, lon_deg", [(-90.0, 0.0), (-89.995, 77.0), (90.0, 0.0), (89.99, -179.9),
                                              (-85.0, 179.999)])
def test_ups_grid_round_trips_and_matches_pyproj(lat_deg, lon_deg):
    epsg = crs_for(lat_deg, lon_deg)
    fp = GridFootprint.centred(lat_deg, lon_deg, epsg, 10.0, 160, 112)
    assert fp.zone == UPS_ZONE and fp.south == (lat_deg < 0)
    lat, lon = fp.pixel_centres_latlon()
    e, n = fp.pixel_centres_m()
    lon_ref, lat_ref = _proj(epsg)(*np.meshgrid(e, n), inverse=True)
    assert np.abs(lat - lat_ref).max() < ONE_MM_DEG
    assert np.abs(((lon - lon_ref + 180) % 360 - 180) * np.cos(np.radians(lat))).max() < ONE_MM_DEG
    # interpolated: the unit vectors stay smooth across the pole and the antimeridian
    lat_i, lon_i = fp.pixel_centres_latlon(step_px=16)
    assert np.abs(lat_i - lat).max() < 10 * ONE_MM_DEG
    assert np.abs(((lon_i - lon + 180) % 360 - 180) * np.cos(np.radians(lat))).max() < 10 * ONE_MM_DEG
    # to UTM zones the grid touches (every fifth of those around a pole): interpolated to the millimetre
    for zone in np.unique(utm_zones(lon, lat))[::5]:
        e_utm, n_utm = fp.pixel_centres_in(epsg_code(int(zone), lat_deg < 0))
        e_ref, n_ref = to_grid(lat, lon, epsg_code(int(zone), lat_deg < 0))
        assert np.abs(e_utm - e_ref).max() < ONE_MM and np.abs(n_utm - n_ref).max() < ONE_MM


def test_grid_spacing_on_the_ground_is_the_gsd_over_the_scale_factor():
    # GeographicLib geodesics (pyproj.Geod) between neighbouring pixel centres: on a conformal grid the ground
    # distance is gsd / k, with k = 0.994 at a UPS pole and 0.9996 on a UTM central meridian (DMA TM 8358.2).
    geod = pyproj.Geod(ellps="WGS84")
    for lat_deg, lon_deg, k in [(-90.0, 0.0, 0.994), (90.0, 0.0, 0.994), (45.0, 9.0, 0.9996)]:
        fp = GridFootprint.centred(lat_deg, lon_deg, crs_for(lat_deg, lon_deg), 10.0, 2, 2)
        lat, lon = fp.pixel_centres_latlon()
        for (r0, c0), (r1, c1) in [((0, 0), (0, 1)), ((0, 0), (1, 0))]:
            *_, distance_m = geod.inv(lon[r0, c0], lat[r0, c0], lon[r1, c1], lat[r1, c1])
            assert abs(distance_m - 10.0 / k) < ONE_MM
