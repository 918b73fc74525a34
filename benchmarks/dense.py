"""Dense prediction: FCN-32s, -16s and -8s (staged, each from the previous) on
the offline digit canvases, Eigen's coarse and coarse + fine depth networks on
the rendered rooms, beside the papers' figures; and images per second for
training and inference at fixed sizes.

    python -m benchmarks.dense            # trains the six small runs first (about 35 min)
    python -m benchmarks.dense --reuse    # reads their runs/benchmark/*/summary.json if present
"""

import functools
import os
import time

import numpy as np

from benchmarks.common import best_steps_per_second, parser_with_run_flags, run_small, write_report
from keras_l11.training.harness import format_table

FCN_PAPER_MEAN_IU = {"32s": 59.4, "16s": 62.4, "8s": 62.7}  # VOC 2011 val, Long et al. 2015, Table 2
# NYU Depth v2, Eigen et al. 2014, Table 1 (coarse + fine).
EIGEN_PAPER = {
    "delta<1.25": 0.611,
    "abs_rel": 0.215,
    "rmse": 0.907,
    "rmse_log": 0.285,
    "rmse_log_scale_invariant": 0.219,
}
SEGMENT_MEASURES = ("pixel_accuracy", "mean_accuracy", "mean_iu", "frequency_weighted_iu")
DEPTH_MEASURES = ("delta<1.25", "delta<1.25^2", "abs_rel", "sq_rel", "rmse", "rmse_log", "rmse_log_scale_invariant")


def segmentation(runs_dir, reuse):
    rows, previous, ev = [], None, None
    for variant in ("32s", "16s", "8s"):
        extra = ["--variant", variant] + (["--init_from", previous] if previous else [])
        summary = run_small("fcn", runs_dir, reuse, name=f"fcn-{variant}", extra=extra)
        ev = summary["evaluation"]
        rows.append(
            [
                f"FCN-{variant}" + (" (from the previous)" if previous else ""),
                *(ev[m] for m in SEGMENT_MEASURES),
                FCN_PAPER_MEAN_IU[variant],
            ]
        )
        previous = os.path.join(runs_dir, f"fcn-{variant}")
    at_once = run_small(
        "fcn", runs_dir, reuse, name="fcn-8s-at-once", extra=["--variant", "8s", "--override", "model.all_at_once=True"]
    )["evaluation"]
    rows.append(["FCN-8s all at once (from scratch)", *(at_once[m] for m in SEGMENT_MEASURES), ""])
    rows.append(["all background", *(ev[f"baseline_{m}"] for m in SEGMENT_MEASURES), ""])
    return format_table(["small config, 200 test canvases", *SEGMENT_MEASURES, "paper mean IU (VOC 2011 val)"], rows)


def depth(runs_dir, reuse):
    coarse = run_small("depth", runs_dir, reuse, name="depth-coarse", extra=["--stage", "coarse"])["evaluation"]
    fine = run_small(
        "depth",
        runs_dir,
        reuse,
        name="depth-fine",
        extra=["--stage", "fine", "--init_from", os.path.join(runs_dir, "depth-coarse")],
    )["evaluation"]
    rows = [
        ["coarse", *(coarse[m] for m in DEPTH_MEASURES)],
        ["coarse + fine", *(fine[m] for m in DEPTH_MEASURES)],
        ["mean training depth map", *(fine[f"baseline_{m}"] for m in DEPTH_MEASURES)],
        ["paper, coarse + fine (NYU)", *(EIGEN_PAPER.get(m, "") for m in DEPTH_MEASURES)],
    ]
    return format_table(["small config, 200 rendered test rooms", *DEPTH_MEASURES], rows)


def throughput(rounds=3):
    import keras
    import tensorflow as tf

    from keras_l11.dense.depth import DepthNetwork
    from keras_l11.dense.depth_metrics import ScaleInvariantLoss
    from keras_l11.dense.fcn import FCN

    cases = [
        (
            "FCN-8s small_vgg, 96 x 96",
            FCN(11, "8s"),
            (96, 96),
            16,
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            lambda b: np.zeros((b, 96, 96), np.int32),
        ),
        (
            "FCN-8s VGG16 (fc 4096), 224 x 224",
            FCN(21, "8s", "VGG16", fc_units=4096, fc6_size=7),
            (224, 224),
            4,
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            lambda b: np.zeros((b, 224, 224), np.int32),
        ),
        (
            "depth coarse + fine, 96 x 128",
            DepthNetwork(96, 128, "fine"),
            (96, 128),
            32,
            ScaleInvariantLoss(),
            lambda b: np.ones((b, 24, 32), np.float32),
        ),
    ]
    rows = []
    for name, model, (h, w), batch, loss, targets in cases:
        images = np.random.default_rng(0).uniform(0, 255, (batch, h, w, 3)).astype(np.float32)
        model.compile(optimizer="adam", loss=loss)
        data = tf.data.Dataset.from_tensors((images, targets(batch))).repeat()
        steps = 3 if h >= 224 else 20
        [train] = best_steps_per_second([(model, data)], steps, rounds)
        infer = tf.function(functools.partial(model, training=False))
        infer(images)
        best = float("inf")
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(steps):
                infer(images).numpy()
            best = min(best, (time.perf_counter() - started) / steps)
        rows.append([name, batch, train * batch, batch / best])
    return format_table(["model, input size", "batch", "training images/s", "inference images/s"], rows)


def main(argv=None):
    parser = parser_with_run_flags(__doc__.split("\n\n")[0])
    args = parser.parse_args(argv)
    sections = []
    if not args.skip_quality:
        sections.append(
            (
                "Segmentation, offline digit canvases (the paper: 8s > 16s > 32s)",
                segmentation(args.runs_dir, args.reuse),
            )
        )
        sections.append(
            ("Depth, offline rendered rooms (the paper: the fine network helps)", depth(args.runs_dir, args.reuse))
        )
    sections.append(("Throughput (2 CPU cores, float32)", throughput()))
    write_report("dense", sections)


if __name__ == "__main__":
    main()
