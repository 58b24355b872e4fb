"""The truth of each frame: what its pixels really are, in a scene the spacecraft renders and in the run
directory's ``truth/FRAME.npz`` that the ground scores against.

Codes: ``cloud`` holds CLOUD_CLEAR, CLOUD_THIN or CLOUD_THICK, ``landcover`` an index into LANDCOVER_CLASSES, and
either UNKNOWN where the truth is not known (real imagery without a mask).

``truth/FRAME.npz`` (:func:`write_truth`, read with :class:`TruthFile`) holds, on the camera's grid (H, W):
``cloud`` and ``landcover`` uint8 codes, ``shadow`` bool (cloud shadow on the ground) and ``valid`` bool (inside
the imagery); for a super-resolution burst also ``hr_reflectance`` (sH, sW, B) float32 TOA reflectance of the
scene on the grid ``s`` times finer, ``hr_clear`` (sH, sW) bool (clear ground some frame of the burst saw clear)
and ``shifts_px`` (K, 2) float64, each frame's true (dy, dx) offset in camera pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rundir.files import NpzReader, write_npz

LANDCOVER_CLASSES = ("water", "vegetation", "soil", "urban", "snow", "desert")
WATER, VEGETATION, SOIL, URBAN, SNOW, DESERT = range(len(LANDCOVER_CLASSES))
CLOUD_CLASSES = ("clear", "thin", "thick")
CLOUD_CLEAR, CLOUD_THIN, CLOUD_THICK = range(len(CLOUD_CLASSES))
UNKNOWN = 255  # cloud or land-cover code of a pixel whose truth is not known (real imagery without a mask)
TRUTH_DIR = "truth"  # in the run directory: one FRAME.npz per captured frame
# Layers stored in the archive as they are, not deflated: a burst's float32 reflectance, whose low mantissa bits
# hardly repeat, deflates by 13 % at 60 times the time of storing it (a 512 x 512 x 4 layer: 225 ms against 4 ms on
# this project's 2-core host), and every burst scene pays that on board and again on the ground.
STORED_LAYERS = ("hr_reflectance",)


def is_cloud(cloud: Any) -> Any:
    """Where cloud codes (any shape) say cloud: thin or thick."""
    return (cloud == CLOUD_THIN) | (cloud == CLOUD_THICK)


def truth_path(run_dir: Path, frame_id: str) -> Path:
    """``run_dir/truth/FRAME.npz`` of frame ``frame_id``."""
    return Path(run_dir) / TRUTH_DIR / f"{frame_id}.npz"


@dataclass(frozen=True)
class HighResTruth:
    """A super-resolution burst's truth on the grid ``s`` times finer than the camera's (see the module docstring)."""

    reflectance: np.ndarray  # (sH, sW, B) float32 TOA reflectance
    clear: np.ndarray  # (sH, sW) bool
    shifts_px: np.ndarray  # (K, 2) float64 (dy, dx) in camera pixels, row 0 is (0, 0)


def write_truth(run_dir: Path, frame_id: str, cloud: np.ndarray, shadow: np.ndarray, landcover: np.ndarray,
                valid: np.ndarray, high_res: HighResTruth | None = None) -> None:
    """Write ``truth/FRAME.npz`` of frame ``frame_id`` (layers as the module docstring gives them), atomically,
    making ``truth/`` when it is not there yet."""
    layers = {"cloud": cloud, "shadow": shadow, "landcover": landcover, "valid": valid}
    if high_res is not None:
        layers |= {"hr_reflectance": high_res.reflectance, "hr_clear": high_res.clear,
                   "shifts_px": high_res.shifts_px}
    path = truth_path(run_dir, frame_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_npz(path, layers, stored=STORED_LAYERS)


class TruthFile(NpzReader):
    """One frame's ``truth/FRAME.npz``, open, its layers by name: each is read from the file when it is asked for (a
    burst's high-resolution reflectance is large), so a reader holds only what it uses. A context manager.

    Raises InputFileError (:class:`rundir.files.NpzReader`) when the file is not a readable archive of arrays, or
    when a layer asked for is not in it or cannot be read."""

    @classmethod
    def of(cls, run_dir: Path, frame_id: str) -> TruthFile | None:
        """The truth file of frame ``frame_id`` in ``run_dir``, open, or None when the run has none for it."""
        path = truth_path(run_dir, frame_id)
        return cls(path) if path.is_file() else None

    @property
    def cloud(self) -> np.ndarray:
        """(H, W) uint8 cloud codes."""
        return self["cloud"]

    @property
    def valid(self) -> np.ndarray:
        """(H, W) bool: inside the imagery."""
        return self["valid"]

    @property
    def landcover(self) -> np.ndarray:
        """(H, W) uint8 land-cover codes."""
        return self["landcover"]

    @property
    def shadow(self) -> np.ndarray:
        """(H, W) bool cloud shadow."""
        return self["shadow"]

    def scored(self, cloud: np.ndarray | None = None) -> np.ndarray:
        """(H, W) bool: pixels whose cloud truth is known (valid, cloud code not UNKNOWN), from ``cloud`` when the
        caller has read it already."""
        cloud = self.cloud if cloud is None else cloud
        return self.valid & (cloud != UNKNOWN)

    def clear(self) -> np.ndarray:
        """(H, W) bool: truly clear ground, valid and cloud CLOUD_CLEAR."""
        return self.valid & (self.cloud == CLOUD_CLEAR)

    @property
    def has_high_res(self) -> bool:
        """Whether the file holds a burst's high-resolution truth (:class:`HighResTruth`'s layers)."""
        return "hr_reflectance" in self

    @property
    def hr_reflectance(self) -> np.ndarray:
        """(sH, sW, B) float32 TOA reflectance of a burst's scene on the high-resolution grid."""
        return self["hr_reflectance"]

    @property
    def hr_clear(self) -> np.ndarray:
        """(sH, sW) bool: clear ground that some frame of the burst saw clear."""
        return self["hr_clear"]

    @property
    def shifts_px(self) -> np.ndarray:
        """(K, 2) float64 true (dy, dx) of each burst frame, camera pixels."""
        return self["shifts_px"]
