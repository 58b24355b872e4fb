"""The decision-tile grid: how a frame is cut into the tiles the cloud filter keeps, masks or drops.

The grid is part of the run directory's contract: the spacecraft cuts frames with it and writes each product's
place in it (the manifest line's ``tile``: ``row0``, ``col0``, ``height``, ``width``), and the ground scores the
cloud filter tile by tile on the same grid. Tiles of ``tile_px`` x ``tile_px`` pixels start at the frame's upper
left corner and go row by row (row-major); tiles on the bottom and right edges are smaller when the frame is not
a multiple of ``tile_px``, so every pixel lies in exactly one tile.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from rundir.manifest import TileGeometry


class TileBox(NamedTuple):
    """One decision tile: its upper-left pixel (``row0``, ``col0``) and its size in pixels."""

    row0: int
    col0: int
    height: int
    width: int

    @property
    def window(self) -> tuple[slice, slice]:
        """The tile as a ``(rows, cols)`` index into a frame array of shape (H, W, ...)."""
        return slice(self.row0, self.row0 + self.height), slice(self.col0, self.col0 + self.width)

    @property
    def pixels(self) -> int:
        """Pixels in the tile: ``height * width``."""
        return self.height * self.width

    @classmethod
    def of(cls, tile: TileGeometry) -> TileBox:
        """The box of a manifest line's ``tile`` (its ``frame_height`` and ``frame_width`` left aside)."""
        return cls(tile.row0, tile.col0, tile.height, tile.width)

    def camera_window(self, scale: int) -> tuple[slice, slice]:
        """The window on the camera's grid of a tile placed on a grid ``scale`` times finer (a super-resolved
        product's manifest ``tile`` with its ``scale``): :attr:`window` divided by ``scale``."""
        return (slice(self.row0 // scale, (self.row0 + self.height) // scale),
                slice(self.col0 // scale, (self.col0 + self.width) // scale))


def tile_boxes(height_px: int, width_px: int, tile_px: int) -> list[TileBox]:
    """The decision tiles covering a ``height_px`` x ``width_px`` frame, row-major; edge tiles may be smaller.

    Raises ValueError when ``tile_px`` is not a positive integer or the frame has a negative size.
    """
    if tile_px < 1 or height_px < 0 or width_px < 0:
        raise ValueError(f"a tile grid needs tile_px >= 1 and a frame size >= 0, got tile_px={tile_px}, "
                         f"frame {height_px} x {width_px} px")
    return [TileBox(r, c, min(tile_px, height_px - r), min(tile_px, width_px - c))
            for r in range(0, height_px, tile_px) for c in range(0, width_px, tile_px)]


def tile_sums(values: np.ndarray, tile_px: int) -> np.ndarray:
    """Per decision tile of a frame (:func:`tile_boxes`: row-major, edge tiles smaller), the sum of ``values``
    (H, W) (bool or int) over the tile: a (n_tiles,) int64 array."""
    height_px, width_px = values.shape
    rows, cols = np.arange(0, height_px, tile_px), np.arange(0, width_px, tile_px)
    return np.add.reduceat(np.add.reduceat(values.astype(np.int64), rows, axis=0), cols, axis=1).ravel()


def cloud_fractions(cloudy: np.ndarray, tile_px: int, data: np.ndarray | None = None) -> np.ndarray:
    """Per decision tile (:func:`tile_boxes` order), the share of its pixels that the (H, W) bool mask ``cloudy``
    flags: a (n_tiles,) float64 array, each tile's cloudy pixels over all its pixels (as the cloud filter counts);
    with ``data`` (H, W) bool, over the pixels that hold data only (fill is neither cloud nor clear; a tile of fill
    only counts 0, and the cloud filter drops it as no_data)."""
    if data is None:
        sizes = np.array([box.pixels for box in tile_boxes(*cloudy.shape, tile_px)], dtype=np.int64)
        return tile_sums(cloudy, tile_px) / sizes
    return tile_sums(cloudy & data, tile_px) / np.maximum(tile_sums(data, tile_px), 1)


def withheld(cloud_fraction: Any, max_cloud_fraction: float) -> Any:
    """The cloud filter's rule: a tile (or an array of tiles) with more cloud than ``max_cloud_fraction`` is
    withheld, dropped or masked; one with exactly that much is kept."""
    return cloud_fraction > max_cloud_fraction
