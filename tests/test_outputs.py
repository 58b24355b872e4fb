"""Output folders and files checked before the work: made when absent, a clear error when they cannot be."""

import pytest

from app.outputs import output_dir, output_file
from rundir.errors import OrbitEdgeError


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
