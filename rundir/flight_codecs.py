"""Flight-class image codecs through imagecodecs: CCSDS 121.0-B-3 (adaptive Rice coding), JPEG-LS, JPEG 2000,
JPEG XL, and zstd over bit-packed DN.

No codec is written here: each format is the library's (imagecodecs 2026.3.6 wraps libaec, CharLS 2.4, OpenJPEG
2.5, libjxl 0.11 and zstd 1.4); this module fixes how a multispectral (H, W, B) frame of ``bit_depth``-bit DN is laid
out for each and which settings make it lossless or lossy, so that the spacecraft and the ground agree.

Layouts (each is one standard codestream that any decoder of the format reads):

- ``jpegls``: band-sequential (BSQ), the B bands stacked as one (B * H, W) greyscale image. JPEG-LS predicts from
  the causal neighbours within a band; CharLS's interleaved modes take only 3 or 4 components, BSQ takes any band
  count at the same ratio (within 0.5 % on the quickstart frames).
- ``jpeg2000``: the B bands as B components of one image, without the colour transform (``mct=False``: a
  multispectral frame is not RGB).
- ``jpegxl``: band-sequential, like JPEG-LS: libjxl codes extra channels losslessly whatever the distance, so a
  lossy (H, W, B) frame would stay lossless in every band but the first.
- ``ccsds121``: band-sequential, each band's rows one after another as one sequence of ``bit_depth``-bit samples
  (little-endian 16-bit containers above 8 bits), which the standard's unit-delay predictor runs along; blocks of
  :data:`CCSDS121_BLOCK_SAMPLES` samples, a reference sample every :data:`CCSDS121_RSI_BLOCKS` blocks. The stream
  has no header (a mission fixes these parameters in its interface control document): the manifest's shape and
  bit depth, with these constants, decode it.
- ``zstd``: the bit-packed samples of :func:`rundir.codec.pack_bits` (MSB-first, band-interleaved-by-pixel).

Ratios on the quickstart frames (12-bit, 4 bands) are measured by ``benchmarks/codecs.py``
(benchmarks/results/codecs.json).
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass

import imagecodecs
import numpy as np
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile

CODECS = ("ccsds121", "jpegls", "jpeg2000", "jpegxl", "zstd")
LOSSY = ("jpegls", "jpeg2000", "jpegxl")  # the codecs with a lossy setting
EXTENSIONS = {"ccsds121": ".rz", "jpegls": ".jls", "jpeg2000": ".j2k", "jpegxl": ".jxl", "zstd": ".zst"}
NAMES = {"ccsds121": "CCSDS 121", "jpegls": "JPEG-LS", "jpeg2000": "JPEG 2000", "jpegxl": "JPEG XL",
         "zstd": "zstd"}  # as reports name them
# The lossless codecs the spacecraft sizes each capture in for the report's comparison (telemetry/processing.jsonl
# alternative_bytes ``lossless_<codec>`` and ``cloud_filter_<codec>``): CCSDS 123.0-B-2's and 122.0-B-2's relatives.
ESTIMATED_LOSSLESS = ("jpegls", "jpeg2000")
# OpenJPEG codes a JPEG 2000 frame's code-blocks in this many threads (encoder threads since OpenJPEG 2.4, uclouvain/
# openjpeg#1248); the codestream does not depend on the count (tests/test_flight_codecs.py).
OPENJPEG_THREADS = os.cpu_count() or 1
BIT_DEPTHS = {"ccsds121": (1, 16), "jpegls": (2, 16), "jpeg2000": (1, 16), "jpegxl": (1, 16), "zstd": (1, 16)}
"""Sample bit depths each codec takes, inclusive: JPEG-LS P = 2..16 (ITU-T T.87 clause 3.3); OpenJPEG's
reversible path 1..16 bits per component; libaec 1..32 bits (CCSDS 121.0-B-3 n = 1..32; 16 here, the DN's
container); libjxl 1..16 bits (as uint8 up to 8 bits); zstd packs any depth."""
LEVELS = {"zstd": (1, 22), "jpegxl": (1, 9)}  # zstd's compression levels; libjxl's effort (speed against size)
JPEGLS_EOI = b"\xff\xd9"  # the end-of-image marker closing a JPEG-LS codestream (ITU-T T.81 table B.1, T.87 annex C);
# no two bytes of a scan read FF D9, as JPEG-LS stuffs a 0 bit after every FF byte of a scan (T.87)
# The largest JPEG-LS codestream of a 16-bit sample: LIMIT = 2 * (bpp + max(8, bpp)) = 64 bits a sample at most
# (ITU-T T.87, A.2.1); a 0 bit is stuffed after each FF byte, so the next byte is not FF (T.87 A.1): at most every
# other byte carries one, 1/15 more bits. Under 9 bytes a sample.
JPEGLS_WORST_BYTES_PER_SAMPLE = 9
JPEGLS_NOISE_BYTES_PER_SAMPLE = 2.5  # tried first: uniform 16-bit noise codes to 2.08 bytes a sample (measured)
JPEGLS_HEADER_BYTES = 4096  # SOI, SOF55, LSE, SOS and EOI markers (T.87 annex C), with room to spare
CCSDS121_BLOCK_SAMPLES = 16  # J, samples a block: 8, 16, 32 or 64 (CCSDS 121.0-B-3); libaec's README's example
CCSDS121_RSI_BLOCKS = 128  # r, blocks between reference samples (up to 4096); libaec's README's example
CCSDS121_FLAGS = imagecodecs.AEC.FLAG.DATA_PREPROCESS  # the unit-delay predictor on, unsigned samples
MAX_NEAR_DN = 255  # the largest NEAR a JPEG-LS frame header holds (ITU-T T.87, C.2.4.1.1: NEAR is one byte)
MAX_JPEGXL_DISTANCE = 25.0  # libjxl's largest Butteraugli distance (JxlEncoderSetFrameDistance)
OPENJPEG_RESOLUTIONS = 6  # opj_compress's default number of resolutions (OpenJPEG 2.5 opj_set_default_encoder_parameters)
RATE_STEPS = 8  # encodes at most to reach a byte budget (jpeg2000_at_bytes): headers can overshoot a tiny one, and
# a small frame's size moves in steps (whole coding passes): 3 tries missed 5 of 200 budgets on frames under 40 px


@dataclass(frozen=True)
class Lossy:
    """A codec's lossy setting; the default is lossless for every codec.

    ``max_error_dn``: JPEG-LS NEAR, the largest absolute error of any sample (0: lossless); ``bits_per_sample``:
    JPEG 2000's target rate in bits per sample (None: lossless, the reversible 5/3 wavelet); ``distance``: JPEG XL's
    Butteraugli distance (0: lossless; 1 is "visually lossless" on 8-bit RGB).
    """

    max_error_dn: int = 0
    bits_per_sample: float | None = None
    distance: float = 0.0

    def lossless(self, fmt: str) -> bool:
        """Whether ``fmt`` with this setting is lossless (ignoring the settings that belong to other codecs)."""
        return {"jpegls": self.max_error_dn == 0, "jpeg2000": self.bits_per_sample is None,
                "jpegxl": self.distance == 0.0}.get(fmt, True)

    def max_error_bound_dn(self, fmt: str) -> int | None:
        """The guaranteed bound on any sample's absolute error: 0 when lossless, NEAR for near-lossless JPEG-LS,
        None where the codec bounds only a mean (JPEG 2000 at a rate, lossy JPEG XL)."""
        if self.lossless(fmt):
            return 0
        return self.max_error_dn if fmt == "jpegls" else None


def _bsq(dn: np.ndarray) -> np.ndarray:
    """(H, W, B) -> (B * H, W): the bands one under another."""
    return np.ascontiguousarray(np.moveaxis(dn, -1, 0)).reshape(-1, dn.shape[1])


def _from_bsq(img: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    h, w, b = shape
    if img.shape != (b * h, w):
        raise ValueError(f"decoded image {img.shape} is not {b} bands of {h} x {w} stacked")
    return np.moveaxis(img.reshape(b, h, w), 0, -1).astype(np.uint16, copy=False)


def jpegls(dn: np.ndarray, bit_depth: int, max_error_dn: int = 0) -> bytes:
    """JPEG-LS (ISO/IEC 14495-1 = ITU-T T.87; LOCO-I: Weinberger, Seroussi & Sapiro 2000, IEEE Trans. Image Process.
    9(8)) of an (H, W, B) frame, band-sequential; ``max_error_dn`` is NEAR (0 lossless).

    Stands in for CCSDS 123.0-B-2 (Low-Complexity Lossless and Near-Lossless Multispectral and Hyperspectral Image
    Compression, 2019): both predict each sample from causal neighbours and code the residual, losslessly or with
    a bounded absolute error. CCSDS 123 also predicts across bands, so it compresses multispectral data further:
    see the comparisons of CCSDS 123 with JPEG-LS in CCSDS 120.2-G-2 (the informational green book for 123.0),
    Augé et al. 2013 (J. Appl. Remote Sens. 7(1), 074594) and Blanes, Magli & Serra-Sagristà 2014 ("A tutorial on
    image compression for optical space imaging systems", IEEE Geosci. Remote Sens. Mag. 2(3)).
    """
    del bit_depth  # imagecodecs codes the dtype's precision (16 bits for uint16); decode clamps to bit_depth
    bsq, near = _bsq(dn), int(max_error_dn) or None
    # imagecodecs sizes its buffer at about the raw size, which noise outgrows: then larger ones, the last the bound
    return (_jpegls_into(bsq, near, None) or _jpegls_into(bsq, near, JPEGLS_NOISE_BYTES_PER_SAMPLE)
            or _jpegls_into(bsq, near, JPEGLS_WORST_BYTES_PER_SAMPLE))


def _jpegls_into(bsq: np.ndarray, near: int | None, bytes_per_sample: float | None) -> bytes | None:
    """The JPEG-LS codestream of ``bsq`` in a buffer of ``bytes_per_sample`` a sample (None: imagecodecs' own), or
    None when it is too small; CharLS's other errors raised."""
    out = None if bytes_per_sample is None else bytearray(int(bytes_per_sample * bsq.size) + JPEGLS_HEADER_BYTES)
    try:
        return bytes(imagecodecs.jpegls_encode(bsq, level=near, out=out))
    except imagecodecs.JpeglsError as err:
        if "too small" not in str(err) or bytes_per_sample == JPEGLS_WORST_BYTES_PER_SAMPLE:
            raise
        return None


def jpeg2000(dn: np.ndarray, bit_depth: int, quality_db: float | None = None,
             threads: int = OPENJPEG_THREADS) -> bytes:
    """JPEG 2000 part 1 (ISO/IEC 15444-1) codestream of an (H, W, B) frame, B components, no colour transform:
    lossless with the reversible 5/3 integer wavelet, or (``quality_db``) the irreversible 9/7 wavelet at
    OpenJPEG's fixed-quality target, a PSNR in dB; coded in ``threads`` threads. :func:`jpeg2000_at_bytes` reaches a
    byte budget instead (OpenJPEG's rate control, through GDAL).

    Stands in for CCSDS 122.0-B-2 (Image Data Compression, 2017): a 2-D discrete wavelet transform, 5/3-like
    integer for lossless or 9/7 float, and a bit-plane encoder stopped at a target rate. CCSDS 120.1-G-3 (its green
    book) and Blanes et al. 2014 (above) compare the ratios and rate-distortion of CCSDS 122 and JPEG 2000.
    """
    return bytes(imagecodecs.jpeg2k_encode(dn if dn.shape[-1] > 1 else dn[..., 0], level=quality_db,
                                           codecformat="j2k", bitspersample=bit_depth,
                                           reversible=quality_db is None, mct=False,
                                           planar=False if dn.shape[-1] > 1 else None, numthreads=threads))


def jpegxl(dn: np.ndarray, bit_depth: int, distance: float = 0.0, effort: int = 3) -> bytes:
    """JPEG XL (ISO/IEC 18181-1) of an (H, W, B) frame, band-sequential: lossless (modular mode) at ``distance``
    0, else lossy (VarDCT) at that Butteraugli distance; ``effort`` 1..9 trades speed for size.

    No flight standard uses it: it stands for the best current ground-side codec, the bound a future flight codec
    could reach. Alakuijala et al. 2019 ("JPEG XL next-generation image compression architecture and coding
    tools", Proc. SPIE 11137) compare its lossless and lossy ratios with JPEG 2000 and others.
    """
    planes = _bsq(dn).astype(np.uint8) if bit_depth <= 8 else _bsq(dn)  # libjxl wants 8-bit samples as uint8
    return bytes(imagecodecs.jpegxl_encode(planes, lossless=distance == 0.0, distance=distance or None,
                                           effort=int(effort), bitspersample=bit_depth))


def ccsds121(dn: np.ndarray, bit_depth: int) -> bytes:
    """CCSDS 121.0-B-3 (Lossless Data Compression, 2020: the unit-delay predictor and the adaptive Rice coder,
    Rice 1979, JPL Publication 79-22) of an (H, W, B) frame of ``bit_depth``-bit DN, band-sequential, through libaec
    (``imagecodecs.aec_encode``), which implements the standard's sections 1 to 5.2.6 and passes CCSDS's own test
    data. The general-purpose lossless coder flown on many missions, in hardware too; it predicts from the previous
    sample only, so the image codecs, which predict from two dimensions, code imagery smaller (CCSDS 120.0-G-3, its
    green book; Blanes et al. 2014, above; on the quickstart frames JPEG-LS by about 10 %, benchmarks/codecs.py).
    """
    check_bit_depth("ccsds121", bit_depth)
    if dn.size and int(dn.max()) >> bit_depth:  # libaec codes n bits a sample: a larger DN would not come back
        raise ValueError(f"ccsds121 codes {bit_depth}-bit samples, got DN {int(dn.max())}")
    samples = np.ascontiguousarray(_bsq(dn), dtype=_aec_dtype(bit_depth))
    return bytes(imagecodecs.aec_encode(samples, bitspersample=bit_depth, flags=CCSDS121_FLAGS,
                                        blocksize=CCSDS121_BLOCK_SAMPLES, rsi=CCSDS121_RSI_BLOCKS))


def ccsds121_decode(data: bytes, shape: tuple[int, ...], bit_depth: int) -> np.ndarray:
    """Inverse of :func:`ccsds121`: the (H, W, B) uint16 frame of ``shape``; ValueError when ``data`` does not decode
    to that many ``bit_depth``-bit samples (a damaged or truncated stream, another frame)."""
    dtype, n = _aec_dtype(bit_depth), math.prod(shape)
    padded = -(-n // CCSDS121_BLOCK_SAMPLES) * CCSDS121_BLOCK_SAMPLES  # the last block coded whole (libaec repeats
    # the last sample to fill it), and decoded whole
    if not data:  # libaec decodes no bytes to nothing
        raise ValueError("not a decodable ccsds121 stream (no bytes)")
    try:
        out = imagecodecs.aec_decode(data, bitspersample=bit_depth, flags=CCSDS121_FLAGS,
                                     blocksize=CCSDS121_BLOCK_SAMPLES, rsi=CCSDS121_RSI_BLOCKS,
                                     out=padded * dtype.itemsize)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"not a decodable ccsds121 stream of shape {tuple(shape)} ({err})") from None
    if len(out) != padded * dtype.itemsize:
        raise ValueError(f"not a decodable ccsds121 stream (it decodes to {len(out) // dtype.itemsize} samples; "
                         f"shape {tuple(shape)} codes to {padded}, {n} in whole blocks of {CCSDS121_BLOCK_SAMPLES})")
    samples = np.frombuffer(out, dtype, count=n).astype(np.uint16)
    return _from_bsq(samples.reshape(shape[-1] * shape[0], shape[1]), tuple(shape))


def _aec_dtype(bit_depth: int) -> np.dtype:
    """The container libaec reads a ``bit_depth``-bit sample from: one byte up to 8 bits, else two, little-endian
    (libaec's default byte order without AEC_DATA_MSB)."""
    return np.dtype(np.uint8 if bit_depth <= 8 else "<u2")


def zstd(packed: bytes, level: int = 3) -> bytes:
    """Zstandard (RFC 8878) of ``packed``, the bit-packed samples of :func:`rundir.codec.pack_bits` (which packs
    them first): a general-purpose lossless coder with no image model and no flight heritage, the ground's
    archive coder. It codes the quickstart frames in about 1.5 times :func:`ccsds121`'s bytes (benchmarks/codecs.py).
    """
    return bytes(imagecodecs.zstd_encode(packed, level=int(level)))


def zstd_decode(data: bytes) -> bytes:
    """Inverse of :func:`zstd`: the bit-packed samples; ValueError when ``data`` is not a zstd frame."""
    if not data:  # imagecodecs decodes no bytes to no bytes
        raise ValueError("not a decodable zstd frame (no bytes)")
    try:
        return bytes(imagecodecs.zstd_decode(data))
    except RuntimeError as err:
        raise ValueError(f"not a decodable zstd frame ({err})") from None


def check_bit_depth(fmt: str, bit_depth: int) -> None:
    """ValueError when ``fmt`` (one of :data:`CODECS`) does not take ``bit_depth``-bit samples."""
    low, high = BIT_DEPTHS[fmt]
    if not low <= bit_depth <= high:
        raise ValueError(f"{fmt} takes {low} to {high} bits per sample, got {bit_depth}")


def encode(dn: np.ndarray, fmt: str, bit_depth: int, level: int = 3, lossy: Lossy = Lossy()) -> bytes:
    """Encode an (H, W, B) uint16 frame as ``fmt``, an image codec of :data:`LOSSY`, with ``lossy``'s setting
    (``level``: JPEG XL effort). ValueError for a bit depth the codec does not take."""
    check_bit_depth(fmt, bit_depth)
    if fmt == "jpegls":
        return jpegls(dn, bit_depth, lossy.max_error_dn)
    if fmt == "jpeg2000":
        if lossy.bits_per_sample is None:
            return jpeg2000(dn, bit_depth)
        return jpeg2000_at_bytes(dn, bit_depth, int(lossy.bits_per_sample * dn.size / 8))
    if fmt == "jpegxl":
        return jpegxl(dn, bit_depth, lossy.distance, level)
    raise ValueError(f"unknown image codec {fmt!r}; choose from {LOSSY}")


def jpeg2000_at_bytes(dn: np.ndarray, bit_depth: int, budget_bytes: int, lossless: bytes | None = None) -> bytes:
    """The best JPEG 2000 codestream of ``dn`` in at most ``budget_bytes``: the lossless one (``lossless``, when the
    caller has it already) when that fits, else the irreversible 9/7 codestream at that rate.

    OpenJPEG's own rate control (post-compression rate-distortion optimisation, ISO/IEC 15444-1 annex J.14) cuts
    the bit planes at the target; imagecodecs exposes only OpenJPEG's fixed-quality (PSNR) target, so the rate
    path goes through GDAL's JP2OpenJPEG driver (rasterio), whose ``QUALITY`` is the rate as a percentage of the
    ``bit_depth``-bit samples. The codestream's headers can overshoot a tiny budget: the target is lowered by the
    overshoot and tried again, at most RATE_STEPS times; the smallest codestream tried is returned when none fits
    (a budget below the headers)."""
    lossless = jpeg2000(dn, bit_depth) if lossless is None else lossless
    if len(lossless) <= budget_bytes:
        return lossless
    full_bytes = dn.size * bit_depth / 8
    target_bytes = float(budget_bytes)
    smallest = lossless
    for _ in range(RATE_STEPS):
        data = _jpeg2000_rate(dn, bit_depth, max(100.0 * target_bytes / full_bytes, 1e-4))
        if len(data) <= budget_bytes:
            return data
        smallest = min(smallest, data, key=len)
        target_bytes *= 0.99 * budget_bytes / len(data)
    return smallest


def _jpeg2000_rate(dn: np.ndarray, bit_depth: int, quality_percent: float) -> bytes:
    """An (H, W, B) frame as a raw JPEG 2000 codestream (GDAL JP2OpenJPEG, ``CODEC=J2K``) at ``quality_percent`` of
    its ``bit_depth``-bit size, B components, 9/7 wavelet, no colour transform."""
    dtype = "uint8" if bit_depth <= 8 else "uint16"
    height, width = dn.shape[:2]
    # One tile and OpenJPEG's own 6 resolution levels (5 decompositions), as imagecodecs encodes: GDAL's defaults
    # (fewer levels for small images, 1024 px tiles) cost up to 2 dB at the same rate on a 512 px frame.
    levels = min(OPENJPEG_RESOLUTIONS, int(math.log2(min(height, width))) + 1)
    options = {"CODEC": "J2K", "QUALITY": f"{quality_percent:.6g}", "REVERSIBLE": "NO", "YCC": "NO",
               "RESOLUTIONS": str(levels), "BLOCKXSIZE": str(max(width, 1024)), "BLOCKYSIZE": str(max(height, 1024))}
    if bit_depth not in (8, 16):
        options["NBITS"] = str(bit_depth)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a codestream: no georeferencing to carry
        with MemoryFile() as memory:
            with memory.open(driver="JP2OpenJPEG", width=dn.shape[1], height=dn.shape[0], count=dn.shape[-1],
                             dtype=dtype, **options) as dataset:
                dataset.write(np.moveaxis(dn.astype(dtype, copy=False), -1, 0))
            return bytes(memory.read())


def decode(data: bytes | np.ndarray, fmt: str, shape: tuple[int, ...], bit_depth: int) -> np.ndarray:
    """Decode a codestream of :func:`encode` (an image codec of :data:`LOSSY`) of ``bit_depth``-bit DN to an array of
    ``shape`` (H, W, B); ValueError when it is not one (a damaged file), or decodes to another shape.

    imagecodecs codes uint16 DN as 16-bit JPEG-LS (MAXVAL 65535) whatever ``bit_depth``, so a near-lossless sample,
    within NEAR of the true DN, can decode above ``2**bit_depth - 1``: it is clamped there, which keeps it within NEAR
    (the true DN is not above it) and in the frame's range, as JPEG-LS itself clamps to MAXVAL (ITU-T T.87)."""
    try:
        if fmt == "jpegls":
            if bytes(data[-2:]) != JPEGLS_EOI:  # NOTE: checked first: CharLS 2.4 takes seconds on some truncated scans
                raise ValueError(f"not a decodable jpegls codestream (truncated: no end marker {JPEGLS_EOI.hex()})")
            dn = _from_bsq(imagecodecs.jpegls_decode(data), shape)  # a view of the decoded planes
            return np.minimum(dn, 2**bit_depth - 1, out=dn)  # in place: a 50 Mpx frame's copy is 400 MB
        if fmt == "jpegxl":
            return _from_bsq(imagecodecs.jpegxl_decode(data), shape)
        if fmt != "jpeg2000":
            raise ValueError(f"unknown image codec {fmt!r}; choose from {LOSSY}")
        img = imagecodecs.jpeg2k_decode(data, numthreads=OPENJPEG_THREADS)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"not a decodable {fmt} codestream ({err})") from None
    if img.size != math.prod(shape):  # the decoder drops axes of length 1: the samples are what count
        raise ValueError(f"decoded shape {img.shape} differs from manifest shape {tuple(shape)}")
    return img.reshape(shape)
