"""``orbitedge card score``: a user's cloud model scored on real labelled tiles, the scores written into its card's
metrics as a ``real_validation`` block (:mod:`.card_metrics`), so that every run of the model sets them beside its
own. The model runs as the cloud_filter stage runs it (:func:`onboard.pipeline.cloud.cloud_probability`): the
card's bands picked from the tiles' by name, the card's scaling, sliding windows, its activation and cloud channel,
cloud at the threshold.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rundir.errors import InputFileError, OrbitEdgeError

from ..pipeline.cloud import SEGMENTATION_TASKS, cloud_channel, cloud_probability
from ..pipeline.tiling import default_overlap_px, overlap_problem
from .card_metrics import real_validation_of
from .model import Model
from .modelcard import load_card, write_card
from .real_tiles import TILE_BANDS, load_real_tiles, real_validation


def score_card(model_path: Path, tiles_dir: Path, threshold: float = 0.5, overlap_px: int | None = None,
               threads: int = 1) -> dict[str, Any]:
    """Score the cloud model ``model_path`` (with its card beside it) on every tile of ``tiles_dir``
    (:mod:`.real_tiles`), cloud where its probability is at least ``threshold``, and write the scores into the card's
    metrics as ``real_validation`` (replacing an earlier block; the rest of the card unchanged, read back valid).
    ``overlap_px``: the sliding windows' overlap, under half the model's window as the cloud_filter stage requires
    (:func:`onboard.pipeline.tiling.overlap_problem`); None: :func:`onboard.pipeline.tiling.default_overlap_px`.
    Returns the block. InputFileError for a model, card or tile that cannot be scored (a card that is no cloud
    segmentation model, an input made from DN where the tiles hold TOA reflectance, bands the tiles lack);
    OrbitEdgeError for an overlap the stage would refuse."""
    model = Model(model_path, threads=threads)
    card = model.card
    if card is None:
        raise InputFileError(model_path, f"expected a model card at {model_path.with_suffix('.json')} (orbitedge card "
                                         "init writes one), found none")
    card_in = card.inputs[0]
    problem = (f"task {card.task!r}: a cloud segmentation model is scored" if card.task not in SEGMENTATION_TASKS else
               f"input made from {card_in.scaling.source}: the tiles hold TOA reflectance"
               if card_in.scaling.source != "toa_reflectance" else
               f"bands {list(card_in.bands)}: the tiles hold {list(TILE_BANDS)}"
               if not set(card_in.bands) <= set(TILE_BANDS) else None)
    if problem:
        raise InputFileError(card.path, problem)
    cloud_channel(model)  # an output with no cloud channel is named before any tile is read
    window_px = model.input_shape[1]
    overlap_px = default_overlap_px(window_px) if overlap_px is None else overlap_px
    if expected := overlap_problem(overlap_px, window_px, str(model_path)):
        raise OrbitEdgeError(f"card score: --overlap-px: expected {expected}, found {overlap_px}")
    tiles = load_real_tiles(tiles_dir)
    block = {"data": f"{tiles_dir}: {len(tiles)} tiles, scored by orbitedge card score",
             "threshold": threshold, "windows": f"{window_px} px, overlap {overlap_px} px",
             **real_validation(lambda toa: cloud_probability(model, toa, TILE_BANDS, overlap_px) >= threshold, tiles,
                               TILE_BANDS)}
    real_validation_of({"real_validation": block})  # sound by construction; checked as a run will read it
    write_card(dataclasses.replace(card, metrics={**card.metrics, "real_validation": block}), card.path)
    load_card(card.path)
    return block
