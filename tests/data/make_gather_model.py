"""Write tests/data/models/gather_from_input.tflite: a float32 model that LiteRT loads and runs on zeros, and fails
to run on most other inputs.

Input float32 (1, 8); output float32 (1, 8), the entries of a 16-entry table at indices ``int(100 x)``: any input of
0.16 or more is an index past the table, which LiteRT's GATHER kernel refuses ("gather index out of bounds") when
invoked. Needs TensorFlow (the ``[train]`` extra); the tests only read the file. Run by hand:
``.venv/bin/python tests/data/make_gather_model.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "models" / "gather_from_input.tflite"
TABLE_SIZE = 16
INDEX_SCALE = 100.0


def main() -> None:
    import tensorflow as tf

    table = tf.constant(np.arange(TABLE_SIZE, dtype=np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 8], tf.float32)])
    def gather_from_input(x):
        return tf.gather(table, tf.cast(x * INDEX_SCALE, tf.int32))

    converter = tf.lite.TFLiteConverter.from_concrete_functions([gather_from_input.get_concrete_function()],
                                                                gather_from_input)
    OUT.write_bytes(converter.convert())


if __name__ == "__main__":
    main()
