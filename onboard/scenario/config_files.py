"""The files of a scenario: a scenario or sweep file read within bounds (:func:`read_yaml_file`), and the files it
names made absolute in the resolved scenario a run directory keeps (:func:`with_files_absolute`)."""

from __future__ import annotations

import copy
import errno
import os
import re
from pathlib import Path
from typing import Any

MAX_YAML_FILE_BYTES = 16 << 20  # a scenario or sweep file is a few kB; more is not one (and would not end: /dev/zero)


def read_yaml_file(path: Path) -> bytes:
    """The bytes of a scenario or sweep file. OSError, with its ``strerror``, for one that cannot be read, that is
    not a regular file (a device, a pipe) or that holds more than MAX_YAML_FILE_BYTES."""
    if path.exists() and not path.is_dir() and not path.is_file():
        raise OSError(errno.EINVAL, "not a regular file (a device or a pipe)")
    with open(path, "rb") as stream:
        raw = stream.read(MAX_YAML_FILE_BYTES + 1)
    if len(raw) > MAX_YAML_FILE_BYTES:
        raise OSError(errno.EFBIG, f"a file of more than {MAX_YAML_FILE_BYTES >> 20} MiB")
    return raw


def not_utf8(data: bytes, err: UnicodeDecodeError) -> str:
    """What ``data``, which UTF-8 cannot decode (``err``), is, as an issue's "found": UTF-32 or UTF-16 text (a
    byte-order mark, or for UTF-16 a NUL in every other byte of its start), binary data (another NUL in its first
    KiB), else text in another encoding, with the first byte UTF-8 cannot read and its column (in characters)."""
    head = data[:64]
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return f"UTF-32 text (byte-order mark {data[:4].hex(' ').upper()}): save it as UTF-8"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or len(head) > 3 and (
            head[1::2].count(0) == len(head[1::2]) or head[0::2].count(0) == len(head[0::2])):
        mark = f"byte-order mark {data[:2].hex(' ').upper()}" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else \
            "no byte-order mark"
        return f"UTF-16 text ({mark}): save it as UTF-8"
    if b"\x00" in data[:1024]:
        return f"binary data ({err.reason} at byte {err.start})"
    line_start = data.rfind(b"\n", 0, err.start) + 1
    column = len(data[line_start:err.start].decode("utf-8", "replace")) + 1
    return (f"text in another encoding (byte 0x{data[err.start]:02X} at column {column}: {err.reason}; Latin-1 or "
            "Windows-1252?): save it as UTF-8")


def scenario_path(name: str | Path, scenario_dir: Path | None) -> Path:
    """The file a scenario key names (a stage's model, an image band, a sweep's base scenario): ``name`` with ``~``
    expanded, itself when absolute, else relative to the scenario's directory (the working directory when it is not
    known)."""
    path = Path(name).expanduser()
    return path if path.is_absolute() else (scenario_dir or Path.cwd()) / path


def with_files_absolute(data: dict[str, Any], files: dict[str, str], scenario_dir: Path) -> dict[str, Any]:
    """A copy of ``data`` in which each of ``files`` ({YAML path: value}) that names an existing file relative to
    ``scenario_dir`` names it by its absolute path, so that the resolved scenario a run directory keeps reads the
    same files from wherever it is loaded. The path is made absolute without following links (a model linked into
    place keeps its card beside the link); a name no file has, or one the system refuses (too long), stays."""
    resolved = copy.deepcopy(data)
    for yaml_path, value in files.items():
        given = scenario_path(value, scenario_dir)
        try:
            if Path(value).is_absolute() or not given.is_file():
                continue
            absolute = os.path.abspath(given)  # ``..`` folded away: the same file unless a link came before it
            absolute = absolute if os.path.samefile(absolute, given) else str(given.absolute())
        except OSError:
            continue
        *keys, last = [k for k in re.split(r"[.[\]]", yaml_path) if k]  # pipeline[0].model: pipeline, 0, model
        node: Any = resolved
        for key in keys:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = absolute
    return resolved
