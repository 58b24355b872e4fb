"""ground.timeline: timeline samples held as columns give back every sample, in file order and per satellite in time
order, on sample lists hypothesis draws (several satellites interleaved, times out of order, repeated)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

from ground.timeline import Timeline
from rundir.telemetry import TimelineSample

samples = st.lists(st.builds(
    TimelineSample, st.sampled_from(["sat-1", "sat-2", "eo-003"]),
    st.floats(0.0, 86_400.0, allow_nan=False), st.integers(0, 2**40),
    st.floats(0.0, 500.0, allow_nan=False), st.floats(0.0, 1.0, allow_nan=False),
    st.booleans(), st.booleans(), st.booleans()), max_size=60)


@given(samples)
def test_every_sample_comes_back_in_file_order(drawn):
    timeline = Timeline.from_samples(iter(drawn))  # read once, as the ground reads a file's lines
    assert list(timeline) == drawn and len(timeline) == len(drawn) and bool(timeline) == bool(drawn)
    assert timeline.satellites == tuple(dict.fromkeys(s.satellite for s in drawn))
    assert timeline.storage_bytes.dtype == np.int64 and timeline.sunlit.dtype == np.bool_


@given(samples)
def test_a_satellite_s_samples_are_in_time_order(drawn):
    timeline = Timeline.from_samples(drawn)
    for name in ("sat-1", "sat-2", "eo-003"):
        own = sorted((s for s in drawn if s.satellite == name), key=lambda s: s.t_s)  # stable, as the plots had it
        assert list(timeline.of(name)) == own
        assert timeline.of(name).satellites == (name,)
        assert np.all(np.diff(timeline.of(name).t_s) >= 0.0)


def test_a_satellite_without_samples_has_an_empty_timeline():
    timeline = Timeline.from_samples([TimelineSample("sat-1", 0.0, 0, 80.0, 0.8, True, False, False)])
    assert len(timeline.of("sat-9")) == 0 and list(timeline.of("sat-9")) == []
    assert len(Timeline.from_samples([])) == 0


def test_a_constellation_day_takes_a_few_bytes_a_sample():
    day = Timeline.from_samples(TimelineSample(f"eo-{i % 96:03d}", 60.0 * (i // 96), i, 50.0, 0.5, True, False,
                                               False) for i in range(96 * 1440))  # 96 satellites, every minute
    held = sum(getattr(day, name).nbytes for name in ("satellite_index", "t_s", "storage_bytes", "battery_wh",
                                                       "battery_soc", "sunlit", "brownout", "computing"))
    assert held / len(day) == 4 + 4 * 8 + 3  # packed columns: 39 B a sample, not a record object's ~230 B
