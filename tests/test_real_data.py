"""ground.real_data: a model card's real-data figures said beside the run's own, naming the truth those are
against (the cloud section's blocks are tested with the section, tests/test_ground_cloud.py)."""

import dataclasses

from ground.real_data import real_data
from tests.test_verdict import UNVALIDATED, VALIDATED


def test_a_model_card_s_real_data_scores_stand_beside_the_synthetic_ones():
    assert real_data({"cloud_filter": VALIDATED}, {"cloud_f1": 0.923}) == [
        "On real labelled tiles the cloud_filter model (cloud_bgrn_int8) scores pixel F1 38.0 % and false-positive "
        "rate 1.1 % (9 tiles, its card), against 92.3 % on this run's synthetic truth: the clear ground lost holds "
        "in the synthetic world."]
    assert real_data({"triage": UNVALIDATED}, {}) == [
        "The triage model (mine) has no real-data validation in its card: its figures hold against synthetic truth "
        "alone."]
    assert real_data({}, {"cloud_f1": 0.9}) == []
    [triage] = real_data({"scene_triage": VALIDATED}, {"cloud_f1": 0.923})  # the cloud F1 is not this stage's
    assert "(9 tiles, its card): the clear ground lost" in triage and "92.3 %" not in triage
    scored = dataclasses.replace(VALIDATED, real_validation=dataclasses.replace(VALIDATED.real_validation,
                                                                                  threshold=0.5))
    [other] = real_data({"cloud_filter": scored}, {"cloud_f1": 0.923}, params={"cloud_filter": {"threshold": 0.3}})
    assert "(9 tiles, its card) (scored at threshold 0.5, where this run decides cloud at 0.3: at its threshold the " \
           "real-data figures would differ), against 92.3 %" in other
    assert real_data({"cloud_filter": scored}, {}, params={"cloud_filter": {"threshold": 0.5}}) == real_data(
        {"cloud_filter": VALIDATED}, {})  # the same threshold, or none in the card: nothing to say
    [masked] = real_data({"cloud_filter": VALIDATED}, {"cloud_f1": 0.773}, truth="imagery_mask")  # real imagery's mask
    assert masked.endswith("against 77.3 % on this run's truth (the cloud mask given with its imagery): the clear "
                           "ground lost is measured against that mask.") and "synthetic" not in masked
