"""The spacecraft's config (onboard/scenario/spacecraft_config.py): the camera's derived radiometry and raw frame size, the
radio's payload rate and frame error rate from Eb/N0 against the textbook BPSK bit error rate, and their key rules."""

import math
import platform
from pathlib import Path
from statistics import NormalDist

import pytest

from onboard.scenario.config import load_scenario
from onboard.scenario.schema import build
from onboard.scenario.spacecraft_config import X86_MACHINES, CameraConfig, ComputeConfig, RadioConfig
from onboard.scenario.yaml_source import load_yaml
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


LINK = "{eirp_dbw: 10, g_t_db_k: 28, frequency_ghz: 8.2, symbol_rate_msps: 50"


def test_link_budget_alone_is_a_radio_and_its_frames_are_quasi_error_free():
    radio = built(RadioConfig, f"{{link_budget: {LINK}}}}}")
    assert radio.rate_mbps is None and radio.payload_bytes_per_s is None
    assert radio.link_budget.modcods is None and radio.link_budget.margin_db == 3.0
    assert radio.link_frame_error_rate == pytest.approx(1024 / 188 * 1e-7, rel=1e-6)  # EN 302 307-1: PER 1e-7
    assert built(RadioConfig, f"{{link_budget: {LINK}}}, frame_error_rate: 0.01}}").link_frame_error_rate == 0.01


def test_radio_needs_a_rate_or_a_link_budget_and_not_eb_n0_with_one():
    with pytest.raises(ConfigError) as err:
        built(RadioConfig, "{frame_bytes: 1024}")
    assert [(i.path, i.expected, i.found) for i in err.value.issues] == [
        ("rate_mbps", "a constant rate in Mbps, or a link_budget", "neither")]
    with pytest.raises(ConfigError) as err:
        built(RadioConfig, f"{{rate_mbps: 10, eb_n0_db: 8, link_budget: {LINK}}}}}")
    assert [i.path for i in err.value.issues] == ["eb_n0_db"]


def test_an_unknown_modcod_lists_the_valid_ones_with_its_line():
    with pytest.raises(ConfigError) as err:
        built(RadioConfig, f"rate_mbps: 10\nlink_budget: {LINK},\n  modcods: [QPSK 1/2, QPSK 7/8, QPSK 1/2]}}")
    unknown, duplicate = err.value.issues
    assert (unknown.path, unknown.line, unknown.found) == ("link_budget.modcods[1]", 3, "'QPSK 7/8'")
    assert unknown.expected.startswith("a DVB-S2 MODCOD: QPSK 1/4, QPSK 1/3,") and "32APSK 9/10" in unknown.expected
    assert (duplicate.path, duplicate.expected) == ("link_budget.modcods[2]", "each MODCOD once")


@pytest.mark.parametrize("key, value", [("eirp_dbw", 200), ("frequency_ghz", 0), ("symbol_rate_msps", -1),
                                        ("margin_db", -1), ("modcods", "[]")])
def test_link_budget_fields_out_of_range(key, value):
    with pytest.raises(ConfigError) as err:
        built(RadioConfig, f"{{link_budget: {{eirp_dbw: 10, g_t_db_k: 28, frequency_ghz: 8.2, symbol_rate_msps: 50, "
                           f"{key}: {value}}}}}")
    assert [i.path for i in err.value.issues] == [f"link_budget.{key}"]


@pytest.mark.parametrize("hardware, timing, machine, warned", [
    ("coral-devboard", "measured", "x86_64", True), ("jetson-orin-nano", "measured", "AMD64", True),
    ("host", "measured", "x86_64", False), ("coral-devboard", "projected", "x86_64", False),
    ("jetson-orin-nano", "measured", "aarch64", False)])
def test_stage_times_measured_off_the_board_are_warned(hardware, timing, machine, warned):
    """A trial measured on an x86 host under the coral-devboard profile: the report called this host's times the
    Coral's, without a word. Every shipped profile but host is an ARM board."""
    issues = ComputeConfig(hardware=hardware, timing=timing).measured_off_board(machine)
    assert bool(issues) == warned
    if warned:
        (issue,) = issues
        assert issue.path == "timing" and f"this {machine} machine, which no {hardware} is" in issue.found


def test_the_warning_reaches_the_scenario_with_its_line():
    scenario = load_scenario(Path(__file__).parents[1] / "scenarios" / "quickstart.yaml",
                             ["spacecraft.compute.hardware=rpi5", "spacecraft.compute.timing=measured"])
    expected = platform.machine().lower() in X86_MACHINES
    assert any("spacecraft.compute.timing: expected a run on the rpi5 device itself" in w
               for w in scenario.warnings) == expected
