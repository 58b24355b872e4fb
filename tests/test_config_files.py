"""onboard.scenario.config_files: scenario and sweep files read within bounds, and the files a scenario names made
absolute for the resolved scenario (end to end through load_scenario in tests/test_config.py)."""

from pathlib import Path

import pytest

from onboard.scenario.config_files import (MAX_YAML_FILE_BYTES, not_utf8, read_yaml_file, scenario_path,
                                          with_files_absolute)


def test_a_yaml_file_that_is_a_device_or_too_large_is_refused_before_it_is_read_whole(tmp_path):
    """/dev/zero would be read forever and a huge file held in memory: both are OSErrors the loaders name."""
    with pytest.raises(OSError, match="not a regular file"):
        read_yaml_file(Path("/dev/zero"))
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a" * (MAX_YAML_FILE_BYTES + 1))
    with pytest.raises(OSError, match="more than 16 MiB"):
        read_yaml_file(big)
    big.write_bytes(b"name: x\n")
    assert read_yaml_file(big) == b"name: x\n"


def test_only_names_of_existing_files_become_absolute_and_a_name_the_system_refuses_stays(tmp_path):
    """A relative name of a file beside the scenario becomes its absolute path (``..`` folded away); an absolute
    one, a name no file has, and one too long for the system (OSError from the file system) stay as given; the
    data given is not changed."""
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "b2.tif").write_bytes(b"x")
    data = {"world": {"bands": {"B": "img/../img/b2.tif", "G": "/abs/g.tif", "R": "absent.tif"}},
            "pipeline": [{"model": "x" * 300 + ".tflite"}]}
    files = {"world.bands.B": "img/../img/b2.tif", "world.bands.G": "/abs/g.tif", "world.bands.R": "absent.tif",
             "pipeline[0].model": "x" * 300 + ".tflite"}
    resolved = with_files_absolute(data, files, tmp_path)
    assert resolved["world"]["bands"] == {"B": str(tmp_path / "img" / "b2.tif"), "G": "/abs/g.tif", "R": "absent.tif"}
    assert resolved["pipeline"][0]["model"] == "x" * 300 + ".tflite"
    assert data["world"]["bands"]["B"] == "img/../img/b2.tif"


@pytest.mark.parametrize("data, found", [
    ("name: café\n".encode("utf-32"), "UTF-32 text (byte-order mark FF FE 00 00): save it as UTF-8"),
    ("name: café\n".encode("utf-16"), "UTF-16 text (byte-order mark FF FE): save it as UTF-8"),
    ("name: café\n".encode("utf-16-le"), "UTF-16 text (no byte-order mark): save it as UTF-8"),
    ("# ü\nnäme: café\n".encode("utf-8").replace("é".encode(), b"\xe9"),  # column in characters: ä is 2 bytes
     "text in another encoding (byte 0xE9 at column 10: invalid continuation byte; Latin-1 or Windows-1252?): save it "
     "as UTF-8"),
    (b"name: x\n\x00\x01\xff", "binary data (invalid start byte at byte 10)")])
def test_bytes_that_are_not_utf8_are_named_for_what_they_are(data, found):
    with pytest.raises(UnicodeDecodeError) as err:
        data.decode("utf-8")
    assert not_utf8(data, err.value) == found


def test_a_path_with_a_tilde_is_the_users_wherever_a_scenario_names_a_file(tmp_path, monkeypatch):
    """`~` was expanded for a model's path, and not for an image band's ("no such file", the path it tried unsaid),
    a sweep's scenario ("/tmp/yt/~/base.yaml") or a quoted --out (a folder named ~ in the working directory)."""
    from app.outputs import folder_arg
    from onboard.sensing.imagery import band_source

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert scenario_path("~/m.tflite", tmp_path / "mission") == tmp_path / "home" / "m.tflite"
    assert scenario_path("m.tflite", tmp_path / "mission") == tmp_path / "mission" / "m.tflite"
    assert scenario_path("/abs/m.tflite", tmp_path / "mission") == Path("/abs/m.tflite")
    assert band_source("~/b.tif", tmp_path / "mission").path == tmp_path / "home" / "b.tif"
    assert folder_arg("~/runs/x") == tmp_path / "home" / "runs" / "x"
