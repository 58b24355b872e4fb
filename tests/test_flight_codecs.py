"""rundir.flight_codecs (CCSDS 121, JPEG-LS, JPEG 2000, JPEG XL and zstd through imagecodecs): lossless round trips
bit for bit
at every bit depth each codec takes, near-lossless JPEG-LS within NEAR, JPEG 2000 within a byte budget, lossy JPEG XL
in every band, and a clear ValueError for a bit depth a codec does not take or a codestream it cannot decode."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rundir import codec, flight_codecs
from rundir.flight_codecs import BIT_DEPTHS, LEVELS, LOSSY, Lossy

SHAPES = st.tuples(st.integers(1, 24), st.integers(1, 24), st.integers(1, 5))


def smooth(shape: tuple[int, int, int], bits: int, seed: int) -> np.ndarray:
    """An (H, W, B) frame like imagery (a gradient plus noise), so that lossy settings have something to keep."""
    h, w, b = shape
    rng = np.random.default_rng(seed)
    ramp = np.add.outer(np.arange(h), np.arange(w))[..., None] * (2**bits - 1) / max(1, h + w)
    noise = rng.normal(0, 2**bits / 64, (h, w, b))
    return np.clip(ramp + noise, 0, 2**bits - 1).astype(np.uint16)


def frame(shape: tuple[int, int, int], bits: int, seed: int, kind: str) -> np.ndarray:
    """(H, W, B) uint16 DN of ``bits`` bits: uniform noise, imagery-like, or flat at 0 or at the largest DN."""
    if kind == "noise":
        return np.random.default_rng(seed).integers(0, 2**bits, shape).astype(np.uint16)
    if kind == "smooth":
        return smooth(shape, bits, seed)
    return np.full(shape, 0 if kind == "zeros" else 2**bits - 1, np.uint16)


def encoded(fmt: str, dn: np.ndarray, bits: int = 12, level: int = 3) -> bytes:
    """``dn`` in ``fmt``, lossless, as the encode stage codes it (zstd over the bit-packed samples)."""
    return codec.encode(dn, fmt, bits, level)


def round_trip(dn: np.ndarray, fmt: str, bits: int, level: int = 3) -> np.ndarray:
    """``dn`` through ``fmt`` losslessly and back: the image codecs as they are, zstd over the bit-packed samples."""
    return codec.decode(encoded(fmt, dn, bits, level), fmt, dn.shape, bits)


# --- lossless ------------------------------------------------------------------------------------------------------

@settings(max_examples=80, deadline=None)
@given(fmt=st.sampled_from(flight_codecs.CODECS), shape=SHAPES, depth=st.floats(0, 1), seed=st.integers(0, 2**32 - 1),
       kind=st.sampled_from(["noise", "smooth", "zeros", "max"]), level=st.floats(0, 1))
def test_every_codec_round_trips_bit_exactly_at_every_bit_depth_it_takes(fmt, shape, depth, seed, kind, level):
    low, high = BIT_DEPTHS[fmt]
    bits = low + round(depth * (high - low))
    levels = LEVELS.get(fmt, (3, 3))
    dn = frame(shape, bits, seed, kind)
    decoded = round_trip(dn, fmt, bits, levels[0] + round(level * (levels[1] - levels[0])))
    assert decoded.dtype == np.uint16 and decoded.shape == dn.shape
    np.testing.assert_array_equal(decoded, dn)


@pytest.mark.parametrize("fmt", flight_codecs.CODECS)
@pytest.mark.parametrize("kind", ["noise", "zeros", "max"])
def test_the_lowest_and_highest_bit_depth_of_each_codec_round_trip(fmt, kind):
    for bits in BIT_DEPTHS[fmt]:
        dn = frame((9, 11, 3), bits, 2, kind)
        np.testing.assert_array_equal(round_trip(dn, fmt, bits), dn)


@settings(max_examples=40, deadline=None)
@given(fmt=st.sampled_from(flight_codecs.CODECS), shape=SHAPES.filter(lambda s: s[0] * s[1] * s[2] >= 64),
       bits=st.integers(2, 16), seed=st.integers(0, 2**32 - 1))
def test_no_codec_shrinks_uniform_noise_below_its_entropy(fmt, shape, bits, seed):
    """Uniform ``bits``-bit noise carries ``bits`` bits a sample. A lossless code is one-to-one, and fewer than
    2**(N - 32) bit strings are shorter than N - 32 bits, so fewer than one input in 2**32 can come out 4 bytes under
    the packed size (the counting argument behind Shannon's source coding theorem, Cover & Thomas, Elements of
    Information Theory, 2nd ed., section 5.3): a smaller output means the codec drops samples."""
    dn = frame(shape, bits, seed, "noise")
    packed = codec.pack_bits(dn, bits)
    data = encoded(fmt, dn, bits)
    assert len(data) >= len(packed) - 4


@pytest.mark.parametrize("bits", [12, 16])
def test_jpegls_codes_incompressible_frames_larger_than_imagecodecs_sizes_its_buffer(bits):
    """Uniform 16-bit noise codes to more bytes than the raw frame, which imagecodecs' own buffer holds: CharLS
    raised "destination buffer is too small"; the report's lossless baselines code every capture in JPEG-LS."""
    dn = frame((64, 64, 4), bits, 3, "noise")
    data = flight_codecs.encode(dn, "jpegls", bits)
    np.testing.assert_array_equal(flight_codecs.decode(data, "jpegls", dn.shape, bits), dn)


def ccsds121_split_sample_bits(samples: np.ndarray, bits: int) -> int:
    """Bits of a CCSDS 121.0-B-3 stream of ``samples`` coded with the split-sample (Rice) and no-compression options
    only, written here from the standard: the unit-delay predictor and its mapping of each residual (the preprocessor),
    then per block of J samples the option ID (4 bits for 8 < n <= 16, 3 up to 8) and the cheapest of k = 0 .. n - 2
    split bits (J unary-coded high parts, k low bits each) or n bits a sample; a reference sample (n bits, not
    coded) opens every r blocks. Zero-block and second-extension, the options for near-constant blocks, are left
    out, so libaec can only be smaller; on noisy imagery they never win and the two agree."""
    j, r = flight_codecs.CCSDS121_BLOCK_SAMPLES, flight_codecs.CCSDS121_RSI_BLOCKS
    x = samples.astype(np.int64).ravel()
    predicted = np.concatenate([[0], x[:-1]])
    delta, theta = x - predicted, np.minimum(predicted, 2**bits - 1 - predicted)
    mapped = np.where((delta >= 0) & (delta <= theta), 2 * delta,
                      np.where((delta < 0) & (delta >= -theta), 2 * -delta - 1, theta + np.abs(delta)))
    n_blocks = -(-x.size // j)
    blocks = np.concatenate([mapped, np.zeros(n_blocks * j - x.size, np.int64)]).reshape(n_blocks, j)
    total = 0
    for index, block in enumerate(blocks):
        reference = index % r == 0
        block = block[1:] if reference else block
        split = min(block.size * (k + 1) + int((block >> k).sum()) for k in range(bits - 1))
        total += (4 if bits > 8 else 3) + min(split, bits * block.size) + (bits if reference else 0)
    return total


@pytest.mark.parametrize("bits,noise_dn", [(12, 8), (12, 60), (10, 4), (16, 400)])
def test_ccsds121_is_the_standards_rice_code_bit_for_bit_in_size(bits, noise_dn):
    """libaec's stream is as long as the standard's split-sample code written out above, to the last byte's
    padding, on imagery-like frames (a gradient plus noise), band-sequential."""
    h, w, b = 48, 40, 3
    ramp = np.add.outer(np.arange(h), np.arange(w))[..., None] * (2**bits - 1) / (h + w)
    noise = np.random.default_rng(noise_dn).normal(0, noise_dn, (h, w, b))
    dn = np.clip(ramp + noise, 0, 2**bits - 1).astype(np.uint16)
    expected_bits = ccsds121_split_sample_bits(np.moveaxis(dn, -1, 0), bits)
    assert len(flight_codecs.ccsds121(dn, bits)) == -(-expected_bits // 8)


@pytest.mark.parametrize("bits, dn", [(8, 300), (12, 5000)])
def test_ccsds121_refuses_a_dn_its_bit_depth_cannot_hold(bits, dn):
    """At 8 bits the cast to one byte wrapped 300 to 44, and at 12 bits 5000 coded a stream that decoded to 2
    samples: a product said to be lossless that was not."""
    frame_dn = np.full((4, 4, 2), dn, np.uint16)
    with pytest.raises(ValueError, match=f"^ccsds121 codes {bits}-bit samples, got DN {dn}$"):
        flight_codecs.ccsds121(frame_dn, bits)


def test_ccsds121_codes_flat_ground_with_its_low_entropy_options():
    """A flat frame's residuals are all 0: the standard's zero-block option codes runs of such blocks in a few bits,
    where the split-sample code spends at least a bit a sample."""
    dn = np.full((64, 64, 4), 1000, np.uint16)
    data = flight_codecs.ccsds121(dn, 12)
    assert len(data) * 8 < ccsds121_split_sample_bits(np.moveaxis(dn, -1, 0), 12) / 10
    np.testing.assert_array_equal(flight_codecs.ccsds121_decode(data, dn.shape, 12), dn)


def test_ccsds121_sits_between_zstd_and_jpegls_on_imagery_as_published():
    """One-dimensional prediction codes imagery smaller than a coder with no image model and larger than
    two-dimensional JPEG-LS: the order the comparisons cited in rundir.flight_codecs report."""
    dn = smooth((96, 96, 4), 12, 9)
    sizes = {fmt: len(encoded(fmt, dn)) for fmt in ("zstd", "ccsds121", "jpegls")}
    assert sizes["jpegls"] < sizes["ccsds121"] < sizes["zstd"]


# --- bit depths ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", flight_codecs.CODECS)
def test_a_bit_depth_a_codec_does_not_take_is_refused_with_its_range(fmt):
    low, high = BIT_DEPTHS[fmt]
    for bits in (low - 1, high + 1):
        with pytest.raises(ValueError, match=f"^{fmt} takes {low} to {high} bits per sample, got {bits}$"):
            flight_codecs.check_bit_depth(fmt, bits)
    for bits in (low, high):
        flight_codecs.check_bit_depth(fmt, bits)


@pytest.mark.parametrize("fmt,bits", [("jpegls", 1), ("jpegxl", 17), ("jpeg2000", 17), ("jpeg2000", 0)])
def test_encode_refuses_a_bit_depth_before_encoding(fmt, bits):
    with pytest.raises(ValueError, match=f"{fmt} takes"):
        flight_codecs.encode(np.zeros((4, 4, 1), np.uint16), fmt, bits)


def test_an_unknown_codec_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"unknown image codec 'zstd'; choose from \('jpegls', 'jpeg2000', 'jpegxl'\)"):
        flight_codecs.encode(np.zeros((4, 4, 1), np.uint16), "zstd", 12)  # zstd codes packed bytes, not a frame
    with pytest.raises(ValueError, match="unknown image codec 'png'"):
        flight_codecs.decode(b"\x89PNG", "png", (4, 4, 1), 8)


# --- lossy settings ------------------------------------------------------------------------------------------------

def test_a_lossy_setting_says_whether_and_how_it_is_bounded():
    assert all(Lossy().lossless(fmt) and Lossy().max_error_bound_dn(fmt) == 0 for fmt in flight_codecs.CODECS)
    assert Lossy(max_error_dn=3).max_error_bound_dn("jpegls") == 3
    assert Lossy(bits_per_sample=1.0).max_error_bound_dn("jpeg2000") is None
    assert Lossy(distance=1.0).max_error_bound_dn("jpegxl") is None
    assert Lossy(max_error_dn=3).lossless("jpeg2000")  # another codec's setting does not apply
    assert Lossy(max_error_dn=3, bits_per_sample=1.0, distance=1.0).lossless("zstd")  # zstd has no lossy setting


@settings(max_examples=60, deadline=None)
@given(shape=SHAPES, bits=st.integers(2, 16), near=st.integers(1, flight_codecs.MAX_NEAR_DN),
       seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["noise", "smooth", "zeros", "max"]))
def test_near_lossless_jpegls_never_passes_near(shape, bits, near, seed, kind):
    dn = frame(shape, bits, seed, kind)
    data = flight_codecs.encode(dn, "jpegls", bits, lossy=Lossy(max_error_dn=near))
    decoded = flight_codecs.decode(data, "jpegls", dn.shape, bits)
    assert np.abs(decoded.astype(int) - dn).max() <= near and decoded.max() < 2**bits


@pytest.mark.parametrize("bits", [4, 8, 12])
def test_near_lossless_jpegls_stays_in_the_frames_range_at_its_top(bits):
    """imagecodecs codes uint16 at 16 bits, so the reconstruction of a DN near the top can pass it (4109 from a 12-bit
    frame at NEAR 20, before the clamp): decode clamps to the frame's largest DN."""
    dn = np.random.default_rng(bits).integers(2**bits - 4, 2**bits, (8, 8, 2)).astype(np.uint16)
    dn[::2, ::2] = 0  # edges, so that predictions overshoot
    data = flight_codecs.encode(dn, "jpegls", bits, lossy=Lossy(max_error_dn=20))
    decoded = flight_codecs.decode(data, "jpegls", dn.shape, bits)
    assert decoded.max() <= 2**bits - 1 and np.abs(decoded.astype(int) - dn).max() <= 20


@pytest.mark.parametrize("near", [1, 2, 5])
def test_near_lossless_jpegls_reaches_near_on_noisy_data_and_saves_bytes(near):
    dn = smooth((64, 48, 4), 12, near)
    data = flight_codecs.encode(dn, "jpegls", 12, lossy=Lossy(max_error_dn=near))
    error = np.abs(flight_codecs.decode(data, "jpegls", dn.shape, 12).astype(int) - dn)
    assert error.max() == near and len(data) < len(flight_codecs.encode(dn, "jpegls", 12))


@pytest.mark.parametrize("bits_per_sample", [0.5, 1.0, 2.0])
def test_jpeg2000_at_a_rate_lands_just_under_its_byte_budget(bits_per_sample):
    dn = smooth((256, 256, 4), 12, 3)
    data = flight_codecs.encode(dn, "jpeg2000", 12, lossy=Lossy(bits_per_sample=bits_per_sample))
    budget = bits_per_sample * dn.size / 8
    assert 0.9 * budget <= len(data) <= budget  # OpenJPEG's rate control cuts the bit planes at the rate
    assert np.abs(flight_codecs.decode(data, "jpeg2000", dn.shape, 12).astype(int) - dn).max() > 0


@settings(max_examples=60, deadline=None)
@given(shape=SHAPES, bits=st.integers(1, 16), seed=st.integers(0, 2**32 - 1), share=st.floats(0, 1.2))
@example(shape=(11, 16, 5), bits=5, seed=4, share=0.14)  # these three missed by 1 to 3 bytes with 3 rate steps
@example(shape=(22, 19, 3), bits=15, seed=32, share=0.15)
@example(shape=(8, 19, 4), bits=5, seed=216, share=0.42)
def test_jpeg2000_meets_every_budget_down_to_its_smallest_codestream(shape, bits, seed, share):
    """Small frames are the hard case: their size moves in steps of whole coding passes as the rate falls."""
    dn = smooth(shape, bits, seed)
    lossless = flight_codecs.jpeg2000(dn, bits)
    smallest = len(flight_codecs.jpeg2000_at_bytes(dn, bits, 0))  # no budget: the smallest codestream it makes
    budget = int(min(smallest, len(lossless)) + share * abs(len(lossless) - smallest))
    data = flight_codecs.jpeg2000_at_bytes(dn, bits, budget)
    decoded = flight_codecs.decode(data, "jpeg2000", dn.shape, bits)
    if budget >= len(lossless):
        assert data == lossless
        np.testing.assert_array_equal(decoded, dn)
    else:
        assert len(data) <= budget
        assert decoded.max() < 2**bits


@pytest.mark.parametrize("quality_db", [None, 60.0])
def test_a_jpeg2000_codestream_does_not_depend_on_openjpeg_s_thread_count(quality_db):
    dn = smooth((300, 260, 4), 12, 9)  # enough code-blocks (64 x 64) for every thread
    one = flight_codecs.jpeg2000(dn, 12, quality_db, threads=1)
    assert all(flight_codecs.jpeg2000(dn, 12, quality_db, threads=n) == one for n in (2, 3, 8))


def test_jpeg2000_at_bytes_uses_the_lossless_codestream_it_is_given():
    dn = smooth((32, 32, 3), 12, 4)
    lossless = flight_codecs.jpeg2000(dn, 12)
    assert flight_codecs.jpeg2000_at_bytes(dn, 12, 10**6) == lossless
    assert flight_codecs.jpeg2000_at_bytes(dn, 12, len(lossless), lossless=b"given") == b"given"
    np.testing.assert_array_equal(flight_codecs.decode(lossless, "jpeg2000", dn.shape, 12), dn)


def test_lossy_jpegxl_loses_in_every_band():
    dn = smooth((64, 64, 4), 12, 5)
    data = flight_codecs.encode(dn, "jpegxl", 12, lossy=Lossy(distance=2.0))
    error = np.abs(flight_codecs.decode(data, "jpegxl", dn.shape, 12).astype(int) - dn)
    assert all(error[..., band].max() > 0 for band in range(4))  # band-sequential: no band kept lossless


# --- damaged codestreams -------------------------------------------------------------------------------------------

NAMED = {"ccsds121": "ccsds121", "jpegls": "jpegls", "jpeg2000": "jpeg2000", "jpegxl": "(?i)jpeg ?xl", "zstd": "zstd"}


def decode_any(data: bytes, fmt: str, shape: tuple[int, int, int]) -> np.ndarray | bytes:
    return flight_codecs.zstd_decode(data) if fmt == "zstd" else codec.decode(data, fmt, shape, 12)


@settings(max_examples=80, deadline=None)
@given(fmt=st.sampled_from(flight_codecs.CODECS), share=st.floats(0, 1, exclude_max=True))
def test_a_truncated_codestream_is_a_value_error_naming_the_codec(fmt, share):
    dn = smooth((16, 16, 3), 12, 6)
    data = encoded(fmt, dn)
    with pytest.raises(ValueError, match=NAMED[fmt]):
        decode_any(data[: int(share * len(data))], fmt, dn.shape)


@given(share=st.floats(0, 1, exclude_max=True))
@settings(max_examples=30, deadline=None)
def test_a_truncated_jpegls_codestream_is_refused_before_charls_reads_it(share):
    """CharLS 2.4 takes seconds to refuse some truncated scans: the missing end-of-image marker refuses them first."""
    data = flight_codecs.encode(smooth((24, 20, 3), 12, 0), "jpegls", 12)
    with pytest.raises(ValueError, match=r"^not a decodable jpegls codestream \(truncated: no end marker ffd9\)$"):
        flight_codecs.decode(data[: int(share * len(data))], "jpegls", (24, 20, 3), 12)


@pytest.mark.parametrize("fmt", flight_codecs.CODECS)
@pytest.mark.parametrize("junk", [b"", b"\x00" * 10, bytes(range(256)), b"\xff\xd8\xff\xd9"], ids=["empty", "zeros",
                                                                                              "ramp", "soi-eoi"])
def test_bytes_that_are_no_codestream_are_a_value_error_naming_the_codec(fmt, junk):
    with pytest.raises(ValueError, match=NAMED[fmt]):
        decode_any(junk, fmt, (16, 16, 3))


@pytest.mark.parametrize("fmt", LOSSY)
def test_another_codecs_codestream_is_a_value_error(fmt):
    dn = smooth((16, 16, 3), 12, 7)
    for other in (f for f in flight_codecs.CODECS if f != fmt):
        with pytest.raises(ValueError, match=NAMED[fmt]):
            flight_codecs.decode(encoded(other, dn), fmt, dn.shape, 12)


@pytest.mark.parametrize("fmt", LOSSY)
def test_a_codestream_of_another_shape_is_a_value_error(fmt):
    dn = smooth((16, 16, 3), 12, 8)
    with pytest.raises(ValueError, match=r"decoded (shape|image) \(.*\) (differs from manifest shape|is not)"):
        flight_codecs.decode(flight_codecs.encode(dn, fmt, 12), fmt, (16, 16, 4), 12)
