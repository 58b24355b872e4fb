"""The pipeline's working memory against the profile's memory_mb: the arrays counted, worked out by hand on the
quickstart's camera, the one-frame refusal and the whole-burst warning on the shipped profiles, and their
boundaries to the byte."""

import dataclasses

import pytest

from onboard.runtime import hardware
from onboard.runtime.hardware import load_profile
from onboard.scenario import working_memory
from onboard.scenario.config import load_scenario
from onboard.scenario.working_memory import MIB, below_one_frame, below_the_whole_capture, nbytes, one_frame, \
    whole_capture
from tests.test_config import QUICKSTART

SUPERRES = [{"stage": "cloud_filter"}, {"stage": "superres", "scale": 2}, {"stage": "encode"}]
ENCODE = [{"stage": "encode"}]


@pytest.fixture(scope="module")
def spacecraft():
    """The quickstart's spacecraft: 256 x 256 px, bands B, G, R, NIR, bursts of 8, on the host profile."""
    return load_scenario(QUICKSTART).spacecraft


def craft(spacecraft, hardware="host", **camera):
    """``spacecraft`` on ``hardware`` with the camera keys ``camera`` changed."""
    compute = dataclasses.replace(spacecraft.compute, hardware=hardware)
    return dataclasses.replace(spacecraft, compute=compute, camera=dataclasses.replace(spacecraft.camera, **camera))


def test_one_frame_and_the_whole_burst_of_the_quickstart_by_hand(spacecraft):
    """256 x 256 px x 4 bands = 262144 samples: 2 B of DN and 4 B of reflectance each is 1.5 MiB, and
    registration's two planes of 256 x 256 x 4 B are 0.5 MiB. The burst of 8 is 4 MiB of DN; registering, 8 planes
    of 0.25 MiB; fusing at x2, the registered mean 1 MiB, the 512 x 512 px product 2 MiB and a band's fusion 1 MiB:
    8 MiB, the more. At x3 the product is 4.5 MiB and a band 2.25 MiB."""
    camera, names = spacecraft.camera, [s["stage"] for s in SUPERRES]
    frame, whole = one_frame(camera, names), whole_capture(camera, names, 2)
    assert [str(h) for h in frame] == ["DN uint16 256 x 256 px x 4 bands x 2 B",
                                       "TOA reflectance float32 256 x 256 px x 4 bands x 4 B",
                                       "registration planes float32 2 planes x 256 x 256 px x 4 B"]
    assert nbytes(frame) == 2 * MIB
    assert [str(h) for h in whole] == ["burst DN uint16 8 frames x 256 x 256 px x 4 bands x 2 B",
                                       "registered mean float32 256 x 256 px x 4 bands x 4 B",
                                       "product DN uint16 512 x 512 px x 4 bands x 2 B",
                                       "a band's fusion float32 512 x 512 px x 4 B"]
    assert [h.nbytes for h in whole] == [4 * MIB, MIB, 2 * MIB, MIB]
    assert nbytes(whole_capture(camera, names, 3)) == 4 * MIB + MIB + 4.5 * MIB + 2.25 * MIB  # the product grows
    sixteen = dataclasses.replace(camera, burst=dataclasses.replace(camera.burst, frames=16))
    assert [h.what for h in whole_capture(sixteen, names, 2)] == ["burst DN uint16", "registration planes float32"]
    assert nbytes(one_frame(camera, ["encode"])) == MIB // 2  # DN alone: no stage makes reflectance
    assert whole_capture(camera, ["cloud_filter", "encode"], 1) == one_frame(camera, ["cloud_filter", "encode"])


def test_a_frame_the_profile_cannot_hold_is_refused_and_one_it_holds_exactly_is_not(spacecraft):
    """coral-devboard's 1024 MiB are 2^30 B: 16384 x 8192 px x 4 bands of uint16 DN fill them exactly; one row
    more (64 KiB) does not fit."""
    assert load_profile("coral-devboard").memory_bytes == 2**30
    exact = craft(spacecraft, "coral-devboard", width_px=8192, height_px=16384)
    assert below_one_frame(exact, ENCODE) == []
    over = craft(spacecraft, "coral-devboard", width_px=8192, height_px=16385)
    [issue] = below_one_frame(over, ENCODE)
    assert issue.path == "spacecraft.compute.hardware"
    assert issue.expected == ("RAM for one frame as the stages take it, at least 1024.06 MiB (DN uint16 16385 x "
                              "8192 px x 4 bands x 2 B)")
    assert issue.found == ("coral-devboard with memory_mb 1024 (MiB): the stages work frame by frame, and not one "
                           "frame fits")
    assert below_one_frame(craft(spacecraft, "jetson-orin-nano", width_px=8192, height_px=16385), ENCODE) == []


def test_a_burst_only_streaming_would_fit_is_a_warning_on_coral_and_not_on_jetson(spacecraft):
    """Bursts of 8 at 4096 x 4096 px x 4 bands: 1024 MiB of DN, and fusing at x2 a registered mean of 256 MiB, a
    product of 512 MiB and a band's fusion of 256 MiB, 2048 MiB in all; one frame is 512 MiB. Past
    coral-devboard's 1024, within jetson-orin-nano's 8192. At 2048 x 2048 px it is 512 MiB, within coral's."""
    camera = {"width_px": 4096, "height_px": 4096}
    assert below_one_frame(craft(spacecraft, "coral-devboard", **camera), SUPERRES) == []
    [warning] = below_the_whole_capture(craft(spacecraft, "coral-devboard", **camera), SUPERRES)
    assert warning.path == "spacecraft.compute.hardware"
    assert warning.expected.startswith("RAM for the burst as the simulated superres stage holds it, at least 2048 MiB "
                                       "(burst DN uint16 8 frames x 4096 x 4096 px x 4 bands x 2 B + ")
    assert warning.found.startswith("coral-devboard with memory_mb 1024 (MiB), which holds one frame (512 MiB): "
                                    "flight software would have to read the burst window by window")
    small = {"width_px": 2048, "height_px": 2048}
    assert below_the_whole_capture(craft(spacecraft, "coral-devboard", **small), SUPERRES) == []
    assert below_the_whole_capture(craft(spacecraft, "jetson-orin-nano", **camera), SUPERRES) == []


def test_the_whole_burst_s_boundary_on_coral(spacecraft):
    """At 8 frames, 4 bands and x2 the burst fusing holds 128 B per frame pixel (DN 64, the registered mean 16, the
    product's 4 pixels 32, a band's fusion 16): 2896 x 2896 px hold 1073512448 B, within 2^30 = 1073741824 B by
    229376 B; 2897 x 2897 px hold 1074253952 B, over."""
    assert below_the_whole_capture(craft(spacecraft, "coral-devboard", width_px=2896, height_px=2896), SUPERRES) == []
    big = craft(spacecraft, "coral-devboard", width_px=2897, height_px=2897)
    assert nbytes(whole_capture(big.camera, ["superres"], 2)) == 1074253952
    assert len(below_the_whole_capture(big, SUPERRES)) == 1


def test_a_frame_no_profile_holds_is_an_error_and_no_warning(spacecraft):
    """With one frame over memory the refusal says it; the warning would only repeat it."""
    huge = craft(spacecraft, "coral-devboard", width_px=8192, height_px=8192)  # 2048 MiB a frame with superres
    assert len(below_one_frame(huge, SUPERRES)) == 1
    assert below_the_whole_capture(huge, SUPERRES) == []


@pytest.mark.parametrize("scale", ["two", True, 5])
def test_a_superres_scale_the_stage_refuses_is_left_to_its_own_issue(spacecraft, scale):
    huge = craft(spacecraft, "coral-devboard", width_px=8192, height_px=8192)
    items = [{"stage": "superres", "scale": scale}, {"stage": "encode"}]
    assert below_one_frame(huge, items) == below_the_whole_capture(huge, items) == []


def test_a_superres_stage_without_a_scale_counts_the_stage_s_default():
    assert working_memory._pipeline([{"stage": "superres"}, {"stage": "encode"}]) == (["superres", "encode"], 2)
    assert working_memory._pipeline(ENCODE) == (["encode"], 1)


def test_a_profile_file_that_does_not_load_is_left_to_the_run_that_loads_it(spacecraft, tmp_path, monkeypatch):
    """Its problem is the profile file's, at the file's line: a scenario's issue could not place it."""
    text = (hardware.PROFILE_DIR / "host.yaml").read_text().replace("memory_mb: 4096", "memory_mb: -1")
    (tmp_path / "host.yaml").write_text(text)
    monkeypatch.setattr(hardware, "PROFILE_DIR", tmp_path)
    load_profile.cache_clear()
    try:
        huge = craft(spacecraft, "host", width_px=20000, height_px=20000)
        assert below_one_frame(huge, ENCODE) == below_the_whole_capture(huge, SUPERRES) == []
    finally:
        load_profile.cache_clear()
