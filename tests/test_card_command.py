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
    assert out[1].split() == ["tiles", "F1", "IoU", "FPR", "recall", "precision", "cloud", "px", "clear", "px"]
    assert out[3].split() == ["pooled", "1.000", "1.000", "0.0000", "1.000", "1.000", "9216", "8064"]
    card = json.loads(model.with_suffix(".json").read_text())
    assert card["properties"]["orbitedge:metrics"]["real_validation"]["pooled"]["f1"] == 1.0
    assert capsys.readouterr().err == ""  # a model that works: no warning


def test_card_score_warns_when_the_scores_say_the_model_is_broken(tmp_path, capsys):
    """Carded with --scale 0.01, the user model sees the bright cloud as dark ground: it finds none. The scores go
    into the card all the same (exit 0), with a warning on stderr naming the usual causes."""
    model = user_model("float16.onnx", tmp_path / "models")
    assert main(["card", "init", str(model), "--task", "segmentation", "--bands", "B,G,R,NIR", "--classes",
                 "clear,cloud", "--activation", "softmax", "--scale", "0.01"]) == 0
    capsys.readouterr()
    assert main(["card", "score", str(model), "--tiles", str(tiles(tmp_path / "tiles"))]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[3].split() == ["pooled", "0.000", "0.000", "0.0000", "0.000", "0.000", "9216",
                                                    "8064"]
    assert captured.err == (
        "orbitedge: warning: card score: these scores say the model, as its card runs it, is broken: it finds no "
        "cloud at all (recall 0 on 9216 cloud pixels): inputs far darker than it was trained on (the card's --scale "
        "too small, e.g. 1 for a model trained on reflectance x 10000), the cloud class on another channel (--classes "
        "order), or outputs that need an activation (--activation). They are in its card all the same, and every run "
        "of the model quotes them: mend the card (orbitedge card init MODEL --force, with the options that fix it) "
        "and score it again\n")


def test_card_score_refuses_what_it_cannot_use_with_exit_2(tmp_path, capsys):
    model = user_model("uint8.onnx", tmp_path / "models")
    for args, message in (
            (["--tiles", str(tmp_path), "--threshold", "1.5"], "card score: --threshold: expected a probability "
                                                                 "between 0 and 1, found 1.5"),
            (["--tiles", str(tmp_path)], f"expected a model card at {model.with_suffix('.json')}")):
        capsys.readouterr()
        assert main(["card", "score", str(model), *args]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    # the checks are the command's own, before the model is opened
    with pytest.raises(OrbitEdgeError, match="--threshold: expected a probability between 0 and 1, found 0.0"):
        cmd_card(argparse.Namespace(action="score", model=tmp_path / "none.onnx", tiles=tmp_path, threshold=0.0,
                                    overlap_px=32))


def test_card_score_reads_n_a_where_a_tile_has_nothing_to_count(tmp_path, capsys):
    """A clear tile the model called clear throughout: FPR 0, and no recall, precision, F1 or IoU to read (not
    0.000); the card keeps the numbers, as the shipped cards (and make models) write them."""
    import numpy as np

    model = user_model("uint8.onnx", tmp_path / "models")
    assert main(["card", "init", str(model), "--task", "segmentation", "--bands", "B,G,R,NIR", "--classes",
                 "clear,cloud", "--activation", "softmax"]) == 0
    folder = tiles(tmp_path / "tiles")
    np.savez(folder / "c.npz", toa=np.full((96, 96, 4), 0.05, np.float32), cloud=np.zeros((96, 96), np.uint8),
             sensor="Sentinel-2 MSI", gsd_m=10.0)
    capsys.readouterr()
    assert main(["card", "score", str(model), "--tiles", str(folder), "--overlap-px", "8"]) == 0
    row = capsys.readouterr().out.splitlines()[-1]
    assert row.split() == ["c", "n/a", "n/a", "0.0000", "n/a", "n/a", "0", str(96 * 96)]
    assert json.loads(model.with_suffix(".json").read_text())["properties"]["orbitedge:metrics"]["real_validation"][
        "tiles"]["c"]["f1"] == 0.0


def test_card_score_names_a_file_given_for_the_folder_and_tiles_without_cloud(tmp_path, capsys):
    import numpy as np

    model = user_model("uint8.onnx", tmp_path / "models")
    assert main(["card", "init", str(model), "--task", "segmentation", "--bands", "B,G,R,NIR", "--classes",
                 "clear,cloud", "--activation", "softmax"]) == 0
    folder = tmp_path / "clear"
    folder.mkdir()
    np.savez(folder / "c.npz", toa=np.full((96, 96, 4), 0.05, np.float32), cloud=np.zeros((96, 96), np.uint8),
             sensor="Sentinel-2 MSI", gsd_m=10.0)
    for tiles_arg, message in ((folder / "c.npz", f"{folder / 'c.npz'}: expected a folder of labelled tiles (.npz "
                                                  "files with toa, cloud, sensor and gsd_m), found a file (give the "
                                                  "folder it is in)"),
                               (folder, f"{folder}: expected tiles with both cloud and clear pixels labelled (recall "
                                        "needs cloud, the false-positive rate clear), found no cloud pixel in 1 tile")):
        capsys.readouterr()
        assert main(["card", "score", str(model), "--tiles", str(tiles_arg), "--overlap-px", "8"]) == 2
        assert capsys.readouterr().err == f"orbitedge: error: {message}\n"
