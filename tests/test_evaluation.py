"""The evaluation records (rundir/evaluation.py): where they lie, their keys, and the scene's single frame kept as
a JPEG-LS codestream that decodes to the DN exactly."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rundir.codec import encode
from rundir.evaluation import (EVALUATION_RAW_KEY, EvaluationRecord, codestream_keys, evaluation_frame,
                               evaluation_frame_dn, evaluation_frame_shape, evaluation_path, lossy_reference_key, packed,
                               sr_method_key)
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


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(1, 48), st.integers(1, 48), st.integers(1, 5), st.integers(1, 16))
def test_every_image_of_a_record_is_stored_packed_and_read_back_bit_for_bit(tmp_path_factory, height, width, bands,
                                                                           bits):
    """Super-resolution baselines, frame 0 and a lossy product's DN, (H, W, B) uint16, go into the record as lossless
    JPEG-LS, any 16-bit value exact; masks, shifts and probabilities as they are."""
    rng = np.random.default_rng(height * width * bands * bits)
    image = rng.integers(0, 2**bits, (height, width, bands), dtype=np.uint16)
    arrays = {sr_method_key("bicubic"): image, "sr_shifts_px": rng.normal(size=(8, 2)),
              "spectral_cloud": rng.random((height, width)) < 0.5, "cloud_probability": image[..., 0].astype(np.uint8)}
    stored = packed(arrays)
    assert "sr_bicubic" not in stored and stored["sr_bicubic_jpegls"].dtype == np.uint8
    path = tmp_path_factory.mktemp("record") / "f.npz"
    write_npz(path, stored, codestream_keys(stored))
    with EvaluationRecord.read(path) as record:
        assert set(record) >= set(arrays) and all(name in record for name in arrays)
        for name, array in arrays.items():
            np.testing.assert_array_equal(record[name], array)
            assert record[name].dtype == array.dtype


def test_a_12_bit_image_takes_about_half_the_bytes_of_the_archives_deflate(tmp_path):
    """What the records were: deflate (level 1) of the uint16 array. A smooth 12-bit image, as an upsampled
    super-resolution baseline is, takes under 0.6 of that as JPEG-LS."""
    import cv2

    rng = np.random.default_rng(5)
    low = rng.integers(200, 3500, (64, 64, 4)).astype(np.float32)
    image = np.clip(cv2.resize(cv2.GaussianBlur(low, (5, 5), 1.5), (256, 256), interpolation=cv2.INTER_CUBIC)
                    + rng.normal(0, 4, (256, 256, 4)), 0, 4095).astype(np.uint16)
    write_npz(tmp_path / "deflate.npz", {"sr_model_float32": image})
    stored = packed({"sr_model_float32": image})
    write_npz(tmp_path / "packed.npz", stored, codestream_keys(stored))
    ratio = (tmp_path / "packed.npz").stat().st_size / (tmp_path / "deflate.npz").stat().st_size
    assert ratio < 0.6


def test_a_name_packing_would_make_is_refused_and_a_record_is_a_mapping(tmp_path):
    """Packing an image ``a`` beside a stored ``a_shape`` overwrote it, and the image then failed to decode; a name
    the record does not hold is a KeyError as for any Mapping (``get`` gives the default), and an image whose parts
    disagree an InputFileError naming the file."""
    from rundir.errors import InputFileError

    image = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4)
    for clash in ("a_shape", "a_jpegls"):
        with pytest.raises(ValueError, match=clash):
            packed({"a": image, clash: np.zeros(3, np.int64)})
    stored = dict(packed({"a": image}))
    path = tmp_path / "f.npz"
    write_npz(path, {**stored, "a_shape": np.asarray([3, 2, 4], np.int64)}, codestream_keys(stored))
    with EvaluationRecord.read(path) as record:
        assert record.get("nope", 7) == 7 and len(record) == 3 and sorted(record) == ["a", "a_jpegls", "a_shape"]
        with pytest.raises(InputFileError, match="f.npz.*image 'a'"):
            record["a"]


def test_packing_encodes_each_image_when_it_is_written_holding_one_codestream_at_a_time(monkeypatch):
    """``packed`` made every codestream before the archive was written: 125 MB held for five 2048 px baselines
    where writing them deflated had held 44 MB. It encodes each as the writer reads it."""
    import rundir.evaluation as evaluation

    calls = []
    real = evaluation.jpegls
    monkeypatch.setattr(evaluation, "jpegls", lambda dn, bits: calls.append(dn.shape) or real(dn, bits))
    images = {f"sr_{m}": np.zeros((4, 4, 2), np.uint16) for m in ("bicubic", "shift_and_add")}
    view = packed(images)
    assert calls == [] and len(view) == 4
    view["sr_bicubic_jpegls"]
    assert calls == [(4, 4, 2)]
