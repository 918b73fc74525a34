"""Handwriting prediction (Graves 2013, section 4): a deep LSTM with a mixture
density head learns to continue online handwriting one pen offset at a time.

The network predicts each point `(dx, dy, end_of_stroke)` from the points
before it; quality is the negative log-likelihood in nats per sequence, the
paper's unit (-1026 on IAM-OnDB for 3 x 400 cells and 20 components).
Offline, the job learns synthetic handwriting from several "writers" drawn
with cursive Hershey fonts; `--data iam --data_path DIR` reads IAM-OnDB
(`DIR/lineStrokes/...xml`). Offsets are scaled to unit standard deviation with
training statistics. The export has `sample` (bias, seed, length per row ->
strokes) and `log_prob` (strokes -> nats per sequence) signatures.

    python -m train.handwriting --network prediction --config small
"""

import dataclasses
import glob
import os
import sys

import keras
import numpy as np
import tensorflow as tf

from keras_l11.data import handwriting as hw
from keras_l11.layers.mixture_density import MixtureDensityLoss, mixture_nll_direct
from keras_l11.models.handwriting import HandwritingPredictionNetwork
from keras_l11.training import harness
from keras_l11.training.config import TrainConfig
from keras_l11.training.export import Signature


@dataclasses.dataclass(frozen=True)
class HandwritingConfig(TrainConfig):
    units: int = 400
    num_layers: int = 3
    num_components: int = 20
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
    # The paper: 3 x 400 LSTM, 20 components, RMSProp (momentum 0.9, learning rate 1e-4), gradients clipped.
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
    g.add_argument("--network", choices=("prediction",), default="prediction")
    g.add_argument("--data_path", default=None, help="IAM-OnDB root (with lineStrokes/) for data=iam")


def load_sequences(config, data_path):
    """`(train, test)` lists of raw offset arrays `[N, 3]`."""
    if config.data == "synthetic":
        train = [o for o, _, _ in hw.synthetic_dataset(config.train_samples, config.num_writers, seed=0)]
        test = [o for o, _, _ in hw.synthetic_dataset(config.test_samples, config.num_writers, seed=1)]
        return train, test
    if config.data == "iam":
        files = sorted(glob.glob(os.path.join(data_path or "", "lineStrokes", "**", "*.xml"), recursive=True))
        if not files:
            raise FileNotFoundError(
                f"data=iam needs --data_path, the IAM-OnDB root with lineStrokes/ (got {data_path})"
            )
        sequences = [hw.to_offsets(hw.read_iam_strokes(f)) for f in files]
        cut = max(1, len(sequences) // 20)  # the last 5% of the lines held out
        return sequences[:-cut], sequences[-cut:]
    raise ValueError(f"data must be 'synthetic' or 'iam', got {config.data!r}")


def nats_per_sequence(model, sequences, max_length, batch_size=64):
    """Mean negative log-likelihood (nats) per held-out sequence and per point."""
    _, targets, weights = hw.padded_arrays(sequences, max_length)
    lengths = weights.sum(axis=1).astype(np.int32)
    log_prob = tf.function(model.log_prob)
    total = -sum(
        float(tf.reduce_sum(log_prob(targets[i : i + batch_size], lengths[i : i + batch_size])))
        for i in range(0, len(sequences), batch_size)
    )
    return total / len(sequences), total / lengths.sum()


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


def signatures(model, normaliser):
    """`sample` and `log_prob` on strokes in the data's own units."""
    scale = tf.constant(list(normaliser.scale) + [1.0], tf.float32)

    def sample(bias, seed, length):
        points = model.sample(tf.shape(bias)[0], tf.reduce_max(length), bias=bias, seed=seed)
        keep = tf.sequence_mask(length, tf.shape(points)[1])
        return {"strokes": points * scale, "lengths": tf.reduce_sum(tf.cast(keep, tf.int32), -1)}

    def log_prob(strokes, lengths):
        return {"nats": -model.log_prob(strokes / scale, lengths)}

    rows = lambda dtype: tf.TensorSpec([None], dtype)  # noqa: E731
    sample_signature = Signature(
        fn=sample, inputs={"bias": rows(tf.float32), "seed": rows(tf.int32), "length": rows(tf.int32)}
    )
    return {
        "serving_default": sample_signature,
        "sample": sample_signature,
        "log_prob": Signature(
            fn=log_prob,
            inputs={"strokes": tf.TensorSpec([None, None, 3], tf.float32), "lengths": rows(tf.int32)},
        ),
    }


def main(argv=None):
    flags = harness.parse_flags(__doc__.split("\n\n")[0], CONFIGS, add_job_flags, argv)
    flags.model_dir = flags.model_dir or os.path.join("runs", "handwriting", f"{flags.network}_{flags.config}")
    config = flags.train_config
    try:
        train, test = load_sequences(config, flags.data_path)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    normaliser = hw.Normaliser.fit(train)
    train, test = [normaliser.apply(s) for s in train], [normaliser.apply(s) for s in test]
    run = harness.start(flags, f"handwriting_{flags.network}")
    result = run.fit(
        build_model=lambda: HandwritingPredictionNetwork(config.units, config.num_layers, config.num_components),
        loss=MixtureDensityLoss(config.num_components),
        metrics=lambda: [],
        weighted_metrics=lambda: [
            keras.metrics.MeanMetricWrapper(
                lambda y, p: mixture_nll_direct(p, y, config.num_components), name="nats_per_point"
            )
        ],
        train_data=lambda batch, seed, start: hw.padded_dataset(
            train, config.max_length, batch, shuffle_seed=seed, repeat=True
        ).skip(start),
        eval_data=lambda batch: hw.padded_dataset(test, config.max_length, batch),
    )
    model = run.local_copy(result.model)
    per_sequence, per_point = nats_per_sequence(model, test, config.max_length)
    mean_length = float(np.mean([min(len(s), config.max_length) for s in test]))
    run.summary["evaluation"] = {
        "nll_nats_per_sequence": per_sequence,
        "nll_nats_per_point": per_point,
        "mean_points_per_sequence": mean_length,
        "independent_baseline_nats_per_point": independent_baseline(train, [t[: config.max_length] for t in test]),
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
    run.export(result.model, f"handwriting_{flags.network}", lambda local: signatures(local, normaliser))
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    harness.run_main(main)
