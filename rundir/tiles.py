"""The decision-tile grid: how a frame is cut into the tiles the cloud filter keeps, masks or drops.

The grid is part of the run directory's contract: the spacecraft cuts frames with it and writes each product's
place in it (the manifest line's ``tile``: ``row0``, ``col0``, ``height``, ``width``), and the ground scores the
cloud filter tile by tile on the same grid. Tiles of ``tile_px`` x ``tile_px`` pixels start at the frame's upper
left corner and go row by row (row-major); tiles on the bottom and right edges are smaller when the frame is not
a multiple of ``tile_px``, so every pixel lies in exactly one tile.
"""

from __future__ import annotations

from typing import NamedTuple

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
