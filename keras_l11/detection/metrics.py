"""Detection quality: PASCAL VOC mAP@0.5 and COCO-style mAP.

Detections and ground truth are per image, boxes `x1, y1, x2, y2` in pixels:

    detections = [{"boxes": [N, 4], "scores": [N], "classes": [N]}, ...]
    truths     = [{"boxes": [M, 4], "classes": [M]}, ...]

`average_precision` ranks every detection of a class over all images by score
and matches each, in that order, to a ground-truth box of its class and image:
- `"voc07"`: the best-overlapping box; a true positive if IoU >= threshold and
  that box is not taken yet (a second detection of it is a false positive).
  Precision is averaged at the 11 recall points 0, 0.1, ..., 1 (VOC 2007, the
  R-CNN paper's tables).
- `"coco"`: the best-overlapping box not taken yet with IoU >= threshold, at
  most 100 detections per image and class, precision at 101 recall points, as
  pycocotools' COCOeval does (the tests check that it agrees).

`coco_map` averages over IoU thresholds 0.5:0.05:0.95, COCO's headline figure.
"""

import numpy as np

COCO_THRESHOLDS = np.linspace(0.5, 0.95, 10)


def box_iou(a, b):
    """Pairwise IoU of `a [N, 4]` and `b [M, 4]` (NumPy)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def paired_iou(a, b):
    """IoU of `a[i]` with `b[i]` for each row (NumPy, `[N, 4]` each)."""
    a, b = np.asarray(a, np.float64).reshape(-1, 4), np.asarray(b, np.float64).reshape(-1, 4)
    inter = np.prod(np.clip(np.minimum(a[:, 2:], b[:, 2:]) - np.maximum(a[:, :2], b[:, :2]), 0, None), axis=-1)
    union = np.prod(a[:, 2:] - a[:, :2], -1) + np.prod(b[:, 2:] - b[:, :2], -1) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _ranked(detections, cls, max_per_image):
    """`(score, image, box)` of class `cls` over all images, best first."""
    rows = []
    for image, d in enumerate(detections):
        keep = np.asarray(d["classes"]) == cls
        scores, boxes = np.asarray(d["scores"])[keep], np.asarray(d["boxes"]).reshape(-1, 4)[keep]
        order = np.argsort(-scores, kind="stable")
        scores, boxes = scores[order], boxes[order]
        if max_per_image is not None:  # COCOeval keeps each image's best 100 of each class
            scores, boxes = scores[:max_per_image], boxes[:max_per_image]
        rows += [(s, image, b) for s, b in zip(scores, boxes)]
    rows.sort(key=lambda r: -r[0])  # stable: ties keep image order, as COCOeval's mergesort does
    return rows


def average_precision(detections, truths, cls, iou_threshold=0.5, style="voc07"):
    """AP of class `cls`, or None when no image has a box of that class.

    Boxes a truth marks `difficult` (VOC's flag) count neither way, as in the
    VOC protocol: they are not in the recall's total, and a detection whose
    best match is one is left out of the ranking.
    """
    gts, difficult = [], []
    for t in truths:
        mine = np.asarray(t["classes"]) == cls
        gts.append(np.asarray(t["boxes"]).reshape(-1, 4)[mine])
        difficult.append(np.asarray(t.get("difficult", np.zeros(len(mine), bool)), bool)[mine])
    total = sum(int(np.sum(~d)) for d in difficult)
    if total == 0:
        return None
    taken = [np.zeros(len(g), bool) for g in gts]
    rows = _ranked(detections, cls, 100 if style == "coco" else None)
    tp, counted = np.zeros(len(rows)), np.ones(len(rows), bool)
    for i, (_, image, box) in enumerate(rows):
        if not len(gts[image]):
            continue
        overlaps = box_iou(box, gts[image])[0]
        if style == "coco":
            overlaps = np.where(taken[image], -1.0, overlaps)
            best = int(np.argmax(overlaps))
            hit = overlaps[best] >= iou_threshold - 1e-10
        else:
            best = int(np.argmax(overlaps))
            hit = overlaps[best] >= iou_threshold and not taken[image][best]
        if overlaps[best] >= iou_threshold - 1e-10 and difficult[image][best]:
            counted[i] = False
        elif hit:
            tp[i], taken[image][best] = 1, True
    tp = tp[counted]
    rows = [r for r, keep in zip(rows, counted) if keep]
    recall = np.cumsum(tp) / total
    precision = np.cumsum(tp) / np.arange(1, len(rows) + 1)
    if style == "voc07":
        return float(
            np.mean([precision[recall >= r].max() if np.any(recall >= r) else 0.0 for r in np.linspace(0, 1, 11)])
        )
    if style != "coco":
        raise ValueError(f"style must be 'voc07' or 'coco', got {style!r}")
    envelope = np.maximum.accumulate(precision[::-1])[::-1] if len(rows) else precision
    points = np.searchsorted(recall, np.linspace(0, 1, 101), side="left")
    return float(np.mean([envelope[p] if p < len(rows) else 0.0 for p in points]))


def mean_average_precision(detections, truths, num_classes, iou_threshold=0.5, style="voc07"):
    """`(mAP, {class: AP})` over the classes that have ground truth."""
    per_class = {c: average_precision(detections, truths, c, iou_threshold, style) for c in range(num_classes)}
    per_class = {c: ap for c, ap in per_class.items() if ap is not None}
    return (float(np.mean(list(per_class.values()))) if per_class else 0.0), per_class


def coco_map(detections, truths, num_classes):
    """COCO's mAP@[0.5:0.95] (the mean over ten IoU thresholds of the COCO-style mAP)."""
    return float(
        np.mean([mean_average_precision(detections, truths, num_classes, t, "coco")[0] for t in COCO_THRESHOLDS])
    )


def pycocotools_map(detections, truths, num_classes):
    """`(mAP@[0.5:0.95], mAP@0.5)` by pycocotools' COCOeval on the same boxes
    (VOC's difficult boxes as COCO's crowd boxes, which COCOeval ignores)."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, annotations, results = [], [], []
    for i, (d, t) in enumerate(zip(detections, truths)):
        images.append({"id": i, "width": 1, "height": 1})
        difficult = t.get("difficult", np.zeros(len(t["classes"]), bool))
        for box, cls, hard in zip(np.asarray(t["boxes"]).reshape(-1, 4), t["classes"], difficult):
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            annotations.append(
                {"id": len(annotations) + 1, "image_id": i, "category_id": int(cls), "area": w * h}
                | {"iscrowd": int(bool(hard)), "bbox": [float(box[0]), float(box[1]), w, h]}
            )
        for box, score, cls in zip(np.asarray(d["boxes"]).reshape(-1, 4), d["scores"], d["classes"]):
            results.append(
                {"image_id": i, "category_id": int(cls), "score": float(score)}
                | {"bbox": [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]}
            )
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = {
            "images": images,
            "annotations": annotations,
            "categories": [{"id": c} for c in range(num_classes)],
        }
        truth.createIndex()
        found = truth.loadRes(results) if results else COCO()
        evaluation = COCOeval(truth, found, "bbox")
        evaluation.params.areaRng = [[0, 1e10]] * 4  # every box counts as "all"; our sizes are not COCO's
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return float(evaluation.stats[0]), float(evaluation.stats[1])
