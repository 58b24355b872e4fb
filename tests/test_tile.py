"""onboard.pipeline.tile: the typed data a frame carries through the pipeline (TileMeta frozen and closed, bursts
unstacked frame by frame, a Work item's burst size and encoded state, and a Work that sheds its pixels)."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from onboard.pipeline.tile import Tile, TileMeta, Work, hollow, unstack, with_clear_px
from rundir.codec import FILL_DN


def test_tile_meta_takes_only_its_fields():
    meta = TileMeta(cloud_fraction=0.25, clear_px=768)
    with pytest.raises(TypeError, match="cloudiness"):
        TileMeta(cloudiness=0.25)
    with pytest.raises(TypeError, match="cloudiness"):
        dataclasses.replace(meta, cloudiness=0.25)
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.scale = 2
    with pytest.raises((AttributeError, TypeError)):  # slots: no attribute beyond the fields, frozen or not
        object.__setattr__(meta, "cloudiness", 0.25)
    assert (meta.scale, meta.bands, meta.burst_frame, meta.masked) == (1, None, None, False)


def test_a_burst_unstacks_into_frames_that_keep_their_meta():
    dn = np.arange(3 * 2 * 2 * 4, dtype=np.uint16).reshape(3, 2, 2, 4)
    tile = Tile(dn, 4, 8, meta=TileMeta(cloud_fraction=0.5, clear_px=2))
    frames = unstack([tile])
    assert [t.meta for t in frames] == [TileMeta(cloud_fraction=0.5, clear_px=2, burst_frame=f)
                                        for f in range(3)]
    assert tile.meta.burst_frame is None and all((t.row0, t.col0) == (4, 8) for t in frames)


def test_a_single_tile_passes_unstack_unchanged():
    tile = Tile(np.zeros((2, 3, 4), np.uint16), 0, 6, kind="cloud_mask")
    assert unstack([tile]) == [tile]


def test_work_counts_the_frames_of_its_burst_and_is_encoded_once_every_tile_has_a_payload():
    dn = np.zeros((4, 4, 4), np.uint16)
    single = Work(frame=SimpleNamespace(frame_id="f0"), tiles=[Tile(dn, 0, 0), Tile(dn, 0, 4)])
    burst = Work(frame=SimpleNamespace(frame_id="f1", burst=SimpleNamespace(k=8)), tiles=[])
    assert (single.frames, burst.frames) == (1, 8)
    assert not single.encoded
    single.tiles[0].payload = b"x"
    assert not single.encoded
    single.tiles[1].payload = b""
    assert single.encoded and burst.encoded  # an empty payload is still a payload; no tiles: nothing to encode


def _pixel_free(array):
    return isinstance(array, np.ndarray) and all(stride == 0 for stride in array.strides) and not array.flags.writeable


def test_a_work_sheds_every_pixel_array_and_keeps_shapes_dtypes_and_everything_else():
    """Frame DN, truth and burst arrays, tile DN (kept and dropped), the cloud filter's masks: each becomes a
    read-only zero-stride view of its shape and dtype; ids, payloads, metadata and sizes are kept."""
    from onboard.sensing.camera import Frame
    from onboard.sensing.world import Scene

    rng = np.random.default_rng(0)
    truth = Scene(rng.random((8, 8, 4), np.float32), np.zeros((8, 8), np.uint8), np.zeros((8, 8), bool),
                  np.zeros((8, 8), np.uint8), np.ones((8, 8), bool))
    frame = Frame("sat-f00000", "sat", 12.5, None, "footprint", rng.integers(0, 4096, (8, 8, 4), np.uint16), truth)
    cloudy = np.zeros((4, 4), bool)
    kept = Tile(rng.integers(0, 4096, (4, 4, 4), np.uint16), 0, 4, payload=b"png", format="png",
                meta=TileMeta(cloud_fraction=0.1, cloudy=cloudy))
    dropped = Tile(np.ones((4, 4, 4), np.uint16), 4, 0)
    work = Work(frame, [kept], dropped=[(dropped, "cloudy")], stages=["cloud_filter", "encode"], sim_s=0.3,
                clear=np.ones((1, 8, 8), bool), cloud_filter_kept=[dataclasses.replace(kept)], alternative_bytes={"encode_only": 99})
    work.shed_pixels()
    assert _pixel_free(work.frame.dn) and work.frame.dn.shape == (8, 8, 4) and work.frame.dn.dtype == np.uint16
    assert all(_pixel_free(getattr(work.frame.truth, f.name)) for f in dataclasses.fields(work.frame.truth))
    (tile,), ((gone, reason),) = work.tiles, work.dropped
    assert _pixel_free(tile.dn) and tile.dn.shape == (4, 4, 4) and _pixel_free(tile.meta.cloudy)
    assert (tile.payload, tile.format, tile.row0, tile.col0, tile.meta.cloud_fraction) == (b"png", "png", 0, 4, 0.1)
    assert _pixel_free(gone.dn) and reason == "cloudy"
    assert _pixel_free(work.clear) and _pixel_free(work.cloud_filter_kept[0].dn)
    assert (work.frame.frame_id, work.frame.t_s, work.frame.footprint) == ("sat-f00000", 12.5, "footprint")
    assert (work.stages, work.sim_s, work.alternative_bytes, work.encoded) == (
        ["cloud_filter", "encode"], 0.3, {"encode_only": 99}, True)


def test_a_hollow_array_pickles_as_its_shape_and_dtype():
    """A frame-pool worker sends its Work back through a pipe once its pixels are shed: numpy pickles a zero-stride
    view as every element it shows (805 MB for a 4096 x 3072 burst of 8 in 4 bands), a hollow array as its shape
    and dtype, and it comes back hollow."""
    import pickle

    burst = hollow(np.ones((8, 3072, 4096, 4), np.uint16))
    data = pickle.dumps(burst)
    back = pickle.loads(data)
    assert len(data) < 1000 and back.shape == burst.shape and back.dtype == np.uint16
    assert _pixel_free(back) and not back.flags.writeable
    # numpy keeps the class of arrays made from one: those hold data, and pickle it; a structured dtype stays whole
    made = np.zeros_like(hollow(np.ones((2, 3))))
    made[0, 0] = 7.0
    assert pickle.loads(pickle.dumps(made))[0, 0] == 7.0
    record = np.dtype([("x", "<f4"), ("y", "<i2")])
    assert pickle.loads(pickle.dumps(hollow(np.zeros(3, record)))).dtype == record


def test_hollow_leaves_what_is_not_an_array():
    assert hollow({"a": np.ones(3)})["a"].strides == (8,)  # dicts (a stage's own records) are not walked
    assert hollow(None) is None and hollow("x") == "x" and hollow((1, 2.0)) == (1, 2.0)


def test_a_tile_is_worth_its_pixels_with_data_unless_the_cloud_filter_said_otherwise():
    dn = np.full((8, 6, 4), 9, np.uint16)
    dn[:2] = FILL_DN  # no world there
    dn[0, 0, 1] = 3  # one band off fill: data
    assert with_clear_px(Tile(dn, 0, 0)).meta.clear_px == 6 * 6 + 1
    assert with_clear_px(Tile(dn, 0, 0, meta=TileMeta(scale=2))).meta.clear_px == (6 * 6 + 1) // 4  # camera grid
    assert with_clear_px(Tile(dn, 0, 0, meta=TileMeta(clear_px=5))).meta.clear_px == 5  # the cloud filter's
    mask = Tile(dn[..., :1].astype(np.uint8), 0, 0, kind="cloud_mask")
    assert with_clear_px(mask) is mask  # an auxiliary product is worth nothing by itself
