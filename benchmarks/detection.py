"""Detection: R-CNN's mAP on the offline digit canvases with and without box
regression and against sliding windows, the localizer against a baseline,
selective search's recall against the number of proposals, and per-image
latency (proposals; region scoring in one batch against one model call per
region).

    python -m benchmarks.detection             # trains the small R-CNN and localization configs first
    python -m benchmarks.detection --reuse     # reads their runs/benchmark/*/summary.json if present
    python -m benchmarks.detection --skip_quality
"""

import time

import numpy as np

from benchmarks.common import parser_with_run_flags, run_small, write_report
from keras_l11.training.harness import format_table


def quality(runs_dir, reuse):
    ev = run_small("rcnn", runs_dir, reuse)["evaluation"]
    rows = [
        [
            "R-CNN, selective search + box regression",
            ev["with_regression"]["voc07_map_50"],
            ev["with_regression"]["coco_map"],
            "58.5 (AlexNet, VOC 2007)",
        ],
        [
            "R-CNN, selective search, no box regression",
            ev["without_regression"]["voc07_map_50"],
            ev["without_regression"]["coco_map"],
            "54.2",
        ],
        [
            f"same CNN on {ev['sliding_windows']['windows_per_image']:.0f} sliding windows",
            ev["sliding_windows"]["voc07_map_50"],
            "",
            "",
        ],
        ["chance (random classes and scores on the proposals)", ev["chance_voc07_map_50"], "", ""],
    ]
    return format_table(["detector (small config, 200 test canvases)", "mAP@0.5 (VOC07)", "COCO mAP", "paper"], rows)


def localization(runs_dir, reuse):
    ev = run_small("localization", runs_dir, reuse)["evaluation"]
    rows = [
        ["CNN, class head + box regression head", ev["accuracy"], ev["mean_iou"], ev["correct_localization"]],
        [
            "baseline: the most frequent class and the mean box",
            ev["baseline_accuracy"],
            ev["baseline_mean_iou"],
            ev["baseline_correct_localization"],
        ],
    ]
    return format_table(["localizer (small config, 400 test canvases)", "accuracy", "mean IoU", "correct"], rows)


def recall_table(count):
    from keras_l11.detection import data as det_data
    from keras_l11.detection import proposals

    canvases = det_data.digit_canvases(count, "test", seed=1)
    truths = [c["boxes"] for c in canvases]
    found = {mode: [proposals.selective_search(c["image"], mode) for c in canvases] for mode in ("fast", "quality")}
    rows = []
    for k in (10, 30, 100, 300, 1000):
        windows = [proposals.sliding_windows(192, 192, k) for _ in canvases]
        rows.append(
            [k]
            + [proposals.recall([p[:k] for p in found[m]], truths) for m in ("fast", "quality")]
            + [proposals.recall(windows, truths)]
        )
    rows.append(["all"] + [proposals.recall(found[m], truths) for m in ("fast", "quality")] + [""])
    rows.append(["mean boxes per image"] + [np.mean([len(p) for p in found[m]]) for m in ("fast", "quality")] + [""])
    return format_table(["proposals per image", "selective search fast", "quality", "sliding windows"], rows)


def latency(count=5, regions_per_image=300):
    import tensorflow as tf

    from keras_l11.detection import data as det_data
    from keras_l11.detection import proposals
    from keras_l11.detection.boxes import warp_regions
    from keras_l11.detection.rcnn import RegionCNN, score_regions

    canvases = det_data.digit_canvases(count, "test", seed=2)
    rows = []
    for mode in ("fast", "quality"):
        started = time.perf_counter()
        for c in canvases:
            proposals.selective_search(c["image"], mode)
        rows.append([f"selective search, {mode} mode (192 x 192)", (time.perf_counter() - started) / count * 1000, ""])

    model = RegionCNN(10, region_size=48)  # the small config's network; speed does not depend on the weights
    image = tf.constant(canvases[0]["image"][None], tf.float32)
    boxes = tf.constant(proposals.sliding_windows(192, 192, regions_per_image))
    indices = tf.zeros([boxes.shape[0]], tf.int32)
    batched = tf.function(lambda b, i: score_regions(model, image, b, i, 3))
    one = tf.function(lambda b, i: score_regions(model, image, b, i, 3))

    def best_of(fn, rounds=3):
        fn()
        return min(_timed(fn) for _ in range(rounds))

    n = boxes.shape[0]
    t_batched = best_of(lambda: batched(boxes, indices))
    rows.append([f"score {n} regions in one batch (crop_and_resize + CNN)", t_batched * 1000, 1.0])
    t_single = best_of(lambda: [one(boxes[r : r + 1], indices[r : r + 1]) for r in range(n)], rounds=1)
    rows.append([f"score {n} regions, a compiled tf.function call per region", t_single * 1000, t_single / t_batched])
    # The common Keras pattern: crop one region, then call the model eagerly or with predict; timed on
    # `sample` regions and scaled to the image's n.
    sample = 30
    regions = [warp_regions(image, boxes[r : r + 1], indices[r : r + 1], 48, 3) for r in range(sample)]
    t_eager = _timed(lambda: [model(r, training=False) for r in regions]) * n / sample
    rows.append([f"score {n} regions, an eager model(region) call each", t_eager * 1000, t_eager / t_batched])
    t_predict = _timed(lambda: [model.predict(r, verbose=0) for r in regions]) * n / sample
    rows.append([f"score {n} regions, a model.predict(region) call each", t_predict * 1000, t_predict / t_batched])
    return format_table(["per image", "ms", "slower than one batch"], rows)


def _timed(fn):
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main(argv=None):
    parser = parser_with_run_flags(__doc__.split("\n\n")[0])
    parser.add_argument("--recall_images", type=int, default=50)
    args = parser.parse_args(argv)
    sections = []
    if not args.skip_quality:
        sections.append(
            (
                "mAP on the offline digit canvases (target: proposals beat sliding windows)",
                quality(args.runs_dir, args.reuse),
            )
        )
        sections.append(
            (
                "Localization, one digit per canvas (correct: right class and IoU >= 0.5, ILSVRC's criterion)",
                localization(args.runs_dir, args.reuse),
            )
        )
    sections.append(
        ("Proposal recall at IoU 0.5 vs proposals per image (test canvases)", recall_table(args.recall_images))
    )
    sections.append(("Latency per image (target: one batch >= 10x faster than a call per region)", latency()))
    write_report("detection", sections)


if __name__ == "__main__":
    main()
