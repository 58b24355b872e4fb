"""Where the command line writes: an output folder or file checked before any work is done, so that a path that
cannot be written is a clear error (exit 2) up front rather than a traceback after minutes of simulation or
benchmarking; and a write the system refused later, said in one line (:func:`io_error`)."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from rundir.errors import OrbitEdgeError


def folder_arg(text: str) -> Path:
    """An argparse type for an output folder, ``~`` expanded as the scenario's paths are (a quoted ``--out '~/x'``
    made a folder named ``~``): an empty text (an unset shell variable, ``--out "$DIR"``) is an error, not the
    current folder that ``Path("")`` would make of it."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected a folder, found an empty path (use . for this folder)")
    return Path(text).expanduser()


def file_arg(text: str) -> Path:
    """An argparse type for an input file, ``~`` expanded: an empty text (an unset shell variable) is an error, not
    the current folder that ``Path("")`` would make of it (read as "Is a directory")."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected a file, found an empty path")
    return Path(text).expanduser()


def output_dir(path: Path, option: str, writes: bool = True) -> Path:
    """``path`` made as a folder (with its parents) to write into. OrbitEdgeError naming ``option`` when it is a file,
    when it cannot be made (permissions, a file on its way, a read-only file system), or, ``writes``, when no file
    can be made in it (a folder there already that is read-only, or not on a file system that holds files, such as
    /proc): an unnamed file is made there and let go to find out. Without ``writes``, a folder the command may only
    read from (an --onnx-dir whose twins are current)."""
    if path.exists() and not path.is_dir():
        raise OrbitEdgeError(f"{option} {path}: expected a folder, found a file")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OrbitEdgeError(f"{option} {path}: cannot make the folder: {err.strerror or err}") from None
    if writes:
        try:
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as err:
            raise OrbitEdgeError(f"{option} {path}: cannot write files in the folder: {err.strerror or err}") from None
    return path


def output_file(path: Path, option: str) -> Path:
    """``path`` as a file to write, its folder made. OrbitEdgeError naming ``option`` when it is a folder, when it
    is there and cannot be written, or when it is not and its folder cannot be made or take a new file."""
    if path.is_dir():
        raise OrbitEdgeError(f"{option} {path}: expected a file, found a folder")
    if path.exists():  # written in place (a file of the user's, /dev/stdout): its folder need not take new files
        if not os.access(path, os.W_OK):
            raise OrbitEdgeError(f"{option} {path}: the file is there and cannot be written")
        return path
    output_dir(path.parent, option)
    return path


def shown(path: Path) -> Path:
    """``path`` as a user reads it: relative to the working directory when it is below it, else as given."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def io_error(err: OSError, where: Path | None = None) -> str:
    """An OSError as one line: the path (both, for a rename), else ``where`` (a write to an open file names none),
    and the system's reason. SimPy re-raises an error from inside a process as a copy made from its ``args``, which
    leave the path out; the original is its cause."""
    if err.filename is None and isinstance(err.__cause__, OSError):
        err = err.__cause__
    paths = " -> ".join(str(p) for p in (err.filename, err.filename2) if p is not None) or (where and str(where))
    return f"{paths}: {err.strerror or err}" if paths else str(err.strerror or err)
