"""A stage's model on the scenario's hardware (onboard/scenario/model_hardware.py): an accelerator that runs
full-int8 models only refuses a float model at the stage's YAML path and line, as bench --profile does, where a run
credited it with the Edge TPU's int8 speed; int8 models, and float models on CPU profiles, pass."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from app.cli import main
from onboard.runtime.hardware import load_profile, profile_names
from onboard.scenario.config import load_scenario
from onboard.scenario.model_hardware import model_on_hardware
from rundir.errors import ConfigError
from tests.user_models import mixed_int8_model, user_model

BASE = Path(__file__).parent / "data" / "base.yaml"


def scenario(tmp_path, model, hardware):
    text = BASE.read_text().replace("  radio: {rate_mbps: 100}\n",
                                    f"  radio: {{rate_mbps: 100}}\n  compute: {{hardware: {hardware}}}\n")
    text = text.replace("pipeline:\n", f"pipeline:\n  - stage: cloud_filter\n    model: {model}\n    tile_px: 64\n")
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path, text.splitlines().index(f"    model: {model}") + 1


def test_the_edge_tpu_profiles_are_the_int8_only_ones():
    assert {n for n in profile_names() if load_profile(n).int8_only} == {"coral-usb", "coral-devboard"}


@pytest.mark.parametrize("hardware", ["coral-usb", "coral-devboard"])
def test_a_float_model_on_an_int8_only_accelerator_is_refused_at_its_line(tmp_path, hardware):
    path, line = scenario(tmp_path, "cloud_bgrn_float32", hardware)
    with pytest.raises(ConfigError) as err:
        load_scenario(path)
    text = str(err.value)
    assert f":{line}: pipeline[0].model: expected a full-int8 model: {hardware} runs models on its accelerator " \
           "(delegate edgetpu), which runs full-int8 models only (every op on int8 or uint8 tensors)" in text
    assert ("found cloud_bgrn_float32, not full-int8: float32 input and output; float32 tensors inside: 31 of 33 (ops "
            "CONCATENATION, CONV_2D, DEPTHWISE_CONV_2D, LOGISTIC, RESIZE_BILINEAR)") in text


@pytest.mark.parametrize("model, hardware", [("cloud_bgrn_int8", "coral-usb"), ("auto", "coral-usb"),
                                             ("cloud_bgrn_float32", "host"), ("cloud_bgrn_float32", "rpi4")])
def test_int8_models_and_float_models_on_cpus_pass(tmp_path, model, hardware):
    path, _ = scenario(tmp_path, model, hardware)
    assert load_scenario(path).spacecraft.compute.hardware == hardware


def test_run_refuses_it_before_running_with_exit_2(tmp_path, capsys):
    path, line = scenario(tmp_path, "cloud_bgrn_float32", "coral-usb")
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"scenario.yaml:{line}: pipeline[0].model: expected a full-int8 model" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_a_stage_without_a_model_file_or_a_classic_method_is_not_judged(tmp_path):
    class Params:
        method = "spectral"
        model = "cloud_bgrn_float32"

    coral = {"spacecraft": {"compute": {"hardware": "coral-usb"}}}
    assert model_on_hardware(Params(), coral, tmp_path) == []
    assert model_on_hardware(type("Encode", (), {"format": "png"})(), coral, tmp_path) == []
    assert len(model_on_hardware(type("P", (), {"model": "cloud_bgrn_float32"})(), coral, tmp_path)) == 1


def test_a_uint8_model_and_one_compiled_for_the_edge_tpu_are_integer_models(tmp_path):
    """The Coral model zoo's models take uint8, and edgetpu_compiler compiles only full-integer models (its
    _edgetpu.tflite files): neither is refused; a float model of the user's is."""
    models = tmp_path / "models"
    for name in ("uint8.tflite", "float16.onnx"):
        model = user_model(name, models)
        assert main(["card", "init", str(model), "--task", "segmentation", "--bands", "B,G,R,NIR", "--activation",
                     "softmax"]) == 0
    (models / "uint8.tflite").rename(models / "net_edgetpu.tflite")
    (models / "uint8.json").rename(models / "net_edgetpu.json")
    user_model("uint8.tflite", models)
    assert main(["card", "init", str(models / "uint8.tflite"), "--task", "segmentation", "--bands", "B,G,R,NIR",
                 "--activation", "softmax"]) == 0
    data = {"spacecraft": {"compute": {"hardware": "coral-usb"}}}
    judged = {name: model_on_hardware(SimpleNamespace(model=f"models/{name}", method="model"), data, tmp_path)
              for name in ("uint8.tflite", "net_edgetpu.tflite", "float16.onnx")}
    assert judged["uint8.tflite"] == [] and judged["net_edgetpu.tflite"] == []
    assert [i.path for i in judged["float16.onnx"]] == ["model"]


@pytest.mark.parametrize("kind, found", [
    ("int8_float_inside", "float32 tensors inside: 2 of 6 (ops SIN)"),  # int8 I/O: DEQUANTIZE -> SIN -> QUANTIZE
    ("int8_float_io", "float32 input and output"),  # int8 ops behind a QUANTIZE and a DEQUANTIZE
])
def test_a_model_that_is_int8_only_in_part_is_refused_saying_what_is_not(tmp_path, capsys, kind, found):
    """The model's own tensors decide, not its card's input dtype: int8 input and output around a float op passed
    (and was credited with the Edge TPU's int8 speed), and int8 ops behind float32 I/O were called a float32 model."""
    model = mixed_int8_model(kind, tmp_path / "models")
    assert main(["card", "init", str(model), "--task", "segmentation", "--bands", "B,G,R,NIR", "--classes",
                 "clear,cloud", "--activation", "softmax"]) == 0
    path, line = scenario(tmp_path, f"models/{model.name}", "coral-usb")
    path.write_text(path.read_text().replace("    tile_px: 64\n", "    tile_px: 64\n    overlap_px: 8\n"))  # < 48 / 2
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert (f"scenario.yaml:{line}: pipeline[0].model: expected a full-int8 model: coral-usb runs models on its "
            f"accelerator (delegate edgetpu), which runs full-int8 models only (every op on int8 or uint8 tensors), "
            f"and int8_conv_relative (7.3) is its int8 speed, found models/{model.name}, not full-int8: {found}\n"
            ) in err
    assert main(["validate", str(path), "--set", "spacecraft.compute.hardware=rpi4"]) == 0  # a CPU runs it


@pytest.mark.parametrize("hardware", ["coral-usb", "coral-devboard"])
@pytest.mark.parametrize("name", ["cloud_bgrn_int8", "cloud_rgb_int8", "superres_x2_int8"])
def test_the_shipped_int8_models_are_full_int8(tmp_path, hardware, name):
    data = {"spacecraft": {"compute": {"hardware": hardware}}}
    assert model_on_hardware(SimpleNamespace(model=name, method="model"), data, tmp_path) == []
