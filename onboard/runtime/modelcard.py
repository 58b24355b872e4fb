"""Model cards: the typed description of a shipped or user model, read and validated from JSON, and written back.

A card is a JSON file beside the model (``<stem>.json``) or named explicitly, in one of two forms read into the one
:class:`ModelCard`:

- a STAC Item with the Machine Learning Model extension (:mod:`onboard.runtime.mlm`), as ``orbitedge card init`` writes
  it for a user's model: ``properties`` carry ``mlm:name``, ``mlm:tasks``, ``mlm:framework``, ``mlm:accelerator``,
  ``mlm:input`` (bands, ``input.shape``/``dim_order``/``data_type``, ``value_scaling`` per band) and
  ``mlm:output`` (``result``, ``classification:classes``, ``post_processing_function``); the ``model`` asset carries
  the file's name, ``file:size`` and ``file:checksum``; orbitedge's own fields are ``orbitedge:*``.
- the flat form of the shipped cards, which names the same things directly::

    {
      "name": "cloud-unet-int8",                  # str
      "version": "1.0.0",                         # str
      "task": "semantic-segmentation",            # str, an MLM task name where one fits
      "inputs": [{                                # exactly one input
        "name": "toa",                            # str
        "shape": [1, 256, 256, 4],                # list of int > 0 (-1 for a dynamic batch), as in the model
        "dtype": "int8",                          # tensor dtype in the model: float32, float16, (u)int8, int16, int32
        "bands": ["B", "G", "R", "NIR"],          # list of str: the channel order, len == the channel count
        "scaling": {"source": "toa_reflectance",  # str: the physical quantity the caller has (or "dn")
                    "scale": 1.0, "offset": 0.0}, # numbers, or one per band: model input = scale * source + offset
                                                  # "dn_bits": 12 with source "dn" (required there, only there):
                                                  # the bit depth of the camera whose DN the model takes
        "dim_order": ["batch", "height", "width", "channel"]  # optional (this is the default)
      }],
      "outputs": [{                               # exactly one output
        "name": "cloud_logit", "shape": [1, 256, 256, 1], "dtype": "int8",
        "description": "per-pixel cloud logit",   # str, optional: what the channels mean and in what units
        "classes": ["clear", "cloud"],            # optional: the name of each channel
        "activation": "softmax"                   # optional: sigmoid or softmax turns the output into probabilities
      }],
      "sha256": "<64 hex digits>",                # of the model file
      "size_bytes": 123456,                       # int, of the model file
      "ops": ["CONCATENATION", "CONV_2D"],        # list of str: the operators in the model, sorted
      "training": {...},                          # object: data, seeds, steps, code version (free form)
      "metrics": {...}                            # object: held-out scores (free form, e.g. {"pixel_f1": 0.93})
    }

Errors name the card's file, each bad field's path in the file and its line.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rundir.errors import InputFileError

from . import mlm, scaling
from .card_metrics import real_validation_problems
from .scaling import Scaling, read_scaling
from .json_fields import FieldReader, is_int, is_number, is_str, is_str_list, parse_json
from ..scenario.config_files import not_utf8
from ..scenario.yaml_source import line_of

CAMERA_SOURCES = scaling.CAMERA_SOURCES  # where stage plugins have imported it from (the example did)
MODEL_DIR = Path(__file__).with_name("models")  # the shipped models, each with its card beside it
CARD_DTYPES = ("float32", "float16", "int8", "uint8", "int16", "int32")
NHWC = mlm.NHWC
NCHW = ("batch", "channel", "height", "width")
# Optional top-level fields of the flat form, with their defaults (left out of the JSON when at them).
EXTRA_FIELDS = {"model_file": None, "framework": None, "architecture": "unknown", "accelerator": None,
                "created_utc": None}


@dataclass(frozen=True)
class TensorCard:
    """One input or output in a model card. ``bands`` and ``scaling`` are given for inputs only, ``classes`` and
    ``activation`` for outputs only; ``dim_order`` None means NHWC for an image (batch, height, width, channel)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    bands: tuple[str, ...] | None = None
    scaling: Scaling | None = None
    description: str | None = None
    dim_order: tuple[str, ...] | None = None
    classes: tuple[str, ...] | None = None
    activation: str | None = None

    @property
    def channels_first(self) -> bool:
        """True for a (batch, channel, height, width) image tensor."""
        return self.dim_order is not None and len(self.dim_order) == 4 and self.dim_order[1] == "channel"

    def activate(self, values: np.ndarray) -> np.ndarray:
        """Probabilities from raw outputs (..., K) through ``activation`` over the channels; as they are without."""
        values = np.asarray(values, np.float32)
        if self.activation == "sigmoid":
            return (1.0 / (1.0 + np.exp(-values))).astype(np.float32)
        if self.activation == "softmax":
            e = np.exp(values - values.max(axis=-1, keepdims=True))
            return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)
        return values


@dataclass(frozen=True)
class Benchmark:
    """A model's latency on the reference host as ``benchmarks/models.py`` (or ``orbitedge card init``) measured
    it (the card's ``benchmark`` block): the median of ``runs`` single inferences with ``threads`` interpreter
    threads on ``host``."""

    host_latency_ms_p50: float  # ms
    runs: int
    threads: int
    host: str  # the machine, platform.machine()


@dataclass(frozen=True)
class ModelCard:
    """A validated model card (schema in this module's docstring); ``path`` is where it was read from and ``form``
    the form it was written in (``flat`` or ``stac``), which :func:`write_card` keeps."""

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
    form: str = "flat"  # the file's form: "flat" (orbitedge's JSON) or "stac" (a STAC MLM Item)
    model_file: str | None = None  # the model's file name (the STAC form's model asset)
    framework: str | None = None  # mlm:framework, e.g. "ONNX"
    architecture: str = "unknown"  # mlm:architecture
    accelerator: str | None = None  # mlm:accelerator (None: any)
    created_utc: str | None = None  # when the card was made (the STAC Item's datetime)

    @property
    def host_latency_s(self) -> float:
        """The median host latency of one inference from the ``benchmark`` block, s. InputFileError naming the
        card when it has none (``benchmarks/models.py`` or ``orbitedge card init`` measures it)."""
        if self.benchmark is None:
            raise InputFileError(self.path or self.name, "model card has no benchmark block (host_latency_ms_p50); "
                                 "measure it with python -m benchmarks.models, or write the card again with "
                                 "orbitedge card init")
        return self.benchmark.host_latency_ms_p50 / 1e3

    def to_json(self) -> dict[str, Any]:
        """The card as the JSON object of the flat form (None-valued optional fields left out)."""
        def tensor(spec: TensorCard) -> dict[str, Any]:
            fields = asdict(spec)
            if fields.get("scaling"):
                fields["scaling"] = {k: v for k, v in fields["scaling"].items() if v is not None}
            return {key: list(value) if isinstance(value, tuple) else value
                    for key, value in fields.items() if value is not None}
        extras = {key: getattr(self, key) for key in EXTRA_FIELDS if getattr(self, key) != EXTRA_FIELDS[key]}
        return {"name": self.name, "version": self.version, "task": self.task, **extras,
                "inputs": [tensor(s) for s in self.inputs], "outputs": [tensor(s) for s in self.outputs],
                "sha256": self.sha256, "size_bytes": self.size_bytes, "ops": list(self.ops),
                "training": self.training, "metrics": self.metrics,
                **({"benchmark": asdict(self.benchmark)} if self.benchmark is not None else {})}


def _read_benchmark(reader: FieldReader, obj: dict[str, Any]) -> Benchmark | None:
    """The optional ``benchmark`` block, or None where the card has none."""
    raw = reader.get(obj, "benchmark", "", "an object", lambda v: isinstance(v, dict), required=False)
    if raw is None:
        return None
    fields = (reader.get(raw, "host_latency_ms_p50", "benchmark.", "a positive number", lambda v: is_number(v) and v > 0),
              reader.get(raw, "runs", "benchmark.", "a positive integer", lambda v: is_int(v) and v > 0),
              reader.get(raw, "threads", "benchmark.", "a positive integer", lambda v: is_int(v) and v > 0),
              reader.get(raw, "host", "benchmark.", "a string", is_str))
    return None if None in fields else Benchmark(*fields)


def _is_shape(value: Any) -> bool:
    """A list of sizes > 0, the first (the batch) also -1 (a size chosen at run time)."""
    return (isinstance(value, list) and bool(value) and all(is_int(d) for d in value)
            and (value[0] > 0 or value[0] == -1) and all(d > 0 for d in value[1:]))


def channel_count(shape: list[int] | tuple[int, ...], dim_order: list[str] | tuple[str, ...] | None) -> int:
    """The channels of a tensor: its second size when ``dim_order`` names it ``channel`` (NCHW), else its last."""
    return shape[1] if dim_order and len(dim_order) > 1 and dim_order[1] == "channel" else shape[-1]


def activation_problem(activation: str | None, channels: int) -> str | None:
    """Why ``activation`` cannot make probabilities of an output of ``channels`` channels (softmax over one channel
    is 1.0 everywhere, so a cloud filter would drop every tile), or None."""
    if activation == "softmax" and channels == 1:
        return ("expected sigmoid, or no activation, for an output of one channel (softmax over one channel is 1.0 "
                "everywhere), found softmax")
    return None


def doubled_activation(activation: str, output_activation: tuple[str, str]) -> str:
    """Why ``activation`` cannot follow a model whose output already comes out of ``output_activation``
    (``(op, activation)``, :attr:`model.Model.output_activation`)."""
    op, made = output_activation
    squashed = " (a sigmoid of 0..1 lies in 0.5..0.73: every pixel would pass 0.5)" if activation == "sigmoid" else ""
    again = "a second" if activation == made else "a"
    return (f"the model's output already comes out of its {op} ({made}): the outputs are probabilities, and "
            f"{again} {activation} after it would squash them{squashed}; leave the activation out")


def _read_tensor(reader: FieldReader, obj: Any, where: str, is_input: bool) -> TensorCard | None:
    if not isinstance(obj, dict):
        reader.fail(where.rstrip("."), f"expected an object, found {obj!r}")
        return None
    name = reader.get(obj, "name", where, "a string", is_str)
    shape = reader.get(obj, "shape", where, "a list of positive integers (the first, the batch, may be -1)", _is_shape)
    dtype = reader.get(obj, "dtype", where, f"one of {CARD_DTYPES}", lambda v: v in CARD_DTYPES)
    description = reader.get(obj, "description", where, "a string", is_str, required=False)
    dim_order = reader.get(obj, "dim_order", where, "a list of dimension names, one per dimension of the shape",
                           lambda v: is_str_list(v) and (shape is None or len(v) == len(shape)), required=False)
    bands = scaling = classes = activation = None
    if is_input:
        bands = reader.get(obj, "bands", where, "a list of distinct band names (each channel's band, in order)",
                           lambda v: is_str_list(v) and len(set(v)) == len(v))
        channels = channel_count(shape, dim_order) if shape is not None else None
        if bands is not None and channels is not None and len(bands) != channels:
            order = f"; dim_order {list(dim_order)} puts the channels at dimension {list(dim_order).index('channel')}" \
                if dim_order and "channel" in dim_order else ""
            reader.fail(f"{where}bands", f"{len(bands)} bands for {channels} channels (shape {shape}{order})")
        scaling = read_scaling(reader, obj, where, len(bands) if bands else None)
    else:
        classes = reader.get(obj, "classes", where, "a list of class names", is_str_list, required=False)
        activation = reader.get(obj, "activation", where, f"one of {mlm.ACTIVATIONS}",
                                lambda v: v in mlm.ACTIVATIONS, required=False)
        problem = activation_problem(activation, channel_count(shape, dim_order)) if shape is not None else None
        if problem:
            reader.fail(f"{where}activation", f"{problem} (shape {shape})")
    if None in (name, shape, dtype) or (is_input and None in (bands, scaling)):
        return None
    return TensorCard(name, tuple(shape), dtype, tuple(bands) if bands else None, scaling, description,
                      tuple(dim_order) if dim_order else None, tuple(classes) if classes else None, activation)


def card_from_json(obj: dict[str, Any], reader: FieldReader, path: Path | None = None,
                   form: str = "flat") -> ModelCard | None:
    """The card of a flat-form JSON object, or None with every problem recorded in ``reader``."""
    name = reader.get(obj, "name", "", "a string", is_str)
    version = reader.get(obj, "version", "", "a string", is_str)
    task = reader.get(obj, "task", "", "a string", is_str)
    extras = {key: reader.get(obj, key, "", "a string", lambda v: v is None or is_str(v), required=False)
              for key in EXTRA_FIELDS}
    if extras["accelerator"] is not None and extras["accelerator"] not in mlm.ACCELERATORS:
        reader.fail("accelerator", f"expected null or one of {mlm.ACCELERATORS}, found {extras['accelerator']!r}")
    tensors = {}
    for key in ("inputs", "outputs"):
        items = reader.get(obj, key, "", "a list of exactly one object", lambda v: isinstance(v, list) and len(v) == 1)
        tensors[key] = [_read_tensor(reader, item, f"{key}[{i}].", key == "inputs") for i, item in enumerate(items or [])]
    sha256 = reader.get(obj, "sha256", "", "64 lower-case hex digits",
                        lambda v: isinstance(v, str) and re.fullmatch("[0-9a-f]{64}", v) is not None)
    size_bytes = reader.get(obj, "size_bytes", "", "a positive integer", lambda v: is_int(v) and v > 0)
    ops = reader.get(obj, "ops", "", "a list of operator names",
                     lambda v: isinstance(v, list) and all(is_str(op) for op in v))
    training = reader.get(obj, "training", "", "an object", lambda v: isinstance(v, dict))
    metrics = reader.get(obj, "metrics", "", "an object", lambda v: isinstance(v, dict))
    real = real_validation_problems(metrics or {})  # what runs quote of the model on real tiles
    for at, expected, found in real:
        reader.fail(f"metrics.{at}", f"missing (expected {expected})" if found is None else
                    f"expected {expected}, found {found!r}")
    if real:  # orbitedge card score writes the block, from a card that reads: it cannot mend this one
        reader.fail("metrics.real_validation", "remove the block (orbitedge card score writes it again)")
    benchmark = _read_benchmark(reader, obj)
    if reader.problems:
        return None
    return ModelCard(name, version, task, tuple(tensors["inputs"]), tuple(tensors["outputs"]), sha256, size_bytes,
                     tuple(ops), training, metrics, path, benchmark, form,
                     **{k: v if v is not None else EXTRA_FIELDS[k] for k, v in extras.items()})


def shipped_card(name: str, model_dir: Path = MODEL_DIR) -> ModelCard:
    """The validated card of shipped model ``name`` (``model_dir/name.json``).
    InputFileError as :func:`load_card`."""
    return load_card(model_dir / f"{name}.json")


def load_card(path: str | Path) -> ModelCard:
    """Read and validate a model card in either form (a STAC MLM Item, or flat). Raises InputFileError naming the
    file and every bad field, with its path in the file and its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as err:
        raise InputFileError(path, "model card not found") from err
    except UnicodeDecodeError as err:  # JSON is UTF-8 (RFC 8259, section 8.1)
        line = err.object.count(b"\n", 0, err.start) + 1
        found = not_utf8(err.object, err)
        raise InputFileError(path, f"line {line}: expected UTF-8 JSON text, found {found}") from None
    except OSError as err:
        raise InputFileError(path, f"cannot read the model card: {err}") from err
    return read_card(text, path)


def read_card(text: str, path: Path) -> ModelCard:
    """Validate the JSON ``text`` of a model card in either form, as :func:`load_card` does; ``path`` is the file
    it is in (or, for a card not yet written, will be in), which errors name. Raises InputFileError."""
    obj = parse_json(text, path, "model card")
    if not isinstance(obj, dict):
        raise InputFileError(path, f"model card must be a JSON object, found {type(obj).__name__}")
    if obj.get("type") != "Feature":
        reader = FieldReader(text)
        card = card_from_json(obj, reader, path)
        if card is None:
            raise InputFileError(path, "bad model card: " + "; ".join(reader.problems))
        return card
    problems = mlm.stac_problems(obj)
    flat, asset = None, mlm.MODEL_ASSET
    if not problems:
        flat, problems, asset = mlm.flat_from_item(obj)
    reader = FieldReader(text, functools.partial(mlm.stac_path, asset=asset))
    card = card_from_json(flat, reader, path, "stac") if flat is not None and not problems else None
    if card is not None:  # pystac's own reading last: the flat reader names the field and its line
        problems = mlm.mlm_read_problems(obj)
        card = None if problems else card
    if card is None:
        located = [f"line {line}: {p}: {t}" if (line := line_of(reader.lines, p)) else f"{p or '<document>'}: {t}"
                   for p, t in problems]
        raise InputFileError(path, "bad model card (a STAC MLM Item): " + "; ".join(located + reader.problems))
    return card


def card_text(card: ModelCard) -> str:
    """``card`` as indented JSON with a trailing newline, in its ``form``: flat, or a STAC MLM Item."""
    obj = mlm.item_from_flat(card.to_json()) if card.form == "stac" else card.to_json()
    return json.dumps(obj, indent=2) + "\n"


def write_card(card: ModelCard, path: str | Path) -> None:
    """Write ``card`` (:func:`card_text`) to ``path``, UTF-8."""
    Path(path).write_text(card_text(card), encoding="utf-8")


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
