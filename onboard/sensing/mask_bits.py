"""Cloud masks of real image files: the cloud codes a mask file may hold, and rules that read them from the bits of
a quality band (Landsat QA, ...).

A cloud mask holds its samples as stored (a 1-bit TIFF as 0/1, a palette image as its indices): the codes 0 clear,
1 thin, 2 thick, or the file's no-data (cloud unknown). A mask with any other value is refused with the values
found (:func:`mask_problem`). A bit-field quality band is read through :class:`MaskBits` rules instead
(``world.mask_bits`` in a scenario: :func:`mask_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from rundir.truth import CLOUD_CLEAR, CLOUD_THICK, CLOUD_THIN, UNKNOWN

MASK_CODES = (CLOUD_CLEAR, CLOUD_THIN, CLOUD_THICK)  # what a cloud-mask file may hold, besides its no-data
CLOUD_CLASSES = {"thin": CLOUD_THIN, "thick": CLOUD_THICK, "unknown": UNKNOWN}  # what a MaskBits rule may set
Problem = tuple[str, str]  # (expected, found)


@dataclass(frozen=True)
class MaskBits:
    """A rule for a bit-field quality band: pixels whose bits ``first_bit``..``last_bit`` (0 = least significant),
    read as an unsigned number, equal ``value`` get the cloud ``code`` (CLOUD_THIN, CLOUD_THICK or UNKNOWN).

    A pixel takes the most severe code of the rules it matches (unknown > thick > thin) and is clear when it
    matches none. Example, Landsat 8 Collection 1 Level-1 BQA (USGS, "Landsat 8 Collection 1 Level-1 Quality
    Assessment Band", LSDS-1873): bit 0 designated fill, bits 5-6 cloud confidence and bits 11-12 cirrus confidence
    (0 not determined, 1 low, 2 medium, 3 high): ``MaskBits(0, 0, 1, UNKNOWN)``, ``MaskBits(5, 6, 3, CLOUD_THICK)``,
    ``MaskBits(5, 6, 2, CLOUD_THIN)``, ``MaskBits(11, 12, 3, CLOUD_THIN)``.
    """

    first_bit: int
    last_bit: int
    value: int
    code: int

    def __post_init__(self) -> None:
        if not 0 <= self.first_bit <= self.last_bit <= 63:
            raise ValueError(f"bits {self.first_bit}..{self.last_bit}: expected 0 <= first <= last <= 63")
        if not 0 <= self.value < 2 ** (self.last_bit - self.first_bit + 1):
            raise ValueError(f"value {self.value} does not fit in bits {self.first_bit}..{self.last_bit}")
        if self.code not in CLOUD_CLASSES.values():
            raise ValueError(f"code {self.code}: expected one of {sorted(CLOUD_CLASSES.values())}")

    def matches(self, bits: np.ndarray) -> np.ndarray:
        """Where the rule holds, for ``bits`` (any shape) of an unsigned integer dtype: a bool array."""
        width = self.last_bit - self.first_bit + 1
        field = (bits >> np.uint64(self.first_bit)) & np.uint64((1 << width) - 1)
        return field == np.uint64(self.value)


def cloud_codes(pixels: np.ndarray, rules: Sequence[MaskBits]) -> np.ndarray:
    """Cloud codes (same shape, uint8) of integer quality-band ``pixels`` by ``rules`` (see :class:`MaskBits`).

    Signed samples are read as their two's-complement bit pattern."""
    bits = pixels.view(np.dtype(f"u{pixels.dtype.itemsize}")).astype(np.uint64)
    codes = np.full(pixels.shape, CLOUD_CLEAR, np.uint8)
    for rule in rules:
        codes[rule.matches(bits) & (codes < rule.code)] = rule.code
    return codes


def mask_problem(pixels: np.ndarray, valid: np.ndarray, rules: Sequence[MaskBits]) -> Problem | None:
    """Why the mask's samples cannot be read as cloud codes (with ``rules``, as a quality band), or None."""
    if rules:
        if pixels.dtype.kind not in "iu":
            return "an integer quality band for world.mask_bits", f"{pixels.dtype} samples"
        beyond = rule_beyond(rules, pixels.dtype)
        if beyond is not None:
            rule = rules[beyond]
            return (f"bits 0 to {8 * pixels.dtype.itemsize - 1} of the {pixels.dtype} samples",
                    f"a rule on bits {rule.first_bit}-{rule.last_bit}")
        return None
    found = np.unique(pixels[valid])
    bad = found[~np.isin(found, MASK_CODES)]
    if bad.size == 0:
        return None
    shown = ", ".join(f"{v:g}" for v in bad[:12].tolist()) + (f", ... ({bad.size} in all)" if bad.size > 12 else "")
    if bad.min() < 0:  # no code and no bit field is negative: a fill value the file does not declare
        hint = f"declare the no-data value in the file (gdal_edit.py -a_nodata {bad.min():g})"
    elif bad.size == 1 and pixels.dtype.kind in "iu" and set(found.tolist()) == {0, bad[0].item()}:
        value, last_bit = bad[0].item(), 8 * pixels.dtype.itemsize - 1  # 0 and one value: a binary mask (0/255)
        hint = (f"0 and {value:g} alone, as a binary cloud mask is written: if {value:g} is cloud, map it, "
                f"world.mask_bits: [{{bits: [0, {last_bit}], equals: {value:g}, cloud: thick}}] (or thin); if it "
                f"is fill, declare it the file's no-data value (gdal_edit.py -a_nodata {value:g}), which leaves "
                "no cloud in the truth")
    elif pixels.dtype.kind == "f":  # a cloud probability or fraction: world.mask_bits takes integer bits only
        hint = ("floating-point values, such as a cloud probability: threshold them into the codes first, e.g. "
                "gdal_calc.py -A mask.tif --calc='2*(A>=0.5)' --type=Byte --outfile=codes.tif")
    elif pixels.dtype.itemsize > 1 or pixels.dtype.kind != "u":
        hint = "a bit-field quality band needs world.mask_bits to map its bits onto the codes"
    else:
        hint = "map them with world.mask_bits, or declare the no-data value in the file (gdal_edit.py -a_nodata)"
    return "cloud codes 0 clear, 1 thin, 2 thick, or the file's no-data", f"{pixels.dtype} values {shown}: {hint}"


def rule_beyond(rules: Sequence[MaskBits], dtype: Any) -> int | None:
    """The index of the first of ``rules`` on a bit past the width of integer samples of ``dtype``, or None."""
    width = 8 * np.dtype(dtype).itemsize
    return next((i for i, rule in enumerate(rules) if rule.last_bit >= width), None)


def mask_rules(rules: Iterable[Any]) -> tuple[MaskBits, ...]:
    """:class:`MaskBits` of ``world.mask_bits`` entries (``bits``: one bit or [first, last]; ``equals``; ``cloud``:
    thin, thick or unknown)."""
    out = []
    for rule in rules:
        bits = [rule.bits] if isinstance(rule.bits, int) else list(rule.bits)
        out.append(MaskBits(bits[0], bits[-1], rule.equals, CLOUD_CLASSES[rule.cloud]))
    return tuple(out)
