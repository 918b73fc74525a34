"""Classification and localization: the class (an integer) and the box
`x1, y1, x2, y2` of the one object in an image, from a CNN with a class head
and a box regression head (L2 loss).

Offline: one MNIST digit on a cluttered canvas. `--config paper` uses a
`keras.applications` VGG16 with ImageNet weights (where Keras has them cached)
on the largest object of each PASCAL VOC 2007 image (TFDS, prepared
beforehand). Reported: class accuracy, mean box IoU and the fraction
localized correctly (right class and IoU >= 0.5, the ILSVRC criterion), beside
a baseline that always says the most frequent class and the mean box.

The export `localization` has `localize` (`serving_default`): encoded `images`
-> `classes`, `probabilities`, `boxes` (pixels of each input image).

    python -m train.localization --config small
"""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from keras_l11.detection import data as det_data
from keras_l11.detection import figures
from keras_l11.detection.localization import Localizer
from keras_l11.detection.metrics import box_iou, paired_iou
from keras_l11.ops.images import decode_images, image_dataset, resize_each
from keras_l11.training import harness
from keras_l11.training.config import TrainConfig
from keras_l11.training.export import Signature


@dataclasses.dataclass(frozen=True)
class LocalizationConfig(TrainConfig):
    data: str = "digits"  # or "voc2007"
    image_size: int = 128
    min_digit: float = 0.25  # digit sizes on a generated canvas, as fractions of its side
    max_digit: float = 0.75
    clutter: int = 6  # digit fragments on a generated canvas
    shapes: int = 8  # background rectangles and discs on a generated canvas
    train_images: int = 4000
    test_images: int = 400
    backbone: str = "small_cnn"
    weights: str = "none"
    dense_units: tuple = (256, 256)
    dropout: float = 0.0
    box_loss_weight: float = 10.0  # the box L2 is in squared image fractions: small next to the log loss


CONFIGS = {
    "smoke": LocalizationConfig(
        batch_size=32,
        steps=300,
        steps_per_epoch=100,
        learning_rate=2e-3,
        image_size=64,
        min_digit=0.5,
        max_digit=0.9,
        train_images=1500,
        test_images=100,
        dense_units=(128, 128),
    ),
    # 96 px canvases, batch 32: about 0.4 s a step on 2 CPU cores.
    "small": LocalizationConfig(batch_size=32, steps=1500, steps_per_epoch=150, learning_rate=1e-3, image_size=96),
    "paper": LocalizationConfig(
        batch_size=64,
        steps=20_000,
        steps_per_epoch=500,
        learning_rate=1e-3,
        optimizer="sgd",
        data="voc2007",
        image_size=224,
        backbone="VGG16",
        weights="imagenet",
        dense_units=(4096, 4096),
        dropout=0.5,
    ),
}


def _one_object(example, size):
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


def load_arrays(config):
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
        parts = [_one_object(ex, config.image_size) for ex in examples]
        arrays.append(
            (
                np.stack([p[0] for p in parts]),
                np.array([p[1] for p in parts], np.int32),
                np.stack([p[2] for p in parts]).astype(np.float32),
            )
        )
    return arrays[0], arrays[1], names


def dataset(arrays, batch, shuffle_seed=None):
    images, classes, boxes = arrays
    return image_dataset(images, {"class_logits": classes, "box": boxes}, batch, shuffle_seed)


def evaluate(model, train, test):
    """`(accuracy, mean IoU and correct-localization rate with the baseline's,
    the model's outputs)`."""
    images, classes, boxes = test
    out = model.predict(dataset(test, 64), verbose=0)
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


def plot_predictions(test, out, names, path, count=8):
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


def signatures(model):
    size = model.image_size

    def localize(images):
        pixels, sizes = decode_images(images)
        out = model(resize_each(pixels, sizes, size, size), training=False)
        hw = tf.cast(sizes, tf.float32)
        scale = tf.stack([hw[:, 1], hw[:, 0], hw[:, 1], hw[:, 0]], axis=-1)
        probabilities = tf.nn.softmax(out["class_logits"])
        return {
            "classes": tf.argmax(probabilities, -1, output_type=tf.int32),
            "probabilities": probabilities,
            "boxes": out["box"] * scale,
        }

    signature = Signature(localize, {"images": tf.TensorSpec([None], tf.string)})
    return {"serving_default": signature, "localize": signature}


def main(argv=None):
    flags = harness.parse_flags(__doc__.split("\n\n")[0], CONFIGS, None, argv)
    config = flags.train_config
    with harness.exit_on_missing_data():
        train, test, names = load_arrays(config)
    weights = None if config.weights in ("", "none") else config.weights
    run = harness.start(flags, "localization")
    result = run.fit(
        build_model=lambda: Localizer(
            len(names), config.image_size, config.backbone, weights, config.dense_units, config.dropout
        ),
        loss={
            "class_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "box": keras.losses.MeanSquaredError(),
        },
        metrics=lambda: {"class_logits": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]},
        train_data=lambda batch, seed, start: dataset(train, batch, seed).skip(start),
        eval_data=lambda batch: dataset(test, batch),
        loss_weights={"class_logits": 1.0, "box": config.box_loss_weight},
    )
    model = run.local_copy(result.model)
    evaluation, out = evaluate(model, train, test)
    run.summary["evaluation"] = evaluation
    header = ["test images", "accuracy", "mean IoU", "correct (class + IoU>=0.5)", "baseline correct"]
    row = [
        len(test[1]),
        evaluation["accuracy"],
        evaluation["mean_iou"],
        evaluation["correct_localization"],
        evaluation["baseline_correct_localization"],
    ]
    print(harness.format_table(header, [row]))
    if run.is_chief:
        run.summary["figure"] = plot_predictions(test, out, names, os.path.join(run.model_dir, "localizations.png"))
    run.export(result.model, "localization", signatures)
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    harness.run_main(main)
