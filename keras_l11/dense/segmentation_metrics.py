"""The four measures of FCN (Long et al. 2015, section 5), from a confusion
matrix `n[i, j]` = pixels of class i predicted as j, `t_i = sum_j n[i, j]`:

- pixel accuracy        sum_i n_ii / sum_i t_i
- mean accuracy         (1 / n_cl) sum_i n_ii / t_i
- mean IU               (1 / n_cl) sum_i n_ii / (t_i + sum_j n_ji - n_ii)
- frequency weighted IU (sum_k t_k)^-1 sum_i t_i n_ii / (t_i + sum_j n_ji - n_ii)

Pixels labelled `ignore_label` (VOC: 255, object boundaries) are left out.
As in the paper's evaluation code (`score.py`, with `nanmean`), mean accuracy
runs over the classes present in the labels, and mean IU over the classes whose
union is not empty: a class that is predicted but absent from the labels counts
with IU 0 (as `keras.metrics.MeanIoU` counts it too).
"""

import numpy as np

from keras_l11.data.voc import IGNORE_LABEL


def confusion_matrix(labels, predictions, num_classes, ignore_label=IGNORE_LABEL):
    """`[num_classes, num_classes]` int64 counts over all pixels of `labels`
    and `predictions` (integer maps of any matching shape)."""
    labels, predictions = np.asarray(labels).ravel(), np.asarray(predictions).ravel()
    keep = labels != ignore_label
    labels, predictions = labels[keep].astype(np.int64), predictions[keep].astype(np.int64)
    if labels.size and (labels.max() >= num_classes or labels.min() < 0):
        raise ValueError(f"labels must be in [0, {num_classes}) or {ignore_label}, got {labels.min()}..{labels.max()}")
    return np.bincount(labels * num_classes + predictions, minlength=num_classes**2).reshape(num_classes, num_classes)


def segmentation_scores(confusion):
    """`{"pixel_accuracy", "mean_accuracy", "mean_iu", "frequency_weighted_iu"}` of a confusion matrix."""
    n = np.asarray(confusion, np.float64)
    hits, truth, predicted = np.diag(n), n.sum(axis=1), n.sum(axis=0)
    union = truth + predicted - hits
    present, seen = truth > 0, union > 0
    iu = np.divide(hits, union, out=np.zeros_like(hits), where=seen)
    return {
        "pixel_accuracy": float(hits.sum() / max(truth.sum(), 1)),
        "mean_accuracy": float(np.mean(hits[present] / truth[present])) if present.any() else 0.0,
        "mean_iu": float(np.mean(iu[seen])) if seen.any() else 0.0,
        "frequency_weighted_iu": float(np.sum(truth * iu) / max(truth.sum(), 1)),
    }
