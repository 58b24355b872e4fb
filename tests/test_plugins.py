"""Stage plugins (onboard/pipeline/plugins.py): a distribution's entry point in the group ``orbitedge.stages`` adds a stage,
found by importlib.metadata as pip would leave it (a ``*.dist-info`` directory with an ``entry_points.txt`` on
sys.path, made here in a temporary directory: nothing is installed into the environment), validated like a
built-in stage, and flown: the example scene triage classifier of examples/plugin_stage drops whole cloudy frames,
and the ledger accounts for every frame. A plugin that cannot load is named with its distribution."""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pystac
import pytest
from pystac.validation.stac_validator import JsonSchemaSTACValidator

from app.cli import main
from ground.document import fmt_fraction
from onboard.pipeline import runner, stages
from onboard.scenario.config import StageConfig, key_table, load_scenario, plugin_key_table
from onboard.pipeline.plugins import GROUP, PluginError, installed
from onboard.runtime.model import Model
from rundir.errors import ConfigError

ROOT = Path(__file__).parents[1]
EXAMPLE = ROOT / "examples" / "plugin_stage"
SCENARIO = EXAMPLE / "scenario.yaml"
TRIAGE = "scene_triage = orbitedge_scene_triage.triage:SceneTriage"
SMALL = ("duration_h=10", "spacecraft.camera.width_px=256", "spacecraft.camera.height_px=256")  # 85 frames
CTX = stages.Context(bands=("B", "G", "R", "NIR"), bit_depth=12, reflectance_per_dn=1.2 / 4095, cpu_relative=1.0,
                       int8_conv_relative=1.0)


def dist_info(where: Path, name: str, version: str, entry_points: list[str]) -> Path:
    """A distribution's metadata as pip installs it: ``where/NAME-VERSION.dist-info`` with METADATA and
    entry_points.txt (group GROUP); ``where`` is returned, for sys.path."""
    info = where / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n" + "".join(f"{e}\n" for e in entry_points))
    return where


@pytest.fixture
def on_path():
    """Put directories on sys.path for one test; they, and the modules imported from them, go again after it."""
    added: list[str] = []
    before = set(sys.modules)

    def add(*paths: Path) -> None:
        for path in paths:
            sys.path.insert(0, str(path))
            added.append(str(path))

    yield add
    for path in added:
        sys.path.remove(path)
    for name in set(sys.modules) - before:
        if any(str(getattr(sys.modules[name], "__file__", None)).startswith(path) for path in added):
            del sys.modules[name]


@pytest.fixture
def triage_installed(tmp_path, on_path):
    """The example plugin as ``pip install -e examples/plugin_stage`` leaves it: its metadata in a site directory and
    its source directory on sys.path."""
    on_path(dist_info(tmp_path / "site", "orbitedge-scene-triage", "0.1.0", [TRIAGE]), EXAMPLE)


def scenario(tmp_path: Path, pipeline_text: str) -> Path:
    """The example scenario with another pipeline section, written to tmp_path."""
    text = SCENARIO.read_text()
    path = tmp_path / "s.yaml"
    path.write_text(text[:text.index("pipeline:")] + "pipeline:\n" + pipeline_text)
    return path


def test_the_plugin_is_found_through_its_entry_point_and_only_while_on_the_path(tmp_path, on_path):
    site = dist_info(tmp_path / "site", "orbitedge-scene-triage", "0.1.0", [TRIAGE])
    on_path(site, EXAMPLE)
    plugin = installed()["scene_triage"]
    assert (plugin.value, plugin.distribution) == (TRIAGE.split(" = ")[1], "orbitedge-scene-triage 0.1.0")
    cls = runner.stage_class("scene_triage")
    assert cls.__module__ == "orbitedge_scene_triage.triage" and runner.stage_classes()["scene_triage"] is cls
    assert "scene_triage" not in runner.builtin_stage_classes()
    sys.path.remove(str(site))  # uninstalled: its metadata gone, the module still importable
    assert "scene_triage" not in installed() and "scene_triage" not in runner.stage_classes()
    sys.path.insert(0, str(site))  # for on_path to take away


def test_the_built_in_key_table_stays_the_same_and_the_plugin_gets_its_own(tmp_path, on_path):
    without = key_table()
    on_path(dist_info(tmp_path / "site", "orbitedge-scene-triage", "0.1.0", [TRIAGE]), EXAMPLE)
    assert key_table() == without
    rows = plugin_key_table().splitlines()
    assert rows[:2] == ["| plugin stage | parameter | type | default | meaning |", "|---|---|---|---|---|"]
    ours = [r for r in rows if r.startswith("| `scene_triage` (orbitedge-scene-triage 0.1.0) | ")]
    assert [r.split(" | ")[1:4] for r in ours] == [["`model`", "a string", "auto"], ["`discard`", "a string", "cloudy"],
                                                   ["`confidence`", "a number", "0.8"]]


def test_an_unknown_stage_lists_the_built_in_and_the_plugin_stages(tmp_path, triage_installed):
    with pytest.raises(ConfigError) as err:
        load_scenario(scenario(tmp_path, "  - stage: triage\n  - stage: encode\n"))
    (issue,) = err.value.issues
    text = SCENARIO.read_text()
    assert (issue.path, issue.line) == ("pipeline[0].stage", text[:text.index("pipeline:")].count("\n") + 2)
    assert issue.expected == ("one of bent_pipe, cloud_filter, encode, superres, or a stage plugin's (entry-point "
                              "group orbitedge.stages: scene_triage (orbitedge-scene-triage 0.1.0))")
    assert issue.found == "str 'triage'"


def test_the_plugin_stages_parameters_are_validated_like_built_in_ones(tmp_path, triage_installed):
    first = SCENARIO.read_text().split("pipeline:")[0].count("\n") + 2  # the line of the first pipeline item

    def problems(pipeline_text: str) -> set[tuple[str, int, str, str]]:
        with pytest.raises(ConfigError) as err:
            load_scenario(scenario(tmp_path, pipeline_text))
        return {(i.path, i.line - first, i.expected, i.found) for i in err.value.issues}

    # field rules and unknown keys, next to a built-in stage's order rule
    assert problems("  - stage: encode\n  - stage: scene_triage\n    confidence: 1.5\n    threads: 2\n"
                    "  - stage: bent_pipe\n") == {
        ("pipeline[0].stage", 0, "an encoder (encode) only as the last stage", "at position 1 of 3"),
        ("pipeline[1].confidence", 2, "a value < 1", "float 1.5"),
        ("pipeline[1].threads", 3, "one of the keys model, discard, confidence", "unknown key 'threads'")}
    # the stage's own rules: against its model's card, its place in the pipeline, the files it reads
    assert problems("  - stage: scene_triage\n    discard: ocean\n  - stage: encode\n") == {
        ("pipeline[0].discard", 1, "one of the model's classes ['clear', 'cloudy'] (scene_triage_int8.tflite)",
         "'ocean'")}
    assert problems("  - stage: encode\n    format: tiff\n  - stage: scene_triage\n  - stage: bent_pipe\n") >= {
        ("pipeline[1].stage", 2, "scene_triage as the first stage (it judges whole frames)",
         "at position 2, after encode")}
    assert problems("  - stage: scene_triage\n    model: nets/mine.tflite\n  - stage: encode\n") == {
        ("pipeline[0].model", 1, "a model file that loads and matches its card and the camera's bands",
         f"{tmp_path / 'nets' / 'mine.tflite'}: no such model file")}
    text = SCENARIO.read_text().replace("bands: [B, G, R, NIR]", "bands: [B, G, R]")
    (tmp_path / "rgb.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"pipeline\[0\]\.model: .*mlm:input\[0\]\.bands is .* in the card but the camera gives \['B', 'G', 'R'\]"):
        load_scenario(tmp_path / "rgb.yaml")


@pytest.mark.parametrize("entry_point, problem", [
    ("broken = broken_plugin_absent.stage:Broken", "failed to import: ModuleNotFoundError: No module named "
                                                   "'broken_plugin_absent'"),
    ("broken = broken_plugin_raises:Broken", "failed to import: ZeroDivisionError: division by zero"),
    ("broken = broken_plugin_raises_not:NOT_A_STAGE", "expected a subclass of onboard.pipeline.stages.Stage, found 42"),
    ("broken = broken_plugin_raises_not:Misnamed", "expected the class's name attribute to be the entry point's name "
                                                   "'broken', found 'other'"),
    # Params a scenario cannot give: a traceback at validate, and no key table for any plugin
    ("broken = broken_plugin_raises_not:SetParam", "expected SetParam.Params to hold what a scenario's YAML can give, "
                                                   "found field names: type set[str] (one of bool, int, float"),
    ("broken = broken_plugin_raises_not:Unresolved", "expected Unresolved.Params to hold what a scenario's YAML can "
                                                     "give, found its annotations do not resolve: NameError: name "
                                                     "'Path' is not defined"),
])
def test_a_plugin_that_cannot_load_is_named_with_its_distribution(tmp_path, on_path, capsys, entry_point, problem):
    site = dist_info(tmp_path / "site", "broken-plugin", "0.0.1", [entry_point])
    (site / "broken_plugin_raises.py").write_text("1 / 0\n")
    (site / "broken_plugin_raises_not.py").write_text(
        "from __future__ import annotations\nimport dataclasses\nfrom typing import TYPE_CHECKING\n"
        "from onboard.pipeline.stages import Stage\nif TYPE_CHECKING:\n    from pathlib import Path\n"
        "NOT_A_STAGE = 42\nclass Misnamed(Stage):\n    name = 'other'\n"
        "class SetParam(Stage):\n    name = 'broken'\n    @dataclasses.dataclass(frozen=True)\n    class Params:\n"
        "        names: set[str] = dataclasses.field(default_factory=set)\n"
        "class Unresolved(Stage):\n    name = 'broken'\n    @dataclasses.dataclass(frozen=True)\n    class Params:\n"
        "        weights: Path | None = None\n")
    on_path(site)
    named = f"stage plugin '{entry_point}' (entry point group {GROUP}, distribution broken-plugin 0.0.1): {problem}"
    with pytest.raises(PluginError) as err:
        runner.stage_classes()
    assert str(err.value).startswith(named)
    assert f"| `broken` (broken-plugin 0.0.1) | | | | not loaded: {named}" in plugin_key_table()  # not a traceback
    # a scenario that does not name the broken stage still validates; one that names it gets the plugin's error
    assert main(["validate", str(scenario(tmp_path, "  - stage: encode\n"))]) == 0
    assert main(["validate", str(scenario(tmp_path, "  - stage: broken\n  - stage: encode\n"))]) == 2
    err = capsys.readouterr().err
    assert named in err and "pipeline[0].stage: expected a stage plugin that loads" in err and "Traceback" not in err


def test_a_plugin_may_not_take_a_built_in_stages_name_and_stops_only_the_scenarios_that_name_it(tmp_path, on_path,
                                                                                                 capsys):
    """It stopped every scenario, and the plugin table, whichever stages they named."""
    on_path(dist_info(tmp_path / "site", "impostor", "1.0", ["encode = impostor:Encode"]))
    with pytest.raises(PluginError, match="distribution impostor 1.0.*expected a stage name no built-in stage has"):
        runner.stage_class("encode")
    assert main(["validate", str(scenario(tmp_path, "  - stage: bent_pipe\n"))]) == 0
    assert main(["validate", str(scenario(tmp_path, "  - stage: encode\n"))]) == 2
    err = capsys.readouterr().err
    assert ("pipeline[0].stage: expected a stage plugin that loads, found stage plugin 'encode = impostor:Encode' "
            "(entry point group orbitedge.stages, distribution impostor 1.0): expected a stage name no built-in stage "
            "has, found 'encode'") in err
    assert "not loaded: stage plugin 'encode = impostor:Encode'" in plugin_key_table()


def test_a_stage_two_distributions_declare_stops_only_the_scenarios_that_name_it(tmp_path, on_path):
    on_path(dist_info(tmp_path / "a", "first", "1.0", ["twice = first_mod:Stage"]),
            dist_info(tmp_path / "b", "second", "2.0", ["twice = second_mod:Stage"]))
    with pytest.raises(PluginError) as err:
        runner.stage_class("twice")
    assert "expected one distribution to declare stage 'twice', found also 'twice = " in str(err.value)
    assert "distribution first 1.0" in str(err.value) and "distribution second 2.0" in str(err.value)
    assert main(["validate", str(scenario(tmp_path, "  - stage: encode\n"))]) == 0




def test_the_shipped_classifier_is_a_valid_card_and_scores_as_its_card_says(triage_installed):
    from orbitedge_scene_triage.triage import MODEL, thumbnail
    from training.cloud_data import make_frames

    item = pystac.Item.from_file(str(MODEL.with_suffix(".json")))
    JsonSchemaSTACValidator().validate_core(item.to_dict(), pystac.STACObjectType.ITEM, "1.1.0")
    model = Model(MODEL, bands=("B", "G", "R", "NIR"))  # checks shapes, dtypes, size and sha256 against the card
    card = model.card
    assert (card.task, card.outputs[0].classes, card.outputs[0].activation) == ("classification", ("clear", "cloudy"),
                                                                                 "softmax")
    assert model.input_shape == (1, 32, 32, 4) and model.input_dtype == np.int8 and model.output_dtype == np.int8
    assert card.metrics["heldout"]["accuracy"] >= 0.9 and card.size_bytes < 50_000
    # frames the card's held-out scores never saw (another seed), through the stage's own thumbnail
    frames = make_frames("heldout", 40, 128, seed=99, oversample_bright=False)
    cloudy = frames.label.mean(axis=(1, 2)) > card.training["cloudy_above_cloud_fraction"]
    p_cloudy = np.array([card.outputs[0].activate(model.predict(thumbnail(t.astype(np.float32), 32)))[1]
                         for t in frames.bands(("B", "G", "R", "NIR"))])
    assert ((p_cloudy >= 0.5) == cloudy).mean() >= 0.85


def triage_pipeline(**params):
    """scene_triage (the shipped classifier, ``params``) then a PNG encoder, on the camera of the example."""
    configs = (StageConfig(name="scene_triage", params=runner.stage_class("scene_triage").Params(**params)),
               StageConfig(name="encode", params=stages.Encode.Params()))
    return runner.Pipeline(configs, CTX)


def held_out_dn(count: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Held-out frames of the synthetic world as the camera's 12-bit DN (N, 128, 128, 4), and their cloud fraction."""
    from training.cloud_data import make_frames

    frames = make_frames("heldout", count, 128, seed=5, oversample_bright=False)
    dn = np.clip(np.round(frames.bands(("B", "G", "R", "NIR")).astype(np.float32) / CTX.reflectance_per_dn), 0, 4095)
    return dn.astype(np.uint16), frames.label.mean(axis=(1, 2))


def test_a_cloudy_frame_or_burst_is_discarded_whole_and_goes_through_no_later_stage(triage_installed):
    from orbitedge_scene_triage.triage import THUMBNAIL_SAMPLES_PER_S

    dn, fraction = held_out_dn()
    overcast, clear = dn[np.argmax(fraction)], dn[np.argmin(fraction)]
    assert fraction.max() > 0.95 and fraction.min() < 0.05
    triage = triage_pipeline()
    latency_s = triage.stages[0].model.card.host_latency_s
    work = triage.run(SimpleNamespace(frame_id="f0", dn=overcast))
    assert work.discarded == "cloudy" and work.tiles == [] and work.stages == ["scene_triage"]
    assert [reason for _, reason in work.dropped] == ["cloudy"] and work.dropped[0][0].dn is overcast
    assert work.sim_s == pytest.approx(overcast.size / THUMBNAIL_SAMPLES_PER_S + latency_s)
    work = triage.run(SimpleNamespace(frame_id="f1", dn=clear))
    assert work.discarded is None and work.stages == ["scene_triage", "encode"] and work.encoded
    burst = np.stack([overcast] * 3)  # K frames of one capture: judged on their mean probabilities
    work = triage.run(SimpleNamespace(frame_id="f2", dn=overcast, burst=SimpleNamespace(lr_dn=burst, k=3)))
    assert work.discarded == "cloudy" and work.dropped[0][0].dn.shape == (3, 128, 128, 4)
    assert work.sim_s == pytest.approx(burst.size / THUMBNAIL_SAMPLES_PER_S + 3 * latency_s)
    # the confidence threshold: a frame is dropped only when the discard label is at least that probable
    p_cloudy = float(triage.stages[0].probabilities(overcast)[1])
    for confidence, discarded in ((p_cloudy - 0.01, "cloudy"), (p_cloudy + 0.01, None)):
        assert triage_pipeline(confidence=confidence).run(SimpleNamespace(frame_id="f3", dn=overcast)).discarded == discarded


def truth_clear_pixels_lost(run_dir: Path, ledger: list[dict]) -> float:
    """Clear pixels lost, computed here from the run directory alone: over the frames the pipeline finished with
    (nothing on board, nothing lost to storage), the truly clear pixels (truth: valid, cloud 0) that no delivered
    image tile covers (every tile of these runs is whole, unmasked, at the camera's scale), over all of them."""
    assert all(set(row["dropped_by_reason"]) <= {"cloudy"} for row in ledger)  # no storage loss in these runs
    finished = {row["frame_id"] for row in ledger if row["status"] != "on_board"}
    covered = {}
    for line in map(json.loads, (run_dir / "downlink" / "manifest.jsonl").read_text().splitlines()):
        (frame_id,) = line["frame_ids"]
        assert line["kind"] == "image" and not line.get("masked") and line.get("scale", 1) == 1
        with np.load(run_dir / "truth" / f"{frame_id}.npz") as truth:
            mask = covered.setdefault(frame_id, np.zeros(truth["cloud"].shape, bool))
        t = line["tile"]
        mask[t["row0"]:t["row0"] + t["height"], t["col0"]:t["col0"] + t["width"]] = True
    clear = lost = 0
    for frame_id in finished:
        with np.load(run_dir / "truth" / f"{frame_id}.npz") as truth:
            truly_clear = truth["valid"] & (truth["cloud"] == 0)
        clear += int(truly_clear.sum())
        lost += int((truly_clear & ~covered.get(frame_id, np.zeros_like(truly_clear))).sum())
    return lost / clear


def test_a_triage_then_cloud_filter_mission_reports_what_each_stage_dropped(tmp_path, triage_installed):
    """scene_triage discards cloudy frames whole, the cloud filter drops cloudy tiles of the rest: the report
    builds, every frame is accounted for, the cloud section scores only what the cloud filter saw and counts the
    frames discarded before it, and this run's clear pixels lost is the truth's figure over every finished frame."""
    out = tmp_path / "run"
    path = scenario(tmp_path, "  - stage: scene_triage\n  - stage: cloud_filter\n    tile_px: 64\n"
                              "  - stage: encode\n")
    assert main(["run", str(path), "--out", str(out), "--quiet", "--workers", "0",
                 *[a for s in SMALL for a in ("--set", s)]]) == 0
    report = json.loads((out / "report.json").read_text())
    ledger = [json.loads(line) for line in (out / "telemetry" / "ledger.jsonl").read_text().splitlines()]
    processing = [json.loads(line) for line in (out / "telemetry" / "processing.jsonl").read_text().splitlines()]
    summary = report["ledger"]
    assert summary["balanced"] and summary["captured"] == len(ledger) == len(processing)
    triaged = {r["frame_id"] for r in processing if r["stages"] == ["scene_triage"]}
    filtered = {r["frame_id"] for r in processing if r["stages"][:2] == ["scene_triage", "cloud_filter"]}
    assert triaged and filtered and len(triaged) + len(filtered) == len(processing)
    # a frame the cloud filter left no tile of goes through no later stage: it has no product to encode
    emptied = {r["frame_id"] for r in processing if r["stages"] == ["scene_triage", "cloud_filter"]}
    assert all(row["products_delivered"] == 0 for row in ledger if row["frame_id"] in emptied)
    # what the classifier dropped was mostly cloud in the truth, and no clear frame was dropped
    fraction = {}
    for frame_id in {r["frame_id"] for r in processing}:
        with np.load(out / "truth" / f"{frame_id}.npz") as truth:
            fraction[frame_id] = float(((truth["cloud"] == 1) | (truth["cloud"] == 2)).mean())
    assert min(fraction[f] for f in triaged) > 0.5
    assert all(f not in triaged for f in fraction if fraction[f] < 0.1)
    assert report["bandwidth"]["saved_fraction"] > 0
    for row in ledger:  # a triaged frame: its one product dropped whole, with the classifier's label as reason
        if row["frame_id"] in triaged:
            assert (row["status"], row["reason"], row["dropped_by_reason"]) == ("dropped", "cloudy", {"cloudy": 1})
    # the ledger says which stage decided each drop: whole frames by the classifier, tiles by the cloud filter
    for row in ledger:
        decided = row["decided_by_stage"]
        assert sum(n for by in decided.values() for n in by.values()) == row["products_dropped"]
        assert set(decided) <= ({"scene_triage"} if row["frame_id"] in triaged else {"cloud_filter"}) and (
            row["frame_id"] not in triaged or decided)
    by_stage = summary["products_decided_by_stage"]
    assert by_stage["scene_triage"] == {"cloudy": len(triaged)} and by_stage["cloud_filter"]["cloudy"] > 0
    assert summary["products_lost_by_reason"] == {}
    # the cloud section scores the frames the cloud filter saw, and counts those discarded before it
    finished = {r["frame_id"] for r in ledger if r["status"] != "on_board"}
    cloud = report["cloud"]
    assert cloud["frames_scored"] == len(filtered & finished) > 0
    earlier = cloud["frames_discarded_earlier"]
    assert earlier["frames"] == len(triaged) and earlier["by_stage"] == {"scene_triage": len(triaged)}
    with_truth = {}
    for frame_id in finished:
        with np.load(out / "truth" / f"{frame_id}.npz") as truth:
            with_truth[frame_id] = int((truth["valid"] & (truth["cloud"] == 0)).sum())
    assert earlier["clear_pixels_fraction"] == pytest.approx(
        sum(with_truth[f] for f in triaged) / sum(with_truth.values()), abs=1e-6)
    # this run loses what both stages withheld; the cloud filter's own row is not set on frames it never saw
    rows = {r["pipeline"]: r for r in report["comparison"]["rows"]}
    lost = truth_clear_pixels_lost(out, ledger)
    assert rows["this_run"]["clear_pixels_lost_fraction"] == pytest.approx(lost, abs=1e-6)
    assert lost > cloud["clear_pixels_lost_fraction"]
    assert rows["cloud_filter"]["clear_pixels_lost_fraction"] is None and rows["cloud_filter"]["bytes"] is None
    assert report["verdict"].startswith("On-board AI (scene_triage > cloud_filter > encode) sends ")
    # which weights each model stage ran, the plugin's too
    from orbitedge_scene_triage.triage import MODEL

    models = json.loads((out / "telemetry" / "run.json").read_text())["models"]
    triage = Model(MODEL).card
    assert models["scene_triage"] == {"file": MODEL.stem, "name": triage.name, "version": triage.version,
                                      "sha256": triage.sha256}
    assert set(models) == {"scene_triage", "cloud_filter"}
    assert f"loses {fmt_fraction(rows['this_run']['clear_pixels_lost_fraction'])} of clear ground" in report["verdict"]
    md = (out / "report.md").read_text()
    assert f"{len(triaged)} finished frames were discarded whole before the cloud filter saw them, by scene_triage " \
           f"({len(triaged)})" in md


def test_a_plugin_written_from_the_earlier_example_still_imports():
    """scenario_path and CAMERA_SOURCES moved to onboard.scenario.config_files and onboard.runtime.scaling; a plugin
    that imports them where the example did still loads."""
    from onboard.pipeline.stages import scenario_path
    from onboard.runtime.modelcard import CAMERA_SOURCES
    from onboard.runtime.scaling import CAMERA_SOURCES as camera_sources
    from onboard.scenario.config_files import scenario_path as path_rule

    assert scenario_path is path_rule and CAMERA_SOURCES is camera_sources
