"""Write the tiny test models tests/data/tiny_float32.tflite and tests/data/tiny_int8.tflite, with their cards, and
tests/data/tiny_16x8.tflite.

A two-layer convolution (3x3, 4 -> 8 channels, ReLU; 3x3, 8 -> 2 channels, linear) on a 32x32x4 input, with
weights drawn from a seeded generator, not trained. The int8 twin is full-integer (int8 weights, activations
and I/O) calibrated on a seeded representative dataset. Needs TensorFlow (the ``[train]`` extra); the tests
only read the files. Run by hand: ``.venv/bin/python tests/data/make_tiny_models.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from onboard.runtime.modelcard import write_card
from onboard.runtime.scaling import Scaling
from onboard.runtime.model import build_card

HERE = Path(__file__).resolve().parent
SEED = 20260621
SHAPE = (32, 32, 4)
BANDS = ("B", "G", "R", "NIR")
CALIBRATION_SAMPLES = 64


def keras_model():
    """The float Keras model, batch 1, with seeded weights (the tests rebuild it in numpy from the .tflite)."""
    import keras

    inputs = keras.Input(SHAPE, batch_size=1, name="toa")
    hidden = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    outputs = keras.layers.Conv2D(2, 3, padding="same", name="conv2")(hidden)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(SEED)
    for layer, (c_in, c_out) in zip(model.layers[1:], ((4, 8), (8, 2))):
        weights = rng.normal(0.0, np.sqrt(2.0 / (9 * c_in)), (3, 3, c_in, c_out)).astype(np.float32)
        bias = rng.normal(0.0, 0.1, c_out).astype(np.float32)
        layer.set_weights([weights, bias])
    return model


def convert(model, int8: bool, int16_activations: bool = False) -> bytes:
    """TFLite flatbuffer of ``model``: float32, or full int8 with int8 input and output, or (``int16_activations``)
    TFLite's 16x8 mode, int16 activations and int8 weights with float input and output."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if int8 or int16_activations:
        rng = np.random.default_rng(SEED + 1)

        def representative_dataset():
            for _ in range(CALIBRATION_SAMPLES):
                yield [rng.uniform(0.0, 1.0, (1, *SHAPE)).astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative_dataset
    if int16_activations:
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    elif int8:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def write_16x8() -> None:
    """tests/data/tiny_16x8.tflite, the same model in 16x8 mode (no card): a model whose tf2onnx export ONNX
    Runtime refuses."""
    path = HERE / "tiny_16x8.tflite"
    path.write_bytes(convert(keras_model(), int8=False, int16_activations=True))
    print(f"{path.name}: {path.stat().st_size} bytes")


def main() -> None:
    import tensorflow as tf

    model = keras_model()
    training = {"data": "none: weights drawn from numpy default_rng(seed), not trained", "seed": SEED,
                "tensorflow": tf.__version__}
    for kind in ("float32", "int8"):
        path = HERE / f"tiny_{kind}.tflite"
        path.write_bytes(convert(model, int8=kind == "int8"))
        card = build_card(
            path, name=f"tiny-{kind}", version="1.0.0", task="test-fixture", input_name="toa", bands=BANDS,
            scaling=Scaling(source="toa_reflectance", scale=1.0, offset=0.0), output_name="features",
            output_description="two channels of an untrained 2-layer convolution (test fixture, no meaning)",
            training=training | ({"calibration": f"{CALIBRATION_SAMPLES} samples uniform in [0, 1), "
                                                 "default_rng(seed + 1)"} if kind == "int8" else {}),
            metrics={})
        write_card(card, path.with_suffix(".json"))
        print(f"{path.name}: {card.size_bytes} bytes, ops {list(card.ops)}")
    write_16x8()


if __name__ == "__main__":
    main()
