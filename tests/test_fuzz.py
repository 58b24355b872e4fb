"""Scenario input fuzzing: malformed scenarios derived from the shipped ones each end in a ConfigError whose issues
all carry a YAML path and a line, and ``orbitedge validate`` exits 2 with that message and no traceback.

Each family below mutates a shipped scenario one way; FAMILIES sets how many cases hypothesis generates for it.
Hypothesis runs derandomized and without an example database, so every run sees the same cases. Where a case
knows the YAML path it broke, one of the issues must name that path and the line the ground truth (PyYAML's own
node tree of the file) gives for it.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import io
import math
import re
import string
import types
import typing
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from app.cli import main
from onboard.pipeline import runner
from onboard.scenario.config import Scenario, load_scenario
from onboard.orbit.elements import _tle_checksum
from rundir.errors import ConfigError

ROOT = Path(__file__).parents[1]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
ISS_TLE = ("1 25544U 98067A   19343.69339541  .00001764  00000-0  38792-4 0  9991",
           "2 25544  51.6439 211.2001 0007417  17.6667  85.6398 15.50103472202482")
NAME_CHARS = string.ascii_letters + string.digits + "_-"
NOT_A_NUMBER_CHARS = "BCDGHJKLMOPQRSUVWXZbcdghjklmopqrsuvwxz _-"  # no e, i, n, a, f, t, y: never a YAML number or bool
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's, where PyYAML has it: ten times faster
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Case:
    """A malformed scenario file; ``expected`` is the (YAML path, line) one of its issues must have, if known."""

    content: bytes
    expected: tuple[str, int] | None = None
    mapping: bool = True  # the file still parses to a mapping, so every issue names a YAML path


# ------------------------------------------------------------------------------------------ the shipped scenarios


def _anchored(path: Path) -> dict[str, Any]:
    """A shipped scenario's data, its file paths made absolute so that a copy validates anywhere."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    world = data.get("world") or {}
    if isinstance(world.get("bands"), dict):
        world["bands"] = {band: str((path.parent / file).resolve()) for band, file in world["bands"].items()}
    if isinstance(world.get("mask"), str):
        world["mask"] = str((path.parent / world["mask"]).resolve())
    return data


@dataclass(frozen=True)
class Slot:
    """A place in a scenario's data, typed by the config classes: a value there, or an absent optional key."""

    keys: tuple[str | int, ...]
    tp: Any  # the declared type, Optional unwrapped
    rules: typing.Mapping[str, Any]
    present: bool
    required: bool
    nullable: bool = False  # the declared type admits None (null, ~)
    union: tuple[Any, ...] = ()  # every member of a declared union (tp is its first), None excluded


def _members(tp: Any) -> tuple[Any, ...]:
    """The members of a union type other than None; () for any other type."""
    if typing.get_origin(tp) in (Union, types.UnionType):
        return tuple(a for a in typing.get_args(tp) if a is not type(None))
    return ()


def _unwrap(tp: Any) -> Any:
    if typing.get_origin(tp) in (Union, types.UnionType):
        # NOTE: a union such as list[str] | str (a TLE) is fuzzed as its first member; a wrong type is none of them
        return [a for a in typing.get_args(tp) if a is not type(None)][0]
    return tp


def slots(tp: Any, value: Any, keys: tuple = (), rules: typing.Mapping = {}, present: bool = True,
          required: bool = True) -> typing.Iterator[Slot]:
    """Every slot of ``value`` (data of type ``tp``), fields of absent sections included; pipeline items are typed
    by their stage's Params, plus a ``stage`` slot."""
    nullable, union = type(None) in typing.get_args(tp), _members(tp)
    tp = _unwrap(tp)
    yield Slot(keys, tp, rules, present, required, nullable, union if len(union) > 1 else ())
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        value = value if isinstance(value, dict) else {}
        hints = typing.get_type_hints(tp)
        for f in dataclasses.fields(tp):
            if not f.metadata.get("internal"):
                needed = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                yield from slots(hints[f.name], value.get(f.name), keys + (f.name,), f.metadata,
                                 present and f.name in value, needed)
    elif present and origin is list and isinstance(value, list):
        for i, item in enumerate(value):
            if args[0] is Any and isinstance(item, dict) and item.get("stage") in runner.stage_classes():
                yield Slot(keys + (i, "stage"), Literal[tuple(sorted(runner.stage_classes()))], {}, True, True)
                yield from slots(runner.stage_classes()[item["stage"]].Params, item, keys + (i,), required=False)
            else:
                yield from slots(args[0], item, keys + (i,), required=False)
    elif present and origin is dict and isinstance(value, dict):
        for key, item in value.items():
            yield from slots(args[1], item, keys + (key,), required=False)


BASES = {p.stem: _anchored(p) for p in SCENARIOS}
TEXTS = {p.stem: p.read_text(encoding="utf-8") for p in SCENARIOS}
SLOTS = {name: list(slots(Scenario, data)) for name, data in BASES.items()}


def yaml_path(keys: tuple) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else (f".{k}" if i else str(k)) for i, k in enumerate(keys))


def node_line(text: str, keys: tuple) -> int:
    """1-based line of the YAML node at ``keys`` in ``text``, or of its nearest ancestor there."""
    node = yaml.compose(text, Loader=LOADER)
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == str(key)), None)
        else:
            child = node.value[key] if isinstance(key, int) and key < len(node.value) else None
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


DELETE = object()


def mutated(data: dict[str, Any], keys: tuple, value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with ``value`` at ``keys`` (absent sections created), or the key deleted."""
    data = copy.deepcopy(data)
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
    if value is DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return data


def data_case(data: dict[str, Any], broken: tuple) -> Case:
    """The mutated ``data`` as a YAML file (innermost collections in flow style, as the shipped scenarios write
    them); an issue must name ``broken`` at its line."""
    text = yaml.dump(data, Dumper=DUMPER, sort_keys=False, allow_unicode=True, width=10**6, default_flow_style=None)
    return Case(text.encode("utf-8"), (yaml_path(broken), node_line(text, broken)))


# ------------------------------------------------------------------------------------------ families

scenario_names = st.sampled_from(sorted(BASES))
words = st.text(NOT_A_NUMBER_CHARS, max_size=12)
VALUES = {
    "int": st.integers(-10**12, 10**12),
    "float": st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: not v.is_integer()),
    "str": words,
    "bool": st.booleans(),
    "list": st.lists(st.integers(-9, 9), max_size=3),
    "dict": st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=6), st.integers(), max_size=2),
}
WRONG = {  # declared kind -> kinds of value it must refuse
    "bool": ("int", "float", "str", "list", "dict"),
    "int": ("float", "str", "bool", "list", "dict"),
    "float": ("str", "bool", "list", "dict"),
    "str": ("int", "float", "bool", "list", "dict"),
    "literal": ("int", "float", "bool", "list", "dict"),
    "datetime": ("int", "float", "str", "bool", "list", "dict"),
    "list": ("int", "float", "str", "bool", "dict"),
    "mapping": ("int", "float", "str", "bool", "list"),
}


def kind(tp: Any) -> str:
    if typing.get_origin(tp) is Literal:
        return "literal"
    if dataclasses.is_dataclass(tp) or typing.get_origin(tp) is dict:
        return "mapping"
    if typing.get_origin(tp) is list:
        return "list"
    return {bool: "bool", int: "int", float: "float", str: "str", dt.datetime: "datetime"}[tp]


@st.composite
def wrong_types(draw) -> Case:
    """A value of the wrong type at any slot: a string for a number, a list for a mapping, a number for a name..."""
    name = draw(scenario_names)
    slot = draw(st.sampled_from([s for s in SLOTS[name] if s.keys]))
    accepted = {kind(member) for member in slot.union}  # str | mapping (world.mask) takes either
    value = draw(st.one_of(*(VALUES[k] for k in WRONG[kind(slot.tp)]
                             if k not in accepted and not (k == "dict" and "mapping" in accepted))))
    return data_case(mutated(BASES[name], slot.keys, value), slot.keys)


@st.composite
def missing_keys(draw) -> Case:
    """A required key deleted. A pipeline item without its ``stage`` key is reported at the item."""
    name = draw(scenario_names)
    slot = draw(st.sampled_from([s for s in SLOTS[name] if s.keys and s.present and s.required]))
    reported = slot.keys[:-1] if slot.keys[0] == "pipeline" and slot.keys[-1] == "stage" else slot.keys
    return data_case(mutated(BASES[name], slot.keys, DELETE), reported)


def _known_keys(tp: type) -> set[str]:
    return {f.name for f in dataclasses.fields(tp)} | {"stage"}


@st.composite
def unknown_keys(draw) -> Case:
    """A key no config class knows, in any section or pipeline item."""
    name = draw(scenario_names)
    slot = draw(st.sampled_from([s for s in SLOTS[name] if s.present and dataclasses.is_dataclass(s.tp)]))
    key = draw(st.text(NAME_CHARS, min_size=1, max_size=16).filter(lambda k: k not in _known_keys(slot.tp)))
    value = draw(st.one_of(VALUES["int"], VALUES["str"], VALUES["list"]))
    return data_case(mutated(BASES[name], slot.keys + (key,), value), slot.keys + (key,))


def _violations(tp: Any, rules: typing.Mapping[str, Any]) -> list[st.SearchStrategy]:
    """Values that break each of ``rules`` (gt, ge, lt, le, min_items) for a field of type ``tp``."""
    out = []
    if tp is int:
        if "gt" in rules:
            out.append(st.integers(max_value=math.floor(rules["gt"])))
        if "ge" in rules:
            out.append(st.integers(max_value=math.ceil(rules["ge"]) - 1))
        if "lt" in rules:
            out.append(st.integers(min_value=math.ceil(rules["lt"])))
        if "le" in rules:
            out.append(st.integers(min_value=math.floor(rules["le"]) + 1))
    elif tp is float:
        finite = dict(allow_nan=False, allow_infinity=False)
        if "gt" in rules:
            out.append(st.floats(max_value=rules["gt"], **finite))
        if "ge" in rules:
            out.append(st.floats(max_value=rules["ge"], exclude_max=True, **finite))
        if "lt" in rules:
            out.append(st.floats(min_value=rules["lt"], **finite))
        if "le" in rules:
            out.append(st.floats(min_value=rules["le"], exclude_min=True, **finite))
        out.append(st.sampled_from([math.nan, math.inf, -math.inf]))
    if "min_items" in rules:
        out.append(st.just([]))
    return out


@st.composite
def out_of_range(draw) -> Case:
    """A number outside its field's bounds (zero or negative durations and rates, latitudes beyond 90, ...), NaN
    or infinity, or an empty list where one item is the least."""
    name = draw(scenario_names)
    slot = draw(st.sampled_from([s for s in SLOTS[name] if _violations(s.tp, s.rules)]))
    value = draw(st.one_of(*_violations(slot.tp, slot.rules)))
    return data_case(mutated(BASES[name], slot.keys, value), slot.keys)


@st.composite
def unknown_names(draw) -> Case:
    """An unknown stage, model, hardware profile, band, format, policy or any other name from a fixed set."""
    name = draw(scenario_names)
    slot = draw(st.sampled_from([s for s in SLOTS[name] if kind(s.tp) == "literal" or s.keys[-1:] in (("hardware",), ("model",))]))
    valid = set(typing.get_args(slot.tp)) | {"auto", "host"}
    value = draw(st.text(NAME_CHARS + " .", max_size=24).filter(lambda v: v not in valid))
    return data_case(mutated(BASES[name], slot.keys, value), slot.keys)


@st.composite
def missing_files(draw) -> Case:
    """The Landsat scenario with a GeoTIFF band or cloud mask that is not there: a plain name, a name too long for
    the file system, or one with a NUL byte."""
    band = draw(st.sampled_from([("world", "bands", b) for b in BASES["landsat_parana"]["world"]["bands"]]
                                + [("world", "mask")]))
    name = draw(st.one_of(st.text(NAME_CHARS + "/. ", min_size=1, max_size=40).map(lambda n: f"absent/{n}.tif"),
                          st.text(NAME_CHARS, min_size=256, max_size=400),
                          st.text(NAME_CHARS, max_size=8).map(lambda n: f"{n}\x00.tif")))
    return data_case(mutated(BASES["landsat_parana"], band, name), band)


def _fix_checksum(line: str) -> str:
    return line[:68] + str(_tle_checksum(line))


@st.composite
def tle_lines(draw) -> tuple[list[str], int | None]:
    """The ISS TLE broken one way: checksum, epoch (day 0 or past the year's end, not a number), line length,
    line number, catalogue numbers that differ, or not two lines; with the index of the line the problem is in
    (None: the TLE as a whole)."""
    line1, line2 = ISS_TLE
    fault = draw(st.sampled_from(["checksum", "epoch_day", "epoch_text", "length", "line_number", "catalogue",
                                  "count"]))
    which = draw(st.integers(0, 1))
    broken = [line1, line2]
    if fault == "checksum":
        line = ISS_TLE[which]
        broken[which] = line[:68] + draw(st.sampled_from([d for d in string.digits if d != line[68]]))
        return broken, which
    if fault == "epoch_day":
        day = draw(st.one_of(st.floats(0, 1, exclude_max=True), st.floats(366, 999.99999999)))
        return [_fix_checksum(line1[:20] + f"{day:012.8f}"[:12] + line1[32:]), line2], 0
    if fault == "epoch_text":
        text = draw(st.text(NOT_A_NUMBER_CHARS.replace(" ", ""), min_size=14, max_size=14))
        return [_fix_checksum(line1[:18] + text + line1[32:]), line2], 0
    if fault == "length":
        size = draw(st.one_of(st.integers(1, 68), st.integers(70, 90)))
        broken[which] = (ISS_TLE[which] + "7" * 30)[:size]
        return broken, which
    if fault == "line_number":
        first = draw(st.sampled_from([c for c in "0123456789AX " if c != str(which + 1)]))
        broken[which] = _fix_checksum(first + ISS_TLE[which][1:])
        return broken, which
    if fault == "catalogue":
        number = draw(st.integers(0, 99999).filter(lambda n: n != 25544))
        return [line1, _fix_checksum(f"{line2[:2]}{number:05d}{line2[7:]}")], 1
    return draw(st.sampled_from([[line1], [line1, line2, line2], []])), None


@st.composite
def bad_tles(draw) -> Case:
    """A satellite whose orbit is a broken TLE: reported at satellites[i].orbit.tle with its line, or at the item
    of the element line the problem is in, with that item's line."""
    name = draw(scenario_names)
    i = draw(st.integers(0, len(BASES[name]["satellites"]) - 1))
    keys = ("satellites", i, "orbit")
    lines, item = draw(tle_lines())
    return data_case(mutated(BASES[name], keys, {"tle": lines}), keys + ("tle",) + (() if item is None else (item,)))


def _top_level_positions(lines: list[str]) -> list[int]:
    """1-based line numbers where a line inserted would start a new top-level key."""
    return [n for n in range(1, len(lines) + 1) if n > len(lines) - 1 or lines[n - 1][:1] not in ("", " ", "#")]


ANYWHERE = {  # an inserted line that is wrong wherever it goes: (template, reported at its key)
    "mapping values": ("{key}: {word}: {word}", False), "tab": ("\t{key}: 1", False),
    "reserved @": ("{key}: @{word}", False), "undefined alias": ("{key}: *{word}", False),
}
TOP_LEVEL = {  # parses as a new top-level key, which the loader then refuses
    "bad int": ("{key}: !!int {word}", True), "bad bool": ("{key}: !!bool {word}", True),
    "bad timestamp": ("{key}: !!timestamp {word}", True),
    "python tag": ("{key}: !!python/object/apply:os.system [{word}]", True),
    "month 13": ("{key}: 2026-{number}-01", True), "hour 25": ("{key}: 2026-06-21T{number}:00:00Z", True),
}


@st.composite
def yaml_syntax(draw) -> Case:
    """The shipped file, with one line inserted: a syntax error, a tab, an undefined alias, a duplicate key, a tag
    the safe loader refuses, an impossible date. The issue names the inserted line."""
    name = draw(scenario_names)
    lines = TEXTS[name].split("\n")
    injection = draw(st.sampled_from([*ANYWHERE, *TOP_LEVEL, "duplicate key"]))
    if injection == "duplicate key":
        at = draw(st.sampled_from(_top_level_positions(lines)))
        key = draw(st.sampled_from(sorted(BASES[name])))
        first = next(n for n, line in enumerate(lines, 1) if line.startswith(f"{key}:"))
        text, expected = f"{key}: 1", (key, max(at, first + (first >= at)))  # the later of the two is the duplicate
    else:
        template, at_key = ANYWHERE.get(injection) or TOP_LEVEL[injection]
        at = draw(st.sampled_from(_top_level_positions(lines)) if at_key else st.integers(1, len(lines)))
        key = draw(st.text(string.ascii_lowercase, min_size=1, max_size=8).filter(lambda k: k not in BASES[name]))
        fill = {"key": key}
        if "{word}" in template:
            fill["word"] = draw(st.text(string.ascii_lowercase, min_size=1, max_size=8))
        if "{number}" in template:
            fill["number"] = draw(st.integers(13, 99) if injection == "month 13" else st.integers(24, 99))
        text, expected = template.format(**fill), (key if at_key else "", at)
    return Case("\n".join(lines[:at - 1] + [text] + lines[at - 1:]).encode("utf-8"), expected, mapping=False)


NOT_TEXT_BYTES = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, *range(0x80, 0xC2), *range(0xF5, 0x100)]


@st.composite
def garbage(draw) -> Case:
    """Empty and near-empty files, a document that is not a mapping, random bytes, a shipped file with a byte that
    is not text spliced in (the issue names its line), or cut short before its pipeline."""
    form = draw(st.sampled_from(["empty", "not a mapping", "random bytes", "spliced", "truncated"]))
    if form == "empty":
        text = draw(st.sampled_from(["", "\n\n", "   \n", "# only a comment\n", "---\n", "--- ~\n", "null\n",
                                     "\ufeff", "...\n", "---\n...\n"]))
        return Case(text.encode("utf-8"), ("", 1), mapping=False)
    if form == "not a mapping":
        text = draw(st.sampled_from(["42\n", "- a\n- b\n", "just words\n", "[1, 2]\n", "'quoted'\n", "!!binary aGk=\n",
                                     "2026-06-21\n", "a: 1\n---\nb: 2\n"]))
        return Case(text.encode("utf-8"), None, mapping=False)
    if form == "random bytes":
        return Case(draw(st.binary(min_size=1, max_size=256)), None, mapping=False)
    source = TEXTS[draw(scenario_names)].encode("utf-8")
    if form == "spliced":
        at = draw(st.integers(0, len(source)))
        junk = bytes([draw(st.sampled_from(NOT_TEXT_BYTES))]) + draw(st.binary(max_size=32))
        return Case(source[:at] + junk + source[at:], ("", source.count(b"\n", 0, at) + 1), mapping=False)
    at = draw(st.integers(0, source.index(b"\npipeline:")))
    return Case(source[:at], None, mapping=False)


FAMILIES = {  # family: (strategy, number of cases)
    "wrong_type": (wrong_types(), 100),
    "missing_key": (missing_keys(), 40),
    "unknown_key": (unknown_keys(), 40),
    "out_of_range": (out_of_range(), 80),
    "unknown_name": (unknown_names(), 50),
    "bad_tle": (bad_tles(), 50),
    "missing_file": (missing_files(), 30),
    "yaml_syntax": (yaml_syntax(), 60),
    "garbage": (garbage(), 60),
}


# ------------------------------------------------------------------------------------------ the oracle


def validate(path: Path, *overrides: str) -> tuple[int, str, str]:
    """``orbitedge validate PATH [--set OVERRIDE]...`` in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(["validate", str(path), *(arg for o in overrides for arg in ("--set", o))])
    return status, out.getvalue(), err.getvalue()


def check_clean_error(path: Path, case: Case) -> None:
    path.write_bytes(case.content)
    with pytest.raises(ConfigError) as raised:
        load_scenario(path)
    issues = raised.value.issues
    last_line = case.content.count(b"\n") + 1
    assert issues and raised.value.file == str(path)
    for issue in issues:
        assert isinstance(issue.line, int) and 1 <= issue.line <= last_line, issue
        assert isinstance(issue.path, str) and (issue.path or not case.mapping), issue
    if case.expected is not None:
        assert case.expected in {(i.path, i.line) for i in issues}, (case.expected, issues)
    status, out, err = validate(path)
    assert (status, out) == (2, "") and "Traceback" not in err
    assert err.startswith(f"orbitedge: error: {path}: {len(issues)} problem(s)\n")
    for issue in issues:
        assert f"  {path}:{issue.line}: {issue.path or '<document>'}: expected " in err


@pytest.mark.parametrize("name", sorted(BASES))
def test_unmutated_scenarios_validate(tmp_path, name):
    """The families start from valid documents: each shipped scenario, dumped as the families dump it, validates."""
    if name == "landsat_parana" and not Path(BASES[name]["world"]["bands"]["B"]).is_file():
        pytest.skip("the Landsat scene is not in ../shared/data")
    path = tmp_path / "s.yaml"
    path.write_bytes(data_case(BASES[name], ()).content)
    assert validate(path)[0] == 0
    assert load_scenario(path).name == name


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_malformed_scenario_is_a_clean_config_error(tmp_path_factory, family):
    strategy, count = FAMILIES[family]
    path = tmp_path_factory.mktemp(family) / "scenario.yaml"
    seen: set[bytes] = set()

    @settings(max_examples=count, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
    @given(strategy)
    def run(case: Case) -> None:
        assume(case.content not in seen)  # a repeat does not count towards max_examples
        seen.add(case.content)
        check_clean_error(path, case)

    run()
    assert len(seen) == count


# ------------------------------------------------------------------------------------------ found by fuzzing


@pytest.mark.parametrize("text, expected", [
    ("name: x\nstart_utc: 2026-13-45\n", ("start_utc", 2)),  # the date constructor's ValueError
    ("name: x\nseed: !!int abc\n", ("seed", 2)),
    ("name: x\n? [1, 2]\n: x\n", ("", 2)),  # an unhashable key
    ("a: \x01\n", ("", 1)),  # a control character the YAML reader refuses
    ("a: &x [*x]\n", ("a[0]", 1)),  # a recursive alias
    ("a: " + "[" * 600 + "]" * 600 + "\n", ("", 1)),  # nesting deeper than the parser's recursion
    ("a: !!python/object/apply:os.system [ls]\n", ("a", 1)),  # a tag on a list: refused, not ignored
    ("a: !!set {x, y}\n", ("a", 1)),
])
def test_yaml_that_crashed_the_loader(tmp_path, text, expected):
    check_clean_error(tmp_path / "s.yaml", Case(text.encode("utf-8"), expected, mapping=False))


def test_alias_bomb_stops_at_the_alias_limit(tmp_path):
    text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    text += "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 8))
    check_clean_error(tmp_path / "s.yaml", Case(text.encode("utf-8"), None, mapping=False))


@pytest.mark.parametrize("orbit, reported", [
    ({"altitude_km": 7000, "sun_synchronous": True, "ltan_h": 10.5}, ""),  # no sun-synchronous orbit that high
    ({"altitude_km": 300, "inclination_deg": 97, "raan_deg": 0, "eccentricity": 0.09}, ""),  # perigee underground
    ({"altitude_km": 550, "sun_synchronous": True}, ".ltan_h"),  # neither raan_deg nor ltan_h
])
def test_orbit_elements_sgp4_refuses_are_config_errors(tmp_path, orbit, reported):
    keys = ("satellites", 0, "orbit")
    case = data_case(mutated(BASES["quickstart"], keys, orbit), keys)
    text = case.content.decode()
    check_clean_error(tmp_path / "s.yaml", Case(case.content, (yaml_path(keys) + reported, node_line(text, keys))))


def tle_case(line1: str, line2: str, item: int | None = None) -> Case:
    """The quickstart flying a TLE of these lines, its problem at ``tle`` or at the element line ``item``."""
    keys = ("satellites", 0, "orbit")
    return data_case(mutated(BASES["quickstart"], keys, {"tle": [line1, line2]}),
                     keys + ("tle",) + (() if item is None else (item,)))


@pytest.mark.parametrize("line1, line2, item, problem", [
    (_fix_checksum(ISS_TLE[0][:20] + "400.00000000" + ISS_TLE[0][32:]), ISS_TLE[1], 0,
     "epoch day 400.0 is outside 1..365"),
    (ISS_TLE[0][:68] + "0", ISS_TLE[1], 0, "bad checksum: column 69 says 0, the line sums to 1"),
    # a mean motion of 0 made SGP4 divide by zero: a traceback, exit 1
    (ISS_TLE[0], _fix_checksum(ISS_TLE[1][:52] + " 0.00000000" + ISS_TLE[1][63:]), 1,
     "columns 53-63, mean motion 0: expected > 0 rev/day"),
    (ISS_TLE[0], _fix_checksum(ISS_TLE[1][:8] + "180.4307" + ISS_TLE[1][16:]), 1,
     "columns 9-16, inclination 180.4307: expected 0 to 180 degrees"),
    (ISS_TLE[0], _fix_checksum(ISS_TLE[1][:8] + "-51.6439" + ISS_TLE[1][16:]), 1,
     "columns 9-16, inclination -51.6439: expected 0 to 180 degrees"),
    (ISS_TLE[0], _fix_checksum(ISS_TLE[1][:17] + "411.2001" + ISS_TLE[1][25:]), 1,
     "columns 18-25, right ascension of the ascending node 411.2001: expected 0 to 360 degrees \\(less than 360\\)"),
    (ISS_TLE[0], _fix_checksum(ISS_TLE[1][:43] + "360.0000" + ISS_TLE[1][51:]), 1,
     "columns 44-51, mean anomaly 360: expected 0 to 360 degrees"),
])
def test_tle_fields_are_checked_at_their_line(tmp_path, line1, line2, item, problem):
    case = tle_case(line1, line2, item)
    check_clean_error(tmp_path / "s.yaml", case)
    with pytest.raises(ConfigError, match=problem):
        load_scenario(tmp_path / "s.yaml")


def test_tle_with_a_letter_in_the_mean_motion_is_a_config_error(tmp_path):
    line2 = _fix_checksum(ISS_TLE[1][:53] + "X" + ISS_TLE[1][54:])
    check_clean_error(tmp_path / "s.yaml", tle_case(ISS_TLE[0], line2))


# ------------------------------------------------------------------------------------------ --set and YAML 1.1 scalars

YAML_1_1_WORDS = ["y", "n", "Y", "N", "yes", "No", "ON", "off", "true", "False", "~", "null", "NULL", ".inf", "-.Inf",
                  ".NaN", "0x1F", "0b101", "0o17", "1_000", "1:30", "10:30", "-1:30:15.5", "2026-01-01", "00511", "017",
                  "09", "1e3", "1E-5", ".5e3", "+12", "2026-06-21T00:00:00Z", "2016-12-31T23:59:60Z", "2026-13-01",
                  "<<", "="]
plain_scalars = st.one_of(  # plain YAML scalars as people type them: words YAML 1.1 types, numbers in every notation
    st.sampled_from(YAML_1_1_WORDS),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda v: f"{v:e}"),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-10**6, 10**6).map(lambda v: f"{v:#x}" if v >= 0 else str(v)),
    st.integers(0, 10**4).map(lambda v: f"0{v}"),
    st.tuples(st.integers(0, 99), st.integers(0, 59)).map(lambda t: f"{t[0]}:{t[1]:02d}"),
    st.text(NAME_CHARS + ".+", min_size=1, max_size=10),
)
set_values = st.one_of(  # what follows KEY= on a command line
    plain_scalars,
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=16),
    st.sampled_from(["", "!!int abc", "!!float x", "!!python/name:os.system", "!!binary aGk=", "[1,", "{a: [", "'open",
                     "&a [*a]", "*x", "a: b: c", "@x", "---", "!!set {a}", "[]", "{}", "[B, G, X]", "{stage: blur}"]),
    st.recursive(st.one_of(st.integers(-5, 5), words, st.booleans()),
                 lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(words, inner, max_size=3)),
                 max_leaves=6).map(lambda v: yaml.dump(v, Dumper=DUMPER, default_flow_style=True, width=10**6).strip()),
)


@st.composite
def set_assignments(draw) -> tuple[str, str]:
    """(scenario, KEY=VALUE): a key path of the scenario (dotted or bracketed, or an index from the end) or a path
    no scenario has, and any value."""
    name = draw(scenario_names)
    slot = draw(st.sampled_from(SLOTS[name]))
    style = draw(st.sampled_from(["yaml", "dotted", "from_end", "junk"]))
    if style == "junk" or not slot.keys:
        key = draw(st.text(NAME_CHARS + ".[]-", max_size=24))
    elif style == "yaml":
        key = yaml_path(slot.keys)
    else:
        keys = [(k - len(BASES[name][slot.keys[0]]) if style == "from_end" and j == 1 else k)
                if isinstance(k, int) else k for j, k in enumerate(slot.keys)]
        key = ".".join(map(str, keys))
    value = draw(set_values)
    assume("\n" not in value and "\r" not in value)
    return name, f"{key}={value}"


def test_set_family_exits_0_or_2_naming_the_set(tmp_path_factory):
    """Any --set on any shipped scenario: exit 0, or exit 2 with every issue on its own line and the message
    naming the --set (on the issue of its value, or after every other issue), never a traceback."""
    root = tmp_path_factory.mktemp("set")
    paths = {}
    for name in BASES:
        paths[name] = root / f"{name}.yaml"
        paths[name].write_bytes(data_case(BASES[name], ()).content)
    valid = {name: validate(path)[0] == 0 for name, path in paths.items()}  # landsat_parana needs ../shared/data

    @settings(max_examples=200, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(set_assignments())
    def run(case: tuple[str, str]) -> None:
        name, assignment = case
        status, out, err = validate(paths[name], assignment)
        assert status in (0, 2) and "Traceback" not in err, err
        if status == 0:
            assert valid[name] and out.startswith(f"{paths[name]}: OK")
            return
        head, *issues = err.rstrip("\n").split("\n")
        assert out == "" and head.startswith(f"orbitedge: error: {paths[name]}: {len(issues)} problem(s)")
        for line in issues:
            assert line.startswith((f"  {paths[name]}:", f"  --set {assignment}: ")), line
            assert f"--set {assignment}" in line, line

    run()


@st.composite
def yaml_1_1_scalars(draw) -> tuple[str, Slot, str, str]:
    """(scenario, slot, TEXT, file): a plain scalar typed by YAML 1.1 from its text, written at a slot of a shipped
    scenario that expects a string, a name from a set, a number or a boolean."""
    name = draw(scenario_names)
    slot = draw(st.sampled_from([s for s in SLOTS[name] if s.keys and s.present and s.keys[-1] != "stage"
                                 and kind(s.tp) in ("str", "literal", "int", "float", "bool")]))
    text = draw(plain_scalars)
    marker = "PLACEHOLDER7"
    content = data_case(mutated(BASES[name], slot.keys, marker), slot.keys).content.decode()
    content = content.replace(marker, text)
    try:
        node = yaml.compose(content, Loader=LOADER)
    except yaml.YAMLError:
        assume(False)
    for key in slot.keys:
        node = (dict((k.value, v) for k, v in node.value)[key] if isinstance(node, yaml.MappingNode)
                else node.value[key])
    assume(isinstance(node, yaml.ScalarNode) and node.value == text and not node.style)  # plain: libyaml says ""
    return name, slot, text, content


# the numbers of the YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), decimal, without a
# leading zero (which YAML 1.1 reads as octal), and those that are one number to YAML 1.1 and 1.2 alike
DECIMAL = re.compile(r"[-+]?(?:\.[0-9]+|(?:0|[1-9][0-9]*)(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")


def python_number(text: str) -> float | None:
    """The number Python's own parsers read from ``text`` (decimal, 0x, 0o, 0b, 1_000), or None."""
    if DECIMAL.fullmatch(text):
        return float(text)
    try:
        return int(text, 0)
    except ValueError:
        return None

AMBIGUOUS = re.compile(r"[-+]?0[0-9_]+|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")  # octal 0550, base-60 1:30
TYPE_EXPECTED = {"str": ("a non-empty string",), "literal": ("one of ",), "bool": ("true or false",),  # by kind
                 "int": ("an integer", "a finite number"), "float": ("a number", "a finite number")}
YAML_1_1_BOOLS = {w: w.lower() in ("y", "yes", "true", "on") for w in
                  [c for b in ("yes", "no", "true", "false", "on", "off") for c in (b, b.capitalize(), b.upper())]}


def test_yaml_1_1_scalar_family(tmp_path_factory):
    """A plain scalar where a string, a name from a set, a number or a boolean is expected. Every issue about it
    names its path and line and shows the text as written; a string field takes text YAML 1.1 reads as text and
    says to quote anything else; a number field takes every notation of one number (1e3, 0x1F) as the number
    Python reads, and refuses 0550 and 10:30, which YAML 1.1 reads otherwise than they look; a boolean field takes
    YAML 1.1's yes/no/on/off."""
    path = tmp_path_factory.mktemp("yaml11") / "s.yaml"

    @settings(max_examples=200, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(yaml_1_1_scalars())
    def run(case: tuple[str, Slot, str, str]) -> None:
        name, slot, text, content = case
        path.write_text(content, encoding="utf-8")
        where = (yaml_path(slot.keys), node_line(content, slot.keys))
        try:
            load_scenario(path)
            issues = []
        except ConfigError as err:
            issues = err.issues
            status, _, stderr = validate(path)
            assert status == 2 and "Traceback" not in stderr
        tp = kind(slot.tp)
        mine = [i for i in issues if (i.path, i.line) == where and i.expected.startswith(TYPE_EXPECTED[tp])]
        assert all(text in i.found for i in mine), mine
        if tp == "str":
            pyyaml = yaml.compose(f"a: {text}\n").value[0][1]
            is_text = pyyaml.tag in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:merge", "tag:yaml.org,2002:value")
            if not is_text or re.fullmatch(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+|0o[0-7]+", text):
                assert any(f"quote it, '{text}'" in i.found for i in mine), (text, issues)
            else:
                assert not mine, mine
        elif slot.nullable and text in ("~", "null", "Null", "NULL"):
            assert not mine, mine  # YAML's null, where the key takes null
        elif tp in ("int", "float"):
            if AMBIGUOUS.fullmatch(text):
                assert any("written in decimal" in i.expected for i in mine), issues
            elif (number := python_number(text)) is not None:
                if math.isfinite(number) and (tp == "float" or float(number).is_integer()):
                    assert not mine, mine
            else:
                assert mine, (text, issues)
        elif tp == "bool":
            assert bool(mine) != (text in YAML_1_1_BOOLS), (text, issues)
        elif text not in typing.get_args(slot.tp):
            assert mine, issues

    run()


# ------------------------------------------------------------------------------------------ element sets as pasted

STALE_DAYS = 7.0  # the epoch distance beyond which a run is warned about (onboard/orbit/elements.py)


@st.composite
def element_sets(draw) -> tuple[dict[str, Any], float, str]:
    """(scenario data, days from the TLE epoch to the run's far end, name): the shipped cubesat scenario flying an
    element set made by sgp4's own exporter from drawn elements (mean motion from a few to 17 rev/day, drag up to
    re-entry levels), pasted as two or three lines, as a list or a block of text, with a title or without, and a
    start from a month before its epoch to years after it."""
    from sgp4.api import WGS72, Satrec
    from sgp4.exporter import export_tle

    epoch = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=draw(st.floats(0, 300)))
    epoch_days = (epoch - dt.datetime(1949, 12, 31, tzinfo=dt.timezone.utc)).total_seconds() / 86400.0
    satrec = Satrec()
    satrec.sgp4init(WGS72, "i", 99999, epoch_days, draw(st.sampled_from([0.0, 1e-5, 1e-4, 1e-3, 1e-2])), 0.0, 0.0,
                    draw(st.floats(0.0, 0.05)), math.radians(draw(st.floats(0, 359))),
                    math.radians(draw(st.floats(0.5, 179))), math.radians(draw(st.floats(0, 359))),
                    draw(st.floats(3.0, 17.0)) * 2 * math.pi / 1440.0, math.radians(draw(st.floats(0, 359))))
    lines = list(export_tle(satrec))
    title = draw(st.one_of(st.none(), st.text(string.ascii_uppercase + string.digits + " ()-", min_size=1,
                                              max_size=20).filter(lambda t: t.strip() and t.strip()[0] not in "12")))
    if title is not None:
        lines.insert(0, draw(st.sampled_from(["", "0 "])) + title)
    start = epoch + dt.timedelta(days=draw(st.one_of(st.floats(-30, 30), st.floats(30, 2000))))
    data = copy.deepcopy(BASES["cubesat_sband"])
    data["start_utc"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    data["duration_h"] = 2.0
    named = title is None or draw(st.booleans())
    satellite = data["satellites"][0]
    if not named:
        del satellite["name"]
    satellite["orbit"] = {"tle": lines if draw(st.booleans()) else "\n".join(lines) + "\n"}
    start_s, epoch_s = dt.datetime.strptime(data["start_utc"], "%Y-%m-%dT%H:%M:%S%z"), epoch
    far_days = max(abs((start_s - epoch_s).total_seconds()), abs((start_s - epoch_s).total_seconds() + 7200)) / 86400
    return data, far_days, satellite.get("name") or re.sub(r"[^A-Za-z0-9_-]+", "-", title.strip()).strip("-")


def test_element_set_family(tmp_path_factory):
    """Any element set as pasted: exit 0, warned in stderr exactly when the run reaches beyond 7 days from the
    epoch; or exit 2 with the refusal at the satellite's tle (or name) and its line, naming the satellite."""
    path = tmp_path_factory.mktemp("tle") / "s.yaml"
    outcomes = set()

    @settings(max_examples=60, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(element_sets())
    def run(case: tuple[dict[str, Any], float, str]) -> None:
        data, far_days, name = case
        text = yaml.dump(data, Dumper=DUMPER, sort_keys=False, width=10**6, default_flow_style=None)
        path.write_text(text, encoding="utf-8")
        status, out, err = validate(path)
        assert status in (0, 2) and "Traceback" not in err, err
        outcomes.add(status)
        if status == 0:
            warned = "warning:" in err and "satellites[0].orbit.tle" in err
            assert warned == (far_days > STALE_DAYS + 1e-3) or abs(far_days - STALE_DAYS) < 1e-3, (far_days, err)
            return
        head, *issues = err.rstrip("\n").split("\n")
        assert head == f"orbitedge: error: {path}: {len(issues)} problem(s)", err
        tle_line = node_line(text, ("satellites", 0, "orbit", "tle"))
        for issue in issues:
            assert issue.startswith((f"  {path}:{tle_line}: satellites[0].orbit.tle: ",
                                     f"  {path}:{node_line(text, ('satellites', 0))}: satellites[0].name: ")), issue
        assert any(f"'{name}'" in issue for issue in issues) or "satellites[0].name" in err, err

    run()
    assert outcomes == {0, 2}  # the family reaches both sides of the line


# ------------------------------------------------------------------------------------------ imagery as written

IMAGERY_CRS = {  # EPSG: (x0, y0) of the image's upper-left corner near 30.8 N, 87.5 W (the Gulf coast)
    32616: (450000.0, 3420000.0), 4326: (-87.55, 30.85), 5070: (860000.0, 850000.0), 3857: (-9746000.0, 3608000.0)}


@st.composite
def imagery_worlds(draw, root: Path) -> tuple[dict[str, Any], set[str], bool]:
    """(scenario data, YAML paths that must carry an issue, whether the target is on the imagery): a world of
    GeoTIFFs written by GDAL in a drawn CRS, data type, no-data and band count, bands named or not, a mask with
    drawn codes, and a target on or off the imagery; the expected issues are what a user must be told."""
    import rasterio
    from affine import Affine

    case_dir = root / f"c{draw(st.integers(0, 10**9))}"
    case_dir.mkdir(exist_ok=True)
    epsg = draw(st.sampled_from(sorted(IMAGERY_CRS)))
    x0, y0 = IMAGERY_CRS[epsg]
    step = 0.0005 if epsg == 4326 else 60.0
    transform = Affine(step, 0.0, x0, 0.0, -step, y0)
    dtype = draw(st.sampled_from(["uint8", "uint16", "int16", "float32"]))
    count = draw(st.integers(1, 3))
    nodata = draw(st.sampled_from([None, 0, 255, -9999]))
    expected: set[str] = set()
    if nodata is not None and not np.can_cast(np.min_scalar_type(nodata), dtype):
        nodata = None  # GDAL refuses to write it; the scenario's nodata is fuzzed below
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pixels = rng.integers(1, 200, size=(count, 96, 96)).astype(dtype)
    image = case_dir / "image.tif"
    with rasterio.open(image, "w", driver="GTiff", width=96, height=96, count=count, dtype=dtype,
                       crs=f"EPSG:{epsg}", transform=transform, nodata=nodata) as ds:
        ds.write(pixels)
    bands = {}
    for i, band in enumerate(("B", "G", "R", "NIR")):
        if count == 1:
            bands[band] = str(image)
        elif draw(st.booleans()):
            chosen = draw(st.integers(1, count + 1))
            bands[band] = {"file": str(image), "band": chosen}
            if chosen > count:
                expected.add(f"world.bands.{band}")
        else:
            bands[band] = str(image)
            expected.add(f"world.bands.{band}")
    world: dict[str, Any] = {"source": "geotiff", "bands": bands, "dn_scale": 0.002, "dn_offset": 0.0}
    if draw(st.booleans()):
        codes = draw(st.lists(st.integers(0, 6), min_size=1, max_size=4, unique=True))
        mask = case_dir / "mask.tif"
        with rasterio.open(mask, "w", driver="GTiff", width=96, height=96, count=1, dtype="uint8",
                           crs=f"EPSG:{epsg}", transform=transform) as ds:
            ds.write(rng.choice(np.array(codes, np.uint8), size=(1, 96, 96)))
        world["mask"] = str(mask)
        if max(codes) > 2:
            expected.add("world.mask")
    if dtype != "float32" and draw(st.booleans()):
        world["nodata"] = draw(st.sampled_from([-1, 70000, 0]))
        if not np.can_cast(np.min_scalar_type(world["nodata"]), dtype):
            expected.add("world.nodata")
    data = copy.deepcopy(BASES["cubesat_sband"])
    data["world"] = world
    on_image = draw(st.booleans())
    target = data["targets"][0]
    if on_image:  # the image's centre, as PROJ places it
        from pyproj import Transformer

        lon, lat = Transformer.from_crs(epsg, 4326, always_xy=True).transform(x0 + 48 * step, y0 - 48 * step)
        target["lat_deg"], target["lon_deg"] = round(lat, 5), round(lon, 5)
    else:
        target["lat_deg"], target["lon_deg"] = 10.0, 20.0
    data["targets"] = [target]
    return data, expected, on_image


def test_imagery_family(tmp_path_factory):
    """Any world of image files as GIS tools write them: exit 0 when nothing is wrong, warned when the target is off
    the imagery; else exit 2 with an issue at each YAML path a user must fix (a band not chosen or not there, mask
    values that are not cloud codes, a no-data value the samples cannot hold), every issue with its line, no
    traceback."""
    root = tmp_path_factory.mktemp("imagery")
    path = root / "s.yaml"
    told: set[str] = set()

    @settings(max_examples=40, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(imagery_worlds(root))
    def run(case: tuple[dict[str, Any], set[str], bool]) -> None:
        data, expected, on_image = case
        text = yaml.dump(data, Dumper=DUMPER, sort_keys=False, width=10**6, default_flow_style=None)
        path.write_text(text, encoding="utf-8")
        status, out, err = validate(path)
        assert "Traceback" not in err, err
        told.update(expected or {"nothing" if on_image else "off the imagery"})
        if not expected:
            warning = f"orbitedge: warning: {path}:{node_line(text, ('targets', 0))}: targets[0]: expected a target on"
            assert status == 0 and (warning in err) == (not on_image), err
            return
        assert status == 2 and out == "", err
        for key in expected:
            keys = tuple(int(k) if k.isdigit() else k for k in re.split(r"[.\[\]]+", key) if k)
            assert f"  {path}:{node_line(text, keys)}: {key}: expected " in err, (key, err)

    run()
    assert {"nothing", "off the imagery", "world.bands.B", "world.mask", "world.nodata"} <= told  # every branch
