"""Where band files share ground (onboard/sensing/coverage.py): longitude ranges on the circle, across the
antimeridian, and the common box of several files."""

from hypothesis import given, settings, strategies as st

from onboard.sensing.coverage import Coverage, _overlap_lon, common_coverage


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(st.integers(-180, 179), st.integers(1, 359), st.integers(-180, 179), st.integers(1, 359))
def test_longitude_overlap_on_the_circle_matches_whole_degrees(w1, n1, w2, n2):
    def degrees(west, span):  # the whole degrees [k, k + 1) a range covers
        return {(west + k + 180) % 360 - 180 for k in range(span)}

    wrap = lambda lon: lon - 360 if lon > 180 else lon  # noqa: E731
    first, second = degrees(w1, n1), degrees(w2, n2)
    got = _overlap_lon((w1, wrap(w1 + n1)), (w2, wrap(w2 + n2)))
    if not first & second:
        assert got is None
    else:
        west, east = got
        span = round(east - west) % 360 or 360
        assert degrees(round(west), span) <= first & second  # one of the shared arcs, whole


def test_the_common_box_crosses_the_antimeridian_or_is_none():
    fiji = (177.0, -19.0, -178.0, -15.0)  # across 180 E
    east = (179.0, -18.0, -170.0, -10.0)
    assert common_coverage({"B": fiji, "G": east}) == Coverage(179.0, -18.0, -178.0, -15.0)
    assert common_coverage({"B": fiji, "G": east}).centre_lon_deg == -179.5
    assert common_coverage({"B": fiji, "G": (10.0, -18.0, 20.0, -10.0)}) is None  # other longitudes
    assert common_coverage({"B": fiji, "G": (177.0, 0.0, -178.0, 5.0)}) is None  # other latitudes
