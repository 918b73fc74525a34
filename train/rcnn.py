"""R-CNN object detection (Girshick et al. 2014): selective-search proposals,
a CNN on every warped proposal with a background class, class-specific box
regression and per-class non-maximum suppression.

Offline the job detects MNIST digits on cluttered canvases (exact boxes);
`--config paper` reads PASCAL VOC 2007 through TFDS (prepared beforehand) with
VGG16 on 224 x 224 regions. Proposals come from selective search (fast mode)
and are cached in the data folder. Quality is VOC's mAP@0.5 (11-point, the
paper's table: 58.5 on VOC 2007 with box regression, 54.2 without, AlexNet)
and COCO's mAP@[0.5:0.95] by pycocotools, with and without box regression,
beside a chance detector (proposals with random classes and scores).

The export `rcnn` has `detect` (`serving_default`: encoded `images` +
`proposals [B, N, 4]` + `num_proposals` -> detections; the client computes the
proposals with `keras_l11.detection.proposals`, selective search being OpenCV code) and
`detect_windows` (encoded `images` only: sliding windows in the graph).

    python -m train.rcnn --config small
"""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from keras_l11.detection import data as det_data
from keras_l11.detection import figures
from keras_l11.detection import metrics as metrics
from keras_l11.detection import proposals as proposal_lib
from keras_l11.detection.rcnn import ClassBoxRegressionLoss, RegionCNN, detect
from keras_l11.detection.regions import labelled_regions, region_dataset
from keras_l11.detection.task import cached_proposals, run_detector
from keras_l11.ops.images import decode_images
from keras_l11.training import harness
from keras_l11.training.config import TrainConfig
from keras_l11.training.export import Signature


@dataclasses.dataclass(frozen=True)
class RCNNConfig(TrainConfig):
    data: str = "digits"  # or "voc2007"
    image_size: int = 192  # generated canvases
    train_images: int = 1000
    test_images: int = 200
    region_size: int = 227
    context_padding: int = 16  # pixels of context around a warped region (the paper: 16 at 227)
    backbone: str = "small_cnn"
    weights: str = "none"  # or "imagenet", or a weights file
    dense_units: tuple = (256, 256)
    dropout: float = 0.0
    max_proposals: int = 2000
    window_count: int = 500  # sliding windows of the `detect_windows` signature
    region_chunk: int = 0  # score regions this many at a time (0: all of a batch's regions in one call)


CONFIGS = {
    "smoke": RCNNConfig(
        batch_size=64,
        steps=150,
        steps_per_epoch=50,
        learning_rate=2e-3,
        image_size=128,
        train_images=150,
        test_images=30,
        region_size=32,
        context_padding=2,
        dense_units=(128, 128),
        window_count=200,
    ),
    "small": RCNNConfig(
        batch_size=128,
        steps=2000,
        steps_per_epoch=200,
        learning_rate=1e-3,
        train_images=1000,
        test_images=200,
        region_size=48,
        context_padding=3,
    ),
    # The paper: fine-tuning with SGD at 0.001, batches of 128 (32 positives), 227 x 227 regions with 16
    # pixels of context. VGG16 (the paper's O-Net) takes 224.
    "paper": RCNNConfig(
        batch_size=128,
        steps=40_000,
        steps_per_epoch=1000,
        learning_rate=1e-3,
        optimizer="sgd",
        data="voc2007",
        region_size=224,
        context_padding=16,
        backbone="VGG16",
        weights="imagenet",
        dense_units=(4096, 4096),
        dropout=0.5,
        region_chunk=256,
    ),
}


def load_examples(config):
    """`(train, test, class names)`."""
    if config.data == "digits":
        train = det_data.digit_canvases(config.train_images, "train", seed=0, size=config.image_size)
        test = det_data.digit_canvases(config.test_images, "test", seed=1, size=config.image_size)
        return train, test, det_data.DIGIT_NAMES
    if config.data == "voc2007":
        return det_data.voc2007("train+validation"), det_data.voc2007("test"), det_data.VOC_NAMES
    raise ValueError(f"data must be 'digits' or 'voc2007', got {config.data!r}")


def build_model(config, num_classes):
    weights = None if config.weights in ("", "none") else config.weights
    return RegionCNN(num_classes, config.region_size, config.backbone, weights, config.dense_units, config.dropout)


def chance_detections(proposals, num_classes, seed=0):
    """Every proposal with a random class and a random score: what chance gets."""
    rng = np.random.default_rng(seed)
    return [
        {"boxes": p, "scores": rng.random(len(p)), "classes": rng.integers(0, num_classes, len(p))} for p in proposals
    ]


def detector(model, config, regression=True):
    """`detect` compiled once for any batch, image size and number of proposals."""
    chunk = config.region_chunk or None

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.float32),
            tf.TensorSpec([None, None, 4], tf.float32),
            tf.TensorSpec([None], tf.int32),
        ]
    )
    def detect_batch(images, boxes, counts):
        return detect(model, images, boxes, counts, config.context_padding, regression, chunk=chunk)

    return detect_batch


def evaluate(model, config, test, test_proposals, num_classes):
    """mAP figures with and without box regression, and chance."""
    summary = {}
    for regression in (True, False):
        found = run_detector(detector(model, config, regression), test, test_proposals)
        key = "with_regression" if regression else "without_regression"
        summary[key] = {
            "voc07_map_50": metrics.mean_average_precision(found, test, num_classes, 0.5, "voc07")[0],
            "coco_map": metrics.pycocotools_map(found, test, num_classes)[0],
        }
        if regression:
            detections = found
    # The lecture's comparison: as many sliding windows per image as selective search gives proposals.
    count = int(round(np.mean([len(p) for p in test_proposals])))
    windows = [proposal_lib.sliding_windows(*ex["image"].shape[:2], count) for ex in test]
    found = run_detector(detector(model, config), test, windows)
    summary["sliding_windows"] = {
        "voc07_map_50": metrics.mean_average_precision(found, test, num_classes, 0.5, "voc07")[0],
        "windows_per_image": float(np.mean([len(w) for w in windows])),
        "recall_50": proposal_lib.recall(windows, [t["boxes"] for t in test]),
    }
    chance = chance_detections(test_proposals, num_classes)
    summary["chance_voc07_map_50"] = metrics.mean_average_precision(chance, test, num_classes, 0.5, "voc07")[0]
    summary["proposal_recall_50"] = proposal_lib.recall(test_proposals, [t["boxes"] for t in test])
    summary["proposals_per_image"] = float(np.mean([len(p) for p in test_proposals]))
    return summary, detections


def signatures(model, config):
    """`detect` (images + client proposals) and `detect_windows` (images only)."""
    encoded = tf.TensorSpec([None], tf.string)
    chunk = config.region_chunk or None

    def detect_proposals(images, proposals, num_proposals):
        pixels, _ = decode_images(images)
        return detect(model, pixels, proposals, num_proposals, config.context_padding, chunk=chunk)

    # Windows as fractions of the image, scaled to each request's size in the graph.
    unit_windows = tf.constant(proposal_lib.sliding_windows(1.0, 1.0, config.window_count))

    def detect_windows(images):
        pixels, _ = decode_images(images)
        shape = tf.shape(pixels)
        scale = tf.cast(tf.stack([shape[2], shape[1], shape[2], shape[1]]), tf.float32)
        boxes = tf.broadcast_to((unit_windows * scale)[None], [shape[0], unit_windows.shape[0], 4])
        count = tf.fill([shape[0]], unit_windows.shape[0])
        return detect(model, pixels, boxes, count, config.context_padding, chunk=chunk)

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


def main(argv=None):
    flags = harness.parse_flags(__doc__.split("\n\n")[0], CONFIGS, None, argv)
    config = flags.train_config
    with harness.exit_on_missing_data():
        train, test, names = load_examples(config)
        train_proposals = cached_proposals(train, f"{config.data}-train", max_proposals=config.max_proposals)
        test_proposals = cached_proposals(test, f"{config.data}-test", max_proposals=config.max_proposals)
    labelled = labelled_regions(train, train_proposals)
    run = harness.start(flags, "rcnn")
    result = run.fit(
        build_model=lambda: build_model(config, len(names)),
        loss={
            "scores": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "deltas": ClassBoxRegressionLoss(),
        },
        metrics=lambda: {"scores": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]},
        train_data=lambda batch, seed, start: region_dataset(
            [ex["image"] for ex in train], labelled, batch, config.region_size, config.context_padding, seed
        ).skip(start),
    )
    model = run.local_copy(result.model)
    evaluation, detections = evaluate(model, config, test, test_proposals, len(names))
    run.summary["evaluation"] = evaluation
    with_reg, without = evaluation["with_regression"], evaluation["without_regression"]
    print(
        harness.format_table(
            [
                "test images",
                "mAP@0.5 (VOC07)",
                "without box regression",
                "COCO mAP",
                "chance mAP@0.5",
                "proposal recall",
            ],
            [
                [
                    len(test),
                    with_reg["voc07_map_50"],
                    without["voc07_map_50"],
                    with_reg["coco_map"],
                    evaluation["chance_voc07_map_50"],
                    evaluation["proposal_recall_50"],
                ]
            ],
        )
    )
    if run.is_chief:
        figure = os.path.join(run.model_dir, "detections.png")
        figures.plot_detections(
            [ex["image"] for ex in test[:4]], detections[:4], names, figure, truths=test[:4], columns=2
        )
        run.summary["figure"] = figure
    run.export(result.model, "rcnn", lambda local: signatures(local, config))
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    harness.run_main(main)
