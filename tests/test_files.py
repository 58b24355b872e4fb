"""Run-directory files (rundir.files): an atomic write leaves the old file or the new one and never a .part file, even
when the writer fails; JSON and JSON lines have sorted keys; arrays come back from np.load as written."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rundir.errors import InputFileError
from tests.lock_holder import lock_holder
from rundir.files import (WRITTEN_LIST, NpzReader, folder_lock, remade_folder, jsonl_line, read_npz, signals_blocked,
                          signals_held, write_atomic, write_json, write_jsonl, write_npz, write_text)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_part(tmp_path):
    path = tmp_path / "run.json"
    write_text(path, "old\n")

    def fail(tmp):
        tmp.write_text("half a fi")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, fail)
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_json_is_indented_with_sorted_keys_and_a_final_newline(tmp_path):
    write_json(tmp_path / "run.json", {"b": 1, "a": [1, 2]})
    assert (tmp_path / "run.json").read_text() == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": 1\n}\n'


@settings(deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5) | st.none(), max_size=4),
                max_size=5))
def test_json_lines_read_back_one_object_a_line(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("jsonl") / "ledger.jsonl"
    write_jsonl(path, rows)
    text = path.read_text(encoding="utf-8")
    assert [json.loads(line) for line in text.splitlines()] == rows
    assert text == "".join(jsonl_line(r) for r in rows)
    assert all(list(json.loads(line)) == sorted(json.loads(line)) for line in text.splitlines())


def test_npz_reads_back_as_written(tmp_path):
    arrays = {"cloud": np.arange(12, dtype=np.uint8).reshape(3, 4), "shifts_px": np.array([[0.0, 0.0], [0.25, -1.5]]),
              "valid": np.ones((2, 2), bool)}
    write_npz(tmp_path / "f.npz", arrays)
    with np.load(tmp_path / "f.npz") as got:
        assert set(got.files) == set(arrays)
        for name, array in arrays.items():
            assert got[name].dtype == array.dtype and np.array_equal(got[name], array)


@pytest.mark.parametrize("damage, problem", [
    (lambda path: path.write_text("garbage"), "not a readable .npz archive of arrays"),
    (lambda path: path.write_bytes(path.read_bytes()[:500]), "not a readable .npz archive of arrays"),
    (lambda path: np.save(open(path, "wb"), np.zeros(3)), "not an .npz archive of arrays: one .npy array"),
    (lambda path: np.savez(path, foo=np.zeros(2)), "no 'cloud' array (it holds foo)"),
    (lambda path: path.write_bytes(path.read_bytes().replace(b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", 40)),
     "array cannot be read"),
])
def test_a_damaged_npz_is_an_input_file_error_naming_it(tmp_path, damage, problem):
    """A run directory's truth/ or evaluation/ file cut short, overwritten or of another kind: the ground names the
    file and the problem (exit 2), never a traceback from numpy or zipfile."""
    path = tmp_path / "f.npz"
    write_npz(path, {"cloud": np.arange(4096, dtype=np.uint16).reshape(64, 64)}, stored=("cloud",))
    damage(path)
    with pytest.raises(InputFileError, match=re.escape(problem)) as err:
        with NpzReader(path) as arrays:
            arrays["cloud"]
    assert err.value.path == str(path)
    if problem.startswith("no "):  # the archive itself is sound: its other arrays read
        assert set(read_npz(path)) == {"foo"}
    else:
        with pytest.raises(InputFileError):
            read_npz(path)


def test_npz_stores_the_named_arrays_as_they_are_and_deflates_the_rest(tmp_path):
    import zipfile

    stream = np.frombuffer(np.random.default_rng(0).bytes(4096), np.uint8)  # a codestream: nothing to deflate
    flat = np.zeros((64, 64), np.uint16)
    write_npz(tmp_path / "f.npz", {"stream": stream, "flat": flat}, stored=("stream",))
    with zipfile.ZipFile(tmp_path / "f.npz") as archive:
        kinds = {i.filename: i.compress_type for i in archive.infolist()}
        assert {i.filename: i.date_time for i in archive.infolist()} == dict.fromkeys(kinds, (1980, 1, 1, 0, 0, 0))
    assert kinds == {"stream.npy": zipfile.ZIP_STORED, "flat.npy": zipfile.ZIP_DEFLATED}
    with np.load(tmp_path / "f.npz") as got:
        assert np.array_equal(got["stream"], stream) and np.array_equal(got["flat"], flat)
    write_npz(tmp_path / "g.npz", {"stream": stream, "flat": flat}, stored=("stream",))
    assert (tmp_path / "g.npz").read_bytes() == (tmp_path / "f.npz").read_bytes()  # no clock in the archive


def test_ctrl_c_and_sigterm_wait_while_the_study_writes_what_was_done(ctrl_c):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with signals_held(redeliver=False):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        written = True
    assert written and (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_signal_held_is_raised_again_when_the_block_is_done(ctrl_c):
    done = []
    with pytest.raises(KeyboardInterrupt):
        with signals_held(redeliver=True):
            os.kill(os.getpid(), signal.SIGINT)
            done.append("the block ran to its end")
    assert done == ["the block ran to its end"]


def test_an_interrupt_inside_a_write_waits_until_the_file_is_whole(tmp_path, ctrl_c):
    """Ctrl-C inside zipfile's writer (between opening a member and writing it) left it unable to close, and its
    ValueError took the interrupt's place: a traceback, exit 1. The interrupt now comes once the file is in place."""
    path = tmp_path / "frame.npy"

    def interrupted(tmp):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the write
        with tmp.open("wb") as out:
            np.save(out, np.arange(4))

    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, interrupted)
    assert np.load(path).tolist() == [0, 1, 2, 3] and not list(tmp_path.glob("*.part"))


def test_a_process_started_with_signals_blocked_keeps_it_blocked_and_a_sigint_meanwhile_waits():
    child = [sys.executable, "-c",
             "import signal; print(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))"]
    delivered: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: delivered.append(signum))
    try:
        with signals_blocked():
            assert subprocess.run(child, capture_output=True, text=True).stdout == "True\n"
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # to this thread: no other may take it
            time.sleep(0.05)
            assert delivered == []  # it waits while the block lasts ...
        deadline = time.monotonic() + 5.0
        while not delivered and time.monotonic() < deadline:  # ... and is delivered as it ends, not lost (Python
            time.sleep(0.01)  # runs a handler at its next check of pending signals)
        assert delivered == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # this thread's mask as it was
    assert subprocess.run(child, capture_output=True, text=True).stdout == "False\n"


@pytest.mark.parametrize("failing", ["write", "rename"])
def test_a_write_the_file_system_refuses_names_the_file_not_its_part(tmp_path, monkeypatch, failing):
    """A read-only disk refuses the ``.part`` file (or its rename): the error names the file being written, as a
    user knows it, and no ``.part`` is left."""
    import errno

    path = tmp_path / "report.json"

    def refuse(*names):
        raise OSError(errno.EROFS, "Read-only file system", *map(str, names))

    if failing == "rename":
        monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError) as caught:
        write_atomic(path, (lambda tmp: refuse(tmp)) if failing == "write" else (lambda tmp: tmp.write_text("{}")))
    assert (caught.value.filename, caught.value.filename2) == (str(path), None)
    assert caught.value.errno == errno.EROFS and not list(tmp_path.iterdir())


def test_an_error_of_a_file_descriptor_in_a_write_stays_as_raised(tmp_path):
    """An OSError of a call on a descriptor carries its number as ``filename``: it is no path to rename (it became a
    TypeError that hid the OSError)."""
    def bad_descriptor(tmp):
        os.stat(987654)  # stat of a descriptor: its OSError names the number

    with pytest.raises(OSError) as caught:
        write_atomic(tmp_path / "report.json", bad_descriptor)
    assert caught.value.filename == 987654 and not list(tmp_path.iterdir())


def test_a_folder_lock_has_one_holder_at_a_time_and_ends_with_it_however_it_ends(tmp_path):
    from rundir.errors import OrbitEdgeError

    folder = tmp_path / "new" / "out"  # made
    with folder_lock(folder):
        with pytest.raises(OrbitEdgeError, match=rf"another orbitedge process \(pid {os.getpid()}\) is writing"):
            with folder_lock(folder):
                pass
    with folder_lock(folder):  # released with the block
        pass
    holder = lock_holder(folder)
    holder.kill()  # SIGKILL: no clean-up of its own, the kernel releases the lock
    holder.communicate()
    with folder_lock(folder):
        pass


def test_a_remade_folder_loses_what_the_last_writer_wrote_and_keeps_the_users_files(tmp_path):
    """The ground remakes mosaics/, plots/ and stac/: what an earlier report wrote goes (files, and the folders that
    leaves empty), and a user's files beside them stay; a folder that is a symlink to another disk keeps its link
    and its target's other files (the ground once emptied the target whole, a GIS project's files with it)."""
    target = tmp_path / "other-disk" / "project"
    target.mkdir(parents=True)
    (target / "field_survey.shp").write_text("precious")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "mosaics").symlink_to(target, target_is_directory=True)
    with remade_folder(run_dir / "mosaics") as folder:
        (folder / "p000.tif").write_bytes(b"tif")
        (folder / "item").mkdir()
        (folder / "item" / "item.json").write_text("{}")
    assert (target / WRITTEN_LIST).read_text() == "item/item.json\np000.tif\n"
    (target / "notes.txt").write_text("mine")
    with remade_folder(run_dir / "mosaics") as folder:
        assert sorted(p.name for p in folder.iterdir()) == sorted(["field_survey.shp", "notes.txt", WRITTEN_LIST])
        (folder / "p001.tif").write_bytes(b"tif")
    assert (run_dir / "mosaics").is_symlink() and (target / WRITTEN_LIST).read_text() == "p001.tif\n"
    assert (target / "field_survey.shp").read_text() == "precious" and (target / "notes.txt").read_text() == "mine"
    with remade_folder(tmp_path / "new" / "plots") as made:
        assert made.is_dir() and not any(made.iterdir())


def test_a_remade_folder_lists_a_users_file_the_writer_replaced_and_what_it_wrote_before_an_error(tmp_path):
    """A folder an earlier version wrote has no list: its files are kept, and the ones the writer writes again
    are listed (their inode or time changed), so the next report removes them; an error inside the ``with`` still
    leaves the list of what was written, and no listed path outside the folder is ever removed."""
    folder = tmp_path / "stac"
    folder.mkdir()
    (folder / "catalog.json").write_text("old")
    (folder / "user.txt").write_text("mine")
    (tmp_path / "outside.txt").write_text("keep")
    with pytest.raises(RuntimeError), remade_folder(folder):
        (folder / "catalog.json").write_text("new, longer")
        raise RuntimeError("writer failed")
    assert (folder / WRITTEN_LIST).read_text() == "catalog.json\n"
    (folder / WRITTEN_LIST).write_text(f"catalog.json\n../outside.txt\n{tmp_path / 'outside.txt'}\n"
                                       "gone/item.json\nmine/a.json\nflat/b.json\n")
    (folder / "mine" / "a.json").mkdir(parents=True)  # a listed file since made a folder, a listed one deleted
    (folder / "flat").write_text("mine too")  # and a listed folder since made a file
    with remade_folder(folder):
        pass
    assert not (folder / "catalog.json").exists() and (folder / "user.txt").exists()
    assert (folder / "mine" / "a.json").is_dir() and (folder / "flat").read_text() == "mine too"
    assert (tmp_path / "outside.txt").read_text() == "keep" and (folder / WRITTEN_LIST).read_text() == ""


def test_a_run_lock_is_one_for_every_name_of_a_folder_and_none_where_nothing_can_be_made_beside_it(tmp_path,
                                                                                                   monkeypatch):
    """--out link and --out target (link -> target) took two locks and both ran into one folder; and a folder of
    the user's in a read-only one (a container's bind mount) refused every run and report once there was a lock."""
    from rundir.errors import OrbitEdgeError
    from rundir.files import run_lock

    (tmp_path / "target").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with run_lock(tmp_path / "link"):
        with pytest.raises(OrbitEdgeError, match=r"target: another orbitedge process \(pid \d+\) is writing"):
            with run_lock(tmp_path / "target"):
                pass
    assert sorted(p.name for p in tmp_path.iterdir()) == [".target.lock", "link", "target"]

    def read_only(path, *args, **kwargs):  # fault injected: the folder beside refuses a new file (root ignores modes)
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "open", read_only)
    ran = []
    with run_lock(tmp_path / "elsewhere"):
        ran.append(True)
    assert ran == [True]
