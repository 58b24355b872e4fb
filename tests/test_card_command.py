"""app.card_command: ``orbitedge card init`` and ``orbitedge card score`` from the command line, as a user types
them (real model, real card, tiles written here)."""

import argparse
import json

import pytest

from app.card_command import cmd_card
from app.cli import main
from rundir.errors import OrbitEdgeError
from tests.test_card_score import tiles
from tests.user_models import user_model


def test_card_score_prints_the_table_and_fills_the_card(tmp_path, capsys):
    model = user_model("uint8.onnx", tmp_path / "models")
    assert main(["card", "init", str(model), "--task", "segmentation", "--bands", "B,G,R,NIR", "--classes",
                 "clear,cloud", "--activation", "softmax"]) == 0
    capsys.readouterr()
    assert main(["card", "score", str(model), "--tiles", str(tiles(tmp_path / "tiles")), "--overlap-px", "8"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"scored {model} on 2 tiles of {tmp_path / 'tiles'} (cloud at 0.5; windows 48 px, overlap 8 px); "
                      f"wrote real_validation into {model.with_suffix('.json')}")
    assert [line.split()[0] for line in out[2:]] == ["all", "pooled", "a", "b"]
    assert out[3].split() == ["pooled", "1.000", "1.000", "0.0000", "1.000", "9216", "8064"]
    card = json.loads(model.with_suffix(".json").read_text())
    assert card["properties"]["orbitedge:metrics"]["real_validation"]["pooled"]["f1"] == 1.0


def test_card_score_refuses_what_it_cannot_use_with_exit_2(tmp_path, capsys):
    model = user_model("uint8.onnx", tmp_path / "models")
    for args, message in (
            (["--tiles", str(tmp_path), "--threshold", "1.5"], "card score: --threshold: expected a probability "
                                                                 "between 0 and 1, found 1.5"),
            (["--tiles", str(tmp_path), "--overlap-px", "-1"], "card score: --overlap-px: expected 0 or more pixels"),
            (["--tiles", str(tmp_path)], f"expected a model card at {model.with_suffix('.json')}")):
        capsys.readouterr()
        assert main(["card", "score", str(model), *args]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    # the checks are the command's own, before the model is opened
    with pytest.raises(OrbitEdgeError, match="--threshold: expected a probability between 0 and 1, found 0.0"):
        cmd_card(argparse.Namespace(action="score", model=tmp_path / "none.onnx", tiles=tmp_path, threshold=0.0,
                                    overlap_px=32))
