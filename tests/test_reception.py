"""Reception: checksums, sizes, duplicates, conflicts, missing and orphan files, truncated manifests; and each
fault injected into a real run directory, through ``orbitedge report``."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cli import main
from ground.reception import iter_jsonl, read_jsonl, receive
from rundir.codec import EXTENSIONS, encode
from rundir.errors import InputFileError

BANDS = ["B", "G", "R", "NIR"]
QUICKSTART = Path(__file__).parents[1] / "scenarios" / "quickstart.yaml"


def product(product_id: str, dn: np.ndarray, fmt: str = "raw") -> tuple[dict, bytes]:
    """A manifest line (every spec key) and the encoded file bytes for an (H, W, 4) uint16 tile."""
    data = encode(dn, fmt, 12)
    h, w, b = dn.shape
    line = {"id": product_id, "file": product_id + EXTENSIONS[fmt], "satellite": "sat-1",
            "frame_ids": ["sat-1-f000000"],
            "pass_id": "sat-1-p000", "target": "paris", "capture_t_s": 100.0, "capture_utc": "2026-06-21T00:01:40.000Z",
            "downlink_t_s": 1000.0, "downlink_utc": "2026-06-21T00:16:40.000Z", "station": "svalbard",
            "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "format": fmt, "kind": "image",
            "dtype": "uint16", "bit_depth": 12, "bands": BANDS, "shape": [h, w, b], "reflectance_per_dn": 1.2 / 4095,
            "tile": {"row0": 0, "col0": 0, "height": h, "width": w, "frame_height": h, "frame_width": w},
            "footprint": {"epsg": 32631, "x0_m": 448000.0, "y0_m": 5412000.0, "gsd_m": 10.0, "width_px": w,
                          "height_px": h},
            "raw_bytes": (h * w * b * 12 + 7) // 8, "stages": ["encode"], "retransmitted_bytes": 0}
    return line, data


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run directory with three good products (raw, png, tiff) and their manifest."""
    rng = np.random.default_rng(1)
    downlink = tmp_path / "downlink"
    downlink.mkdir()
    lines = []
    for i, fmt in enumerate(("raw", "png", "tiff")):
        line, data = product(f"sat-1-f000000-t{i:02d}", rng.integers(0, 4096, (16, 16, 4), dtype=np.uint16), fmt)
        (downlink / line["file"]).write_bytes(data)
        lines.append(line)
    write_manifest(tmp_path, lines)
    return tmp_path


def write_manifest(run_dir: Path, lines: list[dict], tail: str = "") -> None:
    text = "".join(json.dumps(line) + "\n" for line in lines) + tail
    (run_dir / "downlink" / "manifest.jsonl").write_text(text, encoding="utf-8")


def manifest(run_dir: Path) -> list[dict]:
    return [json.loads(t) for t in (run_dir / "downlink" / "manifest.jsonl").read_text().splitlines()]


def kinds(reception) -> list[str]:
    return [a["kind"] for a in reception.anomalies]


def test_good_products_are_all_verified(run_dir):
    got = receive(run_dir)
    assert kinds(got) == []
    assert [p.id for p in got.products] == [f"sat-1-f000000-t{i:02d}" for i in range(3)]
    assert [p.manifest_line for p in got.products] == [1, 2, 3]


def test_checksum_mismatch_is_reported_and_the_rest_processed(run_dir):
    path = run_dir / "downlink" / manifest(run_dir)[1]["file"]
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    got = receive(run_dir)
    assert kinds(got) == ["corrupt"]
    assert got.anomalies[0]["id"] == "sat-1-f000000-t01" and got.anomalies[0]["line"] == 2
    assert [p.id for p in got.products] == ["sat-1-f000000-t00", "sat-1-f000000-t02"]


def test_size_mismatch_is_corrupt(run_dir):
    lines = manifest(run_dir)
    path = run_dir / "downlink" / lines[0]["file"]
    path.write_bytes(path.read_bytes() + b"\0")
    got = receive(run_dir)
    assert kinds(got) == ["corrupt"]
    assert f"{lines[0]['bytes'] + 1} bytes" in got.anomalies[0]["detail"]


def test_duplicate_delivery_is_dropped_and_first_kept(run_dir):
    lines = manifest(run_dir)
    write_manifest(run_dir, lines + [lines[0]])
    got = receive(run_dir)
    assert kinds(got) == ["duplicate"]
    assert got.anomalies[0]["line"] == 4
    assert len(got.products) == 3 and len(got.lines) == 4
    assert got.products[0].manifest_line == 1


def test_same_id_other_checksum_is_a_conflict(run_dir):
    lines = manifest(run_dir)
    other = dict(lines[2], sha256="0" * 64)
    write_manifest(run_dir, lines + [other])
    got = receive(run_dir)
    assert kinds(got) == ["conflict"]
    assert [p.id for p in got.products] == [line["id"] for line in lines]
    assert got.products[2].line.sha256 == lines[2]["sha256"]


def test_manifest_line_without_file(run_dir):
    lines = manifest(run_dir)
    (run_dir / "downlink" / lines[0]["file"]).unlink()
    got = receive(run_dir)
    assert kinds(got) == ["missing_file"]
    assert got.anomalies[0]["file"] == f"downlink/{lines[0]['file']}"
    assert len(got.products) == 2


def test_file_without_manifest_line_is_an_orphan(run_dir):
    (run_dir / "downlink" / "stray.raw").write_bytes(b"1234")
    got = receive(run_dir)
    assert kinds(got) == ["orphan_file"]
    assert got.anomalies[0]["file"] == "downlink/stray.raw"
    assert len(got.products) == 3
    (run_dir / "downlink" / "sub").mkdir()  # a folder no product is went unreported
    (run_dir / "downlink" / "gone.png").symlink_to(run_dir / "nowhere.png")
    assert [(a["file"], a["detail"]) for a in receive(run_dir).anomalies] == [
        ("downlink/gone.png", "a broken link with no manifest line"), ("downlink/stray.raw", "4 bytes with no "
         "manifest line"), ("downlink/sub", "a folder with no manifest line")]


def test_truncated_last_manifest_line_is_reported(run_dir):
    lines = manifest(run_dir)
    cut = json.dumps(lines[2])[:40]
    write_manifest(run_dir, lines[:2], tail=cut)
    got = receive(run_dir)
    assert kinds(got) == ["truncated_line", "orphan_file"]
    assert got.anomalies[0]["line"] == 3
    assert [p.id for p in got.products] == [lines[0]["id"], lines[1]["id"]]


def test_bad_line_in_the_middle_is_not_truncation(run_dir):
    lines = manifest(run_dir)
    text = json.dumps(lines[0]) + "\n{oops\n" + json.dumps(lines[1]) + "\n" + json.dumps(lines[2]) + "\n"
    (run_dir / "downlink" / "manifest.jsonl").write_text(text)
    got = receive(run_dir)
    assert kinds(got) == ["bad_manifest_line"]
    assert got.anomalies[0]["line"] == 2
    assert len(got.products) == 3


def test_line_missing_a_needed_key(run_dir):
    lines = manifest(run_dir)
    del lines[1]["sha256"]
    write_manifest(run_dir, lines)
    got = receive(run_dir)
    assert kinds(got) == ["bad_manifest_line", "orphan_file"]
    assert "sha256" in got.anomalies[0]["detail"]


@pytest.mark.parametrize("key, value, expected", [
    ("shape", None, "shape is None, expected a list of positive integers"),
    ("id", ["sat-1"], "id is ['sat-1'], expected a non-empty string"),
    ("bytes", "1024", "bytes is '1024', expected an integer from 0 to 2**63 - 1"),
    ("capture_t_s", float("nan"), "capture_t_s is nan, expected a finite number"),
    ("bands", 4, "bands is 4, expected a list of strings"),
])
def test_line_with_a_key_of_the_wrong_type(run_dir, key, value, expected):
    lines = manifest(run_dir)
    lines[1][key] = value
    write_manifest(run_dir, lines)
    got = receive(run_dir)
    assert kinds(got) == ["bad_manifest_line", "orphan_file"]
    assert got.anomalies[0]["detail"] == expected and got.anomalies[0]["line"] == 2
    assert len(got.products) == 2


def test_line_that_is_not_utf8_is_bad_and_the_rest_processed(run_dir):
    text = (run_dir / "downlink" / "manifest.jsonl").read_bytes().split(b"\n")
    text[0] = text[0].replace(b'"sat-1"', b'"sat-\xff"', 1)
    (run_dir / "downlink" / "manifest.jsonl").write_bytes(b"\n".join(text))
    got = receive(run_dir)
    assert kinds(got) == ["bad_manifest_line", "orphan_file"]
    assert got.anomalies[0]["detail"].startswith("not UTF-8 text") and got.anomalies[0]["line"] == 1
    assert len(got.products) == 2


def test_file_name_escaping_downlink_is_rejected(run_dir):
    lines = manifest(run_dir)
    lines[0]["file"] = "../scenario.yaml"
    write_manifest(run_dir, lines)
    got = receive(run_dir)
    assert kinds(got) == ["bad_manifest_line", "orphan_file"]


def test_checksum_good_but_undecodable(run_dir):
    lines = manifest(run_dir)
    garbage = b"not a png at all"
    (run_dir / "downlink" / lines[1]["file"]).write_bytes(garbage)
    lines[1].update(bytes=len(garbage), sha256=hashlib.sha256(garbage).hexdigest())
    write_manifest(run_dir, lines)
    got = receive(run_dir)
    assert kinds(got) == ["undecodable"]
    assert len(got.products) == 2


def test_no_downlink_folder_is_an_anomaly(run_dir):
    """A run directory without downlink/ reported its delivered frames as having "failed the ground's checks (see
    the ground's anomalies)", and the anomalies were empty: the folder's absence is now the anomaly they point to."""
    shutil.rmtree(run_dir / "downlink")
    got = receive(run_dir)
    assert kinds(got) == ["missing_downlink"] and got.products == [] and got.lines == []
    assert got.anomalies[0]["file"] == "downlink/" and "no downlink folder" in got.anomalies[0]["detail"]


def test_no_manifest_makes_every_file_an_orphan(run_dir):
    (run_dir / "downlink" / "manifest.jsonl").unlink()
    got = receive(run_dir)
    assert kinds(got) == ["missing_manifest"] + ["orphan_file"] * 3
    assert got.products == []


def test_read_jsonl_numbers_lines_and_reports_other_files_as_bad_line(tmp_path):
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"a": 1}\n[1, 2]\n\n{"a": 2}\n{"a": ')
    records, problems = read_jsonl(path, "telemetry/ledger.jsonl")
    assert records == [(1, {"a": 1}), (4, {"a": 2})]
    assert [(p["kind"], p["line"]) for p in problems] == [("bad_line", 2), ("truncated_line", 5)]


LINES = st.one_of(st.dictionaries(st.text("abc", max_size=3), st.integers(), max_size=3).map(json.dumps),
                  st.sampled_from(["", "  ", "[1, 2]", "7", '{"a": ', "not json", '{"\u00e9": 1}'])
                  ).map(str.encode) | st.just(b'{"a": "\xff"}')  # the last: not UTF-8


def expected_jsonl(data: bytes) -> tuple[list, list]:
    """What a JSONL reader must make of a file's bytes ``data``, worked out line by line on its own (the last line
    is the last one with any bytes before the end)."""
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    records, problems = [], []
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(("bad_line", number))
            continue
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            problems.append(("truncated_line" if number == len(lines) else "bad_line", number))
            continue
        if isinstance(value, dict):
            records.append((number, value))
        else:
            problems.append(("bad_line", number))
    return records, problems


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINES, max_size=8), newline_at_end=st.booleans())
def test_iter_jsonl_reads_every_family_of_line_as_a_reference_does(tmp_path, lines, newline_at_end):
    path = tmp_path / "timeline.jsonl"
    data = b"\n".join(lines) + (b"\n" if newline_at_end and lines else b"")
    path.write_bytes(data)
    problems: list[dict] = []
    records = list(iter_jsonl(path, "telemetry/timeline.jsonl", problems))
    assert (records, [(p["kind"], p["line"]) for p in problems]) == expected_jsonl(data)
    assert (records, problems) == read_jsonl(path, "telemetry/timeline.jsonl")


def test_iter_jsonl_reads_as_it_goes(tmp_path):
    """A caller gets the first lines before a later bad one is read: the file is not held whole."""
    path = tmp_path / "timeline.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\nbroken\n{"a": 3}\n')
    problems: list[dict] = []
    lines = iter_jsonl(path, "telemetry/timeline.jsonl", problems)
    assert next(lines) == (1, {"a": 1})
    assert problems == []
    assert list(lines) == [(2, {"a": 2}), (4, {"a": 3})]
    assert [(p["kind"], p["line"]) for p in problems] == [("bad_line", 3)]


def test_read_jsonl_unreadable_file_names_it(tmp_path):
    with pytest.raises(InputFileError) as err:
        read_jsonl(tmp_path / "absent.jsonl", "absent.jsonl")
    assert "absent.jsonl" in str(err.value)


# ------------------------------------------------------------------------------------------ a real run, end to end


@pytest.fixture(scope="module")
def real_run(tmp_path_factory) -> Path:
    """A real run directory: quickstart's first pass (8.2 h in), its frames encoded as PNG products."""
    out = tmp_path_factory.mktemp("real") / "run"
    assert main(["run", str(QUICKSTART), "--out", str(out), "--quiet", "--set", "duration_h=8.5",
                 "--set", "pipeline=[{stage: encode, format: png}]"]) == 0
    assert len(manifest(out)) >= 3, "quickstart no longer delivers three products in 8.5 h: choose another window"
    return out


def corrupt(run: Path) -> tuple[str, str, int]:
    path = run / "downlink" / manifest(run)[0]["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(data)
    return "corrupt", f"downlink/{path.name}", 1


def duplicate(run: Path) -> tuple[str, str, int]:
    lines = manifest(run)
    write_manifest(run, lines + [lines[-1]])
    return "duplicate", f"downlink/{lines[-1]['file']}", 0


def line_without_file(run: Path) -> tuple[str, str, int]:
    name = manifest(run)[1]["file"]
    (run / "downlink" / name).unlink()
    return "missing_file", f"downlink/{name}", 1


def file_without_line(run: Path) -> tuple[str, str, int]:
    shutil.copyfile(run / "downlink" / manifest(run)[0]["file"], run / "downlink" / "stray.png")
    return "orphan_file", "downlink/stray.png", 0


def report_of(run: Path, capsys) -> dict:
    """``orbitedge report RUN``: its report.json, after checking it exits 0 with no traceback."""
    assert main(["report", str(run), "--quiet"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    return json.loads((run / "report.json").read_text())


@pytest.mark.parametrize("inject", [corrupt, duplicate, line_without_file, file_without_line], ids=lambda f: f.__name__)
def test_fault_in_a_real_run_is_an_anomaly_and_the_rest_is_reported(real_run, tmp_path, capsys, inject):
    run = shutil.copytree(real_run, tmp_path / "run")
    products = len(manifest(run))
    kind, file, lost = inject(run)
    report = report_of(run, capsys)
    ground = report["ground"]
    assert [(a["kind"], a["file"]) for a in ground["anomalies"]] == [(kind, file)]
    assert ground["products_verified"] == products - lost
    assert report["latency_s"]["count"] == products - lost
    assert sum(p["tiles"] for p in report["mosaics"]["passes"]) == products - lost
    assert report["ledger"]["captured"] == json.loads((real_run / "report.json").read_text())["ledger"]["captured"]


def test_every_fault_at_once_in_a_real_run(real_run, tmp_path, capsys):
    run = shutil.copytree(real_run, tmp_path / "run")
    products = len(manifest(run))
    faults = [inject(run) for inject in (corrupt, line_without_file, duplicate, file_without_line)]
    ground = report_of(run, capsys)["ground"]
    assert sorted((a["kind"], a["file"]) for a in ground["anomalies"]) == sorted((k, f) for k, f, _ in faults)
    assert ground["products_verified"] == products - 2


def test_png_sidecars_are_verified_counted_in_bytes_and_never_orphans(tmp_path):
    """The on-board product store writes a PNG with its world file and .aux.xml; reception checks all three."""
    from onboard.sim.downlink import ProductStore
    from rundir.codec import Georef, sidecars
    from rundir.manifest import ManifestLine

    dn = np.random.default_rng(6).integers(0, 4096, (16, 16, 4), dtype=np.uint16)
    line, data = product("p-0", dn, "png")
    typed = ManifestLine.from_json(line)
    files = sidecars(typed.file, "png", 4, Georef.from_line(typed))
    store = ProductStore(tmp_path)
    staged = store.stage(typed, data, files)
    store.deliver(staged)
    store.close()
    assert staged.bytes == len(data) + sum(len(content) for content in files.values())
    assert [s.file for s in staged.sidecars] == ["p-0.pgw", "p-0.png.aux.xml"]
    assert kinds(receive(tmp_path)) == [] and len(receive(tmp_path).products) == 1
    (tmp_path / "downlink" / "p-0.pgw").write_text("1\n0\n0\n-1\n0\n0\n")
    assert kinds(receive(tmp_path)) == ["corrupt"]
    assert "sidecar p-0.pgw" in receive(tmp_path).anomalies[0]["detail"]
    (tmp_path / "downlink" / "p-0.png.aux.xml").unlink()
    assert kinds(receive(tmp_path)) == ["corrupt"]  # the first bad file of the product is named
    (tmp_path / "downlink" / "p-0.pgw").unlink()
    assert kinds(receive(tmp_path)) == ["missing_file"]


@pytest.mark.parametrize("fmt", ["ccsds121", "jpegls", "jpeg2000", "jpegxl", "zstd"])
def test_lossless_flight_codec_products_are_checked_bit_for_bit(tmp_path, fmt):
    """A lossless product whose manifest dn_sha256 matches decodes and is kept; one whose DN differ from what the
    spacecraft encoded (here: a manifest naming other DN) is not_bit_exact, though its file checksum is good."""
    from rundir.codec import dn_sha256

    (tmp_path / "downlink").mkdir()
    rng = np.random.default_rng(3)
    lines = []
    for i in range(2):
        dn = rng.integers(0, 4096, (16, 16, 4), dtype=np.uint16)
        line, data = product(f"sat-1-f000000-t{i:02d}", dn, fmt)
        line.update(lossless=True, dn_sha256=dn_sha256(dn if i == 0 else dn + 1))
        (tmp_path / "downlink" / line["file"]).write_bytes(data)
        lines.append(line)
    write_manifest(tmp_path, lines)
    got = receive(tmp_path)
    assert [p.id for p in got.products] == ["sat-1-f000000-t00"]
    assert kinds(got) == ["not_bit_exact"] and "lossless " + fmt in got.anomalies[0]["detail"]
