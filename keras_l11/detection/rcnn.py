"""R-CNN (Girshick, Donahue, Darrell, Malik 2014): a CNN scores warped region
proposals, with a background class and class-specific box regression.

Per image: proposals (selective search, `keras_l11.detection.proposals`) -> each box
dilated so that, once warped, it has `padding` pixels of context on every side
(the paper: 16 at 227 x 227) -> all of the image's regions cropped and resized
in one `tf.image.crop_and_resize` -> one CNN batch -> softmax over the classes
and background, and per class a box correction `(t_x, t_y, t_w, t_h)` ->
per-class non-maximum suppression. A detection is `(confidence, class, x1, y1,
x2, y2)`, the lecture's definition.

Two departures from the paper, both as in its successor Fast R-CNN: the class
scores are the network's softmax (the paper trains linear SVMs on fc7 features
afterwards, +3.3 mAP on VOC 2007), and box regression is a head trained with
the classifier (the paper fits ridge regression on frozen pool5 features). The
training labels are the paper's fine-tuning labels: a proposal with IoU >= 0.5
to a labelled box is a positive of its class, every other one background; box
regression learns from proposals with IoU >= 0.6.
"""

import keras
import tensorflow as tf
from keras import layers

from keras_l11.detection import boxes as box_ops
from keras_l11.detection.boxes import TARGET_SCALE, warp_regions
from keras_l11.layers.backbones import image_features, preprocess

# The network predicts regression targets divided by these (Fast R-CNN's scaling): proposals that already
# overlap their box by IoU >= 0.6 need small corrections, which would otherwise barely register in the loss.


@keras.saving.register_keras_serializable(package="keras_l11")
class RegionCNN(keras.Model):
    """Class logits `[R, C + 1]` (column 0: background) and box regression
    deltas `[R, C, 4]` for warped regions `[R, size, size, 3]` (0-255).

    Args:
        num_classes: C, object classes (background not counted).
        region_size: the warped region's side (the paper: 227).
        backbone: `"small_cnn"` or a `keras.applications` name (see `backbones`).
        weights: the backbone's weights: None, `"imagenet"` or a file.
        dense_units: the fully connected layers after the backbone (fc6, fc7).
        dropout: after each fully connected layer.

    Example:

    ```python
    model = RegionCNN(num_classes=20, region_size=224, backbone="VGG16", weights="imagenet",
                      dense_units=(4096, 4096), dropout=0.5)
    detections = detect(model, images, proposals, num_proposals)
    ```
    """

    def __init__(
        self,
        num_classes,
        region_size=227,
        backbone="small_cnn",
        weights=None,
        dense_units=(256, 256),
        dropout=0.0,
        **kwargs,
    ):
        # The functional graph (the backbone builds its own layers).
        regions = keras.Input((region_size, region_size, 3), name="regions")
        features = image_features(backbone, preprocess(backbone, regions), weights, dense_units, dropout)
        scores = layers.Dense(num_classes + 1, dtype="float32", name="scores")(features)
        deltas = layers.Dense(
            4 * num_classes, kernel_initializer=keras.initializers.RandomNormal(stddev=0.001), dtype="float32"
        )(features)
        deltas = layers.Reshape((num_classes, 4), name="deltas")(deltas)
        super().__init__(regions, {"scores": scores, "deltas": deltas}, **kwargs)

        # Config.
        self.num_classes = num_classes
        self.region_size = region_size
        self.backbone = backbone
        self.dense_units = tuple(dense_units)
        self.dropout = dropout

    def get_config(self):
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "region_size": self.region_size,
            "backbone": self.backbone,
            "weights": None,  # a rebuilt copy gets its weights from set_weights, not from a download
            "dense_units": self.dense_units,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_l11")
class ClassBoxRegressionLoss(keras.losses.Loss):
    """Smooth L1 between a region's predicted deltas for its own class and its
    regression targets. `y_true [R, 5]`: the class index (0-based, -1 when the
    region has no target: background or IoU < 0.6) and `(t_x, t_y, t_w, t_h)`
    divided by `TARGET_SCALE`; `y_pred [R, C, 4]`."""

    def __init__(self, name="box_regression", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        cls = tf.cast(y_true[:, 0], tf.int32)
        has_target = tf.cast(cls >= 0, y_pred.dtype)
        predicted = tf.gather(y_pred, tf.maximum(cls, 0), axis=1, batch_dims=1)
        error = tf.abs(predicted - tf.cast(y_true[:, 1:], y_pred.dtype))
        smooth_l1 = tf.reduce_sum(tf.where(error < 1.0, 0.5 * tf.square(error), error - 0.5), axis=-1)
        return smooth_l1 * has_target


def score_regions(model, images, boxes, box_indices, padding=16, chunk=None):
    """`(probabilities [R, C + 1], deltas [R, C, 4])` of the regions: all in one
    model call, or with `chunk`, warped and scored `chunk` regions at a time in
    a graph loop (2,000 VGG16 regions of 224 x 224 are 1.2 GB of pixels per
    image before the first convolution)."""
    if chunk is None:
        out = model(warp_regions(images, boxes, box_indices, model.region_size, padding), training=False)
        return tf.nn.softmax(out["scores"]), out["deltas"]
    boxes, box_indices = tf.cast(boxes, tf.float32), tf.cast(box_indices, tf.int32)
    n = tf.shape(boxes)[0]
    padded = -(-n // chunk) * chunk
    boxes = tf.reshape(tf.pad(boxes, [[0, padded - n], [0, 0]], constant_values=1.0), [-1, chunk, 4])
    box_indices = tf.reshape(tf.pad(box_indices, [[0, padded - n]]), [-1, chunk])

    def score(part):
        out = model(warp_regions(images, part[0], part[1], model.region_size, padding), training=False)
        return out["scores"], out["deltas"]

    c = model.num_classes
    scores, deltas = tf.map_fn(
        score,
        (boxes, box_indices),
        fn_output_signature=(tf.TensorSpec([chunk, c + 1], tf.float32), tf.TensorSpec([chunk, c, 4], tf.float32)),
    )
    scores, deltas = tf.reshape(scores, [-1, c + 1])[:n], tf.reshape(deltas, [-1, c, 4])[:n]
    return tf.nn.softmax(scores), deltas


def detect(
    model,
    images,
    proposals,
    num_proposals,
    padding=16,
    regression=True,
    iou_threshold=0.3,
    score_threshold=0.05,
    max_detections=100,
    chunk=None,
):
    """Detections for a batch of images from their proposals, in the graph.

    Args:
        images: `[B, H, W, 3]` (0-255).
        proposals: `[B, N, 4]` pixel boxes, each image's first `num_proposals[b]` valid.
        regression: apply the class-specific box regression (False: the
            proposals themselves, for the paper's with/without comparison).
        chunk: score the regions this many at a time (`score_regions`).

    Returns:
        dict with TF Object Detection API names: `detection_boxes [B, K, 4]`
        (x1, y1, x2, y2 pixels), `detection_scores [B, K]`, `detection_classes
        [B, K]` int32 (0-based object classes), `num_detections [B]`.
    """
    proposals = tf.cast(proposals, tf.float32)
    batch, n = tf.shape(proposals)[0], tf.shape(proposals)[1]
    valid = tf.sequence_mask(num_proposals, n)
    boxes = tf.boolean_mask(proposals, valid)
    box_indices = tf.boolean_mask(tf.broadcast_to(tf.range(batch)[:, None], [batch, n]), valid)
    probabilities, deltas = score_regions(model, images, boxes, box_indices, padding, chunk)
    c = model.num_classes
    if regression:
        per_class = box_ops.decode(tf.repeat(boxes[:, None, :], c, axis=1), deltas * tf.constant(TARGET_SCALE))
    else:
        per_class = tf.repeat(boxes[:, None, :], c, axis=1)
    per_class = box_ops.clip(per_class, tf.shape(images)[1], tf.shape(images)[2])
    positions = tf.where(valid)
    dense_boxes = tf.scatter_nd(positions, per_class, [batch, n, c, 4])
    dense_scores = tf.scatter_nd(positions, probabilities[:, 1:], [batch, n, c])
    out_boxes, out_scores, out_classes, count = box_ops.per_class_nms(
        dense_boxes, dense_scores, iou_threshold, score_threshold, max_detections, max_detections
    )
    return {
        "detection_boxes": out_boxes,
        "detection_scores": out_scores,
        "detection_classes": out_classes,
        "num_detections": count,
    }
