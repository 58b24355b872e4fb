"""The downlink: products leave mass memory only inside contact windows, at the link rate less protocol overhead.

A product goes down as transfer frames of ``frame_bytes``. Each frame is lost with the link's frame error rate,
detected by its CRC on the ground and sent again (selective-repeat ARQ, as CFDP class 2 does), so a product costs
its own bytes plus the retransmissions, drawn once per product: the failures before ``n`` successes are negative
binomial. A product interrupted by LOS keeps its progress, retransmissions included, and resumes at the next
contact. The payload rate is constant (``spacecraft.radio.rate_mbps``) or, under a link budget, follows each pass
(:class:`onboard.sim.link_budget.PassRates`: bytes are integrated exactly over its piecewise-constant rate, which is 0
while no MODCOD closes). Each station has one antenna, which serves one satellite at a time, and only while it has
a product to send: a satellite with nothing left lets it go for another (no slew or re-acquisition time is
modelled). A satellite that finds the antenna taken waits, at most until its own LOS; when its next station comes
into view meanwhile (or is in view already) with its antenna free, it goes there instead. Under a link budget it
takes the antenna only from the first instant some MODCOD closes to the last, not at all for a pass whose link
never closes, and serves the passes in the order their links close. Delivered products become files in
``RUN/downlink/`` plus one line of ``manifest.jsonl`` each: the only interface to the ground.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import simpy

from rundir.files import jsonl_line, write_atomic
from rundir.manifest import MANIFEST, ManifestLine, Sidecar
from rundir.telemetry import ContactRecord, PassLinkRecord

from .storage import Item, Storage


@dataclass
class ContactLog:
    """What happened in one contact window."""

    satellite: str
    station: str
    aos_t_s: float
    los_t_s: float
    max_elevation_deg: float
    tracked: bool = False
    used_s: float = 0.0  # seconds spent transmitting
    bytes_sent: float = 0.0
    products_completed: int = 0
    link: Any = None  # the pass's link_budget.PassRates under a link budget
    serving_s: float = 0.0  # seconds with a product to send while the constant-rate model's link is up
    waited_s: float = 0.0  # seconds with a product to send while another satellite held the station's antenna

    def _times_ms(self) -> tuple[float, float, float, float]:
        """``(aos_t_s, los_t_s, duration_s, used_s)`` to the millisecond, as both records give them: the length is
        that of the rounded AOS and LOS, and the time sending at most that (rounded on its own, a window used whole
        read 1 ms longer than the window: usage 1.000015)."""
        aos_t_s, los_t_s = round(self.aos_t_s, 3), round(self.los_t_s, 3)
        duration_s = round(los_t_s - aos_t_s, 3)
        return aos_t_s, los_t_s, duration_s, min(round(self.used_s, 3), duration_s)

    def contact_record(self) -> ContactRecord:
        """The line of ``telemetry/contacts.jsonl`` of this contact (times: :meth:`_times_ms`)."""
        aos_t_s, los_t_s, duration_s, used_s = self._times_ms()
        return ContactRecord(
            satellite=self.satellite, station=self.station, aos_t_s=aos_t_s, los_t_s=los_t_s,
            max_elevation_deg=round(self.max_elevation_deg, 3), tracked=self.tracked, used_s=used_s,
            bytes_sent=int(round(self.bytes_sent)), duration_s=duration_s, products_completed=self.products_completed,
            waited_s=round(self.waited_s, 3))

    def link_record(self) -> PassLinkRecord:
        """The line of ``telemetry/link.jsonl`` of a contact under a link budget (times: :meth:`_times_ms`)."""
        link = self.link
        aos_t_s, los_t_s, _, used_s = self._times_ms()
        return PassLinkRecord(
            self.satellite, self.station, aos_t_s, los_t_s, link.g_t_db_k,
            round(link.link_up_s, 3), int(round(float(link.cumulative_bytes[-1]))), used_s,
            int(round(self.bytes_sent)), link.constant_model, round(link.constant_bytes_per_s, 3),
            int(round(link.constant_bytes_per_s * self.serving_s)), list(link.samples))


class ProductStore:
    """Product files: on board in ``RUN/onboard/`` until delivered, then moved to ``RUN/downlink/``."""

    def __init__(self, run_dir: Path):
        self.onboard_dir = run_dir / "onboard"
        self.downlink_dir = run_dir / "downlink"
        self.onboard_dir.mkdir(parents=True, exist_ok=True)
        self.downlink_dir.mkdir(parents=True, exist_ok=True)
        self.manifest = open(self.downlink_dir / MANIFEST, "a", encoding="utf-8")

    def stage(self, line: ManifestLine, payload: bytes, sidecars: dict[str, bytes] | None = None) -> ManifestLine:
        """Keep a new product on board: its file and its ``sidecars`` ({file name: content}, e.g. a PNG's world file).
        Returns the manifest ``line`` completed with the ``sha256`` of the product file, its ``sidecars`` (file,
        bytes, sha256 of each) and ``bytes``, everything the product sends down: its file plus its sidecars."""
        files = {line.file: payload, **(sidecars or {})}
        line = dataclasses.replace(
            line, sha256=hashlib.sha256(payload).hexdigest(), bytes=sum(len(data) for data in files.values()),
            sidecars=tuple(Sidecar(name, len(data), hashlib.sha256(data).hexdigest())
                           for name, data in sidecars.items()) if sidecars else None)
        for name, data in files.items():
            write_atomic(self.onboard_dir / name, lambda tmp, data=data: tmp.write_bytes(data))
        return line

    @staticmethod
    def _files(line: ManifestLine) -> list[str]:
        return [line.file, *(s.file for s in line.sidecars or ())]

    def discard(self, line: ManifestLine) -> None:
        for name in self._files(line):
            (self.onboard_dir / name).unlink(missing_ok=True)

    def deliver(self, line: ManifestLine) -> None:
        """Move the product's files to the ground side, then append its manifest line in one write."""
        for name in self._files(line):
            os.replace(self.onboard_dir / name, self.downlink_dir / name)
        self.manifest.write(jsonl_line(line.to_json()))
        self.manifest.flush()

    def close(self) -> None:
        self.manifest.close()


@dataclass(frozen=True)
class Link:
    """The payload link: useful bytes per second, transfer frame size and frame error rate (FER)."""

    payload_bytes_per_s: float
    frame_bytes: int = 1024
    frame_error_rate: float = 0.0

    def on_air_bytes(self, size_bytes: int, rng: np.random.Generator) -> tuple[int, int]:
        """``(bytes on the air, of which retransmitted)`` to deliver ``size_bytes`` intact over this link."""
        frames = max(1, math.ceil(size_bytes / self.frame_bytes))
        failures = int(rng.negative_binomial(frames, 1.0 - self.frame_error_rate)) if self.frame_error_rate else 0
        return size_bytes + failures * self.frame_bytes, failures * self.frame_bytes


def frame_error_rate(eb_n0_db: float, frame_bytes: int) -> float:
    """FER of uncoded BPSK/QPSK at ``eb_n0_db``: ``1 - (1 - BER)^(8 frame_bytes)``, ``BER = erfc(sqrt(Eb/N0)) / 2``.
    Uncoded: BER 1e-5 needs 9.6 dB, where the rate-1/2, K = 7 convolutional code flown on most missions needs about
    4.4 dB (CCSDS 130.1-G, TM synchronization and channel coding, summary of concept and rationale), so a coded
    link's Eb/N0 here reads as a ruinous error rate; such a link gives its frame_error_rate."""
    ber = 0.5 * math.erfc(math.sqrt(10.0 ** (eb_n0_db / 10.0)))
    return -math.expm1(8 * frame_bytes * math.log1p(-ber))


class ConstantRate(NamedTuple):
    """A payload rate that holds for the whole window, bytes/s."""

    bytes_per_s: float

    def seconds_to_send(self, t0_s: float, size_bytes: float) -> float:
        return size_bytes / self.bytes_per_s

    def bytes_sent(self, t0_s: float, dt_s: float) -> float:
        return dt_s * self.bytes_per_s

    def up_s(self, t0_s: float, dt_s: float) -> float:
        return dt_s


def downlink(env: simpy.Environment, windows: list[Any], antennas: dict[str, simpy.Resource], storage: Storage,
             link: Link, busy: Callable[[str, float], None], delivered: Callable[[Item, float, str], None],
             log: list[ContactLog], rng: np.random.Generator, pass_rates: list[Any] | None = None):
    """SimPy process: serve one satellite's contact windows in the order :func:`_served_spans` gives; ``pass_rates``:
    each window's link_budget.PassRates (as ``windows``), or None for ``link.payload_bytes_per_s`` throughout."""
    constant = ConstantRate(link.payload_bytes_per_s)
    spans, order = _served_spans(windows, pass_rates)
    for n, i in enumerate(order):
        window = windows[i]
        rates = pass_rates[i] if pass_rates is not None else constant
        entry = ContactLog(window.satellite, window.station, window.aos_t_s, window.los_t_s, window.max_elevation_deg,
                           link=pass_rates[i] if pass_rates is not None else None)
        log.append(entry)
        if env.now < window.aos_t_s:
            yield env.timeout(window.aos_t_s - env.now)
        # off the antenna, a product waits within the pass until its link closes, or after, until the next pass's
        # does; only a constant rate_mbps, whose link is never down, would have sent it then
        credit = pass_rates is not None and rates.constant_model == "rate_mbps"
        j = next((j for j in order[n + 1:] if spans[j] is not None), None)  # the next window served
        handover = None if j is None else (windows[j].station, *spans[j])
        next_start_s = math.inf if handover is None else handover[1]
        if spans[i] is None:
            yield from _off_the_antenna(env, storage, entry, min(window.los_t_s, next_start_s), credit)
            continue
        start_s, end_s = spans[i]
        if env.now >= end_s:
            continue
        yield from _off_the_antenna(env, storage, entry, start_s, credit)
        while env.now < end_s:
            if storage.next_product() is None:  # nothing to send: the antenna is free for another satellite
                yield storage.changed | env.timeout(end_s - env.now)
                continue
            asked_s = env.now
            request = yield from _antenna(env, antennas, window.station, end_s, handover)
            entry.waited_s += env.now - asked_s
            if request is None:
                break
            entry.tracked = True
            yield from _send(env, storage, link, rates, entry, end_s, busy, delivered, rng)
            antennas[window.station].release(request)
        yield from _off_the_antenna(env, storage, entry, min(window.los_t_s, next_start_s), credit)


def _antenna(env: simpy.Environment, antennas: dict[str, simpy.Resource], station: str, end_s: float,
             handover: tuple[str, float, float] | None):
    """SimPy process: ``station``'s antenna, waiting for it at most until ``end_s``; its granted request, or None.
    ``handover``: the next window's ``(station, start_s, end_s)``; a satellite still waiting when that window is open
    and its antenna free gives this station up for it (None returned), else it waits on."""
    request = antennas[station].request()
    check_s = handover[1] if handover is not None and handover[1] < end_s else math.inf
    while True:
        yield request | env.timeout(max(min(end_s, check_s) - env.now, 0.0))
        if request.triggered:
            return request
        if env.now >= end_s or (check_s <= env.now < handover[2]
                                and antennas[handover[0]].count < antennas[handover[0]].capacity):
            request.cancel()
            return None
        check_s = math.inf  # the next station was taken or out of view when it came: wait on for this one


def _send(env: simpy.Environment, storage: Storage, link: Link, rates: Any, entry: ContactLog, end_s: float,
          busy: Callable[[str, float], None], delivered: Callable[[Item, float, str], None],
          rng: np.random.Generator):
    """SimPy process: on the station's antenna, send products in storage's order until none is left or ``end_s``;
    a product cut off at ``end_s`` keeps its progress. ``rates``: the window's payload rate (:class:`ConstantRate`
    or link_budget.PassRates)."""
    while env.now < end_s:
        item = storage.next_product()
        if item is None:
            return
        if item.on_air_bytes is None:
            item.on_air_bytes, item.retransmitted_bytes = link.on_air_bytes(item.size_bytes, rng)
        remaining = item.on_air_bytes - item.sent_bytes
        finish_s = rates.seconds_to_send(env.now, remaining)
        dt_s = min(finish_s, end_s - env.now)
        item.locked = True
        start_s = env.now
        yield env.timeout(dt_s)
        item.locked = False
        on_air_s = rates.up_s(start_s, dt_s)  # under a link budget, the link may be down for part of it
        busy("radio", on_air_s)
        entry.used_s += on_air_s
        entry.serving_s += dt_s
        done = dt_s >= finish_s
        sent = remaining if done else rates.bytes_sent(start_s, dt_s)
        item.sent_bytes += sent
        entry.bytes_sent += sent
        if done:
            storage.remove(item)
            entry.products_completed += 1
            delivered(item, env.now, entry.station)


def _served_spans(windows: list[Any], pass_rates: list[Any] | None
                  ) -> tuple[list[tuple[float, float] | None], list[int]]:
    """``(spans, order)``: each window's ``(start, end)`` with the station's antenna, s (AOS to LOS; under a link
    budget only while some MODCOD closes, None for a pass whose link never closes: a pass whose link is down, at its
    ends or throughout, keeps neither the station from another satellite nor this one from the next station), and the
    windows' indices in the order they are served: by the start of their span (a pass with none by its AOS)."""
    spans = [(w.aos_t_s, w.los_t_s) for w in windows] if pass_rates is None else \
        [rates.served_span_s for rates in pass_rates]
    order = sorted(range(len(windows)), key=lambda i: spans[i][0] if spans[i] is not None else windows[i].aos_t_s)
    return spans, order


def _off_the_antenna(env: simpy.Environment, storage: Storage, entry: ContactLog, until_s: float, credit: bool):
    """SimPy process: wait until ``until_s`` within a pass whose link is down, off the station's antenna; with
    ``credit``, count in ``entry.serving_s`` the time a product waited to go."""
    while env.now < until_s:
        waiting = storage.next_product() is not None
        t0_s = env.now
        yield storage.changed | env.timeout(until_s - env.now)
        if waiting and credit:
            entry.serving_s += env.now - t0_s
