"""A run directory made ready: refused when it holds something unless --overwrite, and the resolved scenario; the C
heap's thresholds."""

import pytest
import yaml

import json
import os

from app.run_setup import discard_earlier, earlier_of, prepare_run_dir, restore_earlier, write_resolved
from onboard.scenario.config import load_scenario
from rundir.errors import OrbitEdgeError
from tests.sweep_cases import QUICKSTART


def test_an_existing_run_directory_is_kept_unless_overwritten(tmp_path):
    run_dir = tmp_path / "run"
    prepare_run_dir(run_dir, overwrite=False)
    prepare_run_dir(run_dir, overwrite=False)  # empty: fine
    (run_dir / "scenario.yaml").write_text("name: earlier\n")
    (run_dir / "telemetry").mkdir()
    (run_dir / "telemetry" / "captures.jsonl").write_text("{}\n")
    with pytest.raises(OrbitEdgeError, match="run directory already exists and is not empty; pass --overwrite"):
        prepare_run_dir(run_dir, overwrite=False)
    aside = prepare_run_dir(run_dir, overwrite=True)
    assert list(run_dir.iterdir()) == [] and aside == tmp_path / ".run.earlier"
    assert (aside / "telemetry" / "captures.jsonl").read_text() == "{}\n"  # kept until the new run completes


@pytest.mark.parametrize("entries", [["notes.txt"], ["scenario.yaml"], ["telemetry/"], ["downlink/", "report.md"]])
def test_overwrite_never_deletes_a_folder_that_is_not_a_run(tmp_path, entries):
    # a user's folder (`--out . --overwrite` in a project, or a folder with a scenario file in it) is refused
    folder = tmp_path / "mine"
    folder.mkdir()
    for entry in entries:
        (folder / entry).mkdir() if entry.endswith("/") else (folder / entry).write_text("precious")
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(OrbitEdgeError, match=r"--overwrite replaces only an earlier run's directory \(with "
                                             r"scenario.yaml and telemetry/\), found a folder without .*nothing was "
                                             r"deleted"):
        prepare_run_dir(folder, overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == before


def test_overwrite_does_not_follow_a_link_to_a_run(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "telemetry").mkdir(parents=True)
    (run_dir / "scenario.yaml").write_text("name: earlier\n")
    (tmp_path / "link").symlink_to(run_dir)
    with pytest.raises(OrbitEdgeError, match="found a symbolic link; nothing was deleted"):
        prepare_run_dir(tmp_path / "link", overwrite=True)
    assert (run_dir / "scenario.yaml").exists()


def test_the_resolved_scenario_has_the_overrides(tmp_path):
    scenario = load_scenario(QUICKSTART, ["seed=7", "pipeline[0].threshold=0.4"])
    write_resolved(tmp_path, scenario)
    written = yaml.safe_load((tmp_path / "scenario.yaml").read_text())
    assert written["seed"] == 7 and written["pipeline"][0]["threshold"] == 0.4
    assert load_scenario(tmp_path / "scenario.yaml").seed == 7


def test_releasing_the_simulation_frees_cyclic_garbage_now():
    """What a finished simulation leaves is cyclic (SimPy processes and their environment): it is collected by the
    call, not at the collector's next full pass; the call is safe to repeat."""
    import gc
    import weakref

    import numpy as np

    from app.run_setup import release_simulation_memory

    class Process:
        pass

    gc.disable()  # no automatic pass may collect the cycle first
    try:
        a, b = Process(), Process()
        a.peer, b.peer, a.frame = b, a, np.zeros(1 << 20)
        alive = weakref.ref(a.frame)
        del a, b
        assert alive() is not None  # reference counting alone cannot free a cycle
        release_simulation_memory()
        assert alive() is None
        release_simulation_memory()
    finally:
        gc.enable()


FRAME_BYTES = 512 * 512 * 4 * 4  # 4 MiB: a 512 px, 4-band frame of float32 reflectance
MMAPPED_BLOCKS_PROBE = """
import ctypes, json, sys
import numpy as np
sys.path.insert(0, {root!r})
from app.run_setup import bound_heap


class MallInfo2(ctypes.Structure):  # glibc >= 2.33, malloc.h
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
if {bound}:
    bound_heap()
block = np.ones(8 << 20, np.uint8)  # an 8 MiB block, mmapped; freed, it raises glibc's dynamic threshold to 8 MiB
del block
before = libc.mallinfo2().hblks
array = np.ones({size}, np.uint8)
print(json.dumps({{"mmapped_blocks_added": libc.mallinfo2().hblks - before}}))
"""


@pytest.mark.skipif(not hasattr(__import__("ctypes").CDLL(None), "mallinfo2"), reason="glibc >= 2.33 only")
@pytest.mark.parametrize("bound, user_env, size, added", [
    (False, {}, FRAME_BYTES, 0),  # glibc's dynamic threshold: the frame comes from the heap
    (True, {}, FRAME_BYTES, 1),  # fixed at 2 MiB: mmapped, and unmapped when freed
    (True, {}, 512 << 10, 0),  # a tile's 512 KiB comes from the heap, whose freed memory the next tile reuses
    (True, {"MALLOC_MMAP_THRESHOLD_": str(16 << 20)}, FRAME_BYTES, 0),  # a user's own threshold (16 MiB) is kept
])
def test_bound_heap_keeps_frame_sized_arrays_out_of_the_heap(bound, user_env, size, added):
    """glibc's own count of mmapped blocks: once an 8 MiB array was freed, a frame-sized array (4 MiB) comes from
    the heap (where its memory would stay after it is freed), unless bound_heap fixed the threshold at 2 MiB;
    arrays below that stay in the heap either way."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")} | user_env
    code = MMAPPED_BLOCKS_PROBE.format(root=str(Path(__file__).parents[1]), bound=bound, size=size)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == {"mmapped_blocks_added": added}


def test_a_file_where_the_run_directory_goes_is_refused_even_with_overwrite(tmp_path):
    (tmp_path / "run").write_text("a log, not a run")
    for overwrite in (False, True):
        with pytest.raises(OrbitEdgeError, match="--out .*/run: expected a folder, found a file"):
            prepare_run_dir(tmp_path / "run", overwrite=overwrite)
    assert (tmp_path / "run").read_text() == "a log, not a run"  # nothing lost


def test_a_run_stopped_before_its_simulation_is_still_a_run_to_overwrite(tmp_path):
    # write_resolved makes both marks at once: a run that failed while its world was being built can be replaced
    run_dir = tmp_path / "run"
    prepare_run_dir(run_dir, overwrite=False)
    write_resolved(run_dir, load_scenario(QUICKSTART))
    assert (run_dir / "scenario.yaml").is_file() and (run_dir / "telemetry").is_dir()
    prepare_run_dir(run_dir, overwrite=True)
    assert list(run_dir.iterdir()) == []


def test_a_file_named_telemetry_is_no_mark(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "scenario.yaml").write_text("name: mine\n")
    (folder / "telemetry").write_text("my notes")
    with pytest.raises(OrbitEdgeError, match="found a folder without telemetry/; nothing was deleted"):
        prepare_run_dir(folder, overwrite=True)
    assert (folder / "telemetry").read_text() == "my notes"


def made_run(run_dir, name, complete):
    (run_dir / "telemetry").mkdir(parents=True)
    (run_dir / "scenario.yaml").write_text(f"name: {name}\n")
    (run_dir / "telemetry" / "run.json").write_text(json.dumps({"complete": complete}))


def test_the_earlier_run_is_kept_aside_until_a_replacement_completes(tmp_path):
    """--overwrite deleted the earlier run before simulating: a replacement stopped by SIGTERM left neither."""
    run_dir = tmp_path / "run"
    made_run(run_dir, "good", complete=True)
    aside = prepare_run_dir(run_dir, overwrite=True)
    (run_dir / "telemetry").mkdir()
    (run_dir / "scenario.yaml").write_text("name: stopped\n")  # a replacement stopped part way: incomplete
    assert prepare_run_dir(run_dir, overwrite=True) == aside  # the stopped one goes, the good one stays aside
    assert (aside / "scenario.yaml").read_text() == "name: good\n" and list(run_dir.iterdir()) == []
    made_run(run_dir, "newer", complete=True)
    assert discard_earlier(aside) is None and not aside.exists()


def test_a_complete_replacement_takes_the_place_aside(tmp_path):
    run_dir, aside = tmp_path / "run", earlier_of(tmp_path / "run")
    made_run(aside, "oldest", complete=True)  # left aside by a replacement that completed, and could not remove it
    made_run(run_dir, "newest", complete=True)
    assert prepare_run_dir(run_dir, overwrite=True) == aside
    assert (aside / "scenario.yaml").read_text() == "name: newest\n"


def test_the_earlier_run_goes_back_when_nothing_was_simulated(tmp_path):
    run_dir = tmp_path / "run"
    made_run(run_dir, "good", complete=True)
    aside = prepare_run_dir(run_dir, overwrite=True)
    assert restore_earlier(aside, run_dir)
    assert (run_dir / "scenario.yaml").read_text() == "name: good\n" and not aside.exists()
    assert not restore_earlier(None, run_dir)


def test_overwrite_refuses_the_folder_the_user_is_in(tmp_path, monkeypatch):
    """`--out .` emptied the run and then failed to remove '.': "cannot remove the earlier run", nothing left."""
    run_dir = tmp_path / "run"
    made_run(run_dir, "good", complete=True)
    monkeypatch.chdir(run_dir / "telemetry")
    with pytest.raises(OrbitEdgeError, match=r"--out .*: the working directory is in it, and --overwrite moves the "
                                             r"earlier run aside: run from outside it; nothing was changed"):
        prepare_run_dir(run_dir, overwrite=True)
    assert (run_dir / "scenario.yaml").read_text() == "name: good\n" and os.getcwd() == str(run_dir / "telemetry")


def test_a_folder_named_as_the_earlier_run_kept_aside_but_no_run_is_never_deleted(tmp_path):
    """A .run.earlier of another origin was removed without a word when the run it sat beside was replaced."""
    run_dir = tmp_path / "run"
    made_run(run_dir, "good", complete=True)
    (tmp_path / ".run.earlier").mkdir()
    (tmp_path / ".run.earlier" / "notes.txt").write_text("mine")
    with pytest.raises(OrbitEdgeError, match=r"--out .*/run: .*/\.run\.earlier is there, and is no earlier run that "
                                             r"--overwrite kept; nothing was changed: move it away"):
        prepare_run_dir(run_dir, overwrite=True)
    assert (tmp_path / ".run.earlier" / "notes.txt").read_text() == "mine"
    assert (run_dir / "scenario.yaml").read_text() == "name: good\n"
