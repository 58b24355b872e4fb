"""Train the on-board multi-frame super-resolution model (x2) and write it, full-int8 and float32, with model
cards, to ``onboard/runtime/models/``.

The model is band-agnostic: it fuses one band at a time, so one model serves any camera. Its input is what
:func:`onboard.pipeline.fusion.misr` prepares from a registered burst of K frames - three high-res planes (the
registered bicubic mean, the shift-and-add median and its sample count) folded to the low-res grid by
space-to-depth and standardised per window - and its output, unfolded by ``tf.nn.depth_to_space``, is the
correction to add to the bicubic mean in units of the window's standard deviation. It is a plain stack of
3x3 convolutions with ReLU plus a linear 1x1 path, so every operator has an int8 kernel (CONV_2D, ADD,
DEPTH_TO_SPACE). Training runs on bursts from :mod:`training.superres_data` (synthetic world, training
regions and seeds); held-out scores come from the real interpreter (:class:`onboard.runtime.model.Model`) through
the sliding window on other regions and seeds, next to bicubic and shift-and-add on the same bursts, and on
Landsat 8 crops degraded by the same burst camera. ``python -m training.train_superres`` rebuilds both models
(about 16 minutes on 2 CPU cores); ``--landsat-figure PNG`` only scores the shipped models on the Landsat crops
and draws a crop figure (low-res frame, bicubic, shift-and-add, model, truth).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ground.image_quality import cpsnr_db, registration_error_px, ssim
from onboard.pipeline import fusion, tiling
from onboard.runtime.modelcard import write_card
from onboard.runtime.scaling import Scaling
from onboard.runtime.model import Model, build_card
from training import cloud_data, superres_data
from training.train_cloud import fit, to_tflite  # the same training loop and full-int8 conversion
from training.superres_data import RegisteredBurst, iter_bursts, landsat_burst, make_bursts

SCALE = superres_data.SCALE
MODEL_PX = 64  # low-res window: (1, 64, 64, 12) in, (1, 128, 128, 1) out
CHANNELS = SCALE * SCALE * len(fusion.FEATURE_PLANES)
TARGET_CLIP = 8.0  # standardised correction targets are clipped to +-this (cloud edges, outliers)
MODELS_DIR = Path(__file__).resolve().parent.parent / "onboard" / "runtime" / "models"
STEM = "superres_x2"
VERSION = "1.0.0"
LANDSAT_CROP_PX = 256  # low-res frames of the Landsat bursts (512 px truth at 30 m)
FIGURE_CROP_PX = 160  # high-res px of the crop figure, centred


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (recorded in the model cards)."""

    data_seed: int = 2026  # burst draws (superres_data.iter_bursts)
    train_seed: int = 7  # weights, crops and shuffling (keras.utils.set_random_seed)
    train_bursts: int = 600
    train_burst_px: int = 128  # low-res frames; several model windows are cropped from each band
    heldout_bursts: int = 24
    heldout_burst_px: int = 256
    batch_size: int = 12
    steps: int = 1800
    learning_rate: float = 2e-3
    width: int = 32
    depth: int = 4  # 3x3 convolutions between the first and the output one
    calibration_windows: int = 300  # representative dataset for int8: training windows
    landsat_seed: int = 11


# --------------------------------------------------------------------------------------------- model


def build_model(size_px: int | None, batch_size: int | None, width: int, depth: int):
    """The fusion network: (size_px, size_px, CHANNELS) standardised planes to the (2 size_px, 2 size_px, 1)
    standardised correction."""
    import keras
    import tensorflow as tf

    class DepthToSpace(keras.layers.Layer):
        """``tf.nn.depth_to_space`` by SCALE (DEPTH_TO_SPACE in TFLite; UpSampling2D would not do this)."""

        def call(self, x):
            return tf.nn.depth_to_space(x, SCALE)

    planes = keras.Input((size_px, size_px, CHANNELS), batch_size=batch_size, name="planes")
    h = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(planes)
    for _ in range(depth):
        h = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(h)
    # Output layers start at zero: the untrained network returns the bicubic mean unchanged.
    folded = keras.layers.Add()([keras.layers.Conv2D(SCALE * SCALE, 3, padding="same", kernel_initializer="zeros")(h),
                                 keras.layers.Conv2D(SCALE * SCALE, 1, kernel_initializer="zeros")(planes)])
    correction = DepthToSpace(name="correction")(folded)
    return keras.Model(planes, correction, name="misr_x2")


# ------------------------------------------------------------------------------------------ training


@dataclass
class TrainingSet:
    """Per band of every training burst, on the high-res grid (N, H*s, W*s): the registered bicubic mean,
    the shift-and-add less it, the samples plane, the truth less the bicubic mean and the truth's clear mask."""

    bicubic: np.ndarray  # float32
    detail: np.ndarray  # float16
    samples: np.ndarray  # float16
    residual: np.ndarray  # float16
    clear: np.ndarray  # bool

    @classmethod
    def from_bursts(cls, bursts: Sequence[RegisteredBurst] | Any) -> "TrainingSet":
        parts: dict[str, list[np.ndarray]] = {name: [] for name in ("bicubic", "detail", "samples", "residual",
                                                                    "clear")}
        for sample in bursts:
            planes = fusion.misr_planes(sample.lr, sample.shifts_px, sample.clear, SCALE)
            for band, plane in enumerate(planes):
                parts["bicubic"].append(plane[..., 0])
                parts["detail"].append((plane[..., 1] - plane[..., 0]).astype(np.float16))
                parts["samples"].append(plane[..., 2].astype(np.float16))
                parts["residual"].append((sample.burst.hr_truth[..., band] - plane[..., 0]).astype(np.float16))
                parts["clear"].append(sample.burst.hr_clear)
        return cls(**{name: np.stack(values) for name, values in parts.items()})

    def window(self, n: int, row0: int, col0: int, size_px: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Model input (size_px, size_px, CHANNELS) standardised, target (2 size_px, 2 size_px) standardised
        correction and clear mask (2 size_px, 2 size_px) of sample ``n`` at low-res (row0, col0)."""
        hr = (n, slice(SCALE * row0, SCALE * (row0 + size_px)), slice(SCALE * col0, SCALE * (col0 + size_px)))
        bic = self.bicubic[hr]
        planes = np.stack([bic, bic + self.detail[hr].astype(np.float32), self.samples[hr].astype(np.float32)],
                          axis=-1)
        x, sigma = fusion.standardise(tiling.space_to_depth(planes, SCALE), SCALE)
        target = np.clip(self.residual[hr].astype(np.float32) / np.float32(sigma), -TARGET_CLIP, TARGET_CLIP)
        return x, target, self.clear[hr]


def _batches(data: TrainingSet, config: TrainConfig, rng: np.random.Generator):
    """Endless (x, y) batches: x (N, MODEL_PX, MODEL_PX, CHANNELS), y (N, 2 MODEL_PX, 2 MODEL_PX, 2) holding
    the target and the clear mask."""
    n, size = data.bicubic.shape[0], data.bicubic.shape[1] // SCALE
    while True:
        xs, ys = [], []
        for _ in range(config.batch_size):
            x, target, clear = data.window(int(rng.integers(n)), int(rng.integers(size - MODEL_PX + 1)),
                                           int(rng.integers(size - MODEL_PX + 1)), MODEL_PX)
            xs.append(x)
            ys.append(np.stack([target, clear.astype(np.float32)], axis=-1))
        yield np.stack(xs), np.stack(ys)


def masked_mse(y_true, y_pred):
    """Mean squared error of the standardised correction over the truth's clear pixels."""
    import keras.ops as ops

    target, clear = y_true[..., :1], y_true[..., 1:]
    return ops.sum(clear * ops.square(y_pred - target)) / ops.maximum(ops.sum(clear), 1.0)


def train(data: TrainingSet, config: TrainConfig, log=print):
    """A trained fusion network (float, fully convolutional)."""
    import keras

    keras.utils.set_random_seed(config.train_seed)
    model = build_model(None, None, config.width, config.depth)
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, config.steps, alpha=0.05)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=masked_mse)
    batches = _batches(data, config, np.random.default_rng(config.train_seed))
    return fit(model, batches, config.steps, log)


def export_model(trained, config: TrainConfig):
    """The exported Keras model: fixed input (1, MODEL_PX, MODEL_PX, CHANNELS), the trained weights."""
    model = build_model(MODEL_PX, 1, config.width, config.depth)
    model.set_weights(trained.get_weights())
    return model


# -------------------------------------------------------------------------------------------- scoring


class KerasPredictor:
    """A Keras model behind the :class:`onboard.pipeline.fusion.Predictor` interface (for scoring before export)."""

    def __init__(self, model):
        self.model = model
        self.input_shape = (1, MODEL_PX, MODEL_PX, CHANNELS)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model(x[None], training=False))[0]


def methods(predictors: dict[str, fusion.Predictor]) -> dict[str, Callable[[RegisteredBurst], np.ndarray]]:
    """The fusion methods scored, by name: the predictors' learned fusion and the baselines - bicubic of the
    mean of the clear frames as they come (the issue's baseline) and registered first, and shift-and-add."""
    out: dict[str, Callable[[RegisteredBurst], np.ndarray]] = {
        name: (lambda b, p=p: fusion.misr(p, b.lr, b.shifts_px, b.clear, SCALE)) for name, p in predictors.items()}
    out["bicubic"] = lambda b: fusion.bicubic(b.lr, b.clear, SCALE)
    out["bicubic_registered"] = lambda b: fusion.bicubic(b.lr, b.clear, SCALE, b.shifts_px)
    out["shift_and_add"] = lambda b: fusion.shift_and_add(b.lr, b.shifts_px, b.clear, SCALE)
    return out


def score(bursts: Sequence[RegisteredBurst], fusers: dict[str, Callable[[RegisteredBurst], np.ndarray]],
          ) -> dict[str, Any]:
    """cPSNR (dB) and SSIM per burst and their means for every method, against each burst's truth and clear
    mask; and the RMS registration error (px)."""
    per_burst: dict[str, dict[str, list[float]]] = {name: {"cpsnr_db": [], "ssim": []} for name in fusers}
    for sample in bursts:
        truth, clear = sample.burst.hr_truth, sample.burst.hr_clear
        for name, fuse in fusers.items():
            sr = fuse(sample)
            per_burst[name]["cpsnr_db"].append(round(cpsnr_db(sr, truth, clear), 3))
            per_burst[name]["ssim"].append(round(ssim(sr, truth, clear), 5))
    errors = [registration_error_px(s.shifts_px, s.burst.shifts_px) for s in bursts]
    return {"mean_cpsnr_db": {name: round(float(np.mean(v["cpsnr_db"])), 3) for name, v in per_burst.items()},
            "mean_ssim": {name: round(float(np.mean(v["ssim"])), 5) for name, v in per_burst.items()},
            "per_burst": per_burst,
            "registration_error_px": {"rms": round(float(np.sqrt(np.mean(np.square(errors)))), 4),
                                      "max": round(float(np.max(errors)), 4)}}


def landsat_bursts(config: TrainConfig) -> list[RegisteredBurst]:
    """The Landsat crops of :data:`training.superres_data.LANDSAT_CROPS` through the burst camera."""
    rng = np.random.default_rng(config.landsat_seed)
    return [landsat_burst(scene, row0, col0, LANDSAT_CROP_PX, np.random.default_rng(rng.integers(2**63)))
            for scene, row0, col0 in superres_data.LANDSAT_CROPS]


def calibration_windows(data: TrainingSet, count: int, seed: int) -> np.ndarray:
    """(count, MODEL_PX, MODEL_PX, CHANNELS) training windows for the int8 representative dataset."""
    batches = _batches(data, TrainConfig(batch_size=count), np.random.default_rng([seed, 0xCA1]))
    return next(batches)[0]


# ------------------------------------------------------------------------------------------- the run


def build(config: TrainConfig, out_dir: Path, log=print) -> dict[str, Any]:
    """Draw the bursts, train, convert, score and write both models and cards; returns the held-out scores."""
    import tensorflow as tf

    start_s = time.perf_counter()
    data = TrainingSet.from_bursts(iter_bursts("train", config.train_bursts, config.train_burst_px,
                                               config.data_seed))
    heldout = make_bursts("heldout", config.heldout_bursts, config.heldout_burst_px, config.data_seed)
    landsat = landsat_bursts(config)
    data_s = time.perf_counter() - start_s
    log(f"{data.bicubic.shape[0]} training band-bursts, {len(heldout)} held-out bursts in {data_s:.0f} s")
    scaling = Scaling(source="misr_planes_standardised", scale=1.0, offset=0.0)
    channel_names = [f"{plane}[{row},{col}]" for row in range(SCALE) for col in range(SCALE)
                     for plane in fusion.FEATURE_PLANES]
    training = {
        "code": "training/train_superres.py, training/superres_data.py; inference: onboard.pipeline.fusion.misr",
        "data": superres_data.__doc__.strip(),
        "input": f"per band, window of {MODEL_PX} low-res px: high-res planes {list(fusion.FEATURE_PLANES)} "
                 f"(onboard.pipeline.fusion.misr_planes) folded by space-to-depth ({SCALE}x{SCALE}), channel = "
                 f"(row phase * {SCALE} + column phase) * {len(fusion.FEATURE_PLANES)} + plane; reflectance "
                 f"planes less the window's bicubic mean over its standard deviation (>= "
                 f"{fusion.FEATURE_FLOOR}), all clipped to +-{fusion.FEATURE_CLIP} (onboard.pipeline.fusion.standardise)",
        "output": "correction to the registered bicubic mean on the high-res grid, in units of the window's "
                  "standard deviation; SR = bicubic mean + output * std",
        "target": "truth (world rendered at gsd/2) less the registered bicubic mean, over the truth's clear "
                  "pixels (masked MSE)",
        "train_split": {"bursts": config.train_bursts, "frame_px": config.train_burst_px,
                        "utm_zones": "all but HELDOUT_ZONES", "world_seeds": "1000..499999"},
        "heldout_split": {"bursts": len(heldout), "frame_px": config.heldout_burst_px,
                          "utm_zones": sorted(cloud_data.HELDOUT_ZONES), "world_seeds": "500000..999999"},
        "burst": {"frames": superres_data.FRAMES, "scale": SCALE, "jitter_px": superres_data.JITTER_PX,
                  "registration": "onboard.pipeline.registration.register (ECC from phase correlation)"},
        "draw_ranges": {"gsd_m": superres_data.GSD_RANGE_M, "psf_sigma_lr_px": superres_data.PSF_SIGMA_RANGE_PX,
                        "mean_cloud_cover": superres_data.MEAN_CLOUD_COVER_RANGE,
                        "frame_cloud_cover": superres_data.FRAME_CLOUD_COVER_RANGE,
                        "cloud_drift_px": superres_data.CLOUD_DRIFT_RANGE_PX,
                        "read_noise_dn": superres_data.READ_NOISE_RANGE_DN,
                        "full_well_e": superres_data.FULL_WELL_RANGE_E, "bit_depth": superres_data.BIT_DEPTH,
                        "min_clear_fraction": superres_data.MIN_CLEAR_FRACTION},
        "config": asdict(config),
        "seeds": {"data_seed": config.data_seed, "train_seed": config.train_seed,
                  "landsat_seed": config.landsat_seed},
        "data_time_s": round(data_s, 1),
        "tensorflow": tf.__version__, "python": platform.python_version(),
        "evaluation": f"held-out bursts through onboard.runtime.model.Model and onboard.pipeline.fusion.misr (window {MODEL_PX} "
                      f"px, overlap {fusion.MODEL_OVERLAP_PX} px); cPSNR and SSIM from ground.superres against "
                      "the truth's clear pixels (reflectance range 1), averaged over bursts",
    }
    start_s = time.perf_counter()
    trained = train(data, config, log)
    train_s = time.perf_counter() - start_s
    training["train_time_s"] = round(train_s, 1)
    exported = export_model(trained, config)
    calibration = calibration_windows(data, config.calibration_windows, config.train_seed)
    paths = {kind: out_dir / f"{STEM}_{kind}.tflite" for kind in ("int8", "float32")}
    for kind, path in paths.items():
        path.write_bytes(to_tflite(exported, calibration if kind == "int8" else None))
        card = _card(path, kind, scaling, channel_names, training, {})
        write_card(card, path.with_suffix(".json"))
    models = {f"model_{kind}": Model(path, threads=2) for kind, path in paths.items()}
    fusers = methods(models)
    metrics = {"heldout": score(heldout, fusers), "real_landsat": score(landsat, fusers)}
    metrics["real_landsat"]["crops"] = [{"scene": scene, "row0": row0, "col0": col0, "truth_px": 2 * LANDSAT_CROP_PX}
                                        for scene, row0, col0 in superres_data.LANDSAT_CROPS]
    metrics["real_landsat"]["toa"] = ("(2e-5 * DN - 0.1) / sin(38 deg), bands B2, B3, B4 as B, G, R; truth at "
                                      "30 m, bursts at 60 m through onboard.sensing.burst.capture_burst (default camera)")
    for kind, path in paths.items():
        card = _card(path, kind, scaling, channel_names, training, metrics)
        write_card(card, path.with_suffix(".json"))
        log(f"{path.name}: {card.size_bytes} bytes, ops {list(card.ops)}")
    log(json.dumps({k: {m: v[m] for m in ("mean_cpsnr_db", "mean_ssim", "registration_error_px")}
                    for k, v in metrics.items()}, indent=1))
    return metrics


def _card(path: Path, kind: str, scaling: Scaling, channel_names: list[str], training: dict[str, Any],
          metrics: dict[str, Any]):
    card_training = training | ({"calibration": "training windows, " + str(MODEL_PX) + " px"}
                                if kind == "int8" else {})
    return build_card(path, name=f"misr-x2-{kind}", version=VERSION, task="super-resolution", input_name="planes",
                      bands=channel_names, scaling=scaling, output_name="correction",
                      output_description="standardised correction to the registered bicubic mean, (1, 128, 128, 1) "
                                         "on the x2 grid; see training.output",
                      training=card_training, metrics=metrics)


def crops_figure(sample: RegisteredBurst, images: dict[str, np.ndarray], path: Path, row0: int, col0: int,
                 size_px: int) -> None:
    """A PNG of one crop (high-res rows/columns from ``row0``/``col0``, ``size_px`` square) of a B, G, R burst:
    the first low-res frame (pixels repeated), each of ``images`` (high-res), and the truth, in true colour."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    window = (slice(row0, row0 + size_px), slice(col0, col0 + size_px))
    truth = sample.burst.hr_truth[window]
    low, high = np.percentile(truth, 1, axis=(0, 1)), np.percentile(truth, 99, axis=(0, 1))

    def rgb(image: np.ndarray) -> np.ndarray:
        return np.clip((image[..., ::-1] - low[::-1]) / (high - low)[::-1], 0, 1)  # B, G, R to R, G, B

    frame = np.repeat(np.repeat(sample.lr[0], SCALE, axis=0), SCALE, axis=1)
    panels = {"low-res frame (x2 px)": frame[window], **{name: image[window] for name, image in images.items()},
              "truth": truth}
    figure, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.9))
    for ax, (name, image) in zip(axes, panels.items()):
        ax.imshow(rgb(image), interpolation="nearest")
        score = "" if name in ("truth", "low-res frame (x2 px)") else \
            f"\n{cpsnr_db(image, truth, sample.burst.hr_clear[window]):.2f} dB (crop)"
        ax.set_title(name + score, fontsize=9)
        ax.axis("off")
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def landsat_report(models_dir: Path, figure: Path, config: TrainConfig, log=print) -> dict[str, Any]:
    """Score the shipped models on the Landsat crops and draw the crop figure of the last (urban) crop."""
    models = {f"model_{kind}": Model(models_dir / f"{STEM}_{kind}.tflite", threads=2) for kind in ("int8", "float32")}
    bursts = landsat_bursts(config)
    result = score(bursts, methods(models))
    sample = bursts[-1]
    fusers = methods({"model int8": models["model_int8"]})
    images = {name: fusers[key](sample) for name, key in (("bicubic (registered)", "bicubic_registered"),
                                                           ("shift-and-add", "shift_and_add"),
                                                           ("model int8", "model int8"))}
    size_px = min(FIGURE_CROP_PX, sample.burst.hr_truth.shape[0])
    start = (sample.burst.hr_truth.shape[0] - size_px) // 2
    crops_figure(sample, images, figure, start, start, size_px)
    log(json.dumps({k: result[k] for k in ("mean_cpsnr_db", "mean_ssim", "per_burst", "registration_error_px")}))
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="directory for the .tflite files and cards")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow CPU threads")
    parser.add_argument("--landsat-figure", type=Path, default=None,
                        help="do not train: score the models in --out on the Landsat crops and write this PNG")
    args = parser.parse_args(argv)
    if args.landsat_figure is not None:
        landsat_report(args.out, args.landsat_figure, TrainConfig())
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    start_s = time.perf_counter()
    build(TrainConfig(), args.out, log=lambda s: print(s, flush=True))
    print(f"done in {time.perf_counter() - start_s:.0f} s")


if __name__ == "__main__":
    main()
