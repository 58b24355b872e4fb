"""The keys of the objects a STAC MLM model card is made of, and the check that a card has the required ones and no
key orbitedge would silently pass over.

The objects and their keys are MLM 1.4's (https://github.com/stac-extensions/mlm, README "Item Properties",
"Model Input Object", "Model Output Object", "Value Scaling Object"; the names ``pystac.extensions.mlm`` uses), the
classification extension 2.0's Class Object (https://github.com/stac-extensions/classification) and orbitedge's own
``orbitedge:`` fields. Other extensions' fields are welcome in a STAC Item, so a key not known here is refused only
where orbitedge owns its meaning: in an object the card's schema defines (all of whose plain keys it knows), in the
``mlm:`` or ``orbitedge:`` namespace, or when it is a near miss of a known key (``value_scalling``,
``classification:clases``), which would otherwise leave a model running without its pre- or post-processing.
"""

from __future__ import annotations

import difflib
import reprlib
from dataclasses import dataclass, field
from typing import Any

OWN_NAMESPACES = ("mlm", "orbitedge")  # every key of these namespaces is known here
NEAR_MISS = 0.8  # difflib ratio from which an unknown key reads as a misspelt known one
MLM_TASKS = ("regression", "classification", "scene-classification", "detection", "object-detection",
             "segmentation", "semantic-segmentation", "instance-segmentation", "panoptic-segmentation",
             "similarity-search", "generative", "image-captioning", "super-resolution")  # MLM 1.4's task enum


@dataclass(frozen=True)
class CardObject:
    """One kind of object in a card: ``required`` keys (with what each holds), the other ``optional`` keys it
    knows, the kinds of its nested objects (``nested``: key -> (kind, whether the value is a list of them)), and
    whether plain keys it does not know belong to other specifications (the Item's properties: STAC common
    metadata) rather than being refused."""

    title: str
    required: dict[str, str]
    optional: tuple[str, ...] = ()
    nested: dict[str, tuple[CardObject, bool]] = field(default_factory=dict)
    open_plain: bool = False

    @property
    def known(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


_STRUCTURE = {"shape": "a list of sizes", "dim_order": "a list of dimension names", "data_type": "a data type"}
VALUE_SCALING = CardObject("an MLM Value Scaling Object", {"type": "a scaling type"},
                           ("minimum", "maximum", "mean", "stddev", "value", "format", "expression"))
CLASS = CardObject("a classification Class Object", {"value": "the class's channel, an integer"},
                   ("name", "title", "description", "color_hint", "nodata", "percentage", "count"))
MODEL_INPUT = CardObject(
    "an MLM Model Input Object", {"name": "a string", "bands": "a list of band names", "input": "an object"},
    ("description", "value_scaling", "resize_type", "pre_processing_function", "orbitedge:source", "orbitedge:dn_bits"),
    {"input": (CardObject("an MLM Input Structure Object", _STRUCTURE), False),
     "value_scaling": (VALUE_SCALING, True)})
MODEL_OUTPUT = CardObject(
    "an MLM Model Output Object", {"name": "a string", "tasks": "a list of MLM task names", "result": "an object"},
    ("description", "classification:classes", "post_processing_function"),
    {"result": (CardObject("an MLM Result Structure Object", _STRUCTURE), False),
     "classification:classes": (CLASS, True)})
PROPERTIES = CardObject(
    "the MLM Item properties", {"mlm:name": "a string", "mlm:architecture": "a string",
                                "mlm:tasks": "a list of MLM task names", "mlm:input": "a list of one object",
                                "mlm:output": "a list of one object"},
    ("mlm:framework", "mlm:framework_version", "mlm:memory_size", "mlm:total_parameters", "mlm:pretrained",
     "mlm:pretrained_source", "mlm:batch_size_suggestion", "mlm:accelerator", "mlm:accelerator_constrained",
     "mlm:accelerator_summary", "mlm:accelerator_count", "mlm:hyperparameters",
     "orbitedge:ops", "orbitedge:training", "orbitedge:metrics", "orbitedge:benchmark"),
    {"mlm:input": (MODEL_INPUT, True), "mlm:output": (MODEL_OUTPUT, True)}, open_plain=True)


def card_problems(item: dict[str, Any]) -> list[tuple[str, str]]:
    """``(path, problem)`` for each required key missing from a STAC MLM Item's ``properties`` and the objects
    within them, each key orbitedge would pass over (see the module's docstring), and each task that is a near
    miss of one of MLM's (a task of its own passes); paths as ``properties.mlm:input[0].bands``."""
    props = item.get("properties")
    if not isinstance(props, dict):
        return []  # the core STAC Item schema refuses it
    problems = _object_problems(props, PROPERTIES, "properties")
    outputs = props.get("mlm:output") if isinstance(props.get("mlm:output"), list) else []
    task_lists = [("properties.mlm:tasks", props.get("mlm:tasks"))] + [
        (f"properties.mlm:output[{i}].tasks", o.get("tasks")) for i, o in enumerate(outputs) if isinstance(o, dict)]
    for at, tasks in task_lists:
        for j, task in enumerate(tasks if isinstance(tasks, list) else ()):
            if task not in MLM_TASKS and difflib.get_close_matches(str(task), MLM_TASKS, n=1, cutoff=NEAR_MISS):
                problems.append((f"{at}[{j}]", _expected(task, MLM_TASKS, "MLM's tasks")))
    return problems


def _object_problems(obj: dict[str, Any], kind: CardObject, at: str) -> list[tuple[str, str]]:
    """What is wrong with ``obj``, an object of ``kind`` at path ``at``, and with the objects nested in it."""
    problems = [(f"{at}.{key}", f"missing (expected {what}, a required key of {kind.title})")
                for key, what in kind.required.items() if key not in obj]
    for key in obj:
        namespace = key.partition(":")[0] if ":" in key else None
        close = difflib.get_close_matches(key, kind.known, n=1, cutoff=NEAR_MISS)
        if key not in kind.known and (close or namespace in OWN_NAMESPACES or (namespace is None
                                                                               and not kind.open_plain)):
            problems.append((f"{at}.{key}", _expected(key, kind.known, f"the keys of {kind.title}") +
                             "; orbitedge would pass over it"))
    for key, (inner, many) in kind.nested.items():
        value = obj.get(key)
        if value is None:
            continue  # missing (said above), or null: the flat card's reader says what it needs there
        if many and not isinstance(value, list):
            problems.append((f"{at}.{key}", f"expected a list, each item {inner.title}, found {reprlib.repr(value)}"))
            continue
        for i, one in enumerate(value if many else [value]):
            where = f"{at}.{key}[{i}]" if many else f"{at}.{key}"
            if isinstance(one, dict):
                problems += _object_problems(one, inner, where)
            else:
                problems.append((where, f"expected {inner.title}, found {reprlib.repr(one)}"))
    return problems


def _expected(found: Any, known: tuple[str, ...], what: str) -> str:
    """``expected K (the one of WHAT it resembles), found F`` when ``found`` is a near miss of a ``known`` value,
    else ``expected one of WHAT (K1, K2, ...), found F``."""
    close = difflib.get_close_matches(found, known, n=1, cutoff=NEAR_MISS) if isinstance(found, str) else []
    if close:
        return f"expected {close[0]!r} (the one of {what} it resembles), found {found!r}"
    return f"expected one of {what} ({', '.join(known)}), found {found!r}"
