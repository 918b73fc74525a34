"""The generative models' exported signatures: what the jobs export, the benchmark
serves and the tests and clients call."""

import math

import tensorflow as tf

from keras_l11.training.export import Signature

MAX_SAMPLE_COUNT = 1024  # per `sample` request


def binary_pixels(images):
    """uint8 images of 0 / 255 -> float32 {0, 1}; anything else is refused with a message."""
    binary = tf.reduce_all((images == 0) | (images == 255))
    check = tf.debugging.Assert(binary, ["images must be binary: every pixel 0 or 255 (binarise grey images first)"])
    with tf.control_dependencies([check]):
        return tf.cast(images, tf.float32) / 255.0


def darn_signatures(model, samples):
    """`log_prob` (also `serving_default`) and `sample` over uint8 images."""
    height, width = model.visible_shape

    def log_prob(images):
        log_w = model.importance_log_weights(binary_pixels(images), samples, tf.constant([0, 0]))
        estimate = tf.reduce_logsumexp(log_w, 1) - math.log(samples)
        return {"nats": -estimate, "bound_nats": -tf.reduce_mean(log_w, 1)}

    def sample(count, seed):
        check = tf.debugging.Assert(
            (count >= 1) & (count <= MAX_SAMPLE_COUNT), [f"count must be between 1 and {MAX_SAMPLE_COUNT}, got", count]
        )
        with tf.control_dependencies([check]):
            images, probabilities = model.sample(count, tf.stack([seed, 0]))
        return {"images": tf.cast(images * 255.0, tf.uint8), "probabilities": probabilities}

    scoring = Signature(log_prob, {"images": tf.TensorSpec([None, height, width], tf.uint8)})
    drawing = Signature(sample, {"count": tf.TensorSpec([], tf.int32), "seed": tf.TensorSpec([], tf.int32)})
    return {"serving_default": scoring, "log_prob": scoring, "sample": drawing}


def autoencoder_signatures(model, height=28, width=28):
    def reconstruct(images):
        in_range = tf.reduce_all((images >= 0.0) & (images <= 1.0))
        check = tf.debugging.Assert(in_range, ["images must be grey levels in [0, 1]"])
        with tf.control_dependencies([check]):
            x = model.flatten(images)
        reconstructions = model.decode(model.encode(x))
        return {
            "reconstructions": tf.reshape(reconstructions, [-1, height, width]),
            "squared_error": tf.reduce_sum(tf.square(x - reconstructions), -1),
        }

    signature = Signature(reconstruct, {"images": tf.TensorSpec([None, height, width], tf.float32)})
    return {"serving_default": signature, "reconstruct": signature}
