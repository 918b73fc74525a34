"""What the generative jobs share: their data and evaluation protocols."""

import math

import keras
import numpy as np
import tensorflow as tf

from keras_l11.generative import data
from keras_l11.training.harness import format_table

# Gregor et al. 2014, binarised MNIST test set, -log p(x) in nats (their table; estimates).
PAPER_NATS = {"DARN, 500 hidden units": 84.71, "DARN, 500 hidden units, adaptive weight noise": 84.13}


def load_images(config, frames=None):
    """`(train, valid, test)` binary float32 images `[N, H, W]` of the config's data."""
    limit = lambda images, n: images[:n] if n else images  # noqa: E731
    if config.data == "mnist":
        return (
            limit(data.binarized_mnist("train"), config.train_images),
            data.binarized_mnist("valid", limit=2000 if config.train_images else None),
            limit(data.binarized_mnist("test"), config.test_images),
        )
    if config.data == "frames":
        if not frames:
            raise FileNotFoundError("the frames data needs --frames DIR, a folder of PNG frames")
        images = data.png_frames(frames, *config.frame_shape)
        cut = [int(len(images) * 0.8), int(len(images) * 0.9)]
        if min(cut[0], cut[1] - cut[0], len(images) - cut[1]) < 1:
            raise ValueError(f"{frames!r} has {len(images)} frames; at least 10 are needed (80/10/10 split)")
        train, valid, test = np.split(images, cut)
        return limit(train, config.train_images), valid, limit(test, config.test_images)
    raise ValueError(f"data must be 'mnist' or 'frames', got {config.data!r}")


def evaluate(model, images, samples, batch=None, seed=0):
    """Per image: importance-sampled -log p(x) and the mean description length
    over the same K samples, in nats (numpy `[N]` each)."""
    batch = batch or max(1, 20_000 // samples)
    weights = tf.function(lambda x, s: model.importance_log_weights(x, samples, s), reduce_retracing=True)
    nats, bounds = [], []
    for start in range(0, len(images), batch):
        log_w = weights(images[start : start + batch], tf.constant([seed, start], tf.int32)).numpy()
        peak = log_w.max(1, keepdims=True)
        nats.append(-(peak[:, 0] + np.log(np.exp(log_w - peak).mean(1))))
        bounds.append(-log_w.mean(1))
    return np.concatenate(nats), np.concatenate(bounds)


def darn_report(model, train, test, config):
    """The DARN job's protocol: the test -log p(x) (K = `eval_samples`, importance
    sampling with the encoder as proposal) beside the bound, the train estimate and
    the paper's figures, and the estimate against K; prints both tables and returns
    the figures for `summary.json`."""
    nats, bounds = evaluate(model, test, config.eval_samples)
    sub = test[: config.convergence_images]
    convergence = {k: float(evaluate(model, sub, k, seed=1)[0].mean()) for k in config.convergence_samples}
    train_nats, _ = evaluate(model, train[: len(test)], config.eval_samples)
    evaluation = {
        "test_nats": float(nats.mean()),
        "test_nats_stderr": float(nats.std() / math.sqrt(len(nats))),
        "test_bound_nats": float(bounds.mean()),
        "train_nats": float(train_nats.mean()),
        "samples": config.eval_samples,
        "test_images": len(test),
        "nats_by_samples": {str(k): v for k, v in convergence.items()},
        "paper_nats": PAPER_NATS if config.data == "mnist" else None,
    }
    rows = [
        [f"test, K={config.eval_samples}", float(nats.mean()), float(bounds.mean())],
        [f"train (first {len(test)}), K={config.eval_samples}", float(train_nats.mean()), ""],
    ]
    rows += [[name, value, ""] for name, value in PAPER_NATS.items()] if config.data == "mnist" else []
    print(format_table(["-log p(x), nats", "estimate", "bound (MDL)"], rows))
    print(
        format_table(
            [f"K (first {len(sub)} test images)", "-log p(x) estimate"], [[k, v] for k, v in convergence.items()]
        )
    )
    return evaluation


PLANE = (-1.2, 1.2, -1.2, 1.2)  # the energy picture's extent: x0, x1, y0, y1


def evaluation_sets(config, train):
    """Name -> grey images `[N, 28, 28]` of each set the error is reported on."""
    n = config.eval_images
    return {
        "train digits": train[:n],
        "held-out digits": data.grey_mnist("test")[:n],
        "Fashion-MNIST": data.fashion_mnist("test")[:n],
        "uniform noise": data.noise_images(min(n, 1000), seed=7),
    }


def reconstruction_errors(model, sets, mean_image):
    """Per set: the model's mean squared error per pixel, and that of the mean image."""
    energy = tf.function(model.energy)
    pixels = float(model.input_dim)
    result = {}
    for name, images in sets.items():
        errors = np.concatenate([energy(images[i : i + 1000]).numpy() for i in range(0, len(images), 1000)])
        constant = float(np.mean((images - mean_image) ** 2))
        result[name] = {"error": float(errors.mean() / pixels), "mean_image_error": constant}
    return result


def train_toy(config, code, seed):
    """The 2-D variant trained on points near a curve: `(model, points)`."""
    keras.utils.set_random_seed(seed)
    points = data.curve_points(config.toy_points, seed=seed)
    model = config.toy.build(2, code)
    model.compile(keras.optimizers.Adam(config.toy_learning_rate), "mse")
    ds = tf.data.Dataset.from_tensor_slices((points, points)).shuffle(len(points), seed=seed).repeat().batch(100)
    model.fit(ds, steps_per_epoch=config.toy_steps, epochs=1, verbose=0)
    return model, points


def energy_grid(model, size):
    """The energy `[size, size]` over `PLANE` (rows: y, bottom first)."""
    xs = np.linspace(PLANE[0], PLANE[1], size, dtype=np.float32)
    ys = np.linspace(PLANE[2], PLANE[3], size, dtype=np.float32)
    plane = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    return model.energy(plane).numpy().reshape(size, size)
