"""DARN with the paper's MNIST model (one stochastic layer of 500 units) trained
for as long as the budget allows, against the paper's 84.71 nats (Gregor et al.
2014, Table 1, "DARN, nh = 500").

Prints the test -log p(x) in nats (importance-sampled with the encoder as the
proposal) against training time, writes the curve to
`docs/generative/darn_curve.png`, and at the end of a part the estimate on the
whole test set with a K large enough to have converged (the table of the
estimate against K shows it).

Two variants of the model, both with one stochastic layer of 500 units
(`--variant`): `linear`, whose encoder and decoder are single linear maps (the
`small` and `paper` configs of `train.darn`), and `mlp500`, with a deterministic
tanh layer of 500 units in the encoder, in the decoder's context network and in
the score-function baseline.

Two more test why `linear` stops short (see `diagnose`): `linear_dynamic` is
`linear` trained on a fresh binarisation of the grey training images in every batch
(the test set stays the fixed binary one), against overfitting the fixed set;
`linear_straight_through` trains the encoder with the straight-through estimator
instead of the score function, against an encoder that learns too slowly for the
hidden layer to carry much.
`mlp500_dynamic` is `mlp500` on a fresh binarisation in every batch: the larger
networks without the overfitting.

Training runs in parts that continue each other: `--minutes` is this part's
budget; weights and optimiser state are kept in `--work_dir/<variant>`, the
curves of both variants in `--results`. The learning rate decays from `--learning_rate` to
`--final_learning_rate` over `--total_minutes` of training (geometrically),
so two parts of 60 minutes give the same run as one of 120.

    python -m benchmarks.darn_paper --variant mlp500 --minutes 60   # a part; continue with the same command
    python -m benchmarks.darn_paper --variant linear --minutes 0    # only the final evaluation and the table
"""

import argparse
import json
import math
import os
import time

import numpy as np

from benchmarks.common import RESULTS, ROOT

PAPER = 84.71  # Table 1 of Gregor et al. (2014): DARN, 500 hidden units, binarised MNIST test set
VARIANTS = {
    "linear": {"hidden": (500,)},
    "mlp500": {"hidden": (500,), "encoder_units": (500,), "decoder_units": (500,), "baseline_units": 500},
    "linear_dynamic": {"hidden": (500,)},
    "linear_straight_through": {"hidden": (500,), "estimator": "straight_through"},
    "mlp500_dynamic": {"hidden": (500,), "encoder_units": (500,), "decoder_units": (500,), "baseline_units": 500},
}
# Variants that train on a fresh binarisation of the grey training images in every
# batch instead of the fixed binary set (the test set stays the fixed one).
DYNAMIC = {"linear_dynamic", "mlp500_dynamic"}


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="linear")
    parser.add_argument("--minutes", type=float, default=60.0, help="training budget of this part")
    parser.add_argument("--total_minutes", type=float, default=240.0, help="the whole run's planned budget")
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--final_learning_rate", type=float, default=1e-4)
    parser.add_argument("--batch_size", type=int, default=100)
    parser.add_argument("--eval_minutes", type=float, default=10.0, help="a curve point every this many minutes")
    parser.add_argument("--curve_images", type=int, default=1000, help="test images per curve point")
    parser.add_argument("--curve_samples", type=int, default=100, help="K per curve point")
    parser.add_argument("--final_samples", type=int, default=1000, help="K of the whole-test-set estimate")
    parser.add_argument(
        "--final",
        choices=("full", "diagnosis"),
        default="full",
        help="at the end of a part: the whole test set at --final_samples and the estimate against K, "
        "or only the diagnosis (train against test, the bound's parts)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work_dir", default=os.path.join(ROOT, "runs", "benchmark", "darn_paper"))
    parser.add_argument("--results", default=os.path.join(RESULTS, "darn_paper.json"))
    return parser.parse_args(argv)


def learning_rate(settings, seconds):
    """The rate after `seconds` of training, from the run's first settings (so a part
    started with other flags continues the same schedule)."""
    fraction = min(seconds / (settings["total_minutes"] * 60.0), 1.0)
    return settings["learning_rate"] * (settings["final_learning_rate"] / settings["learning_rate"]) ** fraction


def diagnose(model, train, test, evaluate, images=1000, samples=100, draws=20):
    """Where the nats go: the estimate on training images beside test images
    (over- or under-fitting), and the test bound split into the pixels' part
    -log p(x | h) and the hidden layer's KL from the encoder to the prior."""
    import tensorflow as tf

    parts = tf.function(lambda x, s: model.description_length_parts(x, s))
    pixels, latent = [], []
    for start in range(0, images, 100):
        x = np.repeat(test[start : start + 100], draws, axis=0)
        p, k = parts(x, tf.constant([13, start], tf.int32))
        pixels.append(p.numpy().mean())
        latent.append(k.numpy().mean())
    return {
        "images": images,
        "samples": samples,
        "train_nats": float(evaluate(model, train[:images], samples, seed=5)[0].mean()),
        "test_nats": float(evaluate(model, test[:images], samples, seed=5)[0].mean()),
        "pixels_nats": float(np.mean(pixels)),
        "kl_nats": float(np.mean(latent)),
    }


def report(everything):
    from keras_l11.training.harness import format_table

    lines = []
    for variant, results in everything.items():
        lines += [
            f"DARN '{variant}' ({VARIANTS[variant]}), binarised MNIST (50,000 training images"
            f"{', binarised afresh in every batch' if variant in DYNAMIC else ''}, batch "
            f"{results['batch_size']}, Adam {results['learning_rate']:g} -> {results['final_learning_rate']:g} over "
            f"{results['total_minutes']:g} min)",
            f"Test -log p(x) against training time (first {results['curve_images']} test images, "
            f"K={results['curve_samples']})",
            format_table(
                ["minutes", "steps", "epochs", "-log p(x), nats", "bound, nats"],
                [
                    [
                        f"{p['minutes']:.0f}",
                        p["steps"],
                        f"{p['steps'] * results['batch_size'] / 50_000:.0f}",
                        p["nats"],
                        p["bound"],
                    ]
                    for p in results["curve"]
                ],
            ),
        ]
        final = results.get("final")
        if final:
            lines += [
                "",
                f"Whole test set (10,000 images) after {final['minutes']:.0f} minutes ({final['steps']} steps)",
                format_table(
                    ["", "-log p(x), nats", "standard error"],
                    [
                        [f"ours ({variant}), K={final['samples']}", final["nats"], final["stderr"]],
                        ["paper: Table 1, DARN nh=500", PAPER, ""],
                        ["gap to the paper", final["nats"] - PAPER, ""],
                    ],
                ),
                f"The estimate against K (first {final['k_images']} test images)",
                format_table(["K", "-log p(x), nats"], [[k, v] for k, v in final["by_samples"].items()]),
            ]
        d = results.get("diagnosis")
        if d:
            lines += [
                f"Where the nats go (first {d['images']} training and test images, K={d['samples']})",
                format_table(
                    ["", "nats"],
                    [
                        ["-log p(x), training images", d["train_nats"]],
                        ["-log p(x), test images", d["test_nats"]],
                        ["bound on test: pixels given h, E_q[-log p(x | h)]", d["pixels_nats"]],
                        ["bound on test: hidden layer, KL(q(h | x) || p(h))", d["kl_nats"]],
                    ],
                ),
            ]
        lines.append("")
    return "\n".join(lines).rstrip()


def plot(everything, path):
    from keras_l11.figures import plt

    fig, ax = plt.subplots(figsize=(8.6, 3.8))
    top = PAPER + 10
    for i, (variant, results) in enumerate(everything.items()):
        curve = results["curve"][1:]  # the untrained model's point is off the scale
        minutes = [p["minutes"] for p in curve]
        ax.plot(minutes, [p["nats"] for p in curve], "o-", color=f"C{i}", label=f"{variant}: -log p(x), K=100")
        ax.plot(minutes, [p["bound"] for p in curve], "--", color=f"C{i}", alpha=0.5, label=f"{variant}: bound")
        top = max(top, *(p["bound"] for p in curve[len(curve) // 3 :]))
    ax.axhline(PAPER, color="black", label="paper, Table 1 (84.71)")
    ax.axhline(PAPER + 1.5, color="black", linestyle=":", label="target: paper + 1.5")
    ax.set_xlabel("training minutes (2-core CPU, shared)")
    ax.set_ylabel("test nats per image")
    ax.set_ylim(PAPER - 2, top + 1)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the curves, not on them
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parse(argv)
    import keras
    import tensorflow as tf

    from keras_l11.data.mnist import grey_mnist
    from keras_l11.generative.configs import DARNModelConfig
    from keras_l11.generative.data import binarized_mnist
    from keras_l11.generative.task import evaluate

    everything = {}
    if os.path.exists(args.results):
        with open(args.results) as f:
            everything = json.load(f)
    results = everything.setdefault(args.variant, {"curve": []})
    for key in ("batch_size", "learning_rate", "final_learning_rate", "total_minutes", "curve_images", "curve_samples"):
        results.setdefault(key, getattr(args, key))

    keras.utils.set_random_seed(args.seed)
    model = DARNModelConfig(**VARIANTS[args.variant]).build((28, 28))
    optimizer = keras.optimizers.Adam(args.learning_rate)
    optimizer.build(model.trainable_variables)
    trained = tf.Variable(0.0, dtype=tf.float64)  # training seconds so far
    step = tf.Variable(0, dtype=tf.int64)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, trained=trained, step=step)
    manager = tf.train.CheckpointManager(checkpoint, os.path.join(args.work_dir, args.variant), max_to_keep=2)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        print(f"continuing from {manager.latest_checkpoint}: {trained.numpy() / 60:.1f} min, {int(step.numpy())} steps")
    elif results["curve"]:
        raise SystemExit(f"{args.results} has a '{args.variant}' curve but {args.work_dir} no checkpoint of it")

    train = binarized_mnist("train")
    test = binarized_mnist("test")
    images = grey_mnist("train") if args.variant in DYNAMIC else train
    batches = (
        tf.data.Dataset.from_tensor_slices(images)
        .shuffle(len(images), seed=args.seed + int(step.numpy()))
        .repeat()
        .batch(args.batch_size, drop_remainder=True)
    )
    if args.variant in DYNAMIC:
        seeds = tf.data.Dataset.counter(int(step.numpy())).map(lambda i: tf.stack([tf.cast(args.seed, tf.int64), i]))
        batches = tf.data.Dataset.zip(batches, seeds).map(
            lambda grey, s: tf.cast(tf.random.stateless_uniform(tf.shape(grey), s) < grey, tf.float32)
        )
    data = iter(batches.prefetch(4))

    @tf.function
    def train_step(images):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(model(images, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    def save():
        with open(args.results, "w") as f:
            json.dump(everything, f, indent=2)

    def curve_point():
        nats, bounds = evaluate(model, test[: results["curve_images"]], results["curve_samples"])
        point = {"minutes": float(trained.numpy()) / 60, "steps": int(step.numpy()), "nats": float(nats.mean()),
                 "bound": float(bounds.mean())}  # fmt: skip
        results["curve"].append(point)
        print(point, flush=True)
        save()

    if not results["curve"]:
        curve_point()
    budget, started = args.minutes * 60.0, time.perf_counter()
    next_eval = (math.floor(trained.numpy() / 60 / args.eval_minutes) + 1) * args.eval_minutes * 60
    while time.perf_counter() - started < budget:
        tick = time.perf_counter()
        optimizer.learning_rate.assign(learning_rate(results, trained.numpy()))
        for _ in range(100):
            train_step(next(data))
        step.assign_add(100)
        trained.assign_add(time.perf_counter() - tick)
        if trained.numpy() >= next_eval:
            manager.save()
            curve_point()
            next_eval += args.eval_minutes * 60
    manager.save()
    if results["curve"][-1]["steps"] != int(step.numpy()):
        curve_point()

    results["diagnosis"] = diagnose(model, train, test, evaluate)
    if args.final == "full":
        final(model, test, args, results, trained, step, evaluate)
    save()
    plot(everything, os.path.join(ROOT, "docs", "generative", "darn_curve.png"))
    text = report(everything)
    with open(os.path.join(RESULTS, "darn_paper.txt"), "w") as f:
        f.write(text + "\n")
    print(text)


def final(model, test, args, results, trained, step, evaluate):
    """The whole test set at K = `--final_samples`, and the estimate against K."""
    nats, _ = evaluate(model, test, args.final_samples, seed=7)
    subset = test[:500]
    by_samples = {str(k): float(evaluate(model, subset, k, seed=11)[0].mean()) for k in (1, 10, 100, 1000, 5000)}
    results["final"] = {
        "minutes": float(trained.numpy()) / 60,
        "steps": int(step.numpy()),
        "samples": args.final_samples,
        "nats": float(nats.mean()),
        "stderr": float(nats.std() / math.sqrt(len(nats))),
        "k_images": len(subset),
        "by_samples": by_samples,
    }


if __name__ == "__main__":
    main()
