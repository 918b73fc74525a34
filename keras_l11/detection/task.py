"""What the detection jobs share: their data, selective-search proposals (from the pipeline), the
detector run over a data set, and the evaluation protocols (mAP, IoU)."""

import numpy as np
import tensorflow as tf

from keras_l11.detection import data as det_data
from keras_l11.detection import figures, metrics
from keras_l11.detection import proposals as proposal_lib
from keras_l11.detection.metrics import box_iou, paired_iou
from keras_l11.detection.rcnn import detect_each_way
from keras_l11.ops.images import image_dataset


def example_proposals(config, train, test, pipeline_args=None):
    """`(train proposals, test proposals)`: selective search's boxes for each
    example, read from the proposals pipeline's output
    (`keras_l11.detection.prepare`), which runs first where it has not (Beam's
    options from `$KERAS_L11_PIPELINE_ARGS`)."""
    from keras_l11.data.beam_options import job_pipeline_args
    from keras_l11.detection.prepare import proposals_for

    if pipeline_args is None:
        pipeline_args = job_pipeline_args()
    train_split = "train+validation" if config.data == "voc2007" else "train"
    found = proposals_for(
        config.data, {train_split: train, "test": test}, max_proposals=config.max_proposals, pipeline_args=pipeline_args
    )
    return found[train_split], found["test"]


def run_detector(detect_fn, examples, proposals, batch_size=8):
    """Detections per example from `detect_fn(images, proposals, num_proposals)`
    (`detector`'s: a tuple of detection dicts, one per way of detecting): for each
    way, `[{"boxes", "scores", "classes"}]`, one per example."""
    if not len(examples):
        raise ValueError("run_detector: no examples to detect in")
    results = None
    for i in range(0, len(examples), batch_size):
        chunk = examples[i : i + batch_size]
        boxes, counts = proposal_lib.padded(proposals[i : i + batch_size])
        # Images of different sizes (VOC's) padded at the bottom and right: boxes keep their pixels.
        height, width = (max(ex["image"].shape[k] for ex in chunk) for k in (0, 1))
        images = np.zeros((len(chunk), height, width, 3), np.float32)
        for k, ex in enumerate(chunk):
            images[k, : ex["image"].shape[0], : ex["image"].shape[1]] = ex["image"]
        ways = [{k: v.numpy() for k, v in out.items()} for out in detect_fn(images, boxes, counts)]
        results = results or [[] for _ in ways]
        for out, found in zip(ways, results):
            for b in range(len(chunk)):
                n = int(out["num_detections"][b])
                h, w = chunk[b]["image"].shape[:2]  # the image's own edges, not the padded batch's
                found.append(
                    {
                        "boxes": np.clip(out["detection_boxes"][b, :n], 0, [w, h, w, h]),
                        "scores": out["detection_scores"][b, :n],
                        "classes": out["detection_classes"][b, :n],
                    }
                )
    return results


def largest_object(example, size):
    """The image resized to `size` and its largest object's class and box
    (fractions), preferring objects that VOC does not flag difficult."""
    from PIL import Image

    image = example["image"]
    h, w = image.shape[:2]
    areas = (example["boxes"][:, 2] - example["boxes"][:, 0]) * (example["boxes"][:, 3] - example["boxes"][:, 1])
    if np.any(~example.get("difficult", np.zeros(len(areas), bool))):  # VOC's difficult boxes only as a last resort
        areas = np.where(example.get("difficult", False), -1.0, areas)
    k = int(np.argmax(areas))
    if (h, w) != (size, size):
        image = np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))
    return image, int(example["classes"][k]), example["boxes"][k] / np.array([w, h, w, h], np.float32)


def load_localization_arrays(config):
    """`(train, test, class names)`; each split is `(images uint8, classes, boxes as fractions)`."""
    if config.data == "digits":
        make = lambda n, split, seed: det_data.digit_canvases(  # noqa: E731
            n,
            split,
            seed,
            size=config.image_size,
            num_digits=(1, 1),
            digit_sizes=(int(config.image_size * config.min_digit), int(config.image_size * config.max_digit)),
            clutter=config.clutter,
            shapes=config.shapes,
        )
        splits, names = (
            (make(config.train_images, "train", 0), make(config.test_images, "test", 1)),
            det_data.DIGIT_NAMES,
        )
    elif config.data == "voc2007":
        splits, names = (det_data.voc2007("train+validation"), det_data.voc2007("test")), det_data.VOC_NAMES
    else:
        raise ValueError(f"data must be 'digits' or 'voc2007', got {config.data!r}")
    arrays = []
    for examples in splits:
        parts = [largest_object(ex, config.image_size) for ex in examples]
        arrays.append(
            (
                np.stack([p[0] for p in parts]),
                np.array([p[1] for p in parts], np.int32),
                np.stack([p[2] for p in parts]).astype(np.float32),
            )
        )
    return arrays[0], arrays[1], names


def localization_dataset(arrays, batch, shuffle_seed=None):
    images, classes, boxes = arrays
    return image_dataset(images, {"class_logits": classes, "box": boxes}, batch, shuffle_seed)


def evaluate_localizer(model, train, test):
    """`(accuracy, mean IoU and correct-localization rate with the baseline's,
    the model's outputs)`."""
    images, classes, boxes = test
    out = model.predict(localization_dataset(test, 64), verbose=0)
    predicted = out["class_logits"].argmax(-1)
    ious = paired_iou(out["box"], boxes)
    majority = np.bincount(train[1]).argmax()
    mean_box = train[2].mean(axis=0)
    baseline_ious = box_iou(mean_box[None], boxes)[0]
    return {
        "accuracy": float(np.mean(predicted == classes)),
        "mean_iou": float(np.mean(ious)),
        "correct_localization": float(np.mean((predicted == classes) & (ious >= 0.5))),
        "baseline_accuracy": float(np.mean(classes == majority)),
        "baseline_mean_iou": float(np.mean(baseline_ious)),
        "baseline_correct_localization": float(np.mean((classes == majority) & (baseline_ious >= 0.5))),
    }, out


def plot_localizations(test, out, names, path, count=8):
    """The first `count` test images with the predicted box, class and
    probability (yellow) and the labelled box (dashed white)."""
    images, _, boxes = test
    scale = np.array([images.shape[2], images.shape[1]] * 2, np.float32)
    probabilities = tf.nn.softmax(out["class_logits"][:count]).numpy()
    predictions = [
        {"boxes": out["box"][k : k + 1] * scale, "scores": [p.max()], "classes": [p.argmax()]}
        for k, p in enumerate(probabilities)
    ]
    truths = [{"boxes": boxes[k] * scale} for k in range(len(predictions))]
    return figures.plot_detections(images[:count], predictions, names, path, truths, min_score=0.0)


def chance_detections(proposals, num_classes, seed=0):
    """Every proposal with a random class and a random score: what chance gets."""
    rng = np.random.default_rng(seed)
    return [
        {"boxes": p, "scores": rng.random(len(p)), "classes": rng.integers(0, num_classes, len(p))} for p in proposals
    ]


def detector(model, config, regressions=(True,)):
    """`detect_each_way` compiled once for any batch, image size and number of
    proposals, as the paper's test: every score, at most 100 detections per class
    and image; one detection dict per item of `regressions` (with and without box
    regression), all from one scoring of the regions."""
    chunk = config.region_chunk or None

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.float32),
            tf.TensorSpec([None, None, 4], tf.float32),
            tf.TensorSpec([None], tf.int32),
        ]
    )
    def detect_batch(images, boxes, counts):
        return detect_each_way(
            model,
            images,
            boxes,
            counts,
            config.context_padding,
            regressions,
            score_threshold=None,
            max_detections=100,
            max_total=100 * model.num_classes,
            chunk=chunk,
        )

    return detect_batch


def evaluate_detector(model, config, test, test_proposals, num_classes):
    """mAP figures with and without box regression, and chance."""
    summary = {}
    detect_fn = detector(model, config, regressions=(True, False))  # one trace for the proposals and the windows
    detections, without = run_detector(detect_fn, test, test_proposals)
    for key, found in (("with_regression", detections), ("without_regression", without)):
        summary[key] = {
            "voc07_map_50": metrics.mean_average_precision(found, test, num_classes, 0.5, "voc07")[0],
            "coco_map": metrics.pycocotools_map(found, test, num_classes)[0],
        }
    # The lecture's comparison: as many sliding windows per image as selective search gives proposals.
    count = int(round(np.mean([len(p) for p in test_proposals])))
    windows = [proposal_lib.sliding_windows(*ex["image"].shape[:2], count) for ex in test]
    found = run_detector(detect_fn, test, windows)[0]
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
