"""Product encodings: exact round trips and the bit-packed size that defines the bent-pipe baseline."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from onboard import codec


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 17), w=st.integers(1, 17), b=st.integers(1, 5), bits=st.integers(1, 16), seed=st.integers(0, 2**32 - 1))
def test_pack_bits_round_trip_and_size(h, w, b, bits, seed):
    dn = np.random.default_rng(seed).integers(0, 2**bits, (h, w, b)).astype(np.uint16)
    data = codec.pack_bits(dn, bits)
    assert len(data) == codec.packed_size_bytes(dn.size, bits) == (dn.size * bits + 7) // 8
    np.testing.assert_array_equal(codec.unpack_bits(data, dn.shape, bits), dn)


def test_pack_bits_is_msb_first():
    assert codec.pack_bits(np.array([0xABC, 0x123], np.uint16), 12) == bytes([0xAB, 0xC1, 0x23])


@pytest.mark.parametrize("fmt,bands", [("png", 1), ("png", 3), ("png", 4), ("tiff", 2), ("tiff", 4), ("tiff", 5)])
def test_lossless_formats_round_trip(fmt, bands):
    dn = np.random.default_rng(1).integers(0, 4096, (37, 53, bands)).astype(np.uint16)
    data = codec.encode(dn, fmt, 12)
    np.testing.assert_array_equal(codec.decode(data, fmt, dn.shape, 12), dn)


def test_png_rejects_five_bands():
    with pytest.raises(ValueError, match="PNG holds 1, 3 or 4 bands"):
        codec.encode(np.zeros((4, 4, 5), np.uint16), "png", 12)


def test_decode_product_names_the_file(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(b"not a png")
    with pytest.raises(Exception, match="x.png: cannot decode png product"):
        codec.decode_product(path, {"format": "png", "shape": [4, 4, 4], "bit_depth": 12})
