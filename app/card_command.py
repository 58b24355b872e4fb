"""``orbitedge card``: ``init`` writes the model card of a user's .tflite or .onnx model (:mod:`onboard.runtime.card_init`),
``score`` scores a cloud model on real labelled tiles and writes the scores into its card
(:mod:`onboard.runtime.card_score`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rundir.errors import OrbitEdgeError

from .arguments import whole_number
from .outputs import output_file


def cmd_card(args: argparse.Namespace) -> int:
    return _score(args) if args.action == "score" else _init(args)


def _init(args: argparse.Namespace) -> int:
    from onboard.runtime.card_init import CardRequest, describe, init_card

    def numbers(option: str, text: str) -> tuple[float, ...]:
        try:
            return tuple(float(v) for v in text.split(","))
        except ValueError:
            raise OrbitEdgeError(f"card init: {option}: expected numbers separated by commas, found {text!r}") from None

    request = CardRequest(args.model, args.task, tuple(b.strip() for b in args.bands.split(",") if b.strip()),
                          numbers("--scale", args.scale), numbers("--offset", args.offset), args.source,
                          () if args.classes is None else tuple(c.strip() for c in args.classes.split(",")),
                          args.activation, args.name, args.version, args.architecture, args.accelerator,
                          args.dn_bits)
    card, out = init_card(request, args.out and output_file(args.out, "--out"), args.force)
    print(describe(card, out, args.model))
    return 0


def _score(args: argparse.Namespace) -> int:
    from onboard.runtime.card_score import broken_scores, score_card

    if not 0 < args.threshold < 1:
        raise OrbitEdgeError(f"card score: --threshold: expected a probability between 0 and 1, found {args.threshold}")
    block = score_card(args.model, args.tiles, args.threshold, args.overlap_px)
    rows = [(name, scores) for name, scores in block.items() if isinstance(scores, dict) and "f1" in scores]
    rows += list(block["tiles"].items())
    print(f"scored {args.model} on {len(block['tiles'])} tiles of {args.tiles} (cloud at {args.threshold:g}; windows "
          f"{block['windows']}); "
          f"wrote real_validation into {args.model.with_suffix('.json')}")
    print(f"  {'tiles':32} {'F1':>7} {'IoU':>7} {'FPR':>7} {'recall':>7} {'precision':>9} {'cloud px':>10} "
          f"{'clear px':>10}")
    for name, s in rows:  # n/a as the run's tables: a tile without cloud has only its FPR, one without clear none
        cloud, clear = s["cloud_px"] > 0, s["clear_px"] > 0
        print(f"  {name:32} {_cell(s['f1'], 7, 3, cloud)} {_cell(s['iou'], 7, 3, cloud)} "
              f"{_cell(s['fpr'], 7, 4, clear)} {_cell(s['recall'], 7, 3, cloud)} "
              f"{_cell(s.get('precision'), 9, 3, cloud)} {s['cloud_px']:10d} {s['clear_px']:10d}")
    broken = broken_scores(block)
    if broken:
        print(f"orbitedge: warning: card score: these scores say the model, as its card runs it, is broken: "
              f"{'; '.join(broken)}. They are in its card all the same, and every run of the model quotes them: mend "
              "the card (orbitedge card init MODEL --force, with the options that fix it) and score it again",
              file=sys.stderr)
    return 0


def _cell(value: float | None, width: int, decimals: int, counted: bool = True) -> str:
    return f"{'n/a' if value is None or not counted else f'{value:.{decimals}f}':>{width}}"


def card_options(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = sub.add_parser("init", help="write the card of a model file", description="write the card of a model file",
                          epilog="example:\n  orbitedge card init models/csmask.onnx --task segmentation --bands "
                                 "B,G,R,NIR --classes clear,cloud,shadow --activation softmax",
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    init.add_argument("model", type=Path, help="the .tflite or .onnx model file")
    init.add_argument("--task", required=True, choices=("segmentation", "classification", "super-resolution"),
                   help="segmentation (a map per pixel, as cloud_filter runs), classification (scores per frame) or "
                        "super-resolution (a MISR model for the superres stage)")
    init.add_argument("--bands", default="", metavar="B,G,R,NIR",
                   help="the camera bands the model takes, in its channel order, from B, G, R, NIR: required for "
                        "segmentation and classification, none for super-resolution")
    init.add_argument("--scale", default="1", metavar="S[,S...]",
                   help="model input = scale * source + offset: one number, or one per band (default 1)")
    init.add_argument("--offset", default="0", metavar="O[,O...]",
                   help="one number, or one per band (default 0); a list that starts negative needs =: --offset=-1,-2")
    init.add_argument("--source", choices=("toa_reflectance", "dn"), default="toa_reflectance",
                   help="what the scaling starts from: TOA reflectance (0-1) or the camera's DN")
    init.add_argument("--dn-bits", type=int, metavar="BITS",
                   help="with --source dn: the bit depth of the camera whose DN the model was trained on (its "
                        "spacecraft.camera.bit_depth); a camera of another depth feeds it its DN rescaled to these")
    init.add_argument("--classes", metavar="NAME,...", help="a name per output channel; cloud_filter reads 'cloud'")
    init.add_argument("--activation", choices=("sigmoid", "softmax"),
                   help="what makes probabilities of the outputs (logits); default: they already are")
    init.add_argument("--name", help="mlm:name (default: the file's stem)")
    init.add_argument("--version", default="1.0.0", help="the model's version (default 1.0.0)")
    init.add_argument("--architecture", default="unknown", help="mlm:architecture, e.g. U-Net")
    init.add_argument("--accelerator", help="mlm:accelerator, e.g. amd64 or cuda (default: none required)")
    init.add_argument("--out", type=Path, help="the card's path (default: <stem>.json beside MODEL, where stages read it)")
    init.add_argument("--force", action="store_true", help="replace a card that is already there")
    score = sub.add_parser("score", help="score a cloud model on real labelled tiles, into its card",
                           description="score a cloud segmentation model (its card beside it) on real labelled tiles "
                                       "as the cloud_filter stage runs it, and write the scores into its card as "
                                       "real_validation, where every run of it reads them",
                           epilog="example:\n  orbitedge card score models/csmask.onnx --tiles "
                                  "../shared/data/real_cloud_val",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    score.add_argument("model", type=Path, help="the .tflite or .onnx model file, its card <stem>.json beside it")
    score.add_argument("--tiles", type=Path, required=True, metavar="DIR",
                       help="a folder of labelled tiles (.npz: toa (H, W, 4) B, G, R, NIR TOA reflectance, cloud "
                            "(H, W) 0 clear, 1 thin, 2 thick, 255 unlabelled, sensor, gsd_m)")
    score.add_argument("--threshold", type=float, default=0.5, help="cloud probability that is cloud (default 0.5)")
    score.add_argument("--overlap-px", type=whole_number(0, "pixels"),
                       help="sliding-window overlap, under half the model's window, as the stage requires: score "
                            "with your scenario's overlap_px (default 32, or a quarter of a window under 128 px)")
