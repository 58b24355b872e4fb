"""Hardware in the loop: every shipped model loads and runs on the device under test (--hil-device), its output
matches the same model on the host CPU within quantisation tolerance, and its latency is recorded against the
quickstart mission's frame deadline (see conftest.FrameBudget)."""

import json
import statistics

import numpy as np
import pytest

from onboard.runtime.bench import shipped_models, timed_ms
from onboard.runtime.hil import model_path
from onboard.runtime.model import Model

pytestmark = pytest.mark.hil

MODELS = shipped_models()
ONE_LSB = 1  # int8 outputs: the device may round differently by one quantisation step...
AGREEING_SHARE = 0.99  # ...on at least this share of the outputs
FLOAT_TOLERANCE = 1e-3  # float32 outputs: within this fraction of the reference output's range
LATENCY_RUNS = 20


def card(name: str) -> dict:
    return json.loads(model_path(name).with_suffix(".json").read_text())


def is_int8(name: str) -> bool:
    return card(name)["inputs"][0]["dtype"] == "int8"


def model_input(model: Model, seed: int = 0) -> np.ndarray:
    """A raw input tensor: uniform real values in [0, 1) in the model's input scale, quantised as the model does."""
    return model.quantize(np.random.default_rng(seed).uniform(0.0, 1.0, model.input_shape))


@pytest.fixture
def on_device(device, interpreter):
    """The model on the device under test; float32 models are skipped on the Edge TPU."""
    def load(name: str) -> Model:
        if device.delegate == "edgetpu" and not is_int8(name):
            pytest.skip(f"{name}: the Edge TPU runs only full-int8 models")
        return interpreter(name)
    return load


@pytest.mark.parametrize("name", MODELS)
def test_model_runs_on_the_device(name, on_device):
    model = on_device(name)
    out = model.invoke_raw(model_input(model))
    assert out.shape == model.output_shape and out.dtype == model.output_dtype
    assert np.isfinite(out.astype(np.float64)).all()


@pytest.mark.parametrize("name", MODELS)
def test_output_matches_the_host_reference(name, on_device):
    model = on_device(name)
    reference = Model(model_path(name), delegate="cpu", threads=1)
    x = model_input(reference)
    got, want = model.invoke_raw(x), reference.invoke_raw(x)
    if np.issubdtype(want.dtype, np.integer):
        agreeing = np.abs(got.astype(np.int32) - want.astype(np.int32)) <= ONE_LSB
    else:
        agreeing = np.abs(got - want) <= FLOAT_TOLERANCE * float(np.ptp(want))
    assert agreeing.mean() >= AGREEING_SHARE, f"{name}: only {agreeing.mean():.2%} of outputs agree with the host"


@pytest.mark.parametrize("name", MODELS)
def test_latency_against_the_frame_deadline(name, on_device, frame_budget, hil_metrics):
    model = on_device(name)
    x = model_input(model)
    times_ms = timed_ms(model, x, LATENCY_RUNS, warmup=3)
    p50_ms, p90_ms = statistics.median(times_ms), float(np.percentile(times_ms, 90))
    deadline_ms = frame_budget.deadline_ms(card(name))
    hil_metrics.record(name, latency_ms_p50=p50_ms, latency_ms_p90=p90_ms, deadline_ms=deadline_ms,
                       inferences_per_frame=frame_budget.inferences(card(name)),
                       frame_period_ms=frame_budget.frame_period_ms, within_deadline=p90_ms <= deadline_ms)
    assert 0 < p50_ms <= p90_ms
