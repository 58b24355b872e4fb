"""Typed records of the run directory's JSON files: the spacecraft builds a :class:`Record` and writes
:meth:`Record.to_json`; the ground reads the same JSON back with :meth:`Record.parse`, which checks every field
against the record's annotations and raises :class:`RecordError` naming the file, the line, the field, what was
expected and what was found.

A field without a default is required; one with a default may be absent (a run directory written before the field
existed) and takes its default. Keys the record does not know are ignored (a newer spacecraft). Values are kept as
JSON gave them (an integer stays an integer where a float is allowed), so that a record read back writes the same
JSON. A field made with :func:`omitted_when_none` is left out of the JSON object when it is None; every other None
is written as ``null``.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from typing import Any, Callable, Union

from .errors import InputFileError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # the integers a record takes


class RecordError(InputFileError):
    """A record in a run-directory file that is not what its type says: ``file`` (relative to the run directory),
    ``line`` (1-based, None for a whole-file JSON document), ``field`` (a dotted path, e.g. ``camera.gsd_m`` or
    ``stages[1].stage``), what was ``expected`` and what was ``found``."""

    def __init__(self, file: str, line: int | None, field: str, expected: str, found: str):
        self.line = line
        self.field = field
        self.expected = expected
        self.found = found
        where = f"line {line}: " if line is not None else ""
        super().__init__(file, f"{where}{field or '<record>'}: expected {expected}, found {found}")


def omitted_when_none() -> Any:
    """A field that defaults to None and is left out of :meth:`Record.to_json` while None."""
    return dataclasses.field(default=None, metadata={"omit_none": True})


def checked(test: Callable[[Any], bool], expected: str, **field_args: Any) -> Any:
    """A record field whose value, once of its type, must also pass ``test`` (a count below 0, a status no run
    writes): :meth:`Record.parse` raises RecordError saying ``expected`` otherwise."""
    return dataclasses.field(metadata={"check": (test, expected)}, **field_args)


def count(**field_args: Any) -> Any:
    """A field of an integer >= 0 (None where the type allows it): bytes, products, frames."""
    return checked(lambda v: v is None or v >= 0, "an integer >= 0", **field_args)


def counts(**field_args: Any) -> Any:
    """A field of {name: integer >= 0}."""
    return checked(lambda v: all(n >= 0 for n in v.values()), "an object of integers >= 0", **field_args)


def _plain(value: Any) -> Any:
    """A value as JSON: records and dataclasses as objects, tuples as lists, containers copied."""
    if isinstance(value, Record):
        return value.to_json()
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclasses.dataclass(frozen=True, slots=True)
class Record:
    """A typed record: :meth:`to_json` is its JSON object, :meth:`parse` reads one back."""

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON object: nested records and footprints as objects, None fields as ``null`` except
        those made with :func:`omitted_when_none`."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)
                if not (f.metadata.get("omit_none") and getattr(self, f.name) is None)}

    @classmethod
    def parse(cls, data: Any, file: str, line: int | None = None) -> Any:
        """The record of the JSON value ``data`` read from ``file`` (at ``line``, 1-based, for a JSON-lines file).
        Raises RecordError for a value that is not an object, a required field that is missing, or a field of the
        wrong type (nested ones included)."""
        return cls._from_json(data, (file, line), "")

    @classmethod
    def _from_json(cls, data: Any, where: tuple[str, int | None], path: str) -> Any:
        """How a nested field of this type is read (a record with another JSON shape overrides it)."""
        return _parse_dataclass(cls, data, where, path)


def found_text(value: Any) -> str:
    """A JSON value as an error names it: containers by kind, scalars as JSON (cut to 40 characters)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return json.dumps(value)[:40]


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _parse_dataclass(cls: type, data: Any, where: tuple[str, int | None], path: str) -> Any:
    if not isinstance(data, dict):
        raise RecordError(*where, path, "a JSON object", found_text(data))
    hints = _hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        name = f"{path}.{f.name}" if path else f.name
        if f.name in data:
            values[f.name] = _parse_value(hints[f.name], data[f.name], where, name)
            test, expected = f.metadata.get("check", (None, None))
            if test is not None and not test(values[f.name]):
                raise RecordError(*where, name, expected, found_text(data[f.name]))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise RecordError(*where, name, "a value (a required field)", "nothing: the key is missing")
    return cls(**values)


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is list or origin is tuple:
        return f"a list of ({_describe(args[0])})"
    if origin is dict:
        return f"an object of ({_describe(args[1])})"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false", type(None): "null",
            Any: "any value"}.get(hint, f"an object ({getattr(hint, '__name__', hint)})")


def _matches(hint: Any, value: Any) -> bool:
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:  # within 64 bits: the ground holds counts and byte sizes in numpy int64 columns
        return isinstance(value, int) and not isinstance(value, bool) and INT64_MIN <= value <= INT64_MAX
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint)


def _parse_value(hint: Any, value: Any, where: tuple[str, int | None], path: str) -> Any:
    """``value`` checked against the annotation ``hint``: lists and objects item by item, records parsed."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        scalar = typing.get_origin(inner) is None and not dataclasses.is_dataclass(inner)
        if scalar and not _matches(inner, value):  # name the whole union: "a number or null"
            raise RecordError(*where, path, _describe(hint), found_text(value))
        return _parse_value(inner, value, where, path)
    if origin is list and isinstance(value, list):
        return [_parse_value(args[0], v, where, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict and isinstance(value, dict):
        return {k: _parse_value(args[1], v, where, f"{path}.{k}") for k, v in value.items()}
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint._from_json(value, where, path)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _parse_dataclass(hint, value, where, path)
    if origin is None and _matches(hint, value):
        return value
    raise RecordError(*where, path, _describe(hint), found_text(value))
