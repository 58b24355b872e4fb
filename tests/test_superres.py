"""The superres stage on real bursts and the real shipped MISR model: products, exclusions, costs and config rules."""

import dataclasses
import datetime as dt
import hashlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ground.image_quality import cpsnr_db
from onboard.sensing import burst
from onboard.pipeline import fusion, runner, stages, superres
from onboard.pipeline.tile import Tile, Work
from onboard.scenario.config import StageConfig, load_scenario
from onboard.runtime.modelcard import shipped_card
from onboard.sensing.projection import GridFootprint
from onboard.scenario.spacecraft_config import CameraConfig
from onboard.sensing.world import SYNTHETIC_BANDS, SyntheticWorld
from rundir import codec
from rundir.errors import ConfigError

ROOT = Path(__file__).parents[1]
SPEC = CameraConfig(width_px=96, height_px=96, gsd_m=10.0, bands=SYNTHETIC_BANDS)
CTX = stages.Context(bands=SPEC.bands, bit_depth=12, reflectance_per_dn=SPEC.reflectance_max / SPEC.dn_max,
                       cpu_relative=1.0, int8_conv_relative=1.0)


@pytest.fixture(scope="module")
def shot() -> SimpleNamespace:
    """A burst of 8 over farmland near Bologna, with frame-to-frame clouds, as the mission takes it."""
    world = SyntheticWorld(seed=5, mean_cloud_cover=0.1)
    footprint = GridFootprint.centred(44.6, 11.3, 32632, 10.0, 96, 96)
    when = dt.datetime(2026, 6, 21, 10, 30, tzinfo=dt.timezone.utc)
    b = burst.capture_burst(SPEC, world, footprint, when, 60.0, 150.0, np.random.default_rng(2), frame_cloud_cover=0.1)
    return SimpleNamespace(frame_id="f0", dn=b.lr_dn[0], truth=b.truth_lr, burst=b)


def build(*specs):
    return build_on(CTX, *specs)


def build_on(ctx, *specs):
    configs = [StageConfig(name=name, params=runner.stage_classes()[name].Params(**params)) for name, params in specs]
    return runner.Pipeline(tuple(configs), ctx)


def test_one_x2_product_replaces_the_burst_and_beats_bicubic(shot):
    line = build(("cloud_filter", {"tile_px": 32, "max_cloud_fraction": 0.9}), ("superres", {}),
                 ("encode", {"format": "png"}))
    assert line.burst_scale == 2
    work = line.run(shot)
    assert work.frames == 8 and work.stages == ["cloud_filter", "superres", "encode"]
    image = np.zeros((192, 192, 4), np.float32)
    for tile in work.tiles:
        assert tile.meta.scale == 2 and tile.meta.burst_frames == 8 and tile.dn.shape[:2] == (64, 64)
        dn = codec.decode(tile.payload, "png", tile.dn.shape, 12)
        image[tile.row0:tile.row0 + 64, tile.col0:tile.col0 + 64] = dn * CTX.reflectance_per_dn
    assert len(work.tiles) + len(work.dropped) == 9
    ev = work.evaluation
    assert {"sr_shifts_px", "sr_model_float32", "sr_bicubic", "sr_bicubic_registered",
            "sr_shift_and_add", "cloud_probability"} <= set(ev)
    assert "sr_low_res" not in ev  # frame 0 is kept once, as the scene's single frame
    assert np.abs(ev["sr_shifts_px"] - shot.burst.shifts_px).max() < 0.25  # low-res px
    truth, clear = shot.burst.hr_truth, shot.burst.hr_clear
    kept = np.zeros((192, 192), bool)
    for tile in work.tiles:
        kept[tile.row0:tile.row0 + 64, tile.col0:tile.col0 + 64] = True
    bicubic = ev["sr_bicubic"] * np.float32(CTX.reflectance_per_dn)
    assert cpsnr_db(image, truth, clear & kept) > cpsnr_db(bicubic, truth, clear & kept) + 0.5
    alternatives = work.alternative_bytes
    assert alternatives["bent_pipe"] == 8 * SPEC.raw_bytes
    assert sum(len(t.payload) for t in work.tiles) < alternatives["cloud_filter"] < alternatives["bent_pipe"]


def test_clouds_the_cloud_stage_finds_are_left_out_of_the_fusion(shot):
    """The same burst with every frame's clouds flagged as the cloud stage would, against fusing them in."""
    b = shot.burst
    lr = b.lr_reflectance()
    truth, clear = b.hr_truth, b.hr_clear
    stage = superres.SuperResolution(superres.SuperResolution.Params(evaluate=False), CTX)
    scores = {}
    for name, clear_frames in (("masked", ~b.lr_cloud), ("unmasked", None)):
        work = Work(frame=shot, tiles=[Tile(dn=b.lr_dn, row0=0, col0=0)], clear=clear_frames)
        stage.process(work)
        (tile,) = work.tiles
        scores[name] = cpsnr_db(tile.dn * np.float32(CTX.reflectance_per_dn), truth, clear)
    assert lr.shape[0] == 8 and b.lr_cloud.any()
    assert scores["masked"] > scores["unmasked"] + 1.0


def test_masked_tiles_stay_no_data_at_high_resolution(shot):
    work = build(("cloud_filter", {"tile_px": 32, "max_cloud_fraction": 0.0, "action": "mask"}),
                 ("superres", {"evaluate": False}), ("bent_pipe", {})).run(shot)
    masked = [t for t in work.tiles if t.meta.masked]
    assert masked, "the burst has clouds somewhere in every frame"
    for tile in masked:
        assert (tile.dn == 0).all(axis=-1).any() and tile.dn.shape[:2] == (64, 64)
        assert tile.meta.cloudy is None and tile.meta.scale == 2  # the low-res mask is not carried past its use


def test_where_no_frame_saw_any_world_the_product_holds_fill(shot):
    """Off a GeoTIFF's data every frame holds fill: those pixels are no sample of the ground in the fusion, and the
    product keeps fill there (the mosaic shows no data) rather than values inpainted from the rest."""
    frames = shot.burst.lr_dn.copy()
    frames[:, :, 64:] = codec.FILL_DN  # the world ends at column 64 in every frame
    off = SimpleNamespace(frame_id="f1", dn=frames[0], truth=shot.truth,
                          burst=dataclasses.replace(shot.burst, lr_dn=frames))
    work = build(("superres", {"evaluate": False}), ("bent_pipe", {})).run(off)
    (product,) = work.tiles
    assert product.dn.shape[:2] == (192, 192)
    np.testing.assert_array_equal(codec.has_data(product.dn), np.arange(192)[None, :].repeat(192, 0) < 128)


def test_a_raw_burst_goes_down_frame_by_frame(shot):
    work = build(("cloud_filter", {"tile_px": 48, "max_cloud_fraction": 1.0}), ("bent_pipe", {})).run(shot)
    assert len(work.tiles) == 4 * 8 and {t.meta.burst_frame for t in work.tiles} == set(range(8))
    assert sum(len(t.payload) for t in work.tiles) == work.alternative_bytes["bent_pipe"] == 8 * SPEC.raw_bytes


def test_simulated_time_counts_every_window_and_frame(shot):
    stage = superres.SuperResolution(superres.SuperResolution.Params(), CTX)
    work = Work(frame=shot, tiles=[Tile(dn=shot.burst.lr_dn, row0=0, col0=0)])
    windows = 4 * len(superres.tiling.windows(96, 96, 64, superres.OVERLAP_PX))  # one model pass per band
    mpx = 96 * 96 / 1e6
    expected = (7 * mpx * superres.REGISTRATION_S_PER_MPX["ecc"] + mpx * superres.FUSION_S_PER_MPX["model"][2]
                + windows * stage.latency_s)
    assert stage.cost_s(work) == pytest.approx(expected)
    assert stage.latency_s == shipped_card("superres_x2_int8").benchmark.host_latency_ms_p50 / 1e3


def test_registration_and_fusion_run_at_the_cpus_speed_and_only_the_model_at_the_int8_speed(shot):
    """On an Edge TPU profile (int8 x6.1, CPU x0.41: coral-devboard) the stage's ECC registration and fusion planes
    run on the ARM cores, and only the model's windows on the accelerator: the whole stage at the int8 speed made a
    Coral look 11x too fast in a trial (55 ms for a quickstart burst, about 0.6 s with this split)."""
    coral = dataclasses.replace(CTX, cpu_relative=0.41, int8_conv_relative=6.1)
    stage = superres.SuperResolution(superres.SuperResolution.Params(), CTX)
    work = Work(frame=shot, tiles=[Tile(dn=shot.burst.lr_dn, row0=0, col0=0)])
    mpx = 96 * 96 / 1e6
    cpu_s = 7 * mpx * superres.REGISTRATION_S_PER_MPX["ecc"] + mpx * superres.FUSION_S_PER_MPX["model"][2]
    windows = 4 * len(superres.tiling.windows(96, 96, 64, superres.OVERLAP_PX))
    assert stage.uses == "int8"
    assert stage.cost_by_speed_s(work) == pytest.approx({"cpu": cpu_s, "int8": windows * stage.latency_s})
    projected = build_on(coral, ("superres", {"evaluate": False}), ("bent_pipe", {})).run(shot)
    assert projected.sim_stage_s["superres"] == pytest.approx(cpu_s / 0.41 + windows * stage.latency_s / 6.1)
    shift_and_add = superres.SuperResolution(superres.SuperResolution.Params(method="shift_and_add"), CTX)
    assert set(shift_and_add.cost_by_speed_s(work)) == {"cpu"}  # no model: all of it CPU work


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_the_fusion_planes_cost_what_they_cost_at_the_stages_scale(scale, shot):
    """The fusion planes were charged the x2 figure at every scale: at x4, 1.4 times less than they take."""
    stage = superres.SuperResolution(superres.SuperResolution.Params(scale=scale, method="shift_and_add"), CTX)
    work = Work(frame=shot, tiles=[Tile(dn=shot.burst.lr_dn, row0=0, col0=0)])
    mpx = 96 * 96 / 1e6
    assert stage.cost_s(work) == pytest.approx(7 * mpx * superres.REGISTRATION_S_PER_MPX["ecc"]
                                               + mpx * superres.FUSION_S_PER_MPX["shift_and_add"][scale])
    planes = superres.FUSION_S_PER_MPX["shift_and_add"]
    assert planes[4] > planes[3] >= planes[2]


@pytest.mark.parametrize("method", ["bicubic", "bicubic_registered"])
def test_a_bicubic_method_is_charged_only_the_work_it_does(method, shot):
    """Plain bicubic averages the burst unregistered, and the registered bicubic needs only the registered mean, yet
    both were charged ECC registration and the whole fusion planes (91 ms a frame too many in the superres_x3
    scenario for plain bicubic): now plain bicubic is charged its mean alone, the registered one registration and
    its mean, each cheaper than the planes the model and shift_and_add compute."""
    stage = superres.SuperResolution(superres.SuperResolution.Params(method=method), CTX)
    work = Work(frame=shot, tiles=[Tile(dn=shot.burst.lr_dn, row0=0, col0=0)])
    mpx = 96 * 96 / 1e6
    registration = 0.0 if method == "bicubic" else 7 * mpx * superres.REGISTRATION_S_PER_MPX["ecc"]
    expected = registration + mpx * superres.FUSION_S_PER_MPX[method][2]
    assert stage.cost_by_speed_s(work) == pytest.approx({"cpu": expected})
    planes = superres.SuperResolution(superres.SuperResolution.Params(method="shift_and_add"), CTX)
    assert stage.cost_s(work) < planes.cost_s(work) - mpx * superres.FUSION_S_PER_MPX["model"][2] / 4
    fusions = superres.FUSION_S_PER_MPX
    for scale in superres.fusion.SCALES:
        assert 0 < fusions["bicubic"][scale] < fusions["bicubic_registered"][scale] < fusions["model"][scale]


def test_simulated_time_counts_only_the_tiles_a_cloud_filter_kept(shot):
    """Registration takes the whole frame; fusion planes count the kept tiles' area, and model windows only those
    whose core (rows and columns 0-51 and 52-95 here) meets a kept tile."""
    stage = superres.SuperResolution(superres.SuperResolution.Params(), CTX)
    mpx, latency = 96 * 96 / 1e6, stage.latency_s
    registration = 7 * mpx * superres.REGISTRATION_S_PER_MPX["ecc"]

    def cost(*corners: tuple[int, int]) -> float:  # kept 48 px tiles at these (row0, col0), plus a mask tile
        tiles = [Tile(dn=shot.burst.lr_dn[:, r:r + 48, c:c + 48], row0=r, col0=c) for r, c in corners]
        mask = Tile(dn=np.zeros((96, 96, 1), np.uint8), row0=0, col0=0, kind="cloud_mask")
        return stage.cost_s(Work(frame=shot, tiles=[*tiles, mask]))

    quarter = 48 * 48 / 1e6 * superres.FUSION_S_PER_MPX["model"][2]
    assert cost((0, 0)) == pytest.approx(registration + quarter + 4 * 1 * latency)  # one window: its core is 0-51
    assert cost((48, 48)) == pytest.approx(registration + quarter + 4 * 4 * latency)  # 48-95 meets all four
    assert cost((0, 48)) == pytest.approx(registration + quarter + 4 * 2 * latency)
    assert cost((0, 0), (0, 48), (48, 0), (48, 48)) == pytest.approx(
        registration + 4 * quarter + 4 * 4 * latency)  # every tile kept: the whole frame's cost
    assert cost() == 0.0  # only a mask left: nothing to fuse


def test_a_cloud_filter_before_superres_makes_it_cheaper(shot):
    """In a run, superres after a cloud filter that dropped tiles is charged for what it fuses: less simulated time
    than the same frame unfiltered."""
    unfiltered = build(("superres", {"evaluate": False}), ("bent_pipe", {})).run(shot)
    filtered = build(("cloud_filter", {"tile_px": 48, "max_cloud_fraction": 0.0}), ("superres", {"evaluate": False}),
                     ("bent_pipe", {})).run(shot)
    kept = [t for t in filtered.tiles if t.kind == "image"]
    assert 0 < len(kept) < 4
    assert filtered.sim_stage_s["superres"] < unfiltered.sim_stage_s["superres"]


def test_to_dn_keeps_the_camera_calibration():
    reflectance = np.array([0.0, 0.3, 1.2, 2.0, -0.1], np.float32)
    dn = superres.to_dn(reflectance, 1.2 / 4095, 12)
    assert dn.tolist() == [0, 1024, 4095, 4095, 0]


def scenario_error(tmp_path: Path, old: str, new: str) -> str:
    text = (ROOT / "scenarios" / "quickstart.yaml").read_text()
    assert old in text
    path = tmp_path / "s.yaml"
    path.write_text(text.replace(old, new))
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    return str(err.value)


def test_a_scale_without_a_model_is_a_config_error(tmp_path):
    message = scenario_error(tmp_path, "    scale: 2\n", "    scale: 3\n")
    assert "pipeline[1].scale: expected a scale with a shipped MISR model (x2)" in message


@pytest.mark.parametrize("stage, model", [(0, "models/misr.pt"), (1, "models/misr.pt"), (0, "cloud_bgrn_int9")])
def test_a_model_that_is_neither_shipped_nor_a_model_file_is_a_config_error(tmp_path, stage, model):
    key = ("    tile_px: 64\n", "    scale: 2\n")[stage]  # a line of that stage in the quickstart
    message = scenario_error(tmp_path, key, f"{key}    model: {model}\n")
    assert f"pipeline[{stage}].model: expected auto" in message and ".tflite or .onnx" in message
    assert f"found '{model}'" in message
    assert message.count(f"pipeline[{stage}].model:") == 1  # one mistake, one problem (superres said it twice)


@pytest.mark.parametrize("method", ["shift_and_add", "bicubic", "bicubic_registered"])
def test_a_model_named_beside_a_classic_method_is_refused(tmp_path, method):
    """A model with a classic method ran the classic fusion, silently, and run.json named no model: refused, as the
    cloud filter refuses one with its spectral method."""
    message = scenario_error(tmp_path, "    scale: 2\n",
                             f"    scale: 2\n    method: {method}\n    model: my_x2.tflite\n")
    assert f"pipeline[1].model: expected no model with method: {method} (it runs none; method: model runs it), " \
           "found 'my_x2.tflite'" in message


def test_superres_must_follow_the_cloud_filter(tmp_path):
    text = (ROOT / "scenarios" / "quickstart.yaml").read_text()
    start, end = text.index("  - stage: cloud_filter"), text.index("  - stage: superres")
    cloud_block = text[start:end]
    swapped = text[:start] + text[end:].replace("  - stage: encode", cloud_block + "  - stage: encode")
    path = tmp_path / "s.yaml"
    path.write_text(swapped)
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    assert "superres after cloud_filter" in str(err.value)


def test_burst_settings_are_validated(tmp_path):
    message = scenario_error(tmp_path, "      frames: 8 ", "      frames: 1 ")
    assert "spacecraft.camera.burst.frames" in message and "expected" in message


def test_a_users_misr_model_runs_in_the_stage_as_the_shipped_one_does(shot, tmp_path):
    from app.cli import main

    user = tmp_path / "my_misr.tflite"
    user.write_bytes((superres.MODEL_DIR / "superres_x2_int8.tflite").read_bytes())
    assert main(["card", "init", str(user), "--task", "super-resolution"]) == 0
    params = superres.SuperResolution.Params(model=str(user), evaluate=False)
    assert superres.SuperResolution.check_files(params, CTX.bands, None) == []
    pipelines = [build(("superres", {"evaluate": False, **extra}), ("encode", {"format": "png"}))
                 for extra in ({}, {"model": str(user)})]
    shipped, mine = (pipeline.run(shot) for pipeline in pipelines)
    assert [t.payload for t in mine.tiles] == [t.payload for t in shipped.tiles]  # the same model, the same bytes
    assert "sr_model_float32" not in mine.evaluation
    # each run records which file flew: the same weights under two names, with one sha256
    (shipped_file,), (my_file,) = ([s.model_file for s in p.stages if s.model_file] for p in pipelines)
    assert shipped_file.file == "superres_x2_int8" and my_file.file == str(user)
    assert my_file.sha256 == shipped_file.sha256 == hashlib.sha256(user.read_bytes()).hexdigest()


def test_a_segmentation_model_in_the_superres_stage_is_refused_with_the_reason(tmp_path):
    from app.cli import main
    from tests.user_models import user_model

    model = user_model("uint8.tflite", tmp_path)
    assert main(["card", "init", str(model), "--task", "segmentation", "--bands", "B,G,R,NIR",
                 "--activation", "softmax"]) == 0
    problems = superres.SuperResolution.check_files(superres.SuperResolution.Params(model=str(model)), CTX.bands, None)
    assert [p.expected for p in problems] == ["a super-resolution model", "input (1, n, n, 12) at scale 2 (the "
                                                                       "planes folded by space-to-depth, NHWC)"]
    assert problems[0].found.endswith("task 'segmentation'") and problems[1].found.endswith(": [1, 48, 48, 4]")


@pytest.mark.parametrize("method", ["bicubic", "bicubic_registered", "shift_and_add"])
def test_the_stage_does_on_board_only_its_methods_work_and_times_the_rest_as_scoring(method, shot, monkeypatch):
    """The stage registered the burst and made the fusion planes for every method, so a measured run timed plain
    bicubic at 3x its projected cost (0.133 s against 0.045 s in a trial). Now the bicubic methods make no planes
    unless the report's baselines need them, plain bicubic's registration is timed as scoring work, and the
    products are the same bytes as from the planes."""
    made = []
    real = superres.fusion.BandPlanes.block
    monkeypatch.setattr(superres.fusion.BandPlanes, "block", lambda planes, i: made.append(i) or real(planes, i))
    work = build(("superres", {"method": method, "evaluate": False}), ("bent_pipe", {})).run(shot)
    assert made == ([0] * len(CTX.bands) if method == "shift_and_add" else [])  # the planes of each band, once
    assert ("superres" in work.scoring_wall_s) == (method == "bicubic")
    evaluated = build(("superres", {"method": "model"}), ("bent_pipe", {})).run(shot)  # its baselines from the planes
    if method != "shift_and_add":
        (product,) = work.tiles
        np.testing.assert_array_equal(codec.unpack_bits(product.payload, product.dn.shape, 12),
                                      evaluated.evaluation[f"sr_{method}"])


@pytest.mark.parametrize("evaluate", [True, False])
def test_the_stage_fuses_one_band_at_a_time_in_memory(evaluate, shot, monkeypatch):
    """A 4096 x 3072 burst of 8 is 1.6 GB as float32 and its fusion planes 2.4 GB at x2: the stage held both for
    every band at once (its numpy peak here was 1.8x and 1.6x their sum, beyond what it keeps). It now fuses one band
    at a time: what it holds beyond its outputs stays under 1.2x that sum (1.0x and 0.8x here)."""
    import tracemalloc

    peaks = []
    real = superres.SuperResolution.process

    def traced(stage, work):
        tracemalloc.start()
        try:
            real(stage, work)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()

    monkeypatch.setattr(superres.SuperResolution, "process", traced)
    build(("superres", {"evaluate": evaluate}), ("bent_pipe", {})).run(shot)
    k, h, w, bands = shot.burst.lr_dn.shape
    burst_f32, planes = k * h * w * bands * 4, bands * (2 * h) * (2 * w) * 3 * 4
    outputs = (5 if evaluate else 1) * (2 * h) * (2 * w) * bands * 2  # the product (and the 4 baselines), uint16
    assert peaks[0] - outputs < 1.2 * (burst_f32 + planes)


@pytest.mark.parametrize("evaluate", [True, False])
def test_the_stage_reads_a_frame_at_a_time_and_makes_planes_a_block_of_rows_at_a_time(evaluate, shot, monkeypatch):
    """Of one band, a 4096 x 3072 burst of 8 is 0.4 GB as float32 and its fusion planes 0.6 GB at x2: the stage read
    each band's burst as float32 whole and made its planes whole, once for the product and again for the float32
    twin (a burst's peak was 7.6 GB). It now reads the burst's DN as reflectance one frame, or one frame's rows, at a
    time, and makes each band's planes a block of rows at a time, once, as one pass of windows for both models reads
    them: the same bytes, whatever the block."""
    k, h, w, bands = shot.burst.lr_dn.shape
    line = [("superres", {"evaluate": evaluate}), ("encode", {"format": "png"})]
    whole = build(*line).run(shot)
    monkeypatch.setattr(fusion, "PLANES_BLOCK_ROWS", 16)
    monkeypatch.setattr(fusion, "UPSAMPLE_STRIP_ROWS", 16)
    read, made = [], []
    reflectance, planes_rows = stages.Context.reflectance, fusion._planes_rows
    monkeypatch.setattr(stages.Context, "reflectance", lambda ctx, dn: read.append(np.size(dn)) or reflectance(ctx, dn))
    monkeypatch.setattr(fusion, "_planes_rows", lambda *a: made.append(a[5]) or planes_rows(*a))
    blocks = build(*line).run(shot)
    assert made == [(r0, min(h, r0 + 16)) for r0 in range(0, h, 16)] * bands  # each block once, in order
    assert max(read) <= h * w * bands  # never more than one frame (registration reads a frame's bands together)
    assert [t.payload for t in blocks.tiles] == [t.payload for t in whole.tiles]
    assert whole.evaluation.keys() == blocks.evaluation.keys()
    for key, value in whole.evaluation.items():
        np.testing.assert_array_equal(blocks.evaluation[key], value)


@pytest.mark.parametrize("method", ["model", "shift_and_add", "bicubic_registered", "bicubic"])
def test_the_report_s_baselines_add_no_on_board_time(method, shot, monkeypatch):
    """Measured timing charges a stage its wall time less what it spent for the report alone. Made band by band, a
    baseline's quantisation, its fill and the planes' reflectance were charged as on-board work (a bicubic run's
    on-board time doubled with evaluate on). On a clock that moves only inside the stage's parts, a method's
    on-board time is the same with the baselines as without them."""
    import time

    clock = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])

    def ticking(part):
        def tick(*args, **kwargs):
            clock[0] += 1.0
            return part(*args, **kwargs)
        return tick

    for module, name in ((superres, "to_dn"), (superres, "reserve_fill"), (fusion, "upsample_band"),
                         (fusion, "shift_and_add_sparse"), (fusion, "misr_from_planes"), (fusion, "mean_frame")):
        monkeypatch.setattr(module, name, ticking(getattr(module, name)))
    monkeypatch.setattr(stages.Context, "reflectance", ticking(stages.Context.reflectance))
    on_board = []
    for evaluate in (False, True):
        work = build(("superres", {"method": method, "evaluate": evaluate}), ("bent_pipe", {})).run(shot)
        on_board.append(work.wall_s["superres"] - work.scoring_wall_s.get("superres", 0.0))
    assert on_board[0] == on_board[1] > 0


def test_with_a_spill_folder_the_baselines_go_to_disk_as_made_with_the_same_samples(shot, tmp_path):
    """A 4096 x 3072 burst of 8 at x2 made the report's four baselines in memory beside the product, 1.6 GB of a
    worker's 4.3 GB. A frame-pool worker now spills them to unnamed files as their rows are made (Work.spill_dir):
    the same samples, the same product, the same evaluation record."""
    from rundir.evaluation import packed
    from onboard.pipeline.spill import SpilledImage

    line = build(("superres", {}), ("encode", {"format": "png"}))
    in_memory, spilled = line.run(shot), line.run(shot, spill_dir=tmp_path / "records")
    baselines = [key for key, value in spilled.evaluation.items() if isinstance(value, SpilledImage)]
    assert sorted(baselines) == sorted(f"sr_{m}" for m in superres.BASELINES if m != "model_int8")
    assert not any(isinstance(v, SpilledImage) for v in in_memory.evaluation.values())
    assert [t.payload for t in spilled.tiles] == [t.payload for t in in_memory.tiles]
    assert list(packed(spilled.evaluation)) == list(packed(in_memory.evaluation))
    for key, value in packed(in_memory.evaluation).items():
        np.testing.assert_array_equal(packed(spilled.evaluation)[key], value)
    assert list((tmp_path / "records").iterdir()) == []
