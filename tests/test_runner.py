"""The configured pipeline (onboard/pipeline/runner.py): stages found by name, checked against the whole pipeline,
and run in order, a new stage plugged in without touching the simulation."""

import subprocess
import sys
from dataclasses import dataclass

import pytest

from onboard.pipeline import runner, stages
from onboard.pipeline.tile import Tile
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
