"""benchmarks/same_behaviour.py: run directories compared file by file with wall-clock fields left out (.npz
archives array by array), and a revision that is not a commit refused with exit 2 before any worktree is made."""

import json
import zipfile

import numpy as np
import pytest

from benchmarks import same_behaviour


def write_run(root, wall_s: float, product: bytes, report_wall: str):
    (root / "telemetry").mkdir(parents=True)
    (root / "downlink").mkdir()
    (root / "telemetry" / "run.json").write_text(json.dumps({"scenario": "q", "wall_time_s": wall_s,
                                                            "wall_stage_s": {"encode": wall_s}}))
    (root / "telemetry" / "processing.jsonl").write_text(json.dumps({"frame_id": "f0", "wall_s": {"x": wall_s}}) + "\n")
    (root / "downlink" / "p0.jls").write_bytes(product)
    (root / "report.md").write_text(f"# q\n\n| figure | value |\n|---|---|\n| wall_time_s | {report_wall} |\n"
                                    "| frames | 3 |\n")
    return root


def test_wall_clock_fields_are_left_out_and_anything_else_counts(tmp_path):
    before = write_run(tmp_path / "a", 1.5, b"\x01\x02", "1.5")
    after = write_run(tmp_path / "b", 9.25, b"\x01\x02", "9.25")
    assert same_behaviour.compare_runs(before, after) == []
    (after / "downlink" / "p0.jls").write_bytes(b"\x01\x03")
    (after / "downlink" / "p1.jls").write_bytes(b"")
    (after / "report.md").write_text((after / "report.md").read_text().replace("| frames | 3 |", "| frames | 4 |"))
    assert same_behaviour.compare_runs(before, after) == ["only after: downlink/p1.jls", "differs: downlink/p0.jls",
                                                          "differs: report.md"]


@pytest.mark.parametrize("change, differs", [
    (lambda a: a, False),  # the same arrays, stored rather than deflated
    (lambda a: a.astype(np.float64), True), (lambda a: a.reshape(-1), True), (lambda a: a + np.float32(1e-7), True)])
def test_npz_archives_compare_array_by_array_not_by_compression(tmp_path, change, differs):
    layer = np.random.default_rng(3).uniform(0, 1, (8, 8, 2)).astype(np.float32)
    for side, compression in (("a", zipfile.ZIP_DEFLATED), ("b", zipfile.ZIP_STORED)):
        (tmp_path / side / "truth").mkdir(parents=True)
        with zipfile.ZipFile(tmp_path / side / "truth" / "f0.npz", "w", compression) as archive:
            with archive.open("hr.npy", "w") as member:
                np.lib.format.write_array(member, layer if side == "a" else change(layer))
    assert (tmp_path / "a" / "truth" / "f0.npz").read_bytes() != (tmp_path / "b" / "truth" / "f0.npz").read_bytes()
    expected = ["differs: truth/f0.npz"] if differs else []
    assert same_behaviour.compare_runs(tmp_path / "a", tmp_path / "b") == expected


def test_a_revision_that_is_not_a_commit_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        same_behaviour.main(["--before", "no-such-revision-31"])
    assert exit_info.value.code == 2
    assert "--before 'no-such-revision-31' is not a commit" in capsys.readouterr().err


def test_an_evaluation_record_compares_by_its_pixels_whether_its_images_are_packed_or_not(tmp_path):
    """Records written before their images were stored as JPEG-LS hold the same pixels as plain uint16 arrays: the
    same content, not a difference; one pixel changed is one."""
    from rundir.evaluation import codestream_keys, packed
    from rundir.files import write_npz

    image = np.random.default_rng(1).integers(0, 4096, (16, 12, 4), dtype=np.uint16)
    arrays = {"sr_bicubic": image, "spectral_cloud": np.zeros((8, 6), bool)}
    for side, record in (("before", arrays), ("after", packed(arrays))):
        (tmp_path / side / "evaluation").mkdir(parents=True)
        write_npz(tmp_path / side / "evaluation" / "f0.npz", record, codestream_keys(record))
    assert same_behaviour.compare_runs(tmp_path / "before", tmp_path / "after") == []
    changed = image.copy()
    changed[3, 4, 1] += 1
    write_npz(tmp_path / "before" / "evaluation" / "f0.npz", {**arrays, "sr_bicubic": changed})
    assert same_behaviour.compare_runs(tmp_path / "before", tmp_path / "after") == ["differs: evaluation/f0.npz"]
