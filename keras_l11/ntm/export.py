"""The NTM's exported signatures: what the job exports, the benchmark serves and
the tests and clients call."""

import tensorflow as tf
from keras import ops

from keras_l11.training.export import Signature


def ntm_signatures(model):
    """`serving_default`: `sequence [batch, time, input_width]` float32 -> `probabilities`
    `[batch, time, output_width]`, the sigmoid of each output bit's logit."""
    width = model.input_width
    return {
        "serving_default": Signature(
            fn=lambda sequence: {"probabilities": ops.sigmoid(model(sequence))},
            inputs={"sequence": tf.TensorSpec([None, None, width], tf.float32)},
        )
    }
