"""`orbitedge bench`: model resolution, the measured fields, twins side by side, accuracy from the cards, the
projection onto a hardware profile, and clean errors. Timings are checked for consistency, never for speed."""

import ctypes.util
import importlib.util
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from onboard.runtime import bench, hardware
from onboard.runtime.hardware import load_profile
from rundir.errors import OrbitEdgeError

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"
TINY_INT8 = DATA / "tiny_int8.tflite"
TINY_FLOAT32 = DATA / "tiny_float32.tflite"
MODEL_DIR = Path(__file__).parents[1] / "onboard" / "runtime" / "models"
FIELD_MODELS = DATA / "models"  # TFLite models from other projects (../shared/field-cases/models)
HAS_EDGETPU = ctypes.util.find_library("edgetpu") is not None
RESULT_FIELDS = {"model", "path", "family", "precision", "device", "runtime", "threads", "runs", "warmup_runs",
                 "size_bytes", "input_shape", "input_dtype", "input_px", "accuracy", "init_ms", "first_inference_ms",
                 "warmup_mean_ms", "latency_ms", "inferences_per_s", "mpx_per_s", "singlestream_p90_ms",
                 "offline_samples_per_s", "peak_rss_mb", "projected", "not_projected"}


@pytest.fixture(scope="module")
def tiny_results():
    return [bench.measure(path, runs=8, warmup=2) for path in (TINY_INT8, TINY_FLOAT32)]


def test_all_resolves_every_shipped_model_float32_and_int8():
    stems = [p.stem for p in bench.resolve_models("all")]
    assert stems == sorted(p.stem for p in MODEL_DIR.glob("*.tflite"))
    assert {s.rsplit("_", 1)[1] for s in stems} == {"int8", "float32"}


def test_a_name_or_a_path_resolves_to_one_file():
    assert bench.resolve_models("cloud_bgrn_int8") == [MODEL_DIR / "cloud_bgrn_int8.tflite"]
    assert bench.resolve_models(str(TINY_INT8)) == [TINY_INT8]


@pytest.mark.parametrize("spec", ["cloud_bgrn", "no/such/model.tflite"])
def test_an_unknown_model_is_an_error_naming_the_choices(spec):
    with pytest.raises(OrbitEdgeError, match="cloud_bgrn_int8|no such model file"):
        bench.resolve_models(spec)


@pytest.mark.parametrize("stem, family, precision", [
    ("cloud_bgrn_int8", "cloud_bgrn", "int8"), ("superres_x2_float32", "superres_x2", "float32"),
    ("cloud_bgrn_int8_edgetpu", "cloud_bgrn", "int8"), ("mystery", "mystery", "uint8")])
def test_family_and_precision_from_the_stem(stem, family, precision):
    assert bench.family_and_precision(stem, "uint8") == (family, precision)


def test_accuracy_comes_from_the_card_for_the_model_s_precision():
    cloud = json.loads((MODEL_DIR / "cloud_bgrn_int8.json").read_text())["metrics"]
    sr = json.loads((MODEL_DIR / "superres_x2_float32.json").read_text())["metrics"]
    cloud_acc = bench.heldout_accuracy(cloud, "int8")
    assert cloud_acc["pixel_f1"] == cloud["heldout"]["pixel_f1"] and "threshold" not in cloud_acc
    sr_acc = bench.heldout_accuracy(sr, "float32")
    assert sr_acc["mean_cpsnr_db"] == sr["heldout"]["mean_cpsnr_db"]["model_float32"]
    assert sr_acc["mean_ssim"] == sr["heldout"]["mean_ssim"]["model_float32"]


def test_measured_fields_are_consistent(tiny_results):
    r = tiny_results[0]
    lat = r.latency_ms
    assert set(r.to_json()) == RESULT_FIELDS
    assert (r.model, r.family, r.precision, r.device, r.runs, r.warmup_runs) == ("tiny_int8", "tiny", "int8",
                                                                                  "host", 8, 2)
    assert 0 < lat.min <= lat.p50 <= lat.p90 <= lat.p99 and lat.min <= lat.mean and lat.std >= 0
    assert r.singlestream_p90_ms == lat.p90
    assert math.isclose(r.inferences_per_s, 1e3 / lat.mean)
    assert r.input_px == 32 * 32 and math.isclose(r.mpx_per_s, r.inferences_per_s * 32 * 32 / 1e6)
    assert r.size_bytes == TINY_INT8.stat().st_size
    assert r.init_ms > 0 and r.first_inference_ms > 0 and r.offline_samples_per_s > 0 and r.peak_rss_mb > 1


def test_random_input_has_the_model_s_shape_and_dtype_and_a_fixed_seed():
    from onboard.runtime.model import Model

    model = Model(TINY_INT8)
    x = bench.random_input(model)
    assert x.shape == model.input_shape and x.dtype == model.input_dtype
    assert (x == bench.random_input(model)).all() and x.min() < -100 and x.max() > 100


def test_twins_are_paired_float32_then_int8(tiny_results):
    (twin,) = bench.twin_ratios(tiny_results)
    assert twin["family"] == "tiny"
    assert math.isclose(twin["int8_over_float32_size"], TINY_INT8.stat().st_size / TINY_FLOAT32.stat().st_size)


@pytest.mark.parametrize("dtype, figure", [("int8", "int8_conv_relative"), ("uint8", "int8_conv_relative"),
                                            ("float32", "cpu_relative"), ("float16", "cpu_relative")])
def test_projection_divides_host_latency_by_the_figure_a_run_uses(tiny_results, dtype, figure):
    """bench and the simulation project a model with one rule (hardware.model_speed): its input dtype picks
    int8_conv_relative or cpu_relative, and the projection names the figure."""
    from onboard.pipeline.stages import model_speed
    from onboard.runtime.modelcard import load_card

    profile = load_profile("rpi4")
    r = tiny_results[0]
    p = bench.project(r.latency_ms, dtype, profile)
    assert (p.speed_figure, p.relative_speed) == (figure, getattr(profile, figure))
    assert math.isclose(p.latency_ms_p50, r.latency_ms.p50 / getattr(profile, figure))
    assert (p.profile, p.delegate, p.input_dtype) == ("rpi4", "cpu", dtype) and p.basis.startswith("projected")
    assert f"/ {figure} of the profile ({dtype} input" in p.basis
    assert bench.project(r.latency_ms, dtype, profile, refusal="not full-int8") is None
    # with the card's reference-host latency, this machine's figures are scaled to it: p50 is the reference's
    ref = bench.project(r.latency_ms, dtype, profile, reference_ms_p50=2 * r.latency_ms.p50)
    speed = getattr(profile, figure)
    assert math.isclose(ref.latency_ms_p50, 2 * r.latency_ms.p50 / speed)
    assert ref.reference_ms_p50 == 2 * r.latency_ms.p50
    assert math.isclose(ref.latency_ms_p90, 2 * r.latency_ms.p90 / speed) and "reference-host p50" in ref.basis
    assert p.reference_ms_p50 is None and "this machine taken as the reference host" in p.basis
    for model in (TINY_INT8, TINY_FLOAT32):  # the stage's choice for the same model
        card = load_card(model.with_suffix(".json"))
        assert model_speed(card) == hardware.model_speed(card.inputs[0].dtype)


def test_a_float_model_is_projected_at_the_cpu_speed_naming_it(tiny_results, capsys):
    """A float32 model on rpi4: bench said "no projection on rpi4: its int8_conv_relative applies to int8 models
    only" while a run projected the same model with cpu_relative; now bench does as the run and says so."""
    rpi4 = load_profile("rpi4")
    assert main(["bench", str(TINY_FLOAT32), "--profile", "rpi4", "--runs", "3", "--warmup", "0"]) == 0
    table = capsys.readouterr().out
    assert "no projection" not in table
    assert (f"  projected on rpi4 (cpu, float32 input: cpu_relative x{rpi4.cpu_relative:g}; from this machine's "
            "latency: no reference in a card): p50 ") in table  # the tiny model's card has no benchmark block


def test_a_shipped_model_is_projected_as_a_run_projects_its_windows(tmp_path, capsys):
    """bench --profile rpi5 gave 1.59 ms per window where a run's compute section gave 2.73 ms: bench divided this
    machine's latency by the profile's speed, a run divides the card's (the reference host's, whose speed the
    profiles are relative to). Now both give the card's latency over the speed, whatever machine bench runs on."""
    from onboard.runtime.modelcard import load_card

    out = tmp_path / "bench.json"
    assert main(["bench", "cloud_bgrn_int8", "--profile", "rpi5", "--runs", "3", "--warmup", "0", "--json",
                 str(out)]) == 0
    [m] = json.loads(out.read_text())["models"]
    card = load_card(MODEL_DIR / "cloud_bgrn_int8.json")
    window_s = card.host_latency_s / hardware.relative_speed(load_profile("rpi5"), "int8")  # the stage's, per window
    assert m["projected"]["latency_ms_p50"] == pytest.approx(window_s * 1e3, rel=1e-9)
    assert m["projected"]["reference_ms_p50"] == card.benchmark.host_latency_ms_p50
    assert f"from the card's reference-host p50 {card.benchmark.host_latency_ms_p50:.2f} ms, as a run projects it" \
        in capsys.readouterr().out


def test_cli_bench_all_writes_every_field_for_every_model(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "all", "--runs", "3", "--warmup", "0", "--json", str(out), "--profile", "rpi4"]) == 0
    table = capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert [m["model"] for m in doc["models"]] == [p.stem for p in bench.resolve_models("all")]
    for m in doc["models"]:
        assert set(m) == RESULT_FIELDS and set(m["latency_ms"]) == {"min", "p50", "p90", "p99", "mean", "std"}
        assert m["accuracy"], m["model"]
        figure = "int8_conv_relative" if m["input_dtype"] in ("int8", "uint8") else "cpu_relative"
        assert m["projected"]["speed_figure"] == figure, m["model"]
    assert {t["family"] for t in doc["twins"]} == {"cloud_bgrn", "cloud_rgb", "superres_x2"}
    assert doc["profile"] == "rpi4" and "PROJECTED" in table and "projected on rpi4" in table


def test_cli_bench_a_path_with_its_card(tmp_path, capsys):
    model = tmp_path / "tiny_int8.tflite"
    shutil.copyfile(TINY_INT8, model)
    shutil.copyfile(TINY_INT8.with_suffix(".json"), model.with_suffix(".json"))
    assert main(["bench", str(model), "--runs", "2", "--warmup", "0", "--threads", "2"]) == 0
    assert "tiny_int8" in capsys.readouterr().out


@pytest.mark.skipif(HAS_EDGETPU, reason="libedgetpu is installed here")
def test_edgetpu_without_its_library_is_a_clean_error(capsys):
    assert main(["bench", "cloud_bgrn_int8", "--device", "edgetpu"]) == 2
    err = capsys.readouterr().err
    assert "libedgetpu.so.1" in err and "libedgetpu1-std" in err and "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["--device", "edgetpu", "--profile", "coral-usb"], "--device host"),
    (["--profile", "no-such-board"], "unknown hardware profile"),
])
def test_bad_options_exit_2_with_the_reason(args, message, capsys):
    assert main(["bench", "cloud_bgrn_int8", *args]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("option, text, what", [("--runs", "0", "runs, 1 or more"),
                                                ("--warmup", "-1", "runs, 0 or more"),
                                                ("--threads", "2.5", "threads, 1 or more")])
def test_a_count_that_is_not_a_whole_number_it_can_take_is_refused_by_the_parser(option, text, what, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "cloud_bgrn_int8", option, text])
    assert exit_info.value.code == 2
    assert f"argument {option}: {text!r}: expected a whole number of {what}" in capsys.readouterr().err


def test_cli_bench_of_a_model_that_crashes_the_interpreter_exits_2_with_the_reason(tmp_path):
    # Benchmarked by the bare interpreter, this model kills the process with "double free or corruption" (exit 134).
    model = tmp_path / "keyword_scrambled_8bit.tflite"
    shutil.copyfile(FIELD_MODELS / model.name, model)
    child = subprocess.run([sys.executable, "-m", "app.cli", "bench", str(model), "--runs", "2"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert child.returncode == 2, child.stderr
    assert child.stderr.startswith(f"orbitedge: error: {model}: orbitedge cannot run this model: SVDF ops 1, 3, 5")
    for reason in ("the activation state (tensors 4, 12", "is int8, expected int16", "output (tensor 53) is int32"):
        assert reason in child.stderr
    assert "Traceback" not in child.stderr and child.stdout == ""


@pytest.mark.parametrize("stem, op", [("audio_preprocessor_int8", "SignalWindow"), ("person_detect_vela", "ethos-u")])
def test_bench_of_a_model_with_custom_ops_exits_2_naming_the_op(capsys, stem, op):
    path = FIELD_MODELS / f"{stem}.tflite"
    assert main(["bench", str(path), "--runs", "2"]) == 2
    assert capsys.readouterr().err.startswith(f"orbitedge: error: {path}: the ai_edge_litert interpreter rejects the "
                                              f"model: Encountered unresolved custom op: {op}")



def test_bench_of_a_model_that_fails_on_its_input_exits_2_with_the_interpreter_s_reason(capsys):
    # Runs on zeros (the trial in a child), fails on the random input (indices past GATHER's table).
    path = DATA / "models" / "gather_from_input.tflite"  # made by tests/data/make_gather_model.py
    assert main(["bench", str(path), "--runs", "2", "--warmup", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"orbitedge: error: {path}: the ai_edge_litert interpreter fails to run the model: gather "
                          "index out of bounds; Node number 2 (GATHER) failed to invoke")
    assert "Traceback" not in err


def test_a_directory_named_like_a_model_is_refused_as_a_directory(tmp_path):
    (tmp_path / "model.tflite").mkdir()
    with pytest.raises(OrbitEdgeError, match="model.tflite: a folder, not a model file"):
        bench.resolve_models(str(tmp_path / "model.tflite"))


def test_runtime_both_measures_a_users_model_on_litert_and_its_onnx_twin_side_by_side(tmp_path, capsys):
    from tests.user_models import user_model

    model = user_model("uint8.tflite", tmp_path)
    twin = user_model("uint8.onnx", tmp_path)  # beside it: used as the ONNX twin, nothing exported
    assert bench.runtime_files([model], "both", "host") == [model, twin]
    assert bench.runtime_files([twin], "litert", "host") == [model]
    assert bench.runtime_files([model], "auto", "onnx-cuda") == [twin]
    out = tmp_path / "bench.json"
    assert main(["bench", str(model), "--runtime", "both", "--runs", "5", "--warmup", "1", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "host (ai_edge_litert" in table and "onnxruntime 1." in table
    doc = json.loads(out.read_text())
    assert [m["runtime"] for m in doc["models"]] == ["ai_edge_litert", "onnxruntime"]
    (pair,) = doc["runtime_pairs"]
    assert pair["outputs_agreeing"] >= 0.99 and f"{pair['outputs_agreeing']:.1%} of outputs within 1 LSB" in table


def test_runtime_both_takes_a_twin_beside_a_carded_model_that_shares_its_card(tmp_path, capsys):
    """The documented workflow: card init on X.tflite, its tf2onnx twin X.onnx beside it, bench --runtime both.
    bench refused it: the twin did not match "its card" X.json in size, sha256 and framework."""
    from tests.user_models import user_model

    model, twin = user_model("uint8.tflite", tmp_path), user_model("uint8.onnx", tmp_path)
    assert main(["card", "init", str(model), "--task", "segmentation", "--bands", "B,G,R,NIR",
                 "--activation", "softmax"]) == 0
    capsys.readouterr()
    assert main(["bench", str(model), "--runtime", "both", "--runs", "3", "--warmup", "0"]) == 0
    table = capsys.readouterr().out
    assert table.count("\nuint8 ") == 2 and "of outputs within 1 LSB of LiteRT's" in table
    assert main(["bench", str(twin), "--runs", "2", "--warmup", "0"]) == 0  # the twin alone, as the twin
    user_model("float16.onnx", tmp_path).replace(twin)  # not the same model: named, field by field
    assert main(["bench", str(model), "--runtime", "both", "--runs", "2", "--warmup", "0"]) == 2
    assert capsys.readouterr().err.startswith(f"orbitedge: error: {twin}: is no twin of uint8.tflite, whose card "
                                              f"{model.with_suffix('.json')} it shares beside it: line ")


def test_an_onnx_gpu_device_without_its_provider_exits_2_naming_the_package(tmp_path, capsys):
    from tests.user_models import user_model

    if "CUDAExecutionProvider" in __import__("onnxruntime").get_available_providers():
        pytest.skip("this ONNX Runtime has the CUDA provider")
    assert main(["bench", str(user_model("uint8.onnx", tmp_path)), "--device", "onnx-cuda"]) == 2
    assert "pip install onnxruntime-gpu" in capsys.readouterr().err


def test_a_twin_that_cannot_be_had_is_an_error(tmp_path):
    from tests.user_models import user_model

    with pytest.raises(OrbitEdgeError, match="no TFLite twin \\(float16.tflite\\) beside it"):
        bench.runtime_files([user_model("float16.onnx", tmp_path)], "both", "host")


def test_init_ms_leaves_out_reading_the_card_and_checking_the_model_against_it(tmp_path, monkeypatch):
    """Reading a STAC card imports and runs pystac (about 150 ms the first time): init_ms counts only the work a
    model without a card does too. On a clock that jumps 1000 s each time the card is read or checked, any of that
    inside the init timer shows, however fast or loaded the machine."""
    import dataclasses
    import time

    from onboard.runtime import model as model_module
    from onboard.runtime.modelcard import load_card, write_card

    model = tmp_path / "tiny_int8.tflite"
    shutil.copyfile(TINY_INT8, model)
    write_card(dataclasses.replace(load_card(TINY_INT8.with_suffix(".json")), form="stac", model_file=model.name),
               model.with_suffix(".json"))
    jumps = []
    real_clock = time.perf_counter
    monkeypatch.setattr(time, "perf_counter", lambda: real_clock() + 1000.0 * len(jumps))

    def jumping(function):
        def call(*args, **kwargs):
            jumps.append(function.__name__)
            return function(*args, **kwargs)
        return call

    monkeypatch.setattr(model_module, "load_card", jumping(model_module.load_card))
    monkeypatch.setattr(model_module.Model, "_check_card", jumping(model_module.Model._check_card))
    result = bench.measure(model, runs=1, warmup=0)
    assert jumps == ["load_card", "_check_card"]  # the card was read, and the model checked against it
    assert result.init_ms < 1000.0 * 1e3


def test_the_edge_tpu_projection_is_for_full_int8_models_only(tmp_path, capsys):
    """int8 input and output around a float op (DEQUANTIZE -> SIN -> QUANTIZE) were credited with the Edge TPU's
    int8 speed from the input's dtype alone; the model's own tensors decide, and the row says why it is not
    projected. The shipped int8 model is full-int8 and is projected."""
    from tests.user_models import mixed_int8_model

    model = mixed_int8_model("int8_float_inside", tmp_path)
    out = tmp_path / "bench.json"
    options = ["--profile", "coral-usb", "--runs", "2", "--warmup", "0"]
    assert main(["bench", str(model), *options, "--json", str(out)]) == 0
    table = capsys.readouterr().out
    (result,) = json.loads(out.read_text())["models"]
    assert result["input_dtype"] == "int8" and result["projected"] is None
    assert result["not_projected"] == ("coral-usb runs models on its accelerator (delegate edgetpu), which runs "
                                       "full-int8 models only (every op on int8 or uint8 tensors); "
                                       "int8_float_inside.tflite is not full-int8: float32 tensors inside: 2 of 6 "
                                       "(ops SIN)")
    assert f"  not projected: {result['not_projected']}" in table and "projected on coral-usb" not in table
    assert main(["bench", "cloud_bgrn_int8", *options]) == 0
    assert "projected on coral-usb (edgetpu, int8 input: int8_conv_relative x7.3; from the card's" in \
        capsys.readouterr().out


@pytest.mark.skipif(importlib.util.find_spec("tf2onnx") is None, reason="tf2onnx (the [train] extra) is not installed")
def test_the_onnx_export_runs_in_a_child_so_its_tensorflow_stays_out_of_the_bench_process_peak_rss(tmp_path):
    """--runtime both exports a twin with tf2onnx (TensorFlow, hundreds of MB) in a child process: the bench
    process, whose ru_maxrss is every model's peak_rss_mb, never imports TensorFlow; its error still reaches it."""
    model = tmp_path / TINY_INT8.name
    shutil.copyfile(TINY_INT8, model)
    shutil.copyfile(TINY_INT8.with_suffix(".json"), model.with_suffix(".json"))
    code = ("import sys\nfrom pathlib import Path\nfrom onboard.runtime import bench\n"
            f"files = bench.runtime_files([Path({str(model)!r})], 'both', 'host', Path({str(tmp_path / 'onnx')!r}))\n"
            "print([f.name for f in files], 'tensorflow' in sys.modules, 'tf2onnx' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == "['tiny_int8.tflite', 'tiny_int8.onnx'] False False"
    assert (tmp_path / "onnx" / "tiny_int8.onnx").is_file()


def test_peak_memory_is_in_mib_on_linux_and_on_macos(monkeypatch):
    """getrusage(2): ru_maxrss is KiB on Linux and bytes on macOS; a Mac user's bench read 1024x too large."""
    import resource
    import sys
    from types import SimpleNamespace

    from onboard.runtime import bench

    monkeypatch.setattr(resource, "getrusage", lambda who: SimpleNamespace(ru_maxrss=300 * 2**20))
    monkeypatch.setattr(sys, "platform", "darwin")
    assert bench._peak_rss_mib() == 300.0
    monkeypatch.setattr(resource, "getrusage", lambda who: SimpleNamespace(ru_maxrss=300 * 1024))
    monkeypatch.setattr(sys, "platform", "linux")
    assert bench._peak_rss_mib() == 300.0
