"""Box IoU, R-CNN's box regression encoding, per-class NMS and mAP (against pycocotools)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_l11.detection import boxes, metrics


def test_iou_of_hand_computed_pairs():
    a = [[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 4, 4]]
    b = [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [1, 1, 3, 3]]
    expected = [1.0, 50 / 150, 0.0, 4 / 16]
    np.testing.assert_allclose(np.diag(boxes.iou(a, b).numpy()), expected, rtol=1e-6)
    np.testing.assert_allclose(np.diag(metrics.box_iou(a, b)), expected, rtol=1e-12)
    assert boxes.iou(a, b[:2]).shape == (4, 2)


def test_box_regression_targets_round_trip_and_follow_the_paper():
    proposals = tf.constant([[10.0, 20.0, 30.0, 60.0], [0.0, 0.0, 8.0, 8.0]])
    truth = tf.constant([[12.0, 18.0, 36.0, 58.0], [2.0, 1.0, 6.0, 9.0]])
    t = boxes.encode(proposals, truth).numpy()
    # Proposal 0: centre (20, 40), 20 x 40; truth: centre (24, 38), 24 x 40.
    np.testing.assert_allclose(t[0], [4 / 20, -2 / 40, np.log(24 / 20), 0.0], atol=1e-6)
    np.testing.assert_allclose(boxes.decode(proposals, t).numpy(), truth.numpy(), atol=1e-4)
    np.testing.assert_allclose(boxes.decode(proposals, tf.zeros([2, 4])).numpy(), proposals.numpy())


def test_per_class_nms_keeps_the_best_box_of_each_overlapping_group_in_each_class():
    b = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32)
    # Two classes; class 0: boxes 0 and 1 overlap (IoU 0.68) -> the better (0.9) stays, box 2 stays;
    # class 1: box 3 alone (the same place as box 0 in class 0 is no conflict across classes).
    scores = np.array([[0.9, 0.0], [0.8, 0.0], [0.7, 0.0], [0.0, 0.6]], np.float32)
    out_boxes, out_scores, out_classes, n = boxes.per_class_nms(
        b[None, :, None, :], scores[None], iou_threshold=0.3, score_threshold=0.05
    )
    n = int(n[0])
    assert n == 3
    np.testing.assert_allclose(out_scores[0, :n], [0.9, 0.7, 0.6])
    np.testing.assert_array_equal(out_classes[0, :n], [0, 0, 1])
    np.testing.assert_allclose(out_boxes[0, :n], b[[0, 2, 3]])


def constructed_case(seed):
    """Several images and classes: near misses, duplicates, false alarms, missed boxes, ties."""
    rng = np.random.default_rng(seed)
    truths, detections = [], []
    for _ in range(6):
        n = rng.integers(1, 5)
        xy = rng.uniform(0, 80, (n, 2))
        gt = np.concatenate([xy, xy + rng.uniform(10, 40, (n, 2))], 1)
        classes = rng.integers(0, 3, n)
        truths.append({"boxes": gt, "classes": classes})
        dets, det_classes = [], []
        for box, cls in zip(gt, classes):
            for _ in range(rng.integers(0, 3)):  # 0: missed, 2: a duplicate
                dets.append(box + rng.normal(0, 4, 4))
                det_classes.append(cls if rng.random() < 0.85 else (cls + 1) % 3)
        for _ in range(rng.integers(0, 3)):  # false alarms
            xy = rng.uniform(0, 80, 2)
            dets.append(np.concatenate([xy, xy + rng.uniform(10, 40, 2)]))
            det_classes.append(rng.integers(0, 3))
        scores = np.round(rng.uniform(0, 1, len(dets)), 1)  # ties on purpose
        detections.append(
            {"boxes": np.asarray(dets).reshape(-1, 4), "scores": scores, "classes": np.asarray(det_classes)}
        )
    return detections, truths


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_coco_style_map_equals_pycocotools(seed):
    detections, truths = constructed_case(seed)
    at_50, _ = metrics.mean_average_precision(detections, truths, 3, 0.5, "coco")
    reference_all, reference_50 = metrics.pycocotools_map(detections, truths, 3)
    assert at_50 == pytest.approx(reference_50, abs=1e-9)
    assert metrics.coco_map(detections, truths, 3) == pytest.approx(reference_all, abs=1e-9)
    assert 0.05 < at_50 < 0.95  # the case is neither trivial nor hopeless


def test_voc07_ap_of_a_hand_computed_ranking():
    truths = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "classes": [0, 0]}]
    # Ranked: hit, duplicate of the same box (false positive), the second box (hit).
    detections = [
        {"boxes": [[0, 0, 10, 10], [0, 0, 10, 9], [20, 20, 30, 30]], "scores": [0.9, 0.8, 0.7], "classes": [0, 0, 0]}
    ]
    # Recall 0.5 at precision 1, recall 1 at precision 2/3: 11-point AP = (6 * 1 + 5 * 2/3) / 11.
    ap = metrics.average_precision(detections, truths, 0, 0.5, "voc07")
    assert ap == pytest.approx((6 + 5 * 2 / 3) / 11)
    assert metrics.average_precision(detections, truths, 1) is None


def test_difficult_boxes_count_neither_way_as_in_the_voc_protocol():
    truths = [{"boxes": [[0, 0, 10, 10], [20, 20, 30, 30]], "classes": [0, 0], "difficult": [False, True]}]
    # Ranked: on the difficult box (left out), a false alarm, the easy box (hit): precision 1/2 at recall 1.
    detections = [
        {"boxes": [[20, 20, 30, 30], [50, 50, 60, 60], [0, 0, 10, 10]], "scores": [0.9, 0.8, 0.7], "classes": [0, 0, 0]}
    ]
    assert metrics.average_precision(detections, truths, 0) == pytest.approx(0.5)
    # Counted as an ordinary box it would be a hit (AP (6 + 5 * 2/3) / 11); dropped, a false alarm (1/3).
    ordinary = [{"boxes": truths[0]["boxes"], "classes": [0, 0]}]
    assert metrics.average_precision(detections, ordinary, 0) == pytest.approx((6 + 5 * 2 / 3) / 11)
    at_50, _ = metrics.mean_average_precision(detections, truths, 1, 0.5, "coco")
    assert at_50 == pytest.approx(metrics.pycocotools_map(detections, truths, 1)[1], abs=1e-9)
