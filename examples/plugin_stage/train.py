"""Train the scene triage classifier on orbitedge's synthetic world and write it, full int8, with its STAC MLM card,
to ``orbitedge_scene_triage/models/`` (``make -C examples/plugin_stage model``; needs orbitedge's [train] extra).

Frames with truth come from :func:`training.cloud_data.make_frames` (the world seen through the camera, calibrated to
TOA reflectance: what the on-board stage sees), 128 px square, shrunk to the model's 32 px input by the stage's own
:func:`orbitedge_scene_triage.triage.thumbnail`. A frame's label is ``cloudy`` when more than DISCARD_CLOUD_FRACTION
of its pixels are thin or thick cloud in the truth, else ``clear``. The network is three strided 3 x 3 convolutions,
a global average and one dense layer giving the two class logits (the card's ``softmax`` makes probabilities), so
it judges any frame size alike. Training draws from the training zones and world seeds, the held-out scores from
the held-out ones (``cloud_data`` keeps them apart), at 128 px and at 512 px (the frame size of the example
scenario); every seed is fixed, so the same TensorFlow gives the same model.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from onboard.runtime.modelcard import write_card
from onboard.runtime.scaling import Scaling
from onboard.runtime.model import Model, build_card
from orbitedge_scene_triage.triage import MODEL, thumbnail
from training import cloud_data

BANDS = ("B", "G", "R", "NIR")
CLASSES = ("clear", "cloudy")
DISCARD_CLOUD_FRACTION = 0.7  # a frame with more cloud than this is labelled cloudy
MODEL_PX = 32
CONFIDENCES = (0.5, 0.6, 0.7, 0.8, 0.9)  # the stage's confidence values the card scores


@dataclass(frozen=True)
class TrainConfig:
    data_seed: int = 2026  # frame draws (cloud_data.make_frames), one stream per chunk of CHUNK frames
    train_seed: int = 7  # weights and shuffling (keras.utils.set_random_seed)
    frame_px: int = 128
    train_frames: int = 1200
    heldout_frames: int = 300
    heldout_large_px: int = 512
    heldout_large_frames: int = 60
    chunk: int = 50  # frames per make_frames call (one process each)
    widths: tuple[int, ...] = (16, 32, 32)
    epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 3e-3
    calibration_samples: int = 200  # representative thumbnails for the int8 conversion


def frame_set(split: str, count: int, size_px: int, seed: int, oversample_bright: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(thumbnails (N, MODEL_PX, MODEL_PX, 4) float32 TOA reflectance, cloud fraction (N,) float32)`` of ``count``
    frames of ``size_px`` (:func:`cloud_data.make_frames`, a pure function of the arguments)."""
    frames = cloud_data.make_frames(split, count, size_px, seed, oversample_bright)
    toa = frames.bands(BANDS)
    return (np.stack([thumbnail(t.astype(np.float32), MODEL_PX) for t in toa]),
            frames.label.mean(axis=(1, 2)).astype(np.float32))


def draw(split: str, count: int, size_px: int, config: TrainConfig, oversample_bright: bool, pool) -> tuple[np.ndarray, np.ndarray]:
    """``frame_set`` of ``count`` frames in chunks of ``config.chunk`` on ``pool``, chunk k seeded [data_seed, k]:
    the same frames whatever the number of processes."""
    chunks = [min(config.chunk, count - start) for start in range(0, count, config.chunk)]
    seeds = [config.data_seed * 1000 + k for k in range(len(chunks))]
    parts = list(pool.map(frame_set, [split] * len(chunks), chunks, [size_px] * len(chunks), seeds,
                          [oversample_bright] * len(chunks)))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def build_classifier(batch_size: int | None, widths: tuple[int, ...]):
    """The Keras classifier: (batch, MODEL_PX, MODEL_PX, 4) TOA reflectance in, (batch, 2) class logits out."""
    import keras

    inputs = keras.Input((MODEL_PX, MODEL_PX, len(BANDS)), batch_size=batch_size, name="toa_thumbnail")
    x = inputs
    for width in widths:
        x = keras.layers.Conv2D(width, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(len(CLASSES), name="class_logits")(x))


def train(x: np.ndarray, y: np.ndarray, config: TrainConfig):
    """The classifier trained on thumbnails ``x`` and labels ``y`` (0 clear, 1 cloudy), each epoch on the eight
    flips and quarter turns of every frame drawn at random (seeded)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(config.train_seed)
    tf.config.experimental.enable_op_determinism()
    model = build_classifier(None, config.widths)
    steps = config.epochs * (len(x) // config.batch_size)
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(config.learning_rate, steps)),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(config.train_seed)
    for epoch in range(config.epochs):
        turns, flips = rng.integers(0, 4, len(x)), rng.integers(0, 2, len(x))
        augmented = np.stack([np.rot90(t[:, ::-1] if f else t, k) for t, k, f in zip(x, turns, flips)])
        history = model.fit(augmented, y, batch_size=config.batch_size, shuffle=True, verbose=0)
        if epoch % 10 == 9:
            print(f"  epoch {epoch + 1}/{config.epochs}  loss {history.history['loss'][-1]:.4f}")
    exported = build_classifier(1, config.widths)
    exported.set_weights(model.get_weights())
    return exported


def to_int8_tflite(model, calibration: np.ndarray) -> bytes:
    """Full-int8 .tflite of ``model`` (int8 weights, activations, input and output), calibrated on ``calibration``
    thumbnails."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([t[None]] for t in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()):  # the Keras export prints every captured variable
        return converter.convert()


def triage_scores(model: Model, x: np.ndarray, cloud_fraction: np.ndarray) -> dict[str, Any]:
    """What the int8 model, through the runtime, decides on held-out thumbnails ``x``: accuracy of its top label,
    and per stage ``confidence`` the share of cloudy frames discarded, of clear frames discarded, and the mean true
    cloud fraction of the clear frames it would discard."""
    card_out = model.card.outputs[0]
    p_cloudy = np.array([card_out.activate(model.predict(t))[1] for t in x])
    cloudy = cloud_fraction > DISCARD_CLOUD_FRACTION
    out: dict[str, Any] = {"frames": len(x), "cloudy_frames": int(cloudy.sum()),
                           "accuracy": round(float(((p_cloudy >= 0.5) == cloudy).mean()), 4)}
    for confidence in CONFIDENCES:
        discarded = p_cloudy >= confidence
        wrong = discarded & ~cloudy
        out[f"confidence_{confidence}"] = {
            "cloudy_frames_discarded": round(float(discarded[cloudy].mean()), 4) if cloudy.any() else None,
            "clear_frames_discarded": round(float(discarded[~cloudy].mean()), 4) if (~cloudy).any() else None,
            "mean_cloud_fraction_of_clear_frames_discarded": round(float(cloud_fraction[wrong].mean()), 4)
            if wrong.any() else None}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=MODEL, help="the .tflite file (its card beside it)")
    parser.add_argument("--threads", type=int, default=2, help="processes drawing frames and TensorFlow CPU threads")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    config = TrainConfig()
    start_s = time.perf_counter()
    with ProcessPoolExecutor(args.threads) as pool:
        x, fraction = draw("train", config.train_frames, config.frame_px, config, True, pool)
        heldout = draw("heldout", config.heldout_frames, config.frame_px, config, False, pool)
        heldout_large = draw("heldout", config.heldout_large_frames, config.heldout_large_px,
                             replace(config, data_seed=config.data_seed + 1), False, pool)
    y = (fraction > DISCARD_CLOUD_FRACTION).astype(np.int32)
    print(f"frames drawn in {time.perf_counter() - start_s:.0f} s; {len(x)} training frames, {y.mean():.0%} cloudy")
    train_start_s = time.perf_counter()
    exported = train(x, y, config)
    train_s = time.perf_counter() - train_start_s
    args.out.parent.mkdir(parents=True, exist_ok=True)
    calibration = x[np.linspace(0, len(x) - 1, config.calibration_samples).astype(int)]
    args.out.write_bytes(to_int8_tflite(exported, calibration))
    training = {
        "code": "examples/plugin_stage/train.py (orbitedge training/cloud_data.py draws the frames)",
        "data": cloud_data.__doc__.strip(),
        "label": f"cloudy when more than {DISCARD_CLOUD_FRACTION:.0%} of the frame is thin or thick cloud in the "
                 "truth (onboard.sensing.world Scene.cloud != 0), else clear",
        "cloudy_above_cloud_fraction": DISCARD_CLOUD_FRACTION,
        "input": f"the frame's TOA reflectance, bands {list(BANDS)}, area-averaged to {MODEL_PX} px "
                 "(orbitedge_scene_triage.triage.thumbnail)",
        "train_split": {"frames": len(x), "frame_px": config.frame_px, "cloudy_share": round(float(y.mean()), 4),
                        "oversample_bright": True, "augmentation": "random flips and quarter turns, each epoch"},
        "heldout_split": {"frames": config.heldout_frames, "frame_px": config.frame_px,
                          "utm_zones": sorted(cloud_data.HELDOUT_ZONES), "oversample_bright": False},
        "calibration": f"{config.calibration_samples} training thumbnails",
        "config": asdict(config), "seeds": {"data_seed": config.data_seed, "train_seed": config.train_seed},
        "train_time_s": round(train_s, 1), "tensorflow": tf.__version__, "python": platform.python_version()}
    card = build_card(args.out, name="scene-triage-int8", version="1.0.0", task="classification",
                      input_name="toa_thumbnail", bands=BANDS, scaling=Scaling("toa_reflectance", 1.0, 0.0),
                      output_name="class_logits", output_description="logits of the classes clear and cloudy; "
                      "softmax gives their probabilities", training=training, metrics={}, classes=CLASSES,
                      activation="softmax", architecture="3 strided conv + global average + dense", form="stac",
                      benchmark=True)
    card_path = args.out.with_suffix(".json")
    write_card(card, card_path)  # Model checks the file against the card beside it
    model = Model(args.out)
    metrics = {"heldout": triage_scores(model, *heldout),
               f"heldout_{config.heldout_large_px}px": triage_scores(model, *heldout_large)}
    write_card(replace(card, metrics=metrics), card_path)
    print(f"wrote {args.out} ({card.size_bytes} bytes, ops {', '.join(card.ops)}) and {card_path}")
    for split, scores in metrics.items():
        print(f"  {split}: accuracy {scores['accuracy']:.3f} on {scores['frames']} frames; at confidence 0.8: "
              f"{scores['confidence_0.8']}")
    print(f"done in {time.perf_counter() - start_s:.0f} s")


if __name__ == "__main__":
    main()
