"""The evaluation records (rundir/evaluation.py): where they lie, their keys, and the scene's single frame kept as
a JPEG-LS codestream that decodes to the DN exactly."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rundir.codec import encode
from rundir.evaluation import (EVALUATION_RAW_KEY, evaluation_frame, evaluation_frame_dn, evaluation_frame_shape,
                               evaluation_path, lossy_reference_key, sr_method_key)
from rundir.files import write_npz


def test_path_and_keys():
    assert evaluation_path(Path("runs/x"), "sat-1-f000003") == Path("runs/x/evaluation/sat-1-f000003.npz")
    assert sr_method_key("bicubic") == "sr_bicubic"
    assert lossy_reference_key(16, 24) == "lossy_r16_c24"
    assert lossy_reference_key(16, 24, 2) == "lossy_r16_c24_b02"


@settings(max_examples=20, deadline=None, derandomize=True)
@given(st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 3, 4]), st.sampled_from([8, 12, 16]))
def test_the_single_frame_survives_the_file_bit_for_bit(height, width, bands, bit_depth):
    dn = np.random.default_rng(height * width).integers(0, 2**bit_depth, (height, width, bands), dtype=np.uint16)
    shape = dn.shape if bands > 1 else dn.shape[:2] + (1,)
    arrays = evaluation_frame(encode(dn.reshape(shape), "jpegls", bit_depth), shape)
    assert evaluation_frame_shape(arrays) == shape
    np.testing.assert_array_equal(evaluation_frame_dn(arrays, bit_depth).reshape(shape), dn.reshape(shape))


def test_a_record_without_the_frame_gives_none(tmp_path):
    write_npz(tmp_path / "f.npz", {"spectral_cloud": np.zeros((2, 2), bool)})
    with np.load(tmp_path / "f.npz") as data:
        assert EVALUATION_RAW_KEY not in data and evaluation_frame_dn(data, 12) is None
    with pytest.raises(KeyError):
        evaluation_frame_shape({})
