"""ground.compression: PSNR, SSIM and largest error of decoded DN, the codec settings measured, and the quality of
JPEG 2000 at a run's bytes read back from RUN/evaluation/."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ground import compression
from rundir import codec, flight_codecs
from rundir.files import write_npz
from rundir.telemetry import LedgerRow, ProcessingRecord
from rundir.evaluation import EVALUATION_LOSSY_SAME_BYTES_KEY, EVALUATION_RAW_KEY, evaluation_frame


def frame(seed: int = 0, shape=(48, 40, 4)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ramp = np.add.outer(np.arange(shape[0]), np.arange(shape[1]))[..., None] * 30.0
    return np.clip(ramp + rng.normal(0, 40, shape), 0, 4095).astype(np.uint16)


def test_psnr_of_one_dn_everywhere_is_the_peak_over_one():
    raw = frame()
    shifted = np.where(raw < 4095, raw + 1, raw - 1).astype(np.uint16)
    q = compression.quality([shifted], [raw], 12)
    assert q["psnr_db"] == pytest.approx(20 * math.log10(4095), abs=1e-9)  # MSE = 1 DN²
    assert q["max_abs_error_dn"] == 1 and 0.99 < q["ssim"] <= 1.0


def test_exact_frames_have_no_psnr_and_perfect_ssim():
    raw = frame()
    q = compression.quality([raw], [raw], 12)
    assert q["psnr_db"] is None and q["max_abs_error_dn"] == 0 and q["ssim"] == pytest.approx(1.0)


def test_frames_smaller_than_the_ssim_window_have_no_ssim_and_their_psnr(recwarn):
    """An 8 px camera's frames: SSIM was NaN (numpy's "Mean of empty slice"), and the report's table stopped on it
    with a traceback. Its SSIM is None, averaged over no frame; a larger frame beside them gives the mean alone."""
    small = frame(3, (8, 8, 4))
    shifted = np.where(small < 4095, small + 1, small - 1).astype(np.uint16)
    q = compression.quality([shifted], [small], 12)
    assert q["ssim"] is None and q["psnr_db"] == pytest.approx(20 * math.log10(4095), abs=1e-9)
    large = frame()
    both = compression.quality([shifted, large], [small, large], 12)
    assert both["ssim"] == pytest.approx(compression.quality([large], [large], 12)["ssim"])
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_measure_counts_bytes_ratio_and_quality_of_a_setting():
    dns = [frame(1), frame(2)]
    setting = compression.Setting("jpegls", "near 2", lossy=flight_codecs.Lossy(max_error_dn=2))
    point = compression.measure(setting, dns, 12)
    sizes = [len(codec.encode(dn, "jpegls", 12, lossy=setting.lossy)) for dn in dns]
    assert point["bytes"] == sum(sizes) and point["bits_per_sample"] == pytest.approx(8 * sum(sizes) / (2 * dns[0].size))
    assert point["ratio"] == pytest.approx(codec.packed_size_bytes(2 * dns[0].size, 12) / sum(sizes))
    assert point["max_abs_error_dn"] == 2 and not point["lossless"] and len(point["seconds"]) == 2


def test_every_lossless_setting_decodes_exactly():
    dns = [frame(3, (20, 24, 4))]
    for setting in (s for s in compression.SETTINGS if s.lossless):
        point = compression.measure(setting, dns, 12)
        assert point["max_abs_error_dn"] == 0 and point["psnr_db"] is None, setting.label


def test_lossy_same_bytes_is_scored_from_the_evaluation_records(tmp_path):
    raw = frame(4, (128, 128, 4))
    stream = flight_codecs.jpeg2000_at_bytes(raw, 12, raw.size // 4)  # 2 bits per sample
    (tmp_path / "evaluation").mkdir()
    single = evaluation_frame(codec.encode(raw, "jpegls", 12), raw.shape)
    stored = (EVALUATION_RAW_KEY, EVALUATION_LOSSY_SAME_BYTES_KEY)
    write_npz(tmp_path / "evaluation" / "f0.npz",
              {**single, EVALUATION_LOSSY_SAME_BYTES_KEY: np.frombuffer(stream, np.uint8)}, stored)
    write_npz(tmp_path / "evaluation" / "f1.npz", {**single, EVALUATION_LOSSY_SAME_BYTES_KEY: np.zeros(0, np.uint8)},
              stored)
    # f2: the lossless codestream fitted (its sizes say so), so only the frame is kept, scored exact
    lossless = len(flight_codecs.jpeg2000(raw, 12))
    write_npz(tmp_path / "evaluation" / "f2.npz", single, stored)
    frames = ("f0", "f1", "f2")
    ledger = [LedgerRow(f, "sat-1", "delivered", None, 1, 0, {}, 0, 0, None, {}) for f in frames]
    sizes = {"f0": len(stream), "f1": 0, "f2": lossless}
    processing = [ProcessingRecord(f, "sat-1", ["encode"], 1, 0.1, "projected", {"encode": 0.1}, {"encode": 0.02}, 1, 0,
                                   {"bent_pipe": raw.size * 3 // 2, "lossless_jpeg2000": lossless,
                                    "lossy_same_bytes": sizes[f]}) for f in frames]
    run = SimpleNamespace(run_dir=tmp_path, derived={}, processing=processing, ledger=ledger, finished=set(frames))
    got = compression.lossy_same_bytes(run, 12)
    expected = compression.quality([codec.decode(stream, "jpeg2000", raw.shape, 12), raw], [raw, raw], 12)
    # f1, sent too few bytes for any codestream, is not scored; f2 is, exact
    assert got == expected | {"scenes": 2, "exact_scenes": 1}
    assert 40 < got["psnr_db"] < 80


@pytest.mark.parametrize("shape", [(64, 48, 4), (10, 30, 2), (11, 11, 1)])
def test_an_exact_pair_scores_as_the_pair_decoded_would(shape):
    raw = frame(5, shape)
    exact, decoded = compression.Quality(12), compression.Quality(12)
    exact.add_exact(raw.shape)
    decoded.add(raw.copy(), raw)
    assert exact == decoded or (np.isnan(exact.ssims[0]) and np.isnan(decoded.ssims[0])
                                and exact.samples == decoded.samples and exact.squared_error_dn2 == 0)


@settings(max_examples=20, deadline=None)
@given(seeds=st.lists(st.integers(0, 10_000), min_size=1, max_size=5), noise_dn=st.integers(0, 40))
def test_the_running_quality_pools_as_the_whole_set_would(seeds, noise_dn):
    """Quality pair by pair gives the figures of the pooled formulas over all pairs at once (MSE pooled over every
    sample, SSIM averaged over pairs, the largest error), and each add returns that pair's largest error."""
    raws = [frame(seed) for seed in seeds]
    decoded = [np.clip(r.astype(np.int64) + np.random.default_rng(s + 1).integers(-noise_dn, noise_dn + 1, r.shape),
                       0, 4095).astype(np.uint16) for r, s in zip(raws, seeds)]
    running = compression.Quality(12)
    worst = [running.add(d, r) for d, r in zip(decoded, raws)]
    errors = np.concatenate([(d.astype(np.float64) - r).ravel() for d, r in zip(decoded, raws)])
    mse = float(np.mean(errors * errors))
    result = running.result()
    assert worst == [int(np.abs(d.astype(np.int64) - r).max()) for d, r in zip(decoded, raws)]
    assert result["max_abs_error_dn"] == int(np.abs(errors).max())
    if mse == 0:
        assert result["psnr_db"] is None
    else:
        assert result["psnr_db"] == pytest.approx(10 * math.log10(4095.0**2 / mse), abs=1e-9)
    assert result == compression.quality(decoded, raws, 12)


def test_a_pair_is_scored_a_band_at_a_time():
    """A lossy 4096 x 3072 frame's pair was scored in float64 copies of all its samples (its error, their squares and
    absolute values, and float32 copies for SSIM): ten times the frame's bytes. Now about three (numpy's
    allocations, traced), with the same figures: the errors are whole DN, so their sums are exact in any order."""
    import tracemalloc

    rng = np.random.default_rng(5)
    reference = rng.integers(0, 4096, (4096, 256, 4), dtype=np.uint16)
    decoded = np.clip(reference.astype(np.int32) + rng.integers(-3, 4, reference.shape), 0, 4095).astype(np.uint16)
    scores = compression.Quality(12)
    tracemalloc.start()
    try:
        worst = scores.add(decoded, reference)
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak_bytes < 4 * reference.nbytes
    error = decoded.astype(np.float64) - reference
    assert worst == 3 and scores.squared_error_dn2 == float(np.sum(error * error))
