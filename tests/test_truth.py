"""The truth codes of a scene and of the run directory's truth files (rundir/truth.py)."""

import zipfile

import numpy as np
import pytest

from rundir.errors import InputFileError

from rundir.truth import (CLOUD_CLEAR, CLOUD_THICK, CLOUD_THIN, DESERT, LANDCOVER_CLASSES, SNOW, SOIL, UNKNOWN, URBAN,
                          VEGETATION, WATER, HighResTruth, TruthFile, is_cloud, truth_path, write_truth)


def test_class_constants_match_names():
    assert [LANDCOVER_CLASSES[k] for k in (WATER, VEGETATION, SOIL, URBAN, SNOW, DESERT)] == list(LANDCOVER_CLASSES)


def test_thin_and_thick_are_cloud_unknown_is_not():
    codes = np.array([CLOUD_CLEAR, CLOUD_THIN, CLOUD_THICK, UNKNOWN], np.uint8)
    assert is_cloud(codes).tolist() == [False, True, True, False]


def test_a_frame_truth_is_read_back_layer_by_layer(tmp_path):
    cloud = np.array([[CLOUD_CLEAR, CLOUD_THIN], [CLOUD_THICK, UNKNOWN]], np.uint8)
    valid = np.array([[True, True], [True, True]])
    landcover = np.full((2, 2), VEGETATION, np.uint8)
    write_truth(tmp_path, "f0", cloud, np.zeros((2, 2), bool), landcover, valid)
    assert truth_path(tmp_path, "f0") == tmp_path / "truth" / "f0.npz"
    with TruthFile.of(tmp_path, "f0") as truth:
        np.testing.assert_array_equal(truth.cloud, cloud)
        np.testing.assert_array_equal(truth.landcover, landcover)
        assert truth.scored().tolist() == [[True, True], [True, False]]  # the unknown pixel is not scored
        assert truth.clear().tolist() == [[True, False], [False, False]]
        assert not truth.has_high_res and not truth.shadow.any()
        with pytest.raises(InputFileError, match="no 'hr_clear' array"):
            truth.hr_clear
    assert TruthFile.of(tmp_path, "f1") is None


def test_a_burst_keeps_its_high_resolution_truth(tmp_path):
    ones = np.ones((2, 2), bool)
    high = HighResTruth(np.full((4, 4, 3), 0.25, np.float32), np.ones((4, 4), bool), np.array([[0, 0], [0.5, -0.25]]))
    write_truth(tmp_path, "b0", np.zeros((2, 2), np.uint8), ~ones, np.zeros((2, 2), np.uint8), ones, high)
    with TruthFile.of(tmp_path, "b0") as truth:
        assert truth.has_high_res
        np.testing.assert_array_equal(truth.hr_reflectance, high.reflectance)
        np.testing.assert_array_equal(truth.shifts_px, high.shifts_px)
        assert truth.hr_clear.all()


def test_the_high_resolution_reflectance_is_stored_and_the_codes_deflated(tmp_path):
    """The burst's float32 reflectance goes into the archive as it is (deflating it costs 60 times the time for
    13 %); the small code layers are deflated."""
    rng = np.random.default_rng(0)
    ones = np.ones((64, 64), bool)
    reflectance = rng.uniform(0, 0.4, (128, 128, 4)).astype(np.float32)
    high = HighResTruth(reflectance, np.ones((128, 128), bool), np.zeros((2, 2)))
    write_truth(tmp_path, "b0", np.zeros((64, 64), np.uint8), ~ones, np.zeros((64, 64), np.uint8), ones, high)
    with zipfile.ZipFile(truth_path(tmp_path, "b0")) as archive:
        kinds = {info.filename: info.compress_type for info in archive.infolist()}
    assert kinds["hr_reflectance.npy"] == zipfile.ZIP_STORED
    assert kinds["cloud.npy"] == kinds["hr_clear.npy"] == zipfile.ZIP_DEFLATED
    with TruthFile.of(tmp_path, "b0") as truth:
        np.testing.assert_array_equal(truth.hr_reflectance, reflectance)
