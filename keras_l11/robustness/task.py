"""What the robustness jobs share: the protocols of Szegedy et al.'s three tables (train
the paper's MNIST models, attack them, measure how the examples transfer) beside the
paper's figures, and the MAP-Elites run of the fooling images."""

import dataclasses
import time

import keras
import numpy as np

from keras_l11.data.mnist import grey_mnist, mnist
from keras_l11.generative.autoencoder import Autoencoder
from keras_l11.ops.images import image_dataset
from keras_l11.robustness import attacks, classifiers
from keras_l11.robustness.map_elites import ClassMapElites
from keras_l11.training import harness

CROSS_MODEL = ("FC10(1e-4)", "FC10(1e-2)", "FC10(1)", "FC100-100-10", "FC200-200-10", "AE400-10")


CROSS_TRAINING = ("FC100-100-10 (P1)", "FC123-456-10 (P1)", "FC100-100-10' (P2)")


# Szegedy et al. 2014, Table 1: training error %, test error %, average minimum distortion.
PAPER_MODELS = {
    "FC10(1e-4)": (6.7, 7.4, 0.062),
    "FC10(1e-2)": (10.0, 9.4, 0.1),
    "FC10(1)": (21.2, 20.0, 0.14),
    "FC100-100-10": (0.0, 1.64, 0.058),
    "FC200-200-10": (0.0, 1.54, 0.065),
    "AE400-10": (0.57, 1.9, 0.086),
}


# Table 2: error (%) of each column's model on each row's distorted examples.
PAPER_CROSS_MODEL = {
    "FC10(1e-4)": (100, 11.7, 22.7, 2, 3.9, 2.7),
    "FC10(1e-2)": (87.1, 100, 35.2, 35.9, 27.3, 9.8),
    "FC10(1)": (71.9, 76.2, 100, 48.1, 47, 34.4),
    "FC100-100-10": (28.9, 13.7, 21.1, 100, 6.6, 2),
    "FC200-200-10": (38.2, 14, 23.8, 20.3, 100, 2.7),
    "AE400-10": (23.4, 16, 24.8, 9.4, 6.6, 100),
    "Gaussian noise, stddev 0.1": (5.0, 10.1, 18.3, 0, 0, 0.8),
    "Gaussian noise, stddev 0.3": (15.6, 11.3, 22.7, 5, 4.3, 3.1),
}


# Table 3 (test images): error (%) of each column's model.
PAPER_CROSS_TRAINING = {
    "distorted for FC100-100-10 (P1)": (100, 26.2, 5.9),
    "distorted for FC123-456-10 (P1)": (6.25, 100, 5.1),
    "distorted for FC100-100-10' (P2)": (8.2, 8.2, 100),
    "magnified to stddev 0.1, for FC100-100-10 (P1)": (100, 98, 43),
    "magnified to stddev 0.1, for FC123-456-10 (P1)": (96, 100, 22),
    "magnified to stddev 0.1, for FC100-100-10' (P2)": (27, 50, 100),
    "Gaussian noise, stddev 0.1": (2.6, 2.8, 2.7),
}


def mnist_split(split):
    return grey_mnist(split), mnist(split)[1].astype(np.int32)


def error_rate(model, images, labels):
    if not len(images):
        return float("nan")
    return float(np.mean(attacks.predict_labels(model, images) != labels))


def gaussian_noise(images, stddev, seed):
    """`images` plus N(0, stddev^2) per pixel, not clipped to [0, 1]: the paper's
    noise rows have an average distortion equal to their stddev (0.1, 0.3), which
    clipping cannot give (it makes 0.074 and 0.217 on MNIST), and clipping turns
    the zero-mean noise on the black background into a uniform brightening, a
    different perturbation that fools the networks far more often
    (`benchmarks/robustness_ablations.py` measures both)."""
    rng = np.random.default_rng(seed)
    return (images + rng.normal(0, stddev, images.shape)).astype(np.float32)


def magnified(images, adversarial, stddev, clip=True):
    """The perturbations rescaled to a per-pixel RMS of `stddev`, then clipped to
    [0, 1] unless `clip` is False (the ablations show it changes little)."""
    r = adversarial - images
    scale = stddev / np.maximum(attacks.distortion(images, adversarial), 1e-8)
    boosted = images + r * scale.reshape((-1,) + (1,) * (r.ndim - 1))
    return (np.clip(boosted, 0, 1) if clip else boosted).astype(np.float32)


def network_optimizer(config):
    """The config with the sigmoid networks' optimiser in place of its own."""
    return dataclasses.replace(config, optimizer=config.network_optimizer, learning_rate=config.network_learning_rate)


def train_classifiers(run, builders, images, labels, test, optimizer_config=None):
    """Trains each `name -> () -> model` with the harness (with `optimizer_config`'s
    optimiser if given); name -> (local model, train error, test error)."""
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    trained = {}
    for name, build in builders.items():
        result = run.fit(
            build,
            loss,
            lambda: ["accuracy"],
            lambda batch, seed, start: image_dataset(images, labels, batch, seed).skip(start),
            name=name,
            optimizer_config=optimizer_config,
        )
        model = result.model
        trained[name] = (model, error_rate(model, images, labels), error_rate(model, *test))
    return trained


def fit_softmaxes(run, builders, images, labels, test):
    """Fits each FC10 to the optimum of its convex objective
    (`classifiers.fit_softmax_optimum`), recorded in the summary's `fits/<name>`;
    name -> (model, train error, test error), as `train_classifiers`."""
    trained = {}
    for name, build in builders.items():
        model = build()
        objective, iterations = classifiers.fit_softmax_optimum(model, images, labels)
        fit = {"method": "full-batch L-BFGS to the optimum", "objective": objective, "iterations": iterations}
        run.summary.setdefault("fits", {})[name] = fit
        trained[name] = (model, error_rate(model, images, labels), error_rate(model, *test))
    return trained


def sparse_autoencoder(config):
    """AE400: the sparse autoencoder (400 sigmoid units, KL sparsity) under AE400-10."""
    return Autoencoder(784, code="sparse", code_units=400, sparsity="kl", sparsity_weight=config.sparsity_weight)


def pretrain_autoencoder(run, config, images):
    """AE400's sparse autoencoder, trained on the images; returns a builder of AE400-10."""
    flat = images.reshape(len(images), -1)
    result = run.fit(
        lambda: sparse_autoencoder(config),
        "mse",
        lambda: [],
        lambda batch, seed, start: image_dataset(images, flat, batch, seed).skip(start),
        name="AE400",
        steps=config.ae_steps,
    )
    weights, model_config = result.model.get_weights(), result.model.get_config()

    def build():
        autoencoder = Autoencoder.from_config(model_config)
        autoencoder.set_weights(weights)
        return classifiers.autoencoder_classifier(autoencoder, finetune=config.ae_finetune)

    return build


def attack_all(models, images, labels, config, seed):
    """For each model: its L-BFGS and FGSM results on `images` towards random wrong
    labels, with the figures of both attacks (`attack_figures`)."""
    targets = attacks.random_wrong_targets(labels, seed=seed)
    results = {}
    for name, model in models.items():
        started = time.perf_counter()
        found = attacks.lbfgs_attack(
            model,
            images,
            targets,
            decades=config.decades,
            refine_steps=config.refine_steps,
            max_iterations=config.max_iterations,
        )
        lbfgs_seconds = (time.perf_counter() - started) / len(images)
        started = time.perf_counter()
        quick = attacks.fgsm_attack(model, images, targets)
        fgsm_seconds = (time.perf_counter() - started) / len(images)
        results[name] = {
            "lbfgs": found,
            "fgsm": quick,
            "targets": targets,
            "figures": {
                **attack_figures("lbfgs", found, images, lbfgs_seconds),
                **attack_figures("fgsm", quick, images, fgsm_seconds),
            },
        }
    return results


def mean_distortion(images, adversarial):
    """The mean per-pixel RMS distortion, nan where there is no example (no attack succeeded)."""
    return float(np.mean(attacks.distortion(images, adversarial))) if len(images) else float("nan")


def attack_figures(prefix, found, images, seconds):
    ok = found.success
    mean = mean_distortion(images[ok], found.adversarial[ok])
    return {f"{prefix}_distortion": mean, f"{prefix}_success": float(ok.mean()), f"{prefix}_seconds_per_image": seconds}


def transfer_table(models, rows, labels):
    """Row name -> (images, which rows count) -> error of every model, %."""
    return {
        row: [100 * error_rate(model, images[keep], labels[keep]) for model in models.values()]
        for row, (images, keep) in rows.items()
    }


def percent_cells(ours, paper):
    return [f"{o:.1f}%" + (f" ({p:g}%)" if p is not None else "") for o, p in zip(ours, paper or [None] * len(ours))]


def cross_model_experiment(run, config, train_x, train_y, test, seed):
    """Tables 1 and 2: the six models, attacked on training images.

    Returns `(name -> (model, train error, test error), experiment)`, the
    experiment holding the attacked `images`, `labels`, attack `results`, the
    transfer `table` (row -> errors %) and each row's `distortion`."""
    softmaxes = {
        "FC10(1e-4)": lambda: classifiers.softmax_classifier(1e-4),
        "FC10(1e-2)": lambda: classifiers.softmax_classifier(1e-2),
        "FC10(1)": lambda: classifiers.softmax_classifier(1.0),
    }
    networks = {
        "FC100-100-10": lambda: classifiers.fully_connected((100, 100)),
        "FC200-200-10": lambda: classifiers.fully_connected((200, 200)),
        "AE400-10": pretrain_autoencoder(run, config, train_x),
    }
    trained = fit_softmaxes(run, softmaxes, train_x, train_y, test)
    trained.update(train_classifiers(run, networks, train_x, train_y, test, network_optimizer(config)))
    models = {name: run.local_copy(model) for name, (model, _, _) in trained.items()}
    images, labels = train_x[: config.attack_train_images], train_y[: config.attack_train_images]
    results = attack_all(models, images, labels, config, seed)
    rows = {name: (r["lbfgs"].adversarial, r["lbfgs"].success) for name, r in results.items()}
    for stddev in config.noise_stddevs:
        rows[f"Gaussian noise, stddev {stddev:g}"] = (gaussian_noise(images, stddev, seed), np.ones(len(images), bool))
    return trained, experiment(models, images, labels, results, rows)


def cross_training_experiment(run, config, train, valid, test, limit, seed):
    """Table 3: FC100-100-10 and FC123-456-10 on P1, FC100-100-10' on P2 (the two
    halves of train + validation), attacked on test images; as `cross_model_experiment`."""
    pool_x = np.concatenate([train[0], valid[0]])[: 2 * (limit or 30_000)]
    pool_y = np.concatenate([train[1], valid[1]])[: 2 * (limit or 30_000)]
    half = len(pool_x) // 2
    p1, p2 = (pool_x[:half], pool_y[:half]), (pool_x[half:], pool_y[half:])
    halves = {
        "FC100-100-10 (P1)": (lambda: classifiers.fully_connected((100, 100)), p1),
        "FC123-456-10 (P1)": (lambda: classifiers.fully_connected((123, 456)), p1),
        "FC100-100-10' (P2)": (lambda: classifiers.fully_connected((100, 100)), p2),
    }
    trained = {}
    for name, (build, (x, y)) in halves.items():
        trained.update(train_classifiers(run, {name: build}, x, y, test, network_optimizer(config)))
    models = {name: run.local_copy(model) for name, (model, _, _) in trained.items()}
    images, labels = test[0][: config.attack_test_images], test[1][: config.attack_test_images]
    results = attack_all(models, images, labels, config, seed + 1)
    stddev = config.magnified_stddev
    rows = {f"distorted for {name}": (r["lbfgs"].adversarial, r["lbfgs"].success) for name, r in results.items()}
    for name, r in results.items():
        boosted = magnified(images, r["lbfgs"].adversarial, stddev)
        rows[f"magnified to stddev {stddev:g}, for {name}"] = (boosted, r["lbfgs"].success)
    rows[f"Gaussian noise, stddev {stddev:g}"] = (gaussian_noise(images, stddev, seed), np.ones(len(images), bool))
    return trained, experiment(models, images, labels, results, rows)


def experiment(models, images, labels, results, rows):
    return {
        "images": images,
        "labels": labels,
        "results": results,
        "table": transfer_table(models, rows, labels),
        "distortion": {row: mean_distortion(images[keep], x[keep]) for row, (x, keep) in rows.items()},
    }


def format_tables(figures, cross_model, cross_training):
    """The three Markdown tables, the paper's figures in brackets."""

    def paper_cell(value, paper, fmt):
        return fmt.format(value) + (f" ({paper:g}{'%' if '%' in fmt else ''})" if paper is not None else "")

    rows = []
    for name, f in figures.items():
        paper = PAPER_MODELS.get(name, (None, None, None))
        rows.append(
            [
                name,
                paper_cell(100 * f["train_error"], paper[0], "{:.2f}%"),
                paper_cell(100 * f["test_error"], paper[1], "{:.2f}%"),
                paper_cell(f["lbfgs_distortion"], paper[2], "{:.3f}"),
                f"{100 * f['lbfgs_success']:.0f}%",
                f"{f['fgsm_distortion']:.3f}",
                f"{100 * f['fgsm_success']:.0f}%",
                f"{1000 * f['lbfgs_seconds_per_image']:.0f} ms",
            ]
        )
    header = ["model", "train error", "test error", "L-BFGS distortion", "success", "FGSM distortion", "success"]
    models_md = harness.format_markdown([*header, "L-BFGS time per image"], rows)
    cross_model_md = harness.format_markdown(
        ["examples made for", *CROSS_MODEL, "av. distortion"],
        [
            [row, *percent_cells(errors, PAPER_CROSS_MODEL.get(row)), f"{cross_model['distortion'][row]:.3f}"]
            for row, errors in cross_model["table"].items()
        ],
    )
    cross_training_md = harness.format_markdown(
        ["", *CROSS_TRAINING, "av. distortion"],
        [
            [row, *percent_cells(errors, PAPER_CROSS_TRAINING.get(row)), f"{cross_training['distortion'][row]:.3f}"]
            for row, errors in cross_training["table"].items()
        ],
    )
    return (
        f"Models (the paper's Table 1 in brackets; distortions of the attacked images)\n\n{models_md}\n\n"
        f"Cross-model generalisation: error of each column's model on each row's examples "
        f"({len(cross_model['images'])} training images; the paper's Table 2 in brackets)\n\n{cross_model_md}\n\n"
        f"Cross-training-set generalisation (test images; the paper's Table 3 in brackets)\n\n{cross_training_md}\n"
    )


PAPER_LENET_TEST_ERROR = 0.0094


def evolve(score, encoding, config, seed):
    """Runs MAP-Elites; returns `(search, first generation fooled per class, seconds)`."""
    search = ClassMapElites(encoding, score, batch=config.children, seed=seed)
    first_fooled = {}
    started = time.perf_counter()
    for _ in range(config.generations):
        search.step()
        _, confidence = search.champions()
        for c in np.flatnonzero(confidence >= config.confidence):
            first_fooled.setdefault(int(c), search.generation)
        if config.stop_when_all_fooled and len(first_fooled) == search.num_classes:
            break
    return search, first_fooled, time.perf_counter() - started
