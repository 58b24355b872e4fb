"""The sampled timeline (``telemetry/timeline.jsonl``, :class:`rundir.telemetry.TimelineSample` lines) as the ground
holds it: one numpy column per field, so that a constellation's day (96 satellites sampled every minute: 138 000
samples) takes ~5 MB instead of the ~32 MB of as many record objects.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from rundir.telemetry import TimelineSample

# TimelineSample's fields but the satellite: the array module's type code they are gathered in, and their dtype
COLUMNS = {"t_s": ("d", np.float64), "storage_bytes": ("q", np.int64), "battery_wh": ("d", np.float64),
           "battery_soc": ("d", np.float64), "sunlit": ("B", np.bool_), "brownout": ("B", np.bool_),
           "computing": ("B", np.bool_)}


@dataclass(frozen=True)
class Timeline:
    """Timeline samples, row ``i`` of every column being one sample, in file order.

    ``satellites``: the satellites' names in order of first appearance; ``satellite_index`` (n,) int: each
    sample's position in ``satellites``; the other columns (n,) are :class:`~rundir.telemetry.TimelineSample`'s
    fields in its units (``t_s`` seconds after the start, ``storage_bytes``, ``battery_wh`` watt-hours,
    ``battery_soc`` a fraction 0..1, and the booleans ``sunlit``, ``brownout``, ``computing``)."""

    satellites: tuple[str, ...]
    satellite_index: np.ndarray
    t_s: np.ndarray
    storage_bytes: np.ndarray
    battery_wh: np.ndarray
    battery_soc: np.ndarray
    sunlit: np.ndarray
    brownout: np.ndarray
    computing: np.ndarray

    @classmethod
    def from_samples(cls, samples: Iterable[TimelineSample]) -> Timeline:
        """The columns of ``samples``, read one at a time into packed arrays (no sample object is kept)."""
        names: dict[str, int] = {}
        index = array("i")
        rows = {column: array(code) for column, (code, _) in COLUMNS.items()}
        for sample in samples:
            index.append(names.setdefault(sample.satellite, len(names)))
            for column, values in rows.items():
                values.append(getattr(sample, column))
        arrays = {column: np.frombuffer(rows[column], COLUMNS[column][0]).astype(dtype)
                  for column, (_, dtype) in COLUMNS.items()}
        return cls(tuple(names), np.frombuffer(index, np.intc).astype(np.int32), **arrays)

    def __len__(self) -> int:
        return int(self.t_s.size)

    def __iter__(self) -> Iterator[TimelineSample]:
        """The samples as records, in file order, as the run's telemetry holds them (a report section written for
        a list of samples reads this as it did the list)."""
        columns = [getattr(self, column).tolist() for column in COLUMNS]
        for index, *row in zip(self.satellite_index.tolist(), *columns):
            yield TimelineSample(self.satellites[index], *row)

    def of(self, satellite: str) -> Timeline:
        """The samples of ``satellite`` in time order (none: an empty timeline)."""
        rows = np.flatnonzero(self.satellite_index == self.satellites.index(satellite)) \
            if satellite in self.satellites else np.zeros(0, np.intp)
        rows = rows[np.argsort(self.t_s[rows], kind="stable")]
        return Timeline((satellite,), np.zeros(rows.size, np.int32),
                        **{column: getattr(self, column)[rows] for column in COLUMNS})
