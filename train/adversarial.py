"""Adversarial examples on MNIST: Szegedy et al.'s (2014) cross-model and
cross-training-set tables, regenerated.

Builds the paper's models: FC10 with weight decay 1e-4, 1e-2 and 1 (each fitted
to the optimum of its convex objective); FC100-100-10; FC200-200-10; and AE400-10
(a softmax on a 400-unit sparse autoencoder). For the cross-training-set experiment it trains FC100-100-10 and
FC123-456-10 on P1 and FC100-100-10' on P2, the two halves of MNIST's 60,000
training images. Box-constrained L-BFGS then makes an adversarial example of
each attacked image for a random wrong label (training images for the
cross-model table, test images for the cross-training-set one, as in the
paper), and every model classifies every model's examples.

Prints and writes (`tables.md`) the Markdown tables with the paper's figures in
brackets, and `adversarial.png`: x, r magnified, x + r. Each trained model is
exported as `adversarial_<model>` (`adversarial_fc10_1e_4`, ..., `adversarial_ae400_10`,
`adversarial_fc100_100_10_p1`, ...) with `classify` (`serving_default`): grey `images
[B, 28, 28]` in [0, 1] -> `probabilities [B, 10]`, `classes [B]`.

    python -m train.adversarial --config small
"""

import os

from keras_l11.robustness.configs import ADVERSARIAL_CONFIGS
from keras_l11.training import cli


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, ADVERSARIAL_CONFIGS, None, argv)
    import numpy as np

    from keras_l11.robustness.export import classifier_signatures, export_name
    from keras_l11.robustness.figures import plot_adversarial_examples
    from keras_l11.robustness.task import (
        CROSS_MODEL,
        CROSS_TRAINING,
        cross_model_experiment,
        cross_training_experiment,
        format_tables,
        mnist_split,
    )
    from keras_l11.training import harness

    config = flags.train_config
    with harness.exit_on_missing_data():
        train, valid, test = mnist_split("train"), mnist_split("valid"), mnist_split("test")
    limit = config.train_images or None
    train_x, train_y = train[0][:limit], train[1][:limit]
    run = harness.start(flags, "adversarial")

    trained, cross_model = cross_model_experiment(run, config, train_x, train_y, test, flags.seed)
    trained_halves, cross_training = cross_training_experiment(run, config, train, valid, test, limit, flags.seed)

    # Tables.
    results = cross_model["results"] | cross_training["results"]
    figures = {
        name: {"train_error": tr, "test_error": te, **results[name]["figures"]}
        for name, (_, tr, te) in {**trained, **trained_halves}.items()
    }
    tables = format_tables(figures, cross_model, cross_training)
    print(tables)
    run.summary["evaluation"] = {
        "models": figures,
        "cross_model": {row: dict(zip(CROSS_MODEL, errors)) for row, errors in cross_model["table"].items()},
        "cross_model_distortion": cross_model["distortion"],
        "cross_training": {row: dict(zip(CROSS_TRAINING, errors)) for row, errors in cross_training["table"].items()},
        "cross_training_distortion": cross_training["distortion"],
    }
    if run.is_chief:
        with open(os.path.join(run.model_dir, "tables.md"), "w") as f:
            f.write(tables)
        images, labels = cross_model["images"], cross_model["labels"]
        examples = []
        for name in CROSS_MODEL:
            found, targets = results[name]["lbfgs"], results[name]["targets"]
            for i in np.flatnonzero(found.success)[:2]:
                examples.append((images[i], found.adversarial[i], f"{name}: {labels[i]} -> {targets[i]}"))
        run.summary["examples_png"] = plot_adversarial_examples(
            examples, os.path.join(run.model_dir, "adversarial.png")
        )
    for name, (model, _, _) in {**trained, **trained_halves}.items():
        run.export(model, export_name("adversarial", name), classifier_signatures)
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    cli.run_main(main)
