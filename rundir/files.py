"""What makes a folder a run directory (:func:`check_run_dir`), and how its files are written: atomically (a reader
sees the old file or the whole new one), JSON with sorted keys, JSON lines as one sorted-key object per line, and
arrays as deflated ``.npz``.

The spacecraft writes every file through these helpers and the ground writes its report and mosaics with
:func:`write_atomic`, so a file is complete or absent even when a run is interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import threading
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping

import numpy as np

from rundir.errors import InputFileError, OrbitEdgeError


def check_run_dir(run_dir: Path) -> None:
    """InputFileError naming ``run_dir`` unless it is a run directory: a folder with ``downlink/`` or ``telemetry/``
    holding something (what the ground reads; either alone is a run, partly written). Empty ones are no run: the
    ground made a report of nothing from them, with no scenario, seed or frames."""
    if not run_dir.is_dir():
        raise InputFileError(run_dir, "not a run directory: a file" if run_dir.exists() else "no such run directory")
    parts = [name for name in ("downlink", "telemetry") if (run_dir / name).is_dir()]
    if not parts:
        raise InputFileError(run_dir, "not a run directory: it has neither downlink/ nor telemetry/")
    if not any(any((run_dir / name).iterdir()) for name in parts):
        raise InputFileError(run_dir, f"not a run directory: its {' and '.join(f'{p}/' for p in parts)} "
                                      f"{'are' if len(parts) > 1 else 'is'} empty")


def write_atomic(path: Path, write: Callable[[Path], Any]) -> None:
    """``write(tmp)`` a sibling ``.part`` file, then rename it to ``path``: readers see the old file or the whole
    new one. Ctrl-C and SIGTERM are held off until the file is in place (:func:`signals_held`): an interrupt inside
    a writer (zipfile's, say, between opening a member and writing it) could leave it in a state whose clean-up
    raises another error in place of the interrupt. A write that fails leaves no ``.part`` behind, and an OSError
    of it (a read-only or full disk) names ``path``, the file the caller writes, not its ``.part``."""
    tmp = path.with_name(path.name + ".part")
    try:
        with signals_held(redeliver=True):
            write(tmp)
            os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and isinstance(err.filename, str | bytes | os.PathLike) \
                and os.fspath(err.filename) == os.fspath(tmp):  # not a descriptor's number
            err.filename, err.filename2 = os.fspath(path), None
        raise


@contextlib.contextmanager
def signals_held(redeliver: bool) -> Iterator[None]:
    """Ctrl-C and SIGTERM held off for the block (in the main thread; elsewhere signals reach no handler of ours):
    a file being written (:func:`write_atomic`), a sweep's cluster starting or closing. With ``redeliver``, the first
    that arrived is raised again once the block is done, so that its usual handler acts on it; else it is dropped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = _swapped({sig: lambda signum, _: arrived.append(signum) for sig in (signal.SIGINT, signal.SIGTERM)})
    try:
        yield
    finally:
        _swapped(previous)
        if redeliver and arrived:
            signal.raise_signal(arrived[0])


def _swapped(handlers: dict[int, Any]) -> dict[int, Any]:
    """Install ``handlers`` ({signal: handler}) as one, their signals blocked meanwhile, and return those they
    replace. Swapped one by one, a signal between two swaps was raised with one handler ours and the other not,
    which then dropped every later signal of its kind (seen under load)."""
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set(handlers))
    try:
        return {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


@contextlib.contextmanager
def signals_blocked(signals: Collection[int] = (signal.SIGINT,)) -> Iterator[None]:
    """``signals`` (SIGINT alone by default) blocked in this thread for the block, and so in the threads and
    processes started in it, for their lives: a signal mask passes through fork and exec (POSIX
    ``pthread_sigmask``, ``execve``). One that arrives meanwhile waits, and is delivered as the block ends. What a
    sweep's LocalCluster and a run's frame pool (its fork server, with SIGTERM too) start in: the terminal's Ctrl-C,
    or a SIGTERM to the process group (``timeout``, a batch system), reaches every process of the group, and
    interrupted each worker process with a traceback while it imported, before Dask's preload makes it ignore SIGINT
    (app.cluster.dask_setup), or killed the frame pool's workers before the run itself could stop them
    (onboard.sim.frame_pool). multiprocessing's resource tracker is started first: starting it unblocks SIGINT in
    the thread that starts it (CPython 3.11, ``multiprocessing.resource_tracker.ResourceTracker.ensure_running``),
    so the first spawned process would not inherit the block."""
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, set(signals))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


LOCK_FILE = ".orbitedge.lock"  # in a folder an orbitedge process is writing into (:func:`folder_lock`)


def folder_lock(folder: Path) -> contextlib.AbstractContextManager[None]:
    """``folder`` (made if need be) held by this process for the block: an exclusive lock (``fcntl.flock``) on its
    LOCK_FILE, which the kernel releases when the process ends, however it ends, so no stale lock outlives it (the
    file stays, holding the last holder's pid). OrbitEdgeError naming the process that holds it when another does:
    two sweeps started into one folder (a command run twice, a job relaunched while the first still ran) each made
    every run, into the same run directories at once, and damaged some."""
    return _held(Path(folder) / LOCK_FILE, Path(folder))


def run_lock(run_dir: Path) -> contextlib.AbstractContextManager[None]:
    """``run_dir`` held by this process for the block, as :func:`folder_lock` holds a folder, by a lock file beside
    it (``.NAME.lock`` beside the folder the path resolves to, links followed: two names of one folder are one lock),
    which stays where it is when ``--overwrite`` moves an earlier run aside: a second run into the same --out while
    the first ran moved the first's files from under it, and the first ended complete on a directory that held the
    second's partial run. Where no file can be made beside it (a folder of the user's in a read-only one: a
    container's bind mount), the block runs unheld, as it did before there was a lock."""
    real = Path(os.path.realpath(run_dir))  # beside ".", not in it; beside a link's target
    return _held(real.parent / f".{real.name}.lock", Path(run_dir), required=False)


@contextlib.contextmanager
def _held(lock: Path, folder: Path, required: bool = True) -> Iterator[None]:
    """The exclusive lock on the file ``lock`` (its folder made if need be) for the block, for writing into
    ``folder``; OrbitEdgeError when another process holds it, or when it cannot be made (a read-only folder) and
    it is ``required`` (else the block runs unheld)."""
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        if required:
            raise OrbitEdgeError(f"{folder}: cannot make the lock file {lock}: {err.strerror or err}") from None
        fd = None
    if fd is None:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise OrbitEdgeError(f"{folder}: another orbitedge process (pid {holder}) is writing into this folder; "
                                 "wait until it ends, or choose another folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


WRITTEN_LIST = ".orbitedge-written"  # in each folder the ground remakes: what its last writer wrote, a path a line


@contextlib.contextmanager
def remade_folder(folder: Path) -> Iterator[Path]:
    """``folder`` (the ground's mosaics/, plots/ or stac/) remade by the writer inside the ``with``: the files an
    earlier writer listed in its :data:`WRITTEN_LIST` removed first, with the folders that leaves empty; on leaving,
    even by an error, the files this writer wrote (new, or replaced since) listed there. Files no writer listed (a
    user's notes beside the mosaics) stay, and so does the folder: a symlink to another disk keeps its link and its
    target's other files. Made if absent. Listed paths outside ``folder`` (``..``, absolute) are never removed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    listing = folder / WRITTEN_LIST
    inside = folder.resolve()
    for rel in _listed(listing):
        path = folder / rel
        if not path.parent.resolve().is_relative_to(inside) or path.is_dir() and not path.is_symlink():
            continue  # a listed folder since made a link elsewhere, or a file since made a folder: not ours
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):  # gone, or a folder of it made a file
            path.unlink()
        for parent in path.parents:
            if parent == folder or not parent.is_dir() or any(parent.iterdir()):
                break
            parent.rmdir()
    before = _file_signatures(folder)
    try:
        yield folder
    finally:
        after = _file_signatures(folder)
        write_text(listing, "".join(f"{rel}\n" for rel in sorted(after) if before.get(rel) != after[rel]))


def _listed(listing: Path) -> list[str]:
    """The relative paths in a :data:`WRITTEN_LIST` file that stay inside its folder; none when it is absent or
    unreadable (a folder an earlier version wrote: what is there is kept)."""
    try:
        lines = listing.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [line for line in lines if line and not Path(line).is_absolute() and ".." not in Path(line).parts
            and line != WRITTEN_LIST]


def _file_signatures(folder: Path) -> dict[str, tuple[int, int, int]]:
    """{path relative to ``folder``: (inode, mtime in ns, size)} of every file under it but the written list: a
    file rewritten in place or replaced (:func:`write_atomic` renames) changes its signature."""
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root, name)
            rel = path.relative_to(folder).as_posix()
            if rel != WRITTEN_LIST and not path.is_symlink():
                stat = path.stat()
                out[rel] = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    return out


def write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path``, atomically."""
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON (indented by 2, sorted keys, a final newline), atomically."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def jsonl_line(record: Mapping[str, Any]) -> str:
    """One JSON-lines record: the object on one line with sorted keys, and its newline."""
    return json.dumps(record, sort_keys=True) + "\n"


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write ``rows`` as JSON lines (:func:`jsonl_line` each), atomically."""
    write_text(path, "".join(jsonl_line(r) for r in rows))


def write_npz(path: Path, arrays: Mapping[str, np.ndarray], stored: Collection[str] = ()) -> None:
    """Write ``arrays`` as an .npz that ``np.load`` reads, deflated at level 1 (numpy's savez_compressed uses
    zlib's default level: 5x slower on noisy float images for a file a few per cent smaller), atomically; the
    arrays named in ``stored`` (codestreams, compressed already) are stored as they are."""
    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for name, array in arrays.items():
                member_name: str | zipfile.ZipInfo = f"{name}.npy"
                if name in stored:
                    member_name = zipfile.ZipInfo(f"{name}.npy")  # the archive's fixed date, as for a name
                    member_name.compress_type = zipfile.ZIP_STORED
                with archive.open(member_name, "w", force_zip64=True) as member:
                    np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)

    write_atomic(path, write)


# What numpy raises for a file that is not an .npz archive of arrays, or a member of one cut short or damaged
NPZ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


class NpzReader(Mapping[str, np.ndarray]):
    """An ``.npz`` file of a run directory (truth/, evaluation/) read array by array, as numpy's lazy ``NpzFile``
    reads it, whose every failure is an InputFileError naming the file: not an archive of arrays (a pickle, a file of
    another kind), a member cut short, or an array it does not hold. ``in`` and iteration give the names it holds. A
    context manager."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            npz = np.load(self.path)
        except NPZ_ERRORS as err:
            raise InputFileError(self.path, f"not a readable .npz archive of arrays: {err}") from None
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise InputFileError(self.path, "not an .npz archive of arrays: one .npy array")
        self._npz = npz

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._npz.files:
            raise InputFileError(self.path, f"no {name!r} array (it holds {', '.join(self._npz.files) or 'none'})")
        try:
            return self._npz[name]
        except NPZ_ERRORS as err:
            raise InputFileError(self.path, f"its {name!r} array cannot be read: {err}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._npz.files

    def __iter__(self) -> Iterator[str]:
        return iter(self._npz.files)

    def __len__(self) -> int:
        return len(self._npz.files)

    def close(self) -> None:
        self._npz.close()

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def read_npz(path: Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file of a run directory, read at once (:class:`NpzReader`'s errors)."""
    with NpzReader(path) as arrays:
        return dict(arrays)
