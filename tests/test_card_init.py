"""`orbitedge card init` (onboard/runtime/card_init.py) on user-style models made in the tests: the card is a STAC Item with
the MLM extension that pystac validates, carries what the model says about itself and what the user told it, and bad
options or a card that exists end with exit 2 and the reason."""

import json

import pystac
import pytest
from pystac.extensions.mlm import MLMExtension
from pystac.validation.stac_validator import JsonSchemaSTACValidator

from app.cli import main
from onboard.pipeline.cloud import cloud_channel
from onboard.pipeline.fusion import FEATURE_PLANES
from onboard.pipeline.superres import SuperResolution
from onboard.pipeline.tiling import WINDOW_MAP
from onboard.runtime.card_init import CardRequest, init_card, misr_planes
from onboard.runtime.modelcard import MODEL_DIR, load_card
from onboard.runtime.scaling import Scaling
from onboard.runtime.model import Model, build_card
from rundir.errors import OrbitEdgeError
from tests.user_models import BANDS, WINDOW_PX, onnx_float16_nchw, onnx_misr, onnx_uint8_sigmoid, user_model


def card_init(model, *options, activation="softmax"):
    """The tests' user models end in logits of (clear, cloud): softmax makes their probabilities, unless the test
    names the activation itself (None: no --activation)."""
    named = any(option.startswith("--activation") for option in options) or activation is None
    return main(["card", "init", str(model), "--task", "segmentation", "--bands", "B,G,R,NIR", *options,
                 *(() if named else ("--activation", activation))])


def test_a_uint8_tflite_card_is_a_valid_stac_mlm_item(tmp_path, capsys):
    model = user_model("uint8.tflite", tmp_path)
    assert card_init(model, "--scale", "1", "--offset", "0", "--classes", "clear,cloud", "--activation", "softmax",
                     "--architecture", "two-layer CNN") == 0
    out = capsys.readouterr().out
    assert f"wrote {model.with_suffix('.json')}: a STAC Item with the MLM extension (checked with pystac)" in out
    item = pystac.Item.from_file(str(model.with_suffix(".json")))
    # the core Item schema, from pystac's own copy (the extensions' schemas would need the network)
    JsonSchemaSTACValidator().validate_core(item.to_dict(), pystac.STACObjectType.ITEM, "1.1.0")
    mlm = MLMExtension.ext(item)
    assert mlm.tasks == ["segmentation"] and mlm.framework == "TensorFlow Lite" and mlm.accelerator is None
    (model_input,) = mlm.input
    assert model_input.input.shape == [1, WINDOW_PX, WINDOW_PX, 4] and model_input.input.data_type == "uint8"
    assert model_input.bands == ["B", "G", "R", "NIR"] and model_input.value_scaling is None  # scale 1, offset 0
    (output,) = mlm.output
    assert output.result.dim_order == ["batch", "height", "width", "channel"]
    raw = item.to_dict()
    assert raw["assets"]["model"]["file:checksum"] == "1220" + load_card(model.with_suffix(".json")).sha256
    assert raw["properties"]["orbitedge:benchmark"]["host_latency_ms_p50"] > 0


def test_an_nchw_onnx_card_keeps_its_dynamic_batch_and_per_band_scaling(tmp_path):
    model = user_model("float16.onnx", tmp_path)
    assert card_init(model, "--scale", "2,2,2,1", "--offset=-0.5,-0.5,-0.5,0") == 0
    item = json.loads(model.with_suffix(".json").read_text())
    (model_input,) = item["properties"]["mlm:input"]
    assert model_input["input"]["dim_order"] == ["batch", "channel", "height", "width"]
    assert model_input["input"]["shape"] == [-1, 4, WINDOW_PX, WINDOW_PX]  # the dynamic batch as MLM writes it
    assert model_input["value_scaling"] == [{"type": "z-score", "mean": 0.25, "stddev": 0.5}] * 3 + [
        {"type": "scale", "value": 1.0}]
    card = load_card(model.with_suffix(".json"))
    assert card.inputs[0].scaling.scale == (2.0, 2.0, 2.0, 1.0) and card.inputs[0].scaling.offset == (-0.5,) * 3 + (0,)
    assert Model(model, bands=("B", "G", "R", "NIR")).card.framework == "ONNX"


def test_a_non_square_nchw_onnx_model_is_told_by_its_bands(tmp_path, capsys):
    """The layout of a (batch, 4, 32, 64) model is read from its bands, in and out; the cloud_filter stage slides
    square windows, so card init refuses its card with the stage's words (it wrote one, which validate refused)."""
    model = tmp_path / "wide.onnx"
    model.write_bytes(onnx_float16_nchw(32, 64))  # (batch, 4, 32, 64): the last size is no band count
    card = build_card(model, name="wide", version="1", task="segmentation", bands=("B", "G", "R", "NIR"),
                      scaling=Scaling("toa_reflectance", 1.0, 0.0), training={}, metrics={}, form="stac")
    assert card.inputs[0].channels_first and card.inputs[0].shape == (-1, 4, 32, 64)
    assert card.outputs[0].channels_first and card.outputs[0].shape == (-1, 2, 32, 64)
    assert Model(model, use_card=False, channels=4).input_shape[1:] == (32, 64, 4)  # NHWC to orbitedge
    assert card_init(model, "--classes", "clear,cloud", "--activation", "softmax") == 2
    assert capsys.readouterr().err == (
        f"orbitedge: error: card init: --task segmentation (as the cloud_filter stage runs it): expected "
        f"{WINDOW_MAP}, found [1, 32, 64, 4] in, [1, 32, 64, 2] out: a window of 32 x 64 px, not square (the stage "
        "slides square windows)\n")
    assert not model.with_suffix(".json").exists()


def test_an_output_without_a_channel_axis_is_named_so_before_its_classes(tmp_path, capsys):
    """A (1, H, W) map, as PyTorch exports a one-channel map squeezed: card init said "--classes: expected one name
    per output channel (48, ...)", and without --classes called it a whole-frame classifier."""
    model = tmp_path / "squeezed.onnx"
    model.write_bytes(onnx_float16_nchw(outputs=1, squeezed=True))
    assert Model(model, use_card=False, channels=4).output_shape == (1, WINDOW_PX, WINDOW_PX)
    for classes in (("--classes", "cloud"), ()):
        assert card_init(model, *classes, "--activation", "sigmoid") == 2
        err = capsys.readouterr().err
        assert err.endswith("found [1, 48, 48, 4] in, [1, 48, 48] out: the output [1, 48, 48] has no channel axis; "
                            "expected (1, 48, 48, K) or NCHW (1, K, 48, 48), K = 1 for one cloud channel (keep that "
                            "axis when exporting)\n")
        assert "--classes" not in err and "classification" not in err
    assert not model.with_suffix(".json").exists()


@pytest.mark.parametrize("classes", ["Cloud,cloud", "cloud,cloud"])
def test_a_class_named_twice_is_refused(tmp_path, capsys, classes):
    """The stages match class names whatever their case: "Cloud,cloud" made the cloud filter take channel 0, the
    clear class, and flag almost every clear pixel; refused at --classes, and a hand-written card saying cloud
    twice is refused by the stage."""
    model = user_model("uint8.tflite", tmp_path)
    assert card_init(model, "--scale", "1", "--offset", "0", "--classes", classes) == 2
    assert capsys.readouterr().err.endswith(f"--classes: expected a different name for each channel (whatever its "
                                            f"case), found {classes!r}: cloud more than once\n")
    assert not model.with_suffix(".json").exists()
    assert card_init(model, "--scale", "1", "--offset", "0", "--classes", "clear,cloud") == 0
    card = json.loads(model.with_suffix(".json").read_text())
    text = json.dumps(card).replace('"clear"', '"CLOUD"')  # the card edited by hand
    model.with_suffix(".json").write_text(text)
    with pytest.raises(OrbitEdgeError, match=r"the output's classes \['CLOUD', 'cloud'\] name 'cloud' 2 times"):
        cloud_channel(Model(model))


def test_a_misr_model_the_superres_stage_would_refuse_gets_no_card(tmp_path, capsys):
    """x2 planes in (12 channels), a x3 correction out: card init wrote its card, and the superres stage refused it."""
    model = tmp_path / "x3out.onnx"
    model.write_bytes(onnx_misr(16, 2, out_scale=3))
    assert main(["card", "init", str(model), "--task", "super-resolution"]) == 2
    assert capsys.readouterr().err == (
        "orbitedge: error: card init: --task super-resolution (as the superres stage runs it, at scale 2 for 12 input "
        "channels): expected output (1, 32, 32, 1) (one channel, 2 times the 16 px window), found [1, 48, 48, 1]\n")
    assert not model.with_suffix(".json").exists()
    model.write_bytes(onnx_misr(16, 2))
    assert main(["card", "init", str(model), "--task", "super-resolution"]) == 0
    stage = SuperResolution.check_files(SuperResolution.Params(model=str(model), evaluate=False), BANDS, None)
    assert stage == []  # what card init takes, the stage takes
    model.write_bytes(onnx_misr(16, 1))  # 3 planes in, at scale 1: no gain, and a scale the stage does not run
    assert main(["card", "init", str(model), "--task", "super-resolution", "--force"]) == 2
    assert capsys.readouterr().err == (
        "orbitedge: error: card init: a super-resolution model takes scale² x 3 channels (the folded planes "
        "bicubic_mean, shift_and_add, samples) at a scale the superres stage runs, 2, 3, 4 (12, 27, 48 channels); "
        "this one takes 3\n")


@pytest.mark.parametrize("options, message", [
    (["--scale", "1,2"], "--scale: expected one number or one per band (4), found 2"),
    (["--offset", "a"], "--offset: expected numbers separated by commas, found 'a'"),
    (["--scale", "0"], "--scale: expected finite non-zero numbers, found 0"),
    (["--classes", "clear,cloud,shadow"], "--classes: expected one name per output channel (2"),
    (["--accelerator", "tpu"], "--accelerator: expected one of amd64, cuda"),
    (["--classes", ""], "--classes: expected non-empty text, found ''"),  # it wrote a card with no class names
    # a DN model's card says whose DN: a 14-bit camera fed a 12-bit DN model four times its range unwarned
    (["--source", "dn"], "--dn-bits: expected with --source dn the bit depth of the camera whose DN the model takes, "
                         "an integer 8 to 16 (spacecraft.camera.bit_depth of the scenario it was trained on), found "
                         "none"),
    (["--source", "dn", "--dn-bits", "17"], "--dn-bits: expected with --source dn the bit depth of the camera"),
    (["--dn-bits", "12"], "--dn-bits: expected only with --source dn (the bit depth of the camera whose DN the model "
                          "takes), found --dn-bits 12 with --source toa_reflectance"),
])
def test_bad_options_exit_2_naming_the_option(tmp_path, capsys, options, message):
    assert card_init(user_model("uint8.onnx", tmp_path), *options) == 2
    assert message in capsys.readouterr().err


def test_a_dn_cards_bit_depth_is_written_as_orbitedge_dn_bits_and_read_back(tmp_path, capsys):
    model = user_model("float16.onnx", tmp_path)
    assert card_init(model, "--source", "dn", "--dn-bits", "14", "--scale", "7.3e-5") == 0
    assert "NIR = 7.3e-05 * dn + 0 (DN of a 14-bit camera)" in capsys.readouterr().out
    (model_input,) = json.loads(model.with_suffix(".json").read_text())["properties"]["mlm:input"]
    assert model_input["orbitedge:source"] == "dn" and model_input["orbitedge:dn_bits"] == 14
    assert load_card(model.with_suffix(".json")).inputs[0].scaling == Scaling("dn", 7.3e-5, 0.0, 14)


def test_bands_that_do_not_fit_the_model_exit_2(tmp_path, capsys):
    model = user_model("uint8.onnx", tmp_path)
    assert main(["card", "init", str(model), "--task", "segmentation", "--bands", "B,G,R"]) == 2
    assert "3 bands given (B, G, R) for a model input of 4 channels" in capsys.readouterr().err


def test_an_existing_card_is_kept_unless_forced(tmp_path, capsys):
    model = user_model("float16.tflite", tmp_path)
    assert card_init(model) == 0
    assert card_init(model) == 2
    assert "a card is already there; pass --force" in capsys.readouterr().err
    assert card_init(model, "--force", "--version", "2.0.0") == 0
    assert load_card(model.with_suffix(".json")).version == "2.0.0"


def test_a_super_resolution_card_names_the_folded_planes_as_the_shipped_card_does(tmp_path, capsys):
    from onboard.runtime.modelcard import MODEL_DIR, shipped_card

    model = tmp_path / "my_misr.tflite"
    model.write_bytes((MODEL_DIR / "superres_x2_int8.tflite").read_bytes())
    assert main(["card", "init", str(model), "--task", "super-resolution"]) == 0
    card, shipped = load_card(model.with_suffix(".json")), shipped_card("superres_x2_int8")
    assert card.inputs[0].bands == shipped.inputs[0].bands and card.inputs[0].scaling == shipped.inputs[0].scaling
    assert main(["card", "init", str(model), "--task", "super-resolution", "--bands", "B,G", "--force"]) == 2
    assert "none for a super-resolution model" in capsys.readouterr().err


def test_every_bad_option_is_named_at_once_before_the_model_is_read(tmp_path):
    request = CardRequest(model=tmp_path / "absent.tflite", task="detection", bands=("B", "B"), scale=(1.0, 2.0, 0.0),
                          offset=(0.0,), source="radiance", activation="relu", accelerator="tpu")
    with pytest.raises(OrbitEdgeError) as err:
        init_card(request)
    message = str(err.value)
    for option, found in (("--task", "'detection'"), ("--bands", "'B,B'"), ("--scale", "found 3"),
                          ("--scale", "found 0"), ("--source", "'radiance'"), ("--activation", "'relu'"),
                          ("--accelerator", "'tpu'")):
        assert f"{option}: expected" in message and found in message
    assert not (tmp_path / "absent.json").exists()


def test_misr_planes_name_each_feature_plane_at_each_sub_pixel_offset():
    planes = misr_planes(4 * len(FEATURE_PLANES))
    assert planes[:len(FEATURE_PLANES) + 1] == (*(f"{p}[0,0]" for p in FEATURE_PLANES), f"{FEATURE_PLANES[0]}[0,1]")
    assert len(planes) == len(set(planes)) == 12 and planes[-1] == f"{FEATURE_PLANES[-1]}[1,1]"
    assert len(misr_planes(9 * len(FEATURE_PLANES))) == 27  # x3
    with pytest.raises(OrbitEdgeError, match="this one takes 10"):
        misr_planes(10)



def test_softmax_over_one_output_channel_is_refused_and_no_card_is_written(tmp_path, capsys):
    model = tmp_path / "cloud_only.onnx"
    model.write_bytes(onnx_float16_nchw(outputs=1))  # one channel: the cloud logit
    assert card_init(model, "--classes", "cloud", "--activation", "softmax") == 2
    assert ("card init: --activation: expected sigmoid, or no activation, for an output of one channel (softmax over "
            "one channel is 1.0 everywhere), found softmax (output shape [-1, 1, 48, 48])") in capsys.readouterr().err
    assert not model.with_suffix(".json").exists()
    assert card_init(model, "--classes", "cloud", "--activation", "sigmoid") == 0
    assert load_card(model.with_suffix(".json")).outputs[0].activation == "sigmoid"


def test_an_activation_on_a_model_that_ends_in_its_own_sigmoid_is_refused_and_no_card_is_written(tmp_path, capsys):
    model = tmp_path / "cloud.tflite"
    model.write_bytes((MODEL_DIR / "cloud_rgb_int8.tflite").read_bytes())  # ends in LOGISTIC: probabilities
    assert card_init(model, "--bands", "B,G,R", "--activation", "sigmoid") == 2
    assert ("activation sigmoid asked for, but the model's output already comes out of its LOGISTIC (sigmoid): the "
            "outputs are probabilities, and a second sigmoid after it would squash them") in capsys.readouterr().err
    assert not model.with_suffix(".json").exists()
    assert card_init(model, "--bands", "B,G,R", "--activation", "softmax") == 2  # not "a second softmax"
    assert "(sigmoid): the outputs are probabilities, and a softmax after it would squash them" in \
        capsys.readouterr().err


def test_a_sigmoid_after_a_head_that_gives_no_negative_output_is_refused(tmp_path, capsys):
    """A ReLU head's outputs are never below 0, so their sigmoid is never below 0.5: every pixel would be cloud."""
    model = tmp_path / "relu.onnx"
    model.write_bytes(onnx_float16_nchw(outputs=1, head="Relu"))
    assert card_init(model, "--classes", "cloud", "--activation", "sigmoid") == 2
    err = capsys.readouterr().err
    assert err.startswith("orbitedge: error: card init: --activation: sigmoid, but its outputs on test inputs reach 0 "
                          "to ") and ", never below 0 (no logits: a head that ends in ReLU or a clip), so a sigmoid " \
                          "of them is never below 0.5: every pixel is cloud at the threshold 0.5" in err
    assert not model.with_suffix(".json").exists()


def test_a_segmentation_card_for_a_model_that_scores_whole_frames_is_refused(tmp_path, capsys):
    """A (1, 2) output is no per-pixel map: the cloud_filter stage would refuse the card, so card init does, and the
    same model's card as a classifier is written."""
    model = tmp_path / "frame_scores.onnx"
    model.write_bytes(onnx_float16_nchw(per_frame=True))
    assert card_init(model) == 2
    assert (f"card init: --task segmentation (as the cloud_filter stage runs it): expected {WINDOW_MAP}, found "
            "[1, 48, 48, 4] in, [1, 2] out; a model that scores whole frames is --task classification"
            ) in capsys.readouterr().err
    assert not model.with_suffix(".json").exists()
    assert main(["card", "init", str(model), "--task", "classification", "--bands", "B,G,R,NIR",
                 "--activation", "softmax"]) == 0
    assert load_card(model.with_suffix(".json")).task == "classification"


def test_a_card_written_elsewhere_says_where_stages_read_one(tmp_path, capsys):
    model = user_model("float16.tflite", tmp_path)
    assert card_init(model, "--out", str(tmp_path / "review" / "card.json")) == 0
    assert capsys.readouterr().out.endswith(
        f"  note        a scenario's stage, validate and bench read the card at {model.with_suffix('.json')}, "
        "beside the model, not this one: move it there to use it\n")
    assert card_init(model) == 0 and "note" not in capsys.readouterr().out


def test_a_card_given_for_the_model_is_named_and_left_as_it_was(tmp_path, capsys):
    model = user_model("float16.tflite", tmp_path)
    assert card_init(model) == 0
    card = model.with_suffix(".json")
    before = card.read_bytes()
    capsys.readouterr()
    assert card_init(card, "--force") == 2
    assert capsys.readouterr().err == (f"orbitedge: error: card init: MODEL: expected a .tflite or .onnx model file "
                                       f"(its card is written beside it), found {str(card)!r}\n")
    assert card.read_bytes() == before


def test_a_model_that_gives_logits_needs_an_activation_and_no_card_is_written(tmp_path, capsys):
    """Without one, the cloud stage would clip the logits to 0..1 (and every pixel past 1 is cloud at any
    threshold); a model that ends in its own sigmoid needs none."""
    model = user_model("float16.tflite", tmp_path)
    assert card_init(model, activation=None) == 2
    assert ("card init: --activation: none given, but its outputs on test inputs reach -3.73 to 14, beyond 0..1 by "
            "more than float32 rounding (4.8e-07): logits, which the cloud stage would clip to 0 and 1; its 2 channels "
            "sum to -3.69 to 14 per pixel, not 1 as probabilities of classes that exclude one another do; name the "
            "activation that makes probabilities of them: none for outputs in 0..1, sigmoid for one channel of "
            "logits, softmax for one per class") in capsys.readouterr().err
    assert not model.with_suffix(".json").exists()
    small = tmp_path / "small.onnx"  # an undertrained head: logits -0.07 to 0.28, all within 0.5 of 0..1
    small.write_bytes(onnx_float16_nchw(gain=0.02))
    assert card_init(small, "--classes", "clear,cloud", activation=None) == 2
    assert "beyond 0..1 by more than float16 rounding (0.0039): logits" in capsys.readouterr().err
    assert not small.with_suffix(".json").exists()
    assert card_init(small, "--classes", "clear,cloud", activation="softmax") == 0
    shipped = tmp_path / "cloud.tflite"
    shipped.write_bytes((MODEL_DIR / "cloud_rgb_int8.tflite").read_bytes())  # ends in LOGISTIC: probabilities
    assert card_init(shipped, "--bands", "B,G,R", activation=None) == 0, capsys.readouterr().err
    assert load_card(shipped.with_suffix(".json")).outputs[0].activation is None


@pytest.mark.parametrize("options, message", [
    (["--scale", "nan"], "--scale: expected finite non-zero numbers, found nan"),
    (["--scale", "inf"], "--scale: expected finite non-zero numbers, found inf"),
    (["--scale", "1,1e999,1,-inf"], "--scale: expected finite non-zero numbers, found inf, -inf"),
    (["--offset=-nan"], "--offset: expected finite numbers, found nan"),
    (["--scale", "1e-320"], "--scale, --offset: expected a scaling whose MLM value_scaling (1/scale, -offset/scale) "
                            "is finite, found scale 9.99989e-321 and offset 0"),
    (["--scale", "1,1e-300", "--offset", "0,1e10", "--bands", "B,NIR"],
     "--scale, --offset: expected a scaling whose MLM value_scaling (1/scale, -offset/scale) is finite, found scale "
     "1e-300 and offset 1e+10 (band NIR)"),
    (["--classes", "clear,"], "--classes: expected non-empty text, found 'clear,'"),
    (["--version="], "--version: expected non-empty text, found ''"),
])
def test_numbers_and_names_no_card_can_hold_are_refused_before_anything_is_written(tmp_path, capsys, options,
                                                                                    message):
    model = user_model("float16.tflite", tmp_path)
    assert card_init(model, *options) == 2
    assert f"orbitedge: error: card init: {message}" in capsys.readouterr().err
    assert not model.with_suffix(".json").exists()
    assert card_init(model) == 0  # nothing left behind to block the rerun


def test_a_card_that_does_not_read_back_is_not_written(tmp_path, capsys, monkeypatch):
    import onboard.runtime.card_init as card_init_module

    model = user_model("float16.tflite", tmp_path)
    text = card_init_module.card_text
    monkeypatch.setattr(card_init_module, "card_text", lambda card: text(card).replace('"version": "1.0.0"',
                                                                                       '"version": 7'))
    assert card_init(model) == 2
    err = capsys.readouterr().err
    assert f"card init: {model.with_suffix('.json')}: not written, the card made for {model} is not valid: " in err
    assert "properties.version: expected a string, found 7" in err and not model.with_suffix(".json").exists()


def test_a_card_the_model_does_not_load_against_is_removed(tmp_path, capsys, monkeypatch):
    import onboard.runtime.card_init as card_init_module

    opened = card_init_module.Model

    def refuse(path, card_path=None, bands=None, **options):
        if card_path is None:  # the model read without a card, to make one
            return opened(path, **options)
        assert card_path.is_file()  # the check runs on the card as written
        raise OrbitEdgeError("the model does not load against its card")

    model = user_model("float16.tflite", tmp_path)
    assert card_init(model) == 0  # a good card, which a refused --force must leave as it is
    earlier = model.with_suffix(".json").read_bytes()
    capsys.readouterr()
    monkeypatch.setattr(card_init_module, "Model", refuse)
    assert card_init(model, "--force", "--version", "2.0.0") == 2
    assert "the model does not load against its card" in capsys.readouterr().err
    assert model.with_suffix(".json").read_bytes() == earlier and sorted(p.name for p in tmp_path.iterdir()) == [
        model.with_suffix(".json").name, model.name]
    model.with_suffix(".json").unlink()
    assert card_init(model) == 2 and not model.with_suffix(".json").exists()


@pytest.mark.parametrize("task", ["segmentation", "classification"])
def test_bands_are_required_for_a_camera_fed_model(tmp_path, capsys, task):
    model = user_model("float16.tflite", tmp_path)
    assert main(["card", "init", str(model), "--task", task]) == 2
    assert (f"card init: --bands: required for a {task} model: the camera bands it takes, in its channel order, from "
            "B, G, R, NIR (e.g. --bands B,G,R,NIR)") in capsys.readouterr().err


@pytest.mark.parametrize("bands, found", [
    ("b,g,r,nir", "found 'b', 'g', 'r', 'nir' (band names are case-sensitive)"),
    ("B,G,R,SWIR", "found 'SWIR'"),
    ("Red,G,B,NIR", "found 'Red'"),
])
def test_bands_no_orbitedge_camera_has_are_refused_with_the_allowed_names(tmp_path, capsys, bands, found):
    import typing

    from onboard.scenario.spacecraft_config import BANDS, CameraConfig

    (literal,) = typing.get_args(typing.get_type_hints(CameraConfig)["bands"])
    assert typing.get_args(literal) == BANDS  # the names the scenario schema allows in spacecraft.camera.bands
    model = user_model("float16.tflite", tmp_path)
    assert main(["card", "init", str(model), "--task", "segmentation", "--bands", bands]) == 2
    assert (f"card init: --bands: expected names of the bands an orbitedge camera has (spacecraft.camera.bands: "
            f"{', '.join(BANDS)}), {found}") in capsys.readouterr().err
    assert not model.with_suffix(".json").exists()


def test_a_scaling_the_int8_input_cannot_hold_is_refused_and_no_card_is_written(tmp_path, capsys):
    """The user model's uint8 input holds TOA reflectance 0..1.1 (its calibration): x 255, as for a model calibrated
    on 0..255, clips everything past 0.0043, dark ground and cloud alike."""
    model = user_model("uint8.tflite", tmp_path)
    assert card_init(model, "--classes", "clear,cloud", "--scale", "255") == 2
    err = capsys.readouterr().err
    assert err.startswith("orbitedge: error: card init: --scale, --offset: its uint8 input holds 0 to 1.1 ")
    assert err.endswith("dark ground (0.05) and cloud (0.9) both read as code 255, so the model cannot tell them "
                        "apart; give the scaling the model was calibrated for (its int8 representative dataset), or "
                        "calibrate it again on inputs made this way\n")
    assert not model.with_suffix(".json").exists()
    assert card_init(model, "--classes", "clear,cloud") == 0


def test_an_integer_output_that_cannot_read_half_is_refused_and_no_card_is_written(tmp_path, capsys):
    """A sigmoid quantised to uint8 at 1/512 holds 0 to 0.498: not one pixel could be cloud at the stage's 0.5. At
    1/255 it holds 0 to 1 and is carded."""
    model = tmp_path / "halved.onnx"
    model.write_bytes(onnx_uint8_sigmoid(1 / 512))
    assert card_init(model, activation=None) == 2
    assert ("card init: the model's output: its uint8 output holds at most 0.498 (quantisation scale 0.00195, zero "
            "point 0): no pixel's probability reaches 0.5, where the cloud stage decides cloud, whatever the model "
            "computes; quantise its output over probabilities 0 to 1") in capsys.readouterr().err
    assert not model.with_suffix(".json").exists()
    model.write_bytes(onnx_uint8_sigmoid(1 / 255))
    assert card_init(model, activation=None) == 0
