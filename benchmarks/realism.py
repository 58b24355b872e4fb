"""Realism benchmark: how far the synthetic world and the cloud models are from real Earth, in both directions.

- **sim->real**: every shipped cloud model on the real labelled tiles of ``shared/data/real_cloud_val`` (per tile,
  per sensor and pooled F1, IoU, false-positive rate, thin- and thick-cloud recall), beside the classic spectral
  rule, the project's own spectral test and, where it is installed, ukis-csmask.
- **real->sim**: ukis-csmask, a cloud CNN trained on real Landsat and Sentinel-2 imagery (Wieland et al. 2019,
  Remote Sens. Environ. 230; its ONNX weights ship in its wheel), scored on synthetic held-out frames against
  their exact truth. It sees them as it sees the real tiles, at 10 m or coarser (``PEER_GSD_M``): a frame with
  finer pixels (CubeSat class) is averaged to 10 m and the mask returned to the frame's grid (the figure at each
  frame's own GSD is kept beside it). Then the false-positive rate of the classic spectral rule on synthetic clear
  pixels next to its rate on the real clear pixels.
- **cloud sheets**: the real clear tiles under a grey water-cloud layer (the world's own composition) of optical
  thickness 0.5 to 6, featureless or cellular: the share of pixels each shipped model flags (all are cloud).
- **statistics**: synthetic clear-sky frames against the real clear scenes of ``shared/data/real_clear``
  (Sentinel-2, 10 m, B G R NIR) and the Landsat 8 pair (30 m, B G R), each statistic with one named distance:
  band means and covariances per NDVI class (Frechet distance between Gaussians), whiteness and log(NIR/red)
  histograms (Wasserstein-1), and the radially averaged texture power spectrum (log-spectral distance, dB).

Synthetic frames come from the held-out split (UTM zones and world seeds that training never sees), drawn with
the world's own mix of ground (no over-sampling of bright ground). The real scenes have no snow and no desert, so
the rule's synthetic false-positive rate is also given over the land covers they do show (``matched``).

Run: ``.venv/bin/python -m benchmarks.realism`` (needs the ``[realism]`` extra for ukis-csmask) writes
``benchmarks/results/realism.json``; ``--frames`` sets the number of synthetic frames.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np
import tifffile

from app.outputs import shown
from benchmarks.distances import frechet_distance, log_spectral_distance, power_spectrum, wasserstein_1d
from onboard.pipeline import spectral
from onboard.pipeline.spectral import whiteness
from onboard.runtime.modelcard import MODEL_DIR
from onboard.runtime.model import Model
from onboard.sensing.atmosphere import ClearSky
from onboard.sensing.cloud_layers import THIN_CLOUD_TAU, WATER_CLOUD_ASYMMETRY, CloudColumn
from rundir.truth import CLOUD_CLEAR, CLOUD_THICK, CLOUD_THIN, DESERT, LANDCOVER_CLASSES, SNOW, is_cloud
from onboard.sensing.world import compose
from training import cloud_data
from training.cloud_scores import REAL_CLOUD_VAL_DIR, THRESHOLD, predict_frame
from onboard.runtime.real_tiles import confusion, load_real_tiles, real_validation, scores
from training.landsat_pair import LANDSAT_DIR, LANDSAT_SCENES, landsat_toa, sun_elevation_deg

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
REAL_CLEAR = sorted((DATA / "real_clear").glob("*.tif"))
OUT_JSON = ROOT / "benchmarks" / "results" / "realism.json"
SHIPPED = ("cloud_bgrn_int8", "cloud_bgrn_float32", "cloud_rgb_int8", "cloud_rgb_float32")
BGRN = ("B", "G", "R", "NIR")
SEED = 2026
PEER_GSD_M = 10.0  # the finest GSD ukis-csmask sees: Sentinel-2's, as on the real tiles (its docstring asks ~30 m)
MATCHED_LANDCOVER = tuple(k for k in range(len(LANDCOVER_CLASSES)) if k not in (SNOW, DESERT))

# Targets of issue 10, checked in one run (and, with some margin, by tests/test_realism.py).
TARGETS = {
    "bgrn_int8_pooled_f1_min": 0.90, "bgrn_int8_tile_fpr_max": 0.02, "bgrn_int8_altocumulus_recall_min": 0.80,
    "rgb_int8_pooled_f1_min": 0.85, "peer_synthetic_f1_min": 0.88, "rule_fpr_ratio_max": 2.0,
    "int8_float32_f1_gap_max": 0.01,
}


def classic_rule(toa: np.ndarray) -> np.ndarray:
    """The classic three-test spectral cloud rule on (H, W, 4) B G R NIR TOA reflectance: mean visible > 0.22,
    whiteness < 0.7 (Fmask's whiteness test, Zhu & Woodcock 2012, Remote Sens. Environ. 118) and NIR > 0.2."""
    toa = np.asarray(toa, np.float32)
    visible = toa[..., :3].sum(-1) / 3
    return (visible > 0.22) & (whiteness(toa[..., 0], toa[..., 1], toa[..., 2]) < 0.7) & (toa[..., 3] > 0.2)


def ukis_mask() -> Callable[[np.ndarray], np.ndarray] | None:
    """ukis-csmask's 4-band L1C model as a mask function on (H, W, 4) B G R NIR TOA reflectance, or None when the
    ``[realism]`` extra is not installed."""
    try:
        from ukis_csmask.mask import CSmask
    except ImportError:
        return None

    def mask(toa: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = CSmask(np.ascontiguousarray(toa, np.float32), band_order=["blue", "green", "red", "nir"],
                            product_level="l1c", intra_op_num_threads=2, inter_op_num_threads=1)
        return result.csm[..., 0] == 1  # class 1: cloud
    return mask


def at_peer_gsd(mask: Callable[[np.ndarray], np.ndarray], toa: np.ndarray, gsd_m: float) -> np.ndarray:
    """``mask`` (H, W, B) -> (H, W) bool applied to a frame ``toa`` at PEER_GSD_M or coarser: a frame with finer
    pixels is area-averaged to it (OpenCV INTER_AREA, ``gsd_m / PEER_GSD_M`` of its size, at least 8 px; ukis-csmask
    pads one under 256 px to its tile) and the mask put back on the frame's (H, W) grid by nearest neighbour."""
    if gsd_m >= PEER_GSD_M:
        return mask(toa)
    h, w = toa.shape[:2]
    size = (max(round(w * gsd_m / PEER_GSD_M), 8), max(round(h * gsd_m / PEER_GSD_M), 8))
    coarse = mask(cv2.resize(np.ascontiguousarray(toa, np.float32), size, interpolation=cv2.INTER_AREA))
    return cv2.resize(coarse.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)


# --------------------------------------------------------------------------------------------- sim->real


def sim_to_real(tile_names: Sequence[str] | None = None, models: Sequence[str] = SHIPPED,
                peer: bool = True) -> dict[str, Any]:
    """Scores of each shipped model (``models``), the spectral tests and (with ``peer``) ukis-csmask on the real
    labelled tiles."""
    tiles = load_real_tiles(REAL_CLOUD_VAL_DIR, names=tile_names)
    result: dict[str, Any] = {}
    for name in models:
        model = Model(MODEL_DIR / f"{name}.tflite", threads=2)
        bands = model.card.inputs[0].bands
        result[name] = real_validation(lambda toa, m=model: predict_frame(m, toa) >= THRESHOLD, tiles, bands)
    result["classic_rule"] = real_validation(classic_rule, tiles, BGRN)
    result["spectral_test"] = real_validation(lambda toa: spectral.cloud_mask(toa, BGRN), tiles, BGRN)
    mask = ukis_mask() if peer else None
    if mask is not None:
        result["ukis_csmask"] = real_validation(mask, tiles, BGRN)
    return result


# ------------------------------------------------------------------------------------------- cloud sheets

SHEET_TAUS = (0.5, 1.0, 2.0, 3.6, 6.0)  # optical thickness: thin altocumulus to altostratus (ISCCP classes)
SHEET_CELL_PX = 4  # the cellular sheet's cells, about 120 m at 30 m GSD


def cloud_sheet(toa: np.ndarray, tau: float, cells: np.ndarray | None = None) -> np.ndarray:
    """A real clear scene ``toa`` (H, W, B) under a grey water-cloud layer of optical thickness ``tau``, uniform or
    times ``cells`` (H, W): the synthetic world's own cloud-over-ground composition
    (:func:`onboard.sensing.world.compose`: Eddington reflectance, adding method) with the real TOA reflectance as
    the ground and no atmosphere above the layer, so the scene's own haze stays under the cloud. (H, W, B) float32."""
    h, w, n_bands = toa.shape
    layer = np.full((h, w), tau, np.float32) if cells is None else np.float32(tau) * cells
    ones = np.ones((h, w), np.float32)
    column = CloudColumn(np.float32(1 - WATER_CLOUD_ASYMMETRY) * layer, ones, ones, np.zeros((h, w), np.uint8),
                         np.zeros((h, w), bool))
    no_air = np.zeros((n_bands, 1, 1), np.float32)
    sky = ClearSky(no_air, no_air, no_air + 1, no_air + 1, np.zeros(n_bands, np.float32))
    return np.stack(compose([toa[..., b] for b in range(n_bands)], column, sky), axis=-1)


def sheets(models: Sequence[str] = SHIPPED) -> dict[str, Any]:
    """Share of the real clear tiles' pixels each model flags under a grey cloud sheet of each of SHEET_TAUS:
    ``uniform`` (a featureless layer, an altostratus) and ``cellular`` (the same mean thickness in cells of
    SHEET_CELL_PX, an altocumulus), over the pixels that are cloud by the world's truth (tau >= THIN_CLOUD_TAU):
    a recall."""
    tiles = [t for t in load_real_tiles(REAL_CLOUD_VAL_DIR) if not is_cloud(t.cloud).any()]
    rng = np.random.default_rng(SEED)
    cells = {}
    for tile in tiles:
        z = cv2.GaussianBlur(rng.standard_normal(tile.cloud.shape).astype(np.float32), (0, 0), SHEET_CELL_PX)
        cells[tile.name] = np.clip(1 + 0.8 * (z - z.mean()) / z.std(), 0.05, None).astype(np.float32)
    result: dict[str, Any] = {"tiles": [t.name for t in tiles], "taus": list(SHEET_TAUS)}
    for name in models:
        model = Model(MODEL_DIR / f"{name}.tflite", threads=2)
        bands = model.card.inputs[0].bands
        out = {}
        for kind in ("uniform", "cellular"):
            out[kind] = {}
            for tau in SHEET_TAUS:
                flagged = total = 0
                for tile in tiles:
                    layer_cells = cells[tile.name] if kind == "cellular" else None
                    scored = tile.cloud == CLOUD_CLEAR
                    if layer_cells is not None:  # the gaps thinner than the truth's thin cloud are not scored
                        scored &= np.float32(tau) * layer_cells >= THIN_CLOUD_TAU
                    toa = cloud_sheet(tile.bands(bands), tau, layer_cells)
                    flagged += int((predict_frame(model, toa) >= THRESHOLD)[scored].sum())
                    total += int(scored.sum())
                out[kind][f"{tau:g}"] = round(flagged / total, 4)
        result[name] = out
    return result


# --------------------------------------------------------------------------------------------- real->sim


def synthetic_frames(count: int, size_px: int = 512) -> cloud_data.CloudFrames:
    """Held-out synthetic frames with the world's own mix of ground: the real->sim test set."""
    return cloud_data.make_frames("heldout", count, size_px, SEED, oversample_bright=False)


def real_to_sim(frames: cloud_data.CloudFrames, real_rule_fpr: float, peer: bool = True) -> dict[str, Any]:
    """The classic rule's false alarms on synthetic clear pixels (overall, over the real tiles' land covers, per
    land cover) and, with ``peer`` where it is installed, ukis-csmask against the frames' truth (at PEER_GSD_M,
    and at each frame's GSD)."""
    result: dict[str, Any] = {"frames": len(frames.draws), "frame_px": int(frames.toa.shape[1]),
                              "split": "heldout (zones and world seeds unseen in training), no bright over-sampling",
                              "cloud_share": round(float(frames.label.mean()), 4)}
    toa = frames.bands(BGRN).astype(np.float32)
    clear = frames.cloud == CLOUD_CLEAR
    rule = np.stack([classic_rule(frame) for frame in toa])
    matched = clear & np.isin(frames.landcover, MATCHED_LANDCOVER)
    result["classic_rule"] = {
        "synthetic_clear_fpr": round(float(rule[clear].mean()), 4),
        "synthetic_matched_clear_fpr": round(float(rule[matched].mean()), 4),
        "matched_landcover": [LANDCOVER_CLASSES[k] for k in MATCHED_LANDCOVER],
        "real_clear_fpr": round(real_rule_fpr, 4),
        "per_landcover_fpr": {LANDCOVER_CLASSES[k]: round(float(rule[clear & (frames.landcover == k)].mean()), 4)
                              for k in range(len(LANDCOVER_CLASSES)) if (clear & (frames.landcover == k)).any()},
        "landcover_share_of_clear": {LANDCOVER_CLASSES[k]: round(float((frames.landcover[clear] == k).mean()), 4)
                                     for k in range(len(LANDCOVER_CLASSES))},
    }
    ratio = result["classic_rule"]["synthetic_matched_clear_fpr"] / max(real_rule_fpr, 1e-6)
    result["classic_rule"]["matched_fpr_ratio"] = round(ratio, 2)
    mask = ukis_mask() if peer else None
    if mask is not None:
        gsd_m = [draw.gsd_m for draw in frames.draws]
        result["ukis_csmask"] = {"input_gsd_m": f"{PEER_GSD_M:g} or coarser (finer frames averaged to it)",
                                 **_peer_scores(np.stack([at_peer_gsd(mask, f, g) for f, g in zip(toa, gsd_m)]),
                                                frames)}
        result["ukis_csmask_native_gsd"] = {"input_gsd_m": f"each frame's own, {min(gsd_m):g} to {max(gsd_m):g}",
                                            **_peer_scores(np.stack([mask(frame) for frame in toa]), frames)}
    return result


def _peer_scores(predicted: np.ndarray, frames: cloud_data.CloudFrames) -> dict[str, float]:
    """Precision, recall, F1, IoU, false-positive rate and thin/thick recall of masks (N, H, W) against truth."""
    s = scores(confusion(predicted, frames.label))
    return {**{k: round(v, 4) for k, v in s.items() if k in ("f1", "iou", "fpr", "precision", "recall")},
            "thin_recall": round(float(predicted[frames.cloud == CLOUD_THIN].mean()), 4),
            "thick_recall": round(float(predicted[frames.cloud == CLOUD_THICK].mean()), 4)}


# -------------------------------------------------------------------------------------------- statistics


def _sun_corrected_landsat(scene: str) -> tuple[np.ndarray, np.ndarray]:
    """A Landsat 8 scene as TOA reflectance (H, W, 3) B G R, sun-elevation corrected, and its valid mask."""
    toa, valid = landsat_toa(scene, ("B", "G", "R"))
    return toa / np.float32(math.sin(math.radians(sun_elevation_deg()))), valid


def _clear_synthetic(count: int, gsd_m: float, size_px: int) -> list[np.ndarray]:
    """``count`` cloud-free synthetic frames (H, W, 4) at ``gsd_m``, held-out split, land covers the real scenes
    show (frames more than 5 % snow or desert are redrawn)."""
    rng = np.random.default_rng([SEED, int(gsd_m)])
    frames = []
    while len(frames) < count:
        draw = dataclasses.replace(cloud_data._draw("heldout", rng), mean_cloud_cover=0.0, gsd_m=gsd_m)
        toa, _, landcover = cloud_data.render(draw, size_px, np.random.default_rng(rng.integers(2**63)))
        if np.isin(landcover, (SNOW, DESERT)).mean() <= 0.05:
            frames.append(toa)
    return frames


def _ndvi_classes(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks of pixels (N, 4): water (NDVI < 0), sparse (0..0.4: soil, towns, sparse cover), vegetation."""
    red, nir = pixels[:, 2], pixels[:, 3]
    ndvi = (nir - red) / np.maximum(nir + red, 1e-6)
    return {"water": ndvi < 0, "sparse": (ndvi >= 0) & (ndvi < 0.4), "vegetation": ndvi >= 0.4}


def _whiteness(pixels: np.ndarray) -> np.ndarray:
    """Fmask whiteness of pixels (N, >= 3) whose first three bands are B, G, R."""
    return whiteness(pixels[:, 0], pixels[:, 1], pixels[:, 2])


def statistics(frame_count: int) -> dict[str, Any]:
    """Distances between synthetic and real clear-sky statistics, at Sentinel-2 (10 m) and Landsat (30 m) GSD."""
    real_s2 = [np.moveaxis(tifffile.imread(path), 0, -1).astype(np.float32) / np.float32(10_000.0)  # band-sequential
               for path in REAL_CLEAR]
    synthetic_10 = _clear_synthetic(frame_count, 10.0, 512)
    real_px = np.concatenate([image.reshape(-1, 4) for image in real_s2])
    syn_px = np.concatenate([image.reshape(-1, 4) for image in synthetic_10])
    real_classes, syn_classes = _ndvi_classes(real_px), _ndvi_classes(syn_px)
    per_class = {}
    for name in real_classes:
        r, s = real_px[real_classes[name]], syn_px[syn_classes[name]]
        per_class[name] = {"real_share": round(float(real_classes[name].mean()), 4),
                           "synthetic_share": round(float(syn_classes[name].mean()), 4),
                           "real_mean": np.round(r.mean(0), 4).tolist() if len(r) else None,
                           "synthetic_mean": np.round(s.mean(0), 4).tolist() if len(s) else None,
                           "frechet_distance": round(frechet_distance(r, s), 4) if min(len(r), len(s)) > 10 else None}
    freq, real_power = power_spectrum(real_s2)
    _, syn_power = power_spectrum(synthetic_10)
    sentinel2 = {
        "real": [path.name for path in REAL_CLEAR], "synthetic_frames": frame_count, "gsd_m": 10.0,
        "band_means_covariances_per_ndvi_class": per_class,
        "whiteness_wasserstein1": round(wasserstein_1d(_whiteness(real_px), _whiteness(syn_px)), 4),
        "log_nir_red_wasserstein1": round(wasserstein_1d(np.log(real_px[:, 3] / np.maximum(real_px[:, 2], 1e-4)),
                                                         np.log(syn_px[:, 3] / np.maximum(syn_px[:, 2], 1e-4))), 4),
        "texture_log_spectral_distance_db": round(log_spectral_distance(syn_power, real_power), 2),
        "texture_spectrum": {"cycles_per_px": np.round(freq, 4).tolist(),
                             "real": [float(f"{p:.3g}") for p in real_power],
                             "synthetic": [float(f"{p:.3g}") for p in syn_power]},
    }
    landsat = [_sun_corrected_landsat(scene) for scene in LANDSAT_SCENES]
    real_l8 = np.concatenate([toa[valid] for toa, valid in landsat])
    synthetic_30 = _clear_synthetic(frame_count, 30.0, 512)
    syn_30 = np.concatenate([image.reshape(-1, 4)[:, :3] for image in synthetic_30])
    crops = [toa[200:1224, 200:1224] for toa, _ in landsat]  # inside the valid area of both scenes
    freq, real_power = power_spectrum(crops)
    _, syn_power = power_spectrum(synthetic_30)
    landsat8 = {
        "real": list(LANDSAT_SCENES), "synthetic_frames": frame_count, "gsd_m": 30.0,
        "visible_frechet_distance": round(frechet_distance(real_l8[::20], syn_30), 4),
        "real_mean": np.round(real_l8.mean(0), 4).tolist(), "synthetic_mean": np.round(syn_30.mean(0), 4).tolist(),
        "whiteness_wasserstein1": round(wasserstein_1d(_whiteness(real_l8[::20]), _whiteness(syn_30)), 4),
        "texture_log_spectral_distance_db": round(log_spectral_distance(syn_power, real_power), 2),
    }
    return {"sentinel2_10m": sentinel2, "landsat8_30m": landsat8}


# ------------------------------------------------------------------------------------------------ checks


def check_targets(sim: dict[str, Any], real_sim: dict[str, Any]) -> dict[str, Any]:
    """Each issue-10 target with its measured value and whether it is met (sim->real ones where measured)."""
    checks = {"rule_synthetic_to_real_fpr_ratio": (real_sim["classic_rule"]["matched_fpr_ratio"], "<=",
                                                   TARGETS["rule_fpr_ratio_max"])}
    if "ukis_csmask" in real_sim:
        checks["peer_synthetic_f1"] = (real_sim["ukis_csmask"]["f1"], ">=", TARGETS["peer_synthetic_f1_min"])
    if all(f"cloud_{v}_{p}" in sim for v in ("bgrn", "rgb") for p in ("int8", "float32")):
        checks.update(_sim_to_real_checks(sim))
    return {name: {"value": value, "target": f"{op} {limit}",
                   "met": bool(value >= limit if op == ">=" else value <= limit)}
            for name, (value, op, limit) in checks.items()}


def _sim_to_real_checks(sim: dict[str, Any]) -> dict[str, tuple[float, str, float]]:
    """The sim->real targets: (value, operator, limit) by name."""
    bgrn, rgb = sim["cloud_bgrn_int8"], sim["cloud_rgb_int8"]
    checks = {
        "bgrn_int8_pooled_f1": (bgrn["pooled"]["f1"], ">=", TARGETS["bgrn_int8_pooled_f1_min"]),
        "bgrn_int8_worst_tile_fpr": (max(t["fpr"] for t in bgrn["tiles"].values()), "<=",
                                     TARGETS["bgrn_int8_tile_fpr_max"]),
        "bgrn_int8_altocumulus_recall": (bgrn["tiles"]["l8_gulfcoast_altocumulus"]["recall"], ">=",
                                         TARGETS["bgrn_int8_altocumulus_recall_min"]),
        "rgb_int8_pooled_f1": (rgb["pooled"]["f1"], ">=", TARGETS["rgb_int8_pooled_f1_min"]),
    }
    for variant in ("bgrn", "rgb"):
        gap = abs(sim[f"cloud_{variant}_int8"]["pooled"]["f1"] - sim[f"cloud_{variant}_float32"]["pooled"]["f1"])
        checks[f"{variant}_int8_float32_real_f1_gap"] = (round(gap, 4), "<=", TARGETS["int8_float32_f1_gap_max"])
    return checks


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48, help="synthetic held-out frames (512 px) for real->sim")
    parser.add_argument("--stat-frames", type=int, default=12, help="clear synthetic frames per GSD for statistics")
    parser.add_argument("--out", type=Path, default=OUT_JSON)
    parser.add_argument("--no-sim-to-real", action="store_true",
                        help="skip the shipped models on the real tiles (only the classic rule's real false-positive "
                        "rate is measured there): for iterating on the world")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.stat_frames < 1:
        parser.error(f"--frames and --stat-frames must be at least 1, found {args.frames} and {args.stat_frames}")
    missing = [str(path) for path in (REAL_CLOUD_VAL_DIR, DATA / "real_clear", LANDSAT_DIR) if not path.is_dir()]
    if missing:
        print(f"realism: the real data is not beside the checkout: {', '.join(missing)} not found", file=sys.stderr)
        raise SystemExit(2)
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # GeoTIFF tags OpenCV does not name
    start_s = time.perf_counter()
    sim = sim_to_real(models=() if args.no_sim_to_real else SHIPPED, peer=not args.no_sim_to_real)
    real_rule = sim["classic_rule"]["pooled"]["fpr"]
    real_sim = real_to_sim(synthetic_frames(args.frames), real_rule)
    sheet = {} if args.no_sim_to_real else sheets()
    result = {"sim_to_real": sim, "real_to_sim": real_sim, "statistics": statistics(args.stat_frames),
              "sheets": sheet, "targets": check_targets(sim, real_sim),
              "wall_s": round(time.perf_counter() - start_s, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for name in (*SHIPPED, "classic_rule", "spectral_test", "ukis_csmask"):
        if name in sim:
            p = sim[name]["pooled"]
            worst = max(t["fpr"] for t in sim[name]["tiles"].values())
            print(f"sim->real {name:20s} F1 {p['f1']:.3f}  IoU {p['iou']:.3f}  FPR {p['fpr']:.4f}  "
                  f"worst-tile FPR {worst:.4f}  thin recall {p['thin_recall']}")
    for name in SHIPPED:
        for kind in ("uniform", "cellular") if name in sheet else ():
            print(f"sheet     {name:20s} {kind:8s} flagged at tau " + "  ".join(
                f"{tau} {share:.3f}" for tau, share in sheet[name][kind].items()))
    if "ukis_csmask" in real_sim:
        print(f"real->sim ukis_csmask F1 {real_sim['ukis_csmask']['f1']:.3f} on {args.frames} synthetic frames at "
              f">= {PEER_GSD_M:g} m ({real_sim['ukis_csmask_native_gsd']['f1']:.3f} at each frame's own GSD)")
    rule = real_sim["classic_rule"]
    print(f"classic rule FPR: synthetic {rule['synthetic_clear_fpr']:.4f} (matched land cover "
          f"{rule['synthetic_matched_clear_fpr']:.4f}), real {rule['real_clear_fpr']:.4f}")
    for name, check in result["targets"].items():
        print(f"target {name:36s} {check['value']!s:>8} {check['target']:>8}  {'met' if check['met'] else 'MISSED'}")
    print(f"-> {shown(args.out)} in {result['wall_s']} s")
    return result


if __name__ == "__main__":
    main()
