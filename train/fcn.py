"""FCN semantic segmentation (Long, Shelhamer & Darrell 2015): FCN-32s, -16s
and -8s, trained in stages (`--init_from` the previous variant's run) or all
at once (`--override all_at_once=True`), the ignore label (255) honoured.

Offline: digit canvases with exact masks (11 classes with background);
`--config paper` reads PASCAL VOC 2012 from a VOCdevkit folder (`--data_path`)
with ImageNet VGG16. Reported: the paper's pixel accuracy, mean accuracy,
mean IU and frequency weighted IU, beside an all-background baseline (the
paper's VOC 2011 val mean IU: 59.4 for 32s, 62.4 for 16s, 62.7 for 8s).

The export `fcn` has `segment` (`serving_default`): encoded `images` ->
`classes [B, H, W]`, `probabilities [B, H, W, C]` and `sizes [B, 2]` (images of
different sizes come back padded at the bottom and right to the largest).

    python -m train.fcn --variant 32s --config small
    python -m train.fcn --variant 16s --config small --init_from runs/fcn/small-32s
"""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from keras_l11.dense import figures
from keras_l11.dense import segmentation_data as seg_data
from keras_l11.dense.fcn import FCN, VARIANTS, convolutionalize_vgg16
from keras_l11.dense.segmentation_metrics import IGNORE_LABEL, confusion_matrix, segmentation_scores
from keras_l11.ops.images import decode_images, image_dataset
from keras_l11.training import harness
from keras_l11.training.config import TrainConfig
from keras_l11.training.export import Signature
from keras_l11.training.transfer import initialize_from, saved_model_file


@dataclasses.dataclass(frozen=True)
class FCNConfig(TrainConfig):
    data: str = "digits"  # or "voc2012"
    image_size: int = 96
    train_images: int = 2000
    test_images: int = 200
    backbone: str = "small_vgg"
    weights: str = "none"  # or "imagenet" (VGG16), or a weights file
    fc_units: int = 256
    fc6_size: int = 3
    dropout: float = 0.0
    all_at_once: bool = False


CONFIGS = {
    "smoke": FCNConfig(
        batch_size=16,
        steps=200,
        steps_per_epoch=100,
        learning_rate=3e-3,
        image_size=64,
        train_images=400,
        test_images=40,
        fc_units=64,
    ),
    "small": FCNConfig(batch_size=16, steps=3000, steps_per_epoch=300, learning_rate=1e-3),
    # The paper: SGD with momentum 0.99 at 1e-4 (32s; 1e-5 and 1e-6 for the later stages), batches of 20
    # whole images, weight decay 5e-4, VGG16 with fc6 7 x 7 x 4096 and dropout 0.5. Images here are resized
    # to 320 x 320 so that they batch.
    "paper": FCNConfig(
        batch_size=20,
        steps=100_000,
        steps_per_epoch=1000,
        learning_rate=1e-4,
        optimizer="sgd",
        data="voc2012",
        image_size=320,
        train_images=0,
        test_images=0,
        backbone="VGG16",
        weights="imagenet",
        fc_units=4096,
        fc6_size=7,
        dropout=0.5,
    ),
}


def add_job_flags(parser):
    g = parser.add_argument_group("fcn")
    g.add_argument("--variant", choices=VARIANTS, default="32s")
    g.add_argument("--init_from", default="", help="the run folder of the previous stage (32s for 16s, 16s for 8s)")
    g.add_argument("--data_path", default="", help="the VOC2012 devkit folder (--config paper)")


def load_data(config, data_path):
    """`(train, test, class names)`; each split is `(images, masks)`."""
    if config.data == "digits":
        train = seg_data.digit_segmentation(config.train_images, "train", 0, config.image_size)
        test = seg_data.digit_segmentation(config.test_images, "test", 1, config.image_size)
        return train, test, seg_data.DIGIT_SEGMENT_NAMES
    if config.data == "voc2012":
        if not data_path:
            raise FileNotFoundError("--config paper needs --data_path, the VOC2012 devkit folder")
        train = seg_data.voc2012_segmentation(data_path, "train", config.image_size)
        test = seg_data.voc2012_segmentation(data_path, "val", config.image_size)
        return train, test, seg_data.VOC_SEGMENT_NAMES
    raise ValueError(f"data must be 'digits' or 'voc2012', got {config.data!r}")


def dataset(split, batch, shuffle_seed=None):
    images, masks = split
    return image_dataset(images, masks.astype(np.int32), batch, shuffle_seed)


def build_model(config, num_classes, variant, init_from):
    weights = None if config.weights in ("", "none") else config.weights
    model = FCN(
        num_classes,
        variant,
        config.backbone,
        weights,
        config.fc_units,
        config.fc6_size,
        config.dropout,
        config.all_at_once,
    )
    if init_from:
        print(f"initialised {len(initialize_from(model, init_from))} layers from {init_from}")
    elif config.backbone == "VGG16" and weights and config.fc_units == 4096 and config.fc6_size == 7:
        convolutionalize_vgg16(model, weights)  # the classifier's fc1, fc2 as fc6, fc7
    return model


def predict_classes(model, images, batch=16):
    return np.concatenate(
        [
            np.argmax(model(tf.cast(images[i : i + batch], tf.float32), training=False), -1)
            for i in range(0, len(images), batch)
        ]
    )


def evaluate(model, test, num_classes):
    """The four measures of the model and of predicting background everywhere."""
    predicted = predict_classes(model, test[0])
    scores = segmentation_scores(confusion_matrix(test[1], predicted, num_classes))
    baseline = segmentation_scores(confusion_matrix(test[1], np.zeros_like(test[1]), num_classes))
    return {**scores, **{f"baseline_{k}": v for k, v in baseline.items()}}, predicted


def signatures(model):
    def segment(images):
        pixels, sizes = decode_images(images)
        probabilities = tf.nn.softmax(model(pixels, training=False))
        return {
            "classes": tf.argmax(probabilities, -1, output_type=tf.int32),
            "probabilities": probabilities,
            "sizes": sizes,
        }

    signature = Signature(segment, {"images": tf.TensorSpec([None], tf.string)})
    return {"serving_default": signature, "segment": signature}


def main(argv=None):
    flags = harness.parse_flags(__doc__.split("\n\n")[0], CONFIGS, add_job_flags, argv)
    config = flags.train_config
    with harness.exit_on_missing_data():
        train, test, names = load_data(config, flags.data_path)
        if flags.init_from:
            saved_model_file(flags.init_from)
    run = harness.start(flags, "fcn", variant=flags.variant)
    run.summary["variant"] = flags.variant
    result = run.fit(
        build_model=lambda: build_model(config, len(names), flags.variant, flags.init_from),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=IGNORE_LABEL),
        metrics=lambda: [
            keras.metrics.MeanIoU(len(names), ignore_class=IGNORE_LABEL, sparse_y_pred=False, name="mean_iu")
        ],
        train_data=lambda batch, seed, start: dataset(train, batch, seed).skip(start),
    )
    model = run.local_copy(result.model)
    evaluation, predicted = evaluate(model, test, len(names))
    run.summary["evaluation"] = evaluation
    measures = ("pixel_accuracy", "mean_accuracy", "mean_iu", "frequency_weighted_iu")
    print(
        harness.format_table(
            [f"FCN-{flags.variant}", *measures],
            [
                ["model", *(evaluation[m] for m in measures)],
                ["all background", *(evaluation[f"baseline_{m}"] for m in measures)],
            ],
        )
    )
    if run.is_chief:
        figure = os.path.join(run.model_dir, "segmentation.png")
        run.summary["figure"] = figures.plot_segmentation(test[0][:4], predicted[:4], test[1][:4], names, figure)
    run.save_keras(result.model)
    run.export(result.model, "fcn", signatures)
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    harness.run_main(main)
