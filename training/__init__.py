"""Ground-side training of the on-board models: data drawn from the synthetic world, Keras models, TFLite export.

Needs TensorFlow (the ``[train]`` extra); the simulator and the tests only read the shipped ``.tflite`` files.
"""
