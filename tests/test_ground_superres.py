"""ground.superres: the report section's warnings when on-board super-resolution does harm, the example crop chosen
scene by scene, each method's image read by the thread that scores it, and each scene let go before the next is
read."""

import numpy as np
import pytest

from ground.document import Paragraph, Table
from ground.superres import (CROP_PX, METHODS, ExampleCrop, SRScene, harm_warnings, paired_difference, scene_means,
                             reflectance_rgb, superres_blocks)


def _section(product_db, bicubic_db, shift_and_add_db=None, error_px=0.4, scene_errors=(0.4,), model="auto"):
    return {"product": "model_int8", "registration_error_px": error_px,
            "policy": {"scale": 2, "method": "model", "registration": "ecc", "model": model},
            "cpsnr_db": {"model_int8": product_db, "bicubic": bicubic_db, "bicubic_registered": None,
                         "shift_and_add": shift_and_add_db},
            "scenes": [{"registration_error_px": e, "scored_fraction": 1.0} for e in scene_errors]}


def test_a_product_worse_than_a_baseline_is_a_warning_naming_which_and_by_how_much():
    [text] = harm_warnings(_section(37.1, 38.5, 36.0), ["superres", "encode"])
    assert "37.10 dB" in text and "below 1 of its 3 baselines" in text
    assert "-1.40 dB against bicubic of the mean of the clear frames (38.50 dB)" in text
    assert "shift-and-add" not in text and "No cloud_filter stage" in text  # shift-and-add scored below the product
    [both] = harm_warnings(_section(37.1, 38.5, 37.6), ["cloud_filter", "superres", "encode"])
    assert "below 2 of its 3 baselines" in both and "-0.50 dB against shift-and-add (median) (37.60 dB)" in both
    assert "No cloud_filter" not in both
    assert harm_warnings(_section(38.5, 38.5), ["superres"]) == []  # as good as bicubic: nothing to say
    assert harm_warnings(_section(None, 38.5), ["superres"]) == []  # nothing scored
    # a shift-and-add product is not its own baseline: 2 others remain
    fused = {**_section(None, 38.5, 37.6), "product": "shift_and_add"}
    [own] = harm_warnings(fused, ["superres"])
    assert "37.60 dB mean cPSNR, below 1 of its 2 baselines: -0.90 dB against bicubic" in own


def _scored(product: list[float], **baselines: list[float]) -> dict:
    """A section whose scenes score the product and each baseline as given (dB, scene by scene), means as cPSNR."""
    methods = {"model_int8": product, **baselines}
    section = _section(*(sum(v) / len(v) for v in (product, baselines["bicubic"])))
    section["cpsnr_db"].update({m: sum(v) / len(v) for m, v in methods.items()})
    section["scenes"] = [{"registration_error_px": 0.4, "scored_fraction": 1.0,
                          "cpsnr_db": {m: v[i] for m, v in methods.items()}} for i in range(len(product))]
    return section


def test_a_product_within_the_scene_spread_of_a_baseline_is_no_better_not_worse():
    """A MISR model 0.03 dB below shift-and-add on average, ahead on some scenes and behind on others, has not made
    the picture worse: the scene-paired difference's 95 % CI holds zero, so it is 'no better than' that baseline."""
    product = [47.0, 48.2, 46.5, 49.1, 47.7, 48.0]
    shift = [p + d for p, d in zip(product, (0.20, -0.15, 0.10, -0.05, 0.12, -0.04))]  # product 0.03 dB behind
    section = _scored(product, bicubic=[p - 2 for p in product], shift_and_add=shift)
    diff = paired_difference(section, "model_int8", "shift_and_add")
    assert diff.mean == pytest.approx(-0.03) and diff.n == 6 and diff.low < 0 < diff.high
    [text] = harm_warnings(section, ["cloud_filter", "superres"])
    assert "no better than 1 of its 3 baselines, within the scene-to-scene spread: -0.03 dB against shift-and-add " \
           f"(median) ({sum(shift) / 6:.2f} dB; 95 % CI {diff.low:+.2f} to {diff.high:+.2f} dB over 6 scenes)" in text
    assert text.endswith("gains nothing measurable here over a ground-side method from the same frames.")
    assert "worse" not in text
    # behind on every scene: worse, with its interval; beside a tie, both are said
    behind = _scored(product, bicubic=[p + 0.5 + 0.01 * i for i, p in enumerate(product)], shift_and_add=shift)
    [both] = harm_warnings(behind, ["cloud_filter", "superres"])
    assert "below 1 of its 3 baselines: -0.53 dB against bicubic of the mean of the clear frames" in both
    assert "over 6 scenes). On-board super-resolution makes the picture worse here" in both
    assert "It is no better than 1 of its 3 baselines, within the scene-to-scene spread: -0.03 dB against " \
           "shift-and-add" in both
    # one scene: no interval, so a deficit is taken as measured
    [one] = harm_warnings(_scored([47.0], bicubic=[47.03]), ["cloud_filter", "superres"])
    assert "below 1 of its 3 baselines: -0.03 dB against bicubic of the mean of the clear frames (47.03 dB)." in one


def test_a_scene_scored_on_a_few_pixels_is_left_out_of_the_means_and_the_paired_difference():
    """The superres_x3 run: a scene scored on 6 of 230,400 pixels (cPSNR 76 dB for the registered bicubic, 63 dB for
    shift-and-add, a bias per band and the best of 49 offsets over 6 pixels) counted as one of 14 in the means and the
    confidence interval. The means take the scenes at least 75 % scored, as PROBA-V admits a high-res image; the
    others keep their scores, and the section says which scenes the means take."""
    product = [46.7, 46.3, 46.3, 46.3, 46.2, 41.6]
    registered = [47.2, 46.9, 46.9, 46.7, 46.7, 41.6]
    section = _scored(product + [63.0], bicubic=[45.0] * 7, bicubic_registered=registered + [76.1])
    section["product"] = "model_int8"
    for scene, fraction in zip(section["scenes"], [0.98, 0.97, 0.97, 1.0, 0.79, 0.95, 2.6e-5]):
        scene["scored_fraction"] = fraction
        scene["ssim"] = {m: 0.99 for m in scene["cpsnr_db"]}
    means = scene_means(section["scenes"])
    assert means["scenes_averaged"] == 6
    assert means["cpsnr_db"]["model_int8"] == pytest.approx(sum(product) / 6)
    assert means["cpsnr_db"]["bicubic_registered"] == pytest.approx(sum(registered) / 6)
    diff = paired_difference(section, "model_int8", "bicubic_registered")
    assert diff.n == 6 and diff.mean == pytest.approx(-2.6 / 6) and diff.high < 0
    blocks = superres_blocks({**section, **means, "scenes_scored": 7, "burst_frames": 8, "bytes_ratio_vs_burst": 0.3,
                              "product_bytes": 1, "burst_raw_bytes": 3, "pixel_ratio_vs_burst": 0.5,
                              "bytes_ratio_vs_encoded_burst": None, "registration_error_px": 0.4})
    assert "7 scenes scored against the high-res truth on their clear, delivered pixels; the means take the 6 of " \
           "them at least 75 % scored (as the PROBA-V challenge admits a high-res image)." in blocks[1].text
    none = scene_means([{**scene, "scored_fraction": 0.5} for scene in section["scenes"]])
    assert none["scenes_averaged"] == 0 and none["cpsnr_db"]["model_int8"] is None
    section = {**section, **none, "scenes_scored": 7, "burst_frames": 8, "bytes_ratio_vs_burst": 1.4,
               "product_bytes": 1, "burst_raw_bytes": 3, "pixel_ratio_vs_burst": 0.5,
               "bytes_ratio_vs_encoded_burst": None, "registration_error_px": 2.5,
               "warnings": ["burst registration is off by 2.50 px RMS on average"]}
    opening, *rest = [b.text for b in superres_blocks(section) if isinstance(b, Paragraph)]
    assert "; none is at least 75 % scored (as the PROBA-V challenge admits a high-res image), so no mean is " \
           "given (each scene's scores are in report.json)." in opening
    assert not [b for b in superres_blocks(section) if isinstance(b, Table)]  # no means, but what holds without
    assert rest[0].startswith("WARNING: burst registration is off") and "saves NOTHING" in rest[1]


def test_a_users_model_is_named_by_its_file_not_as_int8():
    """The product's key is model_int8 whatever the model; a user's MISR model may be float32."""
    section = {**_section(37.1, 38.5, model="models/my_misr.onnx"), "burst_frames": 8, "scenes_scored": 3,
               "ssim": {m: 0.99 for m in METHODS}, "bytes_ratio_vs_burst": 0.3, "product_bytes": 1,
               "burst_raw_bytes": 3, "pixel_ratio_vs_burst": 0.5, "bytes_ratio_vs_encoded_burst": 0.4, "plots": []}
    section["cpsnr_db"] = {**dict.fromkeys(METHODS), **section["cpsnr_db"]}
    [text] = harm_warnings(section, ["superres"])
    assert text.startswith("the downlinked super-resolved product (MISR model models/my_misr.onnx (on board)) scores")
    [table] = [b for b in superres_blocks(section) if isinstance(b, Table)]
    assert table.rows[0][:2] == ("MISR model models/my_misr.onnx (on board)", "37.10")
    shipped = {**section, "policy": {**section["policy"], "model": "auto"}}
    [table] = [b for b in superres_blocks(shipped) if isinstance(b, Table)]
    assert table.rows[0][0] == "MISR model, int8 (on board)"


@pytest.mark.parametrize("ratio, says", [(0.282, "saves downlink"), (1.125, "saves NOTHING")])
def test_the_section_says_against_what_super_resolution_saves(ratio, says):
    """Its saving is against the raw bursts, where the verdict sets the run against one frame per scene in the best
    lossless codec: the sentence names its base, so that "saves" here and "costs" there read as no contradiction."""
    section = {**_section(47.8, 46.9), "policy": {"scale": 2, "method": "model", "registration": "ecc"},
               "burst_frames": 8, "scenes_scored": 3, "ssim": {m: 0.99 for m in METHODS}, "bytes_ratio_vs_burst": ratio,
               "product_bytes": 10_440_000, "burst_raw_bytes": 36_960_000, "pixel_ratio_vs_burst": 0.5,
               "bytes_ratio_vs_encoded_burst": 0.4, "plots": []}
    section["cpsnr_db"] = {m: 47.8 for m in METHODS}
    [text] = [b.text for b in superres_blocks(section) if isinstance(b, Paragraph) and "products" in b.text]
    assert "The 3 scored scenes' products (their sidecars included): 10.44 MB against 36.96 MB of raw bursts over " \
           "the same ground (the K raw frames of the pixels the products cover: not the opening table's " \
           "bent-pipe" in text
    assert f"super-resolution {says} against sending its raw bursts (the verdict above sets the run against one " \
           "frame per scene in the best lossless codec)." in text


def test_registration_error_over_a_pixel_is_a_warning():
    assert harm_warnings(_section(39.0, 38.5, error_px=1.0, scene_errors=(1.0,)), ["superres"]) == []  # not over
    [text] = harm_warnings(_section(39.0, 38.5, error_px=3.6, scene_errors=(0.5, 6.7)), ["superres"])
    assert text.startswith("burst registration is off by 3.60 px RMS") and "1 of 2 bursts" in text
    assert "No cloud_filter stage" in text  # the reason is given once, here when no cPSNR warning carries it
    beaten = harm_warnings(_section(37.1, 38.5, error_px=3.6, scene_errors=(3.6,)), ["superres"])
    assert len(beaten) == 2 and "No cloud_filter" not in beaten[1]


def test_the_superres_crop_is_the_most_detailed_one():
    scale, size_px = 2, 288
    truth = np.full((size_px, size_px, 4), 0.2, np.float32)
    n = CROP_PX * scale
    rows, cols = np.indices((n, n))
    truth[n:2 * n, n // 2:n // 2 + n] += (0.1 * ((rows + cols) % 2))[..., None]  # a checkerboard: fine detail
    per_dn = 1e-4  # the images are DN, shown as DN times the calibration
    images = {"bicubic": np.rint(truth * 0.9 / per_dn).astype(np.uint16), "model_int8": np.rint(truth / per_dn)
              .astype(np.uint16)}
    scene = SRScene("f", images, truth, np.ones((size_px, size_px), bool), images["model_int8"][::scale, ::scale],
                    None, 1, 1, None, per_dn)
    crop = ExampleCrop(scale)
    crop.offer(scene)
    panels, title = crop.panels, crop.title
    assert [name for name, _ in panels] == ["low-res frame 0", "bicubic", "model int8", "truth"]
    yours = ExampleCrop(scale, user_model=True)
    yours.offer(scene)
    assert [name for name, _ in yours.panels] == ["low-res frame 0", "bicubic", "your model", "truth"]
    assert all(image.shape == (n, n, 4) for _, image in panels)
    box = np.s_[n:2 * n, n // 2:n // 2 + n]
    assert np.array_equal(panels[-1][1], truth[box])
    assert np.array_equal(panels[1][1], images["bicubic"][box] * np.float32(per_dn))
    low_res = images["model_int8"][n // 2:n, n // 4:n // 4 + CROP_PX] * np.float32(per_dn)
    assert np.array_equal(panels[0][1], np.repeat(np.repeat(low_res, scale, 0), scale, 1))
    assert title == f"f: {CROP_PX} x {CROP_PX} low-res px at ({n // scale}, {n // 4}), x{scale}"


def test_the_crops_grey_level_is_made_in_strips_as_it_is_whole(monkeypatch):
    """The grey level of a truth 8192 x 6144 px was made whole: its true-colour stretch as three float planes and
    their temporaries, 1.2 GB and more beside the scene. In strips of rows: the same values, one strip's planes."""
    import tracemalloc

    import ground.superres as gs

    truth = np.random.default_rng(2).uniform(0, 0.6, (301, 97, 4)).astype(np.float32)
    whole = reflectance_rgb(truth).mean(axis=-1)
    monkeypatch.setattr(gs, "GREY_STRIP_ROWS", 16)
    tracemalloc.start()
    try:
        grey = gs._display_grey(truth)
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert grey.dtype == np.float32 and np.array_equal(grey, whole)
    assert peak_bytes < grey.nbytes + truth.nbytes // 4


def test_the_superres_crop_ignores_texture_the_figure_does_not_show():
    """Three 96 px crops: NIR-only texture (invisible in true colour), a bright cloud whose edge is unscored
    ground, and field edges in the visible bands; the crop is the field edges."""
    scale, n = 2, CROP_PX * 2
    truth = np.full((n, 3 * n, 4), 0.1, np.float32)
    rows, cols = np.indices((n, n))
    truth[:, :n, 3] += 0.3 * ((rows + cols) % 2)  # NIR checkerboard
    scored = np.ones(truth.shape[:2], bool)
    truth[40:56, n + 40:n + 56, :] = 0.9  # a cloud: bright, unscored, 97 % of the crop still scored
    scored[40:56, n + 40:n + 56] = False
    truth[:, 2 * n:, :3] += (0.05 * ((cols // 12) % 2))[..., None]  # 12 px stripes of two fields
    scene = SRScene("f", {"model_int8": truth}, truth, scored, None, None, 1, 1, None, 1.0)
    crop = ExampleCrop(scale)
    crop.offer(scene)
    assert crop.title == f"f: {CROP_PX} x {CROP_PX} low-res px at (0, {n}), x{scale}"


def test_the_example_crop_streams_keeping_copies_of_the_best_crop_only():
    """Scenes are offered one at a time: a later, more detailed scene replaces the crop, an equal one does not, and
    the panels are copies (the scene's full-size arrays can be freed)."""
    scale, n = 2, CROP_PX * 2
    rows, cols = np.indices((n, n))

    def scene(name, contrast):
        truth = np.full((n, n, 4), 0.2, np.float32)
        truth[..., :3] += (contrast * ((rows + cols) % 2))[..., None]
        return SRScene(name, {"model_int8": truth.copy()}, truth, np.ones((n, n), bool), None, None, 1, 1, None, 1.0)

    crop = ExampleCrop(scale)
    first, busier, same = scene("a", 0.02), scene("b", 0.1), scene("c", 0.1)
    for s in (first, busier, same):
        crop.offer(s)
    assert crop.title.startswith("b: ")
    assert [name for name, _ in crop.panels] == ["model int8", "truth"]
    busier.truth[:] = 0
    assert crop.panels[-1][1].max() > 0.2


@pytest.mark.parametrize("pair_max_bytes, at_once", [(2**30, 2), (0, 1)])
def test_a_scene_s_methods_are_each_read_by_the_thread_that_scores_them(monkeypatch, pair_max_bytes, at_once):
    """The pool was handed a scene's images, so all five were read before the first was scored: at 8192 x 6144 px
    (a 4096 x 3072 burst at x2) 5 x 0.8 GB, with two SSIM working sets of about 4 GB besides, and the burst run's
    ground report peaked at 8.9 GB. Now each thread reads the image it scores, two at a time, or one at a time where
    two working sets would pass SCORING_PAIR_MAX_BYTES; the scores are the same either way."""
    import threading
    from types import SimpleNamespace

    import ground.superres as gs

    lock, held, most = threading.Lock(), [0], [0]
    rng = np.random.default_rng(1)
    truth = rng.random((32, 32, 4), dtype=np.float32)
    pictures = {m: truth + np.float32(0.01 * (k + 1)) * rng.random((32, 32, 4), dtype=np.float32)
                for k, m in enumerate(gs.METHODS)}

    class Images(dict):
        def __getitem__(self, method):
            with lock:
                held[0] += 1
                most[0] = max(most[0], held[0])
            return dict.__getitem__(self, method)

    real_scores = gs._scores

    def scores(image, scene):
        out = real_scores(image, scene)
        with lock:
            held[0] -= 1
        return out

    scene = gs.SRScene("f0", Images(pictures), truth, np.ones((32, 32), bool), None, 0.1, 10, 40, None, 1.0)
    monkeypatch.setattr(gs, "superres_policy", lambda run_info: {"stage": "superres", "scale": 2})
    monkeypatch.setattr(gs, "iter_scenes", lambda run, policy: iter([scene]))
    monkeypatch.setattr(gs, "_scores", scores)
    monkeypatch.setattr(gs.ExampleCrop, "offer", lambda crop, scene: None)
    monkeypatch.setattr(gs, "SCORING_PAIR_MAX_BYTES", pair_max_bytes)
    section = gs.superres_section(SimpleNamespace(run_info=None, derived={}, pipeline=["superres"]))
    assert most[0] <= at_once  # images read and not yet scored, at most (two threads may not overlap)
    (scored,) = section["scenes"]
    assert scored["cpsnr_db"] == {m: gs.cpsnr_db(pictures[m], truth, scene.scored) for m in gs.METHODS}


def test_the_section_lets_a_scene_go_before_it_reads_the_next(monkeypatch):
    """A scene holds its truth and product (0.8 GB each at 8192 x 6144 px): the section's loop kept the last one
    while the next was read, two scenes at once."""
    import weakref
    from types import SimpleNamespace

    import ground.superres as gs

    held, alive_when_read = [], []

    def scene(k):
        truth = np.random.default_rng(k).random((32, 32, 4), dtype=np.float32)
        return gs.SRScene(f"f{k}", {"model_int8": truth + np.float32(0.01)}, truth, np.ones((32, 32), bool), None,
                          0.1, 10, 40, None, 1.0)

    def scenes(run, policy):
        for k in range(3):
            alive_when_read.append(sum(ref() is not None for ref in held))
            made = scene(k)
            held.append(weakref.ref(made.truth))
            yield made
            del made

    monkeypatch.setattr(gs, "superres_policy", lambda run_info: {"stage": "superres", "scale": 2})
    monkeypatch.setattr(gs, "iter_scenes", scenes)
    section = gs.superres_section(SimpleNamespace(run_info=None, derived={}, pipeline=["superres"]))
    assert section["scenes_scored"] == 3 and alive_when_read == [0, 0, 0]
