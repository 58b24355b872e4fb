"""The Builder (onboard/scenario/schema.py), on YAML read by onboard/scenario/yaml_source.py: YAML 1.1's readings of a scalar are refused
where they are not what the field expects, --set values get the issues the same text in the file gets, and every
problem is reported."""

from __future__ import annotations

import datetime as dt
import re
import string
from dataclasses import dataclass
from typing import Literal

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from onboard.scenario.schema import build, issue_at, spec
from onboard.scenario.yaml_source import apply_override, load_yaml
from rundir.errors import ConfigError, ConfigIssue

UTC = dt.timezone.utc


@dataclass(frozen=True, kw_only=True)
class Probe:
    """One field of each kind the scenarios use."""

    name: str = spec("x")
    count: int = spec(1, ge=0)
    rate: float = spec(1.0, gt=0)
    flag: bool = spec(False)
    mode: Literal["png", "tiff"] = spec("png")
    when: dt.datetime = spec(dt.datetime(2026, 1, 1, tzinfo=UTC))


def probe(text: str, overrides: tuple[str, ...] = ()) -> Probe:
    data, source = load_yaml(text, "p.yaml")
    for assignment in overrides:
        apply_override(data, source, assignment, "p.yaml")
    return build(Probe, data, source, "p.yaml")


def refused(text: str, overrides: tuple[str, ...] = ()) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        probe(text, overrides)
    return err.value


# ------------------------------------------------------------------------------------------ scalars YAML could not read


def test_unreadable_scalars_are_reported_with_every_other_problem():
    err = refused("count: !!int abc\nrate: fast\nwhen: 2026-02-30\nextra: !!float x\n")
    assert [(i.path, i.line) for i in err.issues] == [("count", 1), ("rate", 2), ("when", 3), ("extra", 4)]
    assert err.issues[0].found == "!!int abc (invalid literal for int() with base 10: 'abc')"
    assert err.issues[2].found == "2026-02-30 (day is out of range for month)"


@dataclass(frozen=True)
class NoKeys:
    """An object with nothing to set, as bent_pipe's parameters."""


def test_a_key_where_there_are_none_says_so():
    data, source = load_yaml("threshold: 0.5\n", "p.yaml")
    with pytest.raises(ConfigError) as err:
        build(NoKeys, data, source, "p.yaml")
    [issue] = err.value.issues
    assert (issue.path, issue.line, issue.expected, issue.found) == (
        "threshold", 1, "no keys (it takes none)", "unknown key 'threshold'")


def test_a_block_left_empty_names_the_keys_it_takes_not_a_class():
    from onboard.scenario.config import Scenario

    data, source = load_yaml("spacecraft:\n", "s.yaml")
    with pytest.raises(ConfigError) as err:
        build(Scenario, data, source, "s.yaml")
    [issue] = [i for i in err.value.issues if i.path == "spacecraft"]
    assert (issue.line, issue.expected) == (1, "a mapping of the keys camera, compute, storage, power, radio")


# ------------------------------------------------------------------------------------------ YAML 1.1's readings


@pytest.mark.parametrize("text, reading", [
    ("NO", "bool False"), ("on", "bool True"), ("Off", "bool False"), ("yes", "bool True"), ("00511", "int 329"),
    ("0x1F", "int 31"), ("1_000", "int 1000"), ("1:30", "int 90"), ("12345", "int 12345"), ("1e3", "float 1000.0"),
    (".inf", "float inf"), ("~", "null: nothing"), ("null", "null: nothing"), ("2026-01-01", "date 2026-01-01"),
    ("2026-01-01T00:00:00Z", "datetime 2026-01-01T00:00:00+00:00"),
])
def test_text_field_refuses_what_yaml_typed_otherwise_showing_the_text_and_how_to_quote_it(text, reading):
    (issue,) = refused(f"\nname: {text}\n").issues
    assert (issue.path, issue.line, issue.expected) == ("name", 2, "a non-empty string")
    assert issue.found == f"{text} (YAML reads it as {reading}): quote it, '{text}', to keep it text"
    assert probe(f"name: '{text}'\n").name == text


def test_an_explicit_tag_is_the_users_choice():
    assert probe("name: !!str 00511\n").name == "00511"
    assert "found float 5.0" in str(refused("name: !!float 5\n"))


@pytest.mark.parametrize("text", ["<<", "="])
def test_yaml_1_1_key_only_types_are_text_as_values(text):
    assert probe(f"name: {text}\n").name == text


def test_an_empty_value_is_nothing():
    assert refused("name:\n").issues[0].found == "nothing (null)"


def test_literal_shows_the_text_and_quotes_only_a_valid_choice():
    (issue,) = refused("mode: off\n").issues
    assert issue.found == "off (YAML reads it as bool False)"


@pytest.mark.parametrize("text, value", [
    ("1e3", 1000.0), ("1E-5", 1e-5), ("0x1F", 31.0), ("1_000", 1000.0), ("0b101", 5.0), ("+2", 2.0), ("0o17", 15.0),
    ("2.5", 2.5), ("7", 7.0),
])
def test_number_field_takes_every_notation_that_means_one_number(text, value):
    assert probe(f"rate: {text}\n").rate == value


@pytest.mark.parametrize("text, count", [("1e3", 1000), ("1.5e3", 1500), ("1000.0", 1000), ("0x1F", 31)])
def test_integer_field_takes_whole_numbers_in_any_notation(text, count):
    built = probe(f"count: {text}\n").count
    assert built == count and type(built) is int


@pytest.mark.parametrize("text, expected, found", [
    ("0550", "a number written in decimal (to YAML 1.1 a leading 0 is octal)", "0550 (YAML reads it as int 360)"),
    ("09", "a number written in decimal (to YAML 1.1 a leading 0 is octal)", "str '09'"),
    ("10:30", "a number written in decimal (to YAML 1.1 h:mm is base 60)", "10:30 (YAML reads it as int 630)"),
    ("1:30.5", "a number written in decimal (to YAML 1.1 h:mm is base 60)", "1:30.5 (YAML reads it as float 90.5)"),
    (".inf", "a finite number", ".inf (YAML reads it as float inf)"),
    ("on", "a number", "on (YAML reads it as bool True)"),
    ("-1e3", "a value > 0", "float -1e3"),
    ("fast", "a number", "str 'fast'"),
])
def test_number_field_refuses_text_that_yaml_1_1_reads_otherwise_than_it_looks(text, expected, found):
    (issue,) = refused(f"rate: {text}\n").issues
    assert (issue.path, issue.line, issue.expected, issue.found) == ("rate", 1, expected, found)


def test_integer_field_refuses_a_fraction():
    assert refused("count: 1e-3\n").issues[0].found == "float 1e-3"


@pytest.mark.parametrize("text, flag", [("yes", True), ("No", False), ("on", True), ("OFF", False), ("true", True)])
def test_bool_field_takes_yaml_1_1_booleans(text, flag):
    assert probe(f"flag: {text}\n").flag is flag


# ------------------------------------------------------------------------------------------ times


@pytest.mark.parametrize("text, after", [
    ("2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z"),  # IERS Bulletin C 52
    ("2015-06-30T23:59:60Z", "2015-07-01T00:00:00Z"),  # IERS Bulletin C 49
    ("2016-12-31T23:59:60.5Z", "2017-01-01T00:00:00Z"),
    ("2017-01-01T08:59:60+09:00", "2017-01-01T00:00:00Z"),  # the same leap second in Japan
])
@pytest.mark.parametrize("quote", ["", "'"])
def test_a_leap_second_is_refused_naming_the_second_after_it(text, after, quote):
    (issue,) = refused(f"when: {quote}{text}{quote}\n").issues
    assert issue.expected == "an ISO 8601 UTC time like 2026-06-21T00:00:00Z"
    assert f"{text}" in issue.found and "leap second" in issue.found and "IERS Bulletin C" in issue.found
    assert issue.found.endswith(f"use {after})")


@pytest.mark.parametrize("text, when", [
    ("2026-06-21T00:00:00Z", dt.datetime(2026, 6, 21, tzinfo=UTC)),
    ("'2026-06-21T02:00:00+02:00'", dt.datetime(2026, 6, 21, tzinfo=UTC)),
    ("2026-06-21", dt.datetime(2026, 6, 21, tzinfo=UTC)),
    ("2026-06-21 00:00:00", dt.datetime(2026, 6, 21, tzinfo=UTC)),
])
def test_times(text, when):
    assert probe(f"when: {text}\n").when == when


# ------------------------------------------------------------------------------------------ --set


def test_set_value_is_read_by_the_same_loader_and_its_issue_names_the_set():
    err = refused("name: ok\n", ("count=0550", "name=NO", "when=2026-13-01", "rate=1e3"))
    issues = {i.path: i for i in err.issues}
    assert set(issues) == {"count", "name", "when"}
    assert all(i.line is None and i.override == f"--set {i.path}={v}"
               for i, v in zip(issues.values(), ("0550", "NO", "2026-13-01")))
    assert issues["when"].found == "2026-13-01 (month must be in 1..12)"
    assert "  --set name=NO: name: expected a non-empty string, found NO (YAML reads it as bool False): quote it" in str(err)


def test_set_value_gets_the_same_issue_as_the_same_text_in_the_file():
    for key, text in [("count", "abc"), ("rate", "0550"), ("name", "on"), ("when", "2016-12-31T23:59:60Z"),
                      ("mode", "[1, 2]"), ("flag", "!!int x"), ("rate", "-1")]:
        (in_file,) = refused(f"{key}: {text}\n").issues
        (by_set,) = refused("{}\n", (f"{key}={text}",)).issues
        assert (by_set.path, by_set.expected, by_set.found) == (in_file.path, in_file.expected, in_file.found)


# ------------------------------------------------------------------------------------------ every problem at once


@dataclass(frozen=True, kw_only=True)
class Pair:
    low: float = spec()
    high: float = spec()
    label: str | None = spec(None)

    def check(self) -> list[ConfigIssue]:
        out = [issue_at("label", "a label", "nothing")] if self.label is None else []
        if self.high <= self.low:
            out.append(issue_at("high", f"more than low ({self.low})", str(self.high)))
        return out


@dataclass(frozen=True, kw_only=True)
class Outer:
    pair: Pair = spec()
    tag: str = spec()

    def check(self) -> list[ConfigIssue]:
        return [issue_at("tag", "a tag other than 'bad'", "'bad'")] if self.tag == "bad" else []


def outer_issues(text: str) -> list[tuple[str, str]]:
    data, source = load_yaml(text, "o.yaml")
    with pytest.raises(ConfigError) as err:
        build(Outer, data, source, "o.yaml")
    return [(i.path, i.expected) for i in err.value.issues]


def test_a_rule_issue_is_placed_below_the_object_it_checks_with_its_line():
    assert issue_at("high", "more", "less") == ConfigIssue("high", None, "more", "less")  # not placed yet
    data, source = load_yaml("tag: bad\npair:\n  low: 2\n  high: 1\n  label: x\n", "o.yaml")
    with pytest.raises(ConfigError) as err:
        build(Outer, data, source, "o.yaml")
    assert err.value.issues == [ConfigIssue("tag", 1, "a tag other than 'bad'", "'bad'"),
                                ConfigIssue("pair.high", 4, "more than low (2.0)", "1.0")]


def test_a_section_with_a_rule_broken_still_lets_its_parent_run_its_rules():
    assert outer_issues("pair: {low: 2, high: 1, label: x}\ntag: bad\n") == [
        ("pair.high", "more than low (2.0)"), ("tag", "a tag other than 'bad'")]


def test_rules_run_on_the_fields_that_built_and_skip_those_that_need_a_field_with_a_problem():
    # label has a default (None) but was given wrongly: the label rule must not report "nothing"
    assert outer_issues("pair: {low: 2, high: x, label: NO}\ntag: bad\n") == [
        ("pair.high", "a number"), ("pair.label", "a non-empty string"), ("tag", "a tag other than 'bad'")]
    # a check is one method: it stops at the first field it needs that has a problem, and says nothing wrong
    assert outer_issues("pair: {low: 2, high: x}\ntag: ok\n") == [("pair.high", "a number")]


# ------------------------------------------------------------------------------------------ families

WORDS_1_1 = ["y", "Y", "n", "N", "yes", "No", "ON", "off", "true", "False", "~", "null", "Null", "NULL", ".inf",
             "-.Inf", ".NaN", "0x1F", "0b101", "0o17", "1_000", "1:30", "-1:30:15.5", "2026-01-01", "00511", "017",
             "09", "1e3", "1E-5", ".5e3", "+12", "2026-06-21T00:00:00Z", "<<", "="]
plain_scalars = st.one_of(
    st.sampled_from(WORDS_1_1),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda v: f"{v:e}"),
    st.integers(-10**6, 10**6).map(lambda v: f"{v:#x}" if v >= 0 else str(v)),
    st.integers(0, 10**6).map(lambda v: "0" + str(v)),
    st.tuples(st.integers(0, 99), st.integers(0, 59)).map(lambda t: f"{t[0]}:{t[1]:02d}"),
    st.text(string.ascii_letters + string.digits + "._-+", min_size=1, max_size=10),
)


def is_text_for_yaml(text: str) -> bool:
    """Whether PyYAML, the reference for YAML 1.1, resolves the plain scalar as text, or as << or = (which mean
    something as keys only), and it is no YAML 1.2 number."""
    (_, node), = yaml.compose(f"a: {text}\n").value
    text_tags = {f"tag:yaml.org,2002:{t}" for t in ("str", "merge", "value")}
    return node.tag in text_tags and node.value == text and not YAML_1_2_ONLY_NUMBER.fullmatch(text)


# the numbers of the YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution) that YAML 1.1 reads
# as text: an exponent without a dot or sign, and 0o octal
YAML_1_2_ONLY_NUMBER = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+|0o[0-7]+")


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(st.one_of(st.sampled_from(WORDS_1_1), plain_scalars))
def test_family_a_plain_scalar_where_text_is_expected(text):
    """Text YAML reads as text is taken as written; anything else is refused with the text, its line and a quote
    that, used, gives exactly the text."""
    assume_loadable(text)
    if is_text_for_yaml(text) and text.strip():
        assert probe(f"rate: 1\nname: {text}\n").name == text
    else:
        (issue,) = refused(f"rate: 1\nname: {text}\n").issues
        assert (issue.path, issue.line) == ("name", 2)
        assert issue.found.startswith(f"{text} (YAML reads it as ") and f"quote it, '{text}'" in issue.found
    assert probe(f"name: '{text}'\n").name == text


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(st.one_of(st.floats(min_value=1e-300, max_value=1e300).map(lambda v: f"{v:e}"),
                 st.floats(min_value=1e-300, max_value=1e300).map(repr),
                 st.integers(1, 10**12).map(str)))
def test_family_decimal_numbers_are_the_number_python_reads(text):
    """Any positive decimal number, in any notation, is the number Python's own parser reads from the same text."""
    for sign in ("", "+"):
        assert probe(f"rate: {sign}{text}\n").rate == float(text)


def assume_loadable(text: str) -> None:
    from hypothesis import assume

    try:
        load_yaml(f"name: {text}\n", "f.yaml")
    except ConfigError:
        assume(False)


