"""The evaluation records: ``evaluation/FRAME.npz``, what the spacecraft keeps of each processed frame for the
ground to score it against truth. Never downlinked: a simulation's bookkeeping, not a product.

Arrays, each present when the stage that makes it ran:

- ``cloud_probability`` (H, W) uint8, the cloud model's probability times 255, and ``spectral_cloud`` (H, W)
  bool, the spectral test's mask (the cloud filter stage);
- ``sr_shifts_px`` (K, 2) the registration's estimate of each burst frame's (dy, dx), ``sr_low_res`` (H, W, B)
  uint16 frame 0 of the burst, and ``sr_<method>`` (sH, sW, B) uint16 each on-board super-resolution baseline's
  image (the super-resolution stage);
- ``raw_jpegls``, ``raw_shape`` and ``lossy_same_bytes_j2k``: the scene's single frame for the simpler pipelines
  (:func:`evaluation_frame`);
- ``<key>_dn``, ``<key>_spectral_raw`` and ``<key>_spectral_decoded`` of each lossy product
  (:func:`lossy_reference_key`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from rundir.codec import decode

EVALUATION_DIR = "evaluation"  # in the run directory: one FRAME.npz per processed frame
CLOUD_PROBABILITY_KEY = "cloud_probability"
SPECTRAL_CLOUD_KEY = "spectral_cloud"
SR_SHIFTS_KEY = "sr_shifts_px"
SR_LOW_RES_KEY = "sr_low_res"


def evaluation_path(run_dir: Path, frame_id: str) -> Path:
    """``run_dir/evaluation/FRAME.npz`` of frame ``frame_id``."""
    return Path(run_dir) / EVALUATION_DIR / f"{frame_id}.npz"


def sr_method_key(method: str) -> str:
    """The key of an on-board super-resolution baseline's image, ``sr_<method>``."""
    return f"sr_{method}"


# The scene's single frame (frame 0 of a burst) as a lossless JPEG-LS codestream (uint8; the
# one the spacecraft makes for the lossless_jpegls alternative), its (H, W, B) shape, and that frame in JPEG 2000 at
# the run's bytes (uint8 codestream). Codestreams are stored in the archive as they are (EVALUATION_CODESTREAM_KEYS).
EVALUATION_RAW_KEY = "raw_jpegls"
EVALUATION_RAW_SHAPE_KEY = "raw_shape"
EVALUATION_LOSSY_SAME_BYTES_KEY = "lossy_same_bytes_j2k"
EVALUATION_CODESTREAM_KEYS = (EVALUATION_RAW_KEY, EVALUATION_LOSSY_SAME_BYTES_KEY)


def evaluation_frame(jpegls: bytes, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The evaluation arrays of a scene's single frame of ``shape`` (H, W, B), from its lossless JPEG-LS ``jpegls``."""
    return {EVALUATION_RAW_KEY: np.frombuffer(jpegls, np.uint8),
            EVALUATION_RAW_SHAPE_KEY: np.asarray(shape, np.int64)}


def evaluation_frame_dn(data: Mapping[str, np.ndarray], bit_depth: int) -> np.ndarray | None:
    """The scene's single frame (H, W, B) uint16 DN decoded from evaluation arrays ``data`` (of
    :func:`evaluation_frame`), or None when they hold none."""
    if EVALUATION_RAW_KEY not in data:
        return None
    return decode(data[EVALUATION_RAW_KEY].tobytes(), "jpegls", evaluation_frame_shape(data), bit_depth)


def evaluation_frame_shape(data: Mapping[str, np.ndarray]) -> tuple[int, ...]:
    """The (H, W, B) shape of the scene's single frame in evaluation arrays ``data`` (of :func:`evaluation_frame`)."""
    return tuple(int(n) for n in data[EVALUATION_RAW_SHAPE_KEY])


def lossy_reference_key(row0: int, col0: int, burst_frame: int | None = None) -> str:
    """The ``RUN/evaluation/FRAME.npz`` key prefix of a lossy product's scoring data, from its place in the frame
    (the manifest's ``tile`` row0, col0 and ``burst_frame``): ``<key>_dn`` holds the DN the product was encoded
    from and, with B, G and R bands, ``<key>_spectral_raw`` and ``<key>_spectral_decoded`` the spectral cloud test
    on those DN and on the decoded product. Never downlinked: for scoring on the ground only."""
    return f"lossy_r{row0}_c{col0}" + (f"_b{burst_frame:02d}" if burst_frame is not None else "")
