"""ground.sr_scenes: a scene's on-board baselines read from the evaluation record when asked for, never to answer
`in`, and each scene let go before the next is read."""

import weakref
from types import SimpleNamespace

import numpy as np
import pytest

import ground.sr_scenes as sr_scenes
from ground.sr_scenes import OnBoardImages, SRScene


def test_on_board_images_read_each_baseline_when_asked_and_keep_none(tmp_path):
    """The product first, then the recorded baselines in the order given, each its DN; a new array on every read
    (nothing is cached), and KeyError for a method the record does not hold."""
    rng = np.random.default_rng(0)
    dn = {m: rng.integers(0, 4096, (8, 8, 4), dtype=np.uint16) for m in ("bicubic", "shift_and_add")}
    path = tmp_path / "f.npz"
    np.savez(path, **{f"sr_{m}": a for m, a in dn.items()})
    product = np.ones((8, 8, 4), np.uint16)
    images = OnBoardImages("model_int8", product, path, ["shift_and_add", "bicubic"])
    assert list(images) == ["model_int8", "shift_and_add", "bicubic"] and len(images) == 3
    assert images["model_int8"] is product
    first = images["bicubic"]
    assert first.dtype == np.uint16 and np.array_equal(first, dn["bicubic"])
    assert images["bicubic"] is not first
    with pytest.raises(KeyError):
        images["model_float32"]
    path.unlink()  # membership is the methods given: Mapping's own `in` read (and decoded) the whole image
    assert "bicubic" in images and "model_float32" not in images


def test_a_scene_is_let_go_before_the_next_is_read(monkeypatch):
    """Two scenes' truth and product at once were 1.6 GB more at 8192 x 6144 px: the generator kept the last scene
    it gave while it read the next."""
    held, alive_when_read = [], []

    def scene(run, frame_id, products, policy, encoded):
        alive_when_read.append(sum(ref() is not None for ref in held))
        truth = np.zeros((16, 16, 4), np.float32)
        held.append(weakref.ref(truth))
        return SRScene(frame_id, {}, truth, np.ones((16, 16), bool), None, None, 1, 1, None, 1.0)

    frame_ids = ("f0", "f1", "f2", "f3")
    run = SimpleNamespace(
        ledger=object(), processing=[], finished={"f0", "f1", "f2"},
        captures=[SimpleNamespace(frame_id=f) for f in frame_ids],
        reception=SimpleNamespace(products=[SimpleNamespace(line=SimpleNamespace(kind="image", scale=2, frame_ids=[f]))
                                            for f in frame_ids]))
    monkeypatch.setattr(sr_scenes, "_scene", scene)
    frames = []
    for got in sr_scenes.iter_scenes(run, {"stage": "superres"}):
        frames.append(got.frame_id)
        del got
    assert frames == ["f0", "f1", "f2"]  # f3 is not finished
    assert alive_when_read == [0, 0, 0]
