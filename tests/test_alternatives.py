"""onboard.pipeline.alternatives: what simpler pipelines would downlink for a capture, checked against the real codecs
byte for byte (bent pipe, encode only, the flight-class lossless codecs, JPEG 2000 within this run's bytes), and the
scoring-only arrays a lossy tile leaves behind."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from onboard.pipeline import alternatives, spectral, stages
from onboard.pipeline.stages import Context
from onboard.pipeline.tile import Tile, TileMeta, Work
from rundir import codec
from rundir.evaluation import (EVALUATION_LOSSY_SAME_BYTES_KEY, EVALUATION_RAW_KEY, EVALUATION_RAW_SHAPE_KEY,
                               evaluation_frame_dn, lossy_reference_key)

BIT_DEPTH = 12
REFLECTANCE_PER_DN = 1.2 / 4095
CTX = Context(bands=("B", "G", "R", "NIR"), bit_depth=BIT_DEPTH, reflectance_per_dn=REFLECTANCE_PER_DN,
              cpu_relative=1.0, int8_conv_relative=1.0)


def scene_dn(h: int = 64, w: int = 80, seed: int = 1) -> np.ndarray:
    """A compressible 12-bit scene: smooth ramps per band with a little noise, and a bright cloud-like block."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:h, 0:w]
    dn = np.stack([200 + 2 * rows + cols + 30 * b for b in range(4)], axis=-1).astype(float)  # TOA 0.06-0.15
    dn += rng.normal(0, 4, dn.shape)
    dn[8:24, 10:40] = 3600  # mean visible ~1.05 TOA, white: the spectral test's cloud
    return np.clip(dn, 0, 4095).astype(np.uint16)


def no_georef(tile: Tile) -> None:
    """The georeferencing of a product in a format that carries none inside (PNG, the flight-class codecs)."""
    return None


def encoded_work(dn: np.ndarray, fmt: str = "png", k: int = 1, tiles: int = 2) -> Work:
    """A capture of ``k`` frames (frame 0's DN ``dn``) whose pipeline sent ``tiles`` row strips of frame 0 in ``fmt``."""
    burst = SimpleNamespace(k=k) if k > 1 else None
    strips = np.array_split(np.arange(dn.shape[0]), tiles) if tiles else []
    out = [Tile(dn[r[0]:r[-1] + 1], int(r[0]), 0) for r in strips]
    for tile in out:
        tile.payload, tile.format = codec.encode(tile.dn, fmt, BIT_DEPTH), fmt
    return Work(frame=SimpleNamespace(frame_id="f0", dn=dn, burst=burst), tiles=out)


def test_every_alternative_is_the_real_codec_size_of_the_frame():
    dn = scene_dn()
    work = encoded_work(dn, "png")
    sizes, evaluation = alternatives.estimates(work, CTX, "png", 6, no_georef)
    raw = codec.packed_size_bytes(dn.size, BIT_DEPTH)
    assert sizes["bent_pipe"] == sizes["bent_pipe_single"] == raw == 64 * 80 * 4 * 12 // 8
    assert sizes["encode_only"] == len(codec.encode(dn, "png", BIT_DEPTH, 6))
    assert sizes["lossless_jpegls"] == len(codec.encode(dn, "jpegls", BIT_DEPTH))
    assert sizes["lossless_jpeg2000"] == len(codec.encode(dn, "jpeg2000", BIT_DEPTH))
    assert not {"cloud_filter", "cloud_filter_jpegls", "cloud_filter_jpeg2000"} & set(sizes)  # no cloud filter ran
    np.testing.assert_array_equal(evaluation_frame_dn(evaluation, BIT_DEPTH), dn)  # kept as its JPEG-LS
    assert evaluation[EVALUATION_RAW_KEY].size == sizes["lossless_jpegls"]
    # the lossless codecs beat bit packing on a smooth scene, and JPEG-LS beats PNG as published ratios say
    assert sizes["lossless_jpegls"] < sizes["encode_only"] < raw


def test_jpeg2000_at_this_runs_bytes_fits_the_budget_and_decodes_to_the_frame():
    dn = scene_dn()
    work = encoded_work(dn, "png")
    budget = sum(len(t.payload) for t in work.tiles)
    sizes, evaluation = alternatives.estimates(work, CTX, "png", 6, no_georef)
    # two PNG strips take more bytes than JPEG 2000 needs losslessly: the lossless codestream fits, and is sent;
    # the sizes say so, and the exact codestream is not kept for scoring
    assert budget > sizes["lossless_jpeg2000"] and sizes["lossy_same_bytes"] == sizes["lossless_jpeg2000"]
    assert set(evaluation) == {EVALUATION_RAW_KEY, EVALUATION_RAW_SHAPE_KEY}


def test_a_tighter_budget_gives_a_lossy_codestream_within_it():
    dn = scene_dn()
    work = encoded_work(dn, "png", tiles=1)
    work.tiles[0].payload = work.tiles[0].payload[: len(work.tiles[0].payload) // 6]  # a sixth of the bytes sent
    sizes, evaluation = alternatives.estimates(work, CTX, "png", 6, no_georef)
    assert 0 < sizes["lossy_same_bytes"] <= len(work.tiles[0].payload) < sizes["lossless_jpeg2000"]
    stream = evaluation[EVALUATION_LOSSY_SAME_BYTES_KEY]
    assert stream.dtype == np.uint8 and stream.size == sizes["lossy_same_bytes"]
    decoded = codec.decode(stream.tobytes(), "jpeg2000", dn.shape, BIT_DEPTH)
    assert not np.array_equal(decoded, dn) and np.abs(decoded.astype(int) - dn).mean() < 64


def test_a_frame_the_pipeline_sent_nothing_of_has_no_lossy_alternative():
    dn = scene_dn()
    sizes, evaluation = alternatives.estimates(encoded_work(dn, tiles=0), CTX, "png", 6, no_georef)
    assert sizes["lossy_same_bytes"] == 0 and evaluation[EVALUATION_LOSSY_SAME_BYTES_KEY].size == 0
    assert sizes["bent_pipe"] == codec.packed_size_bytes(dn.size, BIT_DEPTH)  # the baselines stay whole


def test_a_burst_counts_k_frames_and_a_cloud_filter_its_kept_tiles():
    dn = scene_dn()
    work = encoded_work(dn, "zstd", k=8)
    work.cloud_filter_kept = [Tile(dn[:32], 0, 0), Tile(dn[32:, :40], 32, 0)]
    sizes, _ = alternatives.estimates(work, CTX, "zstd", 3, no_georef)
    frame = len(codec.encode(dn, "zstd", BIT_DEPTH, 3))
    assert sizes["bent_pipe"] == 8 * sizes["bent_pipe_single"]
    assert sizes["encode_only"] == 8 * frame
    assert sizes["cloud_filter"] == 8 * sum(len(codec.encode(t.dn, "zstd", BIT_DEPTH, 3)) for t in work.cloud_filter_kept)
    assert sizes["lossless_jpegls"] == len(codec.encode(dn, "jpegls", BIT_DEPTH))  # single frame: the common baseline
    for name in ("jpegls", "jpeg2000"):  # the kept tiles of one frame through each lossless flight-class codec
        assert sizes[f"cloud_filter_{name}"] == sum(len(codec.encode(t.dn, name, BIT_DEPTH))
                                                    for t in work.cloud_filter_kept)
    assert sizes["cloud_filter_jpegls"] < sizes["lossless_jpegls"]  # fewer pixels, fewer bytes


def test_the_kept_tiles_in_this_runs_own_flight_codec_are_its_row_divided_by_k():
    dn = scene_dn()
    work = encoded_work(dn, "jpegls", k=4)
    work.cloud_filter_kept = [Tile(dn[:32], 0, 0)]
    sizes, _ = alternatives.estimates(work, CTX, "jpegls", 3, no_georef)
    assert sizes["cloud_filter"] == 4 * sizes["cloud_filter_jpegls"] == 4 * len(codec.encode(dn[:32], "jpegls",
                                                                                           BIT_DEPTH))


def counted_encodes(monkeypatch) -> list[str]:
    """The format of every encoding rundir.codec.encode makes from now on (the real encoder, counted)."""
    calls, real = [], codec.encode

    def encode(dn, fmt, *args, **kwargs):
        calls.append(fmt)
        return real(dn, fmt, *args, **kwargs)

    monkeypatch.setattr(codec, "encode", encode)
    return calls


@pytest.mark.parametrize("pipeline", [(("encode", {"format": "tiff"}),),
                                      (("cloud_filter", {"method": "spectral", "tile_px": 32}),
                                       ("encode", {"format": "tiff"}))])
def test_the_estimate_of_this_runs_own_pipeline_is_its_georeferenced_products_encoded_once(monkeypatch, pipeline):
    """cubesat_sband sent 124.12 MB of GeoTIFFs where its encode-only estimate said 123.87 MB: the estimate was a
    TIFF without the georeferencing tags the product carries. Now an estimate of what this run itself encoded is its
    products' bytes (the frame of an encode-only run, a cloud filter's kept tiles), each TIFF made once; and where
    the run made no such product (the whole frame after a cloud filter) the estimate carries the same tags."""
    from onboard.sensing.projection import GridFootprint
    from tests.test_stages import build

    dn = scene_dn(96, 96)
    frame = SimpleNamespace(frame_id="f0", dn=dn, burst=None,
                            footprint=GridFootprint.centred(48.85, 2.35, 32631, 10.0, 96, 96))
    ctx = dataclasses.replace(CTX, band_centres_um=(0.49, 0.56, 0.665, 0.842))
    encodes = counted_encodes(monkeypatch)
    work = build(*pipeline, ctx=ctx).run(frame)
    tiffs = encodes.count("tiff")
    sent = sum(len(t.payload) for t in work.tiles if t.kind == "image")
    whole = len(codec.encode(dn, "tiff", BIT_DEPTH, 3, stages.tile_georef(frame, Tile(dn, 0, 0), ctx)))
    assert len(work.tiles) > 1 if len(pipeline) > 1 else len(work.tiles) == 1
    assert work.alternative_bytes["cloud_filter" if len(pipeline) > 1 else "encode_only"] == sent
    assert work.alternative_bytes["encode_only"] == whole > len(codec.encode(dn, "tiff", BIT_DEPTH, 3))  # the tags
    assert tiffs == len(work.tiles) + (len(pipeline) > 1)  # the products, and the whole frame after a filter


@pytest.mark.parametrize("bands,spectral_keys", [(("B", "G", "R", "NIR"), True), (("NIR",), False)])
def test_lossy_scoring_keeps_the_reference_dn_and_the_spectral_masks_where_the_bands_allow(bands, spectral_keys):
    dn = scene_dn()[..., : len(bands)]
    tile = Tile(dn, 16, 24, meta=TileMeta(bands=bands, burst_frame=2))
    tile.payload, tile.format = codec.encode(dn, "jpegls", BIT_DEPTH, lossy=codec.Lossy(max_error_dn=8)), "jpegls"
    out = alternatives.lossy_scoring(tile, CTX)
    key = lossy_reference_key(16, 24, 2)
    np.testing.assert_array_equal(out[f"{key}_dn"], dn)
    assert sorted(out) == sorted([f"{key}_dn"] + ([f"{key}_spectral_raw", f"{key}_spectral_decoded"]
                                                  if spectral_keys else []))
    if spectral_keys:
        raw = spectral.cloud_mask(dn * np.float32(REFLECTANCE_PER_DN), bands)
        np.testing.assert_array_equal(out[f"{key}_spectral_raw"], raw)
        assert raw[8:24, 10:40].all() and not raw[40:].any()  # the bright block is cloud, the ramp is not
        decoded = codec.decode(tile.payload, "jpegls", dn.shape, BIT_DEPTH)
        np.testing.assert_array_equal(out[f"{key}_spectral_decoded"],
                                      spectral.cloud_mask(decoded * np.float32(REFLECTANCE_PER_DN), bands))
