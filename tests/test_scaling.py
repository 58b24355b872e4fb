"""onboard.runtime.scaling: a model's input from TOA reflectance or an orbitedge camera's DN, and the DN of one bit
depth as a camera of another reads them."""

import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from onboard.runtime.scaling import Scaling, is_dn_bits
from onboard.scenario.spacecraft_config import CameraConfig


def test_card_scaling_maps_the_physical_quantity_to_the_model_input():
    scaling = Scaling(source="toa_reflectance", scale=2.0, offset=-1.0)
    model_input = scaling.apply(np.array([0.0, 0.25, 1.0]))
    assert model_input.dtype == np.float32
    np.testing.assert_array_equal(model_input, [-1.0, -0.5, 1.0])


@pytest.mark.parametrize("source, dn_bits", [("dn", None), ("toa_reflectance", 12), ("misr_planes_standardised", 8)])
def test_a_dn_source_takes_a_bit_depth_and_no_other_source_does(source, dn_bits):
    with pytest.raises(ValueError, match="a dn source takes dn_bits and no other source does"):
        Scaling(source, 1.0, 0.0, dn_bits)


@given(st.integers(8, 16), st.integers(8, 16), st.floats(0.0, 1.2))
@example(16, 12, 1.0)
def test_dn_for_reads_a_reflectance_as_a_camera_of_the_cards_bit_depth_would(card_bits, camera_bits, reflectance):
    """Both cameras follow CameraConfig's calibration, DN = reflectance * (2**bits - 1) / 1.2: a camera's DN of a
    reflectance, rescaled, is the card's camera's DN of it within half a DN of the camera's rounding, and the float32
    it is given in (one unit in the last place: 0.004 DN at 16 bits, where hypothesis found 12-bit full scale read
    0.002 DN beyond half a step)."""
    def dn(bits: int) -> float:
        return reflectance * ((1 << bits) - 1) / CameraConfig.reflectance_max
    read = np.array([round(dn(camera_bits))], np.uint16)
    rescaled = Scaling("dn", 1.0, 0.0, card_bits).dn_for(read, camera_bits)
    step = ((1 << card_bits) - 1) / ((1 << camera_bits) - 1)  # one camera DN in the card's DN
    assert abs(float(rescaled[0]) - dn(card_bits)) <= 0.5 * step + float(np.spacing(np.float32(dn(card_bits)))) + 1e-3
    if card_bits == camera_bits:
        assert rescaled is read  # the camera's own DN, untouched


def test_a_camera_bit_depth_is_an_integer_8_to_16():
    assert [is_dn_bits(v) for v in (8, 16, 7, 17, 12.0, True, "12")] == [True, True, False, False, False, False, False]
