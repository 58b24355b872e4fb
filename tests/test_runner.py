"""The configured pipeline (onboard/pipeline/runner.py): stages found by name, checked against the whole pipeline,
and run in order, a new stage plugged in without touching the simulation; a plugin's stage that fails (in a check,
its constructor, process or cost_s) is named with its plugin and stops the run with its partial report."""

import dataclasses
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from onboard.pipeline import runner, stages
from onboard.pipeline.tile import Tile
from rundir import codec
from benchmarks.same_behaviour import compare_runs
from tests.test_plugins import dist_info, on_path, scenario  # noqa: F401 (on_path: a fixture)
from tests.test_stages import CTX, build, frame


class Quarters(stages.Stage):
    """Splits a frame into four tiles and drops the first as if it were cloudy."""

    name = "test_quarters"

    @dataclass(frozen=True)
    class Params:
        pass

    def process(self, work):
        (t,) = work.tiles
        h, w = t.dn.shape[0] // 2, t.dn.shape[1] // 2
        tiles = [Tile(t.dn[r:r + h, c:c + w], r, c) for r in (0, h) for c in (0, w)]
        work.dropped.append((tiles[0], "cloudy"))
        work.tiles = tiles[1:]

    def cost_s(self, work):
        return 0.5


def test_a_new_stage_runs_by_name_and_its_drops_are_its_decisions(monkeypatch):
    shipped = runner.builtin_stage_classes
    monkeypatch.setattr(runner, "builtin_stage_classes", lambda: {**shipped(), Quarters.name: Quarters})
    work = build(("test_quarters", {}), ("encode", {"format": "png"})).run(frame())
    assert [(t.row0, t.col0) for t in work.tiles] == [(0, 48), (32, 0), (32, 48)]
    assert work.dropped[0][1] == "cloudy" and work.stages == ["test_quarters", "encode"]
    assert work.dropped_by == ["test_quarters"]  # the drop is that stage's decision, for the ledger
    assert work.sim_s > 0.5


class DropAll(Quarters):
    """Drops every tile as cloudy, as a cloud filter does over an overcast frame (without discarding the frame)."""

    name = "test_drop_all"

    def process(self, work):
        work.dropped += [(tile, "cloudy") for tile in work.tiles]
        work.tiles = []


def test_a_frame_with_no_tile_left_goes_through_no_later_stage(monkeypatch):
    """A super-resolution stage after a cloud filter that dropped every tile fused the whole burst and was charged
    0.34 s of simulated compute for a frame with nothing to send."""
    shipped = runner.builtin_stage_classes
    monkeypatch.setattr(runner, "builtin_stage_classes", lambda: {**shipped(), DropAll.name: DropAll})
    work = build(("test_drop_all", {}), ("encode", {"format": "png"})).run(frame())
    assert work.stages == ["test_drop_all"] and work.tiles == [] and work.sim_s == pytest.approx(0.5)
    assert [reason for _, reason in work.dropped] == ["cloudy"] and work.dropped_by == ["test_drop_all"]


def test_the_shipped_stages_are_listed_in_one_place_and_importing_the_config_loads_no_model_code():
    code = ("import sys, onboard.scenario.config; from onboard.pipeline import runner; "
            "before = sorted(m for m in ('onboard.pipeline.cloud', 'onboard.pipeline.superres', 'onboard.runtime.model') if m in sys.modules); "
            "print(before, list(runner.builtin_stage_classes()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("] [")
    assert out[0] == "[" and out[1].strip() == "'bent_pipe', 'encode', 'cloud_filter', 'superres']"
    # the stages orbitedge ships, whatever plugins are installed (pip install -e examples/plugin_stage adds one)
    assert {cls.__module__ for cls in runner.builtin_stage_classes().values()} == {
        "onboard.pipeline.stages", "onboard.pipeline.cloud", "onboard.pipeline.superres"}


def test_an_unknown_stage_is_a_key_error_and_an_encoder_must_come_last():
    with pytest.raises(KeyError):
        runner.stage_class("no_such_stage")
    configs = build(("encode", {"format": "png"}), ("bent_pipe", {})).stages
    issues = runner.check_stage(configs[0], 0, configs, CTX.bands)
    assert [(i.path, i.expected) for i in issues] == [("stage", "an encoder (encode) only as the last stage")]


FAULTY = '''"""Stage plugins that fail: in process() or cost_s() on frame f00002 only, in __init__, in check_files."""
from dataclasses import dataclass

from onboard.pipeline.stages import Stage


class Faulty(Stage):
    @dataclass(frozen=True)
    class Params:
        pass

    def process(self, work):
        pass

    def cost_s(self, work):
        return 0.001


class Process(Faulty):
    name = "faulty_process"

    def process(self, work):
        if work.frame.frame_id.endswith("f00002"):
            raise RuntimeError("exploded in process()")


class Cost(Faulty):
    name = "faulty_cost"

    def cost_s(self, work):
        return float("nan") if work.frame.frame_id.endswith("f00002") else 0.001


class Slow(Process):
    name = "faulty_slow"

    def cost_s(self, work):
        return 600.0  # s: the frames queue for the computer, so the fault comes long after its frame's capture


class Output(Faulty):
    """On the third frame, leaves behind what the stages after it cannot take, as ``work.frame`` picks by the
    stage's name: two of the four bands, no tiles and no drop, a drop named as the ledger's own losses, arrays for
    tiles."""

    def process(self, work):
        if not work.frame.frame_id.endswith("f00002"):
            return
        if self.name == "faulty_bands":
            for tile in work.tiles:
                tile.dn = tile.dn[..., :2]
        elif self.name == "faulty_forget":
            work.tiles = []
        elif self.name == "faulty_reason":
            work.dropped += [(tile, "storage_full") for tile in work.tiles]
            work.tiles = []
        else:
            work.tiles = [tile.dn for tile in work.tiles]


class Bands(Output):
    name = "faulty_bands"


class Forget(Output):
    name = "faulty_forget"


class Reason(Output):
    name = "faulty_reason"


class Arrays(Output):
    name = "faulty_arrays"


class Init(Faulty):
    name = "faulty_init"

    def __init__(self, params, ctx):
        raise ValueError("exploded in __init__")


class Check(Faulty):
    name = "faulty_check"

    @classmethod
    def check_files(cls, params, bands, scenario_dir):
        raise KeyError("exploded in check_files")
'''
FAULTY_STAGES = {"faulty_process": "Process", "faulty_cost": "Cost", "faulty_slow": "Slow", "faulty_init": "Init",
                 "faulty_check": "Check", "faulty_bands": "Bands", "faulty_forget": "Forget",
                 "faulty_reason": "Reason", "faulty_arrays": "Arrays"}


def faulty_plugin(name: str) -> str:
    """How messages name the faulty plugin's stage ``name``: its entry point and distribution."""
    return (f"stage plugin '{name} = faulty_stages:{FAULTY_STAGES[name]}' (entry point group orbitedge.stages, "
            "distribution faulty-stages 0.1)")


@pytest.fixture
def faulty_installed(tmp_path, on_path):
    """The faulty stages as an installed distribution (test_plugins.dist_info), for this test only."""
    site = dist_info(tmp_path / "site", "faulty-stages", "0.1",
                     [f"{name} = faulty_stages:{cls}" for name, cls in FAULTY_STAGES.items()])
    (site / "faulty_stages.py").write_text(FAULTY)
    on_path(site)


SHORT = ("start_utc=2026-06-21T08:00:00Z", "duration_h=1.5", "spacecraft.camera.width_px=128",
         "spacecraft.camera.height_px=128")  # the example scenario's first pass over Europe, small frames


def faulty_run(tmp_path: Path, stage: str, workers: int) -> tuple[int, Path]:
    """``orbitedge run`` of the example scenario with ``stage`` before a PNG encoder: exit status and run directory."""
    out = tmp_path / "run"
    path = scenario(tmp_path, f"  - stage: {stage}\n  - stage: encode\n")
    status = main(["run", str(path), "--out", str(out), "--quiet", "--workers", str(workers),
                   *[a for s in SHORT for a in ("--set", s)]])
    return status, out


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("stage, problem", [
    ("faulty_process", "process() on frame sso-1-f00002: raised RuntimeError: exploded in process()"),
    ("faulty_cost", "cost_s() on frame sso-1-f00002: expected a finite number of seconds >= 0, found nan"),
    # what a plugin leaves that a later stage cannot take: that stage failed with a traceback naming no plugin
    ("faulty_bands", "process() on frame sso-1-f00002: expected each image tile's dn to be (h, w, 4) or (K, h, w, 4) "
                     "uint16, found uint16 (128, 128, 2)"),
    ("faulty_forget", "process() on frame sso-1-f00002: left no tile and dropped none: drop tiles with their reason "
                      "(work.dropped) or discard_frame(work, reason)"),
    ("faulty_reason", "process() on frame sso-1-f00002: expected a drop's reason other than the ledger's own "
                      "(storage_full, no_product), found 'storage_full'"),
    ("faulty_arrays", "process() on frame sso-1-f00002: expected work.tiles to be a list of Tile, found [array("),
])
def test_a_plugin_stage_that_fails_mid_run_stops_it_with_its_name_and_the_partial_report(
        tmp_path, faulty_installed, capsys, stage, problem, workers):
    status, out = faulty_run(tmp_path, stage, workers)
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    head = f"orbitedge: {faulty_plugin(stage)}: {problem}"
    tail = f"; writing the partial report of {out} (marked incomplete)\n"
    assert err.startswith(head) and err.endswith(tail), err
    run = json.loads((out / "telemetry" / "run.json").read_text())
    assert run["complete"] is False and run["stopped"]["reason"] == "StageFault"
    ledger = json.loads((out / "report.json").read_text())["ledger"]
    assert ledger["balanced"] and ledger["products_lost_by_reason"] == {}
    rows = {row["frame_id"]: row for row in jsonl(out / "telemetry" / "ledger.jsonl")}
    processed = {r["frame_id"] for r in jsonl(out / "telemetry" / "processing.jsonl")}
    assert processed == {"sso-1-f00000", "sso-1-f00001"}  # the frames before it went through every stage
    # the frame it failed on (in a pool's worker too) is captured and stays on board, raw
    assert ledger["captured"] == 3 and rows["sso-1-f00002"]["status"] == "on_board"


def test_a_plugin_fault_stops_the_run_when_the_computer_reaches_its_frame_with_any_number_of_workers(
        tmp_path, faulty_installed, capsys):
    """A frame pool computes the faulty frame ahead, at its capture; the run still stops where a serial run does,
    when the simulated computer reaches that frame (here 20 min later, behind two slow frames), with the same
    partial run directory."""
    for workers in (0, 2):
        (tmp_path / str(workers)).mkdir()
    runs = {workers: faulty_run(tmp_path / str(workers), "faulty_slow", workers) for workers in (0, 2)}
    assert {status for status, _ in runs.values()} == {2}
    serial, pooled = (out for _, out in runs.values())
    processed = {r["frame_id"] for r in jsonl(serial / "telemetry" / "processing.jsonl")}
    assert processed == {"sso-1-f00000", "sso-1-f00001"}
    captured_s = {r["frame_id"]: r["t_s"] for r in jsonl(serial / "telemetry" / "captures.jsonl")}
    stopped_s = json.loads((serial / "telemetry" / "run.json").read_text())["stopped"]["simulated_s"]
    assert stopped_s == pytest.approx(captured_s["sso-1-f00000"] + 2 * 600.0, abs=1.0)
    assert compare_runs(serial, pooled) == []


def test_a_plugin_stage_whose_constructor_fails_stops_the_run_before_its_first_frame(tmp_path, faulty_installed,
                                                                                    capsys):
    status, out = faulty_run(tmp_path, "faulty_init", 0)
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert err == (f"orbitedge: error: {faulty_plugin('faulty_init')}: __init__(): raised ValueError: exploded in "
                   f"__init__; nothing was simulated, and nothing was written to {out}\n")
    assert not out.exists()  # a report of nothing was written there, "None (seed None)"


def test_a_failing_constructor_keeps_the_earlier_run_that_overwrite_would_replace(tmp_path, faulty_installed, capsys):
    """run --overwrite removed the earlier run first, and then the stage's constructor failed: both were lost."""
    out = tmp_path / "run"
    (out / "telemetry").mkdir(parents=True)
    earlier = {out / "scenario.yaml": b"name: earlier\n", out / "telemetry" / "run.json": b"{}",
               out / "report.md": b"# the earlier run's report\n"}
    for path, data in earlier.items():
        path.write_bytes(data)
    path = scenario(tmp_path, "  - stage: faulty_init\n  - stage: encode\n")
    argv = ["run", str(path), "--out", str(out), "--quiet", "--overwrite", *[a for s in SHORT for a in ("--set", s)]]
    assert main(argv) == 2
    assert capsys.readouterr().err.endswith(f"nothing was simulated, and nothing was written to {out}\n")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == earlier


def test_validate_builds_the_pipeline_so_a_failing_constructor_is_named_before_a_run(tmp_path, faulty_installed,
                                                                                       capsys):
    assert main(["validate", str(scenario(tmp_path, "  - stage: faulty_init\n  - stage: encode\n"))]) == 2
    err = capsys.readouterr().err
    assert err == (f"orbitedge: error: {faulty_plugin('faulty_init')}: __init__(): raised ValueError: exploded in "
                   "__init__\n")


def test_a_plugin_stage_whose_check_fails_is_an_issue_at_its_stage_line(tmp_path, faulty_installed, capsys):
    path = scenario(tmp_path, "  - stage: faulty_check\n  - stage: encode\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    line = path.read_text().splitlines().index("  - stage: faulty_check") + 1
    assert err == (f"orbitedge: error: {path}: 1 problem(s)\n  {path}:{line}: pipeline[0].stage: expected a stage "
                   f"plugin whose checks run, found {faulty_plugin('faulty_check')}: check_files(): raised KeyError: "
                   "'exploded in check_files'\n")


class Costly(Quarters):
    """Quarters whose cost is set per test."""

    name = "test_costly"
    cost = 0.5

    def cost_s(self, work):
        return self.cost


@pytest.mark.parametrize("cost", [float("nan"), float("inf"), -1.0, None, "1", True])
def test_a_stage_cost_that_is_no_time_is_refused_even_from_a_built_in_stage(monkeypatch, cost):
    shipped = runner.builtin_stage_classes
    monkeypatch.setattr(runner, "builtin_stage_classes", lambda: {**shipped(), Costly.name: Costly})
    monkeypatch.setattr(Costly, "cost", cost)
    with pytest.raises(stages.StageFault) as err:
        build(("test_costly", {}), ("encode", {"format": "png"})).run(frame())
    assert str(err.value) == (f"stage 'test_costly' (built-in): cost_s() on frame f0: expected a finite number of "
                              f"seconds >= 0, found {cost!r}")


class TwoSpeeds(Quarters):
    """Quarters whose cost comes in parts by speed, set per test."""

    name = "test_two_speeds"
    parts = {"cpu": 0.4, "int8": 0.6}

    def cost_by_speed_s(self, work):
        return self.parts


def test_a_stage_cost_by_speed_is_each_part_at_its_speed_and_an_unknown_speed_is_refused(monkeypatch):
    shipped = runner.builtin_stage_classes
    monkeypatch.setattr(runner, "builtin_stage_classes", lambda: {**shipped(), TwoSpeeds.name: TwoSpeeds})
    ctx = dataclasses.replace(CTX, cpu_relative=0.5, int8_conv_relative=4.0)
    specs = (("test_two_speeds", {}), ("encode", {"format": "png"}))
    work = build(*specs, ctx=ctx).run(frame())
    assert work.sim_stage_s["test_two_speeds"] == pytest.approx(0.4 / 0.5 + 0.6 / 4.0)
    monkeypatch.setattr(TwoSpeeds, "parts", {"gpu": 0.1})
    with pytest.raises(stages.StageFault) as err:
        build(*specs).run(frame())
    assert str(err.value) == ("stage 'test_two_speeds' (built-in): cost_s() on frame f0: expected a speed in "
                              "['cpu', 'int8'], found uses='gpu'")


@pytest.mark.parametrize("specs, bands, fmt", [
    ((("encode", {"format": "jpegls"}),), ("B", "G", "R", "NIR"), "jpegls"),
    ((("bent_pipe", {}),), ("B", "G", "R", "NIR"), "png"),
    ((("bent_pipe", {}),), ("B", "G", "R", "NIR", "SWIR"), "tiff")])
def test_the_estimates_are_in_the_encode_stages_format_else_png_or_tiff_where_png_cannot_hold_the_bands(
        specs, bands, fmt):
    """Pipeline.estimate_format, which run.json records for the report to name a codec that is not the run's own:
    the encode_only estimate is the frame in it, losslessly."""
    pipeline = build(*specs, ctx=dataclasses.replace(CTX, bands=bands))
    f = frame()
    f.dn = np.repeat(f.dn[..., :1], len(bands), axis=-1)
    assert pipeline.estimate_format == fmt
    assert pipeline.run(f).alternative_bytes["encode_only"] == len(codec.encode(f.dn, fmt, 12))

