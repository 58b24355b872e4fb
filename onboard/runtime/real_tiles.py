"""Real labelled tiles, and per-pixel scores of a cloud mask on them: what a cloud model is worth on real imagery.

A tile is a NumPy ``.npz`` with ``toa`` (H, W, 4) TOA reflectance in B, G, R, NIR order (TILE_BANDS), ``cloud``
(H, W) uint8 codes (0 clear, 1 thin, 2 thick, 255 no label; :mod:`rundir.truth`), ``sensor`` (a name, e.g.
"Sentinel-2 MSI") and ``gsd_m``: the form of the project's ``shared/data/real_cloud_val`` (its README gives how each
label was made). Cloud (thin or thick) is positive, clear negative, and unlabelled pixels are left out, as the
``score.py`` beside those tiles does, so the figures here and there agree. :func:`real_validation` gives a model
card's ``real_validation`` block (:mod:`.card_metrics` reads it back).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from rundir.errors import InputFileError
from rundir.run_info import SENSOR_GROUP
from rundir.truth import CLOUD_CLEAR, CLOUD_THICK, CLOUD_THIN, UNKNOWN

TILE_BANDS = ("B", "G", "R", "NIR")
TILE_KEYS = ("toa", "cloud", "sensor", "gsd_m")
# TOA reflectance stays below ~1.6 even over fresh snow at a low sun (rho = pi L d^2 / (E_sun cos theta_s)); 5
# leaves room for calibration error and marks an array of DN or radiance, hundreds and up, as not reflectance
MAX_TOA_REFLECTANCE = 5.0


def confusion(predicted: np.ndarray, truth: np.ndarray) -> dict[str, int]:
    """Pixel counts tp, fp, fn, tn of boolean masks of any (equal) shape."""
    tp = int(np.count_nonzero(predicted & truth))
    fp = int(np.count_nonzero(predicted & ~truth))
    fn = int(np.count_nonzero(~predicted & truth))
    return {"tp": tp, "fp": fp, "fn": fn, "tn": int(truth.size) - tp - fp - fn}


def scores(counts: dict[str, int]) -> dict[str, float]:
    """precision, recall, F1, IoU, FPR and accuracy from pixel counts (0 where a ratio has no denominator)."""
    tp, fp, fn, tn = counts["tp"], counts["fp"], counts["fn"], counts["tn"]

    def ratio(a: int, b: int) -> float:
        return a / b if b else 0.0

    return {"precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn), "f1": ratio(2 * tp, 2 * tp + fp + fn),
            "iou": ratio(tp, tp + fp + fn), "fpr": ratio(fp, fp + tn), "accuracy": ratio(tp + tn, tp + fp + fn + tn)}


@dataclass(frozen=True)
class RealTile:
    """One real labelled tile: TOA reflectance (H, W, 4) float32 in TILE_BANDS order and its cloud codes (H, W)."""

    name: str
    sensor: str
    gsd_m: float
    toa: np.ndarray
    cloud: np.ndarray

    def bands(self, names: Sequence[str]) -> np.ndarray:
        """``toa`` restricted to ``names`` (of TILE_BANDS, in the order given), (H, W, len(names))."""
        return np.ascontiguousarray(self.toa[..., [TILE_BANDS.index(name) for name in names]])


def load_real_tiles(directory: Path, names: Sequence[str] | None = None) -> list[RealTile]:
    """The tiles of ``directory`` (all ``*.npz``, sorted, or those ``names``), each checked against the module
    docstring's form. InputFileError naming the folder when it is none (a file, nothing) or holds no tiles, or the
    file and what is wrong with it."""
    if names is None and not directory.is_dir():
        found = "a file (give the folder it is in)" if directory.exists() else "no such folder"
        raise InputFileError(directory, f"expected a folder of labelled tiles (.npz files with toa, cloud, sensor and "
                                        f"gsd_m), found {found}")
    paths = (sorted(directory.glob("*.npz")) if names is None else [directory / f"{name}.npz" for name in names])
    if not paths or not all(path.is_file() for path in paths):
        raise InputFileError(directory, f"expected labelled tiles {list(names or ['*.npz'])} (.npz files with toa, "
                                        "cloud, sensor and gsd_m), found none")
    return [_read_tile(path) for path in paths]


def _read_tile(path: Path) -> RealTile:
    if not zipfile.is_zipfile(path):  # numpy would read other bytes as a pickle, or raise from inside zipfile
        size = path.stat().st_size
        raise InputFileError(path, "expected a NumPy .npz (a zip archive of arrays) of a labelled tile, found "
                                   + ("an empty file" if not size else f"{size} bytes that are no whole zip archive "
                                      "(cut short, or another kind of file)"))
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [key for key in TILE_KEYS if key not in z.files]
            if missing:
                raise InputFileError(path, f"expected the arrays {', '.join(TILE_KEYS)}, found no {', '.join(missing)}")
            toa, cloud = z["toa"], z["cloud"]
            tile = RealTile(path.stem, str(z["sensor"]), float(z["gsd_m"]), toa.astype(np.float32),
                            cloud.astype(np.uint8))
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:  # a damaged member, a value of the wrong kind
        raise InputFileError(path, f"expected a NumPy .npz of a labelled tile, found {err}") from None
    if toa.ndim != 3 or toa.shape[-1] != len(TILE_BANDS) or cloud.shape != toa.shape[:2]:
        raise InputFileError(path, f"expected toa (H, W, {len(TILE_BANDS)}) and cloud (H, W), found toa "
                                   f"{toa.shape} and cloud {cloud.shape}")
    finite = np.isfinite(toa)
    if not finite.all() or np.abs(toa).max(initial=0.0) > MAX_TOA_REFLECTANCE:
        shown = (f"{int((~finite).sum())} NaN or infinite values" if not finite.all() else
                 f"values up to {float(np.abs(toa).max()):.4g}")
        raise InputFileError(path, f"expected toa as TOA reflectance, finite and within +-{MAX_TOA_REFLECTANCE:g} "
                                   f"(DN are scaled to reflectance first), found {shown}")
    codes = set(np.unique(cloud).tolist()) - {CLOUD_CLEAR, CLOUD_THIN, CLOUD_THICK, UNKNOWN}
    if codes:
        raise InputFileError(path, f"expected cloud codes {CLOUD_CLEAR} clear, {CLOUD_THIN} thin, {CLOUD_THICK} "
                                   f"thick, {UNKNOWN} unlabelled, found {sorted(codes)[:5]}")
    return tile


def tile_counts(predicted: np.ndarray, cloud: np.ndarray) -> dict[str, int]:
    """Confusion counts of a predicted mask (H, W) bool against cloud codes (H, W), unlabelled pixels left out,
    plus the thin and thick pixels and how many of each were found."""
    labelled = cloud != UNKNOWN
    counts = confusion(predicted[labelled], cloud[labelled] != CLOUD_CLEAR)
    for code, name in ((CLOUD_THIN, "thin"), (CLOUD_THICK, "thick")):
        counts[name] = int(np.count_nonzero(cloud == code))
        counts[f"{name}_found"] = int(np.count_nonzero(predicted & (cloud == code)))
    return counts


def summary(counts: dict[str, int]) -> dict[str, float | int | None]:
    """F1, IoU, FPR, precision, recall and thin- and thick-cloud recall (None without such pixels) of counts."""
    result: dict[str, float | int | None] = {k: round(v, 4) for k, v in scores(counts).items()
                                             if k in ("f1", "iou", "fpr", "precision", "recall")}
    for name in ("thin", "thick"):
        result[f"{name}_recall"] = round(counts[f"{name}_found"] / counts[name], 4) if counts[name] else None
    result["cloud_px"] = counts["tp"] + counts["fn"]
    result["clear_px"] = counts["fp"] + counts["tn"]
    return result


def real_validation(predict: Callable[[np.ndarray], np.ndarray], tiles: Sequence[RealTile],
                    bands: Sequence[str]) -> dict[str, object]:
    """Scores of a cloud mask on real tiles: per tile, per sensor and pooled (confusion counts summed).

    ``predict`` maps TOA reflectance (H, W, len(bands)) to a cloud mask (H, W) bool."""
    per_tile = {tile.name: tile_counts(np.asarray(predict(tile.bands(bands)), bool), tile.cloud) for tile in tiles}
    groups = {f"{SENSOR_GROUP}{sensor}": [t.name for t in tiles if t.sensor == sensor]
              for sensor in sorted({t.sensor for t in tiles})}
    groups["pooled"] = [t.name for t in tiles]
    pooled = {group: summary({key: sum(per_tile[name][key] for name in names) for key in per_tile[names[0]]})
              for group, names in groups.items()}
    return {"tiles": {name: summary(counts) for name, counts in per_tile.items()}, **pooled}
