"""Pipeline stages (onboard/pipeline/stages.py): the two shipped encoders, their checks and the simulated time."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from onboard.pipeline import runner, stages
from onboard.scenario.config import StageConfig
from rundir import codec
from rundir.evaluation import EVALUATION_RAW_KEY, EVALUATION_RAW_SHAPE_KEY, evaluation_frame_dn, lossy_reference_key

CTX = stages.Context(bands=("B", "G", "R", "NIR"), bit_depth=12, reflectance_per_dn=1.2 / 4095, cpu_relative=1.0,
                       int8_conv_relative=1.0)


def frame(h=64, w=96):
    dn = np.random.default_rng(3).integers(0, 4096, (h, w, 4)).astype(np.uint16)
    return SimpleNamespace(frame_id="f0", dn=dn)


def build(*specs, ctx=CTX):
    configs = [StageConfig(name=name, params=runner.stage_classes()[name].Params(**params)) for name, params in specs]
    return runner.Pipeline(tuple(configs), ctx)


def test_bent_pipe_sends_bit_packed_raw():
    f = frame()
    work = build(("bent_pipe", {})).run(f)
    (tile,) = work.tiles
    assert tile.format == "raw" and len(tile.payload) == 64 * 96 * 4 * 12 // 8
    np.testing.assert_array_equal(codec.unpack_bits(tile.payload, f.dn.shape, 12), f.dn)


@pytest.mark.parametrize("fmt", ["png", "tiff"])
def test_encode_is_lossless(fmt):
    f = frame()
    work = build(("encode", {"format": fmt})).run(f)
    np.testing.assert_array_equal(codec.decode(work.tiles[0].payload, fmt, f.dn.shape, 12), f.dn)


@pytest.mark.parametrize("params, masked", [
    ({"format": "png"}, True), ({"format": "jpeg2000", "bits_per_sample": 2.0}, True),
    ({"format": "jpegls", "max_error_dn": 2}, True), ({"format": "jpegxl", "distance": 1.0}, True),
    ({"format": "tiff"}, False), ({"format": "jpeg2000"}, False), ({"format": "jpegls"}, False),
    ({"format": "zstd"}, False), ({"format": "ccsds121"}, False)])
def test_encode_gives_a_fill_mask_to_the_products_that_cannot_keep_or_show_their_fill(params, masked):
    """A tile with fill gets its .msk when lossy (the codec blurs DN 0) or PNG (no mask inside for a GIS); a TIFF
    holds its own mask, and a lossless codec keeps DN 0 exactly. A tile without fill never gets one."""
    f = frame()
    f.dn[10:30, 20:50] = codec.FILL_DN
    (tile,) = build(("encode", params)).run(f).tiles
    if masked:  # the mask marks the fill: laid on any decoded tile, it gives the fill back
        np.testing.assert_array_equal(codec.has_data(codec.with_fill(np.ones_like(f.dn), tile.fill_mask)),
                                      codec.has_data(f.dn))
    else:
        assert tile.fill_mask is None
    (whole,) = build(("encode", params)).run(frame()).tiles
    assert whole.fill_mask is None


def test_simulated_time_scales_with_the_hardware_profile():
    fast = build(("encode", {"format": "png"})).run(frame())
    slow_ctx = dataclasses.replace(CTX, cpu_relative=0.25)
    slow = build(("encode", {"format": "png"}), ctx=slow_ctx).run(frame())
    assert slow.sim_s == pytest.approx(4 * fast.sim_s)
    assert fast.sim_s == pytest.approx(64 * 96 * 4 / stages.Encode.REFERENCE_SAMPLES_PER_S["png"])


@pytest.mark.parametrize("fmt", ["ccsds121", "jpegls", "jpeg2000", "jpegxl", "zstd"])
def test_flight_codecs_encode_losslessly_and_say_so(fmt):
    f = frame()
    work = build(("encode", {"format": fmt})).run(f)
    (tile,) = work.tiles
    np.testing.assert_array_equal(codec.decode(tile.payload, fmt, f.dn.shape, 12), f.dn)
    assert tile.meta.lossless and tile.meta.max_error_dn == 0 and tile.meta.dn_sha256 == codec.dn_sha256(f.dn)


def test_near_lossless_jpegls_keeps_its_reference_and_spectral_masks_for_scoring_only():
    f = frame()
    work = build(("encode", {"format": "jpegls", "max_error_dn": 2})).run(f)
    (tile,) = work.tiles
    assert not tile.meta.lossless and tile.meta.max_error_dn == 2 and tile.meta.dn_sha256 is None
    key = lossy_reference_key(0, 0)
    np.testing.assert_array_equal(work.evaluation[f"{key}_dn"], f.dn)
    decoded = codec.decode(tile.payload, "jpegls", f.dn.shape, 12)
    assert np.abs(decoded.astype(int) - f.dn).max() == 2
    assert work.evaluation[f"{key}_spectral_decoded"].shape == work.evaluation[f"{key}_spectral_raw"].shape == (64, 96)


def test_alternatives_cover_the_common_baseline_the_flight_codecs_and_lossy_at_the_same_bytes():
    f = frame()
    work = build(("encode", {"format": "png"})).run(f)
    alt = work.alternative_bytes
    assert alt["bent_pipe"] == alt["bent_pipe_single"] == codec.packed_size_bytes(f.dn.size, 12)
    assert alt["lossless_jpegls"] == len(codec.encode(f.dn, "jpegls", 12))
    assert alt["lossless_jpeg2000"] == len(codec.encode(f.dn, "jpeg2000", 12))
    assert 0 < alt["lossy_same_bytes"] <= len(work.tiles[0].payload)  # at most what this run sent
    # PNG takes more bytes than lossless JPEG 2000: the lossless codestream is the one at this run's bytes
    assert alt["lossy_same_bytes"] == alt["lossless_jpeg2000"]
    assert set(work.evaluation) == {EVALUATION_RAW_KEY, EVALUATION_RAW_SHAPE_KEY}
    np.testing.assert_array_equal(evaluation_frame_dn(work.evaluation, 12), f.dn)


@pytest.mark.parametrize("params,field", [
    ({"format": "png", "max_error_dn": 2}, "max_error_dn"),
    ({"format": "jpegls", "bits_per_sample": 1.0}, "bits_per_sample"),
    ({"format": "jpeg2000", "distance": 1.0}, "distance"),
    ({"format": "tiff", "level": 12}, "level"),
    ({"format": "jpegxl", "level": 10}, "level"),
])
def test_encode_check_names_the_field_a_setting_does_not_fit(params, field):
    problems = stages.Encode.check(stages.Encode.Params(**params), 0, ["encode"], ("B", "G", "R", "NIR"))
    assert [p.path for p in problems] == [field] and params["format"] in problems[0].found


def test_encode_check_accepts_each_codec_with_its_own_setting():
    for params in ({"format": "jpegls", "max_error_dn": 2}, {"format": "jpeg2000", "bits_per_sample": 1.5},
                   {"format": "jpegxl", "distance": 1.0, "level": 7}, {"format": "zstd", "level": 19}):
        assert stages.Encode.check(stages.Encode.Params(**params), 0, ["encode"], ("B", "G", "R", "NIR")) == []


def test_a_stage_reads_dn_as_the_camera_calibrates_them():
    # one conversion for every stage (cloud filter, super-resolution, the lossy products' spectral scores): float32,
    # linear with no offset, full scale at the camera's reflectance_max
    dn = np.array([[0, 2048, 4095]], np.uint16)
    reflectance = CTX.reflectance(dn)
    assert reflectance.dtype == np.float32 and reflectance.shape == dn.shape
    np.testing.assert_allclose(reflectance, [[0.0, 2048 * 1.2 / 4095, 1.2]], rtol=1e-7)
