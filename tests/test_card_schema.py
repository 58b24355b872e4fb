"""The keys of a STAC MLM card's objects (onboard/runtime/card_schema.py): every required key missing, every misspelt
or unknown key orbitedge would pass over, and every task that is not MLM's is refused with its path and line, by the
card reader and by the commands that read cards (exit 2, no traceback); other extensions' keys pass."""

import dataclasses
import json
import re

import pytest

from app.cli import main
from onboard.runtime import card_schema
from onboard.runtime.modelcard import load_card, write_card
from rundir.errors import InputFileError
from tests.tiny_models import INT8, copy_model


def required_paths(kind=card_schema.PROPERTIES, at="properties"):
    """Each required key's path in an Item with one mlm:input and one mlm:output, as ``["properties", key, ...]``."""
    out = []
    for key in kind.required:
        out.append((*at.split("/"), key))
        if key in kind.nested:
            inner, many = kind.nested[key]
            out += [p for p in required_paths(inner, f"{at}/{key}" + ("/0" if many else ""))]
    return out


@pytest.fixture
def stac_model(tmp_path):
    """The tiny int8 model with its card rewritten as a STAC MLM Item (as orbitedge card init writes one)."""
    model = copy_model(tmp_path, INT8, with_card=True)
    card = load_card(model.with_suffix(".json"))
    write_card(dataclasses.replace(card, form="stac", model_file=model.name), model.with_suffix(".json"))
    return model


def edit(model, change):
    """Apply ``change`` to the card's JSON object and write it back indented; the card's lines."""
    path = model.with_suffix(".json")
    item = json.loads(path.read_text())
    change(item)
    path.write_text(json.dumps(item, indent=2))
    return path.read_text().splitlines()


def node(item, keys):
    for key in keys:
        item = item[int(key) if key.isdigit() else key]
    return item


def dotted(keys):
    return re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", ".".join(keys))


def test_the_card_as_written_has_no_problem(stac_model):
    assert card_schema.card_problems(json.loads(stac_model.with_suffix(".json").read_text())) == []
    assert load_card(stac_model.with_suffix(".json")).form == "stac"


@pytest.mark.parametrize("keys", required_paths(), ids=dotted)
def test_each_required_key_removed_is_named_with_its_path_and_line(stac_model, keys):
    lines = edit(stac_model, lambda item: node(item, keys[:-1]).pop(keys[-1]))
    parent = f'"{keys[-2]}": ' if not keys[-2].isdigit() else None
    with pytest.raises(InputFileError) as err:
        load_card(stac_model.with_suffix(".json"))
    assert f"{dotted(keys)}: missing (expected " in err.value.problem
    line = re.search(rf"line (\d+): {re.escape(dotted(keys))}: missing", err.value.problem)
    assert line is not None, err.value.problem
    if parent:  # the line of the object that lacks the key
        assert parent in lines[int(line.group(1)) - 1]


@pytest.mark.parametrize("keys", [("properties", "mlm:input", "0", "bands"), ("properties", "mlm:input", "0",
                                                                             "input", "shape")], ids=dotted)
def test_a_missing_required_key_exits_bench_2_without_a_traceback(stac_model, keys, capsys):
    edit(stac_model, lambda item: node(item, keys[:-1]).pop(keys[-1]))
    assert main(["bench", str(stac_model), "--runs", "1"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"{dotted(keys)}: missing" in err


@pytest.mark.parametrize("keys, bad, known", [
    (("properties", "mlm:input", "0"), "value_scalling", "value_scaling"),
    (("properties", "mlm:input", "0"), "orbitedge:sorce", "orbitedge:source"),
    (("properties", "mlm:input", "0"), "bandz", "bands"),
    (("properties", "mlm:output", "0"), "post_procesing_function", "post_processing_function"),
    (("properties", "mlm:output", "0"), "classification:clases", "classification:classes"),
    (("properties",), "mlm:inputs", "mlm:input"),
    (("properties",), "orbitedge:benchmarks", "orbitedge:benchmark"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_misspelt_key_is_refused_naming_its_line_and_the_key_it_resembles(stac_model, keys, bad, known):
    lines = edit(stac_model, lambda item: node(item, keys).update({bad: {"format": "orbitedge",
                                                                         "expression": "softmax"}}))
    line = next(i + 1 for i, text in enumerate(lines) if f'"{bad}"' in text)
    with pytest.raises(InputFileError) as err:
        load_card(stac_model.with_suffix(".json"))
    assert f"line {line}: {dotted((*keys, bad))}: expected {known!r} (the one of the keys of" in err.value.problem
    assert f"found {bad!r}" in err.value.problem


def test_unknown_keys_of_own_objects_are_refused_and_other_extensions_keys_pass(stac_model):
    edit(stac_model, lambda item: (node(item, ("properties",)).update({"eo:cloud_cover": 3, "license": "MIT"}),
                                   node(item, ("properties", "mlm:input", "0")).update({"raster:scale": 2}),
                                   node(item, ("properties", "mlm:output", "0")).update({"eo:bands": []})))
    assert load_card(stac_model.with_suffix(".json")).form == "stac"
    edit(stac_model, lambda item: (node(item, ("properties", "mlm:input", "0", "input")).update({"layout": "x"}),
                                   node(item, ("properties",)).update({"orbitedge:whatever": 1})))
    with pytest.raises(InputFileError) as err:
        load_card(stac_model.with_suffix(".json"))
    assert "properties.mlm:input[0].input.layout: expected one of the keys of an MLM Input Structure Object " \
           "(shape, dim_order, data_type), found 'layout'" in err.value.problem
    assert "properties.orbitedge:whatever: expected one of the keys of the MLM Item properties" in err.value.problem


def test_a_misspelt_task_is_named_with_its_line(stac_model):
    lines = edit(stac_model, lambda item: item["properties"].update({"mlm:tasks": ["segmentaton"]}))
    line = next(i + 1 for i, text in enumerate(lines) if '"segmentaton"' in text)
    with pytest.raises(InputFileError, match=rf"line {line}: properties.mlm:tasks\[0\]: expected 'segmentation' "
                                             r"\(the one of MLM's tasks it resembles\), found 'segmentaton'"):
        load_card(stac_model.with_suffix(".json"))


def test_an_input_list_that_is_an_object_is_named(stac_model):
    edit(stac_model, lambda item: item["properties"].update({"mlm:input": {}}))
    with pytest.raises(InputFileError, match=r"properties.mlm:input: expected a list, each item an MLM Model Input "
                                             r"Object, found \{\}"):
        load_card(stac_model.with_suffix(".json"))
