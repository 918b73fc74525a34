"""DARN: a deep autoregressive network on binarised MNIST (or your Atari frames).

Trains by minimising the description length (the variational bound) and
reports, on the test images, -log p(x) in nats estimated by importance
sampling with the encoder as the proposal, beside the bound and the paper's
figure; how the estimate tightens with the number of samples K; samples next
to real test images (`samples.png`).

The export `darn` has `log_prob` (`serving_default`): binary `images [B, H, W]`
uint8 (0 or 255) -> `nats` (importance-sampled -log p(x)) and `bound_nats`
(the description length averaged over the same samples); and `sample`:
`count`, `seed` -> `images [count, H, W]` uint8 (0 or 255) and
`probabilities` (each pixel's conditional probability).

    python -m train.darn --config small
    python -m train.darn --config paper_atari --frames path/to/png_frames
"""

import os

from keras_l11.generative.configs import DARN_CONFIGS as CONFIGS
from keras_l11.training import cli


def add_job_flags(parser):
    parser.add_argument("--frames", default=None, help="folder of PNG frames (the `frames` data, e.g. Atari screens)")


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, CONFIGS, add_job_flags, argv)
    import numpy as np
    import tensorflow as tf

    from keras_l11 import figures
    from keras_l11.generative.darn import description_length_loss
    from keras_l11.generative.export import darn_signatures
    from keras_l11.generative.task import darn_report, load_images
    from keras_l11.ops.images import image_dataset
    from keras_l11.training import harness

    config = flags.train_config
    with harness.exit_on_missing_data():
        train, valid, test = load_images(config, flags.frames)
    run = harness.start(flags, "darn")
    zeros = lambda images: np.zeros(len(images), np.float32)  # noqa: E731
    result = run.fit(
        build_model=lambda: config.model.build(train.shape[1:]),
        loss=description_length_loss,
        metrics=lambda: [],
        train_data=lambda batch, seed, start: image_dataset(train, zeros(train), batch, seed).skip(start),
        eval_data=lambda batch: image_dataset(valid, zeros(valid), batch),
    )
    model = run.local_copy(result.model)

    run.summary["evaluation"] = darn_report(model, train, test, config)
    if run.is_chief:
        images, probabilities = model.sample(32, seed=tf.constant([flags.seed, 1]))
        run.summary["samples_png"] = figures.plot_image_grids(
            {
                "DARN samples": images.numpy(),
                "their pixel probabilities": probabilities.numpy(),
                "test images": test[:32],
            },
            os.path.join(run.model_dir, "samples.png"),
        )
    run.export(result.model, "darn", lambda m: darn_signatures(m, config.export_samples))
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    cli.run_main(main)
