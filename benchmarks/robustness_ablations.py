"""Why our Szegedy et al. (2014) tables differ from the paper's: the experiments
behind the choices of `keras_l11.robustness` (the noise rows not clipped, the
paper's weight decays, SGD for the sigmoid networks) and the ones behind the
cells still off (the target labels, AE400-10's encoder).

1. FC10(lambda) at the optimum of its convex objective (mean cross-entropy plus
   the penalty, fitted by full-batch L-BFGS, so no optimiser is involved), with
   the penalty read as lambda / 2 * sum(w^2) (the usual weight decay, ours) and
   as lambda * sum(w^2): training and test error beside the paper's Table 1.
2. FC100-100-10 trained nine ways (Adam; Adam with the paper's decays; SGD
   with momentum and the paper's decays, twice them, ten times them; the job's
   recipe on all 60,000 training images, three times as long with a decaying
   learning rate, with a tenth of the learning rate, stopped at a tenth of the
   steps), each measured on Gaussian noise of stddev 0.3 clipped to [0, 1] and
   not, on a uniform brightening of the background, and on the L-BFGS examples
   of the three FC10s (the paper's Table 2 column).
3. The target labels, which the paper does not give: FC10(1e-2)'s and FC10(1)'s
   examples towards a random wrong label (the job's), towards the label the
   FC10 ranks second (the nearest), and towards the one it ranks last; their
   distortion and how often they fool FC100-100-10 and FC200-200-10.
4. AE400-10's encoder frozen (only the softmax trains, the one weight decay
   Table 1 gives AE400-10) or fine-tuned with the softmax (the job's): the
   errors, the distortion of its examples, how often they fool FC10(1e-4),
   FC100-100-10 and FC200-200-10, and how often the FC10s' examples fool it.
5. Table 3 again: the three networks on the halves P1 and P2, their examples of
   test images as they are and magnified to an RMS of 0.1, clipped to [0, 1] or
   not, each network's error on them and how often it gives the target label.

    python -m benchmarks.robustness_ablations            # about 26 minutes here (one core)
"""

import argparse

import numpy as np

from benchmarks.common import write_report
from keras_l11.training.harness import format_table

PAPER_FC10 = {1e-4: (6.7, 7.4), 1e-2: (10.0, 9.4), 1.0: (21.2, 20.0)}  # Table 1: train, test error %


def fc10_section(train, test):
    """FC10 at the paper's three lambdas, fitted to the optimum with the penalty
    read as lambda / 2 * sum(w^2) (ours) and as lambda * sum(w^2)."""
    from keras_l11.robustness.task import error_rate

    def errors(weight_decay):
        model = fc10(weight_decay, train)
        return [100 * error_rate(model, *split) for split in (train, test)]

    rows = []
    for weight_decay, paper in PAPER_FC10.items():
        halved, whole = errors(weight_decay), errors(2 * weight_decay)
        rows.append(
            [
                f"{weight_decay:g}",
                "{:.2f}% / {:.2f}%".format(*halved),
                "{:.2f}% / {:.2f}%".format(*whole),
                f"{paper[0]:g}% / {paper[1]:g}%",
            ]
        )
    header = ["lambda", "penalty lambda/2 sum(w^2): train / test", "lambda sum(w^2)", "paper's FC10(lambda)"]
    return format_table(header, rows)


def fit(model, optimizer, data, steps, seed, loss=None):
    """Trains `model` for `steps` shuffled batches of 100 of `data` (`(x, y)`)."""
    import keras

    from keras_l11.ops.images import image_dataset

    model.compile(optimizer, loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(image_dataset(*data, 100, seed), steps_per_epoch=steps, epochs=1, verbose=0)
    return model


def sgd(learning_rate=None):
    """The job's optimiser for the sigmoid networks (the small config's
    `network_optimizer`), at `learning_rate` (a float or a schedule) if given."""
    import dataclasses

    import keras

    from keras_l11.robustness.configs import ADVERSARIAL_CONFIGS
    from keras_l11.robustness.task import network_optimizer
    from keras_l11.training.optimizers import build_optimizer

    config = network_optimizer(ADVERSARIAL_CONFIGS["small"])
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        return keras.optimizers.SGD(learning_rate, momentum=config.momentum)
    if learning_rate is not None:
        config = dataclasses.replace(config, learning_rate=learning_rate)
    return build_optimizer(config)


def job_network(hidden, train, steps, seed):
    """FC<hidden>-10 trained with the job's recipe: the paper's decays, SGD with momentum."""
    import keras

    from keras_l11.robustness import classifiers

    keras.utils.set_random_seed(seed + 1)
    return fit(classifiers.fully_connected(hidden), sgd(), train, steps, seed)


_FC10 = {}  # (lambda, training images' id) -> FC10 at its optimum: each is fitted once


def fc10(weight_decay, train):
    """FC10(lambda) fitted to its optimum on `train` (once per lambda and set)."""
    from keras_l11.robustness import classifiers

    key = (weight_decay, id(train[0]))
    if key not in _FC10:
        _FC10[key] = classifiers.softmax_classifier(weight_decay)
        classifiers.fit_softmax_optimum(_FC10[key], *train)
    return _FC10[key]


def lbfgs_examples(model, images, labels, targets):
    """`(examples, their true labels, their targets, mean distortion)` of the attacks that succeeded."""
    from keras_l11.robustness import attacks

    found = attacks.lbfgs_attack(model, images, targets)
    ok = found.success
    examples = found.adversarial[ok]
    return examples, labels[ok], targets[ok], float(attacks.distortion(images[ok], examples).mean())


_EXAMPLES = {}  # (lambda, images' id) -> FC10(lambda)'s examples towards random labels


def fc10_examples(weight_decay, train, images, labels, seed):
    """`(examples, their true labels)`: FC10(lambda)'s L-BFGS examples of `images`
    towards random wrong labels (the job's targets), made once per lambda."""
    from keras_l11.robustness import attacks

    key = (weight_decay, id(images))
    if key not in _EXAMPLES:
        targets = attacks.random_wrong_targets(labels, seed=seed)
        _EXAMPLES[key] = lbfgs_examples(fc10(weight_decay, train), images, labels, targets)[:2]
    return _EXAMPLES[key]


def error(model, images, labels):
    from keras_l11.robustness.task import error_rate

    return 100 * error_rate(model, images, labels)


def recipes_section(train, full_train, test, images, labels, steps, seed):
    import keras

    from keras_l11.robustness import classifiers
    from keras_l11.robustness.task import gaussian_noise

    examples = {d: fc10_examples(d, train, images, labels, seed) for d in PAPER_FC10}
    paper = classifiers.SIGMOID_NETWORK_DECAY
    decaying = keras.optimizers.schedules.ExponentialDecay(0.1, 3 * steps, 0.01)  # 0.1 -> 0.001
    recipes = {  # name: (decays, optimiser, training set, steps)
        "Adam 1e-3, no weight decay": (0.0, lambda: keras.optimizers.Adam(1e-3), train, steps),
        "Adam 1e-3, the paper's decays": (paper, lambda: keras.optimizers.Adam(1e-3), train, steps),
        "SGD 0.1 + momentum 0.9, the paper's decays (the job's)": (paper, sgd, train, steps),
        "SGD 0.1 + momentum 0.9, decays x2 (penalty lambda sum(w^2))": (tuple(2 * d for d in paper), sgd, train, steps),
        "SGD 0.1 + momentum 0.9, decays x10": (tuple(10 * d for d in paper), sgd, train, steps),
        "the job's, on all 60,000 training images": (paper, sgd, full_train, steps),
        "the job's, 3x the steps, learning rate 0.1 -> 0.001": (paper, lambda: sgd(decaying), train, 3 * steps),
        "the job's with learning rate 0.01": (paper, lambda: sgd(0.01), train, steps),
        "the job's, stopped at a tenth of the steps": (paper, sgd, train, steps // 10),
    }
    rows = []
    for name, (decay, optimizer, data, recipe_steps) in recipes.items():
        keras.utils.set_random_seed(seed + 1)
        model = fit(classifiers.fully_connected((100, 100), weight_decay=decay), optimizer(), data, recipe_steps, seed)
        row = [name, recipe_steps, f"{error(model, *train):.2f}%", f"{error(model, *test):.2f}%"]
        noisy = gaussian_noise(images, 0.3, seed)
        row += [f"{error(model, np.clip(noisy, 0, 1), labels):.1f}%", f"{error(model, noisy, labels):.1f}%"]
        row.append(f"{error(model, np.clip(images + 0.05, 0, 1), labels):.1f}%")
        row += [f"{error(model, *examples[weight_decay]):.1f}%" for weight_decay in PAPER_FC10]
        rows.append(row)
    rows.append(["paper (Tables 1, 2)", "", "0%", "1.64%", "", "5%", "", "2%", "35.9%", "48.1%"])
    header = ["FC100-100-10 trained with", "steps", "train error", "test error", "noise 0.3 clipped", "noise 0.3",
              "background + 0.05", "FC10(1e-4)'s examples", "FC10(1e-2)'s", "FC10(1)'s"]  # fmt: skip
    return format_table(header, rows)


NETWORKS = {"FC100-100-10": (100, 100), "FC200-200-10": (200, 200)}


def transfer_cell(victim, examples, labels, targets):
    """`victim`'s error on `examples` and, in brackets, how often it gives their target label, %."""
    from keras_l11.robustness import attacks

    predicted = attacks.predict_labels(victim, examples)
    return f"{100 * np.mean(predicted != labels):.1f}% ({100 * np.mean(predicted == targets):.1f}%)"


PAPER_TRANSFER = {1e-2: (0.1, 35.9, 27.3), 1.0: (0.14, 48.1, 47.0)}  # Table 2: distortion, FC100, FC200 errors %


def target_labels(model, images, labels, seed):
    """Per image, three wrong labels: random (the job's), the one `model` ranks
    second (the nearest) and the one it ranks last."""
    from keras_l11.robustness import attacks

    logits = np.array(model.predict(images, verbose=0), np.float64)
    logits[np.arange(len(labels)), labels] = np.nan
    return {
        "random (the job's)": attacks.random_wrong_targets(labels, seed=seed),
        "the FC10's second-ranked label": np.nanargmax(logits, 1).astype(np.int32),
        "the FC10's last-ranked label": np.nanargmin(logits, 1).astype(np.int32),
    }


def targets_section(train, images, labels, victims, seed):
    rows = []
    for weight_decay, (distortion, *paper) in PAPER_TRANSFER.items():
        source = fc10(weight_decay, train)
        for choice, targets in target_labels(source, images, labels, seed).items():
            examples, true, wanted, mean = lbfgs_examples(source, images, labels, targets)
            row = [f"FC10({weight_decay:g})", choice, f"{mean:.3f}"]
            rows.append(row + [transfer_cell(victim, examples, true, wanted) for victim in victims.values()])
        rows.append([f"FC10({weight_decay:g}), paper", "", f"{distortion:g}", *(f"{p:g}%" for p in paper)])
    header = ["examples made for", "towards", "distortion", *(f"{name} error (as the target)" for name in victims)]
    return format_table(header, rows)


def autoencoder_section(train, test, images, labels, victims, steps, seed):
    """AE400-10 on the job's AE400 (the small config's pre-training), its encoder
    frozen or fine-tuned: its errors, where its examples go, and how often the
    FC10s' examples fool it."""
    import keras

    from keras_l11.generative.autoencoder import Autoencoder
    from keras_l11.robustness import attacks, classifiers
    from keras_l11.robustness.configs import ADVERSARIAL_CONFIGS
    from keras_l11.robustness.task import sparse_autoencoder

    config = ADVERSARIAL_CONFIGS["small"]
    keras.utils.set_random_seed(seed)
    autoencoder = sparse_autoencoder(config)
    flat = train[0].reshape(len(train[0]), -1)
    fit(autoencoder, keras.optimizers.Adam(config.learning_rate), (train[0], flat), config.ae_steps, seed, loss="mse")
    weights, model_config = autoencoder.get_weights(), autoencoder.get_config()
    targets = attacks.random_wrong_targets(labels, seed=seed)
    encoders = {  # name: (fine-tune, the softmax's optimiser)
        "frozen: only the softmax trains (Adam 1e-3)": (False, lambda: keras.optimizers.Adam(1e-3)),
        "fine-tuned with the softmax (the job's, SGD + momentum)": (True, sgd),
    }
    rows = []
    for name, (finetune, optimizer) in encoders.items():
        copy = Autoencoder.from_config(model_config)
        copy.set_weights(weights)
        keras.utils.set_random_seed(seed + 1)
        model = fit(classifiers.autoencoder_classifier(copy, finetune=finetune), optimizer(), train, steps, seed)
        examples, true, _, mean = lbfgs_examples(model, images, labels, targets)
        row = [name, f"{error(model, *train):.2f}%", f"{error(model, *test):.2f}%", f"{mean:.3f}"]
        row += [f"{error(victim, examples, true):.1f}%" for victim in victims.values()]
        rows.append(row + [f"{error(model, *fc10_examples(d, train, images, labels, seed)):.1f}%" for d in (1e-2, 1.0)])
    rows.append(["paper's AE400-10 (Tables 1, 2)", "0.57%", "1.9%", "0.086", "23.4%", "9.4%", "6.6%", "9.8%", "34.4%"])
    header = ["AE400-10's encoder", "train error", "test error", "distortion", *(f"{n} error" for n in victims)]
    header += ["its error on FC10(1e-2)'s examples", "on FC10(1)'s"]
    return format_table(header, rows)


def cross_training_section(full_train, test, attacked, steps, seed):
    """Table 3 again, with the job's recipe: each network's examples of test images
    as they are and magnified to an RMS of 0.1, clipped to [0, 1] (the job's) or
    not; each network's error on them and how often it gives the target label."""
    import keras

    from keras_l11.robustness import attacks, classifiers
    from keras_l11.robustness.task import CROSS_TRAINING, PAPER_CROSS_TRAINING, magnified

    half = len(full_train[0]) // 2
    p1, p2 = tuple(a[:half] for a in full_train), tuple(a[half:] for a in full_train)
    halves = dict(zip(CROSS_TRAINING, (((100, 100), p1), ((123, 456), p1), ((100, 100), p2))))
    models = {}
    keras.utils.set_random_seed(seed + 1)  # once, as the job: the two FC100-100-10s start apart
    for name, (hidden, data) in halves.items():
        models[name] = fit(classifiers.fully_connected(hidden), sgd(), data, steps, seed)
    images, labels = test[0][:attacked], test[1][:attacked]
    targets = attacks.random_wrong_targets(labels, seed=seed + 1)
    rows = []
    for name, model in models.items():
        found = attacks.lbfgs_attack(model, images, targets)
        ok = found.success
        variants = {
            f"distorted for {name}": found.adversarial[ok],
            f"magnified to stddev 0.1, for {name}": magnified(images[ok], found.adversarial[ok], 0.1),
            f"magnified, not clipped, for {name}": magnified(images[ok], found.adversarial[ok], 0.1, clip=False),
        }
        for row, examples in variants.items():
            cells = [transfer_cell(victim, examples, labels[ok], targets[ok]) for victim in models.values()]
            paper = PAPER_CROSS_TRAINING.get(row)
            rows.append([row, *cells, " / ".join(f"{p:g}%" for p in paper) if paper else ""])
    header = ["", *(f"{name} error (as the target)" for name in models), "paper's Table 3"]
    return format_table(header, rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000, help="training steps of each FC100-100-10 (batch 100)")
    parser.add_argument("--attacked", type=int, default=300, help="training images attacked and perturbed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from keras_l11.robustness.task import mnist_split

    train, valid, test = mnist_split("train"), mnist_split("valid"), mnist_split("test")
    full_train = tuple(np.concatenate(pair) for pair in zip(train, valid))
    images, labels = train[0][: args.attacked], train[1][: args.attacked]
    victims = {name: job_network(hidden, train, args.steps, args.seed) for name, hidden in NETWORKS.items()}
    attacked = f"{args.attacked} training images"
    write_report(
        "robustness_ablations",
        [
            (
                "FC10(lambda) at its optimum (full-batch L-BFGS) under the two readings of the penalty, "
                "MNIST 50,000 / 10,000",
                fc10_section(train, test),
            ),
            (
                f"FC100-100-10 trained nine ways: errors on {attacked} under noise of stddev 0.3 (clipped to "
                "[0, 1] or not), a brighter background, and the FC10s' L-BFGS examples (random targets)",
                recipes_section(train, full_train, test, images, labels, args.steps, args.seed),
            ),
            (
                f"The target labels: the FC10s' L-BFGS examples of {attacked} towards three choices of label, and "
                f"the networks' error on them (the job's recipe, {args.steps} steps; in brackets: classified as "
                "the target)",
                targets_section(train, images, labels, victims, args.seed),
            ),
            (
                f"AE400-10's encoder frozen or fine-tuned ({args.steps} steps): its errors, its examples of "
                f"{attacked} (random targets) and the other models' error on them",
                autoencoder_section(
                    train, test, images, labels, {"FC10(1e-4)": fc10(1e-4, train), **victims}, args.steps, args.seed
                ),
            ),
            (
                f"Table 3 with the job's recipe ({args.steps} steps, on the two halves P1 and P2 of the 60,000 "
                f"training images): {args.attacked} test images, their examples as they are and magnified to an "
                "RMS of 0.1 (clipped to [0, 1], the job's, or not); in brackets: classified as the target",
                cross_training_section(full_train, test, args.attacked, args.steps, args.seed),
            ),
        ],
    )


if __name__ == "__main__":
    main()
