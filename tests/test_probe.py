"""onboard.runtime.probe: a camera-fed model tried through its card before it meets a scene, on real models through
the real interpreters: its outputs must be probabilities through the card's activation (within one quantisation step
of 0..1 for an integer output, float rounding for a float one), and an integer input must keep dark ground and cloud
apart through the card's scaling."""

import numpy as np
import pytest

from onboard.runtime.model import Model
from onboard.runtime.modelcard import MODEL_DIR
from onboard.runtime.scaling import Scaling
from onboard.runtime.probe import (FLOAT_ULPS, SCENE_LEVELS, input_range_problem, output_slack, outputs_problem,
                                   probability_problem, probe_inputs)
from tests.tiny_models import INT8
from tests.user_models import onnx_float16_nchw, user_model

TOA = Scaling("toa_reflectance", 1.0, 0.0)
FLOAT32 = (FLOAT_ULPS * float(np.finfo(np.float32).eps), "float32 rounding")
STEP = (1 / 256, "one step of its uint8 output")


@pytest.mark.parametrize("outputs, activation, slack, problem", [
    ([0.0, 1.0], None, FLOAT32, None), ([0.0, 0.996], None, FLOAT32, None),
    ([-1e-7, 1.0 + 1e-7], None, FLOAT32, None),  # within float32 rounding
    ([-0.9 / 256, 1.0 + 0.9 / 256], None, STEP, None),  # within one quantisation step
    ([-1.1 / 256, 0.5], None, STEP, "its outputs on test inputs reach -0.0043 to 0.5, beyond 0..1 by more than one "
                                    "step of its uint8 output (0.0039): logits"),
    ([-0.18, 0.67], None, FLOAT32, "its outputs on test inputs reach -0.18 to 0.67, beyond 0..1 by more than float32 "
                                   "rounding (4.8e-07): logits, which the cloud stage would clip to 0 and 1"),
    ([0.1, 1.01], None, FLOAT32, "its outputs on test inputs reach 0.1 to 1.01, beyond 0..1"),
    ([0.2, np.nan, 0.7], None, FLOAT32, "its outputs on test inputs hold NaN or infinity"),
    ([0.2, np.inf], "sigmoid", FLOAT32, "its outputs on test inputs hold NaN or infinity"),
    ([-4.0, 9.0], "sigmoid", FLOAT32, None), ([-4.0, 9.0], "softmax", FLOAT32, None),
    ([0.0, 9.0], "softmax", FLOAT32, None),
    ([0.0, 9.0], "sigmoid", FLOAT32, "its outputs on test inputs reach 0 to 9, never below 0 (no logits"),
])
def test_outputs_the_activation_makes_no_probabilities_of_are_named(outputs, activation, slack, problem):
    found = outputs_problem(np.array(outputs, np.float32)[:, None], activation, slack)
    assert found == problem if problem is None else found.startswith(problem)


def test_channels_that_do_not_sum_to_one_are_named_as_evidence_but_refuse_nothing_alone():
    """Two channels in 0..1 that sum to 0.3..1.6 may be a multi-label model's (a sigmoid per class): not refused.
    Channels already refused, and off 1, are named: the sign of logits of classes that exclude one another."""
    multi_label = np.array([[0.1, 0.2], [0.9, 0.7], [0.5, 0.5]], np.float32)
    assert outputs_problem(multi_label, None, FLOAT32) is None
    logits = np.array([[-0.1, 0.2], [0.6, 0.4]], np.float32)
    assert outputs_problem(logits, None, FLOAT32).endswith(
        "clip to 0 and 1; its 2 channels sum to 0.1 to 1 per pixel, not 1 as probabilities of classes that exclude "
        "one another do")
    softmax = np.array([[-1e-7, 1.0 + 1e-7], [0.3, 0.7]], np.float32)
    assert outputs_problem(softmax, None, FLOAT32) is None


def test_small_logits_with_no_activation_are_refused(tmp_path):
    """An undertrained two-class head (the user models' logits x 0.02: -0.07 to 0.28) stays within 0.5 of 0..1, so
    the old slack let it pass as probabilities, and the cloud stage read a logit of 0.28 as 28 % cloud."""
    path = tmp_path / "small.onnx"
    path.write_bytes(onnx_float16_nchw(gain=0.02))
    model = Model(path, use_card=False, channels=4)
    assert output_slack(model) == (FLOAT_ULPS * float(np.finfo(np.float16).eps), "float16 rounding")
    problem = probability_problem(model, TOA, None)
    assert problem.startswith("its outputs on test inputs reach -0.0") and (
        "beyond 0..1 by more than float16 rounding (0.0039): logits, which the cloud stage would clip to 0 and 1; its "
        "2 channels sum to ") in problem
    assert probability_problem(model, TOA, "softmax") is None


def test_outputs_the_cards_activation_makes_no_probabilities_of_are_named(tmp_path):
    """The tests' user models end in logits (-3.7 to 14 on random TOA reflectance): with no activation they are
    named; the test inputs go through the card's scaling, so a DN card that makes the same model inputs finds the
    same. A head that ends in ReLU gives no negative output, so a sigmoid makes every pixel 0.5 or more. A model
    whose output comes out of its own sigmoid needs no probe."""
    model = Model(user_model("float16.onnx", tmp_path), use_card=False, channels=4)
    problem = probability_problem(model, TOA, None)
    assert problem.startswith("its outputs on test inputs reach -3.73 to 14, beyond 0..1 by more than float16 "
                              "rounding (0.0039): logits, which the cloud stage would clip to 0 and 1; its 2 channels "
                              "sum to ")
    assert probability_problem(model, Scaling("dn", 1 / 4095, 0.0, 12), None) == problem
    assert probability_problem(model, TOA, "sigmoid") is None and probability_problem(model, TOA, "softmax") is None
    relu = tmp_path / "relu.onnx"
    relu.write_bytes(onnx_float16_nchw(outputs=1, head="Relu"))
    problem = probability_problem(Model(relu, use_card=False, channels=4), TOA, "sigmoid")
    assert problem.startswith("its outputs on test inputs reach 0 to ") and problem.endswith(
        ", never below 0 (no logits: a head that ends in ReLU or a clip), so a sigmoid of them is never below 0.5: "
        "every pixel is cloud at the threshold 0.5")
    shipped = Model(MODEL_DIR / "cloud_bgrn_int8.tflite")
    assert shipped.output_activation == ("LOGISTIC", "sigmoid")
    assert probability_problem(shipped, shipped.card.inputs[0].scaling, None) is None


def test_an_integer_output_may_pass_0_to_1_by_one_quantisation_step(tmp_path):
    model = Model(user_model("uint8.tflite", tmp_path), use_card=False, channels=4)
    step, zero = model.output_quantization
    assert output_slack(model) == (step, "one step of its uint8 output")


def test_an_integer_input_that_cannot_tell_dark_ground_from_cloud_is_named():
    """tests/data/tiny_int8 holds 0..1 in 255 steps: TOA reflectance as it is fits; x 255 clips everything past
    reflectance 1/255 (dark ground and cloud both the top code); x 1e-4 puts 0..1 within a fortieth of a step."""
    model = Model(INT8)
    bands = ("B", "G", "R", "NIR")
    assert input_range_problem(model, TOA, bands) is None
    assert input_range_problem(model, Scaling("dn", 1 / 4095, 0.0, 12), bands) is None
    assert input_range_problem(Model(MODEL_DIR / "cloud_bgrn_int8.tflite"), TOA, bands) is None
    clipped = input_range_problem(model, Scaling("toa_reflectance", 255.0, 0.0), bands)
    assert clipped == ("its int8 input holds 0 to 1 (quantisation scale 0.00392, zero point -128), and the card's 255 "
                       "x toa_reflectance + 0 puts toa_reflectance 0..1 at 0 to 255: 6.5e+04 quantisation steps wide, "
                       f"0.4% of it inside the input's range: dark ground ({SCENE_LEVELS[0]:g}) and cloud "
                       f"({SCENE_LEVELS[-1]:g}) both read as code 127, so the model cannot tell them apart")
    flat = input_range_problem(model, Scaling("toa_reflectance", 1e-4, 0.0), bands)
    assert "puts toa_reflectance 0..1 at 0 to 0.0001: 0.0255 quantisation steps wide, 100.0% of it inside" in flat
    assert flat.endswith("both read as code -128, so the model cannot tell them apart")
    clear_only = Scaling("toa_reflectance", 2.5, 0.0)  # as if calibrated on clear ground only: clips past 0.4
    assert input_range_problem(model, clear_only, bands) is None  # cloud still reads brighter than dark ground
    one_band = Scaling("toa_reflectance", (1.0, 1.0, 255.0, 1.0), 0.0)
    assert "both read as code 127 in band R, so" in input_range_problem(model, one_band, bands)


def test_a_float_input_takes_any_scaling(tmp_path):
    model = Model(user_model("float16.onnx", tmp_path), use_card=False, channels=4)
    assert input_range_problem(model, Scaling("toa_reflectance", 1e4, 0.0), ("B", "G", "R", "NIR")) is None


@pytest.mark.parametrize("bits", [8, 12, 14])
def test_dn_test_inputs_span_the_cards_camera(bits):
    """A DN model's test inputs span its own camera's DN, 0..2**dn_bits - 1 (they were a 12-bit camera's for any)."""
    random, *uniform = probe_inputs(Scaling("dn", 1.0, 0.0, bits), (64,))
    top = (1 << bits) - 1
    assert 0.9 * top < random.max() <= top
    assert [float(u[0]) for u in uniform] == pytest.approx([level * top for level in SCENE_LEVELS])


def test_an_integer_output_is_held_against_the_stages_own_threshold(tmp_path):
    """A model whose uint8 output tops out at 0.498 meets a stage threshold of 0.3, not the default 0.5 (the check
    used the default whatever the stage said)."""
    from onboard.runtime.probe import ceiling_problem
    from tests.user_models import onnx_uint8_sigmoid

    path = tmp_path / "halved.onnx"
    path.write_bytes(onnx_uint8_sigmoid(1 / 512))
    model = Model(path, use_card=False, channels=4)
    assert "no pixel's probability reaches 0.5" in ceiling_problem(model, None)
    assert ceiling_problem(model, None, threshold=0.3) is None
    assert "0.622 through a sigmoid: no pixel's probability reaches 0.65" in ceiling_problem(model, "sigmoid", 0.65)
