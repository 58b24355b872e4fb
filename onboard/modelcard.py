"""Model cards: the typed description of a shipped or user model, read and validated from JSON, and written back.

A card is a JSON file beside the model (``<stem>.json``) or named explicitly. Its fields follow the STAC
Machine Learning Model extension where it has a name for them (``inputs`` is ``mlm:input``, ``outputs`` is
``mlm:output``, ``task`` one of ``mlm:tasks``, ``scaling`` a one-step ``value_scaling``), kept flat and small::

    {
      "name": "cloud-unet-int8",                  # str
      "version": "1.0.0",                         # str
      "task": "semantic-segmentation",            # str, an MLM task name where one fits
      "inputs": [{                                # exactly one input
        "name": "toa",                            # str
        "shape": [1, 256, 256, 4],                # list of int > 0, as the interpreter reports it (NHWC)
        "dtype": "int8",                          # tensor dtype in the model: float32, float16, (u)int8, int16, int32
        "bands": ["B", "G", "R", "NIR"],          # list of str: the channel order, len == shape[-1]
        "scaling": {"source": "toa_reflectance",  # str: the physical quantity the caller has
                    "scale": 1.0, "offset": 0.0}  # numbers: model input = scale * source + offset (before quantising)
      }],
      "outputs": [{                               # exactly one output
        "name": "cloud_logit", "shape": [1, 256, 256, 1], "dtype": "int8",
        "description": "per-pixel cloud logit"    # str, optional: what the channels mean and in what units
      }],
      "sha256": "<64 hex digits>",                # of the .tflite file
      "size_bytes": 123456,                       # int, of the .tflite file
      "ops": ["CONCATENATION", "CONV_2D"],        # list of str: the builtin operators in the model, sorted
      "training": {...},                          # object: data, seeds, steps, code version (free form)
      "metrics": {...}                            # object: held-out scores (free form, e.g. {"pixel_f1": 0.93})
    }
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rundir.errors import InputFileError

MODEL_DIR = Path(__file__).with_name("models")  # the shipped models, each with its card beside it
CARD_DTYPES = ("float32", "float16", "int8", "uint8", "int16", "int32")


@dataclass(frozen=True)
class Scaling:
    """How the model's real-valued input follows from a physical quantity: ``scale * source + offset``."""

    source: str
    scale: float
    offset: float

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Model input (float32) from ``values`` of the ``source`` quantity."""
        return (np.asarray(values, np.float32) * np.float32(self.scale) + np.float32(self.offset)).astype(np.float32)


@dataclass(frozen=True)
class TensorCard:
    """One input or output in a model card. ``bands`` and ``scaling`` are given for inputs only."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    bands: tuple[str, ...] | None = None
    scaling: Scaling | None = None
    description: str | None = None


@dataclass(frozen=True)
class Benchmark:
    """A model's latency on the reference host as ``benchmarks/models.py`` measured it (the card's ``benchmark``
    block): the median of ``runs`` single inferences with ``threads`` interpreter threads on ``host``."""

    host_latency_ms_p50: float  # ms
    runs: int
    threads: int
    host: str  # the machine, platform.machine()


@dataclass(frozen=True)
class ModelCard:
    """A validated model card (schema in this module's docstring); ``path`` is where it was read from."""

    name: str
    version: str
    task: str
    inputs: tuple[TensorCard, ...]
    outputs: tuple[TensorCard, ...]
    sha256: str
    size_bytes: int
    ops: tuple[str, ...]
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    benchmark: Benchmark | None = None  # set by benchmarks/models.py on shipped models

    @property
    def host_latency_s(self) -> float:
        """The median host latency of one inference from the ``benchmark`` block, s. InputFileError naming the
        card when it has none (``benchmarks/models.py`` measures it)."""
        if self.benchmark is None:
            raise InputFileError(self.path or self.name, "model card has no benchmark block (host_latency_ms_p50); "
                                 "measure it with python -m benchmarks.models")
        return self.benchmark.host_latency_ms_p50 / 1e3

    def to_json(self) -> dict[str, Any]:
        """The card as the JSON object of the schema (None-valued optional fields left out)."""
        def tensor(spec: TensorCard) -> dict[str, Any]:
            return {key: list(value) if isinstance(value, tuple) else value
                    for key, value in asdict(spec).items() if value is not None}
        return {"name": self.name, "version": self.version, "task": self.task,
                "inputs": [tensor(s) for s in self.inputs], "outputs": [tensor(s) for s in self.outputs],
                "sha256": self.sha256, "size_bytes": self.size_bytes, "ops": list(self.ops),
                "training": self.training, "metrics": self.metrics,
                **({"benchmark": asdict(self.benchmark)} if self.benchmark is not None else {})}


class _CardReader:
    """Reads a card's JSON object field by field, collecting every problem with its field path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def get(self, obj: Mapping[str, Any], key: str, where: str, kind: str,
            check: Callable[[Any], bool], required: bool = True) -> Any:
        if key not in obj:
            if required:
                self.problems.append(f"{where}{key}: missing (expected {kind})")
            return None
        value = obj[key]
        if not check(value):
            self.problems.append(f"{where}{key}: expected {kind}, found {value!r}")
            return None
        return value

    def benchmark(self, obj: Mapping[str, Any]) -> Benchmark | None:
        """The optional ``benchmark`` block, or None where the card has none."""
        raw = self.get(obj, "benchmark", "", "an object", lambda v: isinstance(v, dict), required=False)
        if raw is None:
            return None
        fields = (self.get(raw, "host_latency_ms_p50", "benchmark.", "a positive number", lambda v: _is_number(v) and v > 0),
                  self.get(raw, "runs", "benchmark.", "a positive integer", lambda v: _is_int(v) and v > 0),
                  self.get(raw, "threads", "benchmark.", "a positive integer", lambda v: _is_int(v) and v > 0),
                  self.get(raw, "host", "benchmark.", "a string", _is_str))
        return None if None in fields else Benchmark(*fields)

    def tensor(self, obj: Any, where: str, is_input: bool) -> TensorCard | None:
        if not isinstance(obj, dict):
            self.problems.append(f"{where.rstrip('.')}: expected an object, found {obj!r}")
            return None
        name = self.get(obj, "name", where, "a string", _is_str)
        shape = self.get(obj, "shape", where, "a list of positive integers",
                         lambda v: isinstance(v, list) and bool(v) and all(_is_int(d) and d > 0 for d in v))
        dtype = self.get(obj, "dtype", where, f"one of {CARD_DTYPES}", lambda v: v in CARD_DTYPES)
        description = self.get(obj, "description", where, "a string", _is_str, required=False)
        bands = scaling = None
        if is_input:
            bands = self.get(obj, "bands", where, "a list of band names",
                             lambda v: isinstance(v, list) and bool(v) and all(_is_str(b) for b in v))
            if bands is not None and shape is not None and len(bands) != shape[-1]:
                self.problems.append(f"{where}bands: {len(bands)} bands for {shape[-1]} channels (shape {shape})")
            raw = self.get(obj, "scaling", where, "an object", lambda v: isinstance(v, dict))
            if raw is not None:
                source = self.get(raw, "source", f"{where}scaling.", "a string", _is_str)
                scale = self.get(raw, "scale", f"{where}scaling.", "a finite non-zero number",
                                 lambda v: _is_number(v) and v != 0)
                offset = self.get(raw, "offset", f"{where}scaling.", "a finite number", _is_number)
                if None not in (source, scale, offset):
                    scaling = Scaling(source, float(scale), float(offset))
        if None in (name, shape, dtype) or (is_input and None in (bands, scaling)):
            return None
        return TensorCard(name, tuple(shape), dtype, tuple(bands) if bands else None, scaling, description)


def _is_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def shipped_card(name: str, model_dir: Path = MODEL_DIR) -> ModelCard:
    """The validated card of shipped model ``name`` (``model_dir/name.json``).
    InputFileError as :func:`load_card`."""
    return load_card(model_dir / f"{name}.json")


def load_card(path: str | Path) -> ModelCard:
    """Read and validate a model card. Raises InputFileError naming the file and every bad field."""
    path = Path(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise InputFileError(path, "model card not found") from err
    except (OSError, UnicodeDecodeError) as err:
        raise InputFileError(path, f"cannot read the model card: {err}") from err
    except json.JSONDecodeError as err:
        raise InputFileError(path, f"model card is not valid JSON: {err.msg} at line {err.lineno}") from err
    if not isinstance(obj, dict):
        raise InputFileError(path, f"model card must be a JSON object, found {type(obj).__name__}")
    reader = _CardReader()
    name = reader.get(obj, "name", "", "a string", _is_str)
    version = reader.get(obj, "version", "", "a string", _is_str)
    task = reader.get(obj, "task", "", "a string", _is_str)
    tensors = {}
    for key in ("inputs", "outputs"):
        items = reader.get(obj, key, "", "a list of exactly one object", lambda v: isinstance(v, list) and len(v) == 1)
        tensors[key] = [reader.tensor(item, f"{key}[{i}].", key == "inputs") for i, item in enumerate(items or [])]
    sha256 = reader.get(obj, "sha256", "", "64 lower-case hex digits",
                        lambda v: isinstance(v, str) and re.fullmatch("[0-9a-f]{64}", v) is not None)
    size_bytes = reader.get(obj, "size_bytes", "", "a positive integer", lambda v: _is_int(v) and v > 0)
    ops = reader.get(obj, "ops", "", "a list of operator names",
                     lambda v: isinstance(v, list) and all(_is_str(op) for op in v))
    training = reader.get(obj, "training", "", "an object", lambda v: isinstance(v, dict))
    metrics = reader.get(obj, "metrics", "", "an object", lambda v: isinstance(v, dict))
    benchmark = reader.benchmark(obj)
    if reader.problems:
        raise InputFileError(path, "bad model card: " + "; ".join(reader.problems))
    return ModelCard(name, version, task, tuple(tensors["inputs"]), tuple(tensors["outputs"]), sha256, size_bytes,
                     tuple(ops), training, metrics, path, benchmark)


def write_card(card: ModelCard, path: str | Path) -> None:
    """Write ``card`` as indented JSON (UTF-8, trailing newline)."""
    Path(path).write_text(json.dumps(card.to_json(), indent=2) + "\n", encoding="utf-8")



@functools.cache
def shipped_digests(model_dir: Path = MODEL_DIR) -> frozenset[str]:
    """The sha256 of every model shipped in ``model_dir``, as its card records it (cards that cannot be read are
    left out: loading their model reports them)."""
    digests = set()
    for card_path in model_dir.glob("*.json"):
        try:
            digests.add(json.loads(card_path.read_text(encoding="utf-8"))["sha256"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return frozenset(digests)
