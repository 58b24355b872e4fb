"""The tiny test models of tests/data (made by tests/data/make_tiny_models.py) and helpers that copy them and edit
their cards, shared by the test files of the runtime, its model cards and its model checks."""

import json
import shutil
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data"
INT8 = DATA / "tiny_int8.tflite"
FLOAT32 = DATA / "tiny_float32.tflite"
SHAPE = (32, 32, 4)


def reflectance(seed: int) -> np.ndarray:
    """A (32, 32, 4) float32 TOA reflectance frame, uniform in [0, 1)."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, SHAPE).astype(np.float32)


def copy_model(tmp_path: Path, source: Path, with_card: bool) -> Path:
    target = tmp_path / source.name
    shutil.copyfile(source, target)
    if with_card:
        shutil.copyfile(source.with_suffix(".json"), target.with_suffix(".json"))
    return target


def edit_card(tmp_path: Path, edit) -> Path:
    """Copy the int8 model and its card to tmp_path, apply ``edit`` to the card's JSON object; the model path."""
    path = copy_model(tmp_path, INT8, with_card=True)
    card = json.loads(path.with_suffix(".json").read_text())
    edit(card)
    path.with_suffix(".json").write_text(json.dumps(card))
    return path
