"""The dense-prediction models' exported signatures (`segment`, `depth`): what the
jobs export and the tests and clients call."""

import tensorflow as tf

from keras_l11.ops.images import decode_images, resize_each
from keras_l11.training.export import Signature


def fcn_signatures(model):
    def segment(images):
        pixels, sizes = decode_images(images)
        probabilities = tf.nn.softmax(model(pixels, training=False))
        return {
            "classes": tf.argmax(probabilities, -1, output_type=tf.int32),
            "probabilities": probabilities,
            "sizes": sizes,
        }

    signature = Signature(segment, {"images": tf.TensorSpec([None], tf.string)})
    return {"serving_default": signature, "segment": signature}


def depth_signatures(model):
    def depth(images):
        pixels, sizes = decode_images(images)
        # Each image alone resized to the network's input, and its depth map back to the image's size.
        maps = tf.exp(model(resize_each(pixels, sizes, model.height, model.width), training=False))[..., None]
        full = tf.shape(pixels)[1:3]
        back = tf.map_fn(
            lambda args: tf.image.pad_to_bounding_box(tf.image.resize(args[0], args[1]), 0, 0, full[0], full[1]),
            (maps, sizes),
            fn_output_signature=tf.float32,
        )
        return {"depth": back[..., 0], "sizes": sizes}

    signature = Signature(depth, {"images": tf.TensorSpec([None], tf.string)})
    return {"serving_default": signature, "depth": signature}
