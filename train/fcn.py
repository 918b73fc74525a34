"""FCN semantic segmentation (Long, Shelhamer & Darrell 2015): FCN-32s, -16s
and -8s, trained in stages (`--init_from` the previous variant's run) or all
at once (`--override model.all_at_once=True`), the ignore label (255) honoured.

Offline: digit canvases with exact masks (11 classes with background).
`--config paper` is the paper's experiment: ImageNet VGG16, trained on SBD's
8,498 images (`--sbd_path`) and scored on the 736 VOC 2011 val images that SBD
does not train on (`--data_path`, the VOC2011 devkit), each at its own size.
Reported: the paper's pixel accuracy, mean accuracy, mean IU and frequency
weighted IU, beside an all-background baseline, and with `--config paper` beside
the paper's row of Table 2 (VOC 2011 val mean IU: 59.4 for 32s, 62.4 for 16s,
62.7 for 8s).

The export `fcn` has `segment` (`serving_default`): encoded `images` ->
`classes [B, H, W]`, `probabilities [B, H, W, C]` and `sizes [B, 2]` (images of
different sizes come back padded at the bottom and right to the largest).

    python -m train.fcn --variant 32s --config small
    python -m train.fcn --variant 16s --config small --init_from runs/fcn/small-32s
"""

import os

from keras_l11.dense.configs import FCN_CONFIGS, build_fcn, fcn_for_variant
from keras_l11.dense.specs import VARIANTS
from keras_l11.training import cli

# Long et al. (2015), Table 2: mean IU on VOC 2011 val (seg11valid), trained on SBD.
PAPER_MEAN_IU = {"32s": 59.4, "16s": 62.4, "8s": 62.7}


def add_job_flags(parser):
    g = parser.add_argument_group("fcn")
    g.add_argument("--variant", choices=VARIANTS, default="32s")
    g.add_argument("--init_from", default="", help="the run folder of the previous stage (32s for 16s, 16s for 8s)")
    g.add_argument(
        "--data_path", default="", help="the VOC2011 devkit folder (--config paper), or VOC2012 (data=voc2012)"
    )
    g.add_argument("--sbd_path", default="", help="SBD's dataset folder, benchmark_RELEASE/dataset (--config paper)")


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, FCN_CONFIGS, add_job_flags, argv, specialize=fcn_for_variant)
    import keras

    from keras_l11.dense import figures
    from keras_l11.dense.export import fcn_signatures
    from keras_l11.dense.segmentation_metrics import IGNORE_LABEL
    from keras_l11.dense.task import evaluate_segmentation, load_segmentation, segmentation_dataset
    from keras_l11.training import harness
    from keras_l11.training.transfer import saved_model_file

    config = flags.train_config
    with harness.exit_on_missing_data():
        train, test, names = load_segmentation(config, flags.data_path, flags.sbd_path)
        if flags.init_from:
            saved_model_file(flags.init_from)
    run = harness.start(flags, "fcn", variant=flags.variant)
    run.summary["variant"] = flags.variant
    result = run.fit(
        build_model=lambda: build_fcn(config, len(names), flags.variant, flags.init_from),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=IGNORE_LABEL),
        metrics=lambda: [
            keras.metrics.MeanIoU(len(names), ignore_class=IGNORE_LABEL, sparse_y_pred=False, name="mean_iu")
        ],
        train_data=lambda batch, seed, start: segmentation_dataset(train, batch, seed, config.image_size).skip(start),
    )
    model = run.local_copy(result.model)
    evaluation, shown = evaluate_segmentation(model, test, len(names))
    run.summary["evaluation"] = evaluation
    measures = ("pixel_accuracy", "mean_accuracy", "mean_iu", "frequency_weighted_iu")
    rows = [
        ["model", *(evaluation[m] for m in measures)],
        ["all background", *(evaluation[f"baseline_{m}"] for m in measures)],
    ]
    if config.data == "sbd_voc2011":
        rows.append([f"paper, Table 2, FCN-{flags.variant}", "-", "-", PAPER_MEAN_IU[flags.variant] / 100, "-"])
    where = "at each image's own size" if config.data != "digits" else f"{config.image_size} x {config.image_size}"
    print(f"\nFCN-{flags.variant} on {evaluation['images']} {config.data} test images, {where} (higher is better):")
    print(harness.format_table([f"FCN-{flags.variant}", *measures], rows))
    if run.is_chief:
        figure = os.path.join(run.model_dir, "segmentation.png")
        run.summary["figure"] = figures.plot_segmentation(*shown, names, figure)
    run.save_keras(result.model)
    run.export(result.model, "fcn", fcn_signatures)
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    cli.run_main(main)
