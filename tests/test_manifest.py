"""The manifest line (rundir.manifest): what the spacecraft writes the ground parses back to the same line and the
same JSON bytes; a line with a key missing or of the wrong type (nested keys included) is refused naming the key,
what was expected and what was found."""

import dataclasses
import json

import pytest
from hypothesis import given, settings, strategies as st

from rundir.manifest import CHECKS, MANIFEST, REQUIRED, Footprint, ManifestLine, Sidecar, TileGeometry

names = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
counts = st.integers(min_value=0, max_value=2**40)
positives = st.integers(min_value=1, max_value=10_000)
metres = st.floats(min_value=-1e7, max_value=1e7, allow_nan=False)
seconds = st.floats(min_value=0, max_value=1e7, allow_nan=False).map(lambda t: round(t, 3))
maybe = st.none().__or__
utm_or_ups = st.one_of(st.integers(32601, 32661), st.integers(32701, 32761))  # the grids frames are made on

lines = st.builds(
    ManifestLine,
    id=names, file=names.map(lambda n: n + ".png"), satellite=maybe(names), frame_ids=st.tuples(names),
    pass_id=names, target=maybe(names), capture_t_s=seconds, capture_utc=maybe(names),
    format=st.sampled_from(["raw", "png", "tiff"]), kind=st.sampled_from(["image", "cloud_mask"]),
    dtype=maybe(st.just("uint16")), bit_depth=st.integers(1, 16),
    bands=st.lists(st.sampled_from(["B", "G", "R", "NIR"]), max_size=4).map(tuple),
    shape=st.tuples(positives, positives, st.integers(1, 4)),
    tile=maybe(st.builds(TileGeometry, counts, counts, positives, positives, positives, positives)),
    footprint=maybe(st.builds(Footprint, utm_or_ups, metres, metres, st.floats(min_value=0.1, max_value=1000),
                              positives, positives)),
    scale=st.integers(1, 4), raw_bytes=counts, stages=st.lists(names, max_size=3).map(tuple),
    priority=maybe(st.integers(0, 100)), retransmitted_bytes=counts, sha256=names, bytes=counts,
    sidecars=maybe(st.lists(st.builds(Sidecar, names.map(lambda n: n + ".pgw"), counts, names), min_size=1,
                            max_size=2).map(tuple)),
    reflectance_per_dn=maybe(st.floats(min_value=1e-6, max_value=1.0)),
    band_centres_um=maybe(st.lists(st.floats(0.3, 15.0), max_size=4).map(tuple)),
    cloud_fraction=maybe(st.floats(0.0, 1.0)), masked=maybe(st.booleans()), clear_px=maybe(counts),
    value=maybe(counts), burst_frame=maybe(st.integers(0, 15)),
    burst_frames=maybe(st.integers(1, 16)), downlink_t_s=seconds, downlink_utc=maybe(names), station=maybe(names)
).map(lambda line: line if line.kind != "image" else dataclasses.replace(  # what the ground needs of an image
    line, tile=line.tile or TileGeometry(0, 0, 1, 1, 1, 1), bands=("B", "G", "R", "NIR")[:line.shape[-1]],
    reflectance_per_dn=line.reflectance_per_dn or 1e-4))


@settings(deadline=None)
@given(lines)
def test_a_line_round_trips_through_its_json_text(line):
    text = json.dumps(line.to_json(), sort_keys=True)
    assert ManifestLine.from_json(json.loads(text)) == line
    assert json.dumps(ManifestLine.from_json(json.loads(text)).to_json(), sort_keys=True) == text


@settings(deadline=None)
@given(lines)
def test_none_fields_are_not_written(line):
    record = line.to_json()
    assert all(value is not None for value in record.values())
    assert set(REQUIRED) <= set(record) <= set(CHECKS)


def good_record() -> dict:
    return ManifestLine(
        id="sat-1-f00000-t00", file="sat-1-f00000-t00.png", satellite="sat-1", frame_ids=("sat-1-f00000",),
        pass_id="sat-1-p000", target="paris", capture_t_s=100.0, capture_utc="2026-06-21T00:01:40.000Z",
        format="png", kind="image", dtype="uint16", bit_depth=12, bands=("B", "G", "R", "NIR"), shape=(64, 64, 4),
        tile=TileGeometry(0, 64, 64, 64, 256, 256), footprint=Footprint(32631, 448000.0, 5412000.0, 10.0, 64, 64),
        raw_bytes=24576, stages=("cloud_filter", "encode"), priority=1, sha256="ab" * 32, bytes=9000,
        sidecars=(Sidecar("sat-1-f00000-t00.pgw", 60, "cd" * 32),), reflectance_per_dn=1.2 / 4095,
        band_centres_um=(0.49, 0.56, 0.665, 0.842), cloud_fraction=0.125, clear_px=3584, value=3584,
        downlink_t_s=1000.0).to_json()


@pytest.mark.parametrize("key, value, expected", [
    ("scale", 0, "scale is 0, expected an integer > 0"),
    ("scale", 2.0, "scale is 2.0, expected an integer > 0"),
    ("reflectance_per_dn", "0.0003", "reflectance_per_dn is '0.0003', expected a finite number > 0"),
    ("reflectance_per_dn", float("inf"), "reflectance_per_dn is inf, expected a finite number > 0"),
    ("masked", 1, "masked is 1, expected true or false"),
    ("cloud_fraction", 1.5, "cloud_fraction is 1.5, expected a number from 0 to 1"),
    ("bytes", True, "bytes is True, expected an integer from 0 to 2**63 - 1"),
    ("shape", [], "shape is [], expected a list of positive integers"),
    ("clear_px", -3, "clear_px is -3, expected an integer from 0 to 2**63 - 1"),
    ("value", 12.5, "value is 12.5, expected an integer from 0 to 2**63 - 1"),
    ("raw_bytes", 10**30, "raw_bytes is 1000000000000000000000000000000, expected an integer from 0 to 2**63 - 1"),
])
def test_a_key_of_the_wrong_type_is_named(key, value, expected):
    record = good_record() | {key: value}
    assert ManifestLine.parse(record) == (None, [expected])
    with pytest.raises(ValueError, match="not a manifest line: "):
        ManifestLine.from_json(record)


@pytest.mark.parametrize("key, nested, value", [
    ("tile", "row0", -1), ("tile", "height", 0), ("tile", "frame_width", "256"), ("tile", "col0", None),
    ("footprint", "gsd_m", 0.0), ("footprint", "epsg", "EPSG:32631"), ("footprint", "x0_m", float("nan")),
    ("footprint", "epsg", 99999), ("footprint", "epsg", 4326), ("footprint", "x0_m", 1e12), ("footprint", "y0_m", -3e7),
    ("sidecars", "file", "../escape.pgw"), ("sidecars", "file", MANIFEST), ("sidecars", "bytes", -1),
])
def test_a_nested_key_of_the_wrong_type_names_its_object(key, nested, value):
    record = good_record()
    inner = record[key][0] if key == "sidecars" else record[key]
    inner[nested] = value
    line, problems = ManifestLine.parse(record)
    assert line is None and len(problems) == 1
    assert problems[0].startswith(f"{key} is ") and problems[0].endswith(CHECKS[key][1])


@settings(deadline=None)
@given(st.sets(st.sampled_from(REQUIRED), min_size=1))
def test_missing_required_keys_are_named_together(keys):
    record = {k: v for k, v in good_record().items() if k not in keys}
    line, problems = ManifestLine.parse(record)
    assert line is None
    assert problems[0] == "missing key(s) " + ", ".join(k for k in REQUIRED if k in keys)


@pytest.mark.parametrize("name", ["../up.png", "sub/dir.png", ".", "..", MANIFEST])
def test_a_file_outside_downlink_is_refused(name):
    assert ManifestLine.parse(good_record() | {"file": name}) == (
        None, [f"file {name!r} is not a plain file name in downlink/"])


def test_unknown_keys_are_ignored_and_not_a_json_object_is_refused():
    line, problems = ManifestLine.parse(good_record() | {"from_a_newer_spacecraft": 1})
    assert problems == [] and line == ManifestLine.from_json(good_record())
    assert ManifestLine.parse(["id"]) == (None, ["expected a JSON object, found list"])


@pytest.mark.parametrize("keys", [("tile",), ("bands", "reflectance_per_dn")])
def test_an_image_needs_its_tile_bands_and_calibration_an_auxiliary_product_does_not(keys):
    """The ground places, names and calibrates every image product by these: a line without them is refused, not a
    crash later in the report."""
    record = {k: v for k, v in good_record().items() if k not in keys}
    assert ManifestLine.parse(record | {"kind": "image"}) == (
        None, [f"missing key(s) {', '.join(keys)}, which an image product needs"])
    line, problems = ManifestLine.parse(record | {"kind": "cloud_mask"})
    assert problems == [] and all(getattr(line, key) in (None, ()) for key in keys)


def test_a_lossless_product_carries_the_sha256_of_its_dn():
    """The ground checks a lossless product bit for bit against dn_sha256; a line saying lossless without it passed
    every check (a changed pixel in a re-encoded PNG went as exact), so it is refused."""
    assert ManifestLine.parse(good_record() | {"lossless": True}) == (
        None, ["lossless is true without dn_sha256, the sha256 of the DN the spacecraft encoded, which the ground "
               "checks the decoded product against"])
    for record in (good_record() | {"lossless": True, "dn_sha256": "0" * 64}, good_record() | {"lossless": False}):
        assert ManifestLine.parse(record)[1] == []


def test_an_image_names_each_of_its_bands_and_every_product_its_frames():
    assert ManifestLine.parse(good_record() | {"bands": ["B", "G", "R"]}) == (
        None, ["bands names 3, the shape holds 4"])
    assert ManifestLine.parse(good_record() | {"frame_ids": []}) == (
        None, ["frame_ids is [], expected a non-empty list of strings"])
