"""onboard.pipeline.tile: the typed data a frame carries through the pipeline (TileMeta frozen and closed, bursts
unstacked frame by frame, a Work item's burst size and encoded state)."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from onboard.pipeline.tile import Tile, TileMeta, Work, unstack


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
