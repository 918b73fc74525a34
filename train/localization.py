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

import os

from keras_l11.detection.configs import LOCALIZATION_CONFIGS, build_localizer
from keras_l11.training import cli


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, LOCALIZATION_CONFIGS, None, argv)
    import keras

    from keras_l11.detection.export import localizer_signatures
    from keras_l11.detection.task import (
        evaluate_localizer,
        load_localization_arrays,
        localization_dataset,
        plot_localizations,
    )
    from keras_l11.training import harness

    config = flags.train_config
    with harness.exit_on_missing_data():
        train, test, names = load_localization_arrays(config)
    run = harness.start(flags, "localization")
    result = run.fit(
        build_model=lambda: build_localizer(config, len(names)),
        loss={
            "class_logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "box": keras.losses.MeanSquaredError(),
        },
        metrics=lambda: {"class_logits": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]},
        train_data=lambda batch, seed, start: localization_dataset(train, batch, seed).skip(start),
        eval_data=lambda batch: localization_dataset(test, batch),
        loss_weights={"class_logits": 1.0, "box": config.box_loss_weight},
    )
    model = run.local_copy(result.model)
    evaluation, out = evaluate_localizer(model, train, test)
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
        run.summary["figure"] = plot_localizations(test, out, names, os.path.join(run.model_dir, "localizations.png"))
    run.export(result.model, "localization", localizer_signatures)
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    cli.run_main(main)
