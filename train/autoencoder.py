"""Autoencoders whose code is limited in different ways, on MNIST and on 2-D points.

`--code` picks how the code is limited: none (over-complete), bottleneck,
sparse or denoising (see `keras_l11.generative.autoencoder`). The job trains that
autoencoder on MNIST digits and reports the reconstruction error (mean squared
error per pixel) on training digits, held-out digits and inputs that are not
digits (Fashion-MNIST and uniform noise), beside the error of always answering
the mean training digit. It then trains the same variant on 2-D points near a
curve and draws its reconstruction energy over the plane (`energy.png`; the
grid is kept as `energy.npz` for `benchmarks/generative.py`'s side-by-side).

The export `autoencoder_<code>` has `reconstruct` (`serving_default`): grey
`images [B, 28, 28]` float32 in [0, 1] -> `reconstructions` and `squared_error`
(the energy, summed over pixels).

    python -m train.autoencoder --code bottleneck --config small
"""

import os

from keras_l11.generative.configs import AUTOENCODER_CONFIGS as CONFIGS
from keras_l11.generative.specs import CODES
from keras_l11.training import cli


def add_job_flags(parser):
    parser.add_argument("--code", choices=CODES, default="none", help="how the code is limited")


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, CONFIGS, add_job_flags, argv)
    import numpy as np

    from keras_l11.generative import data, figures
    from keras_l11.generative.export import autoencoder_signatures
    from keras_l11.generative.task import PLANE, energy_grid, evaluation_sets, reconstruction_errors, train_toy
    from keras_l11.ops.images import image_dataset
    from keras_l11.training import harness

    config = flags.train_config
    with harness.exit_on_missing_data():
        train = data.grey_mnist("train")[: config.train_images or None]
        valid = data.grey_mnist("valid")[: config.eval_images]
        sets = evaluation_sets(config, train)
    run = harness.start(flags, "autoencoder", variant=flags.code)
    flat = lambda images: images.reshape(len(images), -1)  # noqa: E731
    result = run.fit(
        build_model=lambda: config.model.build(784, flags.code),
        loss="mse",
        metrics=lambda: [],
        train_data=lambda batch, seed, start: image_dataset(train, flat(train), batch, seed).skip(start),
        eval_data=lambda batch: image_dataset(valid, flat(valid), batch),
    )
    model = run.local_copy(result.model)
    errors = reconstruction_errors(model, sets, train.mean(0))
    toy, points = train_toy(config, flags.code, flags.seed)
    random_points = np.random.default_rng(flags.seed + 1).uniform(-1, 1, (1000, 2)).astype(np.float32)
    toy_energy = {
        "curve points": float(toy.energy(points).numpy().mean()),
        "uniform points": float(toy.energy(random_points).numpy().mean()),
    }
    run.summary["evaluation"] = {"reconstruction": errors, "toy_energy": toy_energy}
    print(
        harness.format_table(
            [f"code: {flags.code}", "error per pixel", "mean-digit error"],
            [[name, r["error"], r["mean_image_error"]] for name, r in errors.items()],
        )
    )
    print(harness.format_table(["2-D energy", "mean |y - dec(enc(y))|^2"], [[k, v] for k, v in toy_energy.items()]))
    if run.is_chief:
        grid = energy_grid(toy, config.grid)
        np.savez(os.path.join(run.model_dir, "energy.npz"), energy=grid, points=points, extent=np.array(PLANE))
        run.summary["energy_png"] = figures.plot_energy_maps(
            {flags.code: grid}, PLANE, points[:500], os.path.join(run.model_dir, "energy.png")
        )
    run.export(result.model, f"autoencoder_{flags.code}", autoencoder_signatures)
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    cli.run_main(main)
