"""How a model's real-valued input follows from a physical quantity a stage has: a model card's ``scaling``
(:mod:`onboard.runtime.modelcard`), read and applied.

``model input = scale * source + offset`` per band, where the source is TOA reflectance, an orbitedge camera's DN
(of a named bit depth), or the superres stage's standardised burst planes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rundir.codec import BIT_DEPTHS

from .json_fields import FieldReader, is_int, is_number

CAMERA_SOURCES = ("toa_reflectance", "dn")  # what a camera-fed model's input is made from (its scaling.source)
MISR_SOURCE = "misr_planes_standardised"  # a MISR model's input: the superres stage standardises the planes itself
SOURCES = (*CAMERA_SOURCES, MISR_SOURCE)  # every scaling.source a stage can feed
DN_BITS_KIND = (f"the bit depth of the camera whose DN the model takes, an integer {BIT_DEPTHS[0]} to {BIT_DEPTHS[1]} "
                "(spacecraft.camera.bit_depth of the scenario it was trained on)")


@dataclass(frozen=True)
class Scaling:
    """How the model's real-valued input follows from a physical quantity: ``scale * source + offset``, with one
    scale and offset for all bands or one per band (tuples in band order). A ``dn`` source is an orbitedge camera's DN
    at ``dn_bits`` bits: DN = TOA reflectance * (2**dn_bits - 1) / 1.2
    (:class:`~onboard.scenario.spacecraft_config.CameraConfig`), so a camera of another bit depth feeds the model its
    DN rescaled to these (:meth:`dn_for`)."""

    source: str
    scale: float | tuple[float, ...]
    offset: float | tuple[float, ...]
    dn_bits: int | None = None  # source "dn": the bit depth of the camera whose DN the model takes, else None

    def __post_init__(self) -> None:
        if (self.source == "dn") != (self.dn_bits is not None):
            raise ValueError(f"a dn source takes dn_bits and no other source does, found source {self.source!r} "
                             f"with dn_bits {self.dn_bits}")

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Model input (float32) from ``values`` (..., B) of the ``source`` quantity, band by band."""
        scale, offset = np.asarray(self.scale, np.float32), np.asarray(self.offset, np.float32)
        return (np.asarray(values, np.float32) * scale + offset).astype(np.float32)

    def dn_for(self, dn: np.ndarray, bit_depth: int) -> np.ndarray:
        """The DN a ``dn_bits`` camera would read of what a ``bit_depth`` camera read as ``dn`` (float32; ``dn``
        itself at the same bit depth): both calibrations are linear with no offset and reach their largest DN at the
        same TOA reflectance."""
        if self.dn_bits in (None, bit_depth):
            return dn
        return np.asarray(dn, np.float32) * np.float32(((1 << self.dn_bits) - 1) / ((1 << bit_depth) - 1))

    def per_band(self, bands: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(scales, offsets), one of each per band."""
        def spread(v: float | tuple[float, ...]) -> tuple[float, ...]:
            return tuple(float(x) for x in v) if isinstance(v, tuple) else (float(v),) * bands
        return spread(self.scale), spread(self.offset)


def is_dn_bits(value: Any) -> bool:
    """An integer bit depth a camera may have (:data:`rundir.codec.BIT_DEPTHS`)."""
    return is_int(value) and BIT_DEPTHS[0] <= value <= BIT_DEPTHS[1]


def numbers_per_band(value: Any, bands: int | None, nonzero: bool) -> bool:
    """A finite number, or a list of one per band; non-zero where ``nonzero``."""
    values = value if isinstance(value, list) and (bands is None or len(value) == bands) else [value]
    return all(is_number(v) and (v != 0 or not nonzero) for v in values) and bool(values)


def read_scaling(reader: FieldReader, obj: dict[str, Any], where: str, bands: int | None) -> Scaling | None:
    """The ``scaling`` of a flat card's input object ``obj`` at path ``where`` (a dot after it) with ``bands``
    channels, or None with every problem recorded in ``reader``."""
    raw = reader.get(obj, "scaling", where, "an object", lambda v: isinstance(v, dict))
    if raw is None:
        return None
    at = f"{where}scaling."
    per_band = f" (or a list of one per band{f', {bands}' if bands else ''})"
    source = reader.get(raw, "source", at, f"one of {', '.join(SOURCES)}", lambda v: v in SOURCES)
    scale = reader.get(raw, "scale", at, "a finite non-zero number" + per_band,
                       lambda v: numbers_per_band(v, bands, True))
    offset = reader.get(raw, "offset", at, "a finite number" + per_band, lambda v: numbers_per_band(v, bands, False))
    dn_bits = reader.get(raw, "dn_bits", at, DN_BITS_KIND, is_dn_bits, required=source == "dn")
    if source not in (None, "dn") and dn_bits is not None:
        reader.fail(f"{at}dn_bits", f"expected no dn_bits with source {source!r} (the bit depth of a dn source's "
                                    f"camera), found {dn_bits!r}")
    if None in (source, scale, offset) or (source == "dn" and dn_bits is None):
        return None
    def as_value(v: Any) -> float | tuple[float, ...]:
        return tuple(float(x) for x in v) if isinstance(v, list) else float(v)
    return Scaling(source, as_value(scale), as_value(offset), dn_bits if source == "dn" else None)
