"""WGS84 <-> UTM against PROJ and GeographicLib values, an independent textbook series, and round trips."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onboard.projection import (GridFootprint, central_meridian_deg, epsg_code, from_utm, to_utm, utm_zone,
                                utm_zones, zone_of_epsg)

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
    e, n = to_utm(lat_deg, lon_deg, zone, south)
    assert abs(e - easting_m) < TENTH_MM and abs(n - northing_m) < TENTH_MM
    lat, lon = from_utm(easting_m, northing_m, zone, south)
    e2, n2 = to_utm(lat, lon, zone, south)
    assert abs(e2 - easting_m) < TENTH_MM and abs(n2 - northing_m) < TENTH_MM


def test_matches_geographiclib_geoconvert():
    # GeoConvert(1) manual: "33.3 44.4" is "38n 444140.54 3684706.36" (printed to the centimetre).
    assert utm_zone(44.4, 33.3) == (38, False)
    e, n = to_utm(33.3, 44.4, 38, False)
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
    e, n = to_utm(lat_deg, lon, zone, south)
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
    lat, lon = fp.centre_latlon()
    assert abs(lat - 48.85) * 111e3 < 15.0 and abs(lon - 2.35) * 73e3 < 15.0  # within a pixel and a half
    neighbour = GridFootprint.centred(48.86, 2.36, 32631, 10.0, 512, 256)
    assert (neighbour.x0_m - fp.x0_m) % 10.0 == 0.0  # one pixel lattice for the whole pass


def test_footprint_geometry():
    fp = GridFootprint(32621, 694020.0, -2766630.0, 30.0, 4, 3)
    e, n = fp.pixel_centres_m()
    assert e[0] == 694035.0 and n[0] == -2766645.0 and n[-1] == -2766645.0 - 60.0
    assert fp.bounds_m == (694020.0, -2766720.0, 694140.0, -2766630.0)
    corners = fp.corners_latlon()
    lat_ul, lon_ul = from_utm(694020.0, -2766630.0, 21, False)
    assert np.allclose(corners[0], [lat_ul, lon_ul], atol=1e-12)
    assert corners[0, 0] > corners[3, 0] and corners[1, 1] > corners[0, 1]  # LL south of UL, UR east of UL
    tile = fp.window(1, 2, 2, 2)
    assert (tile.x0_m, tile.y0_m, tile.width_px, tile.height_px) == (694080.0, -2766660.0, 2, 2)


def test_interpolated_pixel_centres_are_centimetre_accurate():
    fp = GridFootprint.centred(60.0, 2.9, 32631, 30.0, 300, 200)  # far from the central meridian
    lat, lon = fp.pixel_centres_latlon()
    lat_i, lon_i = fp.pixel_centres_latlon(step_px=16)
    assert np.abs(lat_i - lat).max() < 10 * ONE_MM_DEG and np.abs(lon_i - lon).max() < 20 * ONE_MM_DEG
    e, n = fp.pixel_centres_in(32632)
    e_ref, n_ref = to_utm(lat, lon, 32, False)
    assert np.abs(e - e_ref).max() < ONE_MM and np.abs(n - n_ref).max() < ONE_MM
