"""Images on disk as they are made (onboard.pipeline.spill): the same samples as in memory, whatever the order and
size of the runs of rows written, the fill rule of rundir.codec, and the JPEG-LS record's bytes."""

import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from onboard.pipeline import spill
from onboard.pipeline.spill import SpilledImage
from rundir import codec
from rundir.flight_codecs import jpegls


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 24), w=st.integers(1, 24), bands=st.integers(1, 5), rows=st.integers(1, 30),
       seed=st.integers(0, 2**16))
def test_rows_written_in_any_order_read_back_as_the_image(tmp_path_factory, h, w, bands, rows, seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 4096, (h, w, bands), dtype=np.uint16)
    spilled = SpilledImage((h, w, bands), tmp_path_factory.mktemp("spill"))
    runs = [(band, r0) for band in range(bands) for r0 in range(0, h, rows)]
    for i in rng.permutation(len(runs)):
        band, r0 = runs[i]
        spilled.put_rows(band, r0, image[r0:r0 + rows, :, band])
    back = np.asarray(spilled)
    assert back.shape == (h, w, bands) and back.dtype == np.uint16
    np.testing.assert_array_equal(back, image)


def test_unwritten_rows_read_zero_and_the_file_has_no_name(tmp_path):
    spilled = SpilledImage((6, 5, 2), tmp_path)
    spilled.put_rows(1, 2, np.full((2, 5), 7, np.uint16))
    expected = np.zeros((6, 5, 2), np.uint16)
    expected[2:4, :, 1] = 7
    np.testing.assert_array_equal(np.asarray(spilled), expected)
    assert os.listdir(tmp_path) == []  # nothing left behind should the process die


@pytest.mark.parametrize("strip_bytes", [1, 64, spill.STRIP_BYTES])
def test_reserve_fill_is_the_codec_s_rule_in_strips(tmp_path, monkeypatch, strip_bytes):
    monkeypatch.setattr(spill, "STRIP_BYTES", strip_bytes)
    rng = np.random.default_rng(3)
    image = rng.integers(0, 3, (37, 11, 3), dtype=np.uint16)  # many pixels 0 in every band, some in only one
    spilled = SpilledImage(image.shape, tmp_path)
    for band in range(3):
        spilled.put_rows(band, 0, image[..., band])
    spilled.reserve_fill()
    expected = codec.reserve_fill(image.copy())
    assert not np.array_equal(expected, image)
    np.testing.assert_array_equal(np.asarray(spilled), expected)


def test_the_jpegls_codestream_is_the_in_memory_image_s(tmp_path):
    image = np.random.default_rng(4).integers(0, 4096, (40, 24, 4), dtype=np.uint16)
    spilled = SpilledImage(image.shape, tmp_path)
    for band in range(4):
        for r0 in range(0, 40, 7):
            spilled.put_rows(band, r0, image[r0:r0 + 7, :, band])
    assert jpegls(np.asarray(spilled), 16) == jpegls(image, 16)


@pytest.mark.parametrize("band, row0, shape", [(2, 0, (3, 5)), (-1, 0, (3, 5)), (0, 5, (2, 5)), (0, -1, (1, 5)),
                                               (0, 0, (3, 4))])
def test_rows_outside_the_image_are_refused(tmp_path, band, row0, shape):
    spilled = SpilledImage((6, 5, 2), tmp_path)
    with pytest.raises(ValueError, match=r"do not fit an image of \(6, 5, 2\)"):
        spilled.put_rows(band, row0, np.zeros(shape, np.uint16))


def test_the_disk_is_reserved_when_made_and_let_go_on_close(tmp_path):
    """The file was sparse: a full disk showed as an OSError midway through the fusion, and its file stayed open
    until the image was collected. Its blocks are now reserved when it is made, and close lets them go."""
    spilled = SpilledImage((64, 32, 4), tmp_path)
    fd = spilled._file.fileno()
    assert os.fstat(fd).st_blocks * 512 >= 64 * 32 * 4 * 2  # allocated, not a hole
    spilled.close()
    assert spilled._file.closed
