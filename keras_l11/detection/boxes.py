"""Boxes as the lecture defines a detection: `x1, y1, x2, y2` in pixels.

- `iou`: pairwise intersection over union.
- `encode` / `decode`: R-CNN's box regression parameterisation (Girshick et al.
  2014, appendix C). For a proposal P and a ground-truth box G, with centres,
  widths and heights:

      t_x = (G_x - P_x) / P_w     t_y = (G_y - P_y) / P_h
      t_w = log(G_w / P_w)        t_h = log(G_h / P_h)

- `per_class_nms`: greedy non-maximum suppression, separately for each class.

Widths are `x2 - x1` (continuous coordinates, no +1).
"""

import tensorflow as tf

LOG_SCALE_LIMIT = 4.135  # log(1000 / 16), as Fast R-CNN's decoder clips t_w, t_h


def iou(a, b):
    """Pairwise IoU of boxes `a [N, 4]` and `b [M, 4]`: `[N, M]` float32."""
    a, b = tf.cast(a, tf.float32), tf.cast(b, tf.float32)
    ax1, ay1, ax2, ay2 = tf.unstack(a[:, None, :], axis=-1)
    bx1, by1, bx2, by2 = tf.unstack(b[None, :, :], axis=-1)
    inter = tf.maximum(0.0, tf.minimum(ax2, bx2) - tf.maximum(ax1, bx1)) * tf.maximum(
        0.0, tf.minimum(ay2, by2) - tf.maximum(ay1, by1)
    )
    union = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter
    return tf.math.divide_no_nan(inter, union)


def _centre_size(boxes):
    x1, y1, x2, y2 = tf.unstack(tf.cast(boxes, tf.float32), axis=-1)
    w, h = x2 - x1, y2 - y1
    return x1 + 0.5 * w, y1 + 0.5 * h, w, h


def encode(proposals, targets):
    """Regression targets `[..., 4]` = `(t_x, t_y, t_w, t_h)` that move `proposals` onto `targets`."""
    px, py, pw, ph = _centre_size(proposals)
    gx, gy, gw, gh = _centre_size(targets)
    return tf.stack([(gx - px) / pw, (gy - py) / ph, tf.math.log(gw / pw), tf.math.log(gh / ph)], axis=-1)


def decode(proposals, deltas):
    """The boxes `[..., 4]` that `deltas` (as `encode` makes them) turn `proposals` into."""
    px, py, pw, ph = _centre_size(proposals)
    dx, dy, dw, dh = tf.unstack(tf.cast(deltas, tf.float32), axis=-1)
    x, y = px + dx * pw, py + dy * ph
    w = pw * tf.exp(tf.minimum(dw, LOG_SCALE_LIMIT))
    h = ph * tf.exp(tf.minimum(dh, LOG_SCALE_LIMIT))
    return tf.stack([x - 0.5 * w, y - 0.5 * h, x + 0.5 * w, y + 0.5 * h], axis=-1)


def clip(boxes, height, width):
    """Boxes `[..., 4]` clipped to an image of `height x width` pixels."""
    x1, y1, x2, y2 = tf.unstack(tf.cast(boxes, tf.float32), axis=-1)
    w, h = tf.cast(width, tf.float32), tf.cast(height, tf.float32)
    return tf.stack(
        [
            tf.clip_by_value(x1, 0.0, w),
            tf.clip_by_value(y1, 0.0, h),
            tf.clip_by_value(x2, 0.0, w),
            tf.clip_by_value(y2, 0.0, h),
        ],
        axis=-1,
    )


def per_class_nms(boxes, scores, iou_threshold=0.3, score_threshold=0.05, max_per_class=100, max_total=100):
    """Non-maximum suppression within each class, for a batch of images.

    Args:
        boxes: `[batch, regions, classes, 4]` (class-specific boxes) or
            `[batch, regions, 1, 4]` (shared by all classes).
        scores: `[batch, regions, classes]`, without the background column.
        iou_threshold: a box is dropped when it overlaps a higher-scoring kept
            box of its class by more than this (R-CNN: 0.3).

    Returns:
        `(boxes [batch, max_total, 4], scores [batch, max_total], classes
        [batch, max_total] int32, num_detections [batch] int32)`, best first,
        zero-padded.
    """
    # combined_non_max_suppression reads boxes as (y1, x1, y2, x2); IoU does not care about the order,
    # and with clip_boxes=False the coordinates come back as they went in.
    out = tf.image.combined_non_max_suppression(
        tf.cast(boxes, tf.float32),
        tf.cast(scores, tf.float32),
        max_output_size_per_class=max_per_class,
        max_total_size=max_total,
        iou_threshold=iou_threshold,
        score_threshold=score_threshold,
        pad_per_class=False,
        clip_boxes=False,
    )
    return out.nmsed_boxes, out.nmsed_scores, tf.cast(out.nmsed_classes, tf.int32), out.valid_detections


TARGET_SCALE = (0.1, 0.1, 0.2, 0.2)  # R-CNN's box-regression targets are divided by these


def with_context(boxes, region_size, padding):
    """Boxes dilated so that after warping to `region_size` there are `padding`
    pixels of the surrounding image on each side (R-CNN's appendix A)."""
    if not padding:
        return tf.cast(boxes, tf.float32)
    x1, y1, x2, y2 = tf.unstack(tf.cast(boxes, tf.float32), axis=-1)
    scale = region_size / (region_size - 2.0 * padding)
    cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * scale / 2, (y2 - y1) * scale / 2
    return tf.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=-1)


def warp_regions(images, boxes, box_indices, region_size, padding=16):
    """Regions `[R, size, size, 3]` float32 of `images [B, H, W, 3]`: box `r` of
    image `box_indices[r]`, dilated for context and stretched to a square (the
    paper's anisotropic warp). Outside the image counts as mid-grey (128), near
    the data mean, as the paper pads with the image mean."""
    images = tf.cast(images, tf.float32)
    height, width = tf.cast(tf.shape(images)[1], tf.float32), tf.cast(tf.shape(images)[2], tf.float32)
    x1, y1, x2, y2 = tf.unstack(with_context(boxes, region_size, padding), axis=-1)
    # Pixel i covers [i, i + 1); crop_and_resize samples index space [0, size - 1] end to end.
    normalised = tf.stack([y1 / (height - 1), x1 / (width - 1), (y2 - 1) / (height - 1), (x2 - 1) / (width - 1)], -1)
    regions = tf.image.crop_and_resize(
        images - 128.0, normalised, tf.cast(box_indices, tf.int32), [region_size, region_size], extrapolation_value=0.0
    )
    return regions + 128.0
