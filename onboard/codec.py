"""Product encodings shared by the spacecraft and the ground: bit-packed raw, PNG (OpenCV) and TIFF (deflate).

Raw frames are packed MSB-first at the camera's bit depth, band-interleaved-by-pixel, row-major, so a raw
product is exactly ``ceil(H * W * B * bit_depth / 8)`` bytes: the bent-pipe baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import io

import cv2
import numpy as np
import tifffile

from .errors import InputFileError

FORMATS = ("raw", "png", "tiff")
EXTENSIONS = {"raw": ".raw", "png": ".png", "tiff": ".tif"}


def packed_size_bytes(n_samples: int, bit_depth: int) -> int:
    """Bytes needed for ``n_samples`` samples of ``bit_depth`` bits, bit-packed."""
    return (n_samples * bit_depth + 7) // 8


def pack_bits(dn: np.ndarray, bit_depth: int) -> bytes:
    """Pack unsigned samples (any shape, values < 2**bit_depth) MSB-first into ``bit_depth`` bits each."""
    if not 1 <= bit_depth <= 16:
        raise ValueError(f"bit_depth must be 1..16, got {bit_depth}")
    flat = np.ascontiguousarray(dn, dtype=">u2").reshape(-1)
    bits = np.unpackbits(flat.view(np.uint8)).reshape(-1, 16)[:, 16 - bit_depth:]
    return np.packbits(bits.reshape(-1)).tobytes()


def unpack_bits(data: bytes, shape: tuple[int, ...], bit_depth: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: returns a uint16 array of ``shape``."""
    n = int(np.prod(shape))
    if len(data) != packed_size_bytes(n, bit_depth):
        raise ValueError(f"expected {packed_size_bytes(n, bit_depth)} bytes for {shape} at {bit_depth} bit, got {len(data)}")
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[: n * bit_depth].reshape(n, bit_depth)
    full = np.zeros((n, 16), dtype=np.uint8)
    full[:, 16 - bit_depth:] = bits
    return np.packbits(full.reshape(-1)).view(">u2").astype(np.uint16).reshape(shape)


def encode(dn: np.ndarray, fmt: str, bit_depth: int, level: int = 3) -> bytes:
    """Encode an (H, W, B) uint16 array losslessly as ``raw``, ``png`` (1, 3 or 4 bands) or ``tiff`` (deflate)."""
    if fmt == "raw":
        return pack_bits(dn, bit_depth)
    if fmt == "png":
        if dn.shape[-1] not in (1, 3, 4):
            raise ValueError(f"PNG holds 1, 3 or 4 bands, got {dn.shape[-1]}: use format tiff")
        ok, buf = cv2.imencode(".png", dn, [cv2.IMWRITE_PNG_COMPRESSION, int(level)])
        if not ok:
            raise ValueError(f"OpenCV could not encode a {dn.shape} {dn.dtype} array as png")
        return buf.tobytes()
    if fmt == "tiff":
        # deflate with horizontal differencing (predictor 2): about 30% smaller than plain deflate on imagery
        out = io.BytesIO()
        tifffile.imwrite(out, dn, compression="zlib", compressionargs={"level": int(level)}, predictor=True,
                         photometric="minisblack", planarconfig="contig")
        return out.getvalue()
    raise ValueError(f"unknown format {fmt!r}; choose from {FORMATS}")


def decode(data: bytes, fmt: str, shape: tuple[int, ...], bit_depth: int) -> np.ndarray:
    """Decode bytes written by :func:`encode` back to an (H, W, B) uint16 array of ``shape``."""
    if fmt == "raw":
        return unpack_bits(data, tuple(shape), bit_depth)
    if fmt == "png":
        img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ValueError("not a decodable png image")
    elif fmt == "tiff":
        try:
            img = tifffile.imread(io.BytesIO(data))
        except Exception as err:  # tifffile raises many types on a damaged file
            raise ValueError(f"not a decodable tiff image ({err})") from None
    else:
        raise ValueError(f"unknown format {fmt!r}; choose from {FORMATS}")
    img = img.reshape(img.shape[0], img.shape[1], -1)
    if tuple(img.shape) != tuple(shape):
        raise ValueError(f"decoded shape {img.shape} differs from manifest shape {tuple(shape)}")
    return img.astype(np.uint16, copy=False)


def decode_product(path: str | Path, line: Mapping[str, Any]) -> np.ndarray:
    """Read one downlinked product file described by its manifest line; raise InputFileError when it is bad."""
    try:
        data = Path(path).read_bytes()
        return decode(data, line["format"], tuple(line["shape"]), int(line["bit_depth"]))
    except (OSError, ValueError) as err:
        raise InputFileError(path, f"cannot decode {line.get('format')} product: {err}") from None
