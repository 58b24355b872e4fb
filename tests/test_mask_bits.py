"""Cloud codes of mask files and bit-field quality bands (onboard/sensing/mask_bits.py)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from onboard.sensing.mask_bits import MASK_CODES, MaskBits, cloud_codes, mask_problem, mask_rules
from rundir.truth import CLOUD_CLEAR, CLOUD_THICK, CLOUD_THIN, UNKNOWN
from onboard.scenario.world_config import MaskBitsConfig


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(data=st.data(), dtype=st.sampled_from(["uint8", "uint16", "int16", "uint32"]))
def test_mask_bits_family(data, dtype):
    """Random rules on random samples against the rule read bit by bit with Python integers."""
    width = 8 * np.dtype(dtype).itemsize
    rules = []
    for _ in range(data.draw(st.integers(1, 4))):
        first = data.draw(st.integers(0, width - 1))
        last = data.draw(st.integers(first, min(first + 3, width - 1)))
        value = data.draw(st.integers(0, 2 ** (last - first + 1) - 1))
        rules.append(MaskBits(first, last, value, data.draw(st.sampled_from([CLOUD_THIN, CLOUD_THICK, UNKNOWN]))))
    info = np.iinfo(dtype)
    samples = np.array(data.draw(st.lists(st.integers(int(info.min), int(info.max)), min_size=1, max_size=40)),
                       dtype=dtype)
    got = cloud_codes(samples, rules)
    for sample, code in zip(samples.tolist(), got.tolist()):
        bits = sample & ((1 << width) - 1)  # two's complement of a signed sample
        hits = [r.code for r in rules if (bits >> r.first_bit) & ((1 << (r.last_bit - r.first_bit + 1)) - 1) == r.value]
        assert code == max(hits, default=0)


@pytest.mark.parametrize("args, message", [((5, 4, 0, CLOUD_THIN), "first <= last"),
                                           ((0, 64, 0, CLOUD_THIN), "first <= last <= 63"),
                                           ((0, 1, 4, CLOUD_THIN), "does not fit in bits 0..1"),
                                           ((0, 1, 1, 7), "code 7")])
def test_a_rule_that_cannot_hold_is_refused(args, message):
    with pytest.raises(ValueError, match=message):
        MaskBits(*args)


def test_mask_problem_lists_the_values_that_are_not_codes_and_the_way_out():
    pixels = np.array([[0, 1, 2, 3], [7, 0, 1, 250]], np.uint8)
    assert mask_problem(pixels, pixels < 3, ()) is None  # the non-codes are not valid: nothing to refuse
    expected, found = mask_problem(pixels, np.ones(pixels.shape, bool), ())
    assert expected.startswith("cloud codes 0 clear") and "values 3, 7, 250" in found and "gdal_edit.py" in found
    qa = np.array([20480, 61472], np.uint16)  # a 16-bit quality band: bits need a mapping
    assert "world.mask_bits" in mask_problem(qa, np.ones(2, bool), ())[1]
    assert mask_problem(qa, np.ones(2, bool), (MaskBits(14, 15, 3, CLOUD_THICK),)) is None
    expected, found = mask_problem(np.zeros(2, np.uint8), np.ones(2, bool), (MaskBits(14, 15, 3, CLOUD_THICK),))
    assert expected == "bits 0 to 7 of the uint8 samples" and "14-15" in found
    assert mask_problem(np.zeros(2, np.float32), np.ones(2, bool), (MaskBits(0, 0, 1, CLOUD_THIN),))[1] == \
        "float32 samples"
    assert set(MASK_CODES) == {CLOUD_CLEAR, CLOUD_THIN, CLOUD_THICK}
    for dtype in (np.int8, np.int16, np.float32):  # -1 is a fill value the file does not declare, not a bit field
        filled = np.array([0, 1, -1, 2], dtype)
        found = mask_problem(filled, np.ones(4, bool), ())[1]
        assert found.endswith("values -1: declare the no-data value in the file (gdal_edit.py -a_nodata -1)")


def test_mask_rules_read_the_scenario_entries():
    rules = mask_rules([MaskBitsConfig(bits=[5, 6], equals=3, cloud="thick"), MaskBitsConfig(bits=0, equals=1, cloud="unknown")])
    assert rules == (MaskBits(5, 6, 3, CLOUD_THICK), MaskBits(0, 0, 1, UNKNOWN))


def test_a_float_mask_is_told_to_be_thresholded_not_mapped_by_bits():
    """A cloud probability (float32 0..1) is no bit field: the hint is to threshold it into codes, not
    world.mask_bits, which refuses float samples."""
    probability = np.random.default_rng(0).uniform(0.0, 1.0, (16, 16)).astype(np.float32)
    expected, found = mask_problem(probability, np.ones(probability.shape, bool), ())
    assert expected.startswith("cloud codes") and "threshold them into the codes first" in found
    assert "mask_bits" not in found
    assert mask_problem(probability, np.ones(probability.shape, bool), mask_rules([MaskBitsConfig(bits=0, equals=1,
                        cloud="thick")]))[0] == "an integer quality band for world.mask_bits"


@pytest.mark.parametrize("dtype, value, last_bit", [(np.uint8, 255, 7), (np.uint8, 1 << 7, 7), (np.uint16, 1000, 15),
                                                    (np.int16, 255, 15)])
def test_a_binary_mask_is_told_the_rule_that_maps_it_first(dtype, value, last_bit):
    """A 0/255 cloud mask (255 cloud) was told to "map them with world.mask_bits, or declare the no-data value": the
    second, the easier, made every cloud pixel unknown and the run scored nothing (tp 0, fn 0), with no warning. A
    mask of 0 and one other value alone is now told the rule that maps that value onto cloud, first, and what
    declaring it no-data leaves; the rule it names reads the mask as cloud exactly there."""
    pixels = np.array([[0, value, 0], [value, value, 0]], dtype)
    found = mask_problem(pixels, np.ones(pixels.shape, bool), ())[1]
    rule = f"{{bits: [0, {last_bit}], equals: {value}, cloud: thick}}"
    assert found == (f"{np.dtype(dtype).name} values {value}: 0 and {value} alone, as a binary cloud mask is written: "
                     f"if {value} is cloud, map it, world.mask_bits: [{rule}] (or thin); if it is fill, declare it "
                     f"the file's no-data value (gdal_edit.py -a_nodata {value}), which leaves no cloud in the truth")
    rules = mask_rules([MaskBitsConfig(bits=[0, last_bit], equals=value, cloud="thick")])
    assert mask_problem(pixels, np.ones(pixels.shape, bool), rules) is None
    np.testing.assert_array_equal(cloud_codes(pixels, rules), np.where(pixels == value, CLOUD_THICK, CLOUD_CLEAR))
    three = np.array([0, value, 1], dtype)  # a third value: no binary mask, the general hint
    assert "binary" not in mask_problem(three, np.ones(3, bool), ())[1]
    alone = np.full(3, value, dtype)  # that value alone: no 0 to call it binary
    assert "binary" not in mask_problem(alone, np.ones(3, bool), ())[1]
