"""The evaluation records: ``evaluation/FRAME.npz``, what the spacecraft keeps of each processed frame for the
ground to score it against truth. Never downlinked: a simulation's bookkeeping, not a product.

Arrays, each present when the stage that makes it ran:

- ``cloud_probability`` (H, W) uint8, the cloud model's probability times 255, and ``spectral_cloud`` (H, W)
  bool, the spectral test's mask (the cloud filter stage);
- ``sr_shifts_px`` (K, 2) the registration's estimate of each burst frame's (dy, dx), and ``sr_<method>``
  (sH, sW, B) uint16 each on-board super-resolution baseline's image (the super-resolution stage); records of
  older runs also hold ``sr_low_res`` (H, W, B) uint16, frame 0 of the burst, which ``raw`` now is alone;
- ``raw_jpegls``, ``raw_shape`` and ``lossy_same_bytes_j2k``: the scene's single frame (a burst's frame 0) for the
  simpler pipelines and the report's crops (:func:`evaluation_frame`);
- ``<key>_dn``, ``<key>_spectral_raw`` and ``<key>_spectral_decoded`` of each lossy product
  (:func:`lossy_reference_key`).

Every (H, W, B) uint16 image among them (``sr_<method>``, ``<key>_dn``, an older ``sr_low_res``) is stored as its
lossless JPEG-LS codestream and shape, ``<name>_jpegls`` and ``<name>_shape`` (:func:`packed`), as the single frame
is (``raw``): about half the bytes of the archive's deflate on 12-bit DN. :class:`EvaluationRecord` reads a record
back with each such image under its own name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from rundir.codec import decode
from rundir.errors import InputFileError
from rundir.files import NpzReader
from rundir.flight_codecs import jpegls

EVALUATION_DIR = "evaluation"  # in the run directory: one FRAME.npz per processed frame
CLOUD_PROBABILITY_KEY = "cloud_probability"
SPECTRAL_CLOUD_KEY = "spectral_cloud"
SR_SHIFTS_KEY = "sr_shifts_px"
SR_LOW_RES_KEY = "sr_low_res"  # frame 0 of a burst in the records of older runs: EVALUATION_RAW since


def evaluation_path(run_dir: Path, frame_id: str) -> Path:
    """``run_dir/evaluation/FRAME.npz`` of frame ``frame_id``."""
    return Path(run_dir) / EVALUATION_DIR / f"{frame_id}.npz"


def sr_method_key(method: str) -> str:
    """The key of an on-board super-resolution baseline's image, ``sr_<method>``."""
    return f"sr_{method}"


# An image stored packed (:func:`packed`): ``<name>_jpegls``, its lossless JPEG-LS codestream (uint8), and
# ``<name>_shape``, its (H, W, B) shape.
CODESTREAM_SUFFIX, SHAPE_SUFFIX = "_jpegls", "_shape"
# The scene's single frame (frame 0 of a burst), packed as the image ``raw``: the codestream is the one the
# spacecraft makes for the lossless_jpegls alternative. That frame in JPEG 2000 at the run's bytes (uint8
# codestream). Codestreams are stored in the archive as they are (:func:`codestream_keys`).
EVALUATION_RAW = "raw"
EVALUATION_RAW_KEY = EVALUATION_RAW + CODESTREAM_SUFFIX
EVALUATION_RAW_SHAPE_KEY = EVALUATION_RAW + SHAPE_SUFFIX
EVALUATION_LOSSY_SAME_BYTES_KEY = "lossy_same_bytes_j2k"


def packed(arrays: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    """``arrays`` as an evaluation record stores them: each (H, W, B) uint16 image with pixels as its lossless
    JPEG-LS codestream and shape (``<name>_jpegls``, ``<name>_shape``; ISO/IEC 14495-1 through
    :func:`rundir.flight_codecs.jpegls`, exact for any 16-bit value), the others as they are. Each codestream is made
    when it is read, so that writing the record holds one at a time; an image may be any object with the shape,
    dtype and ``__array__`` of one (an image kept on disk until then). ValueError when a name of ``arrays`` is one
    that packing makes."""
    return _Packed(arrays)


class _Packed(Mapping[str, np.ndarray]):
    """:func:`packed`'s view of ``arrays``."""

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        self._arrays = arrays
        images = [name for name, a in arrays.items() if a.dtype == np.uint16 and a.ndim == 3 and a.size]
        self._parts = {part: name for name in images for part in _parts(name)}  # stored key -> the image's name
        if clash := sorted(set(arrays) & set(self._parts)):
            raise ValueError(f"evaluation arrays {clash} have the names of packed images' parts")
        self._keys = [key for name in arrays for key in (_parts(name) if name in images else (name,))]

    def __getitem__(self, key: str) -> np.ndarray:
        name = self._parts.get(key)
        if name is None:
            if key not in self._keys:
                raise KeyError(key)
            return self._arrays[key]
        image = self._arrays[name]
        if key.endswith(CODESTREAM_SUFFIX):
            return np.frombuffer(jpegls(np.asarray(image), 16), np.uint8)  # an image on disk read here, whole
        return np.asarray(image.shape, np.int64)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def _parts(name: str) -> tuple[str, str]:
    """The stored keys of the packed image ``name``: its codestream's and its shape's."""
    return name + CODESTREAM_SUFFIX, name + SHAPE_SUFFIX


def codestream_keys(arrays: Mapping[str, np.ndarray]) -> list[str]:
    """The keys of ``arrays`` (a :func:`packed` record) that hold codestreams, compressed already: the archive stores
    them as they are."""
    return [k for k in arrays if k.endswith(CODESTREAM_SUFFIX) or k == EVALUATION_LOSSY_SAME_BYTES_KEY]


def image_dn(data: Mapping[str, np.ndarray], name: str, bit_depth: int = 16) -> np.ndarray | None:
    """The packed image ``name`` (H, W, B) uint16 of a :func:`packed` record ``data``, decoded (values above
    ``bit_depth`` bits clipped, as a product's are), or None when ``data`` holds no such image."""
    codestream, shape = _parts(name)
    if codestream not in data:
        return None
    return decode(data[codestream], "jpegls", tuple(int(n) for n in data[shape]), bit_depth)  # as stored: no copy


class EvaluationRecord(Mapping[str, np.ndarray]):
    """An evaluation record (``arrays``: an :class:`~rundir.files.NpzReader` of ``evaluation/FRAME.npz``, or a
    dict of its arrays, read from ``path``) with each packed image under its own name, decoded when read, and every
    stored array under its stored name; KeyError for a name it does not hold, InputFileError (naming ``path``) for
    an image that does not decode. A context manager (closing a reader it was given)."""

    def __init__(self, arrays: Mapping[str, np.ndarray], path: Path | None = None):
        self._arrays, self.path = arrays, path
        self._images = {k.removesuffix(CODESTREAM_SUFFIX) for k in arrays if k.endswith(CODESTREAM_SUFFIX)}

    def unpacked(self) -> dict[str, np.ndarray]:
        """Every array the record holds as it was before packing: each image decoded, without its stored parts."""
        parts = {part for name in self._images for part in _parts(name)}
        return {name: self[name] for name in self if name not in parts}

    @classmethod
    def read(cls, path: Path) -> EvaluationRecord:
        """The record in the file at ``path`` (InputFileError as :class:`~rundir.files.NpzReader` raises)."""
        return cls(NpzReader(path), path)

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self._images:
            try:
                return image_dn(self._arrays, name)
            except ValueError as err:
                raise InputFileError(self.path or "an evaluation record", f"image {name!r}: {err}") from None
        if name not in self._arrays:
            raise KeyError(name)
        return self._arrays[name]

    def __iter__(self) -> Iterator[str]:
        yield from self._arrays
        yield from (name for name in self._images if name not in self._arrays)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, name: object) -> bool:
        return name in self._images or name in self._arrays

    def __enter__(self) -> EvaluationRecord:
        return self

    def __exit__(self, *exc: Any) -> None:
        if isinstance(self._arrays, NpzReader):
            self._arrays.close()


def evaluation_frame(codestream: bytes, shape: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The evaluation arrays of a scene's single frame of ``shape`` (H, W, B), from its lossless JPEG-LS
    ``codestream``: the packed image ``raw`` (:func:`packed`)."""
    return {EVALUATION_RAW_KEY: np.frombuffer(codestream, np.uint8),
            EVALUATION_RAW_SHAPE_KEY: np.asarray(shape, np.int64)}


def evaluation_frame_dn(data: Mapping[str, np.ndarray], bit_depth: int) -> np.ndarray | None:
    """The scene's single frame (H, W, B) uint16 DN decoded from evaluation arrays ``data`` (of
    :func:`evaluation_frame`), or None when they hold none."""
    return image_dn(data, EVALUATION_RAW, bit_depth)


def evaluation_frame_shape(data: Mapping[str, np.ndarray]) -> tuple[int, ...]:
    """The (H, W, B) shape of the scene's single frame in evaluation arrays ``data`` (of :func:`evaluation_frame`)."""
    return tuple(int(n) for n in data[EVALUATION_RAW_SHAPE_KEY])


def lossy_reference_key(row0: int, col0: int, burst_frame: int | None = None) -> str:
    """The ``RUN/evaluation/FRAME.npz`` key prefix of a lossy product's scoring data, from its place in the frame
    (the manifest's ``tile`` row0, col0 and ``burst_frame``): ``<key>_dn`` holds the DN the product was encoded
    from and, with B, G and R bands, ``<key>_spectral_raw`` and ``<key>_spectral_decoded`` the spectral cloud test
    on those DN and on the decoded product. Never downlinked: for scoring on the ground only."""
    return f"lossy_r{row0}_c{col0}" + (f"_b{burst_frame:02d}" if burst_frame is not None else "")
