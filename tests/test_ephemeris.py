"""Tests for onboard/orbit/ephemeris.py: Earth-fixed positions against skyfield's ITRS, propagation errors, velocities and
ground speed.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from sgp4.api import WGS72, Satrec
from skyfield.api import EarthSatellite, wgs84
from skyfield.framelib import itrs

from onboard.orbit.elements import satrec_from_elements, satrec_from_tle
from onboard.orbit.ephemeris import Ephemeris, PropagationError, ground_speed_km_s
from onboard.orbit.frames import ecef_from_geodetic, geodetic
from onboard.orbit.passes import contact_windows
from tests.orbit_cases import DAY_S, ISS_START_UTC, ISS_TLE, SSO_START_UTC, STATIONS, TS, sso_satrec




def test_positions_match_skyfield_itrs():
    satrec = satrec_from_tle(*ISS_TLE)
    t_s = np.linspace(0.0, DAY_S, 97)
    ours = Ephemeris([satrec], ISS_START_UTC).ecef_km(t_s)[0]
    theirs = EarthSatellite.from_satrec(satrec, TS).at(TS.from_datetime(ISS_START_UTC) + t_s / DAY_S)
    # UT1-UTC (0.2 s) and skyfield's IAU 2000 precession-nutation differ from GMST by ~0.1 km.
    assert np.abs(ours - theirs.frame_xyz(itrs).km.T).max() < 0.2
    lat, lon, _ = geodetic(ours)
    sub = wgs84.subpoint_of(theirs)
    assert np.abs(lat - sub.latitude.degrees).max() < 0.005
    assert np.abs((lon - sub.longitude.degrees + 180.0) % 360.0 - 180.0).max() < 0.005


def test_a_decayed_satellite_raises_with_its_index_and_time():
    high_drag = Satrec()
    epoch_days = (SSO_START_UTC - datetime(1949, 12, 31, tzinfo=timezone.utc)).total_seconds() / DAY_S
    mean_motion_rad_min = math.sqrt(398600.8 / (6378.135 + 250.0) ** 3) * 60.0
    high_drag.sgp4init(WGS72, "i", 0, epoch_days, 0.05, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, mean_motion_rad_min, 0.0)
    ephemeris = Ephemeris([sso_satrec(), high_drag], SSO_START_UTC)
    with pytest.raises(PropagationError, match="satellite #1: SGP4 error 6 .* decayed") as caught:
        contact_windows(ephemeris, ["sso", "falling"], list(STATIONS.values()), 2 * DAY_S)
    assert caught.value.satellite_index == 1 and 0.0 < caught.value.t_s < DAY_S


def test_velocity_is_the_derivative_of_position():
    ephemeris = Ephemeris([satrec_from_tle(*ISS_TLE), sso_satrec()], ISS_START_UTC)
    t_s = np.array([100.0, 2000.0, 40000.0])
    half_s = 0.5
    numeric = (ephemeris.ecef_km(t_s + half_s) - ephemeris.ecef_km(t_s - half_s)) / (2 * half_s)
    assert np.abs(ephemeris.state_ecef(t_s)[1] - numeric).max() < 1e-3  # 1 m/s
    r, v = ephemeris.state_ecef_paired(np.array([1, 0, 1]), t_s)
    assert np.array_equal(r, ephemeris.ecef_km(t_s)[[1, 0, 1], [0, 1, 2]])


def test_ground_speed_matches_the_sub_satellite_track():
    ephemeris = Ephemeris([sso_satrec()], SSO_START_UTC)
    t_s = np.array([500.0, 3000.0])
    speed = ground_speed_km_s(ephemeris, t_s)[0]
    lat, lon, _ = np.radians(geodetic(ephemeris.ecef_km(np.concatenate((t_s - 0.5, t_s + 0.5)))))
    lat, lon = lat[0].reshape(2, 2), lon[0].reshape(2, 2)
    central = np.arccos(np.sin(lat[0]) * np.sin(lat[1]) + np.cos(lat[0]) * np.cos(lat[1]) * np.cos(lon[1] - lon[0]))
    radius_km = np.linalg.norm(ecef_from_geodetic(np.degrees(lat[0]), np.degrees(lon[0]), 0.0), axis=-1)
    assert speed == pytest.approx(central * radius_km, rel=0.005)
    assert 6.8 < speed.min() and speed.max() < 7.2


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 5), st.integers(1, 300), st.integers(1, 64))
def test_over_time_in_chunks_is_the_same_as_all_times_at_once(n_satellites, n_times, chunk_states):
    """Positions, velocities and a time-dependent function of them, propagated a few satellite-times at a time
    (chunks of 1 time up to all of them), are bit for bit those of one propagation of every time."""
    others = [satrec_from_elements(ISS_START_UTC, 600.0, sun_synchronous=True, ltan_h=9.0 + k, phase_deg=30.0 * k)
              for k in range(n_satellites - 1)]
    ephemeris = Ephemeris([satrec_from_tle(*ISS_TLE), *others], ISS_START_UTC)
    t_s = np.linspace(0.0, DAY_S, n_times)
    r, v = ephemeris.state_ecef(t_s)
    with patch("onboard.orbit.ephemeris.CHUNK_STATES", chunk_states):
        chunked = ephemeris.over_time(t_s, lambda r_c, v_c, t_c: np.concatenate(
            [r_c, v_c, np.broadcast_to(t_c[None, :, None], r_c.shape[:2] + (1,))], axis=-1))
    assert chunked.shape == (n_satellites, n_times, 7)
    assert np.array_equal(chunked[..., :3], r) and np.array_equal(chunked[..., 3:6], v)
    assert np.array_equal(chunked[0, :, 6], t_s)
