"""R-CNN's classifier stage (Girshick et al. 2014, section 2.3 and appendix B): after
fine-tuning, one linear SVM per class on the fc7 features of warped regions.

- Positives: the ground-truth boxes of the class (not the proposals near them).
- Negatives: proposals whose IoU with every box of the class is below 0.3.
- Hard negative mining (the paper's `rcnn_train.m`): one pass over the training
  images; each image adds the negatives that the class's current SVM scores above
  -1.0001 to that class's cache; after 2,000 new ones the SVM is retrained and
  negatives scored below -1.2 are evicted; at the end every SVM is retrained.
- Each SVM is liblinear's L2-regularised hinge-loss SVM (`-s 3`) with C = 0.001,
  positives weighted 2 and a bias feature of 10 (scikit-learn's `LinearSVC` runs
  the same liblinear), on features scaled so that their mean norm is 20.

The SVMs' scores replace the softmax's at test time (the paper: 54.2 mAP against
50.9 with the softmax, AlexNet on VOC 2007 test).
"""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_l11.detection.boxes import warp_regions
from keras_l11.detection.metrics import box_iou

# The feature norm is estimated on up to this many proposals of the first this many images.
STATS_IMAGES, STATS_BOXES = 20, 200


@dataclasses.dataclass(frozen=True)
class SVMSettings:
    """The paper's SVM training settings (`rcnn_train.m`'s defaults)."""

    c: float = 1e-3
    positive_weight: float = 2.0
    bias_multiplier: float = 10.0
    feature_norm: float = 20.0
    negative_iou: float = 0.3
    hard_threshold: float = -1.0001
    evict_threshold: float = -1.2
    retrain_limit: int = 2000


def feature_extractor(model):
    """`regions [R, size, size, 3] -> fc7 features [R, D]` of a fine-tuned `RegionCNN`."""
    import keras

    return keras.Model(model.input, model.get_layer(model.feature_layer).output)


def image_features(extract, image, boxes, region_size, padding, chunk=256):
    """fc7 features `[N, D]` float32 of `boxes [N, 4]` in one image, `chunk` regions at a time."""
    image = tf.convert_to_tensor(image[None], tf.float32)
    out = []
    for i in range(0, len(boxes), chunk):
        part = tf.constant(np.asarray(boxes[i : i + chunk], np.float32))
        regions = warp_regions(image, part, tf.zeros([len(part)], tf.int32), region_size, padding)
        out.append(np.asarray(extract(regions, training=False), np.float32))
    return np.concatenate(out) if out else np.zeros((0, extract.output.shape[-1]), np.float32)


def fit_svm(positives, negatives, settings):
    """`(weights [D], bias)` of one class's SVM on scaled features."""
    from sklearn.svm import LinearSVC

    x = np.concatenate([positives, negatives])
    y = np.concatenate([np.ones(len(positives)), -np.ones(len(negatives))])
    svm = LinearSVC(
        C=settings.c,
        loss="hinge",
        dual=True,
        class_weight={1: settings.positive_weight, -1: 1.0},
        intercept_scaling=settings.bias_multiplier,
        max_iter=10_000,
        tol=1e-4,
    )
    svm.fit(x, y)
    return svm.coef_[0].astype(np.float32), float(svm.intercept_[0])


def train_svms(model, examples, proposals, num_classes, region_size, padding, settings=SVMSettings(), log=print):
    """The paper's SVMs for a fine-tuned `model`: `(weights [D, C], biases [C],
    feature_scale)`, the scale that brings the mean feature norm to `feature_norm`.

    Args:
        examples: training images `{"image", "boxes", "classes", "difficult"?}`.
        proposals: each image's proposal boxes `[N, 4]`.
    """
    extract = feature_extractor(model)
    positives = [[] for _ in range(num_classes)]
    norms = []
    rng = np.random.default_rng(0)
    for index, (ex, boxes) in enumerate(zip(examples, proposals)):  # pass 1: the positives, the mean norm
        keep = ~np.asarray(ex.get("difficult", np.zeros(len(ex["classes"]), bool)), bool)
        truth = np.asarray(ex["boxes"], np.float32).reshape(-1, 4)[keep]
        classes = np.asarray(ex["classes"])[keep]
        for cls, row in zip(classes, image_features(extract, ex["image"], truth, region_size, padding)):
            positives[int(cls)].append(row)
        if index < STATS_IMAGES and len(boxes):  # the features' mean norm, from proposals (as rcnn_feature_stats)
            some = rng.choice(len(boxes), min(len(boxes), STATS_BOXES), replace=False)
            sampled = image_features(extract, ex["image"], np.asarray(boxes)[some], region_size, padding)
            norms.append(np.linalg.norm(sampled, axis=1))
    mean_norm = float(np.mean(np.concatenate(norms))) if norms else 1.0
    scale = settings.feature_norm / max(mean_norm, 1e-12)
    positives = [np.asarray(p, np.float32).reshape(-1, extract.output.shape[-1]) * scale for p in positives]
    dim = extract.output.shape[-1]
    weights, biases = np.zeros((dim, num_classes), np.float32), np.zeros(num_classes, np.float32)
    caches = [np.zeros((0, dim), np.float32) for _ in range(num_classes)]
    added = np.zeros(num_classes, int)

    def retrain(cls):
        if not len(positives[cls]) or not len(caches[cls]):
            return
        weights[:, cls], biases[cls] = fit_svm(positives[cls], caches[cls], settings)
        scores = caches[cls] @ weights[:, cls] + biases[cls]
        caches[cls] = caches[cls][scores >= settings.evict_threshold]
        added[cls] = 0

    for index, (ex, boxes) in enumerate(zip(examples, proposals)):  # pass 2: hard negatives
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        f = image_features(extract, ex["image"], boxes, region_size, padding) * scale
        truth, classes = np.asarray(ex["boxes"]).reshape(-1, 4), np.asarray(ex["classes"])
        for cls in range(num_classes):
            mine = truth[classes == cls]
            overlap = box_iou(boxes, mine).max(axis=1) if len(mine) else np.zeros(len(boxes))
            negatives = f[overlap < settings.negative_iou]
            hard = negatives[negatives @ weights[:, cls] + biases[cls] > settings.hard_threshold]
            caches[cls] = np.concatenate([caches[cls], hard])
            added[cls] += len(hard)
            if added[cls] > settings.retrain_limit:
                retrain(cls)
        if log and (index + 1) % 500 == 0:
            log(f"SVM hard-negative mining: {index + 1}/{len(examples)} images")
    for cls in range(num_classes):
        retrain(cls)
    return weights, biases, scale
