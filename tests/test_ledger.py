"""The ledger: every captured frame ends delivered, dropped with a reason, or on board."""

from hypothesis import given, settings
from hypothesis import strategies as st

from onboard.sim.ledger import UNNAMED_STAGE, Ledger


def test_statuses():
    ledger = Ledger()
    for f in "abcd":
        ledger.captured(f, "sat", 0.0)
    ledger.dropped("a", "storage_full")  # raw frame evicted before compute
    ledger.processed("b", 2, [])
    ledger.delivered("b")
    ledger.delivered("b")
    ledger.processed("c", 0, ["cloudy", "cloudy"])
    ledger.processed("d", 2, [])
    ledger.delivered("d")
    rows = {r.frame_id: r for r in ledger.rows(100.0, {"d": 5})}
    assert (rows["a"].status, rows["a"].reason) == ("dropped", "storage_full")
    assert rows["b"].status == "delivered"
    assert (rows["c"].status, rows["c"].reason) == ("dropped", "cloudy")
    assert rows["d"].status == "on_board" and rows["d"].age_s == 100.0 and rows["d"].bytes_on_board == 5


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.lists(st.sampled_from(["deliver", "drop", "keep"]), max_size=4),
                          st.booleans()), min_size=1, max_size=30))
def test_ledger_balances(frames):
    ledger = Ledger()
    for n, (n_products, fates, evicted_raw) in enumerate(frames):
        fid = f"f{n}"
        ledger.captured(fid, "sat", float(n))
        if evicted_raw:
            ledger.dropped(fid, "storage_full")
            continue
        ledger.processed(fid, n_products, [])
        for fate in fates[:n_products]:
            if fate == "deliver":
                ledger.delivered(fid)
            elif fate == "drop":
                ledger.dropped(fid, "storage_full")
    rows = ledger.rows(1e6, {})
    assert [r.frame_id for r in rows] == [f"f{n}" for n in range(len(frames))]
    for r, (n_products, fates, evicted_raw) in zip(rows, frames):
        fates = [] if evicted_raw else fates[:n_products]  # "keep": still on board
        delivered, dropped = fates.count("deliver"), fates.count("drop") + evicted_raw
        pending = 0 if evicted_raw else n_products - delivered - fates.count("drop")
        expected = "on_board" if pending else "delivered" if delivered else "dropped"
        assert (r.status, r.products_delivered, r.products_dropped, r.products_on_board) == (
            expected, delivered, dropped, pending)
        assert r.reason == (None if expected != "dropped" else "storage_full" if dropped else "no_product")


def test_a_stages_drop_is_recorded_as_its_decision_and_a_storage_drop_as_a_loss():
    ledger = Ledger()
    for f in "abc":
        ledger.captured(f, "sat", 0.0)
    ledger.processed("a", 0, ["cloudy"], ["scene_triage"])  # a frame discarded whole
    ledger.processed("b", 2, ["cloudy", "cloudy", "ocean"], ["cloud_filter", "cloud_filter", "ocean_mask"])
    ledger.delivered("b")
    ledger.dropped("b", "storage_full")
    ledger.processed("c", 1, ["cloudy"])  # no stage named: put down to the pipeline
    ledger.delivered("c")
    rows = {r.frame_id: r for r in ledger.rows(10.0, {})}
    assert (rows["a"].status, rows["a"].decided_by_stage) == ("dropped", {"scene_triage": {"cloudy": 1}})
    assert rows["b"].dropped_by_reason == {"cloudy": 2, "ocean": 1, "storage_full": 1}
    assert rows["b"].decided_by_stage == {"cloud_filter": {"cloudy": 2}, "ocean_mask": {"ocean": 1}}
    assert rows["c"].decided_by_stage == {UNNAMED_STAGE: {"cloudy": 1}}


def test_a_frame_whose_kept_tiles_were_all_lost_is_dropped_for_the_loss():
    """11 tiles cloudy, the 5 clear ones lost to storage: the frame would have reached the ground, so storage, not
    the cloud filter, dropped it (it read "cloudy", the majority, while the report's losses counted it)."""
    ledger = Ledger()
    for f in "ab":
        ledger.captured(f, "sat", 0.0)
    ledger.processed("a", 5, ["cloudy"] * 11, ["cloud_filter"] * 11)
    for _ in range(5):
        ledger.dropped("a", "storage_full")
    ledger.processed("b", 0, ["cloudy"] * 16, ["cloud_filter"] * 16)
    rows = {r.frame_id: r for r in ledger.rows(10.0, {})}
    assert (rows["a"].status, rows["a"].reason) == ("dropped", "storage_full")
    assert rows["a"].dropped_by_reason == {"cloudy": 11, "storage_full": 5}
    assert (rows["b"].status, rows["b"].reason) == ("dropped", "cloudy")
