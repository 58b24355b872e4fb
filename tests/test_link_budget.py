"""onboard.sim.link_budget: the budget against textbook worked examples, the DVB-S2 table against the standard, and a
pass's bytes against an independent integration of the same equations (skyfield geometry, scipy integrator)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp

from onboard.constants import BOLTZMANN_DB
from onboard.sim import link_budget as lb
from onboard.orbit.ephemeris import Ephemeris
from onboard.scenario.orbit_config import OrbitConfig
from onboard.orbit.passes import GroundStation, contact_windows

START = dt.datetime(2026, 6, 21, tzinfo=dt.timezone.utc)
XBAND = lb.Budget(eirp_dbw=10.0, g_t_db_k=28.0, frequency_ghz=8.2, symbol_rate_msps=50.0, implementation_loss_db=1.0,
                  losses_db=1.0, margin_db=3.0, table=lb.modcod_table())


def test_free_space_loss_of_roddy_example_12_1():
    # D. Roddy, Satellite Communications, 4th ed., McGraw-Hill 2006, Example 12.1: the range between a ground
    # station and a satellite is 42 000 km; the free-space loss at 6 GHz is
    # [FSL] = 32.4 + 20 log 42 000 + 20 log 6000 = 200.4 dB.
    assert lb.free_space_loss_db(42_000.0, 6.0) == pytest.approx(200.4, abs=0.1)


def test_downlink_c_n0_of_roddy_example_12_14():
    # Roddy (4th ed.) Example 12.14: a TWTA with 6 dB output backoff and 25 dBW saturation EIRP, downlink free-space
    # loss 196 dB, other downlink losses 1.5 dB, earth station G/T 41 dB/K: [C/N0] = 25 - 6 + 41 - 196 - 1.5 + 228.6
    # = 91.1 dBHz.
    assert lb.c_n0_dbhz(25.0 - 6.0, 41.0, 196.0, 1.5) == pytest.approx(91.1, abs=0.5)
    assert BOLTZMANN_DB == pytest.approx(-228.6, abs=0.01)


def test_es_n0_is_c_n0_less_the_symbol_rate_and_the_implementation_loss():
    assert lb.es_n0_db(100.0, 50.0, 1.0) == pytest.approx(100.0 - 10 * math.log10(50e6) - 1.0)


# ETSI EN 302 307-1 V1.4.1 table 13 (ideal Es/N0 for QEF, normal FECFRAME), a few rows copied from the standard.
@pytest.mark.parametrize("name, es_n0_db, efficiency", [
    ("QPSK 1/4", -2.35, 0.490243), ("QPSK 1/2", 1.00, 0.988858), ("QPSK 9/10", 6.42, 1.788612),
    ("8PSK 3/5", 5.50, 1.779991), ("8PSK 9/10", 10.98, 2.679207), ("16APSK 2/3", 8.97, 2.637201),
    ("16APSK 9/10", 13.13, 3.567342), ("32APSK 3/4", 12.73, 3.703295), ("32APSK 9/10", 16.05, 4.453027)])
def test_dvb_s2_rows_are_the_standard_ones(name, es_n0_db, efficiency):
    assert lb.DVB_S2[lb.DVB_S2_NAMES.index(name)] == (name, es_n0_db, efficiency)


# EN 302 307-1 table 5a: Kbch (BCH uncoded block) of each code rate, normal FECFRAME
K_BCH = {"1/4": 16008, "1/3": 21408, "2/5": 25728, "1/2": 32208, "3/5": 38688, "2/3": 43040, "3/4": 48408,
         "4/5": 51648, "5/6": 53840, "8/9": 57472, "9/10": 58192}
BITS = {"QPSK": 2, "8PSK": 3, "16APSK": 4, "32APSK": 5}


def test_every_efficiency_follows_from_the_frame_structure():
    # information bits (Kbch less the 80-bit BBHEADER) per symbol of a PLFRAME: 64 800 / log2 M + 90 (PLHEADER)
    assert len(lb.DVB_S2) == 28
    for m in lb.DVB_S2:
        modulation, rate = m.name.split()
        assert m.bits_per_symbol == pytest.approx((K_BCH[rate] - 80) / (64800 / BITS[modulation] + 90), abs=1e-6)


def test_acm_picks_the_most_efficient_modcod_that_closes_with_margin():
    table = lb.modcod_table()
    steps = lb.staircase(table)
    names = [m.name for m in steps]
    assert "8PSK 3/5" in names and "QPSK 9/10" in names and "QPSK 8/9" not in names  # 1.766 < 1.780 bit/sym
    assert [s.bits_per_symbol for s in steps] == sorted(s.bits_per_symbol for s in steps)
    assert XBAND.modcod_names(np.array([-10.0, 0.64, 0.65, 4.0, 19.05, 30.0])) == [
        None, None, "QPSK 1/4", "QPSK 1/2", "32APSK 9/10", "32APSK 9/10"]
    assert XBAND.rate_bps(np.array([0.0, 4.0]))[1] == pytest.approx(50e6 * 0.988858)
    assert XBAND.rate_bps(np.array([0.0]))[0] == 0.0


def test_one_modcod_is_ccm():
    ccm = lb.Budget(**{**XBAND.__dict__, "table": lb.modcod_table(["8PSK 3/4"])})
    assert ccm.modcod_names(np.array([10.0, 10.91, 30.0])) == [None, "8PSK 3/4", "8PSK 3/4"]


def test_qef_frame_error_rate_scales_the_packet_error_rate():
    assert lb.qef_frame_error_rate(188) == pytest.approx(1e-7)
    assert lb.qef_frame_error_rate(1024) == pytest.approx(1024 / 188 * 1e-7, rel=1e-6)


@settings(max_examples=50, deadline=None)
@given(st.floats(400.0, 3000.0), st.floats(1.0, 500.0))
def test_rate_never_rises_with_slant_range(near_km, further_km):
    near, far = XBAND.rate_bps(XBAND.es_n0_db(np.array([near_km, near_km + further_km])))
    assert far <= near


def _one_pass():
    orbit = OrbitConfig(altitude_km=550.0, sun_synchronous=True, ltan_h=10.5)
    ephemeris = Ephemeris([orbit.satrec(START)], START)
    station = GroundStation("svalbard", 78.23, 15.39, 500.0, 5.0)
    window = max(contact_windows(ephemeris, ["sat"], [station], 12 * 3600.0), key=lambda w: w.max_elevation_deg)
    return ephemeris, station, window


def test_pass_bytes_match_an_independent_integration():
    """The bytes a whole pass can carry, against solve_ivp of d(bytes)/dt = rate(t) at 1 s steps, with the slant
    range from skyfield's own SGP4 and topocentric geometry: within 2 %."""
    from skyfield.api import EarthSatellite, load, wgs84

    ephemeris, station, window = _one_pass()
    rates = lb.pass_rates(ephemeris, 0, station, window, XBAND, 0.9, None)
    satrec = ephemeris.satrecs[0]
    ts = load.timescale()
    sat = EarthSatellite.from_satrec(satrec, ts)
    site = wgs84.latlon(station.lat_deg, station.lon_deg, elevation_m=station.alt_m)

    def rate(t_s, _):
        when = ts.from_datetime(START + dt.timedelta(seconds=float(t_s)))
        range_km = (sat - site).at(when).distance().km
        return [float(XBAND.rate_bps(XBAND.es_n0_db(range_km))) * 0.9 / 8]

    solution = solve_ivp(rate, (window.aos_t_s, window.los_t_s), [0.0], method="RK23", max_step=1.0, rtol=1e-8)
    independent = solution.y[0, -1]
    assert independent > 1e9  # a real pass: gigabytes
    assert rates.cumulative_bytes[-1] == pytest.approx(independent, rel=0.02)
    assert rates.link_up_s <= window.duration_s


def test_pass_rates_follow_the_pass_and_invert_exactly():
    ephemeris, station, window = _one_pass()
    rates = lb.pass_rates(ephemeris, 0, station, window, XBAND, 0.9, 1e7)
    peak = int(np.argmax(rates.bytes_per_s))
    assert np.all(np.diff(rates.bytes_per_s[:peak + 1]) > 0) and np.all(np.diff(rates.bytes_per_s[peak:]) < 0)
    assert rates.edges_s[0] == window.aos_t_s and rates.edges_s[-1] == window.los_t_s
    t0 = window.aos_t_s + 30.0
    for size in (1e6, 1e8, 1e9):
        dt_s = rates.seconds_to_send(t0, size)
        assert rates.bytes_sent(t0, dt_s) == pytest.approx(size, rel=1e-9)
    assert rates.seconds_to_send(t0, 2 * rates.cumulative_bytes[-1]) == math.inf
    whole_s = window.los_t_s - window.aos_t_s
    assert rates.up_s(window.aos_t_s, whole_s) == pytest.approx(rates.link_up_s, abs=1e-9)
    assert rates.up_s(t0, 10.0) == pytest.approx(10.0 if rates.bytes_sent(t0, 10.0) else 0.0)
    assert (rates.constant_model, rates.constant_bytes_per_s) == ("rate_mbps", 1e7)
    samples = rates.samples
    assert samples[0].t_s == pytest.approx(window.aos_t_s, abs=1e-3)
    assert samples[0].elevation_deg == pytest.approx(station.min_elevation_deg, abs=0.01)  # AOS: on the mask
    # samples 10 s apart: near zenith the elevation moves up to ~1 deg/s, so the top sample may miss the peak by 2 deg
    assert max(s.elevation_deg for s in samples) == pytest.approx(window.max_elevation_deg, abs=2.0)
    assert max(s.rate_mbps for s in samples) == pytest.approx(max(rates.bytes_per_s) * 8 / 0.9 / 1e6)


def test_without_a_constant_rate_the_model_is_the_modcod_of_the_lowest_elevation():
    ephemeris, station, window = _one_pass()
    rates = lb.pass_rates(ephemeris, 0, station, window, XBAND, 0.9, None)
    assert rates.constant_model == "lowest_elevation_modcod"
    assert rates.constant_bytes_per_s == pytest.approx(min(rates.bytes_per_s[[0, -1]]))


@pytest.mark.parametrize("eirp_dbw", [0.0, -8.0])
def test_a_pass_whose_link_closes_only_high_up_is_served_only_then(eirp_dbw):
    """10 to 18 dB less EIRP: no MODCOD closes near the mask. The satellite takes the station's antenna from the
    first instant one closes to the last (PassRates.served_span_s), and the constant-rate model is the MODCOD that
    closes at the lowest elevation where any does (it was 0 B/s: none closes at the mask). At -12 dBW none closes
    at all: no span, and a model of 0 B/s."""
    ephemeris, station, window = _one_pass()
    rates = lb.pass_rates(ephemeris, 0, station, window, dataclasses.replace(XBAND, eirp_dbw=eirp_dbw), 0.9, None)
    start_s, end_s = rates.served_span_s
    assert window.aos_t_s < start_s < end_s < window.los_t_s
    assert rates.bytes_per_s[0] == rates.bytes_per_s[-1] == 0.0
    assert rates.up_s(start_s, end_s - start_s) == pytest.approx(rates.link_up_s) == pytest.approx(end_s - start_s)
    assert rates.constant_bytes_per_s == pytest.approx(rates.bytes_per_s[rates.bytes_per_s > 0].min())
    assert rates.constant_bytes_per_s > 0
    never = lb.pass_rates(ephemeris, 0, station, window, dataclasses.replace(XBAND, eirp_dbw=-12.0), 0.9, None)
    assert never.served_span_s is None and never.constant_bytes_per_s == 0.0


def test_validate_warns_when_no_modcod_closes_even_overhead():
    from pathlib import Path

    from onboard.scenario.config import load_scenario

    quickstart = Path(__file__).parent.parent / "scenarios" / "quickstart.yaml"
    xband = "spacecraft.radio.link_budget={eirp_dbw: 10, g_t_db_k: 28, frequency_ghz: 8.2, symbol_rate_msps: 50}"
    assert not [w for w in load_scenario(quickstart, [xband]).warnings if "MODCOD" in w]
    # a 3 dB/K antenna at matera: 25 dB less; 555 km overhead gives Es/N0 -3.0 dB, below QPSK 1/4 -2.35 + 3 dB
    weak = load_scenario(quickstart, [xband, "ground_stations[1].g_t_db_k=3"]).warnings
    [warning] = [w for w in weak if "MODCOD" in w]
    assert "ground_stations[1].g_t_db_k" in warning and "overhead matera" in warning
    assert "passes carry nothing" in warning

    # a fleet at 550 and 2000 km: the lower satellite closes the link at matera overhead (Es/N0 +4.0 dB at 555 km
    # with 10 dB/K), the higher one could not: no warning, as some satellite's passes carry data
    fleet = ("satellites=[{name: low, orbit: {altitude_km: 550, sun_synchronous: true, ltan_h: 10.5}}, "
             "{name: high, orbit: {altitude_km: 2000, sun_synchronous: true, ltan_h: 10.5}}]")
    assert not [w for w in load_scenario(quickstart, [xband, fleet, "ground_stations[1].g_t_db_k=10"]).warnings
                if "MODCOD" in w]
    [warning] = [w for w in load_scenario(quickstart, [xband, fleet, "ground_stations[1].g_t_db_k=3"]).warnings
                 if "MODCOD" in w]
    assert "overhead matera at 555 km" in warning



def test_a_station_g_t_without_a_link_budget_is_said_to_be_ignored():
    from pathlib import Path

    from onboard.scenario.config import load_scenario

    quickstart = Path(__file__).parent.parent / "scenarios" / "quickstart.yaml"
    assert not [w for w in load_scenario(quickstart).warnings if "g_t_db_k" in w]
    [warning] = [w for w in load_scenario(quickstart, ["ground_stations[0].g_t_db_k=30"]).warnings if "g_t_db_k" in w]
    assert "ground_stations[0].g_t_db_k" in warning and "30 dB/K, which this run ignores" in warning
