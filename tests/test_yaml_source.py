"""The YAML source (onboard/scenario/yaml_source.py): each scalar's text and line kept, YAML 1.2 numbers, scalars a tag
cannot read kept with the reason, --set values grafted in, syntax errors said with what to do, and YAML 1.1 merge keys
(``<<: *anchor``) merged as the spec says, each value at the line that wrote it."""

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from onboard.scenario.schema import Builder
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
    ("list[1]x=1", "list[1]x", "a key path of names and list indices"),
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
    assert apply_override(data, source, "l[1].n=on", "f.yaml") == "l[1].n"  # the path set, as errors name it
    assert apply_override(data, source, "l.-2.n='x'", "f.yaml") == "l[0].n"
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


MERGED = """\
base: &base {altitude_km: 550, ltan_h: 10.5}
more: &more {ltan_h: 9, phase_deg: 90, name: more}
one:
  phase_deg: 180
  <<: *base
both:
  <<: [*base, *more]
  name: both
"""


def test_a_merge_key_merges_its_mappings_explicit_keys_and_then_earlier_mappings_winning():
    data, source = load_yaml(MERGED, "f.yaml")  # NOTE: PyYAML 6.0.4's safe_load gives both.ltan_h 9 (yaml/pyyaml#953)
    assert data["one"] == {"altitude_km": 550, "ltan_h": 10.5, "phase_deg": 180}
    assert data["both"] == {"altitude_km": 550, "ltan_h": 10.5, "phase_deg": 90, "name": "both"}
    # each value at the line it is written on: a merged one at its anchor's, an overriding key at its own
    assert (source["one"], source["one.phase_deg"], source["one.altitude_km"], source["one.ltan_h"]) == (4, 4, 1, 1)
    assert (source["both.ltan_h"], source["both.phase_deg"], source["both.name"]) == (1, 2, 8)
    assert source.scalars["both.ltan_h"].text == "10.5" and "one.<<" not in source


def test_a_merged_mapping_with_merges_of_its_own_and_a_quoted_key_that_is_only_text():
    text = "a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b, z: 3}\nd: {'<<': 1}\n"
    data, source = load_yaml(text, "f.yaml")
    assert data == yaml.safe_load(text) == {**data, "c": {"x": 1, "y": 2, "z": 3}, "d": {"<<": 1}}
    assert (source["c.x"], source["c.y"], source["c.z"]) == (1, 2, 3)


@pytest.mark.parametrize("text, path, line, expected, found", [
    ("a: {x: 1}\nb:\n  <<: 5\n", "b.<<", 3, "a mapping, or a list of mappings, to merge", "the scalar '5'"),
    ("l: &l [1, 2]\nb:\n  y: 1\n  <<: *l\n", "b.<<", 4, "a mapping, or a list of mappings",
     "a list whose item 0 is the scalar '1'"),
    ("a: &a {x: 1}\nb: {<<: [*a, x]}\n", "b.<<", 2, "a mapping, or a list", "a list whose item 1 is the scalar 'x'"),
    ("b:\n  <<:\n", "b.<<", 2, "a mapping, or a list of mappings", "nothing (null)"),
    ("a: &a {x: 1}\nb: {<<: !!set {x}}\n", "b.<<", 2, "a mapping, or a list", "a mapping tagged !!set"),
    ("a: &a {<<: *a}\n", "a.<<", 1, "a merge of a mapping outside itself", "a recursive alias"),
    ("a: &a {x: 1}\nb: &b {x: 2}\nc:\n  <<: *a\n  <<: *b\n", "c.<<", 5, "unique keys",
     "duplicate key '<<': merge several mappings in one <<: [*a, *b]"),
    ("a: &a {x: 1}\nb:\n  <<: *a\n  x: 2\n  x: 3\n", "b.x", 5, "unique keys", "duplicate key 'x'"),
])
def test_a_merge_of_other_than_mappings_or_a_key_written_twice_is_refused_at_its_line(text, path, line, expected,
                                                                                     found):
    with pytest.raises(ConfigError) as err:
        load_yaml(text, "f.yaml")
    (issue,) = err.value.issues
    assert (issue.path, issue.line, issue.found) == (path, line, found) and issue.expected.startswith(expected)


def test_keys_written_twice_can_be_kept_for_the_builder_to_report_with_every_other_problem():
    text = "a: 1\nb:\n  x: 2\n  x: [3]\na: 4\nc: 5\n"
    data, source = load_yaml(text, "f.yaml", duplicates="keep_first")
    assert data == {"a": 1, "b": {"x": 2}, "c": 5}  # the first value of each, the rest of the document read
    assert sorted((i.line, i.path, i.found) for i in source.duplicates) == [(4, "b.x", "duplicate key 'x'"),
                                                                           (5, "a", "duplicate key 'a'")]
    assert (source["a"], source["b.x"], source["c"]) == (1, 3, 6)  # the lines of the values kept
    builder = Builder(source)
    builder.fail("c", "a string", "int 5")
    assert [(i.path, i.line) for i in builder.finish()] == [("b.x", 4), ("a", 5), ("c", 6)]


def test_merges_that_repeat_too_many_mappings_are_refused():
    rows = ["a0: &a0 {x: 1}"] + [f"a{i}: &a{i} {{<<: [{', '.join([f'*a{i - 1}'] * 10)}]}}" for i in range(1, 6)]
    with pytest.raises(ConfigError) as err:
        load_yaml("\n".join(rows) + "\n", "f.yaml")
    assert "an alias bomb" in err.value.issues[0].found


def test_set_merges_as_the_file_does_but_has_no_anchors_of_the_files():
    data, source = load_yaml("a: &a {x: 1}\nb: {y: 2}\n", "f.yaml")
    apply_override(data, source, "b={<<: {x: 1, y: 1}, y: 3}", "f.yaml")
    assert data["b"] == {"x": 1, "y": 3} and source.where("b.x") == (None, "--set b={<<: {x: 1, y: 1}, y: 3}")
    with pytest.raises(ConfigError) as err:
        apply_override(data, source, "b={<<: *a}", "f.yaml")
    (issue,) = err.value.issues
    assert issue.found == ("undefined alias 'a': a --set value is read on its own, without the file's anchors: "
                           "write the values out")


KEYS = st.sampled_from(["altitude_km", "ltan_h", "phase_deg", "name", "k", "x"])
VALUES = st.one_of(st.integers(-10**6, 10**6), st.sampled_from(["x", "on", "NO", "~", "1.5", "'q'", "[1, 2]"]))
ANCHORS = st.lists(st.tuples(st.dictionaries(KEYS, VALUES, max_size=4), st.sets(st.integers(0, 4))), min_size=1,
                   max_size=4)


def merge_of(mappings, own):
    """The YAML 1.1 merge (https://yaml.org/type/merge.html) of plain dicts: earlier mappings win, then ``own``."""
    out = {}
    for mapping in mappings:
        out |= {k: v for k, v in mapping.items() if k not in out}
    return out | own


@settings(max_examples=200, deadline=None)
@given(anchors=ANCHORS, merges=st.lists(st.integers(0, 3), min_size=1, max_size=3),
       own=st.dictionaries(KEYS, VALUES, max_size=4), at=st.integers(0, 4))
def test_merges_load_as_the_spec_and_safe_load_read_them_each_value_at_the_line_that_wrote_it(anchors, merges, own,
                                                                                                at):
    # anchors[i]: its own keys, and the earlier anchors it merges; the mapping m merges `merges` and has keys `own`
    def flow(keys, merged):
        names = [f"*a{j}" for j in merged]
        return ", ".join(([f"<<: [{', '.join(names)}]"] if names else []) + [f"{k}: {v}" for k, v in keys.items()])
    sources = [[j for j in sorted(earlier) if j < i] for i, (_, earlier) in enumerate(anchors)]
    merges = [j % len(anchors) for j in merges]
    rows = [f"- &a{i} {{{flow(keys, sources[i])}}}" for i, (keys, _) in enumerate(anchors)]
    body = [f"  {k}: {v}" for k, v in own.items()]
    body.insert(min(at, len(body)), f"  <<: [{', '.join(f'*a{j}' for j in merges)}]")
    text = "anchors:\n" + "\n".join(rows) + "\nm:\n" + "\n".join(body) + "\n"
    data, source = load_yaml(text, "f.yaml")
    plain = yaml.safe_load(text)
    resolved = []
    for i, (keys, _) in enumerate(anchors):
        resolved.append(merge_of([resolved[j] for j in sources[i]], {k: plain["anchors"][i][k] for k in keys}))
    assert data == {"anchors": resolved, "m": merge_of([resolved[j] for j in merges], {k: plain["m"][k] for k in own})}
    def shared(keys, merged):  # a key in two of the mappings merged, or in one and the anchor's own keys
        every = [*keys, *(k for j in set(merged) for k in resolved[j])]
        return len(every) > len(set(every))
    # NOTE: PyYAML 6.0.4 merges each key's first pair only, by the identity of its text, so where mappings merged
    # together share a key, a later one can win (https://github.com/yaml/pyyaml/issues/953)
    if not any(shared(keys, sources[i]) for i, (keys, _) in enumerate(anchors)) and not shared((), merges):
        assert data == plain

    def line(key, i):  # the line of the anchor that wrote key, merged into anchor i
        return i + 2 if key in anchors[i][0] else next(line(key, j) for j in sources[i] if key in resolved[j])
    written = {k: 3 + len(anchors) + n + (n >= at) for n, k in enumerate(own)}
    assert {k: source[f"m.{k}"] for k in data["m"]} == {
        k: written.get(k) or line(k, next(j for j in merges if k in resolved[j])) for k in data["m"]}
