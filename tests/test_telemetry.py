"""rundir.telemetry: typed telemetry records write the JSON objects the ground reads (key for key, as JSON lines), and
the ledger and contact rows read back through the same record, a bad row named by file, line and field."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rundir.files import jsonl_line
from rundir.manifest import Footprint
from rundir.records import RecordError
from rundir.telemetry import (LEDGER_STATUSES, TELEMETRY_FILES, CaptureRecord, ContactRecord, LedgerRow,
                              ProcessingRecord, RecordStream, TimelineSample, telemetry_path)

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
names = st.text(min_size=1, max_size=12)


@given(names, finite, st.integers(0, 2**40), finite, st.floats(0, 1), st.booleans(), st.booleans(), st.booleans())
def test_a_timeline_sample_is_one_flat_json_object(satellite, t_s, storage_bytes, battery_wh, soc, sunlit, brownout,
                                                    computing):
    sample = TimelineSample(satellite, t_s, storage_bytes, battery_wh, soc, sunlit, brownout, computing)
    assert json.loads(jsonl_line(sample.to_json())) == {
        "satellite": satellite, "t_s": t_s, "storage_bytes": storage_bytes, "battery_wh": battery_wh,
        "battery_soc": soc, "sunlit": sunlit, "brownout": brownout, "computing": computing}


@given(st.integers(1024, 32767), finite, finite, st.floats(0.1, 100), st.integers(1, 9000), st.integers(1, 9000))
def test_a_capture_record_nests_its_footprint(epsg, x0_m, y0_m, gsd_m, width_px, height_px):
    footprint = Footprint(epsg, x0_m, y0_m, gsd_m, width_px, height_px)
    record = CaptureRecord("sat-1-f00000", "sat-1", "sat-1-p000", "paris", 12.5, "2026-06-21T00:00:12.500Z", 1000, 8,
                           footprint, 48.85, 2.35, 40.0, 3.0)
    line = json.loads(jsonl_line(record.to_json()))
    assert line["footprint"] == {"epsg": epsg, "x0_m": x0_m, "y0_m": y0_m, "gsd_m": gsd_m, "width_px": width_px,
                                 "height_px": height_px}
    assert {k: v for k, v in line.items() if k != "footprint"} == {
        "frame_id": "sat-1-f00000", "satellite": "sat-1", "pass_id": "sat-1-p000", "target": "paris", "t_s": 12.5,
        "utc": "2026-06-21T00:00:12.500Z", "raw_bytes": 1000, "burst_frames": 8, "centre_lat_deg": 48.85,
        "centre_lon_deg": 2.35, "sun_elevation_deg": 40.0, "off_nadir_deg": 3.0}


def test_a_processing_record_keeps_its_maps_and_a_missing_alternative():
    record = ProcessingRecord("f", "sat-1", ["cloud_filter", "encode"], 1, 0.25, "projected",
                              {"cloud_filter": 0.2, "encode": 0.05}, {"cloud_filter": 0.01, "encode": 0.002}, 3, 1,
                              {"bent_pipe": 6000, "encode_only": 4000, "cloud_filter": None})
    line = json.loads(jsonl_line(record.to_json()))
    assert line["alternative_bytes"] == {"bent_pipe": 6000, "encode_only": 4000, "cloud_filter": None}
    assert line["compute_stage_s"] == {"cloud_filter": 0.2, "encode": 0.05} and line["stages"] == ["cloud_filter", "encode"]
    assert set(line) == {"frame_id", "satellite", "stages", "burst_frames", "compute_s", "compute_timing",
                         "compute_stage_s", "wall_s", "tiles_kept", "tiles_dropped", "alternative_bytes",
                         "compute_wait_s"}
    assert line["compute_wait_s"] is None  # not given: a record as runs before it was recorded wrote them


counts = st.dictionaries(names, st.integers(0, 1000), max_size=3)
ledger_rows = st.builds(LedgerRow, names, names, st.sampled_from(LEDGER_STATUSES), st.none() | names,
                        st.integers(0, 99), st.integers(0, 99), counts, st.integers(0, 99), st.integers(0, 2**40),
                        st.none() | finite, st.dictionaries(names, counts, max_size=3))
contacts = st.builds(ContactRecord, names, names, finite, finite, finite, st.booleans(), finite, st.integers(0, 2**40),
                     st.none() | finite, st.none() | st.integers(0, 99))


@given(ledger_rows)
def test_a_ledger_row_reads_back_as_written(row):
    """Every key written, None as null, and the ground's parse of the JSON line gives the same record."""
    line = jsonl_line(row.to_json())
    assert set(json.loads(line)) == {f.name for f in dataclasses.fields(LedgerRow)}
    assert LedgerRow.parse(json.loads(line), "telemetry/ledger.jsonl", 1) == row


@given(contacts)
def test_a_contact_record_reads_back_as_written(record):
    assert ContactRecord.parse(json.loads(jsonl_line(record.to_json())), "telemetry/contacts.jsonl", 3) == record


def test_a_ledger_row_from_before_decided_by_stage_is_refused_naming_the_key():
    """Without decided_by_stage a drop cannot be told a decision or a loss: the row is refused, not guessed."""
    row = LedgerRow("f", "sat-1", "dropped", "cloudy", 0, 2, {"cloudy": 2}, 0, 0, None, {"cloud_filter": {"cloudy": 2}})
    old = {k: v for k, v in row.to_json().items() if k != "decided_by_stage"}
    with pytest.raises(RecordError) as refused:
        LedgerRow.parse(old, "telemetry/ledger.jsonl", 1)
    assert str(refused.value).startswith("telemetry/ledger.jsonl: line 1: decided_by_stage: expected ")
    assert "the key is missing" in str(refused.value)


@pytest.mark.parametrize("change, field, expected, found", [
    ({"status": None}, "status", "a string", "null"),
    ({"products_delivered": "2"}, "products_delivered", "an integer", '"2"'),
    ({"products_delivered": True}, "products_delivered", "an integer", "true"),
    ({"dropped_by_reason": {"cloudy": 1.5}}, "dropped_by_reason.cloudy", "an integer", "1.5"),
    ({"decided_by_stage": {"cloud_filter": []}}, "decided_by_stage.cloud_filter", "an object of (an integer)",
     "a list"),
    ({"age_s": "late"}, "age_s", "a number or null", '"late"'),
    # of the right type, but no run writes it: a status misspelt, a count below 0 (they passed, as "17 delivered
    # (NOT balanced)" with no word of the row, or a bent-pipe size of -281 kB and 1085 % saved)
    ({"status": "delivred"}, "status", "one of delivered, dropped, on_board", '"delivred"'),
    ({"products_delivered": -3}, "products_delivered", "an integer >= 0", "-3"),
    ({"bytes_on_board": -1}, "bytes_on_board", "an integer >= 0", "-1"),
    ({"dropped_by_reason": {"cloudy": -1}}, "dropped_by_reason", "an object of integers >= 0", "an object"),
])
def test_a_bad_ledger_row_names_file_line_field_expected_and_found(change, field, expected, found):
    good = LedgerRow("f", "sat-1", "on_board", None, 0, 0, {}, 1, 10, 5.0, {}).to_json()
    with pytest.raises(RecordError) as err:
        LedgerRow.parse({**good, **change}, "telemetry/ledger.jsonl", 7)
    assert (err.value.path, err.value.line, err.value.field) == ("telemetry/ledger.jsonl", 7, field)
    assert (err.value.expected, err.value.found) == (expected, found)
    assert str(err.value) == f"telemetry/ledger.jsonl: line 7: {field}: expected {expected}, found {found}"


def test_a_capture_or_contact_record_of_negative_bytes_is_refused():
    capture = {"frame_id": "f", "satellite": "s", "pass_id": "p", "target": "t", "t_s": 0.0, "utc": "u",
               "raw_bytes": -5000000, "burst_frames": 1, "centre_lat_deg": 0.0, "centre_lon_deg": 0.0,
               "footprint": {"epsg": 32631, "x0_m": 0.0, "y0_m": 0.0, "gsd_m": 10.0, "width_px": 4, "height_px": 4},
               "sun_elevation_deg": 40.0, "off_nadir_deg": 0.0}
    with pytest.raises(RecordError, match="raw_bytes: expected an integer >= 0, found -5000000"):
        CaptureRecord.parse(capture, "telemetry/captures.jsonl", 2)
    with pytest.raises(RecordError, match="burst_frames: expected an integer >= 1, found 0"):
        CaptureRecord.parse({**capture, "raw_bytes": 10, "burst_frames": 0}, "telemetry/captures.jsonl", 2)
    contact = ContactRecord("s", "g", 0.0, 1.0, 10.0, True, 1.0, 5).to_json()
    with pytest.raises(RecordError, match="bytes_sent: expected an integer >= 0, found -5"):
        ContactRecord.parse({**contact, "bytes_sent": -5}, "telemetry/contacts.jsonl", 1)


def test_a_contact_row_missing_a_required_field_is_refused():
    good = ContactRecord("sat-1", "svalbard", 0.0, 600.0, 45.0, True, 100.0, 10).to_json()
    del good["los_t_s"]
    with pytest.raises(RecordError, match=r"contacts.jsonl: line 2: los_t_s: expected a value \(a required field\), "
                                          "found nothing: the key is missing"):
        ContactRecord.parse(good, "telemetry/contacts.jsonl", 2)
    with pytest.raises(RecordError, match="line 2: <record>: expected a JSON object, found a list"):
        ContactRecord.parse([], "telemetry/contacts.jsonl", 2)


@given(st.lists(contacts, max_size=5))
def test_a_record_stream_writes_whole_lines_as_it_goes_that_parse_back(records):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        (run_dir / "telemetry").mkdir()
        stream = RecordStream(run_dir, "contacts")
        for k, record in enumerate(records):
            stream.write(record)
            written = telemetry_path(run_dir, "contacts").read_text().splitlines()  # before close: flushed
            assert len(written) == k + 1
        stream.close()
        lines = telemetry_path(run_dir, "contacts").read_text().splitlines()
        assert [ContactRecord.parse(json.loads(line), "telemetry/contacts.jsonl", n) for n, line in
                enumerate(lines, 1)] == records


def test_a_stream_takes_only_its_own_records_and_the_names_are_the_telemetry_files(tmp_path):
    (tmp_path / "telemetry").mkdir()
    stream = RecordStream(tmp_path, "timeline")
    with pytest.raises(TypeError, match="TimelineSample stream was given a LedgerRow"):
        stream.write(LedgerRow("f", "sat-1", "on_board", None, 0, 0, {}, 0, 0, None, {}))
    stream.close()
    assert telemetry_path(tmp_path, "ledger") == tmp_path / "telemetry" / "ledger.jsonl"
    with pytest.raises(KeyError, match="no telemetry file 'run'"):
        telemetry_path(tmp_path, "run")
    assert TELEMETRY_FILES["timeline"] is TimelineSample and TELEMETRY_FILES["captures"] is CaptureRecord
