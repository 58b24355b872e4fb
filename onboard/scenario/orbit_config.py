"""The satellites of a scenario: each one's name and orbit, a two- or three-line element set or mean elements, with
the rules that the orbit is one SGP4 propagates over the run, that its ground track moves (strips of frames are
taken along it) and that a TLE's epoch is near it."""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from rundir.errors import ConfigIssue

from .schema import issue_at, spec


@dataclass(frozen=True, kw_only=True)
class OrbitConfig:
    """Either a two- or three-line element set, or mean elements for a circular (or near-circular) orbit."""

    tle: list[str] | str | None = spec(None, doc="two TLE lines, or three with the title (line 0) first, as a list or "
                                       "as a YAML block of text; excludes the element keys")
    altitude_km: float | None = spec(None, gt=150, lt=40000, doc="mean altitude above the WGS72 equatorial radius")
    inclination_deg: float | None = spec(None, ge=0, le=180, doc="inclination; or use sun_synchronous")
    sun_synchronous: bool = spec(False, doc="derive the inclination from J2 for a sun-synchronous orbit")
    raan_deg: float | None = spec(None, ge=0, lt=360, doc="right ascension of the ascending node at epoch")
    ltan_h: float | None = spec(None, ge=0, lt=24, doc="local time of the ascending node, hours (SSO); excludes raan_deg")
    phase_deg: float = spec(0.0, ge=0, lt=360, doc="argument of latitude at epoch")
    eccentricity: float = spec(0.0, ge=0, lt=0.1, doc="eccentricity")

    def check(self) -> list[ConfigIssue]:
        out = []
        elements = self.altitude_km is not None
        if self.tle is not None:
            if elements or self.inclination_deg is not None or self.sun_synchronous:
                out.append(issue_at("tle", "either tle or orbital elements", "both"))
            try:
                self.satrec(None)
            except ValueError as err:
                out.append(issue_at(self._tle_path(err), "a valid TLE: 2 lines, or 3 with the title (line 0) "
                                    "first", str(err)))
            return out
        if not elements:
            return [issue_at("altitude_km", "tle, or altitude_km with inclination_deg or sun_synchronous", "neither")]
        if (self.inclination_deg is None) == (not self.sun_synchronous):
            out.append(issue_at("inclination_deg", "exactly one of inclination_deg or sun_synchronous: true",
                                "both" if self.sun_synchronous else "neither"))
        if (self.raan_deg is None) == (self.ltan_h is None):
            out.append(issue_at("ltan_h", "exactly one of raan_deg or ltan_h",
                                "neither" if self.ltan_h is None else "both"))
        if not out:
            try:  # NOTE: any epoch serves: it only turns ltan_h into a RAAN, which cannot fail
                self.satrec(dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc))
            except ValueError as err:
                out.append(issue_at("", "orbital elements SGP4 accepts", str(err)))
        return out

    def _tle_path(self, err: ValueError) -> str:
        """Where a TLE problem ``err`` is: the list item of the element line it is in (``TleError.element_line``), in
        a list of two or three one-line items; else ``tle`` itself."""
        line = getattr(err, "element_line", None)
        items = self.tle if isinstance(self.tle, list) else []
        if line is None or len(items) not in (2, 3) or any("\n" in str(item).strip() or not str(item).strip()
                                                           for item in items):
            return "tle"
        return f"tle[{line - 1 + len(items) - 2}]"

    @property
    def title(self) -> str | None:
        """The title (line 0) of a three-line TLE; None for two lines, for elements, or for a TLE that is invalid."""
        from ..orbit.elements import element_set

        try:
            return element_set(self.tle).title if self.tle is not None else None
        except ValueError:
            return None

    def satrec(self, start_utc: dt.datetime | None) -> Any:
        """The SGP4 record (``sgp4.api.Satrec``): from the TLE, or from the elements with their epoch at ``start_utc``
        (the run's start; unused with a TLE). ValueError naming the problem, from ``elements.element_set``,
        ``elements.satrec_from_tle`` or ``elements.satrec_from_elements``."""
        from ..orbit.elements import element_set, satrec_from_elements

        if self.tle is not None:
            return element_set(self.tle).satrec()
        return satrec_from_elements(start_utc, self.altitude_km, self.inclination_deg, self.sun_synchronous,
                                    self.raan_deg, self.ltan_h, self.phase_deg, self.eccentricity)


@dataclass(frozen=True, kw_only=True)
class SatelliteConfig:
    name: str | None = spec(None, doc="unique name of letters, digits, - and _, used in product ids and file names; "
                            "null: the title (line 0) of a three-line TLE, each run of other characters made one -")
    orbit: OrbitConfig = spec(doc="TLE or elements")

    def __post_init__(self) -> None:
        if self.name is None and self.orbit.title is not None:
            ascii_title = unicodedata.normalize("NFKD", self.orbit.title).encode("ascii", "ignore").decode()  # Ü: U
            name = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_title).strip("-")[:40].strip("-")
            object.__setattr__(self, "name", name or None)  # NOTE: frozen; None: check() asks for a name

    def check(self) -> list[ConfigIssue]:
        if self.name is None:
            found = f"a title {self.orbit.title!r} without letters or digits" if self.orbit.title else "neither"
            return [issue_at("name", "a name, or a three-line TLE whose title (line 0) names the satellite", found)]
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", self.name):
            return [issue_at("name", "1-40 letters, digits, - or _ (it names files)", repr(self.name))]
        return []

    def _epoch_note(self, satrec: Any, start_utc: dt.datetime, duration_s: float) -> str | None:
        """How far the run lies from a TLE's epoch, when beyond ``elements.STALE_EPOCH_DAYS``; else None."""
        from ..orbit.elements import STALE_EPOCH_DAYS, epoch_offset_days, tle_epoch_utc

        if self.orbit.tle is None:
            return None
        days = epoch_offset_days(satrec, start_utc, duration_s)
        if abs(days) <= STALE_EPOCH_DAYS:
            return None
        where = f"ends {days:.1f} days after" if days > 0 else f"starts {-days:.1f} days before"
        return f"the run {where} the TLE epoch {_utc_text(tle_epoch_utc(satrec))}, over the {STALE_EPOCH_DAYS:g}-day limit"

    def stale_epoch(self, start_utc: dt.datetime, duration_s: float) -> ConfigIssue | None:
        """The issue (its path relative to the satellite) when the run lies further than
        ``elements.STALE_EPOCH_DAYS`` from the TLE's epoch, where SGP4's error has grown to tens of km (the constant cites why); else None. A warning."""
        from ..orbit.elements import STALE_EPOCH_DAYS

        note = self._epoch_note(self.orbit.satrec(start_utc), start_utc, duration_s)
        if note is None:
            return None
        return issue_at("orbit.tle", f"a TLE epoch within {STALE_EPOCH_DAYS:g} days of the run (SGP4's error grows "
                        f"by 1-3 km a day from it)",
                        f"satellite {self.name!r}: {note}; positions and passes drift: use a recent TLE")

    def not_an_orbit(self, start_utc: dt.datetime, duration_s: float) -> ConfigIssue | None:
        """The issue (its path relative to the satellite) when SGP4's state is not an orbit somewhere in the run
        (``elements.implausible_orbit``: an error code, below the altitude floor, or a semi-major axis far from the mean
        motion's), with how stale the TLE is; else None. An error."""
        from ..orbit.elements import implausible_orbit

        satrec = self.orbit.satrec(start_utc)
        problem = implausible_orbit(satrec, start_utc, duration_s)
        if problem is None:
            return None
        t_s, what = problem
        note = self._epoch_note(satrec, start_utc, duration_s)
        stale = f"; {note}: it may have re-entered, use a recent TLE" if note else ""
        source = "a TLE" if self.orbit.tle is not None else "mean elements"
        return issue_at("orbit.tle" if self.orbit.tle is not None else "orbit",
                        f"{source} that SGP4 propagates as an orbit over the whole run",
                        f"satellite {self.name!r} at {_utc_text(start_utc + dt.timedelta(seconds=t_s))} (t = "
                        f"{t_s:.0f} s): {what}{stale}")

    def stationary_track(self, start_utc: dt.datetime) -> ConfigIssue | None:
        """The issue (its path relative to the satellite) when its ground track does not move
        (``elements.stationary_track``: slower than ``elements.MIN_GROUND_TRACK_SPEED_KM_S`` at its fastest, as a
        geostationary satellite's), so that no strip of frames can be taken along it; else None. An error."""
        from ..orbit.elements import MIN_GROUND_TRACK_SPEED_KM_S, stationary_track

        found = stationary_track(self.orbit.satrec(start_utc), start_utc)
        if found is None:
            return None
        return issue_at("orbit.tle" if self.orbit.tle is not None else "orbit",
                        f"a ground track that moves, at {MIN_GROUND_TRACK_SPEED_KM_S:g} km/s or more at its fastest: "
                        "the camera takes strips of frames along it, spaced by its motion",
                        f"satellite {self.name!r}: {found}: a geostationary orbit, which strip imaging cannot use (a "
                        "geosynchronous orbit inclined 0.3 deg or more moves enough)")


REACH_MARGIN_DEG = 0.1
"""Latitude beyond the reach of :func:`onboard.orbit.passes.latitude_reach` before a target is called out of
reach: the bound takes the mean inclination, and SGP4's osculating inclination swings by a few hundredths of a degree
(J2 short-period terms; Vallado 2013, sect. 9.6)."""


def unreachable_targets(satellites: list[SatelliteConfig], targets: list[Any], max_off_nadir_deg: float,
                        start_utc: dt.datetime, duration_s: float) -> list[ConfigIssue]:
    """An issue at ``targets[i].lat_deg`` for each target no satellite's camera can reach: beyond every ground
    track's highest latitude by more than a look ``max_off_nadir_deg`` off nadir reaches
    (:func:`onboard.orbit.passes.latitude_reach`, an upper bound), so no capture can be planned over it. A
    warning: the run works, and images the other targets."""
    from ..orbit.frames import ecef_from_geodetic
    from ..orbit.passes import latitude_reach

    reaches = [latitude_reach(sat.orbit.satrec(start_utc), start_utc, duration_s, max_off_nadir_deg)
               for sat in satellites]
    track_deg, beyond_deg = max(reaches, key=sum)
    out = []
    for i, target in enumerate(targets):
        x, y, z = ecef_from_geodetic(target.lat_deg, target.lon_deg, 0.0)
        geocentric_deg = abs(math.degrees(math.atan2(z, math.hypot(x, y))))
        if geocentric_deg > track_deg + beyond_deg + REACH_MARGIN_DEG:
            out.append(issue_at(f"targets[{i}].lat_deg", f"a target some satellite can image: at most "
                                f"{track_deg + beyond_deg:.1f} deg of geocentric latitude here (ground tracks up to "
                                f"{track_deg:.1f} deg, and {max_off_nadir_deg:g} deg off nadir reaches "
                                f"{beyond_deg:.1f} deg beyond)", f"{target.lat_deg:g} deg ({target.name!r}, "
                                f"{geocentric_deg:.1f} deg geocentric): no capture can be planned over it"))
    return out


def _utc_text(when: dt.datetime) -> str:
    """ISO 8601 UTC to the second, with a Z."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

