"""rundir.telemetry: typed telemetry records write the JSON objects the ground reads (key for key, as JSON lines)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from rundir.files import jsonl_line
from rundir.manifest import Footprint
from rundir.telemetry import CaptureRecord, ProcessingRecord, TimelineSample

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
                         "compute_stage_s", "wall_s", "tiles_kept", "tiles_dropped", "alternative_bytes"}
