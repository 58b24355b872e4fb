"""Scoring-only images on disk as they are made: the report's super-resolution baselines of a large burst.

A 4096 x 3072 burst of 8 fused at x2 makes a product of 8192 x 6144 x 4 uint16 (0.4 GB), and with ``evaluate``
four baselines of that size for the report (1.6 GB) that the spacecraft never sends and the pipeline never reads
again: they go to the frame's evaluation record (:func:`rundir.evaluation.packed`, one lossless JPEG-LS codestream
each). A frame-pool worker (:func:`onboard.sim.frame_pool.frame_records`) puts them in unnamed files in its records
folder as their rows are made, rather than in its memory, and a run without the pool in its ``evaluation/``
(:func:`onboard.sim.satellite.compute`); the record reads each back whole in turn.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rundir.codec import has_data, reserve_fill

STRIP_BYTES = 64 << 20  # rows of every band read at once by :meth:`SpilledImage.reserve_fill`


class SpilledImage:
    """An (H, W, B) uint16 image held band-sequentially, B planes of H x W (2 bytes a sample, native order), in an
    unnamed file in ``folder`` (made if need be; gone with the image), written a run of rows of one band at a time
    (:meth:`put_rows`). ``np.asarray(image)`` reads it back whole, as an (H, W, B) view of the (B, H, W) planes:
    the band-sequential layout that :func:`rundir.flight_codecs.jpegls` codes, which it then codes as it lies, with
    no copy. Rows never written read 0. Pages written go to the page cache, not to this process's memory. The file's
    disk (2 bytes a sample: 0.4 GB for an 8192 x 6144 x 4 baseline) is reserved when the image is made, and let go
    by :meth:`close` or with the image."""

    dtype = np.dtype(np.uint16)
    ndim = 3

    def __init__(self, shape: tuple[int, int, int], folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.shape = tuple(int(n) for n in shape)
        self.size = math.prod(self.shape)
        self._file = tempfile.TemporaryFile(dir=folder)
        try:  # the disk it takes is reserved now: a full disk is an OSError here, not in the middle of the fusion
            os.posix_fallocate(self._file.fileno(), 0, self.size * self.dtype.itemsize)
        except BaseException:
            self._file.close()
            raise

    def close(self) -> None:
        """Let the file go (its disk with it); the image can no longer be read."""
        self._file.close()

    def __del__(self) -> None:
        if hasattr(self, "_file"):
            self._file.close()

    def put_rows(self, band: int, row0: int, dn: np.ndarray) -> None:
        """Rows ``row0`` to ``row0 + n`` of plane ``band``: ``dn`` (n, W) uint16. ValueError for rows or a band
        outside the image, or a row of another width; OSError when the file system refuses the bytes."""
        height, width, bands = self.shape
        if not (0 <= band < bands and 0 <= row0 and row0 + dn.shape[0] <= height and dn.shape[1:] == (width,)):
            raise ValueError(f"rows {row0}..{row0 + dn.shape[0]} of band {band}, {dn.shape[1:]} px wide, do not fit "
                             f"an image of {self.shape}")
        data = memoryview(np.ascontiguousarray(dn, self.dtype)).cast("B")
        offset = (band * height + row0) * width * self.dtype.itemsize
        while data:
            written = os.pwrite(self._file.fileno(), data, offset)
            data, offset = data[written:], offset + written

    def reserve_fill(self) -> None:
        """:func:`rundir.codec.reserve_fill` of the image, in strips of rows of every band (about STRIP_BYTES):
        a pixel whose every band is fill reads one above it."""
        height, width, bands = self.shape
        rows = max(1, STRIP_BYTES // (width * bands * self.dtype.itemsize))
        for row0 in range(0, height, rows):
            n = min(rows, height - row0)
            block = np.stack([self._rows(band, row0, n) for band in range(bands)], axis=-1)
            if not has_data(block).all():
                reserve_fill(block)
                for band in range(bands):
                    self.put_rows(band, row0, block[..., band])

    def _rows(self, band: int, row0: int, n: int) -> np.ndarray:
        """(n, W) uint16: rows ``row0`` on of plane ``band``."""
        width = self.shape[1]
        out = np.empty((n, width), self.dtype)
        self._read_into(out, (band * self.shape[0] + row0) * width * self.dtype.itemsize)
        return out

    def _read_into(self, out: np.ndarray, offset: int) -> None:
        view = memoryview(out).cast("B")
        while view:
            got = os.preadv(self._file.fileno(), [view], offset)
            if not got:
                raise OSError(f"a spilled image's file ends {len(view)} bytes short of its {self.shape} samples")
            view, offset = view[got:], offset + got

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        height, width, bands = self.shape
        planes = np.empty((bands, height, width), self.dtype)
        self._read_into(planes, 0)
        image = np.moveaxis(planes, 0, -1)
        return image if dtype is None else image.astype(dtype, copy=False)
