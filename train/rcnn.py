"""R-CNN object detection (Girshick et al. 2014): selective-search proposals,
a CNN on every warped proposal with a background class, class-specific box
regression and per-class non-maximum suppression.

Offline the job detects MNIST digits on cluttered canvases (exact boxes);
`--config paper` reads PASCAL VOC 2007 through TFDS (prepared beforehand), fine-tunes
VGG16 on 224 x 224 regions of trainval, then trains the paper's linear SVMs on fc7
with hard negative mining (`--override classifier=softmax` keeps the softmax).
Proposals come from selective search (fast mode), computed by the Beam pipeline
`python -m keras_l11.detection.prepare` (which the job runs itself when its output
is missing, on every local core). Quality is VOC's mAP@0.5 (11-point) and COCO's mAP@[0.5:0.95] by
pycocotools, with and without box regression, at most 100 detections per class
and image as the paper's test, beside a chance detector (proposals with random
classes and scores) and, on VOC 2007 test, beside the paper's row for the same
network and classifier (Table 3, VGG16 "O-Net" with SVMs: 62.2 without box
regression, 66.0 with).

The export `rcnn` has `detect` (`serving_default`: encoded `images` +
`proposals [B, N, 4]` + `num_proposals` -> detections; the client computes the
proposals with `keras_l11.detection.proposals`, selective search being OpenCV code) and
`detect_windows` (encoded `images` only: sliding windows in the graph).

    python -m train.rcnn --config small
"""

import os
import sys

from keras_l11.detection.configs import RCNN_CONFIGS, build_region_cnn
from keras_l11.training import cli

# Girshick et al. (2014), VOC 2007 test mAP@0.5: (row, with box regression, without).
PAPER_ROWS = {("VGG16", "svm"): ("paper, Table 3, R-CNN O-Net (VGG16, SVMs): BB / without", 66.0, 62.2)}


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, RCNN_CONFIGS, None, argv)
    import keras

    from keras_l11.detection import figures
    from keras_l11.detection.data import load_examples
    from keras_l11.detection.export import rcnn_signatures
    from keras_l11.detection.rcnn import ClassBoxRegressionLoss
    from keras_l11.detection.regions import labelled_regions, region_dataset
    from keras_l11.detection.task import evaluate_detector, example_proposals
    from keras_l11.training import harness

    config = flags.train_config
    with harness.exit_on_missing_data():
        train, test, names = load_examples(config)
        train_proposals, test_proposals = example_proposals(config, train, test)
    labelled = labelled_regions(train, train_proposals)
    if config.classifier not in ("softmax", "svm"):
        sys.exit(f"error: classifier must be 'softmax' or 'svm', got {config.classifier!r}")
    run = harness.start(flags, "rcnn")
    result = run.fit(
        build_model=lambda: build_region_cnn(config, len(names)),
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
    if config.classifier == "svm":
        from keras_l11.detection.svm import train_svms

        print(f"Training the {len(names)} SVMs on fc7 with hard negative mining ({len(train)} images)", flush=True)
        weights, biases, scale = train_svms(
            model, train, train_proposals, len(names), config.region_size, config.context_padding
        )
        model = model.with_svms(weights, biases, scale)
    evaluation, detections = evaluate_detector(model, config, test, test_proposals, len(names))
    run.summary["evaluation"] = evaluation
    with_reg, without = evaluation["with_regression"], evaluation["without_regression"]
    rows = [
        [
            f"ours, {config.model.backbone} + {config.classifier}, {len(test)} test images",
            with_reg["voc07_map_50"],
            without["voc07_map_50"],
            with_reg["coco_map"],
            evaluation["chance_voc07_map_50"],
            evaluation["proposal_recall_50"],
        ]
    ]
    paper = PAPER_ROWS.get((config.model.backbone, config.classifier)) if config.data == "voc2007" else None
    if paper:
        rows.append([paper[0], paper[1] / 100, paper[2] / 100, "-", "-", "-"])
    print(f"\nR-CNN detection on {config.data} test (higher is better):")
    print(
        harness.format_table(
            ["", "mAP@0.5 (VOC07)", "without box regression", "COCO mAP", "chance mAP@0.5", "proposal recall"], rows
        )
    )
    if run.is_chief:
        figure = os.path.join(run.model_dir, "detections.png")
        figures.plot_detections(
            [ex["image"] for ex in test[:4]], detections[:4], names, figure, truths=test[:4], columns=2
        )
        run.summary["figure"] = figure
    run.export(result.model, "rcnn", lambda local: rcnn_signatures(local, config))
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    cli.run_main(main)
