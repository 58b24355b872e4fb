"""Output folders and files checked before the work: made when absent, a clear error when they cannot be."""

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from app.outputs import file_arg, folder_arg, output_dir, output_file, shown
from rundir.errors import OrbitEdgeError

ROOT = Path(__file__).resolve().parent.parent


def test_a_folder_is_made_with_its_parents_and_a_file_gets_its_folder(tmp_path):
    assert output_dir(tmp_path / "a" / "b", "--out").is_dir()
    assert output_dir(tmp_path / "a" / "b", "--out").is_dir()  # already there: fine
    target = output_file(tmp_path / "c" / "d.json", "--json")
    assert target.parent.is_dir() and not target.exists()


def test_a_file_where_a_folder_goes_and_the_reverse_are_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OrbitEdgeError, match=r"^--out .*/f: expected a folder, found a file$"):
        output_dir(tmp_path / "f", "--out")
    with pytest.raises(OrbitEdgeError, match=r"^--out .*/f: expected a folder, found a file$"):
        output_file(tmp_path / "f" / "card.json", "--out")  # its folder would be a file
    with pytest.raises(OrbitEdgeError, match=r"^--json .*: expected a file, found a folder$"):
        output_file(tmp_path, "--json")


def test_a_folder_that_cannot_be_made_names_the_reason(tmp_path):
    (tmp_path / "f").write_text("x")  # a folder under a file cannot be made, whoever asks (root included)
    with pytest.raises(OrbitEdgeError, match=r"^--out .*/f/sub: cannot make the folder: Not a directory$"):
        output_dir(tmp_path / "f" / "sub", "--out")


def test_a_folder_that_holds_no_files_is_refused_before_any_work(tmp_path, capsys):
    """bench --json /proc/b.json measured every model, printed its table, and then failed to write ("No such file or
    directory", without --json): /proc is there and is a folder, but no file can be made in it. An output folder is
    now tried with an unnamed file first, whatever the command."""
    with pytest.raises(OrbitEdgeError, match=r"^--json /proc: cannot write files in the folder: "):
        output_file(Path("/proc/b.json"), "--json")
    from app.cli import main
    assert main(["bench", "cloud_bgrn_int8", "--json", "/proc/b.json"]) == 2
    out, err = capsys.readouterr()
    assert err.startswith("orbitedge: error: --json /proc: cannot write files in the folder") and "p50" not in out
    assert list(tmp_path.iterdir()) == [] and output_dir(tmp_path, "--out") == tmp_path
    assert list(tmp_path.iterdir()) == []  # the unnamed file tried is gone


def test_a_file_there_already_is_written_in_place_whatever_its_folder_takes(tmp_path, monkeypatch):
    """The probe refused `--json FILE` for a writable file in a folder the user cannot add files to (and
    /dev/stdout), which had worked: a file that is there is checked for writing, its folder is not probed; a folder
    only read (an --onnx-dir of current twins) is not probed either. Fault injected: no new file can be made."""
    import tempfile

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    existing = tmp_path / "bench.json"
    existing.write_text("{}")
    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    assert output_file(existing, "--json") == existing
    assert output_file(Path("/dev/null"), "--json") == Path("/dev/null")
    assert output_dir(tmp_path, "--onnx-dir", writes=False) == tmp_path
    with pytest.raises(OrbitEdgeError, match="cannot write files in the folder: Permission denied"):
        output_file(tmp_path / "new.json", "--json")


@pytest.mark.parametrize("command", ["validate", "run", "sweep"])
def test_an_empty_input_file_is_refused_not_read_as_this_folder(command, capsys):
    """`orbitedge validate "$SCENARIO"` with the variable unset read the current folder: "found Is a directory"."""
    with pytest.raises(argparse.ArgumentTypeError, match="expected a file, found an empty path"):
        file_arg(" ")
    from app.cli import main
    with pytest.raises(SystemExit) as exit_:
        main([command, ""])
    assert exit_.value.code == 2 and "'': expected a file, found an empty path" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["", "  "])
def test_an_empty_output_folder_is_refused_not_read_as_this_folder(text):
    with pytest.raises(argparse.ArgumentTypeError, match="empty path"):
        folder_arg(text)
    assert folder_arg("runs/a") == Path("runs/a") and folder_arg(".") == Path(".")


def test_run_and_sweep_refuse_an_empty_out_before_any_work(tmp_path):
    for argv in (["run", "scenarios/quickstart.yaml", "--out", ""], ["sweep", "sweeps/threshold.yaml", "--out", ""],
                 ["bench", "--onnx-dir", ""]):
        done = subprocess.run([sys.executable, "-m", "app.cli", *argv], capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 2 and "found an empty path" in done.stderr and "Traceback" not in done.stderr


def test_a_path_is_shown_relative_to_the_working_folder_only_when_below_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    assert shown(tmp_path / "results" / "x.json") == Path("results/x.json")  # absolute, below: relative
    assert shown(Path("results/x.json")) == Path("results/x.json")  # relative already: as given
    assert shown(Path("../elsewhere/x.json")) == Path("../elsewhere/x.json")  # above: as given, not resolved
    assert shown(Path("/nowhere/x.json")) == Path("/nowhere/x.json")
