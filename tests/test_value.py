"""Value delivered per byte (ground.value) on real run directories, recomputed here from the manifest, the products
and truth/; and the downlink ordered by value density against priority when the link is the bottleneck."""

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli import main
from ground.run_data import load_run
from ground.document import to_markdown
from ground.value import value_blocks, value_section

ROOT = Path(__file__).parents[1]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
# the quickstart's first 10 h in single frames (15 captures), the spectral cloud test masking tiles over half cloud
MASKED = ("duration_h=10", "pipeline=[{stage: cloud_filter, method: spectral, tile_px: 64, max_cloud_fraction: 0.5, "
          "action: mask}, {stage: encode, format: png}]")
SLOW_LINK = "spacecraft.radio.rate_mbps=0.03"  # 3.3 kB/s of payload: about a fifth of the products stay on board
# one pass over Sweden and its Svalbard contact, in bursts of 8 fused to x2 (bicubic: no model, a quick run)
SUPERRES = ("start_utc=2026-06-21T08:00:00Z", "duration_h=0.5",
            "pipeline=[{stage: cloud_filter, method: spectral, tile_px: 64, max_cloud_fraction: 0.5, action: mask}, "
            "{stage: superres, method: bicubic_registered, evaluate: false}, {stage: encode, format: png}]")


def run(out: Path, *overrides: str) -> dict:
    args = ["run", str(QUICKSTART), "--out", str(out), "--quiet"]
    for assignment in overrides:
        args += ["--set", assignment]
    assert main(args) == 0
    return json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def slow_link(tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """The same scenario, link too slow for everything, in each downlink order."""
    out = {}
    for order in ("priority", "value_density"):
        run_dir = tmp_path_factory.mktemp(order)
        out[order] = run_dir, run(run_dir, *MASKED, SLOW_LINK, f"downlink.order={order}")
    return out


def manifest(run_dir: Path) -> list[dict]:
    return [json.loads(text) for text in (run_dir / "downlink" / "manifest.jsonl").read_text().splitlines()]


def true_clear_px(run_dir: Path, line: dict) -> float:
    """Truly clear pixels a delivered product holds, on the camera's grid: truth's clear pixels (hr_clear for a
    super-resolved product) in its tile, less the pixels masked out of it (0 in every band of the PNG)."""
    scale, t = line.get("scale", 1), line["tile"]
    with np.load(run_dir / "truth" / f"{line['frame_ids'][0]}.npz") as truth:
        clear = truth["hr_clear"] if scale > 1 else truth["valid"] & (truth["cloud"] == 0)
    held = clear[t["row0"]:t["row0"] + t["height"], t["col0"]:t["col0"] + t["width"]]
    if line.get("masked"):
        image = cv2.imread(str(run_dir / "downlink" / line["file"]), cv2.IMREAD_UNCHANGED)
        held = held & (image.reshape(*image.shape[:2], -1) > 0).any(axis=2)
    return int(held.sum()) / scale**2


def expected(run_dir: Path, lines: list[dict]) -> dict:
    n_bytes = sum(line["bytes"] for line in lines)
    value = sum(line["value"] for line in lines)
    oracle = sum(line["priority"] * true_clear_px(run_dir, line) for line in lines)
    return {"products": len(lines), "downlinked_bytes": n_bytes, "value": value, "value_per_byte": value / n_bytes,
            "oracle_value": oracle, "oracle_value_per_byte": oracle / n_bytes}


def close(section: dict, want: dict) -> None:
    for key, figure in want.items():
        assert section[key] == pytest.approx(figure, rel=1e-6, abs=1e-6), key  # report.json: 6 decimals


def test_value_per_byte_is_the_manifest_and_truth(slow_link):
    run_dir, report = slow_link["priority"]
    lines = manifest(run_dir)
    section = report["value"]
    assert section["order"] == "priority" and section["products_outside_contacts"] == 0
    close(section, expected(run_dir, lines))
    assert section["saved_fraction"] == report["bandwidth"]["saved_fraction"]
    assert 0.5 < section["oracle_ratio"] < 1.5
    # per contact: the products whose downlink time falls in its window, from this station
    windows = [json.loads(text) for text in (run_dir / "telemetry" / "contacts.jsonl").read_text().splitlines()]
    rows = {(c["station"], c["aos_t_s"]): c for c in section["contacts"]}
    in_windows = 0
    for w in windows:
        members = [line for line in lines if line["station"] == w["station"]
                   and w["aos_t_s"] - 1e-3 <= line["downlink_t_s"] <= w["los_t_s"] + 1e-3]
        assert ((w["station"], w["aos_t_s"]) in rows) == bool(members)
        if members:
            close(rows[(w["station"], w["aos_t_s"])], expected(run_dir, members))
            in_windows += len(members)
    assert in_windows == len(lines) and len(rows) >= 2


def test_the_estimate_is_the_cloud_filters_clear_pixels(slow_link):
    """clear_px of each product: the pixels of its tile the on-board spectral test did not call cloud."""
    run_dir, _ = slow_link["priority"]
    for line in manifest(run_dir):
        t = line["tile"]
        with np.load(run_dir / "evaluation" / f"{line['frame_ids'][0]}.npz") as evaluation:
            cloudy = evaluation["spectral_cloud"][t["row0"]:t["row0"] + t["height"], t["col0"]:t["col0"] + t["width"]]
        assert line["clear_px"] == int((~cloudy).sum())
        assert line["value"] == line["priority"] * line["clear_px"]


def test_value_density_delivers_at_least_the_value_of_priority_order(slow_link):
    (pri_dir, pri), (val_dir, val) = slow_link["priority"], slow_link["value_density"]
    for report in (pri, val):  # the link is the bottleneck: products are left on board in both
        assert report["ledger"]["on_board"] > 0 and report["bandwidth"]["bytes_on_board"] > 0
    assert [line["id"] for line in manifest(pri_dir)] != [line["id"] for line in manifest(val_dir)]
    assert val["value"]["order"] == "value_density"
    assert val["value"]["value"] >= pri["value"]["value"]
    assert val["value"]["value_per_byte"] >= pri["value"]["value_per_byte"]
    # the same link carried about the same bytes: the difference is in what they held
    assert val["value"]["downlinked_bytes"] == pytest.approx(pri["value"]["downlinked_bytes"], rel=0.05)


def test_value_density_sends_denser_products_first_within_a_contact(slow_link):
    """Under value_density, each contact's products that were stored before its AOS go down densest first."""
    run_dir, _ = slow_link["value_density"]
    lines = manifest(run_dir)
    aos = [json.loads(text)["aos_t_s"] for text in (run_dir / "telemetry" / "contacts.jsonl").read_text().splitlines()]
    checked = 0
    for start in aos:
        sent = [line for line in lines if line["downlink_t_s"] >= start and line["capture_t_s"] < start]
        sent = [line for line in sent if line["downlink_t_s"] <= min([t for t in aos if t > start], default=1e12)]
        densities = [line["value"] / line["bytes"] for line in sent[1:]]  # the first may be one in progress
        assert densities == sorted(densities, reverse=True)
        checked += len(densities)
    assert checked > 10


def test_super_resolved_products_are_valued_on_the_camera_grid(tmp_path):
    report = run(tmp_path, *SUPERRES)
    lines = manifest(tmp_path)
    assert lines and all(line["scale"] == 2 for line in lines)
    for line in lines:
        assert line["value"] == line["priority"] * line["clear_px"]
        assert line["clear_px"] <= line["tile"]["height"] * line["tile"]["width"] // 4
    close(report["value"], expected(tmp_path, lines))


def test_report_shows_the_section_and_an_old_run_has_none(slow_link, tmp_path):
    run_dir, report = slow_link["value_density"]
    text = (run_dir / "report.md").read_text()
    assert "## Value delivered" in text and "Downlink order: value_density" in text
    assert "oracle value per byte" in text
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    stripped = [{k: v for k, v in line.items() if k not in ("clear_px", "value")} for line in manifest(old)]
    (old / "downlink" / "manifest.jsonl").write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in stripped))
    assert value_section(load_run(old)) is None


def test_value_densities_are_printed_alike_in_every_row():
    contact = {"satellite": "sat-1", "station": "svalbard", "aos_utc": "2026-06-21 08:14:37Z", "products": 48,
               "downlinked_bytes": 2_450_000, "value_per_byte": 0.07817, "oracle_value_per_byte": None}
    section = {"order": "priority", "value": 676559, "oracle_value": 649427.6, "value_per_byte": 0.064829,
               "oracle_value_per_byte": 0.06, "products": 188, "downlinked_bytes": 10_440_000,
               "saved_fraction": 0.779, "saved_fraction_all_captures": 0.779, "oracle_ratio": 0.959898,
               "contacts": [contact]}
    text = to_markdown(value_blocks(section))
    assert "| value per byte | 0.0648 | 0.0600 |" in text and "Oracle / estimate: 0.960 " in text
    assert "| 0.0782 | n/a |" in text
    assert "| value delivered | 676,559 | 649,428 |" in text  # a whole estimate and a fractional oracle alike
    assert "bandwidth saved 77.9 % over the finished frames. " in text  # nothing on board: no second figure
    assert "The oracle is n/a" not in text
    # a real mask's unlabelled pixels leave the oracle n/a, which the report left unexplained
    unknown = to_markdown(value_blocks({**section, "oracle_value": None, "oracle_value_per_byte": None,
                                        "oracle_ratio": None}))
    assert "| value delivered | 676,559 | n/a |" in unknown and "The oracle is n/a: the truth does not know the " \
        "cloud under some delivered pixels (a real cloud mask's unlabelled pixels" in unknown


def test_the_estimate_says_whether_a_cloud_mask_made_it(slow_link):
    """Without a cloud filter the estimate counts every pixel with data as clear; the report said "its cloud mask"."""
    assert all(report["value"]["estimate_masked"] for _, report in slow_link.values())  # the filter scored them
    section = {"order": "priority", "value": 9437184, "oracle_value": 7918000.0, "value_per_byte": 0.4,
               "oracle_value_per_byte": 0.33, "products": 18, "downlinked_bytes": 23_000_000, "saved_fraction": 0.22,
               "saved_fraction_all_captures": 0.22, "oracle_ratio": 0.839, "contacts": []}
    assert "the spacecraft's estimate uses its cloud mask, the oracle" in to_markdown(value_blocks(
        {**section, "estimate_masked": True}))
    assert ("the spacecraft's estimate counts every pixel that holds data as clear (no cloud filter scored the "
            "products), the oracle") in to_markdown(value_blocks({**section, "estimate_masked": False}))


def test_the_saving_over_all_captures_stands_beside_the_finished_frames_where_frames_wait(slow_link):
    """The downlink order moves which frames finish, so the saving over them; the one over every capture stays."""
    for run_dir, report in slow_link.values():
        section, bandwidth = report["value"], report["bandwidth"]
        assert (section["saved_fraction"], section["saved_fraction_all_captures"]) == (
            bandwidth["saved_fraction"], bandwidth["saved_fraction_all_captures"])
        assert section["saved_fraction"] != pytest.approx(section["saved_fraction_all_captures"], abs=1e-3)
        every = f"{100 * section['saved_fraction_all_captures']:.1f} %"
        assert f"over the finished frames ({every} over every capture not lost, the bytes still on board counted)" in \
            (run_dir / "report.md").read_text()


def test_an_unknown_order_is_refused_with_its_path(capsys):
    assert main(["validate", str(QUICKSTART), "--set", "downlink.order=fastest"]) == 2
    err = capsys.readouterr().err
    assert "downlink.order" in err and "value_density" in err and "fastest" in err


def test_unknown_cloud_under_masked_out_pixels_leaves_the_oracle_known(tmp_path):
    """The truth may not know the cloud where the product holds fill (masked out on board): the oracle counts what
    the product delivered, and is unknown (None) only where it delivered a pixel of unknown cloud."""
    from ground.reception import Product
    from ground.value import _clear_px
    from rundir.codec import FILL_DN, encode
    from rundir.manifest import ManifestLine, TileGeometry

    dn = np.full((4, 4, 4), 100, np.uint16)
    dn[:2] = FILL_DN  # masked out on board
    path = tmp_path / "p.raw"
    path.write_bytes(encode(dn, "raw", 12))
    line = ManifestLine(id="p", file="p.raw", satellite="s", frame_ids=("f",), pass_id="p0", target="t",
                        capture_t_s=0.0, capture_utc="2026-06-21T00:00:00.000Z", format="raw", kind="image",
                        dtype="uint16", bit_depth=12, bands=("B", "G", "R", "NIR"), shape=(4, 4, 4),
                        tile=TileGeometry(0, 0, 4, 4, 4, 4), footprint=None, masked=True)
    clear = np.ones((4, 4), bool)
    unknown = np.zeros((4, 4), bool)
    unknown[:2] = True  # under the fill only
    assert _clear_px(Product(line, path, 1), {"clear": clear & ~unknown, "unknown": unknown}) == 8
    unknown[2, 0] = True  # under a delivered pixel
    assert _clear_px(Product(line, path, 1), {"clear": clear & ~unknown, "unknown": unknown}) is None
