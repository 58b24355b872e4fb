"""Where band files share ground: the common area of their bounding boxes in longitude and latitude, across the
antimeridian too (RFC 7946 bboxes, degrees), and how a user is told they share none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .raster import wrap_lon


@dataclass(frozen=True)
class Coverage:
    """Where every band of a world has pixels: the intersection of their outer bounds, degrees, and its centre.

    As a GeoJSON bbox (RFC 7946, section 5.2): ``west_deg > east_deg`` when it crosses the antimeridian, and
    west -180, east 180 when it spans every longitude (a pole's cap)."""

    west_deg: float
    south_deg: float
    east_deg: float
    north_deg: float

    @property
    def centre_lat_deg(self) -> float:
        return (self.south_deg + self.north_deg) / 2.0

    @property
    def centre_lon_deg(self) -> float:
        return wrap_lon(self.west_deg + _span_deg(self.west_deg, self.east_deg) / 2.0)


def _span_deg(west_deg: float, east_deg: float) -> float:
    """Degrees of longitude eastwards from ``west_deg`` to ``east_deg`` (RFC 7946 bbox: 360 for -180..180)."""
    return east_deg - west_deg if east_deg >= west_deg else east_deg - west_deg + 360.0


def _overlap_lon(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float] | None:
    """The longitudes (west, east) that two RFC 7946 ranges share, on the circle; None when none. Two ranges that
    meet on both sides of the globe share two arcs: the one that starts at ``b``'s west edge is kept."""
    if _span_deg(*a) >= 360.0 or _span_deg(*b) >= 360.0:
        return b if _span_deg(*a) >= 360.0 else a
    for first, second in ((a, b), (b, a)):
        into = (second[0] - first[0]) % 360.0  # how far east of the first range's west edge the second one starts
        if into <= _span_deg(*first):
            length = min(_span_deg(*first) - into, _span_deg(*second))
            if length > 0:
                west = wrap_lon(second[0])
                return west, west + length - (360.0 if west + length > 180.0 else 0.0)
    return None


OVERLAP = "band files that overlap (each frame pixel takes every band)"


def common_coverage(boxes: Mapping[str, tuple[float, float, float, float]]) -> Coverage | None:
    """The area all ``boxes`` (name -> RFC 7946 bbox ``(west, south, east, north)``, degrees) share, across the
    antimeridian too; None when they share none."""
    (west, south, east, north), *others = boxes.values()
    lon: tuple[float, float] | None = (west, east)
    for w, s, e, n in others:
        lon = None if lon is None else _overlap_lon(lon, (w, e))
        south, north = max(south, s), min(north, n)
    if lon is None or south >= north:
        return None
    return Coverage(float(lon[0]), float(south), float(lon[1]), float(north))


def bounds_text(boxes: Mapping[str, tuple[float, float, float, float]]) -> str:
    """Each of ``boxes`` as the user reads it, and that they do not overlap."""
    return "; ".join(f"{name}: lat {s:.3f} to {n:.3f}, lon {w:.3f} to {e:.3f}" for name, (w, s, e, n)
                     in boxes.items()) + ": the band files do not overlap"
