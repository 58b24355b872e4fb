"""Reading a JSON document (a model card) field by field: every problem collected with its field path and, where
the text was readable as YAML (JSON is), its line, so that one error names them all."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

from rundir.errors import ConfigError

from ..scenario.yaml_source import line_of, load_yaml


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
