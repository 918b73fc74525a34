"""R-CNN (Girshick, Donahue, Darrell, Malik 2014): a CNN scores warped region
proposals, with a background class and class-specific box regression.

Per image: proposals (selective search, `keras_l11.detection.proposals`) -> each box
dilated so that, once warped, it has `padding` pixels of context on every side
(the paper: 16 at 227 x 227) -> all of the image's regions cropped and resized
in one `tf.image.crop_and_resize` -> one CNN batch -> softmax over the classes
and background, and per class a box correction `(t_x, t_y, t_w, t_h)` ->
per-class non-maximum suppression. A detection is `(confidence, class, x1, y1,
x2, y2)`, the lecture's definition.

The class scores are the fine-tuned network's softmax, or, as in the paper, linear
SVMs trained on its fc7 features afterwards (`keras_l11.detection.svm`; the paper:
+3.3 mAP on VOC 2007): a `RegionCNN` built with `svm_feature_scale` has one more
output, `svm_scores`, and `score_regions` uses it. One departure from the paper,
as in its successor Fast R-CNN: box regression is a head trained with the
classifier (the paper fits ridge regression on frozen pool5 features). The
training labels are the paper's fine-tuning labels: a proposal with IoU >= 0.5
to a labelled box is a positive of its class, every other one background; box
regression learns from proposals with IoU >= 0.6.
"""

import keras
import numpy as np
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
        svm_feature_scale: when set, an `svm_scores [R, C]` output: the linear SVMs
            (a dense layer, set from `keras_l11.detection.svm.train_svms`) on the
            last fully connected layer's features times this scale.

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
        svm_feature_scale=None,
        **kwargs,
    ):
        # The functional graph (the backbone builds its own layers).
        regions = keras.Input((region_size, region_size, 3), name="regions")
        features = image_features(backbone, preprocess(backbone, regions), weights, dense_units, dropout)
        scores = layers.Dense(num_classes + 1, dtype="float32", name="scores")(features)
        deltas = layers.Dense(
            4 * num_classes,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
            dtype="float32",
            name="box_deltas",
        )(features)
        deltas = layers.Reshape((num_classes, 4), dtype="float32", name="deltas")(deltas)  # float32 in mixed precision
        outputs = {"scores": scores, "deltas": deltas}
        if svm_feature_scale is not None:
            scaled = layers.Rescaling(float(svm_feature_scale), dtype="float32", name="svm_feature_scale")(features)
            outputs["svm_scores"] = layers.Dense(num_classes, dtype="float32", name="svm_scores")(scaled)
        super().__init__(regions, outputs, **kwargs)

        # Config.
        self.num_classes = num_classes
        self.region_size = region_size
        self.backbone = backbone
        self.dense_units = tuple(dense_units)
        self.dropout = dropout
        self.svm_feature_scale = svm_feature_scale
        self.feature_layer = f"fc{5 + len(self.dense_units)}"  # fc7, whose features the SVMs read

    def get_config(self):
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "region_size": self.region_size,
            "backbone": self.backbone,
            "weights": None,  # a rebuilt copy gets its weights from set_weights, not from a download
            "dense_units": self.dense_units,
            "dropout": self.dropout,
            "svm_feature_scale": self.svm_feature_scale,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def with_svms(self, weights, biases, feature_scale):
        """A copy of this network that also scores regions with the SVMs
        `weights [D, C]`, `biases [C]` on its features times `feature_scale`."""
        config = {**self.get_config(), "svm_feature_scale": float(feature_scale)}
        copy = RegionCNN.from_config(config)
        for layer in self.layers:
            if layer.weights:
                copy.get_layer(layer.name).set_weights(layer.get_weights())
        copy.get_layer("svm_scores").set_weights([np.asarray(weights, np.float32), np.asarray(biases, np.float32)])
        return copy


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


def class_scores(out):
    """A region's score for each object class `[R, C]`: the SVMs' when the network
    has them, else the softmax's probability (background dropped)."""
    if "svm_scores" in out:
        return out["svm_scores"]
    return tf.nn.softmax(out["scores"])[:, 1:]


def score_regions(model, images, boxes, box_indices, padding=16, chunk=None):
    """`(class scores [R, C], deltas [R, C, 4])` of the regions (`class_scores`):
    all in one model call, or with `chunk`, warped and scored `chunk` regions at a
    time in a graph loop (2,000 VGG16 regions of 224 x 224 are 1.2 GB of pixels
    per image before the first convolution)."""
    if chunk is None:
        out = model(warp_regions(images, boxes, box_indices, model.region_size, padding), training=False)
        return class_scores(out), out["deltas"]
    boxes, box_indices = tf.cast(boxes, tf.float32), tf.cast(box_indices, tf.int32)
    n = tf.shape(boxes)[0]
    padded = -(-n // chunk) * chunk
    boxes = tf.reshape(tf.pad(boxes, [[0, padded - n], [0, 0]], constant_values=1.0), [-1, chunk, 4])
    box_indices = tf.reshape(tf.pad(box_indices, [[0, padded - n]]), [-1, chunk])

    def score(part):
        out = model(warp_regions(images, part[0], part[1], model.region_size, padding), training=False)
        return class_scores(out), out["deltas"]

    c = model.num_classes
    scores, deltas = tf.map_fn(
        score,
        (boxes, box_indices),
        fn_output_signature=(tf.TensorSpec([chunk, c], tf.float32), tf.TensorSpec([chunk, c, 4], tf.float32)),
    )
    return tf.reshape(scores, [-1, c])[:n], tf.reshape(deltas, [-1, c, 4])[:n]


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
    max_total=None,
):
    """Detections for a batch of images from their proposals, in the graph.

    Args:
        images: `[B, H, W, 3]` (0-255).
        proposals: `[B, N, 4]` pixel boxes, each image's first `num_proposals[b]` valid.
        regression: apply the class-specific box regression (False: the
            proposals themselves, for the paper's with/without comparison).
        chunk: score the regions this many at a time (`score_regions`).
        score_threshold: the lowest class score kept (None: every score, as the
            paper scores its SVMs' margins).
        max_detections: per class and image (the paper's test keeps 100).
        max_total: per image (default `max_detections`; evaluation keeps every class's).

    Returns:
        dict with TF Object Detection API names: `detection_boxes [B, K, 4]`
        (x1, y1, x2, y2 pixels), `detection_scores [B, K]`, `detection_classes
        [B, K]` int32 (0-based object classes), `num_detections [B]`.
    """
    [found] = detect_each_way(
        model,
        images,
        proposals,
        num_proposals,
        padding,
        (regression,),
        iou_threshold,
        score_threshold,
        max_detections,
        chunk,
        max_total,
    )
    return found


def detect_each_way(
    model,
    images,
    proposals,
    num_proposals,
    padding=16,
    regressions=(True, False),
    iou_threshold=0.3,
    score_threshold=0.05,
    max_detections=100,
    chunk=None,
    max_total=None,
):
    """`detect`'s detections with and without box regression (one per item of
    `regressions`) from one scoring of the regions: the paper's with/without
    comparison for the price of one pass of the network. Arguments as `detect`'s."""
    proposals = tf.cast(proposals, tf.float32)
    batch, n = tf.shape(proposals)[0], tf.shape(proposals)[1]
    valid = tf.sequence_mask(num_proposals, n)
    boxes = tf.boolean_mask(proposals, valid)
    box_indices = tf.boolean_mask(tf.broadcast_to(tf.range(batch)[:, None], [batch, n]), valid)
    scores, deltas = score_regions(model, images, boxes, box_indices, padding, chunk)
    c = model.num_classes
    positions = tf.where(valid)
    shift, threshold = 0.0, score_threshold
    if score_threshold is None:  # every region: scores shifted above 1, so that the padding's zeros drop out
        shift = tf.reduce_min(tf.concat([tf.reshape(scores, [-1]), [0.0]], 0)) - 1.0
        scores, threshold = scores - shift, 0.5
    dense_scores = tf.scatter_nd(positions, scores, [batch, n, c])
    found = []
    for regression in regressions:
        if regression:
            per_class = box_ops.decode(tf.repeat(boxes[:, None, :], c, axis=1), deltas * tf.constant(TARGET_SCALE))
        else:
            per_class = tf.repeat(boxes[:, None, :], c, axis=1)
        per_class = box_ops.clip(per_class, tf.shape(images)[1], tf.shape(images)[2])
        dense_boxes = tf.scatter_nd(positions, per_class, [batch, n, c, 4])
        out_boxes, out_scores, out_classes, count = box_ops.per_class_nms(
            dense_boxes, dense_scores, iou_threshold, threshold, max_detections, max_total or max_detections
        )
        valid_rows = tf.sequence_mask(count, tf.shape(out_scores)[1])
        found.append(
            {
                "detection_boxes": out_boxes,
                "detection_scores": tf.where(valid_rows, out_scores + shift, 0.0),
                "detection_classes": out_classes,
                "num_detections": count,
            }
        )
    return found
