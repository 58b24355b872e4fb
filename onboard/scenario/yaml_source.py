"""The YAML source of a config: load a document into plain data, keeping where each value came from (the line of
each YAML path, the text of each scalar, and the ``--set KEY=VALUE`` that gave a value).

YAML 1.1, which PyYAML implements, types a plain scalar by its text alone: ``NO`` and ``on`` are booleans, ``00511``
is the octal number 329, ``1:30`` is the base-60 number 90, ``2026-01-01`` is a date. The loader keeps each scalar's
text (``Source.scalars``) so that ``schema.Builder`` can refuse a scalar that YAML 1.1 read as another type than its
field expects, showing the text as written and, where a string is expected, how to quote it. It also reads the numbers
of YAML 1.2's core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution) that YAML 1.1 leaves as text: ``1e3``,
``1E-5`` and ``0o17``. YAML 1.1's merge key (``<<: *anchor``) merges mappings, each value keeping its own line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import typing
from dataclasses import dataclass
from typing import Any, Iterator, Literal

import yaml

from rundir.errors import ConfigError, ConfigIssue

from .config_files import not_utf8

MAX_ALIASED_NODES = 10_000  # NOTE: bounds alias expansion ("billion laughs"); a scenario shares a few small blocks
PLAIN_TAGS = {yaml.MappingNode: "tag:yaml.org,2002:map", yaml.SequenceNode: "tag:yaml.org,2002:seq"}
TAG_PREFIX = "tag:yaml.org,2002:"


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader (YAML 1.1), which also reads YAML 1.2's ``1e3``, ``1E-5``, ``.5e3`` and ``0o17`` as
    numbers (YAML 1.1's float needs a dot and a signed exponent: ``1.0e+3``; its octal is ``017``)."""


_Loader.add_implicit_resolver(f"{TAG_PREFIX}float",
                              re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
                              list("-+0123456789."))
_Loader.add_implicit_resolver(f"{TAG_PREFIX}int", re.compile(r"^[-+]?0o[0-7_]+$"), list("-+0"))


@dataclass(frozen=True)
class Scalar:
    """A scalar as the YAML text wrote it."""

    text: str  # the characters written, without quotes
    tag: str  # its tag without the yaml.org prefix: "int", "bool", "str", "timestamp", ... (explicit or resolved)
    implicit: bool  # plain and untagged: YAML 1.1 chose its type from the text alone
    problem: str | None = None  # why its tag could not construct a value (the value is then the text)

    @property
    def written(self) -> str:
        """The text with its tag when the tag was written (``!!int abc``)."""
        return self.text if self.implicit else f"!!{self.tag} {self.text}"


class Source(dict):
    """Where a document's values came from: ``{yaml_path: line}`` (the dict itself, 1-based lines), the text of each
    scalar (``scalars``, by YAML path) and the ``--set KEY=VALUE`` that gave a path and all below it (``overrides``)."""

    def __init__(self) -> None:
        super().__init__()
        self.scalars: dict[str, Scalar] = {}
        self.overrides: dict[str, str] = {}
        self.duplicates: list[ConfigIssue] = []  # keys written twice in one mapping (the first one's value kept)

    def where(self, path: str) -> tuple[int | None, str | None]:
        """``(line, override)`` of ``path``, from the path or its nearest ancestor that has one: the file's line, or
        the ``--set`` that gave it (line None)."""
        for at in ancestors(path):
            if at in self.overrides:
                return None, self.overrides[at]
            if at in self:
                return self[at], None
        return None, None

    def graft(self, path: str, sub: Source, override: str) -> None:
        """Replace what is known at ``path`` and below by ``sub`` (the source of a ``--set`` value, read on its own),
        all of it given by ``override``."""
        for table in (self, self.scalars, self.overrides):
            for key in [k for k in table if k == path or k.startswith((f"{path}.", f"{path}["))]:
                del table[key]
        self.scalars.update({below(path, at): scalar for at, scalar in sub.scalars.items()})
        self.overrides[path] = override


def ancestors(path: str) -> Iterator[str]:
    """``path`` and each path above it, up to the document (``""``): ``a[0].b``, ``a[0]``, ``a``, ``""``."""
    while True:
        yield path
        if not path:
            return
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""


def below(path: str, sub: str) -> str:
    """The path ``sub`` (relative, as a document read on its own names it) under ``path``."""
    if not sub:
        return path
    return f"{path}{sub}" if sub.startswith("[") or not path else f"{path}.{sub}"


def load_yaml(text: str | bytes, file: str,
              duplicates: Literal["refuse", "keep_first"] = "refuse") -> tuple[Any, Source]:
    """Parse YAML text into plain Python data plus its ``Source`` (line of each path, text of each scalar).

    A key written twice in one mapping is refused, the first at once (``duplicates="refuse"``), or, with
    ``"keep_first"``, recorded in ``Source.duplicates`` with the first one's value kept, for ``schema.Builder`` to
    report with every other problem of the document.

    Mapping keys are their text (``on: 1`` has the key ``'on'``). A scalar that its tag cannot construct (``!!int
    abc``, the date 2026-13-45, the leap second 23:59:60) is kept as its text, with the reason in
    ``Source.scalars[path].problem``: the Builder reports it at its path, with every other problem.

    Raises ConfigError, with the line, for anything that is not a YAML document of plain data: binary data, a
    syntax error, a duplicate or non-scalar key, a merge key (``<<``) of other than mappings, a tag on a mapping or
    list, an alias to a collection inside itself, aliases or merges that repeat more than MAX_ALIASED_NODES values, or
    nesting deeper than the parser's recursion allows.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            line = text.count(b"\n", 0, err.start) + 1
            raise ConfigError(file, [ConfigIssue("", line, "a UTF-8 YAML text file", not_utf8(text, err))]) from None
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        raise ConfigError(file, [ConfigIssue("", line, "a UTF-8 YAML text file", f"binary data (character U+{err.character:04X})")]) from None
    plain = _PlainData(loader, duplicates == "refuse")
    try:
        node = loader.get_single_node()
        data = plain.build(node, "") if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark or loader.get_mark()
        found = _syntax(err.problem or err.context)
        if err.problem and err.context and err.context_mark and err.context_mark.line != mark.line:
            found += f" ({err.context} opened on line {err.context_mark.line + 1})"  # an unclosed [ or {, a quote
        raise ConfigError(file, [ConfigIssue("", mark.line + 1, "valid YAML", found)]) from None
    except yaml.YAMLError as err:
        raise ConfigError(file, [ConfigIssue("", loader.get_mark().line + 1, "valid YAML", str(err).splitlines()[0])]) from None
    except RecursionError:
        raise ConfigError(file, [ConfigIssue("", loader.get_mark().line + 1, "YAML nested a few hundred levels at most",
                                             "deeper nesting")]) from None
    except _NodeError as err:
        raise ConfigError(file, [err.issue]) from None
    finally:
        loader.dispose()
    return data, plain.source


def _syntax(problem: str) -> str:
    """PyYAML's account of a syntax error as what was found: without its own leading "found ", and for a tab or a
    character YAML reserves (@ and `) at the start of a value, what to do."""
    found = problem.removeprefix("found ")
    if "'\\t'" in found:
        return f"{found}: YAML indents and separates with spaces, never tabs: replace the tab with spaces"
    if re.search(r"character '[@`]' that cannot start any token", found):
        return f"{found}: YAML reserves @ and ` at the start of a plain value: quote the value"
    return found


class _NodeError(Exception):
    """A YAML node that cannot become plain data; carries the ConfigIssue that says where and why."""

    def __init__(self, issue: ConfigIssue):
        super().__init__(str(issue))
        self.issue = issue


class _PlainData:
    """Turns a composed YAML node tree into plain dicts, lists and scalars, recording each node's line and each
    scalar's text by path."""

    def __init__(self, loader: yaml.SafeLoader, refuse_duplicates: bool):
        self.loader = loader
        self.refuse_duplicates = refuse_duplicates
        self.source = Source()
        self.open: set[int] = set()  # ids of the collections being built: an alias to one of them is a cycle
        self.built: set[int] = set()  # ids of the nodes built so far: building one again follows an alias
        self.aliased = 0

    def build(self, node: yaml.Node, path: str) -> Any:
        line = node.start_mark.line + 1
        self.source[path] = line
        if id(node) in self.built:
            self.aliased += 1
            if self.aliased > MAX_ALIASED_NODES:
                raise _NodeError(ConfigIssue(path, line, f"aliases that repeat at most {MAX_ALIASED_NODES} values",
                                             "more (an alias bomb?)"))
        self.built.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path)
        if node.tag != PLAIN_TAGS[type(node)]:
            raise _NodeError(ConfigIssue(path, line, "a plain YAML mapping or list", f"the tag {node.tag!r}"))
        if id(node) in self.open:
            raise _NodeError(ConfigIssue(path, line, "an alias to a value outside itself", "a recursive alias"))
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
            return {key: self.build(value_node, join(path, key)) for key, value_node in self.pairs(node, path).items()}
        finally:
            self.open.discard(id(node))

    def pairs(self, node: yaml.MappingNode, path: str) -> dict[str, yaml.Node]:
        """``{key: value node}`` of a mapping, its merge key's mappings (``<<: *a`` or ``<<: [*a, *b]``) merged in
        as YAML 1.1 merges them (https://yaml.org/type/merge.html): a key written in the mapping wins over a merged
        one, and an earlier merged mapping over a later one. A merged value keeps its node, so its line."""
        own: dict[str, yaml.Node] = {}
        merge: tuple[yaml.Node, yaml.Node] | None = None
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise _NodeError(ConfigIssue(path, key_line, "a plain scalar key", f"a {key_node.id} as a key"))
            key = key_node.value  # NOTE: keys name things: `on:` is the key 'on', never True
            is_merge = key_node.tag == f"{TAG_PREFIX}merge"
            if key in own or is_merge and merge is not None:
                found = f"duplicate key {key!r}" + (": merge several mappings in one <<: [*a, *b]" if is_merge else "")
                issue = ConfigIssue(join(path, key), key_line, "unique keys", found)
                if self.refuse_duplicates:
                    raise _NodeError(issue)
                self.source.duplicates.append(issue)
                continue
            if is_merge:
                merge = key_node, value_node
            else:
                own[key] = value_node
        merged: dict[str, yaml.Node] = {}
        for mapping in self.merged(*merge, path) if merge else ():
            self.open.add(id(mapping))
            try:
                merged |= {k: v for k, v in self.pairs(mapping, path).items() if k not in merged}
            finally:
                self.open.discard(id(mapping))
        return merged | own

    def merged(self, key_node: yaml.Node, value_node: yaml.Node, path: str) -> list[yaml.MappingNode]:
        """The mappings a merge key's value names, in its order; a _NodeError, at the ``<<``'s line, for anything
        else (a scalar, a list of other than mappings, a mapping inside itself)."""
        sub, line = join(path, key_node.value), key_node.start_mark.line + 1
        many = isinstance(value_node, yaml.SequenceNode) and value_node.tag == PLAIN_TAGS[yaml.SequenceNode]
        mappings = value_node.value if many else [value_node]
        for i, mapping in enumerate(mappings):
            if not isinstance(mapping, yaml.MappingNode) or mapping.tag != PLAIN_TAGS[yaml.MappingNode]:
                what = f"a list whose item {i} is {_node_kind(mapping)}" if many else _node_kind(mapping)
                raise _NodeError(ConfigIssue(sub, line, "a mapping, or a list of mappings, to merge (<<: *anchor or "
                                             "<<: [*a, *b])", what))
            if id(mapping) in self.open:
                raise _NodeError(ConfigIssue(sub, line, "a merge of a mapping outside itself", "a recursive alias"))
            self.aliased += 1
            if self.aliased > MAX_ALIASED_NODES:
                raise _NodeError(ConfigIssue(sub, line, f"aliases that repeat at most {MAX_ALIASED_NODES} values",
                                             "more (an alias bomb?)"))
        return mappings

    def scalar(self, node: yaml.ScalarNode, path: str) -> Any:
        implicit = node.style is None and node.tag == self.loader.resolve(yaml.ScalarNode, node.value, (True, False))
        tag = node.tag.removeprefix(TAG_PREFIX)
        if implicit and tag in ("merge", "value"):  # NOTE: YAML 1.1 gives << and = a meaning as keys only
            node = yaml.ScalarNode(f"{TAG_PREFIX}str", node.value, node.start_mark, node.end_mark)
            tag = "str"
        try:
            value, problem = self.loader.construct_object(node, deep=True), None
        # NOTE: the safe loader's scalar constructors fail in all these ways on an explicit tag they cannot honour
        # (``!!int abc``, ``!!python/name:os.system``) or an impossible date or time (``2026-13-45``).
        except (yaml.constructor.ConstructorError, ValueError, TypeError, AttributeError, KeyError, IndexError,
                OverflowError) as err:
            self.loader.recursive_objects.pop(node, None)  # NOTE: left behind by the failed constructor
            reason = err.problem if isinstance(err, yaml.MarkedYAMLError) else str(err)
            value, problem = node.value, (leap_second(node.value) if tag == "timestamp" else None) or reason
        self.source.scalars[path] = Scalar(node.value, tag, implicit, problem)
        return value


def _node_kind(node: yaml.Node) -> str:
    """A YAML node as an issue shows what was found: ``the scalar '5'``, ``a list``, ``a mapping tagged !!set``."""
    if isinstance(node, yaml.ScalarNode):
        return "nothing (null)" if node.tag == f"{TAG_PREFIX}null" else f"the scalar {node.value!r}"
    kind = "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
    return kind if node.tag == PLAIN_TAGS[type(node)] else f"{kind} tagged {node.tag.replace(TAG_PREFIX, '!!')}"


def join(path: str, key: Any) -> str:
    """YAML path of ``key`` below ``path``: ``a.b``, or ``a[0]`` for list indices."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def line_of(lines: dict[str, int], path: str) -> int | None:
    """Line of ``path``, or of its nearest ancestor present in the file."""
    return next((lines[at] for at in ancestors(path) if at in lines), None)


def apply_override(data: dict[str, Any], source: Source, assignment: str, file: str) -> str:
    """Apply one ``--set key.path=value`` to ``data`` in place, and to its ``source``: the value is read by the same
    YAML loader as the file, so the Builder checks it as if it were there, and its issues name the ``--set``. List
    items by index: ``satellites.0.name`` or ``satellites[0].name``. Returns the YAML path set, however the key
    wrote it (``satellites[0].name``, a negative index counted from the list's end).

    Raises ConfigError (its issue carries the ``--set``) for an assignment without ``=``, a key path with an empty
    name or a bracket that is not an integer index (``satellites[0.5]``), a key path that leads
    through a value that is not a mapping or list, an index out of range, or a value that is not valid YAML.
    """
    override = f"--set {assignment}"

    def refuse(path: str, expected: str, found: str) -> typing.NoReturn:
        raise ConfigError(file, [ConfigIssue(path, None, expected, found, override)])

    if "=" not in assignment:
        refuse("", "--set KEY.PATH=VALUE", repr(assignment))
    key_path, raw = assignment.split("=", 1)
    dotted = re.sub(r"\[(-?\d+)\](?=[.[]|$)", r".\1", key_path.strip())  # pipeline[1].threads, as errors print it
    keys: list[Any] = [int(k) if re.fullmatch(r"-?\d+", k) else k for k in dotted.split(".")]
    if any(k == "" or isinstance(k, str) and ("[" in k or "]" in k) for k in keys):
        refuse(key_path.strip(), "a key path of names and list indices joined by dots, like "
               "spacecraft.radio.rate_mbps or satellites[0].name", repr(key_path))
    node: Any = data
    path = ""
    for depth, key in enumerate(keys):
        if isinstance(node, list):
            if not (isinstance(key, int) and -len(node) <= key < len(node)):
                refuse(path, f"an index below {len(node)} into the list {path}", repr(key))
            key %= len(node)
        else:
            key = str(key)
        path = join(path, key)
        if depth == len(keys) - 1:
            break
        inner = node[key] if isinstance(node, list) else node.get(key)
        if inner is None:
            inner = node[key] = {}
            if path not in source:  # a mapping the --set makes: its own issues (an unknown key) name the --set
                source.overrides.setdefault(path, override)
        if not isinstance(inner, (dict, list)):
            refuse(path, f"a mapping or list at {path}, to set {key_path.strip()} inside it", show_value(inner))
        node = inner
    try:
        value, sub = load_yaml(raw, override)
    except ConfigError as err:
        alone = ": a --set value is read on its own, without the file's anchors: write the values out"
        raise ConfigError(file, [dataclasses.replace(i, path=path, line=None, override=override, found=i.found + (
            alone if i.found.startswith("undefined alias") else "")) for i in err.issues]) from None
    node[key] = value
    source.graft(path, sub, override)
    return path


def leap_second(text: str) -> str | None:
    """Why the time ``text`` cannot be read when its second is 60 (a leap second), and the second after it to use
    instead; None for any other text.

    IERS Bulletin C (https://www.iers.org/IERS/EN/Publications/Bulletins/bulletins.html) announces each leap second,
    such as 2016-12-31T23:59:60Z in Bulletin C 52; Python's datetime, which the simulation's clock and SGP4's epoch
    use, has no second 60.
    """
    match = re.fullmatch(r"([0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}):60(?:\.[0-9]*)?(.*)",
                         text.strip())
    if match is None:
        return None
    before, _ = utc_time(f"{match[1]}:59{match[2]}")
    after = f"{before + dt.timedelta(seconds=1):%Y-%m-%dT%H:%M:%SZ}" if before is not None else "the second after it"
    return (f"a leap second, as IERS Bulletin C announces them; Python datetimes, on which the simulation runs, "
            f"have no second 60: use {after}")


def utc_time(value: Any) -> tuple[dt.datetime | None, str | None]:
    """``(time, None)``: ``value`` (a YAML timestamp or date, or ISO 8601 text; no zone means UTC) as an aware UTC
    datetime; or ``(None, why)``, ``why`` None when ``value`` is no kind of time at all."""
    when = value
    if isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError as err:
            return None, leap_second(value) or str(err)
    if isinstance(when, dt.date) and not isinstance(when, dt.datetime):
        when = dt.datetime(when.year, when.month, when.day)
    if not isinstance(when, dt.datetime):
        return None, None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.astimezone(dt.timezone.utc), None


def show_value(value: Any) -> str:
    """``value`` as an issue shows what was found: its type and its text, cut to 60 characters (``int -3``,
    ``str 'ten'``, ``nothing (null)``)."""
    if value is None:
        return "nothing (null)"
    text = value.isoformat() if isinstance(value, dt.date) else repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"

