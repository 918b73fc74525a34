"""DARN and the limited-code autoencoders: DARN's test -log p(x) in nats on
binarised MNIST beside the paper's, and how the estimate tightens with the
number of importance samples; the reconstruction error of each autoencoder
on training digits, held-out digits and non-digits, and the energy of its
2-D twin on and off the curve; the energy pictures side by side
(`docs/generative/energy.png`) and DARN's samples (`docs/generative/darn_samples.png`);
samples and scored images per second through the exported signatures.

    python -m benchmarks.generative            # trains the five small runs first (about 15 min)
    python -m benchmarks.generative --reuse    # reads their runs/benchmark/*/summary.json if present
"""

import os
import shutil
import time

import numpy as np

from benchmarks.common import ROOT, parser_with_run_flags, run_small, write_report
from keras_l11.training.harness import format_table

CODES = ("none", "bottleneck", "sparse", "denoising")
SETS = ("train digits", "held-out digits", "Fashion-MNIST", "uniform noise")
DOCS = os.path.join(ROOT, "docs", "generative")


def darn_tables(summary):
    ev = summary["evaluation"]
    k = ev["samples"]
    rows = [
        [f"ours, small config, test (K={k}, {ev['test_images']} images)", ev["test_nats"], ev["test_bound_nats"]],
        [f"ours, small config, train (K={k})", ev["train_nats"], ""],
    ]
    rows += [[f"paper: {name}", nats, ""] for name, nats in ev["paper_nats"].items()]
    nats = format_table(["binarised MNIST", "-log p(x), nats", "bound (MDL), nats"], rows)
    convergence = format_table(
        ["importance samples K", "-log p(x) estimate, nats"], [[int(k), v] for k, v in ev["nats_by_samples"].items()]
    )
    return nats, convergence


def reconstruction_table(summaries):
    rows = []
    for code in CODES:
        ev = summaries[code]["evaluation"]
        rows.append([code, *(ev["reconstruction"][s]["error"] for s in SETS), *ev["toy_energy"].values()])
    mean = summaries[CODES[0]]["evaluation"]["reconstruction"]
    rows.append(["(the mean training digit)", *(mean[s]["mean_image_error"] for s in SETS), "", ""])
    header = ["code", *SETS, "2-D: curve points", "2-D: uniform points"]
    return format_table(header, rows)


def energy_figure(summaries):
    from keras_l11.generative import figures

    maps = {}
    for code in CODES:
        with np.load(os.path.join(os.path.dirname(summaries[code]["energy_png"]), "energy.npz")) as saved:
            maps[code], points, extent = saved["energy"], saved["points"], tuple(saved["extent"])
    os.makedirs(DOCS, exist_ok=True)
    return figures.plot_energy_maps(maps, extent, points[:500], os.path.join(DOCS, "energy.png"))


def best_seconds(fn, rounds):
    fn()  # trace and warm up
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def signature_speed(export, rounds=3):
    """Samples/s of the exported `sample` and images/s of `log_prob` (in process)."""
    import tensorflow as tf

    from keras_l11.generative.data import binarized_mnist
    from keras_l11.serving.sources import saved_signature

    sample, log_prob = saved_signature(export, "sample"), saved_signature(export, "log_prob")
    rows = []
    for count in (1, 16, 128):
        seconds = best_seconds(lambda c=count: sample(count=tf.constant(c), seed=tf.constant(1)), rounds)
        rows.append(["sample", count, count / seconds, 1000 * seconds])
    for count in (1, 16, 128):
        images = tf.constant((binarized_mnist("test", count) * 255).astype(np.uint8))
        seconds = best_seconds(lambda x=images: log_prob(images=x), rounds)
        rows.append(["log_prob (K=100)", count, count / seconds, 1000 * seconds])
    return format_table(["signature", "batch", "images/s", "ms per call"], rows)


def main(argv=None):
    parser = parser_with_run_flags(__doc__.split("\n\n")[0])
    args = parser.parse_args(argv)
    darn = run_small("darn", args.runs_dir, args.reuse)
    autoencoders = {
        code: run_small("autoencoder", args.runs_dir, args.reuse, f"autoencoder_{code}", ["--code", code])
        for code in CODES
    }
    os.makedirs(DOCS, exist_ok=True)
    shutil.copy(darn["samples_png"], os.path.join(DOCS, "darn_samples.png"))
    energy_figure(autoencoders)
    nats, convergence = darn_tables(darn)
    write_report(
        "generative",
        [
            ("DARN on binarised MNIST (ours: importance-sampled with the encoder; the paper: its estimates)", nats),
            ("The estimate against the number of importance samples (first 500 test images)", convergence),
            (
                "Autoencoders, mean squared error per pixel (MNIST) and per point (2-D curve); small config",
                reconstruction_table(autoencoders),
            ),
            ("DARN's exported signatures (2 CPU cores)", signature_speed(darn["export"])),
        ],
    )


if __name__ == "__main__":
    main()
