"""Train the on-board cloud segmentation models and write them, with their model cards, to ``onboard/runtime/models/``.

For each variant (``bgrn``: bands B, G, R, NIR; ``rgb``: B, G, R for cameras without NIR) a small U-Net is
trained on frames from :mod:`training.cloud_data`, converted to a full-int8 and a float32 ``.tflite`` file,
scored on the held-out frames through the real interpreter (:class:`onboard.runtime.model.Model`, sliding windows
from :func:`onboard.pipeline.tiling.predict_tiled`) next to the spectral baseline (:mod:`onboard.pipeline.spectral`), and
described by a model card. ``make models`` runs ``python -m training.train_cloud``.

Training crops are perturbed the way real sensors and atmospheres differ from the synthetic camera
(:mod:`training.augment`). The decision threshold is the one with the best pixel F1 on a validation split (training
zones, other frames), folded into the output bias so that the shipped model decides cloud at 0.5, as every
consumer of the models (the cloud stage, ``score.py`` beside the real tiles) assumes. Each card also carries the
model's scores on the real labelled tiles of ``shared/data/real_cloud_val`` (``real_validation``), which play no
part in training or in choosing the threshold.

The U-Net uses only operators with good int8 kernels: CONV_2D, DEPTHWISE_CONV_2D
(ReLU6 fused), RESIZE_BILINEAR (``tf.image.resize``; Keras' UpSampling2D would lower to TILE),
CONCATENATION and LOGISTIC. It predicts the cloud logit at half resolution and resizes it to the input grid
before the sigmoid. Training runs on 128 px crops (the network is fully convolutional); the weights are then
copied into the fixed ``(1, 256, 256, bands)`` model that is exported.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from onboard.pipeline import spectral
from onboard.runtime.modelcard import write_card
from onboard.runtime.scaling import Scaling
from onboard.runtime.model import Model, build_card
from rundir.truth import CLOUD_CLEAR, CLOUD_THICK, CLOUD_THIN, LANDCOVER_CLASSES
from training import augment, cloud_data
from training.cloud_scores import REAL_CLOUD_VAL_DIR, THRESHOLD, WINDOW_OVERLAP_PX, landsat_metrics, predict_frame
from onboard.runtime.real_tiles import confusion, load_real_tiles, real_validation, scores
from training.cloud_data import CloudFrames, make_frames

VARIANTS = {"bgrn": ("B", "G", "R", "NIR"), "rgb": ("B", "G", "R")}
MODEL_PX = 256
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.05), 2)
MODELS_DIR = Path(__file__).resolve().parent.parent / "onboard" / "runtime" / "models"
VERSION = "2.0.0"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (recorded in the model cards)."""

    data_seed: int = 2026  # frame draws (cloud_data.make_frames)
    train_seed: int = 7  # weights, crops and shuffling (keras.utils.set_random_seed)
    train_frames: int = 1600
    train_frame_px: int = 256
    heldout_frames: int = 120
    validation_frames: int = 160  # training zones, other frames (data_seed + 1): where the threshold is chosen
    heldout_frame_px: int = 512
    crop_px: int = 128
    batch_size: int = 16
    steps: int = 2000
    learning_rate: float = 3e-3
    dice_weight: float = 1.0  # loss = binary cross-entropy + dice_weight * soft Dice
    calibration_samples: int = 200  # representative dataset for int8: full-size training frames
    widths: tuple[int, ...] = (16, 24, 32, 48, 64)  # channels at 1/2, 1/4, 1/8 and (two blocks) 1/16 scale


# --------------------------------------------------------------------------------------------- model


def build_unet(n_bands: int, size_px: int | None, batch_size: int | None, widths: Sequence[int]):
    """The cloud U-Net on (size_px, size_px, n_bands) TOA reflectance, giving cloud probability (size_px, size_px, 1)."""
    import keras
    import tensorflow as tf

    class Resize(keras.layers.Layer):
        """Bilinear resize by an integer ``factor`` through tf.image.resize (RESIZE_BILINEAR in TFLite)."""

        def __init__(self, factor: int, **kwargs: Any):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return tf.image.resize(x, (x.shape[1] * self.factor, x.shape[2] * self.factor), method="bilinear")

    def conv(x, channels: int, kernel: int = 3, stride: int = 1):
        x = keras.layers.Conv2D(channels, kernel, strides=stride, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        return keras.layers.ReLU(6.0)(x)

    def separable(x, channels: int, stride: int = 1):
        x = keras.layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU(6.0)(x)
        return conv(x, channels, kernel=1)

    def up_and_join(x, skip, channels: int):
        return separable(keras.layers.Concatenate()([Resize(2)(x), skip]), channels)

    w1, w2, w3, w4, w5 = widths
    toa = keras.Input((size_px, size_px, n_bands), batch_size=batch_size, name="toa")
    e1 = separable(conv(toa, w1, stride=2), w1)  # 1/2
    e2 = separable(separable(e1, w2, stride=2), w2)  # 1/4
    e3 = separable(separable(e2, w3, stride=2), w3)  # 1/8
    e4 = separable(separable(separable(e3, w4, stride=2), w4), w5)  # 1/16; receptive field ~150 px
    d = up_and_join(e4, e3, w3)
    d = up_and_join(d, e2, w2)
    d = up_and_join(d, e1, w1)
    logit = Resize(2)(keras.layers.Conv2D(1, 1)(d))
    probability = keras.layers.Activation("sigmoid", name="cloud_probability")(logit)
    return keras.Model(toa, probability, name="cloud_unet")


# ------------------------------------------------------------------------------------------ training


def _batches(toa: np.ndarray, label: np.ndarray, bands: Sequence[str], config: TrainConfig,
             rng: np.random.Generator):
    """Endless (x, y) batches of random crops, flips, quarter turns and sensor/atmosphere randomisation
    (:func:`training.augment.randomise`): x (N, c, c, B) float32, y (N, c, c, 1)."""
    n, size = toa.shape[0], toa.shape[1]
    c = config.crop_px
    while True:
        frames = rng.integers(0, n, config.batch_size)
        rows = rng.integers(0, size - c + 1, config.batch_size)
        cols = rng.integers(0, size - c + 1, config.batch_size)
        crops = np.stack([toa[f, r:r + c, q:q + c] for f, r, q in zip(frames, rows, cols)])
        x = augment.randomise(crops, bands, rng)
        y = np.stack([label[f, r:r + c, q:q + c] for f, r, q in zip(frames, rows, cols)]).astype(np.float32)[..., None]
        turns = int(rng.integers(4))
        x, y = np.rot90(x, turns, axes=(1, 2)), np.rot90(y, turns, axes=(1, 2))
        if rng.random() < 0.5:
            x, y = x[:, :, ::-1], y[:, :, ::-1]
        yield np.ascontiguousarray(x), np.ascontiguousarray(y)


def train(frames: CloudFrames, bands: Sequence[str], config: TrainConfig, log=print):
    """A trained Keras U-Net (training-shaped: any batch, crop_px square) on ``frames`` restricted to ``bands``."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(config.train_seed)
    tf.config.experimental.enable_op_determinism()
    model = build_unet(len(bands), config.crop_px, None, config.widths)
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, config.steps, alpha=0.02)
    bce, dice = keras.losses.BinaryCrossentropy(), keras.losses.Dice()

    def loss(y_true, y_pred):  # Dice keeps the 0.5 threshold near the F1-best one where thin cloud is faint
        return bce(y_true, y_pred) + config.dice_weight * dice(y_true, y_pred)

    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss)
    batches = _batches(frames.bands(tuple(bands)), frames.label, bands, config,
                       np.random.default_rng([config.train_seed, len(bands)]))
    return fit(model, batches, config.steps, log)


def fit(model, batches, steps: int, log=print, chunk: int = 100):
    """Train ``model`` for ``steps`` batches from the ``batches`` iterator, logging the mean loss every ``chunk``."""
    start_s = time.perf_counter()
    for done in range(0, steps, chunk):
        losses = [float(model.train_on_batch(*next(batches))) for _ in range(min(chunk, steps - done))]
        log(f"  step {done + len(losses)}/{steps}  loss {np.mean(losses):.4f}  {time.perf_counter() - start_s:.0f} s")
    return model


def export_model(trained, bands: Sequence[str], config: TrainConfig):
    """The exported Keras model: fixed input (1, MODEL_PX, MODEL_PX, bands), the trained weights."""
    model = build_unet(len(bands), MODEL_PX, 1, config.widths)
    model.set_weights(trained.get_weights())
    return model


def operating_threshold(model, validation: CloudFrames, bands: Sequence[str]) -> dict[str, float]:
    """The threshold of THRESHOLDS with the best pixel F1 of ``model`` (exported shape) on the validation frames
    (MODEL_PX square), with that F1."""
    toa = validation.bands(tuple(bands)).astype(np.float32)
    probability = np.concatenate([model(toa[k:k + 1], training=False).numpy()[..., 0] for k in range(len(toa))])
    f1 = {float(t): scores(confusion(probability >= t, validation.label))["f1"] for t in THRESHOLDS}
    best = max(f1, key=f1.get)
    return {"threshold": best, "validation_pixel_f1": round(f1[best], 4),
            "validation_pixel_f1_at_0.5": round(f1[THRESHOLD], 4)}


def fold_threshold(model, threshold: float) -> None:
    """Shift ``model``'s output logit by -logit(threshold), in place: its probability is then >= 0.5 exactly where
    the unshifted probability is >= ``threshold``, so the shipped model's decision threshold is 0.5."""
    conv = [layer for layer in model.layers if getattr(layer, "filters", None) == 1][-1]
    kernel, bias = conv.get_weights()
    conv.set_weights([kernel, bias - np.float32(np.log(threshold / (1.0 - threshold)))])


def to_tflite(model, representative: np.ndarray | None) -> bytes:
    """float32 .tflite of ``model``, or full int8 (int8 weights, activations, input and output) calibrated on
    ``representative`` (N, MODEL_PX, MODEL_PX, B) frames when it is given."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if representative is not None:
        def samples():
            for frame in representative:
                yield [frame[None].astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = samples
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()):  # the Keras export prints every captured variable
        return converter.convert()


# -------------------------------------------------------------------------------------------- scoring


def breakdown(predicted: np.ndarray, frames: CloudFrames) -> dict[str, float]:
    """Recall on thin and on thick cloud, and the share of clear pixels flagged per land-cover class."""
    result = {"thin_cloud_recall": float(predicted[frames.cloud == CLOUD_THIN].mean()),
              "thick_cloud_recall": float(predicted[frames.cloud == CLOUD_THICK].mean())}
    for code, name in enumerate(LANDCOVER_CLASSES):
        clear = (frames.cloud == CLOUD_CLEAR) & (frames.landcover == code)
        if clear.any():
            result[f"clear_{name}_flagged"] = float(predicted[clear].mean())
    return {key: round(value, 4) for key, value in result.items()}


def heldout_metrics(probability: np.ndarray, frames: CloudFrames) -> dict[str, Any]:
    """Pixel scores of cloud probabilities (N, H, W) at THRESHOLD with their confusion counts and breakdown,
    and the threshold of THRESHOLDS with the best F1 (with its F1 and IoU)."""
    at = {float(t): scores(confusion(probability >= t, frames.label)) for t in THRESHOLDS}
    best = max(at, key=lambda t: at[t]["f1"])
    predicted = probability >= THRESHOLD
    return {"threshold": THRESHOLD, **{f"pixel_{k}": round(v, 4) for k, v in at[THRESHOLD].items()},
            "best_threshold": best, "best_threshold_pixel_f1": round(at[best]["f1"], 4),
            "best_threshold_pixel_iou": round(at[best]["iou"], 4),
            "confusion": confusion(predicted, frames.label), "breakdown": breakdown(predicted, frames)}


def spectral_metrics(heldout: CloudFrames, bands: Sequence[str]) -> dict[str, Any]:
    """Pixel scores of the spectral baseline on the held-out frames, its thresholds and breakdown."""
    toa = heldout.bands(tuple(bands)).astype(np.float32)
    predicted = np.stack([spectral.cloud_mask(frame, bands) for frame in toa])
    return {**{f"pixel_{k}": round(v, 4) for k, v in scores(confusion(predicted, heldout.label)).items()},
            "thresholds": asdict(spectral.SpectralThresholds()), "breakdown": breakdown(predicted, heldout)}


# ------------------------------------------------------------------------------------------- the run


def _span(seeds: range) -> str:
    return f"{seeds.start}..{seeds.stop - 1}"


def build_variant(variant: str, train_frames: CloudFrames, validation: CloudFrames, heldout: CloudFrames,
                  config: TrainConfig, out_dir: Path, log=print) -> dict[str, Any]:
    """Train, convert, score and write one variant's two models and cards; returns the metrics per model."""
    import tensorflow as tf

    bands = VARIANTS[variant]
    log(f"{variant}: training on {len(train_frames.draws)} frames, bands {bands}")
    start_s = time.perf_counter()
    trained = train(train_frames, bands, config, log)
    train_s = time.perf_counter() - start_s
    exported = export_model(trained, bands, config)
    operating_point = operating_threshold(exported, validation, bands)
    fold_threshold(exported, operating_point["threshold"])
    log(f"operating point on the validation frames: {operating_point}")
    real_tiles = load_real_tiles(REAL_CLOUD_VAL_DIR) if REAL_CLOUD_VAL_DIR.is_dir() else []
    calibration = train_frames.bands(bands, np.linspace(0, len(train_frames.draws) - 1,
                                                        config.calibration_samples).astype(int))
    scaling = Scaling(source="toa_reflectance", scale=1.0, offset=0.0)
    baseline = spectral_metrics(heldout, bands)
    heldout_toa = heldout.bands(bands).astype(np.float32)
    training = {
        "code": "training/train_cloud.py, training/cloud_data.py",
        "data": cloud_data.__doc__.strip(),
        "label": "cloud = truth thin or thick cloud (onboard.sensing.world Scene.cloud != 0); shadows are not cloud",
        "train_split": {"frames": len(train_frames.draws), "frame_px": config.train_frame_px,
                        "utm_zones": "all but heldout_split.utm_zones",
                        "world_seeds": _span(cloud_data.TRAIN_WORLD_SEEDS)},
        "heldout_split": {"frames": len(heldout.draws), "frame_px": config.heldout_frame_px,
                          "utm_zones": sorted(cloud_data.HELDOUT_ZONES),
                          "world_seeds": _span(cloud_data.HELDOUT_WORLD_SEEDS)},
        "draw_ranges": {"latitude_deg": cloud_data.LATITUDE_RANGE_DEG,
                        "local_solar_time_h": cloud_data.LOCAL_SOLAR_TIME_RANGE_H,
                        "min_sun_elevation_deg": cloud_data.MIN_SUN_ELEVATION_DEG, "gsd_m": cloud_data.GSD_RANGE_M,
                        "mean_cloud_cover": cloud_data.MEAN_CLOUD_COVER_RANGE,
                        "cirrus_share": cloud_data.CIRRUS_SHARE_RANGE, "deck_share": cloud_data.DECK_SHARE_RANGE,
                        "cloud_height_m": cloud_data.CLOUD_HEIGHT_RANGE_M,
                        "psf_sigma_px": cloud_data.PSF_SIGMA_RANGE_PX,
                        "read_noise_dn": cloud_data.READ_NOISE_RANGE_DN, "full_well_e": cloud_data.FULL_WELL_RANGE_E,
                        "bit_depth": cloud_data.BIT_DEPTH},
        "validation_split": {"frames": len(validation.draws), "frame_px": config.train_frame_px,
                             "utm_zones": "as train_split", "data_seed": config.data_seed + 1},
        "operating_point": {**operating_point, "folded_into_output_bias": True,
                            "note": "the threshold with the best pixel F1 on the validation split is folded into "
                                    "the output logit's bias, so the shipped model decides cloud at 0.5"},
        "domain_randomisation": "training.augment.randomise: " + " ".join(
            line.strip() for line in augment.__doc__.splitlines()[2:] if line.strip()),
        "config": asdict(config),
        "seeds": {"data_seed": config.data_seed, "train_seed": config.train_seed},
        "train_time_s": round(train_s, 1),
        "tensorflow": tf.__version__, "python": platform.python_version(),
        "evaluation": f"held-out frames through onboard.runtime.model.Model, onboard.pipeline.tiling.predict_tiled "
                      f"(window {MODEL_PX} px, overlap {WINDOW_OVERLAP_PX} px), pixels pooled over all frames",
    }
    results = {}
    for kind in ("float32", "int8"):
        path = out_dir / f"cloud_{variant}_{kind}.tflite"
        path.write_bytes(to_tflite(exported, calibration if kind == "int8" else None))
        card_training = training | ({"calibration": f"{config.calibration_samples} training frames, "
                                                    f"{MODEL_PX} px"} if kind == "int8" else {})
        card = build_card(path, name=f"cloud-unet-{variant}-{kind}", version=VERSION, task="semantic-segmentation",
                          input_name="toa", bands=bands, scaling=scaling, output_name="cloud_probability",
                          output_description="per-pixel probability (0..1) that the pixel is thin or thick cloud; "
                                             "cloud where >= 0.5",
                          training=card_training, metrics={})
        write_card(card, path.with_suffix(".json"))  # Model checks the file against the card beside it
        model = Model(path, threads=2)
        probability = np.stack([predict_frame(model, frame) for frame in heldout_toa])
        metrics = {"heldout": heldout_metrics(probability, heldout), "spectral_baseline": baseline}
        if real_tiles:
            metrics["real_validation"] = {
                "data": "shared/data/real_cloud_val: 9 real Landsat 8 / Sentinel-2 tiles with automatic labels "
                        "(see its README); never used for training or for choosing the threshold",
                "threshold": THRESHOLD, "windows": f"{MODEL_PX} px, overlap {WINDOW_OVERLAP_PX} px",
                **real_validation(lambda toa: predict_frame(model, toa) >= THRESHOLD, real_tiles, bands)}
        if variant == "rgb":
            metrics |= landsat_metrics(model)
        write_card(dataclasses.replace(card, metrics=metrics), path.with_suffix(".json"))
        results[kind] = metrics
        log(f"{path.name}: {card.size_bytes} bytes, ops {list(card.ops)}")
        log(json.dumps(metrics, indent=1))
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=(*VARIANTS, "all"), default="all")
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="directory for the .tflite files and cards")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow CPU threads")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import cv2
    import tensorflow as tf

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # not the Landsat tags it cannot name

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    config = TrainConfig()
    args.out.mkdir(parents=True, exist_ok=True)
    start_s = time.perf_counter()
    train_frames = make_frames("train", config.train_frames, config.train_frame_px, config.data_seed)
    validation = make_frames("train", config.validation_frames, config.train_frame_px, config.data_seed + 1)
    heldout = make_frames("heldout", config.heldout_frames, config.heldout_frame_px, config.data_seed)
    print(f"frames drawn in {time.perf_counter() - start_s:.0f} s", flush=True)
    for variant in VARIANTS if args.variant == "all" else (args.variant,):
        build_variant(variant, train_frames, validation, heldout, config, args.out, log=lambda s: print(s, flush=True))
    print(f"done in {time.perf_counter() - start_s:.0f} s")


if __name__ == "__main__":
    main()
