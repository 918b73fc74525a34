"""What the handwriting job and its benchmark share: the data, the held-out likelihood and the history-free baseline."""

import sys

import numpy as np
import tensorflow as tf

from keras_l11.handwriting import data as hw
from keras_l11.handwriting.synthesis import DEFAULT_ALPHABET, HandwritingSynthesisNetwork


def load_lines(config, data_path):
    """`(train, test, alphabet)`: lists of `(offsets [N, 3], text)` and the
    characters the synthesis network gets a channel for."""
    if config.data == "synthetic":
        train = [(o, t) for o, t, _ in hw.synthetic_dataset(config.train_samples, config.num_writers, seed=0)]
        test = [(o, t) for o, t, _ in hw.synthetic_dataset(config.test_samples, config.num_writers, seed=1)]
        return train, test, hw.ALPHABET
    if config.data == "iam":
        if not data_path:
            raise FileNotFoundError("data=iam needs --data_path, the IAM-OnDB root with lineStrokes/ and ascii/")
        train, test, missing = hw.graves_split(data_path)
        if not train or not test:
            raise FileNotFoundError(
                f"{data_path}: no lines of the split's forms under lineStrokes/ with transcripts in ascii/"
            )
        if missing:
            print(f"IAM-OnDB: {missing} stroke files without a transcript left out", file=sys.stderr)
        return train, test, DEFAULT_ALPHABET
    raise ValueError(f"data must be 'synthetic' or 'iam', got {config.data!r}")


def log_prob_fn(model):
    """`(points, lengths, texts) -> nats` for either network (texts are strings)."""
    if isinstance(model, HandwritingSynthesisNetwork):
        return tf.function(lambda points, lengths, texts: model.log_prob(points, lengths, model.encode(texts)))
    return tf.function(lambda points, lengths, texts: model.log_prob(points, lengths))


def held_out_nats(model, lines, max_length=0, batch_size=64):
    """Mean negative log-likelihood (nats) per held-out line and per point, over
    each line's first `max_length` points (0: the whole line, the paper's unit)."""
    _, targets, weights = hw.padded_arrays([o for o, _ in lines], max_length)
    lengths = weights.sum(axis=1).astype(np.int32)
    texts = tf.constant([t for _, t in lines])
    log_prob = log_prob_fn(model)
    total = -sum(
        float(
            tf.reduce_sum(log_prob(targets[i : i + batch_size], lengths[i : i + batch_size], texts[i : i + batch_size]))
        )
        for i in range(0, len(lines), batch_size)
    )
    return total / len(lines), total / lengths.sum()


def independent_baseline(train, test):
    """Nats per point of the test points under one Gaussian (the training
    offsets' mean and covariance) and one end-of-stroke rate: what a model
    that ignores the pen's history gets."""
    offsets = np.concatenate(train)
    mean, cov = offsets[:, :2].mean(0), np.cov(offsets[:, :2].T)
    rate = offsets[:, 2].mean()
    points = np.concatenate(test)
    d = points[:, :2] - mean
    gauss = -0.5 * np.einsum("ni,ij,nj->n", d, np.linalg.inv(cov), d) - np.log(2 * np.pi * np.sqrt(np.linalg.det(cov)))
    bern = np.where(points[:, 2] == 1, np.log(rate), np.log1p(-rate))
    return float(-(gauss + bern).mean())
