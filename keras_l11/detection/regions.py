"""R-CNN's training regions: every proposal of every image, labelled.

The paper's fine-tuning labels: a proposal whose IoU with a labelled box is at
least 0.5 is a positive of that box's class; every other proposal is
background. The labelled boxes themselves are positives too. Box regression
learns from regions with IoU >= 0.6 to their box (the paper's choice for its
regressor). Mini-batches hold 25% positives (the paper: 32 of 128) and are
cropped from the images inside a streaming `tf.data` pipeline.
"""

import numpy as np
import tensorflow as tf

from keras_l11.detection import boxes as box_ops
from keras_l11.detection.metrics import box_iou

POSITIVE_IOU = 0.5
REGRESSION_IOU = 0.6


def label_regions(proposals, truth_boxes, truth_classes):
    """`(boxes, labels, regression)` for one image: its proposals and labelled
    boxes, labels (0 background, else class + 1), and `[n, 5]` regression rows
    (class or -1, then t_x, t_y, t_w, t_h divided by `box_ops.TARGET_SCALE`)."""
    boxes = np.concatenate([np.asarray(truth_boxes, np.float32).reshape(-1, 4), np.asarray(proposals, np.float32)])
    labels = np.zeros(len(boxes), np.int32)
    regression = np.full((len(boxes), 5), -1.0, np.float32)
    regression[:, 1:] = 0.0
    if len(truth_boxes):
        overlaps = box_iou(boxes, truth_boxes)
        best = overlaps.argmax(axis=1)
        best_iou = overlaps.max(axis=1)
        classes = np.asarray(truth_classes)[best]
        labels = np.where(best_iou >= POSITIVE_IOU, classes + 1, 0).astype(np.int32)
        targets = box_ops.encode(boxes, np.asarray(truth_boxes, np.float32)[best]).numpy()
        keep = best_iou >= REGRESSION_IOU
        regression[keep, 0] = classes[keep]
        regression[keep, 1:] = targets[keep] / np.asarray(box_ops.TARGET_SCALE, np.float32)
    return boxes, labels, regression


def labelled_regions(examples, proposals):
    """`label_regions` of every example: a list of `(boxes, labels, regression)`.
    Boxes flagged `difficult` (VOC) are left out: neither positives nor
    regression targets."""
    labelled = []
    for ex, p in zip(examples, proposals):
        keep = ~np.asarray(ex.get("difficult", np.zeros(len(ex["classes"]), bool)), bool)
        labelled.append(label_regions(p, np.asarray(ex["boxes"]).reshape(-1, 4)[keep], np.asarray(ex["classes"])[keep]))
    return labelled


def _sampled_regions(images, labelled, seed, positives, negatives):
    """Endless `(image, boxes, labels, regression)`: the images in a fresh random
    order every pass, each with `positives` of its positive regions and
    `negatives` of its background regions (drawn with replacement when it has
    fewer)."""
    rng = np.random.default_rng(seed)
    while True:
        for i in rng.permutation(len(images)):
            boxes, labels, regression = labelled[i]
            pos, neg = np.flatnonzero(labels > 0), np.flatnonzero(labels == 0)
            chosen = []
            for pool, count in ((pos, positives), (neg, negatives)):
                if len(pool):
                    chosen.append(rng.choice(pool, count, replace=len(pool) < count))
            rows = np.concatenate(chosen)
            yield images[i], boxes[rows], labels[rows], regression[rows]


def region_dataset(
    images,
    labelled,
    batch_size,
    region_size,
    padding,
    seed,
    positive_fraction=0.25,
    regions_per_image=32,
    shuffle_regions=8192,
):
    """Endless batches `(regions [batch, size, size, 3], {"scores": labels,
    "deltas": regression rows})`, about `positive_fraction` of them positives.

    A stream, so that no data set has to fit in one tensor: each visit of an
    image crops `regions_per_image` of its regions (the positive fraction of
    them positives) in one `crop_and_resize`, and a shuffle buffer of
    `shuffle_regions` mixes regions of many images into each batch. The paper
    samples its 32 positives and 96 negatives uniformly over all images'
    regions; with a buffer that spans hundreds of images this comes close.

    Args:
        images: per image `[H, W, 3]` uint8 arrays (any sizes).
        labelled: per image `(boxes, labels, regression)` (`labelled_regions`).
    """
    positives = max(1, int(round(regions_per_image * positive_fraction)))
    samples = tf.data.Dataset.from_generator(
        lambda: _sampled_regions(images, labelled, seed, positives, regions_per_image - positives),
        output_signature=(
            tf.TensorSpec([None, None, 3], tf.uint8),
            tf.TensorSpec([None, 4], tf.float32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None, 5], tf.float32),
        ),
    )

    def crop(image, boxes, labels, regression):
        regions = box_ops.warp_regions(image[None], boxes, tf.zeros_like(labels), region_size, padding)
        return regions, {"scores": labels, "deltas": regression}

    return (
        samples.map(crop, num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
        .shuffle(shuffle_regions, seed=seed)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
