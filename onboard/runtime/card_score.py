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
from ..pipeline.tiling import overlap_problem, stage_overlap_px
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
    (:func:`onboard.pipeline.tiling.overlap_problem`); None: the stage's null
    (:func:`onboard.pipeline.tiling.stage_overlap_px`).
    Returns the block. InputFileError for a model, card or tile that cannot be scored (a card that is no cloud
    segmentation model, an input made from DN where the tiles hold TOA reflectance, bands the tiles lack, tiles with
    no cloud or no clear pixel labelled);
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
    overlap_px = stage_overlap_px(overlap_px, window_px)
    if expected := overlap_problem(overlap_px, window_px, str(model_path)):
        raise OrbitEdgeError(f"card score: --overlap-px: expected {expected}, found {overlap_px}")
    tiles = load_real_tiles(tiles_dir)
    block = {"data": f"{tiles_dir}: {len(tiles)} tiles, scored by orbitedge card score",
             "threshold": threshold, "windows": f"{window_px} px, overlap {overlap_px} px",
             **real_validation(lambda toa: cloud_probability(model, toa, TILE_BANDS, overlap_px) >= threshold, tiles,
                               TILE_BANDS)}
    lacking = [kind for kind in ("cloud", "clear") if not block["pooled"][f"{kind}_px"]]
    if lacking:
        raise InputFileError(tiles_dir, f"expected tiles with both cloud and clear pixels labelled (recall needs "
                                        f"cloud, the false-positive rate clear), found no {' and no '.join(lacking)} "
                                        f"pixel in {len(tiles)} tile{'s' * (len(tiles) != 1)}")
    real_validation_of({"real_validation": block})  # sound by construction; checked as a run will read it
    write_card(dataclasses.replace(card, metrics={**card.metrics, "real_validation": block}), card.path)
    load_card(card.path)
    return block


# No usable cloud filter calls most of the clear ground cloud: it would drop more of what it is there to keep than
# it sends (the shipped models' pooled FPR on the real tiles is a few per cent).
MOST_CLEAR_FPR = 0.5


def broken_scores(block: dict[str, Any]) -> list[str]:
    """What the pooled scores of a ``real_validation`` block say of a model that cannot be right, each with its
    usual causes; empty when they say nothing of the kind. The thresholds are not tuned: it finds no cloud at all
    (recall 0); it calls most clear pixels cloud (FPR above MOST_CLEAR_FPR); it does no better than chance (recall at
    or below FPR: a coin flipped per pixel, calling cloud as often, finds as much cloud)."""
    pooled = block["pooled"]
    recall, fpr = pooled["recall"], pooled["fpr"]
    found = []
    if recall == 0:
        found.append(f"it finds no cloud at all (recall 0 on {pooled['cloud_px']} cloud pixels): inputs far darker "
                     "than it was trained on (the card's --scale too small, e.g. 1 for a model trained on reflectance "
                     "x 10000), the cloud class on another channel (--classes order), or outputs that need an "
                     "activation (--activation)")
    if fpr > MOST_CLEAR_FPR:
        every = "every clear pixel" if fpr == 1 else "most clear pixels"
        found.append(f"it calls {every} cloud (FPR {fpr:.3f}, above {MOST_CLEAR_FPR:g}: a filter that "
                     "drops most of the clear ground it is there to send): inputs far brighter than it was trained on "
                     "(the card's --scale too large), the classes swapped (--classes), or a sigmoid over outputs "
                     "that are already probabilities (never below 0.5)")
    if 0 < recall <= fpr < 1:  # at 0 or 1 the sentences above say it
        found.append(f"it does no better than chance (recall {recall:.3f} at FPR {fpr:.3f}: a coin flipped per "
                     "pixel, calling cloud as often, finds as much cloud; its F1 means nothing): the classes swapped "
                     "(--classes: the channel named cloud holds clear), or the card's --scale")
    return found
