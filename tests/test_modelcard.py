"""Model cards (onboard/runtime/modelcard.py): scaling, every bad field named, unreadable cards, the shipped cards and their
benchmark blocks written back byte for byte."""

import dataclasses
import json

import pytest

from onboard.runtime.modelcard import MODEL_DIR, Benchmark, load_card, shipped_card, write_card
from rundir.errors import InputFileError
from tests.tiny_models import INT8, copy_model, edit_card


def test_bad_card_lists_every_bad_field(tmp_path):
    def edit(card):
        del card["sha256"]
        card["inputs"][0]["shape"] = [1, -32, 32, 4]
        card["inputs"][0]["bands"] = ["B", "G", "R"]
        card["inputs"][0]["scaling"]["scale"] = 0
        card["outputs"][0]["dtype"] = "int4"
        card["metrics"] = [0.9]

    path = edit_card(tmp_path, edit).with_suffix(".json")
    with pytest.raises(InputFileError) as err:
        load_card(path)
    assert err.value.path == str(path)
    for problem in ("sha256: missing", "inputs[0].shape: expected a list of positive integers",
                    "found [1, -32, 32, 4]",
                    "inputs[0].scaling.scale: expected a finite non-zero number",
                    "outputs[0].dtype: expected one of", "metrics: expected an object, found [0.9]"):
        assert problem in err.value.problem


def test_band_count_must_match_channels(tmp_path):
    path = edit_card(tmp_path, lambda c: c["inputs"][0].update(bands=["R", "G", "B"])).with_suffix(".json")
    with pytest.raises(InputFileError, match=r"inputs\[0\].bands: 3 bands for 4 channels"):
        load_card(path)


@pytest.mark.parametrize("text, problem", [("{not json", "not valid JSON"), ("[1, 2]", "must be a JSON object")])
def test_unreadable_card(tmp_path, text, problem):
    path = tmp_path / "card.json"
    path.write_text(text)
    with pytest.raises(InputFileError, match=problem):
        load_card(path)


def test_a_card_not_in_utf8_is_named_with_the_line_of_its_first_foreign_byte(tmp_path):
    """It gave the byte's offset in the file (position 349), where every other card problem gives a line."""
    path = tmp_path / "card.json"
    path.write_bytes('{\n  "name": "nuage-modèle",\n  "version": "1"\n}\n'.encode("latin-1"))
    with pytest.raises(InputFileError) as err:
        load_card(path)
    assert err.value.problem == ("line 2: expected UTF-8 JSON text, found text in another encoding (byte 0xE8 at "
                                 "column 21: invalid continuation byte; Latin-1 or Windows-1252?): save it as UTF-8")


def test_a_key_written_twice_in_a_card_is_refused_at_its_line(tmp_path):
    """The last value won without a word (and other JSON readers keep the first)."""
    path = tmp_path / "card.json"
    text = (MODEL_DIR / "cloud_rgb_int8.json").read_text()
    path.write_text(text.replace('"version": "2.0.0",', '"version": "2.0.0",\n  "version": "3.0.0",', 1))
    with pytest.raises(InputFileError) as err:
        load_card(path)
    assert err.value.problem == ("line 4: version: expected each key once in an object, found 'version' again: "
                                 "readers differ on which value they keep")
    path.write_text(path.read_text().replace("  ", "\t"))  # tabs: JSON, and no YAML to find the key's path with
    with pytest.raises(InputFileError) as err:
        load_card(path)
    assert err.value.problem.startswith("line 4: version: expected each key once in an object, found 'version'")


def test_shipped_cards_carry_their_host_latency_and_write_back_byte_for_byte(tmp_path):
    for path in sorted(MODEL_DIR.glob("*.json")):
        card = shipped_card(path.stem)
        raw = json.loads(path.read_text())["benchmark"]
        assert card.benchmark == Benchmark(**raw)
        assert card.host_latency_s == pytest.approx(raw["host_latency_ms_p50"] / 1e3, abs=1e-9)
        write_card(card, tmp_path / path.name)  # benchmarks/models.py writes the measured latency this way
        assert (tmp_path / path.name).read_bytes() == path.read_bytes()


def test_a_bad_benchmark_block_is_named_and_a_card_without_one_has_no_latency(tmp_path):
    def edit(card):
        card["benchmark"] = {"host_latency_ms_p50": -1.0, "runs": 30, "threads": "one", "host": "x86_64"}

    path = edit_card(tmp_path, edit).with_suffix(".json")
    with pytest.raises(InputFileError) as err:
        load_card(path)
    for problem in ("benchmark.host_latency_ms_p50: expected a positive number, found -1.0",
                    "benchmark.threads: expected a positive integer, found 'one'"):
        assert problem in err.value.problem
    (tmp_path / "plain").mkdir()
    plain = edit_card(tmp_path / "plain", lambda c: c.pop("benchmark", None)).with_suffix(".json")
    assert load_card(plain).benchmark is None
    with pytest.raises(InputFileError, match="no benchmark block") as err:
        load_card(plain).host_latency_s
    assert err.value.path == str(plain)


@pytest.mark.parametrize("form", ["flat", "stac"])
def test_softmax_over_one_output_channel_is_named_at_its_field_and_line(tmp_path, form):
    path = copy_model(tmp_path, INT8, with_card=True)
    card_path = path.with_suffix(".json")
    card = load_card(card_path)
    output = dataclasses.replace(card.outputs[0], shape=(1, 32, 32, 1), activation="softmax")
    write_card(dataclasses.replace(card, outputs=(output,), form=form, model_file=path.name), card_path)
    field = "outputs[0].activation" if form == "flat" else "properties.mlm:output[0].post_processing_function"
    key = field.rpartition(".")[2]
    line = next(i + 1 for i, text in enumerate(card_path.read_text().splitlines()) if f'"{key}"' in text)
    with pytest.raises(InputFileError) as err:
        load_card(card_path)
    assert err.value.path == str(card_path)
    assert (f"line {line}: {field}: expected sigmoid, or no activation, for an output of one channel (softmax over "
            "one channel is 1.0 everywhere), found softmax (shape [1, 32, 32, 1])") in err.value.problem
