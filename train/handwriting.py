"""Handwriting prediction and synthesis (Graves 2013, sections 4 and 5): a deep
LSTM with a mixture density head learns online handwriting one pen offset at a
time; the synthesis network also reads the text through a soft window.

The networks predict each point `(dx, dy, end_of_stroke)` from the points
before it (and the text); quality is the negative log-likelihood in nats per
sequence, the paper's unit (IAM-OnDB: -1026 prediction, -1096.9 synthesis).
Offline, the job learns synthetic handwriting from several "writers" drawn with
cursive Hershey fonts; `--data iam --data_path DIR` reads IAM-OnDB
(`DIR/lineStrokes/...xml` and their transcripts in `DIR/ascii/...txt`).
Offsets are scaled to unit standard deviation with training statistics. The
synthesis network trains on whole lines only (a cut line no longer matches its
text): longer lines than `max_length` points are left out. The export's
signatures are described in `keras_l11.handwriting.task`.

    python -m train.handwriting --network prediction --config small
    python -m train.handwriting --network synthesis --config small
"""

import dataclasses
import sys

import keras
import numpy as np
import tensorflow as tf

from keras_l11.handwriting import data as hw
from keras_l11.handwriting.mixture_density import MixtureDensityLoss, mixture_nll_direct
from keras_l11.handwriting.prediction import HandwritingPredictionNetwork
from keras_l11.handwriting.synthesis import DEFAULT_ALPHABET, HandwritingSynthesisNetwork
from keras_l11.handwriting.task import handwriting_signatures
from keras_l11.training import harness
from keras_l11.training.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class HandwritingConfig(TrainConfig):
    units: int = 400
    num_layers: int = 3
    num_components: int = 20
    window_components: int = 10  # K, synthesis only
    max_length: int = 400  # points per training sequence (longer ones are cut)
    data: str = "synthetic"  # or "iam" (--data_path)
    train_samples: int = 4000  # synthetic lines
    test_samples: int = 200
    num_writers: int = 8


CONFIGS = {
    "smoke": HandwritingConfig(
        batch_size=16,
        steps=120,
        steps_per_epoch=40,
        learning_rate=5e-3,
        units=32,
        num_layers=1,
        num_components=5,
        window_components=3,
        max_length=120,
        train_samples=200,
        test_samples=32,
        num_writers=2,
    ),
    "small": HandwritingConfig(
        batch_size=32,
        steps=2000,
        steps_per_epoch=200,
        learning_rate=2e-3,
        clip_norm=5.0,
        units=128,
        num_layers=2,
        num_components=10,
        max_length=300,
    ),
    # The paper: 3 x 400 LSTM, 20 mixture and 10 window components, RMSProp (momentum 0.9,
    # learning rate 1e-4), gradients clipped.
    "paper": HandwritingConfig(
        batch_size=32,
        steps=200_000,
        steps_per_epoch=1000,
        learning_rate=1e-4,
        optimizer="rmsprop",
        clip_norm=10.0,
        max_length=700,
        data="iam",
    ),
}


def add_job_flags(parser):
    g = parser.add_argument_group("handwriting")
    g.add_argument("--network", choices=("prediction", "synthesis"), default="prediction")
    g.add_argument("--data_path", default=None, help="IAM-OnDB root (with lineStrokes/) for data=iam")


def load_lines(config, data_path):
    """`(train, test, alphabet)`: lists of `(offsets [N, 3], text)` and the
    characters the synthesis network gets a channel for."""
    if config.data == "synthetic":
        train = [(o, t) for o, t, _ in hw.synthetic_dataset(config.train_samples, config.num_writers, seed=0)]
        test = [(o, t) for o, t, _ in hw.synthetic_dataset(config.test_samples, config.num_writers, seed=1)]
        return train, test, hw.ALPHABET
    if config.data == "iam":
        lines, missing = hw.read_iam_lines(data_path or "")
        if not lines:
            raise FileNotFoundError(
                f"data=iam needs --data_path, the IAM-OnDB root with lineStrokes/ and ascii/ (got {data_path})"
            )
        if missing:
            print(f"IAM-OnDB: {missing} stroke files without a transcript left out", file=sys.stderr)
        cut = max(1, len(lines) // 20)  # the last 5% of the lines held out
        return lines[:-cut], lines[-cut:], DEFAULT_ALPHABET
    raise ValueError(f"data must be 'synthetic' or 'iam', got {config.data!r}")


def build_model(network, config, alphabet):
    if network == "prediction":
        return HandwritingPredictionNetwork(config.units, config.num_layers, config.num_components)
    return HandwritingSynthesisNetwork(
        config.units, config.num_layers, config.num_components, config.window_components, alphabet
    )


def log_prob_fn(model):
    """`(points, lengths, texts) -> nats` for either network (texts are strings)."""
    if isinstance(model, HandwritingSynthesisNetwork):
        return tf.function(lambda points, lengths, texts: model.log_prob(points, lengths, model.encode(texts)))
    return tf.function(lambda points, lengths, texts: model.log_prob(points, lengths))


def nats_per_sequence(model, lines, max_length, batch_size=64):
    """Mean negative log-likelihood (nats) per held-out line and per point."""
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


def main(argv=None):
    flags = harness.parse_flags(__doc__.split("\n\n")[0], CONFIGS, add_job_flags, argv)
    config = flags.train_config
    with harness.exit_on_missing_data():
        train, test, alphabet = load_lines(config, flags.data_path)
    if flags.network == "synthesis":
        train, test = ([(o, t) for o, t in lines if len(o) <= config.max_length] for lines in (train, test))
    normaliser = hw.Normaliser.fit([o for o, _ in train])
    train, test = ([(normaliser.apply(o), t) for o, t in lines] for lines in (train, test))
    texts = (lambda lines: [t for _, t in lines]) if flags.network == "synthesis" else (lambda lines: None)
    strokes = lambda lines: [o for o, _ in lines]  # noqa: E731
    run = harness.start(flags, "handwriting", variant=flags.network)
    result = run.fit(
        build_model=lambda: build_model(flags.network, config, alphabet),
        loss=MixtureDensityLoss(config.num_components),
        metrics=lambda: [],
        weighted_metrics=lambda: [
            keras.metrics.MeanMetricWrapper(
                lambda y, p: mixture_nll_direct(p, y, config.num_components), name="nats_per_point"
            )
        ],
        train_data=lambda batch, seed, start: hw.padded_dataset(
            strokes(train), config.max_length, batch, seed, True, texts(train), alphabet
        ).skip(start),
        eval_data=lambda batch: hw.padded_dataset(
            strokes(test), config.max_length, batch, texts=texts(test), alphabet=alphabet
        ),
    )
    model = run.local_copy(result.model)
    per_sequence, per_point = nats_per_sequence(model, test, config.max_length)
    mean_length = float(np.mean([min(len(o), config.max_length) for o, _ in test]))
    run.summary["evaluation"] = {
        "nll_nats_per_sequence": per_sequence,
        "nll_nats_per_point": per_point,
        "mean_points_per_sequence": mean_length,
        "independent_baseline_nats_per_point": independent_baseline(
            strokes(train), [o[: config.max_length] for o, _ in test]
        ),
        "offset_scale": list(normaliser.scale),
    }
    print(
        harness.format_table(
            ["held-out lines", "NLL nats/sequence", "NLL nats/point", "points/sequence", "baseline nats/point"],
            [
                [
                    len(test),
                    per_sequence,
                    per_point,
                    mean_length,
                    run.summary["evaluation"]["independent_baseline_nats_per_point"],
                ]
            ],
        )
    )
    run.export(
        result.model, f"handwriting_{flags.network}", lambda local: handwriting_signatures(local, normaliser.scale)
    )
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    harness.run_main(main)
