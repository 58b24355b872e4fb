"""onboard.pipeline.cloud: the cloud_filter stage on the real shipped models and on users' models (made in the tests,
carded with `orbitedge card init`, flown through `orbitedge run`)."""

import dataclasses
import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from app.cli import main
from onboard.pipeline import cloud, runner, stages, tiling
from onboard.runtime.model import build_card
from onboard.runtime.modelcard import MODEL_DIR, write_card
from onboard.runtime.scaling import Scaling
from onboard.pipeline.tile import TileMeta
from onboard.scenario.config import StageConfig, load_scenario
from onboard.scenario.config_files import scenario_path
from rundir.codec import FILL_DN
from rundir.errors import ConfigError
from tests.user_models import onnx_float16_nchw, user_model

ROOT = Path(__file__).parents[1]
CTX = stages.Context(bands=("B", "G", "R", "NIR"), bit_depth=12, reflectance_per_dn=1.2 / 4095, cpu_relative=1.0,
                       int8_conv_relative=1.0)


def make_stage(ctx=CTX, **params):
    cfg = StageConfig(name="cloud_filter", params=cloud.CloudFilter.Params(**params))
    return runner.Pipeline((cfg, StageConfig(name="bent_pipe", params=stages.BentPipe.Params())), ctx)


def synthetic_frame(cloud_rows: int = 200):
    """A 512 x 512 frame: vegetation below, a flat bright cloud deck across the top rows."""
    refl = np.empty((512, 512, 4), np.float32)
    refl[:] = (0.05, 0.07, 0.05, 0.35)
    refl[:cloud_rows] = (0.75, 0.74, 0.73, 0.70)
    rng = np.random.default_rng(0)
    dn = np.clip(refl / CTX.reflectance_per_dn + rng.normal(0, 3, refl.shape), 0, 4095).astype(np.uint16)
    return SimpleNamespace(frame_id="f0", dn=dn)


def test_cloud_filter_drops_cloudy_tiles_with_the_real_model():
    work = make_stage(tile_px=128, max_cloud_fraction=0.5).run(synthetic_frame(cloud_rows=256))
    kept = {(t.row0, t.col0) for t in work.tiles}
    dropped = {(t.row0, t.col0) for t, reason in work.dropped}
    assert dropped == {(r, c) for r in (0, 128) for c in range(0, 512, 128)}
    assert kept == {(r, c) for r in (256, 384) for c in range(0, 512, 128)}
    assert all(reason == "cloudy" for _, reason in work.dropped)
    prob = work.evaluation["cloud_probability"]
    assert prob[:200].mean() > 200 and prob[300:].mean() < 30
    assert work.sim_s > 0 and all(t.format == "raw" for t in work.tiles)


def test_mask_action_and_mask_product():
    work = make_stage(tile_px=512, max_cloud_fraction=0.1, action="mask", downlink_mask=True).run(synthetic_frame())
    image = [t for t in work.tiles if t.kind == "image"]
    (mask,) = [t for t in work.tiles if t.kind == "cloud_mask"]
    assert len(image) == 1 and image[0].meta.masked
    np.testing.assert_array_equal(image[0].meta.cloudy, mask.dn[..., 0].astype(bool))  # what superres masks again
    assert mask.meta == TileMeta(bit_depth=1, bands=("cloud",))
    assert (image[0].dn[:150] == 0).all() and (image[0].dn[300:] > 0).any()
    assert mask.format == "png" and len(mask.payload) < 0.01 * 512 * 512 * 4 * 12 / 8


def test_fill_is_neither_clear_nor_sent():
    """Pixels that hold FILL_DN in every band (off a GeoTIFF's data) count as no clear pixel, and a tile of fill
    only is dropped as no_data whatever the model makes of it."""
    frame = synthetic_frame(cloud_rows=0)
    frame.dn[:, :192] = FILL_DN  # tiles in columns 0 and 64: fill only; columns 128..191: fill in a partial tile
    frame.dn[0, 0] = (0, 0, 0, 1)  # one band off fill: data
    work = make_stage(tile_px=128, max_cloud_fraction=0.5).run(frame)
    dropped = {(t.row0, t.col0): reason for t, reason in work.dropped}
    assert dropped == {(r, 0): cloud.NO_DATA for r in range(128, 512, 128)}
    by_box = {(t.row0, t.col0): t.meta.clear_px for t in work.tiles}
    assert by_box[(0, 0)] <= 1 and all(by_box[(r, 128)] <= 128 * 64 for r in range(0, 512, 128))
    assert all(by_box[(r, c)] > 0.99 * 128 * 128 for r in range(0, 512, 128) for c in (256, 384))
    assert not work.clear[0, :, 1:192].any()  # fusion gets no fill as clear ground


@pytest.mark.parametrize("model, speed", [("cloud_bgrn_int8", 0.25), ("cloud_bgrn_float32", 1.0)])
def test_an_int8_model_projects_at_the_int8_speed_and_a_float_one_at_the_cpu_speed(model, speed):
    """A profile's int8_conv_relative is an int8 figure (orbitedge bench --profile uses the same rule): a float
    model's cost follows cpu_relative."""
    slow_int8 = dataclasses.replace(CTX, int8_conv_relative=0.25)
    frame = synthetic_frame()
    base = make_stage(model=model).run(frame).sim_stage_s["cloud_filter"]
    assert make_stage(slow_int8, model=model).run(frame).sim_stage_s["cloud_filter"] == pytest.approx(base / speed)


def test_a_model_takes_its_bands_from_the_camera_by_name_in_its_cards_order():
    """The shipped RGB model (card bands B, G, R) on a B, G, R, NIR camera gets the same three bands as on a B, G, R
    camera: the same probabilities, to the bit. Bands the camera lacks are a ValueError before any window runs."""
    frame = synthetic_frame()
    rgb_ctx = dataclasses.replace(CTX, bands=("B", "G", "R"))
    on_rgb = make_stage(rgb_ctx, model="cloud_rgb_int8").run(SimpleNamespace(frame_id="f0", dn=frame.dn[..., :3]))
    on_bgrn = make_stage(model="cloud_rgb_int8").run(frame)
    np.testing.assert_array_equal(on_bgrn.evaluation["cloud_probability"], on_rgb.evaluation["cloud_probability"])
    model = cloud.load_model(MODEL_DIR / "cloud_rgb_int8.tflite", CTX.bands, 1)
    toa = frame.dn[:96, :96].astype(np.float32) * np.float32(CTX.reflectance_per_dn)
    shuffled = toa[..., [3, 2, 0, 1]]  # NIR, R, B, G: picked back by name
    np.testing.assert_array_equal(cloud.cloud_probability(model, shuffled, ("NIR", "R", "B", "G"), 16),
                                  cloud.cloud_probability(model, toa[..., :3], ("B", "G", "R"), 16))
    with pytest.raises(ValueError, match=r"takes bands \['B', 'G', 'R'\], found \['B', 'G', 'NIR'\]"):
        cloud.cloud_probability(model, toa[..., [0, 1, 3]], ("B", "G", "NIR"), 16)


def test_spectral_method_runs_without_a_model():
    work = make_stage(method="spectral", tile_px=128, max_cloud_fraction=0.5).run(synthetic_frame(cloud_rows=256))
    assert len(work.dropped) == 8


def test_camera_bands_pick_the_model_and_a_mismatch_is_an_error(tmp_path):
    rgb = load_scenario(ROOT / "scenarios" / "cloudy_cloudfilter.yaml", ["spacecraft.camera.bands=[B, G, R]"])
    assert cloud.model_name(rgb.stages[0].params.model, ("B", "G", "R")) == "cloud_rgb_int8"
    with pytest.raises(ConfigError, match="pipeline\\[0\\].model: expected a model for the camera's bands"):
        load_scenario(ROOT / "scenarios" / "cloudy_cloudfilter.yaml",
                      ["spacecraft.camera.bands=[B, G, R]", "pipeline.0.model=cloud_bgrn_int8"])
    with pytest.raises(ConfigError, match="expected a camera band list a shipped model was made for"):
        load_scenario(ROOT / "scenarios" / "cloudy_cloudfilter.yaml", ["spacecraft.camera.bands=[G, R, NIR]"])


# A pass over Paris on 2026-06-21 (09:47 UTC, 13 frames of 128 px) and a Svalbard contact after it.
USER_SCENARIO = """name: user_model
seed: 5
start_utc: 2026-06-21T09:40:00Z
duration_h: 1.5
world: {source: synthetic, mean_cloud_cover: 0.5, cloud_height_m: 2000}
spacecraft:
  camera: {width_px: 128, height_px: 128, gsd_m: 10.0, bands: BANDS, bit_depth: 12, max_off_nadir_deg: 40,
           min_sun_elevation_deg: 15}
  compute: {hardware: host}
  storage: {capacity_mb: 500}
  power: {battery_wh: 150, solar_w: 90, bus_idle_w: 25, radio_tx_w: 30}
  radio: {rate_mbps: 100, protocol_overhead_fraction: 0.12}
satellites:
  - {name: sso-1, orbit: {altitude_km: 550, sun_synchronous: true, ltan_h: 10.5}}
ground_stations:
  - {name: svalbard, lat_deg: 78.23, lon_deg: 15.39, alt_m: 500, min_elevation_deg: 5}
targets:
  - {name: paris, lat_deg: 48.86, lon_deg: 2.35, radius_km: 8}
pipeline:
  - {stage: cloud_filter, model: MODEL, tile_px: 32, overlap_px: 8, max_cloud_fraction: 0.5}
  - {stage: encode, format: png}
"""


def user_mission(tmp_path: Path, name: str, task: str = "segmentation", bands: str = "[B, G, R, NIR]",
                 card: bool = True) -> Path:
    """A scenario in ``tmp_path/mission`` flying user model ``name`` from its ``models/`` folder, carded by the CLI."""
    mission = tmp_path / "mission"
    model = user_model(name, mission / "models")
    if card:
        assert main(["card", "init", str(model), "--task", task, "--bands", "B,G,R,NIR", "--classes", "clear,cloud",
                     "--activation", "softmax"]) == 0
    scenario = mission / "scenario.yaml"
    scenario.write_text(USER_SCENARIO.replace("MODEL", f"models/{name}").replace("BANDS", bands))
    return scenario


@pytest.mark.parametrize("name", ["uint8.tflite", "float16.onnx"])
def test_a_users_model_flies_through_orbitedge_run(tmp_path, monkeypatch, capsys, name):
    scenario = user_mission(tmp_path, name)
    monkeypatch.chdir(tmp_path)  # elsewhere: the model path starts at the scenario file
    assert main(["run", str(scenario), "--out", str(tmp_path / "run"), "--quiet"]) == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["complete"] and report["ledger"]["captured"] == report["cloud"]["frames_scored"] > 0
    assert report["cloud"]["policy"]["model"] == f"models/{name}"
    # the run says which weights flew: the file as named, its card's name and version, and its sha256
    model = tmp_path / "mission" / "models" / name
    card = json.loads(model.with_suffix(".json").read_text())
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    run_json = json.loads((tmp_path / "run" / "telemetry" / "run.json").read_text())
    assert run_json["models"]["cloud_filter"] == report["models"]["cloud_filter"] == {
        "file": f"models/{name}", "name": card["properties"]["mlm:name"], "version": card["properties"]["version"],
        "sha256": digest}
    assert f"| model (cloud_filter) | models/{name} (" in (tmp_path / "run" / "report.md").read_text()
    assert f"sha256 {digest[:12]})" in (tmp_path / "run" / "report.md").read_text()
    # the model's rule sees thick cloud: every pixel it calls cloud is cloud
    assert report["cloud"]["pixel"]["precision"] > 0.95 and report["cloud"]["pixel"]["recall"] > 0.1
    # its card holds no scores the run can read: the report says its figures are against synthetic truth alone
    assert report["cloud"]["model_card"] == {"model": card["properties"]["mlm:name"],
                                             "version": card["properties"]["version"], "sha256": digest}
    assert "has no real-data validation in its card: its figures hold against synthetic truth alone" in \
        report["verdict"]
    assert "every score in this section is against the synthetic world's truth only" in \
        (tmp_path / "run" / "report.md").read_text()


@pytest.mark.parametrize("bit_depth", [10, 12, 14])
def test_a_dn_model_sees_the_dn_of_its_cards_bit_depth_on_any_camera(tmp_path, bit_depth):
    """A model trained on a 12-bit camera's DN (card: --source dn --dn-bits 12, its input DN * 1.2 / 4095) decides on
    a 10- or 14-bit camera as on a 12-bit one: it is fed the DN a 12-bit camera would have read. Fed a 14-bit
    camera's DN as they are, four times its range, it took the ground (visible 0.10) for cloud (above 0.22)."""
    model = user_model("float16.onnx", tmp_path)
    assert main(["card", "init", str(model), "--task", "segmentation", "--bands", "B,G,R,NIR", "--classes",
                 "clear,cloud", "--activation", "softmax", "--source", "dn", "--dn-bits", "12",
                 "--scale", str(1.2 / 4095)]) == 0
    refl = np.empty((96, 96, 4), np.float32)
    refl[:] = (0.10, 0.10, 0.10, 0.30)
    refl[:40] = (0.60, 0.60, 0.60, 0.60)

    def probability(bits: int) -> np.ndarray:
        dn_max = (1 << bits) - 1
        ctx = dataclasses.replace(CTX, bit_depth=bits, reflectance_per_dn=1.2 / dn_max)
        stage = cloud.CloudFilter(cloud.CloudFilter.Params(model=str(model), tile_px=48, overlap_px=8), ctx)
        dn = np.rint(refl * (dn_max / 1.2)).astype(np.uint16)
        return stage.probability(dn, dn * np.float32(ctx.reflectance_per_dn), np.zeros(refl.shape[:2], bool))

    on_camera, trained_on = probability(bit_depth), probability(12)
    np.testing.assert_array_equal(trained_on >= 0.5, refl[..., 0] > 0.22)  # the rule: visible above 0.22 is cloud
    np.testing.assert_allclose(on_camera, trained_on, atol=0.01)  # 0.01: DN rounding at 10 bits, 1.2/1023 apart


def test_a_users_card_with_real_validation_is_carried_and_a_malformed_one_refused(tmp_path):
    """A user who scored their model on real labelled tiles (orbitedge card score) and has the block in the card's
    orbitedge:metrics gets it beside the run's scores; a block the report could not read is
    refused at validate, at the model's key, with the path inside the card."""
    scenario = user_mission(tmp_path, "uint8.onnx")
    card_path = scenario.parent / "models" / "uint8.json"
    card = json.loads(card_path.read_text())
    scores = {"f1": 0.91, "iou": 0.83, "fpr": 0.02, "recall": 0.93}
    card["properties"]["orbitedge:metrics"] = {"real_validation": {
        "data": "my 2 hand-labelled tiles", "tiles": {"a": {"fpr": 0.01}, "b": {"fpr": 0.03}}, "pooled": scores,
        "all Sentinel-2 MSI": dict(scores)}}
    card_path.write_text(json.dumps(card))
    params = cloud.CloudFilter.Params(model="models/uint8.onnx", overlap_px=16)  # the model's window: 48 px
    ctx = dataclasses.replace(CTX, scenario_dir=scenario.parent)
    carried = cloud.CloudFilter(params, ctx).model_card
    assert carried.synthetic_heldout is None  # a user's card says nothing of the synthetic world
    assert (carried.real_validation.data, carried.real_validation.tiles) == ("my 2 hand-labelled tiles", 2)
    assert carried.real_validation.worst_tile_fpr == 0.03 and carried.real_validation.pooled.f1 == 0.91
    assert cloud.CloudFilter.check_files(params, ctx.bands, scenario.parent) == []
    card["properties"]["orbitedge:metrics"]["real_validation"]["pooled"]["fpr"] = 2
    card_path.write_text(json.dumps(card))
    [problem] = cloud.CloudFilter.check_files(params, ctx.bands, scenario.parent)  # the card is refused as read:
    line = next(i + 1 for i, text in enumerate(card_path.read_text().splitlines()) if '"fpr": 2' in text)
    assert problem.path == "model" and (  # its STAC path and line, as every card problem
        f"bad model card (a STAC MLM Item): line {line}: properties.orbitedge:metrics.real_validation.pooled.fpr: "
        "expected a fraction 0..1, found 2; line ") in problem.found
    assert problem.found.endswith(  # card score, which writes the block, reads the card first: it cannot mend it
        "properties.orbitedge:metrics.real_validation: remove the block (orbitedge card score writes it again)")


def test_the_spectral_method_refuses_a_model_it_would_not_run():
    """A model named beside method: spectral would label the spectral test's scores as the model's."""
    params = cloud.CloudFilter.Params(method="spectral", model="models/uint8.tflite")
    (problem,) = cloud.CloudFilter.check(params, 0, ["cloud_filter"], ("B", "G", "R", "NIR"))
    assert problem.path == "model" and problem.found == "'models/uint8.tflite'"
    assert "no model with method: spectral" in problem.expected
    assert cloud.CloudFilter.check(cloud.CloudFilter.Params(method="spectral"), 0, ["cloud_filter"],
                                   ("B", "G", "R", "NIR")) == []


def test_a_relative_model_path_starts_at_the_scenario(tmp_path):
    params = cloud.CloudFilter.Params(model="models/uint8.tflite")
    user_model("uint8.tflite", tmp_path / "mission" / "models")
    (problem,) = cloud.CloudFilter.check_files(params, ("B", "G", "R", "NIR"), tmp_path / "elsewhere")
    assert problem.path == "model" and "elsewhere/models/uint8.tflite: no such model file" in problem.found
    assert scenario_path("models/uint8.tflite", tmp_path / "mission") == \
        tmp_path / "mission" / "models" / "uint8.tflite"


@pytest.mark.parametrize("edit, message", [
    ({"card": False}, "no model card (uint8.json) to check the camera's bands"),
    ({"task": "classification"}, "expected a segmentation model (task segmentation or semantic-segmentation), "
                                 "found "),
    ({"bands": "[R, G, B]"}, "properties.mlm:input[0].bands is ['B', 'G', 'R', 'NIR'] in the card but the "
                             "camera gives ['R', 'G', 'B']: no NIR (the model's bands are picked from the camera's by "
                             "name)"),
])
def test_a_users_model_that_does_not_fit_fails_validate_with_exit_2(tmp_path, monkeypatch, capsys, edit, message):
    scenario = user_mission(tmp_path, "uint8.onnx", **edit)
    monkeypatch.chdir(tmp_path)  # elsewhere: the model path starts at the scenario file
    capsys.readouterr()
    assert main(["validate", str(scenario)]) == 2
    err = capsys.readouterr().err
    assert "scenario.yaml:" in err and "pipeline[0].model: expected" in err and message in err
    assert "Traceback" not in err


def test_a_users_model_on_a_camera_with_its_bands_in_another_order_validates(tmp_path, monkeypatch, capsys):
    scenario = user_mission(tmp_path, "uint8.onnx", bands="[NIR, R, G, B]")  # carded B, G, R, NIR
    monkeypatch.chdir(tmp_path)
    assert main(["validate", str(scenario)]) == 0, capsys.readouterr().err


def test_a_users_small_window_flies_with_the_overlap_left_out(tmp_path, monkeypatch, capsys):
    """Left out, overlap_px is a quarter of a 48 px window, 12 px, as card score's: a fixed 32 failed validate at the
    `- stage:` line for every window of 64 px or less."""
    scenario = user_mission(tmp_path, "float16.onnx")
    scenario.write_text(scenario.read_text().replace(", overlap_px: 8", ""))
    monkeypatch.chdir(scenario.parent)
    assert main(["validate", str(scenario)]) == 0, capsys.readouterr().err
    stage = load_scenario(scenario).stages[0]
    assert stage.params.overlap_px is None
    ctx = dataclasses.replace(CTX, scenario_dir=scenario.parent)
    assert cloud.CloudFilter(stage.params, ctx).overlap_px == 12


def test_a_model_the_stage_cannot_use_is_named_at_the_key_it_is_about(tmp_path):
    """Each problem of a user's model in expected/found form at its key: overlap_px for the window it must fit, the
    model for a card with no benchmark block or an output whose classes name no cloud (a water model)."""
    scenario = user_mission(tmp_path, "uint8.onnx")
    model = scenario.parent / "models" / "uint8.onnx"
    card_path = model.with_suffix(".json")
    card = json.loads(card_path.read_text())
    del card["properties"]["orbitedge:benchmark"]
    card["properties"]["mlm:output"][0]["classification:classes"] = [{"name": "water", "value": 0},
                                                                       {"name": "land", "value": 1}]
    card_path.write_text(json.dumps(card, indent=2))
    params = cloud.CloudFilter.Params(model="models/uint8.onnx", overlap_px=30)  # the model's window: 48 px
    problems = cloud.CloudFilter.check_files(params, ("B", "G", "R", "NIR"), scenario.parent)
    [overlap] = [p for p in problems if p.path == "overlap_px"]
    assert overlap.found == "30" and overlap.expected == f"less than half the 48 px window of {model} (e.g. 12)"
    [shipped] = cloud.CloudFilter.check(cloud.CloudFilter.Params(overlap_px=128), 0, ["cloud_filter"],
                                        ("B", "G", "R", "NIR"))  # the same rule, in the same words
    assert (shipped.path, shipped.found) == ("overlap_px", "128")
    assert shipped.expected == "less than half the 256 px window of cloud_bgrn_int8 (e.g. 32)"
    models = [p for p in problems if p.path == "model"]
    assert len(problems) == 3 and [p.expected.split(" (")[0] for p in models] == [
        "one unnamed output channel, or the output's classes naming 'cloud'", "a card with a benchmark block"]
    assert "classes ['water', 'land']" in models[0].found and models[1].found.endswith("without one")


def test_a_model_that_is_no_square_per_pixel_map_is_named_with_its_shapes(tmp_path):
    """The sliding window takes square windows, and a classifier's (1, 2) scores are no map at all; card init refuses
    to card either (test_card_init), so their cards here are written by hand, as build_card makes them."""
    for name, onnx, task, shapes in (("wide", onnx_float16_nchw(32, 64), "segmentation", "[1, 32, 64, 4] in, "
                                      "[1, 32, 64, 2] out: a window of 32 x 64 px, not square (the stage slides square "
                                      "windows)"),
                                     ("frames", onnx_float16_nchw(per_frame=True), "classification",
                                      "[1, 48, 48, 4] in, [1, 2] out")):
        model = tmp_path / f"{name}.onnx"
        model.write_bytes(onnx)
        write_card(build_card(model, name=name, version="1", task=task, bands=("B", "G", "R", "NIR"),
                              scaling=Scaling("toa_reflectance", 1.0, 0.0), training={}, metrics={},
                              activation="softmax", form="stac", benchmark=True), model.with_suffix(".json"))
        problems = cloud.CloudFilter.check_files(cloud.CloudFilter.Params(model=model.name), ("B", "G", "R", "NIR"),
                                                 tmp_path)
        [shape] = [p for p in problems if p.expected.startswith("one square window in")]
        assert shape.path == "model" and shape.found.endswith(f"(card {model.with_suffix('.json')}): {shapes}")
        assert shape.expected == tiling.WINDOW_MAP


def test_a_super_resolution_model_in_the_cloud_filter_is_named_by_its_task_first(tmp_path):
    """Its card names the folded planes as bands: the stage said those were not the camera's bands, not that the
    model is for another task. It is refused by task first, as a classifier is, and no bands are compared."""
    model = tmp_path / "my_misr.tflite"
    model.write_bytes((MODEL_DIR / "superres_x2_int8.tflite").read_bytes())
    assert main(["card", "init", str(model), "--task", "super-resolution"]) == 0
    problems = cloud.CloudFilter.check_files(cloud.CloudFilter.Params(model=model.name), ("B", "G", "R", "NIR"),
                                             tmp_path)
    assert problems[0].path == "model" and problems[0].expected == ("a segmentation model (task segmentation or "
                                                                    "semantic-segmentation)")
    assert problems[0].found == (f"{model} (card {model.with_suffix('.json')}), task 'super-resolution' (the superres "
                                 "stage runs it)")
    assert not any("bands" in p.found or "camera" in p.found for p in problems)


def test_an_output_without_a_channel_axis_is_named_so_and_not_by_its_channels(tmp_path):
    """A (1, H, W) map: its last size is its width, no channel count to find 'cloud' among."""
    model = tmp_path / "squeezed.onnx"
    model.write_bytes(onnx_float16_nchw(outputs=1, squeezed=True))
    write_card(build_card(model, name="squeezed", version="1", task="segmentation", bands=("B", "G", "R", "NIR"),
                          scaling=Scaling("toa_reflectance", 1.0, 0.0), training={}, metrics={}, activation="sigmoid",
                          form="stac", benchmark=True), model.with_suffix(".json"))
    problems = cloud.CloudFilter.check_files(cloud.CloudFilter.Params(model=model.name), ("B", "G", "R", "NIR"),
                                             tmp_path)
    assert [p.expected for p in problems] == [tiling.WINDOW_MAP]
    assert problems[0].found.endswith("[1, 48, 48, 4] in, [1, 48, 48] out: the output [1, 48, 48] has no channel "
                                      "axis; expected (1, 48, 48, K) or NCHW (1, K, 48, 48), K = 1 for one cloud "
                                      "channel (keep that axis when exporting)")


def test_a_card_with_no_activation_for_a_model_that_gives_logits_fails_validate(tmp_path, monkeypatch, capsys):
    """The stage would clip logits to 0..1: every pixel past logit 1 is cloud at any threshold, every one below 0
    clear, and the PR curve flat."""
    scenario = user_mission(tmp_path, "uint8.tflite")
    card_path = scenario.parent / "models" / "uint8.json"
    card = json.loads(card_path.read_text())
    card["properties"]["mlm:output"][0]["post_processing_function"] = None
    card_path.write_text(json.dumps(card, indent=2))
    monkeypatch.chdir(tmp_path)  # elsewhere: the model path starts at the scenario file
    capsys.readouterr()
    assert main(["validate", str(scenario)]) == 2
    err = capsys.readouterr().err
    assert ("pipeline[0].model: expected a card naming the activation that makes probabilities of the outputs "
            "(none for outputs in 0..1, sigmoid for one channel of logits, softmax for one per class: orbitedge card "
            "init --activation), found "
            f"{card_path.with_suffix('.tflite')} (card {card_path}): its outputs on test inputs reach -3.68 to 14.1, "
            "beyond 0..1 by more than one step of its uint8 output (0.082): logits") in err


def test_a_card_whose_scaling_the_int8_input_cannot_hold_fails_validate(tmp_path, monkeypatch, capsys):
    """The card's scale edited to 255 (value_scaling scale 1/255), as for a model calibrated on 0..255: the model's
    uint8 input holds TOA reflectance 0..1.1, so everything past 0.0043 reads as its top code, cloud and ground."""
    scenario = user_mission(tmp_path, "uint8.tflite")
    card_path = scenario.parent / "models" / "uint8.json"
    card = json.loads(card_path.read_text())
    card["properties"]["mlm:input"][0]["value_scaling"] = [{"type": "scale", "value": 1 / 255}]
    card_path.write_text(json.dumps(card, indent=2))
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["validate", str(scenario)]) == 2
    err = capsys.readouterr().err
    assert ("pipeline[0].model: expected a card whose scaling makes inputs the model's integer input keeps apart (the "
            "scale and offset it was calibrated for: orbitedge card init --scale, --offset), found "
            f"{card_path.with_suffix('.tflite')} (card {card_path}): its uint8 input holds 0 to 1.1 ") in err
    assert "dark ground (0.05) and cloud (0.9) both read as code 255, so the model cannot tell them apart" in err


def test_a_card_that_lies_about_the_model_names_the_field_and_its_line(tmp_path, monkeypatch, capsys):
    scenario = user_mission(tmp_path, "float16.onnx")
    card_path = scenario.parent / "models" / "float16.json"
    card = json.loads(card_path.read_text())
    card["properties"]["mlm:input"][0]["input"]["data_type"] = "float32"
    card_path.write_text(json.dumps(card, indent=2))
    line = next(i + 1 for i, text in enumerate(card_path.read_text().splitlines()) if '"data_type": "float32"' in text)
    monkeypatch.chdir(tmp_path)  # elsewhere: the model path starts at the scenario file
    assert main(["validate", str(scenario)]) == 2
    assert (f"line {line}: properties.mlm:input[0].input.data_type is float32 in the card but float16 in the model"
            in capsys.readouterr().err)


@pytest.mark.parametrize("method", ["model", "spectral"])
def test_the_spectral_baseline_for_the_report_is_made_once_a_burst_and_kept_out_of_measured_time(method, monkeypatch):
    """Beside the model, the spectral test runs only for the report's baseline, which keeps frame 0's: it ran on
    every frame of a burst (5 % of the stage's measured time in a trial), and counted as on-board work. Now it runs
    once, timed as scoring work; the spectral method still tests every frame, all of it on-board work."""
    from onboard.pipeline.tile import Tile, Work

    calls = []

    def counted(reflectance, bands):
        calls.append(reflectance.shape)
        return real(reflectance, bands)

    real = cloud.spectral.cloud_mask
    monkeypatch.setattr(cloud.spectral, "cloud_mask", counted)
    frame = synthetic_frame()
    stack = np.stack([np.roll(frame.dn, 3 * k, axis=1) for k in range(4)])  # a burst of 4, (K, H, W, B)
    work = Work(frame=frame, tiles=[Tile(dn=stack, row0=0, col0=0)])
    cloud.CloudFilter(cloud.CloudFilter.Params(tile_px=128, method=method), CTX).process(work)
    assert len(calls) == (1 if method == "model" else 4)
    assert ("cloud_filter" in work.scoring_wall_s) == (method == "model")
    np.testing.assert_array_equal(work.evaluation["spectral_cloud"], real(stack[0] * np.float32(CTX.reflectance_per_dn),
                                                                          CTX.bands))
