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

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from keras_l11.generative import data as data
from keras_l11.generative import figures
from keras_l11.generative.autoencoder import CODES, Autoencoder
from keras_l11.ops.images import image_dataset
from keras_l11.training import harness
from keras_l11.training.config import TrainConfig
from keras_l11.training.export import Signature

PLANE = (-1.2, 1.2, -1.2, 1.2)  # the energy picture's extent: x0, x1, y0, y1


@dataclasses.dataclass(frozen=True)
class AutoencoderConfig(TrainConfig):
    """Attributes besides `TrainConfig`'s (the `toy_` ones are the 2-D model's):

    code_units, bottleneck_units, hidden_units, sparsity, sparsity_weight,
    target_activation, noise_stddev: see `Autoencoder`.
    train_images: train on the first N training digits (0: all 50,000).
    eval_images: images per evaluation set.
    toy_points, toy_steps, toy_learning_rate: the 2-D training set and run.
    grid: the energy picture's resolution per side.
    """

    code_units: int = 1024
    bottleneck_units: int = 32
    hidden_units: tuple = ()
    sparsity: str = "kl"
    sparsity_weight: float = 0.1
    target_activation: float = 0.05
    noise_stddev: float = 0.5
    train_images: int = 0
    eval_images: int = 10_000
    toy_points: int = 2000
    toy_steps: int = 3000
    toy_learning_rate: float = 3e-3
    toy_code_units: int = 32
    toy_bottleneck_units: int = 1
    toy_hidden_units: tuple = (64, 64)
    toy_sparsity: str = "l1"
    toy_sparsity_weight: float = 0.01
    toy_noise_stddev: float = 0.2
    grid: int = 120


CONFIGS = {
    "smoke": AutoencoderConfig(
        batch_size=100, steps=600, steps_per_epoch=200, train_images=10_000, eval_images=1000, toy_steps=1500, grid=40
    ),
    "small": AutoencoderConfig(batch_size=100, steps=3000, steps_per_epoch=500),
    # Larger runs of the same models (the lecture's argument has no paper table to match).
    "paper": AutoencoderConfig(batch_size=100, steps=50_000, steps_per_epoch=5000, toy_steps=10_000),
}


def add_job_flags(parser):
    parser.add_argument("--code", choices=CODES, default="none", help="how the code is limited")


def build_autoencoder(config, code, input_dim=784, toy=False):
    """The config's autoencoder with the given code (`toy`: the 2-D model)."""
    prefix = "toy_" if toy else ""
    field = lambda name: getattr(config, prefix + name)  # noqa: E731
    return Autoencoder(
        input_dim,
        code=code,
        code_units=field("code_units"),
        bottleneck_units=field("bottleneck_units"),
        hidden_units=field("hidden_units"),
        sparsity=field("sparsity"),
        sparsity_weight=field("sparsity_weight"),
        target_activation=config.target_activation,
        noise_stddev=field("noise_stddev"),
    )


def evaluation_sets(config, train):
    """Name -> grey images `[N, 28, 28]` of each set the error is reported on."""
    n = config.eval_images
    return {
        "train digits": train[:n],
        "held-out digits": data.grey_mnist("test")[:n],
        "Fashion-MNIST": data.fashion_mnist("test")[:n],
        "uniform noise": data.noise_images(min(n, 1000), seed=7),
    }


def reconstruction_errors(model, sets, mean_image):
    """Per set: the model's mean squared error per pixel, and that of the mean image."""
    energy = tf.function(model.energy)
    pixels = float(model.input_dim)
    result = {}
    for name, images in sets.items():
        errors = np.concatenate([energy(images[i : i + 1000]).numpy() for i in range(0, len(images), 1000)])
        constant = float(np.mean((images - mean_image) ** 2))
        result[name] = {"error": float(errors.mean() / pixels), "mean_image_error": constant}
    return result


def train_toy(config, code, seed):
    """The 2-D variant trained on points near a curve: `(model, points)`."""
    keras.utils.set_random_seed(seed)
    points = data.curve_points(config.toy_points, seed=seed)
    model = build_autoencoder(config, code, input_dim=2, toy=True)
    model.compile(keras.optimizers.Adam(config.toy_learning_rate), "mse")
    ds = tf.data.Dataset.from_tensor_slices((points, points)).shuffle(len(points), seed=seed).repeat().batch(100)
    model.fit(ds, steps_per_epoch=config.toy_steps, epochs=1, verbose=0)
    return model, points


def energy_grid(model, size):
    """The energy `[size, size]` over `PLANE` (rows: y, bottom first)."""
    xs = np.linspace(PLANE[0], PLANE[1], size, dtype=np.float32)
    ys = np.linspace(PLANE[2], PLANE[3], size, dtype=np.float32)
    plane = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    return model.energy(plane).numpy().reshape(size, size)


def autoencoder_signatures(model, height=28, width=28):
    def reconstruct(images):
        in_range = tf.reduce_all((images >= 0.0) & (images <= 1.0))
        check = tf.debugging.Assert(in_range, ["images must be grey levels in [0, 1]"])
        with tf.control_dependencies([check]):
            x = model.flatten(images)
        reconstructions = model.decode(model.encode(x))
        return {
            "reconstructions": tf.reshape(reconstructions, [-1, height, width]),
            "squared_error": tf.reduce_sum(tf.square(x - reconstructions), -1),
        }

    signature = Signature(reconstruct, {"images": tf.TensorSpec([None, height, width], tf.float32)})
    return {"serving_default": signature, "reconstruct": signature}


def main(argv=None):
    flags = harness.parse_flags(__doc__.split("\n\n")[0], CONFIGS, add_job_flags, argv)
    config = flags.train_config
    with harness.exit_on_missing_data():
        train = data.grey_mnist("train")[: config.train_images or None]
        valid = data.grey_mnist("valid")[: config.eval_images]
        sets = evaluation_sets(config, train)
    run = harness.start(flags, "autoencoder", variant=flags.code)
    flat = lambda images: images.reshape(len(images), -1)  # noqa: E731
    result = run.fit(
        build_model=lambda: build_autoencoder(config, flags.code),
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
    harness.run_main(main)
