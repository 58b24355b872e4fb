"""The payload link budget over a pass, with adaptive coding and modulation (ACM) on the DVB-S2 MODCODs.

At each instant of a contact window the slant range from the real SGP4 geometry gives the free-space loss, then

    C/N0  = EIRP + G/T - FSPL - other losses - 10 log10(k)      (dB-Hz; -10 log10(k) = 228.60 dB)
    Es/N0 = C/N0 - 10 log10(Rs) - implementation loss          (dB)
    FSPL  = 20 log10(4 pi d f / c)                               (dB)

(Maral & Bousquet, *Satellite Communications Systems*, 5th ed., Wiley 2009, sections 5.2-5.6; k the Boltzmann
constant and c the speed of light, both exact in the SI since 2019). The modem uses the MODCOD of highest spectral
efficiency whose ideal Es/N0 threshold plus ``margin_db`` the link meets, none below the lowest (the link is down:
no data); the information rate is Rs times the MODCOD's spectral efficiency. The rate is therefore piecewise constant
over a pass and changes where Es/N0 crosses a threshold plus margin: those instants are found by linear interpolation
of Es/N0 between samples :data:`RATE_STEP_S` apart, and the bytes a pass carries are the exact integral of that step
function (:class:`PassRates`).

Frame errors: the thresholds are for quasi-error-free operation, a packet error rate of 1e-7 on 188-byte packets
(EN 302 307-1 clause 6), so above threshold plus margin a transfer frame of ``frame_bytes`` is lost with probability
``1 - (1 - 1e-7)^(frame_bytes / 188)`` (:func:`qef_frame_error_rate`), independent packets assumed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

import numpy as np

from rundir.errors import ConfigIssue
from rundir.telemetry import LinkSample

from ..constants import BOLTZMANN_DB, SPEED_OF_LIGHT_M_S
from ..orbit.ephemeris import Ephemeris
from ..orbit.frames import dot, ecef_from_geodetic, enu_basis
from ..scenario.schema import issue_at

RATE_STEP_S = 1.0  # Es/N0 is sampled this often over a pass; MODCOD switches are interpolated between samples
SAMPLE_STEP_S = 10.0  # the telemetry's time series of a pass: every 10 s, plus each MODCOD switch
QEF_PACKET_ERROR_RATE = 1e-7  # EN 302 307-1 clause 6: quasi-error-free, PER 1e-7 on 188-byte MPEG-TS packets
QEF_PACKET_BYTES = 188


class ModCod(NamedTuple):
    """A DVB-S2 mode: its name, ideal Es/N0 threshold for quasi-error-free operation (dB) and spectral efficiency
    (information bits per symbol)."""

    name: str
    es_n0_db: float
    bits_per_symbol: float


# ETSI EN 302 307-1 V1.4.1 (2014-11), table 13: "Es/No performance at Quasi Error Free PER = 1e-7 (AWGN channel)",
# normal FECFRAME (64 800 bits), no pilots; spectral efficiency = (Kbch - 80) / (64800 / log2 M + 90) with Kbch from
# table 5a (80 bits of BBHEADER, 90 slots of PLHEADER).
DVB_S2: tuple[ModCod, ...] = tuple(ModCod(n, e, s) for n, e, s in (
    ("QPSK 1/4", -2.35, 0.490243), ("QPSK 1/3", -1.24, 0.656448), ("QPSK 2/5", -0.30, 0.789412),
    ("QPSK 1/2", 1.00, 0.988858), ("QPSK 3/5", 2.23, 1.188304), ("QPSK 2/3", 3.10, 1.322253),
    ("QPSK 3/4", 4.03, 1.487473), ("QPSK 4/5", 4.68, 1.587196), ("QPSK 5/6", 5.18, 1.654663),
    ("QPSK 8/9", 6.20, 1.766451), ("QPSK 9/10", 6.42, 1.788612),
    ("8PSK 3/5", 5.50, 1.779991), ("8PSK 2/3", 6.62, 1.980636), ("8PSK 3/4", 7.91, 2.228124),
    ("8PSK 5/6", 9.35, 2.478562), ("8PSK 8/9", 10.69, 2.646012), ("8PSK 9/10", 10.98, 2.679207),
    ("16APSK 2/3", 8.97, 2.637201), ("16APSK 3/4", 10.21, 2.966728), ("16APSK 4/5", 11.03, 3.165623),
    ("16APSK 5/6", 11.61, 3.300184), ("16APSK 8/9", 12.89, 3.523143), ("16APSK 9/10", 13.13, 3.567342),
    ("32APSK 3/4", 12.73, 3.703295), ("32APSK 4/5", 13.64, 3.951571), ("32APSK 5/6", 14.28, 4.119540),
    ("32APSK 8/9", 15.69, 4.397854), ("32APSK 9/10", 16.05, 4.453027),
))
DVB_S2_NAMES = tuple(m.name for m in DVB_S2)


def free_space_loss_db(range_km: Any, frequency_ghz: float) -> Any:
    """Free-space path loss ``20 log10(4 pi d f / c)``, dB, of slant ranges ``range_km`` (scalar or array, km)."""
    return 20.0 * np.log10(4.0 * math.pi * np.asarray(range_km) * 1e3 * frequency_ghz * 1e9 / SPEED_OF_LIGHT_M_S)


def c_n0_dbhz(eirp_dbw: float, g_t_db_k: float, path_loss_db: Any, losses_db: float) -> Any:
    """Carrier to noise density ``EIRP + G/T - path loss - losses - 10 log10(k)``, dB-Hz."""
    return eirp_dbw + g_t_db_k - np.asarray(path_loss_db) - losses_db - BOLTZMANN_DB


def es_n0_db(c_n0: Any, symbol_rate_msps: float, implementation_loss_db: float = 0.0) -> Any:
    """Energy per symbol to noise density ``C/N0 - 10 log10(Rs) - implementation loss``, dB."""
    return np.asarray(c_n0) - 10.0 * math.log10(symbol_rate_msps * 1e6) - implementation_loss_db


def qef_frame_error_rate(frame_bytes: int) -> float:
    """Share of ``frame_bytes`` transfer frames lost at quasi-error-free operation: ``1 - (1 - 1e-7)^(bytes/188)``."""
    return -math.expm1(frame_bytes / QEF_PACKET_BYTES * math.log1p(-QEF_PACKET_ERROR_RATE))


def modcod_table(names: Sequence[str] | None = None) -> tuple[ModCod, ...]:
    """The DVB-S2 MODCODs named (all when None), by threshold. KeyError names one not in :data:`DVB_S2_NAMES`."""
    if names is None:
        return tuple(sorted(DVB_S2, key=lambda m: m.es_n0_db))
    by_name = {m.name: m for m in DVB_S2}
    return tuple(sorted((by_name[n] for n in names), key=lambda m: m.es_n0_db))


def staircase(table: Sequence[ModCod]) -> tuple[ModCod, ...]:
    """The MODCODs ACM ever picks, by threshold: each more efficient than every one with a lower threshold (a
    MODCOD that needs more Es/N0 for fewer bits per symbol, such as QPSK 8/9 against 8PSK 3/5, is never used)."""
    out: list[ModCod] = []
    for m in sorted(table, key=lambda m: (m.es_n0_db, -m.bits_per_symbol)):
        if not out or m.bits_per_symbol > out[-1].bits_per_symbol:
            out.append(m)
    return tuple(out)


def best_modcod(es_n0: Any, table: Sequence[ModCod], margin_db: float) -> np.ndarray:
    """Index into ``staircase(table)`` of the MODCOD used at each Es/N0 (dB, any shape): the most efficient whose
    threshold plus ``margin_db`` is met; -1 where none is (the link is down)."""
    thresholds = np.array([m.es_n0_db for m in staircase(table)]) + margin_db
    return np.searchsorted(thresholds, np.asarray(es_n0), side="right") - 1


@dataclass(frozen=True)
class Budget:
    """One satellite-station link: everything but the range. ``losses_db`` are the other losses (atmospheric,
    polarisation, pointing); ``table`` the MODCODs the modem may use; rates in bit/s before protocol overhead."""

    eirp_dbw: float
    g_t_db_k: float
    frequency_ghz: float
    symbol_rate_msps: float
    implementation_loss_db: float
    losses_db: float
    margin_db: float
    table: tuple[ModCod, ...]

    def es_n0_db(self, range_km: Any) -> Any:
        """Es/N0 at the demodulator, dB, at slant ranges ``range_km`` (km, any shape)."""
        cn0 = c_n0_dbhz(self.eirp_dbw, self.g_t_db_k, free_space_loss_db(range_km, self.frequency_ghz), self.losses_db)
        return es_n0_db(cn0, self.symbol_rate_msps, self.implementation_loss_db)

    def rate_bps(self, es_n0: Any) -> np.ndarray:
        """Information rate, bit/s, at Es/N0 ``es_n0`` (dB, any shape): Rs times the chosen MODCOD's efficiency, 0
        where the link is down."""
        steps = staircase(self.table)
        efficiency = np.array([0.0] + [m.bits_per_symbol for m in steps])
        return self.symbol_rate_msps * 1e6 * efficiency[best_modcod(es_n0, self.table, self.margin_db) + 1]

    def modcod_names(self, es_n0: Any) -> list[str | None]:
        """The MODCOD used at each Es/N0 (dB, 1-D), None where the link is down."""
        steps = staircase(self.table)
        return [steps[i].name if i >= 0 else None for i in best_modcod(es_n0, self.table, self.margin_db)]


def range_and_elevation(ephemeris: Ephemeris, satellite_index: int, station_km: np.ndarray, station_up: np.ndarray,
                        t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slant range, km, and elevation, deg (geodetic horizon), both (T,), of one satellite from a station (its
    Earth-fixed position, km, and up unit vector, each (3,)) at times ``t_s`` (T,), s."""
    r, _ = ephemeris.state_ecef_paired(np.full(len(t_s), satellite_index), t_s)
    d = r - station_km
    range_km = np.linalg.norm(d, axis=-1)
    return range_km, np.degrees(np.arcsin(np.clip(dot(d, station_up) / range_km, -1.0, 1.0)))


def budget_of(cfg: Any, g_t_db_k: float | None = None) -> Budget:
    """The :class:`Budget` of a ``spacecraft.radio.link_budget`` block (a LinkBudgetConfig), with a station's own
    ``g_t_db_k`` when it has one."""
    return Budget(cfg.eirp_dbw, cfg.g_t_db_k if g_t_db_k is None else g_t_db_k, cfg.frequency_ghz,
                  cfg.symbol_rate_msps, cfg.implementation_loss_db, cfg.other_losses_db, cfg.margin_db,
                  modcod_table(cfg.modcods))


@dataclass(frozen=True)
class PassRates:
    """The payload rate over one contact window, piecewise constant: ``bytes_per_s[i]`` (N,) from ``edges_s[i]`` to
    ``edges_s[i + 1]`` (N + 1,), s since the start, AOS to LOS; ``modcods[i]`` the MODCOD, None where the link is
    down. ``constant_bytes_per_s`` is the constant-rate model's payload rate it is compared with, ``constant_model``
    what that model is; ``samples`` the telemetry series of the pass."""

    edges_s: np.ndarray
    bytes_per_s: np.ndarray
    modcods: tuple[str | None, ...]
    constant_bytes_per_s: float
    constant_model: str
    g_t_db_k: float
    samples: tuple[LinkSample, ...] = ()

    @property
    def cumulative_bytes(self) -> np.ndarray:
        """(N + 1,) payload bytes the window can carry from AOS to each edge."""
        return np.concatenate(([0.0], np.cumsum(self.bytes_per_s * np.diff(self.edges_s))))

    @property
    def link_up_s(self) -> float:
        """Seconds of the window in which some MODCOD closes."""
        return float(np.diff(self.edges_s)[self.bytes_per_s > 0].sum())

    @property
    def served_span_s(self) -> tuple[float, float] | None:
        """``(start, end)``, s: from the first instant some MODCOD closes to the last, the part of the window a
        satellite takes the station's antenna for; None when none closes."""
        up = np.flatnonzero(self.bytes_per_s > 0)
        return (float(self.edges_s[up[0]]), float(self.edges_s[up[-1] + 1])) if len(up) else None

    def up_s(self, t0_s: float, dt_s: float) -> float:
        """Seconds from ``t0_s`` for ``dt_s`` seconds (inside the window) in which some MODCOD closes: the time the
        radio transmits then (with none closing, adaptive coding and modulation has no mode to send in)."""
        up = np.concatenate(([0.0], np.cumsum(np.diff(self.edges_s) * (self.bytes_per_s > 0))))
        at = np.interp([t0_s, t0_s + dt_s], self.edges_s, up)
        return float(at[1] - at[0])

    def bytes_sent(self, t0_s: float, dt_s: float) -> float:
        """Payload bytes carried from ``t0_s`` for ``dt_s`` seconds (inside the window)."""
        at = np.interp([t0_s, t0_s + dt_s], self.edges_s, self.cumulative_bytes)
        return float(at[1] - at[0])

    def seconds_to_send(self, t0_s: float, size_bytes: float) -> float:
        """Seconds from ``t0_s`` until ``size_bytes`` more payload bytes are carried; inf when the window ends first."""
        cumulative = self.cumulative_bytes
        target = float(np.interp(t0_s, self.edges_s, cumulative)) + size_bytes
        if target > cumulative[-1]:
            return math.inf
        k = int(np.searchsorted(cumulative, target, side="left"))
        if k == 0:
            return 0.0
        return max(0.0, float(self.edges_s[k - 1]) + (target - cumulative[k - 1]) / self.bytes_per_s[k - 1] - t0_s)


def _switches(t_s: np.ndarray, es_n0: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Instants at which Es/N0, sampled (T,) at ``t_s`` (T,), crosses any of ``thresholds`` (L,), dB: linear
    interpolation between the samples that bracket each crossing."""
    above = es_n0[None, :] >= thresholds[:, None]
    level, k = np.nonzero(above[:, 1:] != above[:, :-1])
    return t_s[k] + (thresholds[level] - es_n0[k]) / (es_n0[k + 1] - es_n0[k]) * (t_s[k + 1] - t_s[k])


def pass_rates(ephemeris: Ephemeris, satellite_index: int, station: Any, window: Any, budget: Budget,
               payload_fraction: float, constant_bytes_per_s: float | None) -> PassRates:
    """The rate over ``window`` (a ContactWindow) of satellite ``satellite_index`` seen from ``station`` (a
    passes.GroundStation): Es/N0 sampled every :data:`RATE_STEP_S`, MODCOD switches interpolated, information rate
    times ``payload_fraction`` / 8 in bytes/s. ``constant_bytes_per_s``: the constant-rate model; None: the rate of
    the MODCOD that closes at the lowest Es/N0 at which any closes, a fixed MODCOD that serves the pass wherever
    it closes, which is wherever any does (0 when none closes)."""
    aos, los = window.aos_t_s, window.los_t_s
    geometry = (ephemeris, satellite_index, station.ecef_km, enu_basis(station.lat_deg, station.lon_deg)[2])
    t = np.linspace(aos, los, max(2, math.ceil((los - aos) / RATE_STEP_S) + 1))
    es_n0 = budget.es_n0_db(range_and_elevation(*geometry, t)[0])
    thresholds = np.array([m.es_n0_db for m in staircase(budget.table)]) + budget.margin_db
    inner = np.unique(_switches(t, es_n0, thresholds))
    edges = np.concatenate(([aos], inner[(inner > aos) & (inner < los)], [los]))
    middle = np.interp(0.5 * (edges[1:] + edges[:-1]), t, es_n0)
    bytes_per_s = budget.rate_bps(middle) * payload_fraction / 8.0
    names = budget.modcod_names(middle)
    keep = np.concatenate(([True], bytes_per_s[1:] != bytes_per_s[:-1]))  # one segment per MODCOD
    edges, bytes_per_s = np.append(edges[:-1][keep], los), bytes_per_s[keep]
    names = tuple(n for n, k in zip(names, keep) if k)
    if constant_bytes_per_s is None:  # the pass's lowest Es/N0 where the link closes: 0 when it never does
        model, closing = "lowest_elevation_modcod", es_n0[es_n0 >= thresholds.min()]
        constant = float(budget.rate_bps(closing.min())) * payload_fraction / 8.0 if len(closing) else 0.0
    else:
        model, constant = "rate_mbps", constant_bytes_per_s
    rates = PassRates(edges, bytes_per_s, names, constant, model, budget.g_t_db_k)
    times = np.unique(np.concatenate((np.arange(aos, los, SAMPLE_STEP_S), edges)))
    return PassRates(edges, bytes_per_s, names, constant, model, budget.g_t_db_k,
                     _samples(geometry, budget, rates, times))


def _samples(geometry: tuple, budget: Budget, rates: PassRates, t_s: np.ndarray) -> tuple[LinkSample, ...]:
    """The telemetry series at ``t_s`` (T,): geometry and Es/N0 there, and the rate and MODCOD of the segment that
    starts at or runs through each instant (what the downlink integrates)."""
    range_km, elevation = range_and_elevation(*geometry, t_s)
    es_n0 = budget.es_n0_db(range_km)
    segment = np.clip(np.searchsorted(rates.edges_s, t_s, side="right") - 1, 0, len(rates.bytes_per_s) - 1)
    efficiency = {m.name: m.bits_per_symbol for m in budget.table}
    out = []
    for i, s in enumerate(segment):
        name = rates.modcods[s]
        eta = efficiency[name] if name else None
        out.append(LinkSample(round(float(t_s[i]), 3), round(float(elevation[i]), 3), round(float(range_km[i]), 3),
                              round(float(es_n0[i]), 3),
                              round(float(es_n0[i]) - 10.0 * math.log10(eta), 3) if eta else None, name,
                              round(budget.symbol_rate_msps * eta, 6) if eta else 0.0))
    return tuple(out)



def link_warnings(radio: Any, stations: Sequence[Any], satellites: Sequence[Any], start_utc: Any) -> list[ConfigIssue]:
    """An issue at its YAML path (:func:`onboard.scenario.schema.issue_at`) for each station (GroundStationConfig)
    that no satellite (SatelliteConfig) can reach at any MODCOD even straight overhead at its perigee, the shortest
    slant range a pass can have: its passes under ``radio.link_budget`` carry nothing; without a link budget, for
    each station's ``g_t_db_k``, which only a link budget uses."""
    cfg = radio.link_budget
    if cfg is None:
        return [issue_at(f"ground_stations[{i}].g_t_db_k", "a station G/T only with spacecraft.radio.link_budget (the "
                         "constant rate_mbps uses none)", f"{station.g_t_db_k:g} dB/K, which this run ignores")
                for i, station in enumerate(stations) if station.g_t_db_k is not None]
    perigee_km = []
    for sat in satellites:
        satrec = sat.orbit.satrec(start_utc)
        perigee_km.append((1.0 + satrec.altp) * satrec.radiusearthkm)
    out = []
    for i, station in enumerate(stations):
        budget = budget_of(cfg, station.g_t_db_k)
        station_km = float(np.linalg.norm(ecef_from_geodetic(station.lat_deg, station.lon_deg, station.alt_m / 1e3)))
        overhead_km = max(min(perigee_km) - station_km, 1.0)
        best = float(budget.es_n0_db(overhead_km))
        lowest = staircase(budget.table)[0]
        if best < lowest.es_n0_db + budget.margin_db:
            path = f"ground_stations[{i}].g_t_db_k" if station.g_t_db_k is not None else "spacecraft.radio.link_budget"
            out.append(issue_at(path, f"a link that closes at some MODCOD at least overhead: Es/N0 >= {lowest.name} "
                                      f"{lowest.es_n0_db:g} dB + margin {budget.margin_db:g} dB",
                                f"Es/N0 {best:.2f} dB overhead {station.name} at {overhead_km:.0f} km: "
                                "its passes carry nothing"))
    return out
