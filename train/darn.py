"""DARN: a deep autoregressive network on binarised MNIST (or your Atari frames).

Trains by minimising the description length (the variational bound) and
reports, on the test images, -log p(x) in nats estimated by importance
sampling with the encoder as the proposal, beside the bound and the paper's
figure; how the estimate tightens with the number of samples K; samples next
to real test images (`samples.png`).

The export `darn` has `log_prob` (`serving_default`): binary `images [B, H, W]`
uint8 (0 or 255) -> `nats` (importance-sampled -log p(x)) and `bound_nats`
(the description length averaged over the same samples); and `sample`:
`count`, `seed` -> `images [count, H, W]` uint8 (0 or 255) and
`probabilities` (each pixel's conditional probability).

    python -m train.darn --config small
    python -m train.darn --config paper_atari --frames path/to/png_frames
"""

import dataclasses
import math
import os

import numpy as np
import tensorflow as tf

from keras_l11 import figures
from keras_l11.generative import data as data
from keras_l11.generative.darn import DARN, description_length_loss
from keras_l11.ops.images import image_dataset
from keras_l11.training import harness
from keras_l11.training.config import TrainConfig
from keras_l11.training.export import Signature

# Gregor et al. 2014, binarised MNIST test set, -log p(x) in nats (their table; estimates).
PAPER_NATS = {"DARN, 500 hidden units": 84.71, "DARN, 500 hidden units, adaptive weight noise": 84.13}
MAX_SAMPLE_COUNT = 1024  # per `sample` request


@dataclasses.dataclass(frozen=True)
class DarnConfig(TrainConfig):
    """Attributes besides `TrainConfig`'s:

    data: "mnist" (binarised, 50k / 10k / 10k) or "frames" (PNG frames from `--frames`).
    frame_shape: `(height, width)` the frames are resized to before binarising.
    train_images: use the first N training images (0: all).
    test_images: evaluate on the first N test images (0: all).
    hidden, encoder_units, decoder_units, estimator, baseline_units: see `DARN`.
    eval_samples: K of the importance-sampled test -log p(x).
    convergence_samples: the K of the "estimate against K" table ...
    convergence_images: ... on this many test images.
    export_samples: K of the exported `log_prob`.
    """

    data: str = "mnist"
    frame_shape: tuple = (32, 32)
    train_images: int = 0
    test_images: int = 0
    hidden: tuple = (500,)
    encoder_units: tuple = ()
    decoder_units: tuple = ()
    estimator: str = "score_function"
    baseline_units: int = 100
    eval_samples: int = 100
    convergence_samples: tuple = (1, 10, 100, 1000)
    convergence_images: int = 500
    export_samples: int = 100


CONFIGS = {
    "smoke": DarnConfig(
        batch_size=64,
        steps=300,
        steps_per_epoch=100,
        learning_rate=3e-3,
        train_images=5000,
        test_images=500,
        hidden=(32,),
        eval_samples=20,
        convergence_samples=(1, 20),
        convergence_images=100,
        export_samples=20,
    ),
    "small": DarnConfig(batch_size=100, steps=20_000, steps_per_epoch=1000, learning_rate=1e-3, hidden=(500,)),
    # The paper's MNIST model: one stochastic layer of 500 units.
    "paper": DarnConfig(batch_size=100, steps=500_000, steps_per_epoch=5000, learning_rate=3e-4, hidden=(500,)),
    "paper_atari": DarnConfig(
        batch_size=100,
        steps=500_000,
        steps_per_epoch=5000,
        learning_rate=3e-4,
        data="frames",
        hidden=(500,),
        convergence_images=200,
    ),
}


def add_job_flags(parser):
    parser.add_argument("--frames", default=None, help="folder of PNG frames (the `frames` data, e.g. Atari screens)")


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


def binary_pixels(images):
    """uint8 images of 0 / 255 -> float32 {0, 1}; anything else is refused with a message."""
    binary = tf.reduce_all((images == 0) | (images == 255))
    check = tf.debugging.Assert(binary, ["images must be binary: every pixel 0 or 255 (binarise grey images first)"])
    with tf.control_dependencies([check]):
        return tf.cast(images, tf.float32) / 255.0


def darn_signatures(model, samples):
    """`log_prob` (also `serving_default`) and `sample` over uint8 images."""
    height, width = model.visible_shape

    def log_prob(images):
        log_w = model.importance_log_weights(binary_pixels(images), samples, tf.constant([0, 0]))
        estimate = tf.reduce_logsumexp(log_w, 1) - math.log(samples)
        return {"nats": -estimate, "bound_nats": -tf.reduce_mean(log_w, 1)}

    def sample(count, seed):
        check = tf.debugging.Assert(
            (count >= 1) & (count <= MAX_SAMPLE_COUNT), [f"count must be between 1 and {MAX_SAMPLE_COUNT}, got", count]
        )
        with tf.control_dependencies([check]):
            images, probabilities = model.sample(count, tf.stack([seed, 0]))
        return {"images": tf.cast(images * 255.0, tf.uint8), "probabilities": probabilities}

    scoring = Signature(log_prob, {"images": tf.TensorSpec([None, height, width], tf.uint8)})
    drawing = Signature(sample, {"count": tf.TensorSpec([], tf.int32), "seed": tf.TensorSpec([], tf.int32)})
    return {"serving_default": scoring, "log_prob": scoring, "sample": drawing}


def main(argv=None):
    flags = harness.parse_flags(__doc__.split("\n\n")[0], CONFIGS, add_job_flags, argv)
    config = flags.train_config
    with harness.exit_on_missing_data():
        train, valid, test = load_images(config, flags.frames)
    run = harness.start(flags, "darn")
    zeros = lambda images: np.zeros(len(images), np.float32)  # noqa: E731
    result = run.fit(
        build_model=lambda: DARN(
            train.shape[1:],
            config.hidden,
            config.encoder_units,
            config.decoder_units,
            config.estimator,
            config.baseline_units,
        ),
        loss=description_length_loss,
        metrics=lambda: [],
        train_data=lambda batch, seed, start: image_dataset(train, zeros(train), batch, seed).skip(start),
        eval_data=lambda batch: image_dataset(valid, zeros(valid), batch),
    )
    model = run.local_copy(result.model)

    nats, bounds = evaluate(model, test, config.eval_samples)
    sub = test[: config.convergence_images]
    convergence = {k: float(evaluate(model, sub, k, seed=1)[0].mean()) for k in config.convergence_samples}
    train_nats, _ = evaluate(model, train[: len(test)], config.eval_samples)
    run.summary["evaluation"] = {
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
    print(harness.format_table(["-log p(x), nats", "estimate", "bound (MDL)"], rows))
    print(
        harness.format_table(
            [f"K (first {len(sub)} test images)", "-log p(x) estimate"], [[k, v] for k, v in convergence.items()]
        )
    )
    if run.is_chief:
        images, probabilities = model.sample(32, seed=tf.constant([flags.seed, 1]))
        run.summary["samples_png"] = figures.plot_image_grids(
            {
                "DARN samples": images.numpy(),
                "their pixel probabilities": probabilities.numpy(),
                "test images": test[:32],
            },
            os.path.join(run.model_dir, "samples.png"),
        )
    run.export(result.model, "darn", lambda m: darn_signatures(m, config.export_samples))
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    harness.run_main(main)
