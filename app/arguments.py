"""argparse types the commands share: a whole number with a least value (``--workers``, ``--runs``,
``--overlap-px``), refused by argparse with what it expected, as ``orbitedge CMD: error: argument ...`` (exit 2)."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def whole_number(least: int, what: str) -> Callable[[str], int]:
    """An argparse type: the text as an int of at least ``least`` (decimal digits, surrounding spaces allowed);
    anything else ("-1", "2.5", "1e3", "²", "") an ArgumentTypeError saying "expected a whole number of ``what``,
    ``least`` or more"."""

    def parse(text: str) -> int:
        digits = text.strip()
        if digits.isascii() and digits.isdigit() and int(digits) >= least:
            return int(digits)
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of {what}, {least} or more")
    return parse
