"""Reading a JSON card field by field (onboard/runtime/json_fields.py): every problem with its path and line."""

import json

from onboard.runtime.json_fields import FieldReader, field_lines, is_int, is_number


def test_lines_of_nested_fields_and_problems_located_at_them():
    text = json.dumps({"a": {"b": [1, {"c": "x"}]}, "d": 2}, indent=2)
    lines = field_lines(text)
    assert lines["a.b[1].c"] == next(i + 1 for i, line in enumerate(text.splitlines()) if '"c"' in line)
    reader = FieldReader(text)
    assert reader.get({"c": "x"}, "c", "a.b[1].", "an integer", is_int) is None
    assert reader.get({}, "e", "", "a number", is_number) is None
    assert reader.problems == [f"line {lines['a.b[1].c']}: a.b[1].c: expected an integer, found 'x'",
                               "line 1: e: missing (expected a number)"]


def test_a_translated_path_is_shown_and_located_as_the_file_has_it():
    text = json.dumps({"properties": {"mlm:name": 3}}, indent=1)
    reader = FieldReader(text, translate=lambda path: {"name": "properties.mlm:name"}.get(path, path))
    reader.fail("name", "expected a string, found 3")
    assert reader.problems == ["line 3: properties.mlm:name: expected a string, found 3"]


def test_a_text_that_is_not_json_has_no_lines():
    assert field_lines("{not: [json") == {}
    assert not is_number(float("nan")) and not is_int(True)


def test_a_good_card_is_read_without_finding_its_lines(monkeypatch):
    """Finding a card's field lines parses its JSON again as YAML (~80 ms): only a problem needs them. Planning a
    sweep read the cloud model's card once per configuration, and this parse was most of its time."""
    from onboard.runtime import json_fields
    from onboard.runtime.modelcard import MODEL_DIR, load_card

    def unwanted(text):
        raise AssertionError("field lines found for a good card")

    monkeypatch.setattr(json_fields, "field_lines", unwanted)
    assert load_card(MODEL_DIR / "cloud_bgrn_int8.json").name
