"""Handwriting prediction and synthesis (Graves 2013, sections 4 and 5): a deep
LSTM with a mixture density head learns online handwriting one pen offset at a
time; the synthesis network also reads the text through a soft window.

The networks predict each point `(dx, dy, end_of_stroke)` from the points
before it (and the text); quality is the negative log-likelihood in nats per
held-out line, the paper's unit, over whole lines. Offline, the job learns
synthetic handwriting from several "writers" drawn with cursive Hershey fonts;
`--config paper --data_path DIR` reads IAM-OnDB (`DIR/lineStrokes/...xml`, the
transcripts in `DIR/ascii/...txt` and the task's split lists `DIR/trainset.txt`,
`testset_v.txt`, `testset_t.txt`, `testset_f.txt`) and, as the paper, trains on the
training set, the test set and the second validation set, scores the first
validation set, and prints the paper's row beside ours (Table 3: -1025.7 nats for
1 x 400, -1041.0 for 3 x 400; Table 4: -1096.9 for synthesis; both without
weight noise). Offsets are scaled to unit standard deviation with training
statistics. The synthesis network trains on whole lines only (a cut line no
longer matches its text): longer lines than `max_length` points are left out of
training. The export's signatures are described in `keras_l11.handwriting.task`.

    python -m train.handwriting --network prediction --config small
    python -m train.handwriting --network synthesis --config small
"""

from keras_l11.handwriting.configs import CONFIGS, build_handwriting_network
from keras_l11.training import cli

# Graves (2013) on IAM-OnDB's first validation set, nats per line, without weight noise.
PAPER_ROWS = {
    ("prediction", 1): ("paper, Table 3, 1 layer, no regularisation", -1025.7),
    ("prediction", 3): ("paper, Table 3, 3 layers, no regularisation", -1041.0),
    ("synthesis", 3): ("paper, Table 4, synthesis, no regularisation", -1096.9),
}


def paper_row(network, config):
    """`(label, nats)` of the paper's row for this network and depth, or None."""
    return PAPER_ROWS.get((network, config.model.num_layers)) if config.model.units == 400 else None


def add_job_flags(parser):
    g = parser.add_argument_group("handwriting")
    g.add_argument("--network", choices=("prediction", "synthesis"), default="prediction")
    g.add_argument("--data_path", default=None, help="IAM-OnDB root (with lineStrokes/) for data=iam")


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, CONFIGS, add_job_flags, argv)
    import keras
    import numpy as np

    from keras_l11.handwriting import data as hw
    from keras_l11.handwriting.export import handwriting_signatures
    from keras_l11.handwriting.mixture_density import MixtureDensityLoss, mixture_nll_direct
    from keras_l11.handwriting.task import held_out_nats, independent_baseline, load_lines
    from keras_l11.training import harness

    config = flags.train_config
    with harness.exit_on_missing_data():
        train, test, alphabet = load_lines(config, flags.data_path)
    if flags.network == "synthesis" and config.max_length:  # training lines only: every held-out line is scored
        train = [(o, t) for o, t in train if len(o) <= config.max_length]
    normaliser = hw.Normaliser.fit([o for o, _ in train])
    train, test = ([(normaliser.apply(o), t) for o, t in lines] for lines in (train, test))
    texts = (lambda lines: [t for _, t in lines]) if flags.network == "synthesis" else (lambda lines: None)
    strokes = lambda lines: [o for o, _ in lines]  # noqa: E731
    run = harness.start(flags, "handwriting", variant=flags.network)
    result = run.fit(
        build_model=lambda: build_handwriting_network(flags.network, config, alphabet),
        loss=MixtureDensityLoss(config.model.num_components),
        metrics=lambda: [],
        weighted_metrics=lambda: [
            keras.metrics.MeanMetricWrapper(
                lambda y, p: mixture_nll_direct(p, y, config.model.num_components), name="nats_per_point"
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
    per_sequence, per_point = held_out_nats(model, test)  # whole lines
    mean_length = float(np.mean([len(o) for o, _ in test]))
    run.summary["evaluation"] = {
        "nll_nats_per_sequence": per_sequence,
        "nll_nats_per_point": per_point,
        "mean_points_per_sequence": mean_length,
        "independent_baseline_nats_per_point": independent_baseline(strokes(train), strokes(test)),
        "offset_scale": list(normaliser.scale),
    }
    rows = [
        [
            f"ours, {len(test)} held-out lines",
            per_sequence,
            per_point,
            mean_length,
            run.summary["evaluation"]["independent_baseline_nats_per_point"],
        ]
    ]
    paper = paper_row(flags.network, config) if config.data == "iam" else None
    if paper:
        rows.append([paper[0], paper[1], "-", "-", "-"])
    print(f"\n{flags.network.capitalize()} network, whole held-out lines (negative log-likelihood, lower is better):")
    print(
        harness.format_table(
            ["", "NLL nats/sequence", "NLL nats/point", "points/sequence", "baseline nats/point"], rows
        )
    )
    run.export(
        result.model, f"handwriting_{flags.network}", lambda local: handwriting_signatures(local, normaliser.scale)
    )
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    cli.run_main(main)
