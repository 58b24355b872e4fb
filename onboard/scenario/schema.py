"""Typed config: convert plain YAML data (with its ``yaml_source.Source``) into frozen dataclasses, checking each
field's rules and each class's cross-field rules.

Every problem is collected, never just the first: a ``ConfigIssue`` names the YAML path (``satellites[0].orbit.
altitude_km``), its line (or the ``--set`` that gave the value), what was expected and what was found, as the user
wrote it. Field rules live in dataclass field metadata (``gt``, ``ge``, ``lt``, ``le``, ``doc``); cross-field rules in
a ``check(self)`` method returning ConfigIssues made with :func:`issue_at` (a pipeline stage's ``check`` and
``check_files`` return them too), which the Builder places in the YAML (:meth:`Builder.report`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, Callable, Literal, Union

from rundir.errors import ConfigError, ConfigIssue

from .yaml_source import Source, ancestors, join, show_value, utc_time


def spec(default: Any = dataclasses.MISSING, *, doc: str = "", file: bool | Callable[[str], bool] = False,
         **rules: float) -> Any:
    """A dataclass field with validation ``rules`` (gt, ge, lt, le) and a one-line ``doc`` for the README. ``file``:
    the field (or, for a mapping, each text value in it) names a file relative to the scenario, or, a test of the
    value, does when the test holds (a model parameter names a file, not a shipped model, by its suffix);
    :attr:`Builder.files` collects them."""
    meta = {"doc": doc, **rules, **({"file": file} if file else {})}
    if isinstance(default, (list, dict, tuple)) and not isinstance(default, tuple):
        return dataclasses.field(default_factory=lambda: default, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


EXPECTED_TIME = "an ISO 8601 UTC time like 2026-06-21T00:00:00Z"
# NOTE: numbers whose text YAML 1.1 reads otherwise than a reader (and YAML 1.2) does: a leading 0 is octal to
# YAML 1.1 (0550 is 360) and h:mm is base 60 (10:30 is 630); the Builder refuses them where a number is expected.
LEADING_ZERO = re.compile(r"[-+]?0[0-9_]+")
BASE_60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
PLAIN_NUMBER = re.compile(r"[-+]?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")  # one reading only


def issue_at(path: str, expected: str, found: str) -> ConfigIssue:
    """What a rule found, not placed yet: a ConfigIssue at ``path`` relative to the object the rule checks (``""``:
    the object itself), with no line; :meth:`Builder.report` places it below the object's own YAML path."""
    return ConfigIssue(path, None, expected, found)


class _Withheld:
    """A field left out of a partial object (it has a problem of its own): reading it raises AttributeError, even
    where the class has a default."""

    def __init__(self, name: str):
        self.name = name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        raise AttributeError(f"{self.name} is left out: it has a problem of its own")


class _Invalid:
    """The result of a value that did not build; its issue is recorded."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID = _Invalid()


SCALAR_TYPES = (bool, int, float, str, dt.datetime)  # the field types Builder.build_scalar builds


class Builder:
    """Converts plain YAML data into a dataclass tree, collecting every issue.

    A dataclass whose fields all built runs its ``check()``. One whose fields did not all build, or have problems of
    their own, still runs it on a partial object that has only the fields without problems (and the defaults of
    the keys not given): a rule that needs a missing field stops at its AttributeError, and that field's own issue
    is reported. So one run reports every problem.
    """

    def __init__(self, source: Source):
        self.source = source
        self.issues: list[ConfigIssue] = []
        self.files: dict[str, str] = {}  # {YAML path: value} of the texts built that name a file (spec(file=...))

    def fail(self, path: str, expected: str, found: str) -> None:
        line, override = self.source.where(path)
        self.issues.append(ConfigIssue(path, line, expected, found, override))

    def report(self, issue: ConfigIssue, under: str = "") -> None:
        """Record a rule's ``issue`` (:func:`issue_at`) at its path below ``under``, with that path's line."""
        self.fail(join(under, issue.path) if issue.path else under, issue.expected, issue.found)

    def build(self, tp: Any, value: Any, path: str) -> Any:
        """Convert ``value`` to type ``tp``; on failure record an issue and return None."""
        built = self._build(tp, value, path)
        return None if built is INVALID else built

    def finish(self) -> list[ConfigIssue]:
        """Every issue, sorted: the document's keys written twice (``Source.duplicates``), the issues recorded, and
        one for each scalar YAML could not read that no issue covers yet."""
        self.issues += self.source.duplicates
        covered = {i.path for i in self.issues}
        for path, scalar in self.source.scalars.items():
            if scalar.problem is not None and not any(at in covered for at in ancestors(path)):
                self.fail(path, f"a valid !!{scalar.tag} value", f"{scalar.written} ({scalar.problem})")
        return sort_issues(self.issues)

    def show(self, path: str, value: Any, quote: bool = False) -> str:
        """``value`` (at ``path``) as the user wrote it: ``int -3``, ``str 'ten'``, or, for a plain scalar that
        YAML 1.1 typed from its text, the text and the reading: ``NO (YAML reads it as bool False)``; with
        ``quote``, how to keep it text: ``: quote it, 'NO', to keep it text``."""
        scalar = self.source.scalars.get(path)
        if scalar is None or not scalar.implicit or isinstance(value, str) or (value is None and not scalar.text):
            return show_value(value)
        if type(value) in (int, float) and PLAIN_NUMBER.fullmatch(scalar.text) and not quote:
            return f"{type(value).__name__} {scalar.text}"
        shown = f"{scalar.text} (YAML reads it as {'null: nothing' if value is None else show_value(value)})"
        return f"{shown}: quote it, '{scalar.text}', to keep it text" if quote else shown

    def _build(self, tp: Any, value: Any, path: str) -> Any:
        scalar = self.source.scalars.get(path)
        if scalar is not None and scalar.problem is not None:
            if tp is str and scalar.implicit:  # text YAML 1.1 took for another type (a date, a leap second)
                self.fail(path, "a non-empty string", f"{scalar.text} (YAML reads it as a !!{scalar.tag}: "
                          f"{scalar.problem}): quote it, '{scalar.text}', to keep it text")
                return INVALID
            expected = EXPECTED_TIME if tp is dt.datetime else f"a valid !!{scalar.tag} value" if tp is Any else type_name(tp)
            self.fail(path, expected, f"{scalar.written} ({scalar.problem})")
            return INVALID
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin in (Union, types.UnionType):
            if value is None and type(None) in args:
                return None
            inner = [a for a in args if a is not type(None)]
            if len(inner) == 1:
                return self._build(inner[0], value, path)
            if len({_yaml_kind(a) for a in inner}) < len(inner):
                raise TypeError(f"unsupported union {tp}: two members of one YAML kind")
            fitting = [a for a in inner if _yaml_kind(a) == _yaml_kind(type(value))]  # list | str: by the YAML kind
            if not fitting:
                self.fail(path, type_name(tp), self.show(path, value))
                return INVALID
            return self._build(fitting[0], value, path)
        if dataclasses.is_dataclass(tp):
            return self.build_dataclass(tp, value, path)
        if origin is Literal:
            if value in args:
                return value
            quote = scalar is not None and scalar.text in args
            self.fail(path, "one of " + ", ".join(map(str, args)), self.show(path, value, quote))
            return INVALID
        if origin in (list, tuple):
            if not isinstance(value, list):
                self.fail(path, "a list", self.show(path, value))
                return INVALID
            items = [self._build(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
            if INVALID in items:
                return INVALID
            return tuple(items) if origin is tuple else items
        if origin is dict:
            if not isinstance(value, dict):
                self.fail(path, "a mapping", self.show(path, value))
                return INVALID
            built = {str(k): self._build(args[1], v, join(path, k)) for k, v in value.items()}
            return INVALID if INVALID in built.values() else built
        if tp is Any:
            return value
        return self.build_scalar(tp, value, path)

    def build_scalar(self, tp: type, value: Any, path: str) -> Any:
        if tp is bool:
            if isinstance(value, bool):
                return value
            self.fail(path, "true or false", self.show(path, value))
        elif tp in (int, float):
            return self.build_number(tp, value, path)
        elif tp is str:
            if isinstance(value, str) and value.strip():
                return value
            self.fail(path, "a non-empty string", self.show(path, value, quote=True))
        elif tp is dt.datetime:
            when, why = utc_time(value)
            if when is not None:
                return when
            self.fail(path, EXPECTED_TIME, self.show(path, value) + (f" ({why})" if why else ""))
        else:  # none of SCALAR_TYPES: unsupported_field refuses such a plugin's Params before it gets here
            raise TypeError(f"unsupported field type {tp}")
        return INVALID

    def build_number(self, tp: type, value: Any, path: str) -> Any:
        """A number for an int or float field: any notation YAML reads as one (``1e3``, ``0x1F``, ``1_000``; a whole
        number such as ``1e3`` for an int), except the text YAML 1.1 reads otherwise than it looks (``0550``,
        ``10:30``)."""
        expected = "an integer" if tp is int else "a number"
        scalar = self.source.scalars.get(path)
        if scalar is not None and scalar.implicit and (LEADING_ZERO.fullmatch(scalar.text) or BASE_60.fullmatch(scalar.text)):
            why = "a leading 0 is octal" if LEADING_ZERO.fullmatch(scalar.text) else "h:mm is base 60"
            self.fail(path, f"{expected} written in decimal (to YAML 1.1 {why})", self.show(path, value))
            return INVALID
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, expected, self.show(path, value))
            return INVALID
        if not math.isfinite(value):
            self.fail(path, "a finite number", self.show(path, value))
            return INVALID
        if tp is float:
            return float(value)
        if isinstance(value, float) and not value.is_integer():
            self.fail(path, expected, self.show(path, value))
            return INVALID
        return int(value)

    def build_dataclass(self, cls: type, value: Any, path: str) -> Any:
        fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
        if not isinstance(value, dict):
            shown = ", ".join(list(fields)[:6]) + (", ..." if len(fields) > 6 else "")
            self.fail(path, f"a mapping of the keys {shown}" if fields else "a mapping", self.show(path, value))
            return INVALID
        hints = typing.get_type_hints(cls)
        for key in value:
            if key not in fields:
                self.fail(join(path, key), "one of the keys " + ", ".join(fields) if fields else "no keys (it takes none)",
                          f"unknown key {key!r}")
        kwargs: dict[str, Any] = {}
        sound: dict[str, Any] = {}  # the fields without problems of their own: what a partial check may see
        complete = True
        for name, field in fields.items():
            sub = join(path, name)
            if name not in value:
                if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                    self.fail(sub, f"key {name!r} ({type_name(hints[name])})", "nothing: the key is missing")
                    complete = False
                else:
                    sound[name] = field.default if field.default is not dataclasses.MISSING else field.default_factory()
                continue
            before = len(self.issues)
            built = self._build(hints[name], value[name], sub)
            if built is INVALID or (built is not None and not self._rules(field.metadata, built, sub, value[name])):
                complete = False
                continue
            kwargs[name] = built
            if field.metadata.get("file"):
                self._note_files(sub, built, field.metadata["file"])
            if len(self.issues) == before:
                sound[name] = built
        obj = cls(**kwargs) if complete else INVALID
        if complete and len(sound) == len(fields):
            self._check(obj, path)
        else:
            withheld = {name: _Withheld(name) for name in fields if name not in sound}
            partial = object.__new__(type(f"Partial{cls.__name__}", (cls,), withheld))
            for name, built in sound.items():
                object.__setattr__(partial, name, built)
            try:
                getattr(partial, "__post_init__", lambda: None)()
                self._check(partial, path)
            except AttributeError:  # NOTE: a rule needs a field that has a problem; that problem is reported
                pass
        return obj

    def _note_files(self, path: str, built: Any, names_file: bool | Callable[[str], bool]) -> None:
        """Record in :attr:`files` the text ``built`` at ``path``, or each text value of a mapping, that names a file:
        every one with ``names_file`` True, else those the test ``names_file`` holds for."""
        texts = {path: built} if isinstance(built, str) else {}
        if isinstance(built, dict):
            texts = {join(path, k): v for k, v in built.items() if isinstance(v, str)}
        self.files.update({at: v for at, v in texts.items() if names_file is True or names_file(v)})

    def _check(self, obj: Any, path: str) -> None:
        check = getattr(obj, "check", None)
        if check is not None:
            for issue in check():
                self.report(issue, path)

    def _rules(self, meta: Any, value: Any, path: str, given: Any) -> bool:
        """Check ``gt``/``ge``/``lt``/``le``/``min_items`` on the built ``value``; issues show the ``given`` YAML value."""
        if "min_items" in meta and len(value) < meta["min_items"]:
            self.fail(path, f"at least {meta['min_items']} item(s)", f"{len(value)}")
            return False
        tests = {"gt": (lambda a, b: a > b, ">"), "ge": (lambda a, b: a >= b, ">="),
                 "lt": (lambda a, b: a < b, "<"), "le": (lambda a, b: a <= b, "<=")}
        listed = isinstance(value, (list, tuple))
        values = value if listed else [value]
        shown = [(f"{path}[{i}]", g) for i, g in enumerate(given)] if listed else [(path, given)]
        good = True
        for key, (test, sym) in tests.items():
            if key in meta:
                for v, (at, g) in zip(values, shown):
                    if isinstance(v, (int, float)) and not test(v, meta[key]):
                        self.fail(path, f"a value {sym} {meta[key]}", self.show(at, g))
                        good = False
        return good


def _yaml_kind(tp: Any) -> str:
    """What YAML node a type is built from: ``sequence``, ``mapping`` or ``scalar``."""
    origin = typing.get_origin(tp) or tp
    if origin in (list, tuple):
        return "sequence"
    return "mapping" if origin is dict or dataclasses.is_dataclass(tp) else "scalar"


def type_name(tp: Any) -> str:
    """What a field of type ``tp`` expects, in words: ``an integer``, ``a list``, ``one of png, jpeg``."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(tp) if a is not type(None))
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if origin is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(tp)))
    if origin in (list, tuple):
        return "a list"
    if origin is dict:
        return "a mapping"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string", dt.datetime: "a UTC time"}.get(tp, str(tp))


def unsupported_field(cls: type) -> str | None:
    """Why the Builder cannot build dataclass ``cls`` from YAML (a field type it has no rule for: a set, a Path, a
    class of the user's; a union of two members of one YAML kind; an annotation that does not resolve), or None."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception as err:  # NOTE: a plugin's annotations may name anything: NameError, AttributeError, ...
        return f"its annotations do not resolve: {type(err).__name__}: {err}"

    def problem(tp: Any) -> str | None:
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin in (Union, types.UnionType):
            inner = [a for a in args if a is not type(None)]
            if len({_yaml_kind(a) for a in inner}) < len(inner):
                return f"a union of two members of one YAML kind, {tp}"
            return next(filter(None, map(problem, inner)), None)
        if dataclasses.is_dataclass(tp):
            return unsupported_field(tp)
        if origin in (list, tuple, dict):
            return problem(args[-1 if origin is dict else 0]) if args else f"{tp} without its item type"
        supported = origin is Literal or tp is Any or tp in SCALAR_TYPES
        return None if supported else f"type {tp} (one of bool, int, float, str, a datetime, Literal, list, tuple, " \
                                      "dict, a dataclass, or a union of them)"

    return next((f"field {f.name}: {found}" for f in dataclasses.fields(cls)
                 if (found := problem(hints[f.name])) is not None), None)


def sort_issues(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    """Issues once each, by line; those of ``--set`` values last."""
    return sorted(dict.fromkeys(issues), key=lambda i: (i.override is not None, i.line or 0, i.path))


def build(cls: type, data: Any, source: Source, file: str | Path) -> Any:
    """Build dataclass ``cls`` from YAML data; raise ConfigError listing every issue."""
    builder = Builder(source)
    obj = builder.build(cls, data, "")
    issues = builder.finish()
    if issues:
        raise ConfigError(file, issues)
    return obj


def duplicate_names(names: dict[str, list[Any]]) -> list[ConfigIssue]:
    """The items named twice, case ignored (names go into file names, on case-blind disks too), at ``KEY[i].name``,
    of the lists of ``names`` ({key: each item's name, None or anything not text where it has none})."""
    out, first = [], {}
    for key, listed in names.items():
        for i, name in enumerate(listed):
            if isinstance(name, str) and (was := first.setdefault((key, name.casefold()), (i, name)))[0] != i:
                case = "" if was[1] == name else \
                    f" (as {was[1]!r} but for case: the same file names where case is ignored)"
                out.append(issue_at(f"{key}[{i}].name", "a unique name", f"duplicate {name!r}{case}"))
    return out
