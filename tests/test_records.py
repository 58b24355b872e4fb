"""rundir.records: a record's JSON object and its parse back, the errors that name what is wrong."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from rundir.errors import InputFileError, OrbitEdgeError
from rundir.manifest import Footprint
from rundir.records import Record, RecordError, found_text, omitted_when_none
from rundir.telemetry import CaptureRecord, LinkSample, PassLinkRecord

CAPTURE = CaptureRecord("sat-1-f00000", "sat-1", "sat-1-p000", "paris", 12.5, "2026-06-21T00:00:12.500Z", 1000, 8,
                        Footprint(32631, 448000.0, 5412000.0, 10.0, 512, 512), 48.85, 2.35, 45.0, 3.2)


@dataclasses.dataclass(frozen=True)
class Note(Record):
    text: str
    until_s: float | None = omitted_when_none()
    tags: list[str] = dataclasses.field(default_factory=list)


def test_to_json_is_dataclasses_asdict_with_omitted_nones():
    assert CAPTURE.to_json() == dataclasses.asdict(CAPTURE)
    link = PassLinkRecord("sat-1", "svalbard", 0.0, 600.0, 20.0, 30.0, 10**9, 500.0, 9 * 10**8, "rate_mbps", 1.2e7,
                          6 * 10**9, [LinkSample(0.0, 5.0, 2500.0, 1.0, None, None, 0.0)])
    assert link.to_json() == dataclasses.asdict(link)
    assert Note("x").to_json() == {"text": "x", "tags": []} and Note("x", 2).to_json()["until_s"] == 2


def test_nested_records_and_dataclasses_parse_back():
    assert CaptureRecord.parse(CAPTURE.to_json(), "telemetry/captures.jsonl", 1) == CAPTURE
    assert Note.parse({"text": "x", "newer_key": 1}, "f.jsonl", 1) == Note("x")  # unknown keys: a newer writer
    assert Note.parse({"text": "x", "until_s": 3}, "f.jsonl", 1).until_s == 3  # an integer stays an integer


def test_a_nested_field_is_named_by_its_path():
    bad = {**CAPTURE.to_json(), "footprint": {**CAPTURE.to_json()["footprint"], "epsg": 326.31}}
    with pytest.raises(RecordError, match=r"^telemetry/captures.jsonl: line 4: footprint.epsg: expected an integer, "
                                          r"found 326.31$"):
        CaptureRecord.parse(bad, "telemetry/captures.jsonl", 4)
    with pytest.raises(RecordError, match=r"tags\[1\]: expected a string, found 2"):
        Note.parse({"text": "x", "tags": ["a", 2]}, "f.jsonl", 1)


def test_a_record_error_is_a_user_error_that_rebuilds_from_its_args():
    err = RecordError("telemetry/ledger.jsonl", 3, "status", "a string", "null")
    assert isinstance(err, InputFileError) and isinstance(err, OrbitEdgeError)
    assert str(type(err)(*err.args)) == str(pickle.loads(pickle.dumps(err))) == str(err)
    assert str(err) == "telemetry/ledger.jsonl: line 3: status: expected a string, found null"


def test_found_text_names_containers_by_kind_and_scalars_as_json():
    assert [found_text(v) for v in ({}, [1], None, True, "a", 1.5)] == ["an object", "a list", "null", "true", '"a"',
                                                                      "1.5"]


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_an_integer_beyond_64_bits_is_refused(value):
    """The ground holds integers in numpy int64 columns: one that does not fit is a bad value, not a crash."""
    bad = {**CAPTURE.to_json(), "raw_bytes": value}
    with pytest.raises(RecordError, match=rf"line 2: raw_bytes: expected an integer, found {value}$"):
        CaptureRecord.parse(bad, "telemetry/captures.jsonl", 2)
    assert CaptureRecord.parse({**CAPTURE.to_json(), "raw_bytes": 2**63 - 1}, "f.jsonl", 1).raw_bytes == 2**63 - 1
