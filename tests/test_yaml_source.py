"""The YAML source (onboard/scenario/yaml_source.py): each scalar's text and line kept, YAML 1.2 numbers, scalars a tag
cannot read kept with the reason, --set values grafted in, and syntax errors said with what to do."""

import pytest

from onboard.scenario.yaml_source import Source, apply_override, load_yaml
from rundir.errors import ConfigError


def test_loader_keeps_each_scalars_text_line_and_whether_yaml_typed_it_from_the_text():
    data, source = load_yaml("a: NO\nb: 'NO'\nc: !!str 00511\nd:\n  - 0x1F\n", "f.yaml")
    assert data == {"a": False, "b": "NO", "c": "00511", "d": [31]}
    assert source["a"] == 1 and source["d[0]"] == 5
    assert (source.scalars["a"].text, source.scalars["a"].implicit) == ("NO", True)
    assert source.scalars["b"].implicit is False and source.scalars["c"].implicit is False
    assert source.scalars["d[0]"].text == "0x1F"


def test_keys_are_their_text():
    data, _ = load_yaml("on: 1\nNO: 2\n00511: 3\n", "f.yaml")
    assert list(data) == ["on", "NO", "00511"]


@pytest.mark.parametrize("text, value", [
    ("1e3", 1000.0), ("1E-5", 1e-5), ("-2.5e+2", -250.0), (".5e3", 500.0), ("1.e3", 1000.0),
    ("1.0e+3", 1000.0), ("0o17", 15), ("-0o17", -15),
])
def test_yaml_1_2_numbers_are_numbers(text, value):
    data, _ = load_yaml(f"a: {text}\nb: '{text}'\n", "f.yaml")
    assert data["a"] == value and type(data["a"]) is type(value)
    assert data["b"] == text  # quoted: the text


@pytest.mark.parametrize("text, problem", [
    ("!!int abc", "invalid literal for int()"),
    ("2026-13-45", "month must be in 1..12"),
    ("!!python/name:os.system", "could not determine a constructor"),
])
def test_a_scalar_its_tag_cannot_read_is_kept_as_text_with_the_reason(text, problem):
    data, source = load_yaml(f"a: {text}\nb: {text}\n", "f.yaml")  # the second one is not a recursion
    for key in "ab":
        assert problem in source.scalars[key].problem
        assert data[key] == source.scalars[key].text


def test_set_replaces_what_the_file_said_below_the_key():
    data, source = load_yaml("a:\n  b: 2026-13-45\n  c: [1, 2]\n", "f.yaml")
    apply_override(data, source, "a={b: '2026-01-01', c: x}", "f.yaml")
    assert data == {"a": {"b": "2026-01-01", "c": "x"}}
    assert source.scalars["a.b"].problem is None and source.scalars["a.b"].implicit is False
    assert source.where("a.c") == (None, "--set a={b: '2026-01-01', c: x}") and source.where("") == (1, None)


@pytest.mark.parametrize("assignment, path, expected", [
    ("count", "", "--set KEY.PATH=VALUE"),
    ("a..b=1", "a..b", "a key path of names and list indices"),
    ("list.5=1", "list", "an index below 2 into the list list"),
    ("list.x=1", "list", "an index below 2 into the list list"),
    ("count.x=1", "count", "a mapping or list at count, to set count.x inside it"),
    ("name=[1,", "name", "valid YAML"),
    ("list[0.5]=1", "list[0.5]", "a key path of names and list indices"),
    ("list[ 0 ]=1", "list[ 0 ]", "a key path of names and list indices"),
    ("list[]=1", "list[]", "a key path of names and list indices"),
])
def test_set_that_cannot_be_applied_names_the_set(assignment, path, expected):
    data, source = load_yaml("count: 1\nlist: [a, b]\n", "f.yaml")
    with pytest.raises(ConfigError) as err:
        apply_override(data, source, assignment, "f.yaml")
    (issue,) = err.value.issues
    assert (issue.path, issue.line, issue.override) == (path, None, f"--set {assignment}")
    assert issue.expected.startswith(expected)


def test_set_list_items_by_index_and_from_the_end():
    data, source = load_yaml("l: [{n: a}, {n: b}]\n", "f.yaml")
    apply_override(data, source, "l[1].n=on", "f.yaml")
    apply_override(data, source, "l.-2.n='x'", "f.yaml")
    assert data == {"l": [{"n": "x"}, {"n": True}]}
    assert source.scalars["l[1].n"].text == "on" and source.where("l[0].n")[1] == "--set l.-2.n='x'"


def test_source_is_a_line_map():
    assert isinstance(load_yaml("a: 1\n", "f.yaml")[1], Source) and load_yaml("a: 1\n", "f.yaml")[1].get("a") == 1


@pytest.mark.parametrize("text, line, found", [
    ("a: 1\nb:\t2\n", 2, "character '\\t' that cannot start any token: YAML indents and separates with spaces, "
                         "never tabs: replace the tab with spaces"),
    ("a:\n\tb: 2\n", 2, "character '\\t' that cannot start any token: YAML indents and separates with spaces"),
    ("a: @home\n", 1, "character '@' that cannot start any token: YAML reserves @ and ` at the start of a plain "
                     "value: quote the value"),
    ("a: `x`\n", 1, "character '`' that cannot start any token: YAML reserves @ and `"),
    ('a: "open\n', 2, "unexpected end of stream"),
    ("bands: [B, G, R\nc: 1\n", 2, "expected ',' or ']', but got ':' (while parsing a flow sequence opened on line 1)"),
    ("a: *nowhere\n", 1, "undefined alias 'nowhere'"),
])
def test_a_syntax_error_says_what_was_found_once_and_what_to_do(text, line, found):
    with pytest.raises(ConfigError) as err:
        load_yaml(text, "f.yaml")
    (issue,) = err.value.issues
    assert (issue.line, issue.expected) == (line, "valid YAML")
    assert issue.found.startswith(found) and not issue.found.startswith("found")
