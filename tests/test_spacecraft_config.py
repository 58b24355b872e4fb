"""The spacecraft's config (onboard/spacecraft_config.py): the camera's derived radiometry and raw frame size, the
radio's payload rate and frame error rate from Eb/N0 against the textbook BPSK bit error rate, and their key rules."""

import math
from pathlib import Path
from statistics import NormalDist

import pytest

from onboard.config import load_scenario
from onboard.schema import build
from onboard.spacecraft_config import CameraConfig, RadioConfig
from onboard.yaml_source import load_yaml
from rundir.errors import ConfigError

DATA = Path(__file__).parent / "data"


def built(cls: type, text: str):
    data, source = load_yaml(text, "s.yaml")
    return build(cls, data, source, "s.yaml")


def test_scientific_notation_is_a_number():
    radio = load_scenario(DATA / "yaml_sci_notation.yaml").spacecraft.radio
    assert radio.rate_mbps == 1000.0 and radio.frame_error_rate == 1e-5
    assert radio.payload_bytes_per_s == 1000e6 / 8 * (1 - 0.1)  # 1 Mbps = 1e6 bit/s, 10 % protocol overhead


def test_camera_radiometry_and_raw_frame_size():
    camera = built(CameraConfig, "{width_px: 3, height_px: 5, gsd_m: 10, bands: [B, G, R], bit_depth: 12}")
    assert camera.dn_max == 4095 and camera.electrons_per_dn == pytest.approx(20000.0 / 4095, rel=1e-12)
    assert camera.raw_bytes == math.ceil(3 * 5 * 3 * 12 / 8)  # bit-packed, 12 bits a sample


def test_camera_bands_once_each():
    with pytest.raises(ConfigError) as err:
        built(CameraConfig, "{width_px: 3, height_px: 5, gsd_m: 10, bands: [B, B]}")
    (issue,) = err.value.issues
    assert (issue.path, issue.line, issue.expected) == ("bands", 1, "each band once")


@pytest.mark.parametrize("eb_n0_db", [8.0, 9.6, 11.0])
def test_frame_error_rate_from_eb_n0_is_that_of_uncoded_bpsk(eb_n0_db):
    radio = built(RadioConfig, f"{{rate_mbps: 10, eb_n0_db: {eb_n0_db}, frame_bytes: 1024}}")
    # BPSK in AWGN: BER = Q(sqrt(2 Eb/N0)) (Proakis, Digital Communications, 5th ed., eq. 4.3-13)
    ber = 1 - NormalDist().cdf(math.sqrt(2 * 10 ** (eb_n0_db / 10)))
    assert radio.link_frame_error_rate == pytest.approx(1 - (1 - ber) ** (8 * 1024), rel=1e-9)


def test_radio_takes_a_frame_error_rate_or_eb_n0_not_both_and_a_link_that_delivers():
    with pytest.raises(ConfigError, match="expected either frame_error_rate or eb_n0_db, found both"):
        built(RadioConfig, "{rate_mbps: 10, eb_n0_db: 8, frame_error_rate: 0.1}")
    with pytest.raises(ConfigError, match=r"eb_n0_db: expected a link that delivers frames of 1024 bytes"):
        built(RadioConfig, "{rate_mbps: 10, eb_n0_db: -3}")
    assert built(RadioConfig, "{rate_mbps: 10}").link_frame_error_rate == 0.0
