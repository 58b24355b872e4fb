"""Typed config from YAML: load a document keeping each node's line, and convert it into frozen dataclasses.

Every problem is collected, never just the first: a ``ConfigIssue`` names the YAML path (``satellites[0].orbit.
altitude_km``), its line, what was expected and what was found. Field rules live in dataclass field metadata
(``gt``, ``ge``, ``lt``, ``le``, ``doc``); cross-field rules in a ``check(self)`` method returning
``(relative_path, expected, found)`` tuples.
"""

from __future__ import annotations


import dataclasses
import datetime as dt
import re
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from .errors import ConfigError, ConfigIssue

Lines = dict[str, int]


def spec(default: Any = dataclasses.MISSING, *, doc: str = "", **rules: float) -> Any:
    """A dataclass field with validation ``rules`` (gt, ge, lt, le) and a one-line ``doc`` for the README."""
    meta = {"doc": doc, **rules}
    if isinstance(default, (list, dict, tuple)) and not isinstance(default, tuple):
        return dataclasses.field(default_factory=lambda: default, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


MAX_ALIASED_NODES = 10_000  # NOTE: bounds alias expansion ("billion laughs"); a scenario shares a few small blocks
PLAIN_TAGS = {yaml.MappingNode: "tag:yaml.org,2002:map", yaml.SequenceNode: "tag:yaml.org,2002:seq"}


def load_yaml(text: str | bytes, file: str) -> tuple[Any, Lines]:
    """Parse YAML text into plain Python data plus ``{yaml_path: line}``.

    Raises ConfigError, with the line, for anything that is not a YAML document of plain data: binary data, a
    syntax error, a duplicate or non-scalar key, a tag or a tagged value the safe loader cannot construct (such as
    the date 2026-13-45), an alias to a collection inside itself, aliases that repeat more than MAX_ALIASED_NODES
    values, or nesting deeper than the parser's recursion allows.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            line = text.count(b"\n", 0, err.start) + 1
            raise ConfigError(file, [ConfigIssue("", line, "a UTF-8 YAML text file", f"binary data ({err.reason} at byte {err.start})")]) from None
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        raise ConfigError(file, [ConfigIssue("", line, "a UTF-8 YAML text file", f"binary data (character U+{err.character:04X})")]) from None
    plain = _PlainData(loader)
    try:
        node = loader.get_single_node()
        data = plain.build(node, "") if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark or loader.get_mark()
        raise ConfigError(file, [ConfigIssue("", mark.line + 1, "valid YAML", f"{err.problem or err.context}")]) from None
    except yaml.YAMLError as err:
        raise ConfigError(file, [ConfigIssue("", loader.get_mark().line + 1, "valid YAML", str(err).splitlines()[0])]) from None
    except RecursionError:
        raise ConfigError(file, [ConfigIssue("", loader.get_mark().line + 1, "YAML nested a few hundred levels at most",
                                             "deeper nesting")]) from None
    except _NodeError as err:
        raise ConfigError(file, [err.issue]) from None
    finally:
        loader.dispose()
    return data, plain.lines


class _NodeError(Exception):
    """A YAML node that cannot become plain data; carries the ConfigIssue that says where and why."""

    def __init__(self, issue: ConfigIssue):
        super().__init__(str(issue))
        self.issue = issue


class _PlainData:
    """Turns a composed YAML node tree into plain dicts, lists and scalars, recording each node's line by path."""

    def __init__(self, loader: yaml.SafeLoader):
        self.loader = loader
        self.lines: Lines = {}
        self.open: set[int] = set()  # ids of the collections being built: an alias to one of them is a cycle
        self.built: set[int] = set()  # ids of the nodes built so far: building one again follows an alias
        self.aliased = 0

    def build(self, node: yaml.Node, path: str) -> Any:
        line = node.start_mark.line + 1
        self.lines[path] = line
        if id(node) in self.built:
            self.aliased += 1
            if self.aliased > MAX_ALIASED_NODES:
                raise _NodeError(ConfigIssue(path, line, f"aliases that repeat at most {MAX_ALIASED_NODES} values",
                                             "more (an alias bomb?)"))
        self.built.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path, line)
        if node.tag != PLAIN_TAGS[type(node)]:
            raise _NodeError(ConfigIssue(path, line, "a plain YAML mapping or list", f"the tag {node.tag!r}"))
        if id(node) in self.open:
            raise _NodeError(ConfigIssue(path, line, "an alias to a value outside itself", "a recursive alias"))
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1
                if not isinstance(key_node, yaml.ScalarNode):
                    raise _NodeError(ConfigIssue(path, key_line, "a plain scalar key", f"a {key_node.id} as a key"))
                key = self.scalar(key_node, path, key_line)
                sub = join(path, key)
                if key in out:
                    raise _NodeError(ConfigIssue(sub, key_line, "unique keys", f"duplicate key {key!r}"))
                out[key] = self.build(value_node, sub)
            return out
        finally:
            self.open.discard(id(node))

    def scalar(self, node: yaml.ScalarNode, path: str, line: int) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        # NOTE: the safe loader's scalar constructors fail in all these ways on an explicit tag they cannot honour
        # (``!!int abc``, ``!!python/name:os.system``) or an impossible date or time (``2026-13-45``).
        except (yaml.constructor.ConstructorError, ValueError, TypeError, AttributeError, KeyError, IndexError,
                OverflowError) as err:
            reason = err.problem if isinstance(err, yaml.MarkedYAMLError) else str(err)
            found = f"{node.value!r} ({reason})" if isinstance(err, (yaml.MarkedYAMLError, ValueError)) else repr(node.value)
            tag = node.tag.removeprefix("tag:yaml.org,2002:")
            raise _NodeError(ConfigIssue(path, line, f"a valid {tag} value", found)) from None


def join(path: str, key: Any) -> str:
    """YAML path of ``key`` below ``path``: ``a.b``, or ``a[0]`` for list indices."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def line_of(lines: Lines, path: str) -> int | None:
    """Line of ``path``, or of its nearest ancestor present in the file."""
    while True:
        if path in lines:
            return lines[path]
        if not path:
            return None
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""


def apply_override(data: Any, assignment: str, file: str) -> Any:
    """Apply one ``--set key.path=value`` (value parsed as YAML; list items by index: ``satellites.0.name`` or
    ``satellites[0].name``)."""
    if "=" not in assignment:
        raise ConfigError(file, [ConfigIssue(assignment, None, "--set key.path=value", repr(assignment))])
    key_path, raw = assignment.split("=", 1)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    dotted = re.sub(r"\[(-?\d+)\]", r".\1", key_path.strip())  # pipeline[1].threads, as errors print it
    keys = [int(k) if k.lstrip("-").isdigit() else k for k in dotted.split(".")]
    if not isinstance(data, dict) or not keys or keys == [""]:
        raise ConfigError(file, [ConfigIssue(key_path, None, "a key path into the scenario mapping", repr(key_path))])
    node = data
    for depth, key in enumerate(keys[:-1]):
        nxt = node[key] if _has(node, key) else None
        if nxt is None:
            if isinstance(node, list):
                raise ConfigError(file, [ConfigIssue(key_path, None, f"an index below {len(node)}", str(key))])
            nxt = node[key] = {}
        if not isinstance(nxt, (dict, list)):
            where = ".".join(map(str, keys[: depth + 1]))
            raise ConfigError(file, [ConfigIssue(key_path, None, f"{where} to be a mapping or list", type(nxt).__name__)])
        node = nxt
    last = keys[-1]
    if isinstance(node, list) and not (isinstance(last, int) and -len(node) <= last < len(node)):
        raise ConfigError(file, [ConfigIssue(key_path, None, f"an index below {len(node)}", str(last))])
    node[last] = value
    return data


def _has(node: Any, key: Any) -> bool:
    if isinstance(node, dict):
        return key in node
    return isinstance(node, list) and isinstance(key, int) and -len(node) <= key < len(node)


class Builder:
    """Converts plain YAML data into a dataclass tree, collecting every issue."""

    def __init__(self, lines: Lines):
        self.lines = lines
        self.issues: list[ConfigIssue] = []

    def fail(self, path: str, expected: str, found: str) -> None:
        self.issues.append(ConfigIssue(path, line_of(self.lines, path), expected, found))

    def build(self, tp: Any, value: Any, path: str) -> Any:
        """Convert ``value`` to type ``tp``; on failure record an issue and return None."""
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin in (Union, types.UnionType):
            if value is None and type(None) in args:
                return None
            inner = [a for a in args if a is not type(None)]
            if len(inner) == 1:
                return self.build(inner[0], value, path)
            if len({_yaml_kind(a) for a in inner}) < len(inner):
                raise TypeError(f"unsupported union {tp}: two members of one YAML kind")
            fitting = [a for a in inner if _yaml_kind(a) == _yaml_kind(type(value))]  # list | str: by the YAML kind
            if not fitting:
                self.fail(path, _type_name(tp), _show(value))
                return None
            return self.build(fitting[0], value, path)
        if dataclasses.is_dataclass(tp):
            return self.build_dataclass(tp, value, path)
        if origin is Literal:
            if value not in args:
                self.fail(path, "one of " + ", ".join(map(str, args)), _show(value))
                return None
            return value
        if origin in (list, tuple):
            if not isinstance(value, list):
                self.fail(path, f"a list", _show(value))
                return None
            item_tp = args[0]
            items = [self.build(item_tp, v, f"{path}[{i}]") for i, v in enumerate(value)]
            return tuple(items) if origin is tuple else items
        if origin is dict:
            if not isinstance(value, dict):
                self.fail(path, "a mapping", _show(value))
                return None
            return {str(k): self.build(args[1], v, join(path, k)) for k, v in value.items()}
        if tp is Any:
            return value
        return self.build_scalar(tp, value, path)

    def build_scalar(self, tp: type, value: Any, path: str) -> Any:
        if tp is bool:
            if isinstance(value, bool):
                return value
            self.fail(path, "true or false", _show(value))
        elif tp is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            self.fail(path, "an integer", _show(value))
        elif tp is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if value != value or value in (float("inf"), float("-inf")):
                    self.fail(path, "a finite number", _show(value))
                    return None
                return float(value)
            self.fail(path, "a number", _show(value))
        elif tp is str:
            if isinstance(value, str) and value.strip():
                return value
            self.fail(path, "a non-empty string", _show(value))
        elif tp is dt.datetime:
            when = value
            if isinstance(value, str):
                try:
                    when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                except ValueError:
                    when = None
            if isinstance(when, dt.date) and not isinstance(when, dt.datetime):
                when = dt.datetime(when.year, when.month, when.day)
            if isinstance(when, dt.datetime):
                if when.tzinfo is None:
                    when = when.replace(tzinfo=dt.timezone.utc)
                return when.astimezone(dt.timezone.utc)
            self.fail(path, "an ISO 8601 UTC time like 2026-06-21T00:00:00Z", _show(value))
        else:
            raise TypeError(f"unsupported field type {tp}")
        return None

    def build_dataclass(self, cls: type, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            self.fail(path, f"a mapping ({cls.__name__})", _show(value))
            return None
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
        for key in value:
            if key not in fields:
                self.fail(join(path, key), "one of the keys " + ", ".join(fields), f"unknown key {key!r}")
        kwargs: dict[str, Any] = {}
        ok = True
        for name, field in fields.items():
            sub = join(path, name)
            if name not in value:
                if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
                    self.fail(sub, f"key {name!r} ({_type_name(hints[name])})", "nothing: the key is missing")
                    ok = False
                continue
            before = len(self.issues)
            built = self.build(hints[name], value[name], sub)
            if len(self.issues) > before:
                ok = False
                continue
            if built is not None and not self._rules(field.metadata, built, sub, value[name]):
                ok = False
                continue
            kwargs[name] = built
        if not ok:
            return None
        obj = cls(**kwargs)
        check = getattr(obj, "check", None)
        if check is not None:
            for rel, expected, found in check():
                self.fail(join(path, rel) if rel else path, expected, found)
        return obj

    def _rules(self, meta: Any, value: Any, path: str, given: Any) -> bool:
        """Check ``gt``/``ge``/``lt``/``le``/``min_items`` on the built ``value``; issues show the ``given`` YAML value."""
        if "min_items" in meta and len(value) < meta["min_items"]:
            self.fail(path, f"at least {meta['min_items']} item(s)", f"{len(value)}")
            return False
        tests = {"gt": (lambda a, b: a > b, ">"), "ge": (lambda a, b: a >= b, ">="),
                 "lt": (lambda a, b: a < b, "<"), "le": (lambda a, b: a <= b, "<=")}
        good = True
        for key, (test, sym) in tests.items():
            if key in meta:
                values = value if isinstance(value, (list, tuple)) else [value]
                shown = given if isinstance(given, (list, tuple)) else [given]
                for v, g in zip(values, shown):
                    if isinstance(v, (int, float)) and not test(v, meta[key]):
                        self.fail(path, f"a value {sym} {meta[key]}", _show(g))
                        good = False
        return good


def _yaml_kind(tp: Any) -> str:
    """What YAML node a type is built from: ``sequence``, ``mapping`` or ``scalar``."""
    origin = typing.get_origin(tp) or tp
    if origin in (list, tuple):
        return "sequence"
    return "mapping" if origin is dict or dataclasses.is_dataclass(tp) else "scalar"


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if origin is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(tp)))
    if origin in (list, tuple):
        return "a list"
    if origin is dict:
        return "a mapping"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string", dt.datetime: "a UTC time"}.get(tp, str(tp))


def _show(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def build(cls: type, data: Any, lines: Lines, file: str | Path) -> Any:
    """Build dataclass ``cls`` from YAML data; raise ConfigError listing every issue."""
    builder = Builder(lines)
    obj = builder.build(cls, data, "")
    if builder.issues:
        raise ConfigError(file, sorted(builder.issues, key=lambda i: (i.line or 0, i.path)))
    return obj
