"""pytest plugin for hardware-in-the-loop (HIL) tests: run the shipped models on a real device and compare them
with the host.

``--hil-device host|edgetpu|jetson|onnx-cuda|onnx-tensorrt`` (or the environment variable ORBITEDGE_HIL_DEVICE;
default host) picks the device under test; ``onnx-cuda`` and ``onnx-tensorrt`` run each model's ONNX twin on ONNX
Runtime's CUDA or TensorRT provider (the twin from ``--hil-models``, beside the model, or exported by tf2onnx). The ``device`` fixture describes it; the ``interpreter`` fixture makes ``onboard.runtime.model.Model``
instances on it; tests marked ``hil`` or ``requires_device(NAME, ...)`` are skipped, with the reason, when that
device is absent (for edgetpu: the library libedgetpu.so.1 cannot be loaded). Tests record latencies with the
``hil_metrics`` fixture, and ``--hil-metrics PATH`` writes them as JSON.

pytest loads this plugin through the ``pytest11`` entry point ``orbitedge`` (pyproject.toml); ``-p no:orbitedge``
turns it off.
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rundir.errors import OrbitEdgeError

from .bench import EDGETPU_SUFFIX, ONNX_DEVICES, resolve_models
from ..constants import EARTH_MEAN_RADIUS_KM, EARTH_MU_KM3_S2
from .interpreter import check_delegate, load_delegates, resolve_runtime
from .modelcard import MODEL_DIR
from .onnx_export import export_tflite
from .onnx_model import check_provider, provider_list
from .model import ONNX_RUNTIME, Model

DEVICES = ("host", "edgetpu", "jetson", *ONNX_DEVICES)
ENV_DEVICE = "ORBITEDGE_HIL_DEVICE"
JETSON_RELEASE = Path("/etc/nv_tegra_release")  # written by NVIDIA's Linux for Tegra
USAGE_ERROR_EXIT = 2  # the exit status of the orbitedge command for input it cannot use (app.cli)

_SETTINGS = pytest.StashKey[dict[str, Any]]()
_DEVICE = pytest.StashKey["Device"]()
_RECORDS = pytest.StashKey[list[dict[str, Any]]]()
_PROPERTY = "orbitedge_hil"  # the user property that holds a record (MetricsRecorder.record)


@dataclass(frozen=True)
class Device:
    """The device under test: its name, the delegate and threads models run with, the runtime and the machine.

    ``missing`` says why the device cannot be used here (and how to get it); None when it can.
    """

    name: str
    delegate: str
    threads: int
    runtime: str | None
    machine: dict[str, str]
    missing: str | None = None


def default_delegate(name: str) -> str:
    """The delegate a device runs int8 models with: the Edge TPU for edgetpu, ONNX Runtime's provider for the onnx
    devices, the CPU kernels otherwise."""
    return "edgetpu" if name == "edgetpu" else ONNX_DEVICES.get(name, "cpu")


def is_jetson() -> bool:
    """True on an NVIDIA Jetson (Linux for Tegra)."""
    return JETSON_RELEASE.is_file()


def probe(name: str, delegate: str | None = None) -> Device:
    """Describe device ``name`` (one of DEVICES) as found on this machine, loading its delegate to check it."""
    delegate = delegate or default_delegate(name)
    threads = 1 if name == "host" else os.cpu_count() or 1
    machine = {"machine": platform.machine(), "processor": platform.processor() or platform.machine(),
               "system": platform.platform(), "cpu_count": str(os.cpu_count())}
    if name == "jetson" and not is_jetson():
        return Device(name, delegate, threads, None, machine,
                      f"jetson absent: this machine is not an NVIDIA Jetson ({JETSON_RELEASE} is missing); "
                      "run the suite on the Jetson with --hil-device jetson")
    try:
        if name in ONNX_DEVICES:
            provider_list(delegate, Path("."))
            return Device(name, delegate, threads, ONNX_RUNTIME, machine)
        runtime = resolve_runtime()
        load_delegates(delegate, runtime)
    except OrbitEdgeError as err:
        return Device(name, delegate, threads, None, machine, f"{name} absent: {err}")
    return Device(name, delegate, threads, runtime.name, machine)


def ground_speed_m_s(altitude_km: float) -> float:
    """Speed of the sub-satellite point of a circular orbit at ``altitude_km`` over a non-rotating Earth, m/s."""
    radius_km = EARTH_MEAN_RADIUS_KM + altitude_km
    return 1e3 * math.sqrt(EARTH_MU_KM3_S2 / radius_km) * EARTH_MEAN_RADIUS_KM / radius_km


def frame_period_s(height_px: int, gsd_m: float, forward_overlap_fraction: float, altitude_km: float) -> float:
    """Time between frames of a push-frame camera imaging a continuous strip, s: the ground track advances one
    frame height less the forward overlap, ``height_px * gsd_m * (1 - overlap)``, at the ground speed."""
    return height_px * gsd_m * (1.0 - forward_overlap_fraction) / ground_speed_m_s(altitude_km)


def compiled_model(path: Path, model_dir: Path) -> Path:
    """For the Edge TPU: ``path`` when it is a compiled model (``*_edgetpu.tflite``), else ``<stem>_edgetpu.tflite``
    in ``model_dir``, as edgetpu_compiler names it. OrbitEdgeError when there is none: the delegate would leave every
    op of the uncompiled model on the CPU, and the CPU's latency would be recorded as the Edge TPU's."""
    if path.stem.endswith(EDGETPU_SUFFIX):
        return path
    compiled = model_dir / f"{path.stem}{EDGETPU_SUFFIX}.tflite"
    if not compiled.is_file():
        raise OrbitEdgeError(f"{path}: no compiled model {compiled.name} in {model_dir} (--hil-models): compile it "
                             f"with `edgetpu_compiler -o {model_dir} {path}`; uncompiled, its ops would run on the CPU "
                             "and their latency would pass for the Edge TPU's")
    return compiled


def onnx_twin(path: Path, model_dir: Path) -> Path:
    """For the ONNX devices: ``<stem>.onnx`` in ``model_dir`` or beside ``path``, else exported from the .tflite by
    tf2onnx (:func:`onboard.runtime.onnx_export.export_tflite`); ``path`` itself when it is an ONNX model."""
    if path.suffix == ".onnx":
        return path
    for twin in (model_dir / f"{path.stem}.onnx", path.with_suffix(".onnx")):
        if twin.is_file():
            return twin
    return export_tflite(path)


def model_path(model: str | Path) -> Path:
    """A shipped model's file for its name (``cloud_bgrn_int8``), or ``model`` itself as the path of a .tflite or
    .onnx file; OrbitEdgeError naming the shipped models for anything else (:func:`.bench.resolve_models`)."""
    paths = resolve_models(str(model)) if str(model) != "all" else []
    if len(paths) != 1:
        raise OrbitEdgeError(f"interpreter({str(model)!r}): expected one model, a shipped one's name or a path")
    return paths[0]


class MetricsRecorder:
    """Records what one test measured, among the test's ``user_properties`` (as ``record_property`` does), so that
    under pytest-xdist they reach the controller with its report; ``--hil-metrics PATH`` writes them all at the end
    of the session."""

    def __init__(self, properties: list[tuple[str, Any]], test: str, device: str):
        self._properties = properties
        self._test = test
        self._device = device

    def record(self, name: str, **values: Any) -> None:
        """Record ``values`` (put units in the keys: ``latency_ms=...``, ``deadline_ms=...``) under ``name``: numbers,
        text, booleans, None, and lists and mappings of them; numpy scalars and arrays (``np.percentile``,
        ``p90 <= deadline``), at any depth, as their Python values. TypeError, failing the test that records it,
        for any other value and for the keys the record holds itself (test, device; name is this method's)."""
        def plain(value: Any) -> Any:
            if isinstance(value, (np.generic, np.ndarray)):
                return value.tolist()
            raise TypeError(f"{type(value).__name__} {value!r}"[:80])

        if taken := sorted({"test", "device"} & set(values)):
            raise TypeError(f"hil_metrics.record({name!r}): {', '.join(taken)}: the record's own keys; name yours "
                            "otherwise")
        try:
            values = json.loads(json.dumps(values, default=plain))
        except TypeError as err:
            raise TypeError(f"hil_metrics.record({name!r}): expected numbers, text, booleans or lists of them, "
                            f"found {err}") from None
        self._properties.append((_PROPERTY, {"test": self._test, "device": self._device, "name": name, **values}))


class _Collector:
    """Gathers the records from each test's teardown report (it carries the test's user_properties): in this
    process, or, under pytest-xdist, in the controller, from the reports its workers send as each test ends, so a
    worker that crashes loses only the test it crashed in."""

    def __init__(self, records: list[dict[str, Any]]):
        self.records = records

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":
            self.records += [value for key, value in report.user_properties if key == _PROPERTY]


# ------------------------------------------------------------------------------------------------- hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("orbitedge", "orbitedge hardware-in-the-loop")
    group.addoption("--hil-device", choices=DEVICES, default=None,
                    help=f"device under test (default: ${ENV_DEVICE}, else host)")
    group.addoption("--hil-delegate", default=None, metavar="DELEGATE",
                    help="run the device's models with this delegate instead: cpu, edgetpu or external:PATH")
    group.addoption("--hil-models", type=Path, default=MODEL_DIR, metavar="DIR",
                    help="where edgetpu_compiler wrote the *_edgetpu.tflite models, or the ONNX twins are "
                         "(default: the shipped models)")
    group.addoption("--hil-metrics", type=Path, default=None, metavar="PATH",
                    help="write the latencies the HIL tests record to this JSON file")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hil: a hardware-in-the-loop test; skipped when the device under test "
                                       "(--hil-device) is absent")
    config.addinivalue_line("markers", "requires_device(*names): run only when the device under test is one of "
                                       f"names ({', '.join(DEVICES)}) and present; skip with the reason otherwise")
    chosen = config.getoption("hil_device") or os.environ.get(ENV_DEVICE)
    name = chosen or "host"
    if name not in DEVICES:
        raise pytest.UsageError(f"{ENV_DEVICE}={name!r}: choose one of {', '.join(DEVICES)}")
    _check_delegate(name, config.getoption("hil_delegate"))
    _check_models(config.getoption("hil_models"))
    config.stash[_SETTINGS] = {"device": name, "chosen": chosen is not None,
                               "delegate": config.getoption("hil_delegate"), "models": config.getoption("hil_models"),
                               "metrics": config.getoption("hil_metrics")}
    config.stash[_RECORDS] = []
    config.pluginmanager.register(_Collector(config.stash[_RECORDS]), "orbitedge-hil-records")


def _check_delegate(device: str, delegate: str | None) -> None:
    """pytest.UsageError for a ``--hil-delegate`` that is none of the device's (the ONNX devices' providers, the
    others' cpu, edgetpu or external:PATH), an external delegate's path that names no file, and one whose file does
    not load as a delegate (another architecture, not a delegate): each would otherwise error in every test, or skip
    every test as its device absent, a session that passes."""
    if delegate is None:
        return
    library = Path(delegate.removeprefix("external:"))
    if delegate.startswith("external:") and not library.is_file():
        raise pytest.UsageError(f"--hil-delegate {delegate}: expected the path of the delegate's .so file, found "
                                f"{'a folder' if library.is_dir() else 'no such file'}")
    try:
        (check_provider if device in ONNX_DEVICES else check_delegate)(delegate)
        if delegate.startswith("external:"):
            load_delegates(delegate, resolve_runtime())
    except (ValueError, OrbitEdgeError) as err:
        raise pytest.UsageError(f"--hil-delegate {delegate}: {err}") from None


def _check_models(models: Path) -> None:
    """pytest.UsageError for a ``--hil-models DIR`` that names no folder: a mistyped one would otherwise go unnoticed
    until a compiled model or an ONNX twin is looked for in it."""
    if not models.is_dir():
        raise pytest.UsageError(f"--hil-models {models}: expected a folder of models, found "
                                f"{'a file' if models.exists() else 'no such folder'}")


def pytest_report_header(config: pytest.Config) -> str:
    settings = config.stash[_SETTINGS]
    return (f"orbitedge HIL: device {settings['device']}, delegate "
            f"{settings['delegate'] or default_delegate(settings['device'])}")


def device_under_test(config: pytest.Config) -> Device:
    """The session's device, probed once on first use."""
    if _DEVICE not in config.stash:
        settings = config.stash[_SETTINGS]
        config.stash[_DEVICE] = probe(settings["device"], settings["delegate"])
    return config.stash[_DEVICE]


def pytest_runtest_setup(item: pytest.Item) -> None:
    marks = list(item.iter_markers("requires_device"))
    required = [name for mark in marks for name in mark.args]
    unknown = [repr(name) for name in required if name not in DEVICES]
    if unknown or not all(mark.args for mark in marks):
        pytest.fail(f"requires_device: expected one or more of {', '.join(DEVICES)}, found "
                    f"{', '.join(unknown) or 'none'}", pytrace=False)
    if not required and item.get_closest_marker("hil") is None:
        return
    settings = item.config.stash[_SETTINGS]
    if required and settings["device"] not in required:
        pytest.skip(f"requires {' or '.join(required)}; the device under test is {settings['device']} "
                    "(choose it with --hil-device)")
    dut = device_under_test(item.config)
    if dut.missing:
        pytest.skip(dut.missing)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """The recorded latencies, when a device was chosen (--hil-device or the environment) or --hil-metrics given."""
    records = config.stash[_RECORDS]
    path = config.stash[_SETTINGS]["metrics"]
    if records and (config.stash[_SETTINGS]["chosen"] or path is not None):
        terminalreporter.write_sep("-", f"orbitedge HIL latencies on {config.stash[_SETTINGS]['device']}")
        for r in records:
            shown = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in r.items() if k not in ("test", "device", "name"))
            terminalreporter.write_line(f"{r['name']}: {shown}")
    if path is not None:
        terminalreporter.write_line(f"orbitedge HIL: {len(records)} record(s) written to {path}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the records to ``--hil-metrics``, with the device (probed here if no test has); in the controller
    under pytest-xdist, not in its workers."""
    config = session.config
    path = config.stash[_SETTINGS]["metrics"]
    if path is None or hasattr(config, "workerinput"):
        return
    document = {"device": asdict(device_under_test(config)), "records": config.stash[_RECORDS]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def device(pytestconfig: pytest.Config) -> Device:
    """The device under test; skips the test when it is absent, with the reason."""
    dut = device_under_test(pytestconfig)
    if dut.missing:
        pytest.skip(dut.missing)
    return dut


@pytest.fixture(scope="session")
def interpreter(device: Device, request: pytest.FixtureRequest) -> Callable[..., Model]:
    """Factory: ``interpreter(model, threads=None)`` -> an ``onboard.runtime.model.Model`` on the device under test.

    ``model`` is a shipped model name or a .tflite or .onnx path; on the Edge TPU its compiled ``*_edgetpu.tflite``
    from ``--hil-models`` (:func:`compiled_model`: required), on the onnx devices its ONNX twin (:func:`onnx_twin`).
    Models are loaded once per session. A model that cannot be loaded or run on the device (a name that is no
    shipped model, a bad file, tensors or ops the runtime cannot run, a crash of the interpreter in its trial run)
    ends the session with exit status 2 and the error naming the file, as the ``orbitedge`` command does; under
    pytest-xdist, which would lose that reason with the worker, it fails the test with it and stops the session.
    """
    loaded: dict[tuple[Path, int], Model] = {}
    model_dir = request.config.stash[_SETTINGS]["models"]

    def make(model: str | Path, threads: int | None = None) -> Model:
        try:
            path = model_path(model)
            key = (path, threads or device.threads)
            if key not in loaded:
                if device.delegate == "edgetpu":
                    path = compiled_model(path, model_dir)
                elif device.name in ONNX_DEVICES:
                    path = onnx_twin(path, model_dir)
                runtime = device.runtime if device.runtime and path.suffix == ".tflite" else "auto"
                loaded[key] = Model(path, delegate=device.delegate, threads=key[1], runtime=runtime)
        except (OrbitEdgeError, ValueError) as err:
            message = f"orbitedge HIL: {err}"
            if hasattr(request.config, "workerinput"):
                request.session.shouldstop = message
                pytest.fail(message, pytrace=False)
            pytest.exit(message, returncode=USAGE_ERROR_EXIT)
        return loaded[key]

    return make


@pytest.fixture
def hil_metrics(request: pytest.FixtureRequest) -> MetricsRecorder:
    """Records this test's measurements: ``hil_metrics.record("cloud_bgrn_int8", latency_ms=5.7)``."""
    return MetricsRecorder(request.node.user_properties, request.node.nodeid, request.config.stash[_SETTINGS]["device"])
