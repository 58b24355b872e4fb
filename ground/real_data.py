"""What a model is worth on real data, said beside a run's scores: its card's figures on real labelled tiles, in the
report's cloud section (:func:`model_card_blocks`) and in its verdict (:func:`real_data`), each naming the truth the
run's own scores are against (:attr:`ground.run_data.RunData.cloud_truth`: the synthetic world's, the cloud mask
given with real imagery, or none), so that synthetic-truth figures are not read as real-world ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rundir.run_info import ModelValidation

from .document import Paragraph, Table, fmt_fraction

# How the cloud section names the run's truth (None: real imagery without a mask): after a card without real-data
# validation, after one with it, and what the frames were scored against
SECTION_WORDS = {
    "synthetic": (": every score in this section is against the synthetic world's truth only.", " The scores below "
                  "are against this run's synthetic truth; they hold in the synthetic world, not on Earth.",
                  "truth (cloud = thin or thick)"),
    "imagery_mask": (": the scores below, against the cloud mask given with this run's imagery, are its only "
                     "real-data figures.", " The scores below are against the cloud mask given with this run's "
                     "imagery.", "the cloud mask given with the imagery"),
    None: (", and this run has no truth to score it against (its imagery has no cloud mask).",
           " This run has no truth to score it against: its imagery has no cloud mask.", None)}

# How the verdict names the run's truth, by RunData.cloud_truth: (this run's ..., the clear ground lost ...,
# the figures of a card without real-data validation ...)
VERDICT_WORDS = {
    "synthetic": ("synthetic truth", "holds in the synthetic world", "its figures hold against synthetic truth alone"),
    "imagery_mask": ("truth (the cloud mask given with its imagery)", "is measured against that mask",
                     "its figures hold against the cloud mask given with its imagery alone"),
    None: ("truth", "is not measured in this run (its imagery has no cloud mask)",
           "this run has no truth to score it against either (its imagery has no cloud mask)")}


def real_data(model_cards: Mapping[str, ModelValidation], ours: Mapping[str, Any],
              truth: str | None = "synthetic", params: Mapping[str, Mapping[str, Any]] | None = None) -> list[str]:
    """For each model card the run carries (by stage): its pooled scores on real labelled tiles, beside this run's
    cloud F1 against its truth (the ``this_run`` row) for the cloud_filter's, or that the card has none, and the
    threshold they were scored at when the stage's (``params``, by stage, as telemetry/run.json records them)
    decides at another. ``truth``: the synthetic world's, the cloud mask given with real imagery
    (``imagery_mask``), or None (real imagery without a mask: this run measures no clear ground lost)."""
    named, held, alone = VERDICT_WORDS.get(truth, VERDICT_WORDS[None])
    out = []
    for stage, card in model_cards.items():
        real, threshold = card.real_validation, (params or {}).get(stage, {}).get("threshold")
        against = f", against {fmt_fraction(ours['cloud_f1'])} on this run's {named}" \
            if stage == "cloud_filter" and ours.get("cloud_f1") is not None else ""
        out.append(f"The {stage} model ({card.model}) has no real-data validation in its card: {alone}."
                   if real is None else
                   f"On real labelled tiles the {stage} model ({card.model}) scores pixel F1 "
                   f"{fmt_fraction(real.pooled.f1)} and false-positive rate {fmt_fraction(real.pooled.fpr)} "
                   f"({real.tiles} tiles, its card){real.threshold_note(threshold)}"
                   f"{against}: the clear ground lost {held}.")
    return out


def model_card_blocks(model_card: Mapping[str, Any] | None, truth: str | None = "synthetic",
                      threshold: float | None = None) -> list[Any]:
    """What the model's card measured on synthetic held-out frames and on real labelled imagery, side by side,
    so that the run's synthetic-truth scores are not read as real-world ones. ``model_card``: report.json's
    ``cloud.model_card``, a :class:`rundir.run_info.ModelValidation` as JSON; ``truth``: report.json's
    ``cloud.truth`` (:attr:`ground.run_data.RunData.cloud_truth`: synthetic, imagery_mask, or None without one);
    ``threshold``: the run's, named when the card's real tiles were scored at another."""
    if not model_card:
        return []
    words = SECTION_WORDS.get(truth, SECTION_WORDS[None])
    card = ModelValidation.parse(model_card, "report.json")
    heldout, real = card.synthetic_heldout, card.real_validation
    rows = [("synthetic held-out frames (the card)", fmt_fraction(heldout.f1), fmt_fraction(heldout.fpr))
            ] if heldout else []
    if real is None:
        return [*([Table(("data", "F1", "FPR"), tuple(rows))] if rows else []),
                Paragraph(f"{card.model} has no real-data validation in its card{words[0]}")]
    rows += [(f"real {sensor} tiles (the card)", fmt_fraction(scores.f1), fmt_fraction(scores.fpr))
             for sensor, scores in sorted(real.sensors.items())]
    rows.append((f"real tiles, pooled over {real.tiles}", fmt_fraction(real.pooled.f1), fmt_fraction(real.pooled.fpr)))
    return [Table(("data", "F1", "FPR"), tuple(rows)),
            Paragraph(f"What {card.model} is worth on real imagery: pooled F1 {fmt_fraction(real.pooled.f1)} and "
                      f"false-positive rate {fmt_fraction(real.pooled.fpr)} (worst tile "
                      f"{fmt_fraction(real.worst_tile_fpr)}) on real labelled tiles{real.threshold_note(threshold)}."
                      f"{words[1]}")]
