"""Depth from a single image (Eigen, Puhrsch & Fergus 2014): a coarse global
network, then a fine local network that refines it, trained in two stages
with the scale-invariant loss (lambda = 0.5) in log depth, missing depth
masked.

Offline: rendered rooms with exact depth; `--config paper` is the paper's
experiment: NYU Depth v2 through TFDS (prepared beforehand), halved and
centre-cropped to 304 x 228, the paper's layers, per-layer learning rates and
samples per stage (and `--override coarse_weights=FILE.npz`, ImageNet-trained
AlexNet convolutions, where you have them). Reported: the
paper's measures (threshold accuracy, abs rel, sq rel, RMSE linear and log,
scale-invariant log RMSE) beside a baseline that predicts the training set's
mean depth map. A figure shows test scenes and scikit-image's real stereo
pair (depth from its ground-truth disparity) beside the predictions.

The export `depth` has `depth` (`serving_default`): encoded `images` ->
`depth [B, H, W]` in metres at each image's size (the batch's largest, for
images of different sizes: each is resized to the network's input on its own
and its map resized back).

    python -m train.depth --stage coarse --config small
    python -m train.depth --stage fine --config small --init_from runs/depth/small-coarse
"""

import os
import sys

from keras_l11.dense.configs import DEPTH_CONFIGS, build_depth_network, depth_for_stage, depth_output_size
from keras_l11.training import cli


def add_job_flags(parser):
    g = parser.add_argument_group("depth")
    g.add_argument("--stage", choices=("coarse", "fine"), default="coarse")
    g.add_argument("--init_from", default="", help="the coarse stage's run folder (needed for --stage fine)")


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, DEPTH_CONFIGS, add_job_flags, argv, specialize=depth_for_stage)
    from keras_l11.dense.depth_metrics import ScaleInvariantLoss
    from keras_l11.dense.export import depth_signatures
    from keras_l11.dense.task import depth_dataset, evaluate_depth, load_depth, plot_depth_examples
    from keras_l11.training import harness
    from keras_l11.training.transfer import saved_model_file

    config = flags.train_config
    if flags.stage == "fine" and not flags.init_from:
        sys.exit("error: --stage fine needs --init_from, the coarse stage's run folder")
    with harness.exit_on_missing_data():
        train, test = load_depth(config)
        if flags.init_from:
            saved_model_file(flags.init_from)
    run = harness.start(flags, "depth", variant=flags.stage)
    run.summary["stage"] = flags.stage
    result = run.fit(
        build_model=lambda: build_depth_network(config, flags.stage, flags.init_from),
        loss=ScaleInvariantLoss(0.5),
        metrics=lambda: [],
        train_data=lambda batch, seed, start: depth_dataset(train, batch, seed, depth_output_size(config)).skip(start),
    )
    model = run.local_copy(result.model)
    evaluation = evaluate_depth(model, train, test)
    run.summary["evaluation"] = evaluation
    measures = ("delta<1.25", "abs_rel", "rmse", "rmse_log", "rmse_log_scale_invariant")
    print(
        harness.format_table(
            [f"{flags.stage} ({len(test[0])} test images)", *measures],
            [
                ["model", *(evaluation[m] for m in measures)],
                ["mean depth map", *(evaluation[f"baseline_{m}"] for m in measures)],
            ],
        )
    )
    if run.is_chief:
        run.summary["figure"] = plot_depth_examples(model, test, os.path.join(run.model_dir, "depth.png"))
    run.save_keras(result.model)
    run.export(result.model, "depth", depth_signatures)
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    cli.run_main(main)
