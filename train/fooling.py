"""Fooling images (Nguyen, Yosinski & Clune 2015): evolve unrecognisable images
that a LeNet trained on MNIST labels as digits with >= 99.99% confidence.

Trains LeNet on MNIST (the paper: 0.94% test error), then runs MAP-Elites over
the ten classes with the `--encoding` chosen: `direct` (one gene per pixel) or
`cppn` (a compositional pattern-producing network evolved in topology and
weights). Reports the fraction of classes fooled at the confidence threshold,
the generation at which each class was first fooled and the wall time, and
writes `champions_<encoding>.png`, each class's champion with its confidence.
The LeNet is exported as `fooling_lenet` with `classify` (`serving_default`): grey
`images [B, 28, 28]` in [0, 1] -> `probabilities [B, 10]`, `classes [B]`.

    python -m train.fooling --encoding cppn --config small
"""

import os

from keras_l11.robustness.configs import FOOLING_CONFIGS
from keras_l11.robustness.specs import ENCODINGS
from keras_l11.training import cli


def add_job_flags(parser):
    parser.add_argument("--encoding", choices=ENCODINGS, default="cppn", help="how a genome becomes an image")


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, FOOLING_CONFIGS, add_job_flags, argv)
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_l11 import figures
    from keras_l11.data.mnist import grey_mnist, mnist
    from keras_l11.ops.images import image_dataset
    from keras_l11.robustness.classifiers import lenet
    from keras_l11.robustness.export import classifier_signatures
    from keras_l11.robustness.map_elites import CPPNEncoding, DirectEncoding
    from keras_l11.robustness.task import PAPER_LENET_TEST_ERROR, evolve
    from keras_l11.training import harness

    config = flags.train_config
    with harness.exit_on_missing_data():
        images, labels = grey_mnist("train"), mnist("train")[1].astype(np.int32)
        test_images, test_labels = grey_mnist("test"), mnist("test")[1]
    run = harness.start(flags, "fooling", variant=flags.encoding)
    result = run.fit(
        lambda: lenet(),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        lambda: ["accuracy"],
        lambda batch, seed, start: image_dataset(images, labels, batch, seed).skip(start),
        name="lenet",
    )
    model = run.local_copy(result.model)
    probabilities = tf.function(lambda x: tf.nn.softmax(tf.cast(model(x, training=False), tf.float32)))
    test_error = float(np.mean(np.argmax(probabilities(test_images), -1) != test_labels))

    encoding = DirectEncoding() if flags.encoding == "direct" else CPPNEncoding()
    search, first_fooled, seconds = evolve(
        lambda x: probabilities(tf.constant(x)).numpy(), encoding, config, flags.seed
    )
    champions, confidence = search.champions()
    fooled = sorted(first_fooled)
    run.summary["evaluation"] = {
        "lenet_test_error": test_error,
        "paper_lenet_test_error": PAPER_LENET_TEST_ERROR,
        "encoding": flags.encoding,
        "generations": search.generation,
        "children_per_generation": config.children,
        "classes_fooled": len(fooled) / search.num_classes,
        "first_fooled_generation": {str(c): g for c, g in sorted(first_fooled.items())},
        "champion_confidence": [float(v) for v in confidence],
        "search_seconds": seconds,
    }
    print(f"LeNet test error {100 * test_error:.2f}% (the paper: {100 * PAPER_LENET_TEST_ERROR:.2f}%)")
    print(
        harness.format_table(
            ["class", "champion confidence", f"first generation >= {config.confidence:g}"],
            [[c, float(confidence[c]), first_fooled.get(c, "not fooled")] for c in range(search.num_classes)],
        )
    )
    print(
        f"{flags.encoding}: {len(fooled)}/{search.num_classes} classes fooled in {search.generation} generations "
        f"of {config.children} ({seconds:.1f} s)"
    )
    if run.is_chief:
        titles = [f"{c}: {confidence[c]:.5f}" for c in range(search.num_classes)]
        run.summary["champions_png"] = figures.plot_labelled_images(
            champions, titles, os.path.join(run.model_dir, f"champions_{flags.encoding}.png"),
            title=f"{flags.encoding} encoding: champion per class (LeNet confidence)",
        )  # fmt: skip
    run.export(result.model, "fooling_lenet", classifier_signatures)
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    cli.run_main(main)
