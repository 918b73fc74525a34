"""Handwriting: held-out likelihood of the `small` prediction and synthesis
networks beside Graves' (2013) figures, the training cost of the TFP mixture
density head against the same loss written directly in TensorFlow ops, and
in-graph sampling against Python loops that call the network once per point.

    python -m benchmarks.handwriting             # trains both small configs (about 35 min)
    python -m benchmarks.handwriting --reuse     # reads runs/benchmark/handwriting_*/summary.json if present
    python -m benchmarks.handwriting --skip_quality

Likelihoods are in nats per sequence (the paper's unit) and per point; the
offline data is synthetic handwriting (held-out lines of the same writers), the
paper's is IAM-OnDB, so the paper's figures are context, not targets.
"""

import tempfile
import time

import numpy as np

from benchmarks.common import best_steps_per_second, parser_with_run_flags, run_small, write_report
from keras_l11.training.harness import format_table

NETWORKS = [
    ("prediction", "-1026 nats/sequence, IAM-OnDB, 3x400 LSTM, M=20 (Graves 2013, Table 3)"),
    ("synthesis", "-1096.9 nats/sequence, IAM-OnDB, 3x400 LSTM, M=20, K=10 (Graves 2013, Table 4)"),
]


def quality(runs_dir, reuse):
    rows = []
    for network, paper in NETWORKS:
        summary = run_small("handwriting", runs_dir, reuse, f"handwriting_{network}", ["--network", network])
        ev = summary["evaluation"]
        rows.append(
            [
                network,
                f"{ev['nll_nats_per_sequence']:.1f}",
                f"{ev['nll_nats_per_point']:.3f}",
                f"{ev['mean_points_per_sequence']:.0f}",
                f"{ev['independent_baseline_nats_per_point']:.3f}",
                f"{summary['train_seconds']:.0f}",
                paper,
            ]
        )
    header = ["network (small)", "NLL nats/seq", "NLL nats/point", "points/seq", "baseline nats/point", "train s"]
    return format_table([*header, "paper"], rows)


def throughput(steps, rounds=3, units=128, num_layers=2, num_components=10, batch=32, max_length=300):
    """Training steps/s of the prediction network with the TFP loss and with
    `mixture_nll_direct` (plain TF ops), same model size, same data."""
    import keras

    from keras_l11.handwriting import data as hw
    from keras_l11.handwriting.mixture_density import MixtureDensityLoss, mixture_nll_direct
    from keras_l11.handwriting.prediction import HandwritingPredictionNetwork

    lines = [o for o, _, _ in hw.synthetic_dataset(512, seed=0)]
    normaliser = hw.Normaliser.fit(lines)
    data = hw.padded_dataset([normaliser.apply(o) for o in lines], max_length, batch, shuffle_seed=0, repeat=True)

    def model(loss):
        keras.utils.set_random_seed(0)
        m = HandwritingPredictionNetwork(units, num_layers, num_components)
        m.compile(keras.optimizers.Adam(1e-3, clipnorm=5.0), loss)
        return m

    tfp_rate, direct_rate = best_steps_per_second(
        [
            (model(MixtureDensityLoss(num_components)), data),
            (model(lambda y, p: mixture_nll_direct(p, y, num_components)), data),
        ],
        steps,
        rounds,
    )
    points = batch * max_length
    rows = [
        ["TFP head (MixtureDensityLoss)", f"{tfp_rate:.2f}", f"{tfp_rate * points:,.0f}"],
        ["loss in plain TF ops (mixture_nll_direct)", f"{direct_rate:.2f}", f"{direct_rate * points:,.0f}"],
        ["TFP step time / direct step time", f"{direct_rate / tfp_rate:.3f}", ""],
    ]
    title = f"{num_layers}x{units} LSTM, M={num_components}, batch {batch} x {max_length} points"
    return format_table([title, "steps/s", "points/s"], rows)


def sampling(length, units=128, num_layers=2, num_components=10):
    """Points/s of the exported `sample` signature and of Python loops that
    call the network per point, at the small config's size (speed does not
    depend on the weights), one line (batch 1)."""
    import tensorflow as tf

    from keras_l11.handwriting.export import handwriting_signatures
    from keras_l11.handwriting.mixture_density import mixture_parameters
    from keras_l11.handwriting.prediction import HandwritingPredictionNetwork
    from keras_l11.training.export import export_saved_model

    model = HandwritingPredictionNetwork(units, num_layers, num_components)
    model(tf.zeros([1, 1, 3]))
    with tempfile.TemporaryDirectory() as tmp:
        path = export_saved_model(model, tmp, handwriting_signatures(model, (1.0, 1.0)))
        signature = tf.saved_model.load(path).signatures["sample"]
        inputs = {"bias": tf.constant([0.0]), "seed": tf.constant([1]), "length": tf.constant([length])}
        signature(**inputs)  # warm-up
        graph_rate = 0.0
        for _ in range(3):  # best of 3, as the loops below time hundreds of calls
            started = time.perf_counter()
            signature(**inputs)
            graph_rate = max(graph_rate, length / (time.perf_counter() - started))

    rng = np.random.default_rng(1)

    def python_loop(step):
        """Points/s of a loop that calls `step` per point and draws the point in NumPy."""
        point, states = tf.constant([[0.0, 0.0, 1.0]]), model.initial_state(1)

        def once():
            nonlocal point, states
            params, states = step(point, states)
            q = {k: v.numpy()[0] for k, v in mixture_parameters(params, num_components).items()}
            weights = np.exp(q["logits"] - q["logits"].max())
            k = rng.choice(num_components, p=weights / weights.sum())
            (s1, s2), r = q["sigma"][k], q["rho"][k]
            xy = rng.multivariate_normal(q["mu"][k], [[s1 * s1, r * s1 * s2], [r * s1 * s2, s2 * s2]])
            eos = float(rng.random() < 1.0 / (1.0 + np.exp(-q["eos_logits"])))
            point = tf.constant([[xy[0], xy[1], eos]], tf.float32)

        for _ in range(3):
            once()  # warm-up
        started = time.perf_counter()
        for _ in range(length):
            once()
        return length / (time.perf_counter() - started)

    eager = python_loop(model.step)
    compiled = python_loop(tf.function(model.step))
    rows = [
        ["exported `sample` signature (one tf.while_loop)", f"{graph_rate:,.0f}", 1.0],
        ["Python loop: eager model.step + NumPy draw per point", f"{eager:,.1f}", graph_rate / eager],
        ["Python loop: tf.function step + NumPy draw per point", f"{compiled:,.0f}", graph_rate / compiled],
    ]
    return format_table([f"sampling {length} points, batch 1", "points/s", "signature speed-up"], rows)


def main(argv=None):
    parser = parser_with_run_flags(__doc__.split("\n\n")[0])
    parser.add_argument("--throughput_steps", type=int, default=20, help="steps per timed round (best of 3)")
    parser.add_argument("--sample_length", type=int, default=500)
    args = parser.parse_args(argv)

    sections = []
    if not args.skip_quality:
        title = "Held-out likelihood of the small configs (synthetic handwriting; the paper: IAM-OnDB)"
        sections.append((title, quality(args.runs_dir, args.reuse)))
    title = "Training throughput, TFP mixture density head vs the same loss in plain TF (target: <= 1.10)"
    sections.append((title, throughput(args.throughput_steps)))
    sections.append(("Sampling speed (target: >= 20x a Python loop)", sampling(args.sample_length)))
    write_report("handwriting", sections)


if __name__ == "__main__":
    main()
