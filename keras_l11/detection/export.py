"""The detection models' exported signatures (`localize`, `detect`, `detect_windows`):
what the jobs export and the tests and clients call."""

import tensorflow as tf

from keras_l11.detection import proposals as proposal_lib
from keras_l11.detection.rcnn import detect
from keras_l11.ops.images import decode_images, resize_each
from keras_l11.training.export import Signature


def localizer_signatures(model):
    size = model.image_size

    def localize(images):
        pixels, sizes = decode_images(images)
        out = model(resize_each(pixels, sizes, size, size), training=False)
        hw = tf.cast(sizes, tf.float32)
        scale = tf.stack([hw[:, 1], hw[:, 0], hw[:, 1], hw[:, 0]], axis=-1)
        probabilities = tf.nn.softmax(out["class_logits"])
        return {
            "classes": tf.argmax(probabilities, -1, output_type=tf.int32),
            "probabilities": probabilities,
            "boxes": out["box"] * scale,
        }

    signature = Signature(localize, {"images": tf.TensorSpec([None], tf.string)})
    return {"serving_default": signature, "localize": signature}


def rcnn_signatures(model, config):
    """`detect` (images + client proposals) and `detect_windows` (images only)."""
    encoded = tf.TensorSpec([None], tf.string)
    chunk = config.region_chunk or None
    # Softmax probabilities above 0.05; SVM margins above 0, the SVMs' decision boundary.
    threshold = 0.0 if model.svm_feature_scale is not None else 0.05

    def detect_proposals(images, proposals, num_proposals):
        pixels, _ = decode_images(images)
        return detect(
            model, pixels, proposals, num_proposals, config.context_padding, score_threshold=threshold, chunk=chunk
        )

    # Windows as fractions of the image, scaled to each request's size in the graph.
    unit_windows = tf.constant(proposal_lib.sliding_windows(1.0, 1.0, config.window_count))

    def detect_windows(images):
        pixels, _ = decode_images(images)
        shape = tf.shape(pixels)
        scale = tf.cast(tf.stack([shape[2], shape[1], shape[2], shape[1]]), tf.float32)
        boxes = tf.broadcast_to((unit_windows * scale)[None], [shape[0], unit_windows.shape[0], 4])
        count = tf.fill([shape[0]], unit_windows.shape[0])
        return detect(model, pixels, boxes, count, config.context_padding, score_threshold=threshold, chunk=chunk)

    with_proposals = Signature(
        detect_proposals,
        {
            "images": encoded,
            "proposals": tf.TensorSpec([None, None, 4], tf.float32),
            "num_proposals": tf.TensorSpec([None], tf.int32),
        },
    )
    return {
        "serving_default": with_proposals,
        "detect": with_proposals,
        "detect_windows": Signature(detect_windows, {"images": encoded}),
    }
