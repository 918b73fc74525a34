"""R-CNN's training regions: every proposal of every image, labelled.

The paper's fine-tuning labels: a proposal whose IoU with a labelled box is at
least 0.5 is a positive of that box's class; every other proposal is
background. The labelled boxes themselves are positives too. Box regression
learns from regions with IoU >= 0.6 to their box (the paper's choice for its
regressor). Mini-batches hold 25% positives (the paper: 32 of 128), sampled
uniformly over all images' regions, and are cropped from the images inside the
`tf.data` pipeline.
"""

import numpy as np
import tensorflow as tf

from keras_l11.metrics.detection import box_iou
from keras_l11.models.rcnn import TARGET_SCALE, warp_regions
from keras_l11.ops import boxes as box_ops

POSITIVE_IOU = 0.5
REGRESSION_IOU = 0.6


def label_regions(proposals, truth_boxes, truth_classes):
    """`(boxes, labels, regression)` for one image: its proposals and labelled
    boxes, labels (0 background, else class + 1), and `[n, 5]` regression rows
    (class or -1, then t_x, t_y, t_w, t_h divided by `TARGET_SCALE`)."""
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
        regression[keep, 1:] = targets[keep] / np.asarray(TARGET_SCALE, np.float32)
    return boxes, labels, regression


def region_table(examples, proposals):
    """All images' labelled regions as flat arrays: `image_index, boxes, labels, regression`."""
    parts = [label_regions(p, ex["boxes"], ex["classes"]) for ex, p in zip(examples, proposals)]
    return {
        "image_index": np.concatenate([np.full(len(b), i, np.int32) for i, (b, _, _) in enumerate(parts)]),
        "boxes": np.concatenate([b for b, _, _ in parts]),
        "labels": np.concatenate([lab for _, lab, _ in parts]),
        "regression": np.concatenate([r for _, _, r in parts]),
    }


def region_dataset(images, table, batch_size, region_size, padding, seed, positive_fraction=0.25):
    """Endless batches `(regions [batch, size, size, 3], {"scores": labels,
    "deltas": regression rows})` with `positive_fraction` positives."""
    # Images of different sizes are padded at the bottom and right (boxes are unaffected). All images
    # live in one constant: right for the offline canvases, too big for VOC's 5,011 (see the README).
    height, width = max(i.shape[0] for i in images), max(i.shape[1] for i in images)
    padded = np.zeros((len(images), height, width, 3), np.uint8)
    for k, image in enumerate(images):
        padded[k, : image.shape[0], : image.shape[1]] = image
    images = tf.constant(padded)

    def stream(mask, count, offset):
        rows = {k: v[mask] for k, v in table.items()}
        ds = tf.data.Dataset.from_tensor_slices(rows).shuffle(len(rows["labels"]), seed=seed + offset).repeat()
        return ds.batch(count)

    positives = max(1, int(round(batch_size * positive_fraction)))
    both = tf.data.Dataset.zip(
        (stream(table["labels"] > 0, positives, 0), stream(table["labels"] == 0, batch_size - positives, 1))
    )

    def crop(pos, neg):
        rows = {k: tf.concat([pos[k], neg[k]], 0) for k in pos}
        regions = warp_regions(
            tf.gather(images, rows["image_index"]), rows["boxes"], tf.range(batch_size), region_size, padding
        )
        return regions, {"scores": rows["labels"], "deltas": rows["regression"]}

    return both.map(crop, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
