"""Reading a JSON document (a model card) field by field: every problem collected with its field path and, where
the text was readable as YAML (JSON is), its line, so that one error names them all."""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rundir.errors import ConfigError, InputFileError

from ..scenario.yaml_source import line_of, load_yaml


def parse_json(text: str, path: Path, what: str) -> Any:
    """``text`` (the file ``path``, a ``what``) as JSON. InputFileError naming the file and the line when it is not
    JSON, or when an object has a key twice (json keeps the last value, other readers the first: RFC 8259, section
    4, says names SHOULD be unique): the key's path from the YAML reader (JSON is YAML), else its second line."""
    twice: list[str] = []

    def once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        twice.extend(key for key in out if len(out) < len(pairs) and sum(k == key for k, _ in pairs) > 1)
        return out

    try:
        obj = json.loads(text, object_pairs_hook=once)
    except json.JSONDecodeError as err:
        raise InputFileError(path, f"{what} is not valid JSON: {err.msg} at line {err.lineno}") from None
    if twice:
        try:
            load_yaml(text, str(path))
            issue = None
        except ConfigError as err:
            issue = next((i for i in err.issues if "duplicate key" in i.found), None)
        starts = [m.start() for m in re.finditer(rf'"{re.escape(twice[0])}"\s*:', text)]
        where = (f"line {issue.line}: {issue.path}" if issue else
                 f"line {text.count(chr(10), 0, starts[1]) + 1}: {twice[0]}" if len(starts) > 1 else twice[0])
        raise InputFileError(path, f"{where}: expected each key once in an object, found {twice[0]!r} again: "
                                   "readers differ on which value they keep")
    return obj


def field_lines(text: str) -> dict[str, int]:
    """``{field path: 1-based line}`` of a JSON text (paths as ``a.b[0].c``); empty when it cannot be read."""
    try:
        _, source = load_yaml(text, "<card>")
    except ConfigError:
        return {}
    return dict(source)


class FieldReader:
    """Reads an object field by field, collecting each problem as ``line N: path: expected ..., found ...``.

    ``text``: the file's text, whose lines (:func:`field_lines`) are found only once a problem is located (parsing
    it for them cost ~80 ms a card, on every read of a good one: most of planning a sweep); ``translate``: the path
    in the file of a path in the object read, when that object was made from the file's (a STAC Item read as a
    flat card).
    """

    def __init__(self, text: str | None = None, translate: Callable[[str], str] | None = None) -> None:
        self.problems: list[str] = []
        self._text = text
        self._translate = translate or (lambda path: path)

    @functools.cached_property
    def lines(self) -> dict[str, int]:
        """:func:`field_lines` of the text (empty without one), found at the first call."""
        return field_lines(self._text) if self._text is not None else {}

    def fail(self, path: str, text: str) -> None:
        """Record ``text`` about the field at ``path`` (its line, or its nearest ancestor's, in front)."""
        self.problems.append(self.located(path, text))

    def located(self, path: str, text: str, separator: str = ": ") -> str:
        """``line N: PATH: text`` for the field at ``path`` (translated into the file's path)."""
        path = self._translate(path)
        line = line_of(self.lines, path)
        return f"{f'line {line}: ' if line else ''}{path}{separator}{text}"

    def get(self, obj: Mapping[str, Any], key: str, where: str, kind: str,
            check: Callable[[Any], bool], required: bool = True) -> Any:
        """``obj[key]`` when it passes ``check``; else None, with a problem when it is present or ``required``
        (``where``: the path of ``obj`` followed by a dot, or "" at the top)."""
        if key not in obj:
            if required:
                self.fail(f"{where}{key}", f"missing (expected {kind})")
            return None
        value = obj[key]
        if not check(value):
            self.fail(f"{where}{key}", f"expected {kind}, found {value!r}")
            return None
        return value


def is_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


def is_str_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(is_str(v) for v in value)
