"""What a cloud model's card says it is worth on real imagery, as a run carries it: the ``real_validation`` block of
the card's metrics (flat ``metrics``, STAC ``properties.orbitedge:metrics``), read and checked.

The shipped models' cards have one (``training.train_cloud``), and ``orbitedge card score``
(:mod:`.card_score`) writes one into a user's card; both are scored by :func:`.real_tiles.real_validation`, and
the report sets the block beside the run's scores. The block::

    "real_validation": {
      "data": "where the tiles come from and how they were labelled",
      "tiles": {"TILE": {"fpr": 0.01, ...}, ...},          # one object per tile, each with its false-positive rate
      "pooled": {"f1": 0.9, "iou": 0.8, "fpr": 0.01, "recall": 0.9},   # pixel counts summed over every tile
      "all SENSOR": {"f1": ..., "iou": ..., "fpr": ..., "recall": ...}, # optional, pooled over one sensor's tiles
      "threshold": 0.5                                     # optional: the probability the pixels were scored at
    }

Every score is a fraction 0..1, and so is the threshold. A run whose cloud_filter decides at another threshold says
so beside the card's figures (:meth:`rundir.run_info.RealValidation.threshold_note`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rundir.run_info import SENSOR_GROUP, RealScores, RealValidation

from .json_fields import is_number, is_str

SCORE_KEYS = ("f1", "iou", "fpr", "recall")


def _fraction(value: Any) -> bool:
    return is_number(value) and 0.0 <= value <= 1.0


def real_validation_problems(metrics: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
    """What is wrong with ``metrics``' ``real_validation`` block, each as (path below the metrics, what was expected,
    what was found); none without such a block."""
    real = metrics.get("real_validation")
    if real is None:
        return []
    if not isinstance(real, dict):
        return [("real_validation", "an object (see onboard.runtime.card_metrics)", real)]
    out: list[tuple[str, str, Any]] = []
    if not is_str(real.get("data")):
        out.append(("real_validation.data", "a string: where the tiles come from", real.get("data")))
    tiles = real.get("tiles")
    if not isinstance(tiles, dict) or not tiles:
        out.append(("real_validation.tiles", "an object with one object per tile", tiles))
    else:
        out += [(f"real_validation.tiles.{name}.fpr", "a fraction 0..1", tile.get("fpr")
                 if isinstance(tile, dict) else tile)
                for name, tile in tiles.items() if not (isinstance(tile, dict) and _fraction(tile.get("fpr")))]
    if "threshold" in real and not _fraction(real["threshold"]):
        out.append(("real_validation.threshold", "a probability 0..1: the threshold the tiles were scored at",
                    real["threshold"]))
    for group in ["pooled", *(g for g in real if g.startswith(SENSOR_GROUP))]:
        scores = real.get(group)
        if not isinstance(scores, dict):
            out.append((f"real_validation.{group}", f"an object with {', '.join(SCORE_KEYS)}", scores))
            continue
        out += [(f"real_validation.{group}.{key}", "a fraction 0..1", scores.get(key))
                for key in SCORE_KEYS if not _fraction(scores.get(key))]
    return out


def real_validation_of(metrics: Mapping[str, Any]) -> RealValidation | None:
    """The ``real_validation`` block of a card's ``metrics`` as a run carries it; None without one. The block must
    be sound (:func:`real_validation_problems` empty): ValueError otherwise."""
    real = metrics.get("real_validation")
    if real is None:
        return None
    problems = real_validation_problems(metrics)
    if problems:
        raise ValueError(f"card metrics: {problems[0][0]}: expected {problems[0][1]}, found {problems[0][2]!r}")

    def scores(group: Mapping[str, Any]) -> RealScores:
        return RealScores(*(group[key] for key in SCORE_KEYS))

    threshold = real.get("threshold")
    return RealValidation(real["data"], len(real["tiles"]), scores(real["pooled"]),
                          max(tile["fpr"] for tile in real["tiles"].values()),
                          {g[len(SENSOR_GROUP):]: scores(real[g]) for g in real if g.startswith(SENSOR_GROUP)},
                          None if threshold is None else float(threshold))
