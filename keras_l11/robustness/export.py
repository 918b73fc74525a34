"""The MNIST classifiers' exported signature: the models the adversarial and fooling
jobs attack, served so that a client can send them its own adversarial or fooling
images and read the confidence the paper's threshold is about."""

import re

import tensorflow as tf

from keras_l11.training.export import Signature


def export_name(job, model_name):
    """The serving name of one of a job's classifiers: "FC10(1e-4)" -> "adversarial_fc10_1e_4"."""
    return f"{job}_" + re.sub(r"[^a-z0-9]+", "_", model_name.lower()).strip("_")


def classifier_signatures(model, height=28, width=28):
    """`classify` (also `serving_default`): grey `images [B, 28, 28]` in [0, 1] ->
    `probabilities [B, 10]` (float32) and `classes [B]` (int64)."""

    def classify(images):
        in_range = tf.reduce_all((images >= 0.0) & (images <= 1.0))
        check = tf.debugging.Assert(in_range, ["images must be grey levels in [0, 1]"])
        with tf.control_dependencies([check]):
            logits = tf.cast(model(images, training=False), tf.float32)
        return {"probabilities": tf.nn.softmax(logits), "classes": tf.argmax(logits, -1)}

    signature = Signature(classify, {"images": tf.TensorSpec([None, height, width], tf.float32)})
    return {"serving_default": signature, "classify": signature}
