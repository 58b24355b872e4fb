"""The report's ``superres`` section: the downlinked super-resolved products and the on-board baselines scored
against the high-res truth on the same pixels (:mod:`ground.image_quality`: cPSNR, SSIM, registration error), one
scene at a time, and the example crops :mod:`ground.plots` draws."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from rundir.run_info import RunInfo

from .confidence import Estimate, estimate
from .document import Heading, Image, Paragraph, Table, fmt_bytes
from .image_quality import cpsnr_db, ssim
from .sr_scenes import METHODS, SRScene, iter_scenes, product_method
from .stitch import QUICKLOOK_GAMMA, QUICKLOOK_REFLECTANCE_MAX

CROPS_PLOT = "plots/superres-crops.png"  # example crops, drawn by ground.plots.write_plots
CROP_PX = 48  # low-res side of the example crops
CROP_NAMES = {"bicubic": "bicubic", "shift_and_add": "shift-and-add", "model_int8": "model int8"}
EXAMPLE_CROP_KEY = "superres_example_crop"  # run.derived: the section's ExampleCrop, drawn by ground.plots
# A scene enters the means when at least this share of its high-res pixels is scored (clear and delivered), as the
# PROBA-V challenge admitted a 100 m image only when at least 75 % of its pixels were clear (Kelvins PROBA-V Super
# Resolution, "Data": https://kelvins.esa.int/proba-v-super-resolution/data/): a cPSNR over a few pixels, with a
# bias removed per band and the best of 49 offsets kept, says little about the picture.
MIN_SCORED_FRACTION = 0.75
# Scoring a method holds ~ this many bytes per high-res pixel beside the scene: its image (uint16 DN, 4 bands), a
# band's kept SSIM values and cPSNR differences (float64) and their selections' temporaries. Two are scored at once
# while two fit SCORING_PAIR_MAX_BYTES (at 40 bytes, two came on for a 2048 x 1536 burst at x2, 12.6 Mpx, and its
# report peaked at 1.53 GB, against 1.27 GB scoring one at a time).
SCORING_BYTES_PER_PX, SCORING_PAIR_MAX_BYTES = 48, 2**30
GREY_STRIP_ROWS = 256  # rows of the crops' grey level made at a time (:func:`_display_grey`)


def superres_policy(run_info: RunInfo | None) -> dict[str, Any] | None:
    """The superres stage as telemetry/run.json gives it (``stage`` and its parameters), or None when the pipeline
    has none."""
    stage = run_info.stage("superres") if run_info else None
    return stage.to_json() if stage else None


def reflectance_rgb(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) float display image of a (H, W, B) B, G, R[, NIR] reflectance image, stretched like the mosaic
    quick-looks (:data:`~ground.stitch.QUICKLOOK_REFLECTANCE_MAX`, :data:`~ground.stitch.QUICKLOOK_GAMMA`)."""
    rgb = image[..., [2, 1, 0]] if image.shape[-1] >= 3 else np.repeat(image[..., :1], 3, axis=-1)
    return np.clip(rgb / QUICKLOOK_REFLECTANCE_MAX, 0.0, 1.0) ** QUICKLOOK_GAMMA


@dataclass
class ExampleCrop:
    """The report's example crops: of the scenes :meth:`offer` ed so far, the :data:`CROP_PX` crop (low-res px) with
    the most fine detail a reader sees in the truth, kept as ``panels`` (``(name, (h, w, B) TOA reflectance)``: the
    low-res frame 0 when recorded, repeated ``scale`` times, the :data:`CROP_NAMES` methods and the truth) and a
    ``title``; only the crops are kept, never a whole scene.

    Detail is the mean absolute Laplacian of the grey level of the true-colour image as the figure shows it
    (:func:`reflectance_rgb`: NIR texture, invisible there, does not count), over the scored pixels 2 px away from
    unscored ones (a cloud's edge is not the ground's detail); crops at least 95 % scored come first. Ties go to
    the first crop offered."""

    scale: int
    user_model: bool = False  # the product is a user's model's (named "your model", not "model int8")
    detail: float = -math.inf
    panels: list[tuple[str, np.ndarray]] = field(default_factory=list)
    title: str = ""

    def offer(self, scene: SRScene) -> None:
        """Keep the most detailed crop of ``scene`` if it beats the one kept."""
        scale, n = self.scale, CROP_PX * self.scale
        h, w = scene.scored.shape
        grey = _display_grey(scene.truth)
        inside = cv2.erode(scene.scored.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        detail = np.abs(cv2.Laplacian(grey, cv2.CV_32F)) * inside
        best: tuple[float, int, int] | None = None
        for r in range(0, max(h - n, 0) + 1, n // 2):
            for c in range(0, max(w - n, 0) + 1, n // 2):
                share = float(scene.scored[r:r + n, c:c + n].mean())
                texture = float(detail[r:r + n, c:c + n].mean()) + (1.0 if share >= 0.95 else 0.0)
                if best is None or texture > best[0]:
                    best = (texture, r // scale, c // scale)
        if best is None or best[0] <= self.detail:
            return
        self.detail, r, c = best
        box = (slice(scale * r, scale * (r + CROP_PX)), slice(scale * c, scale * (c + CROP_PX)))
        panels, per_dn = [], np.float32(scene.reflectance_per_dn)
        if scene.low_res is not None:
            low_res = scene.low_res[r:r + CROP_PX, c:c + CROP_PX] * per_dn
            panels.append(("low-res frame 0", np.repeat(np.repeat(low_res, scale, 0), scale, 1)))
        names = dict(CROP_NAMES, **({"model_int8": "your model"} if self.user_model else {}))
        panels += [(names[m], scene.images[m][box] * per_dn) for m in CROP_NAMES if m in scene.images]
        panels.append(("truth", scene.truth[box].copy()))
        self.panels = panels
        self.title = f"{scene.frame_id}: {CROP_PX} x {CROP_PX} low-res px at ({r}, {c}), x{scale}"


def _display_grey(image: np.ndarray) -> np.ndarray:
    """(H, W) float32: the grey level of :func:`reflectance_rgb` of ``image`` (H, W, B), made
    :data:`GREY_STRIP_ROWS` rows at a time (each pixel's value is its own: the same as made
    whole), so that a large truth is never held as three float planes more."""
    grey = np.empty(image.shape[:2], np.float32)
    for top in range(0, image.shape[0], GREY_STRIP_ROWS):
        grey[top:top + GREY_STRIP_ROWS] = reflectance_rgb(image[top:top + GREY_STRIP_ROWS]).mean(axis=-1)
    return grey


def averaged_scenes(scenes: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The scenes (report.json ``superres.scenes``) the means take: those at least :data:`MIN_SCORED_FRACTION`
    scored."""
    return [scene for scene in scenes if scene["scored_fraction"] >= MIN_SCORED_FRACTION]


def scene_means(scenes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``scenes_averaged`` (:func:`averaged_scenes`) and the mean ``cpsnr_db`` and ``ssim`` of each of
    :data:`METHODS` over them (None for a method none of them scores)."""
    averaged = averaged_scenes(scenes)
    return {"scenes_averaged": len(averaged),
            **{key: {m: _mean([scene[key].get(m) for scene in averaged]) for m in METHODS}
               for key in ("cpsnr_db", "ssim")}}


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def superres_section(run: Any) -> dict[str, Any] | None:
    """report.json ``superres``: cPSNR and SSIM per scene and mean for the downlinked product and the on-board
    baselines on the same pixels, the registration error, and the product's bytes against the burst's."""
    policy = superres_policy(run.run_info)
    if policy is None:
        return None
    scale = int(policy["scale"])
    frames = run.run_info.camera.burst_frames if run.run_info and run.run_info.camera else 0
    out: dict[str, Any] = {"policy": policy, "product": product_method(policy), "burst_frames": frames,
                           "pixel_ratio_vs_burst": scale * scale / frames if frames else None}
    crop = run.derived[EXAMPLE_CROP_KEY] = ExampleCrop(scale, policy.get("model", "auto") != "auto")
    per_scene, product_bytes, raw_bytes, encoded, errors = [], 0, 0, [], []
    # NOTE: OpenCV and numpy release the GIL: two threads score two methods at once, each reading its own image.
    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        for scene in iter_scenes(run, policy):
            pair = 2 * scene.scored.size * SCORING_BYTES_PER_PX <= SCORING_PAIR_MAX_BYTES
            scores = dict(zip(scene.images, (pool.map if pair else map)(
                lambda method, sc=scene: _scores(sc.images[method], sc), list(scene.images))))
            crop.offer(scene)
            product_bytes += scene.product_bytes
            raw_bytes += scene.burst_raw_bytes
            encoded.append(scene.burst_encoded_bytes)
            errors.append(scene.registration_error_px)
            per_scene.append({"frame_id": scene.frame_id, "scored_fraction": float(scene.scored.mean()),
                              "cpsnr_db": {m: _finite(s[0]) for m, s in scores.items()},
                              "ssim": {m: _finite(s[1]) for m, s in scores.items()},
                              "registration_error_px": scene.registration_error_px,
                              "product_bytes": scene.product_bytes, "burst_raw_bytes": scene.burst_raw_bytes})
            del scene  # before the next is read (iter_scenes)
    out["scenes_scored"] = len(per_scene)
    out.update(scene_means(per_scene))
    out.update({
        "registration_error_px": _mean(errors),
        "bytes_ratio_vs_burst": product_bytes / raw_bytes if raw_bytes else None,
        "bytes_ratio_vs_encoded_burst": (product_bytes / sum(encoded)
                                         if encoded and None not in encoded and sum(encoded) else None),
        "product_bytes": product_bytes, "burst_raw_bytes": raw_bytes, "scenes": per_scene,
        "definitions": {
            "cpsnr_db": "PROBA-V cPSNR against the high-res truth over its clear, delivered pixels: 3 px border "
                        "cropped, brightness bias removed, best of +-3 px shifts; TOA reflectance range 1; the mean "
                        "over the scenes at least 75 % scored (scenes_averaged), as PROBA-V admits a high-res image",
            "ssim": "SSIM (Wang et al. 2004, 11 px Gaussian window, sigma 1.5) over the same pixels, each window's "
                    "statistics over them alone; the mean over the same scenes",
            "bytes_ratio_vs_burst": "downlinked product bytes / bit-packed bytes of the K raw frames over the same "
                                    "ground (the products' manifest raw_bytes)",
            "bytes_ratio_vs_encoded_burst": "downlinked product bytes / the K frames of the tiles kept, losslessly "
                                            "encoded (on-board estimate from frame 0, telemetry/processing.jsonl)",
            "pixel_ratio_vs_burst": "scale^2 / K: a product saves downlink against its burst only when this is < 1",
        },
    })
    out["warnings"] = harm_warnings(out, run.pipeline)
    if per_scene:
        out["plots"] = [CROPS_PLOT]
    return out


BASELINES = ("bicubic", "bicubic_registered", "shift_and_add")  # ground-side methods the product must beat
METHOD_NAMES = {"model_int8": "MISR model, int8 (on board)", "model_float32": "MISR model, float32 twin",
                "bicubic": "bicubic of the mean of the clear frames",
                "bicubic_registered": "bicubic of their registered mean", "shift_and_add": "shift-and-add (median)"}
MAX_REGISTRATION_ERROR_PX = 1.0  # RMS, low-res px: beyond one pixel the fusion mixes different ground


def method_name(method: str, policy: Mapping[str, Any]) -> str:
    """:data:`METHOD_NAMES` of ``method``; the on-board product of a user's model (the stage's ``model`` a file) by
    that file, since its precision is its own whatever the ``model_int8`` key says."""
    if method == "model_int8" and policy.get("model", "auto") != "auto":
        return f"MISR model {policy['model']} (on board)"
    return METHOD_NAMES[method]


def harm_warnings(section: Mapping[str, Any], pipeline: Sequence[str]) -> list[str]:
    """What the reader must not miss when on-board super-resolution does harm: the downlinked product's mean cPSNR
    below any of the :data:`BASELINES` (bicubic upsampling of the mean of the clear frames is the PROBA-V
    challenge's baseline, Märtens et al. 2019; the registered mean and shift-and-add use the same registration),
    naming each and by how many dB; and a mean registration error above :data:`MAX_REGISTRATION_ERROR_PX` px RMS.
    A baseline is beaten when the 95 % confidence interval of the scene-paired difference (:func:`paired_difference`)
    lies below zero, or without an interval (one scene); else the product is "no better than" it, within the
    scene-to-scene spread. Empty when nothing holds."""
    product = section["product"]
    ours = section["cpsnr_db"].get(product)
    others = [m for m in BASELINES if m != product]  # a product made by a baseline's method is not its own baseline
    above = [(m, section["cpsnr_db"][m], paired_difference(section, product, m)) for m in others
             if ours is not None and section["cpsnr_db"].get(m) is not None and section["cpsnr_db"][m] > ours]
    beaten = [(m, db, d) for m, db, d in above if d.high is None or d.high < 0]
    tied = [(m, db, d) for m, db, d in above if (m, db, d) not in beaten]
    out = []
    why = (" No cloud_filter stage runs before it, so cloud that moves between the frames goes into the fusion and "
           "into the registration." if "cloud_filter" not in pipeline else "")
    if above:
        opening = (f"the downlinked super-resolved product ({method_name(product, section['policy'])}) scores "
                   f"{ours:.2f} dB mean cPSNR, ")
        parts = [f"below {len(beaten)} of its {len(others)} baselines: {_against(ours, beaten)}. On-board "
                 "super-resolution makes the picture worse here than a ground-side method would from the same "
                 "frames."] if beaten else []
        if tied:
            parts.append(f"{'It is ' if beaten else ''}no better than {len(tied)} of its {len(others)} baselines, "
                         f"within the scene-to-scene spread: {_against(ours, tied)}." +
                         ("" if beaten else " On-board super-resolution gains nothing measurable here over a "
                                            "ground-side method from the same frames."))
        out.append(opening + " ".join(parts) + why)
    error = section["registration_error_px"]
    if error is not None and error > MAX_REGISTRATION_ERROR_PX:
        over = sum(1 for s in section["scenes"] if (s["registration_error_px"] or 0.0) > MAX_REGISTRATION_ERROR_PX)
        out.append(f"burst registration is off by {error:.2f} px RMS on average (more than "
                   f"{MAX_REGISTRATION_ERROR_PX:g} low-res px; {over} of {len(section['scenes'])} bursts): the "
                   "frames are fused misaligned, so the product's fine detail is not the ground's." +
                   (why if not above else ""))
    return out


def paired_difference(section: Mapping[str, Any], product: str, baseline: str) -> Estimate:
    """The product's cPSNR minus the ``baseline``'s, scene by scene (dB), over the scenes of the means
    (:data:`MIN_SCORED_FRACTION`) that score both: its mean and 95 % confidence interval (Student's t,
    :func:`ground.confidence.estimate`). Pairing by scene takes out what varies from scene to scene for every
    method (texture, cloud, sun)."""
    return estimate([scores[product] - scores[baseline] for scores in
                     (scene.get("cpsnr_db") or {} for scene in averaged_scenes(section["scenes"]))
                     if scores.get(product) is not None and scores.get(baseline) is not None])


def _against(ours: float, baselines: Sequence[tuple[str, float, Estimate]]) -> str:
    """Each baseline as "-1.40 dB against NAME (38.50 dB; 95 % CI -1.6 to -1.2 dB over 14 scenes)"."""
    return "; ".join(f"{ours - db:+.2f} dB against {METHOD_NAMES[m]} ({db:.2f} dB" +
                     (f"; 95 % CI {d.low:+.2f} to {d.high:+.2f} dB over {d.n} scenes)" if d.half_width is not None
                      else ")") for m, db, d in baselines)


def _scores(image: np.ndarray, scene: SRScene) -> tuple[float, float]:
    """(cPSNR dB, SSIM) of one method's image (DN) against the scene's truth on its scored pixels."""
    per_dn = scene.reflectance_per_dn
    return (cpsnr_db(image, scene.truth, scene.scored, sr_per_dn=per_dn),
            ssim(image, scene.truth, scene.scored, sr_per_dn=per_dn))


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def superres_blocks(section: Mapping[str, Any]) -> list[Any]:
    """report.md/html blocks: methods side by side, then what the product costs against its burst."""

    p = section["policy"]
    blocks: list[Any] = [Heading(2, "Super-resolution"), Paragraph(
        f"Bursts of {section['burst_frames']} frames fused x{p['scale']} by {p['method']} after {p['registration']} "
        f"registration; {section['scenes_scored']} scenes scored against the high-res truth on their clear, "
        f"delivered pixels{_averaged(section)}. The downlinked product is {method_name(section['product'], p)}; the "
        "others were computed on board from the same registered frames for scoring only.")]
    if not section["scenes_scored"]:
        return blocks
    rows = tuple((method_name(m, p), _db(section["cpsnr_db"][m]), _num(section["ssim"][m]))
                 for m in METHODS if section["cpsnr_db"][m] is not None)
    if rows:  # none when no scene is averaged (MIN_SCORED_FRACTION)
        blocks.append(Table(("method", "mean cPSNR (dB)", "mean SSIM"), rows))
    blocks += [Paragraph(f"WARNING: {text}", strong=True) for text in section.get("warnings") or ()]
    ratio = section["bytes_ratio_vs_burst"]
    verdict = "saves downlink" if ratio is not None and ratio < 1 else "saves NOTHING"
    blocks.append(Paragraph(
        f"Registration error {_num(section['registration_error_px'])} px RMS (the mean of each scene's RMS). "
        f"The {section['scenes_scored']} scored "
        f"scenes' products (their sidecars included): {fmt_bytes(section['product_bytes'])} against "
        f"{fmt_bytes(section['burst_raw_bytes'])} of raw bursts over the same ground (the K raw frames of the "
        "pixels the products cover: not the opening table's bent-pipe, which counts every finished frame whole), "
        f"{_num(ratio)}x the burst (pixels: scale^2 / K = {_num(section['pixel_ratio_vs_burst'])}; against the "
        f"losslessly encoded burst: {_num(section['bytes_ratio_vs_encoded_burst'])}x): super-resolution {verdict} "
        "against sending its raw bursts (the verdict above sets the run against one frame per scene in the best "
        "lossless codec).", strong=ratio is not None and ratio >= 1))
    if section.get("plots"):
        blocks.append(Image("low-res frame, bicubic, shift-and-add, model and truth", section["plots"][0]))
    return blocks


def _averaged(section: Mapping[str, Any]) -> str:
    """Which scenes the means take (:data:`MIN_SCORED_FRACTION`), as a clause of the section's opening sentence."""
    scored, averaged = section["scenes_scored"], section.get("scenes_averaged", section["scenes_scored"])
    if averaged == scored:
        return ""
    share = f"at least {100 * MIN_SCORED_FRACTION:.0f} % scored (as the PROBA-V challenge admits a high-res image)"
    if not averaged:
        return f"; none is {share}, so no mean is given (each scene's scores are in report.json)"
    return f"; the means take the {averaged} of them {share}"


def _db(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
