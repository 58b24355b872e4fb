"""The STAC Machine Learning Model extension (MLM, https://github.com/stac-extensions/mlm, version 1.4.0) as a model
card's file form: its schema URIs, the mapping of a per-band linear pre-processing onto MLM Value Scaling Objects
and back, and the check of a card as a STAC Item with ``pystac``.

A card pre-processes each band linearly, ``model input = scale * x + offset``. MLM's ``value_scaling`` gives one
Value Scaling Object per band (or one for all), each of one ``type``: ``scale`` (x / value), ``offset``
(x - value), ``z-score`` ((x - mean) / stddev) and ``min-max`` ((x - minimum) / (maximum - minimum)) are linear and
read as such; ``clip`` and ``processing`` are not, and orbitedge refuses them. Written back, a band takes the
simplest type that holds it: ``scale`` when its offset is 0, ``offset`` when its scale is 1, else ``z-score``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from .card_schema import card_problems

STAC_VERSION = "1.1.0"
MLM_SCHEMA = "https://stac-extensions.github.io/mlm/v1.4.0/schema.json"
FILE_SCHEMA = "https://stac-extensions.github.io/file/v2.1.0/schema.json"
MLM_PREFIX = "https://stac-extensions.github.io/mlm/"
SHA256_MULTIHASH = "1220"  # multihash prefix of a sha2-256 digest (0x12) of 32 bytes (0x20): file:checksum
FRAMEWORKS = {".tflite": "TensorFlow Lite", ".onnx": "ONNX"}  # mlm:framework of each model file type
ARTIFACT_TYPES = {".tflite": "tflite", ".onnx": "onnx"}  # the model asset's mlm:artifact_type
MEDIA_TYPES = {".tflite": "application/octet-stream; framework=tflite",
               ".onnx": "application/octet-stream; framework=onnx"}
ACCELERATORS = ("amd64", "cuda", "xla", "amd-rocm", "intel-ipex-cpu", "intel-ipex-gpu", "macos-arm")  # MLM's enum
POST_PROCESSING_FORMAT = "orbitedge"  # post_processing_function format whose expression names an ACTIVATIONS entry
ACTIVATIONS = ("sigmoid", "softmax")  # what turns raw outputs (logits) into probabilities, over the channels
NHWC = ("batch", "height", "width", "channel")
MODEL_ASSET = "model"  # the key of the model asset in the Items orbitedge writes
DEFAULT_SOURCE = "toa_reflectance"  # an MLM card without orbitedge:source: the input is computed from reflectance
# Where each field of a flat card lives in a STAC MLM Item ({asset}: the model asset's key).
TOP_PATHS = {"name": "properties.mlm:name", "version": "properties.version", "task": "properties.mlm:tasks",
             "framework": "properties.mlm:framework", "architecture": "properties.mlm:architecture",
             "accelerator": "properties.mlm:accelerator", "created_utc": "properties.datetime",
             "inputs": "properties.mlm:input", "outputs": "properties.mlm:output",
             "model_file": "assets.{asset}.href", "sha256": "assets.{asset}.file:checksum",
             "size_bytes": "assets.{asset}.file:size", "ops": "properties.orbitedge:ops",
             "training": "properties.orbitedge:training", "metrics": "properties.orbitedge:metrics",
             "benchmark": "properties.orbitedge:benchmark"}
TENSOR_PATHS = {"name": "name", "bands": "bands", "description": "description", "scaling.source": "orbitedge:source",
                "scaling.dn_bits": "orbitedge:dn_bits",
                "scaling": "value_scaling", "shape": "{io}.shape", "dtype": "{io}.data_type",
                "dim_order": "{io}.dim_order", "classes": "classification:classes",
                "activation": "post_processing_function"}


def linear_of(obj: Any) -> tuple[float, float] | str:
    """``(scale, offset)`` of one MLM Value Scaling Object (``None`` or ``{"type": null}``: no scaling), or a
    sentence saying why it is not a linear scaling orbitedge can apply."""
    if obj is None:
        return 1.0, 0.0
    if not isinstance(obj, dict):
        return f"expected a Value Scaling Object, found {obj!r}"
    kind = obj.get("type")
    needs = {"scale": ("value",), "offset": ("value",), "z-score": ("mean", "stddev"),
             "min-max": ("minimum", "maximum"), None: ()}
    if kind not in needs:
        return (f"type {kind!r}: orbitedge applies the linear types only ({', '.join(k for k in needs if k)}, "
                "or null); clip and processing are not linear")
    values = [obj.get(name) for name in needs[kind]]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return f"type {kind!r} needs numbers {', '.join(needs[kind])}, found {obj!r}"
    if kind == "scale":
        return (1.0 / values[0], 0.0) if values[0] else "type 'scale' with value 0 divides by zero"
    if kind == "offset":
        return 1.0, -float(values[0])
    if kind == "z-score":
        mean, stddev = values
        return (1.0 / stddev, -mean / stddev) if stddev else "type 'z-score' with stddev 0 divides by zero"
    if kind == "min-max":
        low, high = values
        return (1.0 / (high - low), -low / (high - low)) if high != low else "type 'min-max' with minimum == maximum"
    return 1.0, 0.0


def value_scaling(scales: tuple[float, ...], offsets: tuple[float, ...]) -> list[dict[str, Any]] | None:
    """MLM ``value_scaling`` for per-band ``scales`` and ``offsets``: None when every band is unscaled, one object
    when all bands share one scaling, else one object per band."""
    pairs = list(zip(scales, offsets))
    if all(pair == (1.0, 0.0) for pair in pairs):
        return None

    def one(scale: float, offset: float) -> dict[str, Any]:
        if offset == 0:
            return {"type": "scale", "value": 1.0 / scale}
        if scale == 1:
            return {"type": "offset", "value": -offset}
        return {"type": "z-score", "mean": -offset / scale, "stddev": 1.0 / scale}

    return [one(*pairs[0])] if len(set(pairs)) == 1 else [one(*pair) for pair in pairs]


def stac_problems(item: dict[str, Any]) -> list[tuple[str, str]]:
    """What ``pystac`` finds wrong with ``item`` as a STAC Item that uses the MLM extension: the core Item schema
    (pystac's own copy, no network), then the keys of its MLM objects (:func:`card_schema.card_problems`: every
    required one, no misspelt or unknown one orbitedge would pass over). :func:`mlm_read_problems` reads MLM's
    fields through ``pystac.extensions.mlm`` once orbitedge's own reader, which names each field, has read them."""
    import pystac
    from pystac.validation.stac_validator import JsonSchemaSTACValidator

    try:
        validator = JsonSchemaSTACValidator()
    except ImportError as err:
        return [("", f"checking a STAC card needs jsonschema, which pystac validates with: pip install jsonschema "
                     f"({err})")]
    try:
        validator.validate_core(item, pystac.STACObjectType.ITEM, item.get("stac_version", ""))
    except pystac.STACValidationError as err:
        where, problem = _schema_error(err)
        return [(where, f"not a valid STAC Item (pystac, STAC {STAC_VERSION} Item schema): {problem}")]
    except (pystac.STACError, KeyError, TypeError) as err:
        return [("", f"not a valid STAC Item: {err}")]
    if not any(str(uri).startswith(MLM_PREFIX) for uri in item.get("stac_extensions") or ()):
        return [("stac_extensions", f"expected the MLM extension's schema ({MLM_SCHEMA}) among them")]
    return card_problems(item)


def mlm_read_problems(item: dict[str, Any]) -> list[tuple[str, str]]:
    """What ``pystac.extensions.mlm`` cannot read of ``item``'s MLM fields (a field missing or malformed for
    pystac's accessors), as one ``("properties", problem)``; empty when it reads them all."""
    import pystac
    from pystac.extensions.mlm import MLMExtension

    try:
        # NOTE: each accessor of pystac's MLM classes raises when its required field is missing or malformed
        ext = MLMExtension.ext(pystac.Item.from_dict(item, preserve_dict=True, migrate=False))
        read = [ext.name, ext.architecture, ext.tasks]
        read += [(i.name, i.bands, i.input.shape, i.input.dim_order, i.input.data_type) for i in ext.input]
        read += [(o.name, o.tasks, o.result.shape, o.result.dim_order, o.result.data_type) for o in ext.output]
    except (pystac.STACError, pystac.errors.RequiredPropertyMissing, KeyError, TypeError, AttributeError) as err:
        return [("properties", f"pystac cannot read its MLM fields: {type(err).__name__} {err}")]
    return []


def _schema_error(err: Exception) -> tuple[str, str]:
    """The best jsonschema error behind pystac's STACValidationError: where in the Item (``a.b[0]``, "" for the
    Item itself), and what."""
    source = getattr(err, "source", None)
    best = source[0] if isinstance(source, list) and source else source
    where = ""
    for part in getattr(best, "absolute_path", ()) or ():
        where += f"[{part}]" if isinstance(part, int) else f"{'.' if where else ''}{part}"
    return where, getattr(best, "message", None) or str(err).splitlines()[0]


def stac_path(path: str, asset: str = MODEL_ASSET) -> str:
    """The path in a STAC MLM Item of field ``path`` of the flat card read from it: ``inputs[0].shape`` is
    ``properties.mlm:input[0].input.shape``."""
    tensor = re.fullmatch(r"(inputs|outputs)\[(\d+)\](?:\.(.*))?", path)
    if tensor is None:
        top, _, rest = path.partition(".")
        return TOP_PATHS.get(top, top).format(asset=asset) + (f".{rest}" if rest else "")
    kind, index, field = tensor.groups()
    base = f"{TOP_PATHS[kind]}[{index}]"
    if not field:
        return base
    key = next((k for k in sorted(TENSOR_PATHS, key=len, reverse=True) if field == k or field.startswith(k + ".")),
               None)
    if key is None:
        return f"{base}.{field}"
    return f"{base}.{TENSOR_PATHS[key].format(io='input' if kind == 'inputs' else 'result')}{field[len(key):]}"


def _drop_none(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None}


def _flat_input(obj: Any, at: str, problems: list[tuple[str, str]]) -> Any:
    """A flat input tensor from a Model Input Object at path ``at``."""
    if not isinstance(obj, dict):
        return obj
    structure = obj.get("input") if isinstance(obj.get("input"), dict) else {}
    bands = obj.get("bands")
    if isinstance(bands, list):
        names = [b.get("name") if isinstance(b, dict) else b for b in bands]
        for j, band in enumerate(bands):
            if isinstance(band, dict) and band.get("expression") is not None:
                problems.append((f"{at}.bands[{j}]", "a band computed by an expression; orbitedge feeds the camera's "
                                                      "bands as they are"))
        bands = names
    scaling = {"source": obj.get("orbitedge:source", DEFAULT_SOURCE), "scale": 1.0, "offset": 0.0,
               **({"dn_bits": obj["orbitedge:dn_bits"]} if "orbitedge:dn_bits" in obj else {})}
    raw = obj.get("value_scaling")
    if isinstance(raw, list) and isinstance(bands, list) and len(raw) not in (1, len(bands)):
        problems.append((f"{at}.value_scaling", f"expected one Value Scaling Object for all bands or one per band "
                                                f"({len(bands)}), found {len(raw)}"))
    elif raw is not None:
        pairs = [linear_of(v) for v in raw] if isinstance(raw, list) and raw else ["expected a list of objects"]
        for j, pair in enumerate(pairs):
            if isinstance(pair, str):
                problems.append((f"{at}.value_scaling[{j}]" if isinstance(raw, list) and raw else f"{at}.value_scaling",
                                 pair))
        if not any(isinstance(p, str) for p in pairs):
            scales, offsets = [p[0] for p in pairs], [p[1] for p in pairs]
            if len(pairs) == 1:
                scaling.update(scale=scales[0], offset=offsets[0])
            else:
                scaling.update(scale=scales, offset=offsets)
    return _drop_none({"name": obj.get("name"), "shape": structure.get("shape"), "dtype": structure.get("data_type"),
                       "dim_order": structure.get("dim_order"), "bands": bands, "scaling": scaling,
                       "description": obj.get("description")})


def _flat_output(obj: Any, at: str, problems: list[tuple[str, str]]) -> Any:
    """A flat output tensor from a Model Output Object at path ``at``."""
    if not isinstance(obj, dict):
        return obj
    result = obj.get("result") if isinstance(obj.get("result"), dict) else {}
    classes = obj.get("classification:classes")
    names = None
    if classes is not None:
        values = [c.get("value") if isinstance(c, dict) else None for c in classes] if isinstance(classes, list) else []
        if sorted(values, key=str) != list(range(len(values))) or not values:
            problems.append((f"{at}.classification:classes", "expected class objects with values 0, 1, ... (the "
                                                              f"output channels), found {classes!r}"))
        else:
            names = [c.get("name") for c in sorted(classes, key=lambda c: c["value"])]
    post = obj.get("post_processing_function")
    activation = None
    if post is not None:
        if isinstance(post, dict) and post.get("format") == POST_PROCESSING_FORMAT and post.get("expression") in ACTIVATIONS:
            activation = post["expression"]
        else:
            problems.append((f"{at}.post_processing_function", "expected null, or {\"format\": \"orbitedge\", "
                             f"\"expression\": one of {list(ACTIVATIONS)}}}, found {post!r}"))
    return _drop_none({"name": obj.get("name"), "shape": result.get("shape"), "dtype": result.get("data_type"),
                       "dim_order": result.get("dim_order"), "description": obj.get("description"),
                       "classes": names, "activation": activation})


def flat_from_item(item: dict[str, Any]) -> tuple[dict[str, Any] | None, list[tuple[str, str]], str]:
    """The flat card of a STAC MLM Item (already checked by :func:`stac_problems`), the ``(path, problem)`` pairs
    of what orbitedge cannot read in it, and the key of its model asset (for :func:`stac_path`)."""
    props = item["properties"]
    problems: list[tuple[str, str]] = []
    assets = item.get("assets") or {}
    key = next((k for k, a in assets.items() if isinstance(a, dict) and "mlm:model" in (a.get("roles") or ())), None)
    if key is None:
        return None, [("assets", "expected an asset with the role mlm:model (the model file)")], MODEL_ASSET
    asset = assets[key]
    checksum = asset.get("file:checksum")
    sha256 = checksum[len(SHA256_MULTIHASH):] if isinstance(checksum, str) and checksum.startswith(SHA256_MULTIHASH) \
        else checksum
    tasks = props.get("mlm:tasks")
    inputs, outputs = props.get("mlm:input"), props.get("mlm:output")
    flat = {"name": props.get("mlm:name"), "version": props.get("version", "unversioned"),
            "task": tasks[0] if isinstance(tasks, list) and tasks else tasks,
            "framework": props.get("mlm:framework"), "architecture": props.get("mlm:architecture"),
            "accelerator": props.get("mlm:accelerator"), "created_utc": props.get("datetime"),
            "model_file": asset.get("href"),
            "inputs": [_flat_input(v, f"properties.mlm:input[{i}]", problems) for i, v in enumerate(inputs)]
            if isinstance(inputs, list) else inputs,
            "outputs": [_flat_output(v, f"properties.mlm:output[{i}]", problems) for i, v in enumerate(outputs)]
            if isinstance(outputs, list) else outputs,
            "sha256": sha256, "size_bytes": asset.get("file:size"), "ops": props.get("orbitedge:ops", []),
            "training": props.get("orbitedge:training", {}), "metrics": props.get("orbitedge:metrics", {}),
            "benchmark": props.get("orbitedge:benchmark")}
    return _drop_none(flat), problems, key


def _default_order(shape: list[int]) -> list[str]:
    """MLM dim_order of a tensor in the NHWC convention: an image, or (batch, class) scores."""
    return list(NHWC) if len(shape) == 4 else ["batch", "class"][:len(shape)] if len(shape) <= 2 else \
        [f"dim{i}" for i in range(len(shape))]


def item_from_flat(card: dict[str, Any]) -> dict[str, Any]:
    """The STAC MLM Item of a flat card (``ModelCard.to_json()``)."""
    inp, out = card["inputs"][0], card["outputs"][0]
    bands, scaling = inp["bands"], inp["scaling"]
    def spread(v: Any) -> list[float]:
        return [float(x) for x in v] if isinstance(v, (list, tuple)) else [float(v)] * len(bands)
    model_input = _drop_none({
        "name": inp["name"], "bands": bands,
        "input": {"shape": inp["shape"], "dim_order": inp.get("dim_order") or _default_order(inp["shape"]),
                  "data_type": inp["dtype"]},
        "description": inp.get("description"), "orbitedge:source": scaling["source"],
        "orbitedge:dn_bits": scaling.get("dn_bits")})
    model_input["value_scaling"] = value_scaling(tuple(spread(scaling["scale"])), tuple(spread(scaling["offset"])))
    model_input["resize_type"] = None
    output = _drop_none({
        "name": out["name"], "tasks": [card["task"]], "description": out.get("description"),
        "result": {"shape": out["shape"], "dim_order": out.get("dim_order") or _default_order(out["shape"]),
                   "data_type": out["dtype"]},
        "classification:classes": [{"value": i, "name": c} for i, c in enumerate(out["classes"])]
        if out.get("classes") else None})
    output["post_processing_function"] = ({"format": POST_PROCESSING_FORMAT, "expression": out["activation"]}
                                          if out.get("activation") else None)
    suffix = "." + str(card.get("model_file", "")).rpartition(".")[2]
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    properties = _drop_none({
        "datetime": card.get("created_utc") or now, "version": card["version"], "mlm:name": card["name"],
        "mlm:architecture": card.get("architecture", "unknown"), "mlm:tasks": [card["task"]],
        "mlm:framework": card.get("framework") or FRAMEWORKS.get(suffix), "mlm:accelerator_constrained": False,
        "mlm:input": [model_input], "mlm:output": [output], "orbitedge:ops": card["ops"],
        "orbitedge:training": card["training"], "orbitedge:metrics": card["metrics"],
        "orbitedge:benchmark": card.get("benchmark")})
    properties["mlm:accelerator"] = card.get("accelerator")
    asset = _drop_none({"href": card.get("model_file"), "type": MEDIA_TYPES.get(suffix, "application/octet-stream"),
                        "roles": ["mlm:model", "model", "data"], "mlm:artifact_type": ARTIFACT_TYPES.get(suffix),
                        "file:size": card["size_bytes"], "file:checksum": SHA256_MULTIHASH + card["sha256"]})
    return {"type": "Feature", "stac_version": STAC_VERSION, "stac_extensions": [MLM_SCHEMA, FILE_SCHEMA],
            "id": card["name"], "geometry": None, "properties": properties, "links": [],
            "assets": {MODEL_ASSET: asset}}
