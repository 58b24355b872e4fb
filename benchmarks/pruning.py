"""Magnitude pruning of the cloud U-Net, the TF Model Optimization Toolkit's method written out
(``prune_low_magnitude`` with ``ConstantSparsity``: per weight tensor, the smallest magnitudes masked to zero and kept
at zero through a short fine-tune), because tfmot 0.8 prunes only tf-keras (Keras 2) models and ``build_unet`` is
Keras 3. Every conv kernel (Conv2D and DepthwiseConv2D) is pruned; batch normalisation keeps its statistics (the model
runs in inference mode while the kernels, scales and offsets train). Used by ``benchmarks/optimise.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.tflite_file import conv_layers
from training.cloud_data import CloudFrames
from training.train_cloud import VARIANTS, TrainConfig, _batches, build_unet, export_model

SPARSITY = 0.5
BANDS = VARIANTS["bgrn"]


def magnitude_masks(model, sparsity: float) -> list[tuple[Any, np.ndarray]]:
    """(kernel variable, mask) per conv layer: mask 0 on the ceil(sparsity x size) smallest |weights| of the kernel,
    1 elsewhere (tfmot's magnitude pruning, per weight tensor). The kernels are not changed."""
    masks = []
    for layer in conv_layers(model):
        kernel = layer.kernel.numpy()
        mask = np.ones(kernel.size, np.float32)
        mask[np.argsort(np.abs(kernel).ravel(), kind="stable")[:int(np.ceil(sparsity * kernel.size))]] = 0.0
        masks.append((layer.kernel, mask.reshape(kernel.shape)))
    return masks


def prune(model, frames: CloudFrames, steps: int, learning_rate: float, sparsity: float = SPARSITY):
    """A copy of ``model`` (exported shape) with ``sparsity`` of each conv kernel's weights zeroed by magnitude, then
    fine-tuned for ``steps`` batches of training crops (train_cloud's batches and loss) with the zeros held: the mask
    is applied again after every optimiser step, as tfmot's pruning wrapper does. Batch normalisation runs in
    inference mode (its statistics stay); kernels, scales and offsets train."""
    import keras
    import tensorflow as tf

    config = TrainConfig()
    keras.utils.set_random_seed(config.train_seed)
    tf.config.experimental.enable_op_determinism()
    trainable = build_unet(len(BANDS), config.crop_px, None, config.widths)
    trainable.set_weights(model.get_weights())
    masks = [(kernel, tf.constant(mask)) for kernel, mask in magnitude_masks(trainable, sparsity)]
    for kernel, mask in masks:
        kernel.assign(kernel * mask)
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.05))
    bce, dice = keras.losses.BinaryCrossentropy(), keras.losses.Dice()
    variables = trainable.trainable_variables

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            p = trainable(x, training=False)
            loss = bce(y, p) + config.dice_weight * dice(y, p)  # train_cloud.train's loss
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        for kernel, mask in masks:
            kernel.assign(kernel * mask)

    batches = _batches(frames.bands(BANDS), frames.label, BANDS, config, np.random.default_rng([config.train_seed, 50]))
    for _ in range(steps):
        step(*next(batches))
    return export_model(trainable, BANDS, config)
