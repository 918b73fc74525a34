"""The generative experiments as data: one type per job (`DarnExperiment`,
`AutoencoderExperiment`) whose `smoke`, `small` and `paper` values are in
`DARN_CONFIGS` and `AUTOENCODER_CONFIGS`. Each nests its model's own arguments
(`--override model.hidden=[200]`) rather than copying them field by field.

Models are imported inside the builders, so that reading a config (a job's
`--help`) does not load TensorFlow.
"""

import dataclasses

from keras_l11.training.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class DARNModelConfig:
    """`DARN`'s arguments beyond the image shape (the paper's MNIST model: one
    stochastic layer of 500 units)."""

    hidden: tuple = (500,)
    encoder_units: tuple = ()
    decoder_units: tuple = ()
    estimator: str = "score_function"
    baseline_units: int = 100

    def build(self, visible_shape):
        from keras_l11.generative.darn import DARN

        return DARN(visible_shape, **dataclasses.asdict(self))


@dataclasses.dataclass(frozen=True)
class DarnExperiment(TrainConfig):
    """Attributes besides `TrainConfig`'s:

    data: "mnist" (binarised, 50k / 10k / 10k) or "frames" (PNG frames from `--frames`).
    frame_shape: `(height, width)` the frames are resized to before binarising.
    train_images: use the first N training images (0: all).
    test_images: evaluate on the first N test images (0: all).
    model: `DARN`'s own arguments.
    eval_samples: K of the importance-sampled test -log p(x).
    convergence_samples: the K of the "estimate against K" table ...
    convergence_images: ... on this many test images.
    export_samples: K of the exported `log_prob`.
    """

    data: str = "mnist"
    frame_shape: tuple = (32, 32)
    train_images: int = 0
    test_images: int = 0
    model: DARNModelConfig = DARNModelConfig()
    eval_samples: int = 100
    convergence_samples: tuple = (1, 10, 100, 1000)
    convergence_images: int = 500
    export_samples: int = 100


DARN_CONFIGS = {
    "smoke": DarnExperiment(
        batch_size=64,
        steps=300,
        steps_per_epoch=100,
        learning_rate=3e-3,
        train_images=5000,
        test_images=500,
        model=DARNModelConfig(hidden=(32,)),
        eval_samples=20,
        convergence_samples=(1, 20),
        convergence_images=100,
        export_samples=20,
    ),
    "small": DarnExperiment(batch_size=100, steps=20_000, steps_per_epoch=1000, learning_rate=1e-3),
    # The paper's MNIST model: one stochastic layer of 500 units.
    "paper": DarnExperiment(batch_size=100, steps=500_000, steps_per_epoch=5000, learning_rate=3e-4),
    "paper_atari": DarnExperiment(
        batch_size=100,
        steps=500_000,
        steps_per_epoch=5000,
        learning_rate=3e-4,
        data="frames",
        convergence_images=200,
    ),
}


@dataclasses.dataclass(frozen=True)
class AutoencoderModelConfig:
    """`Autoencoder`'s arguments beyond the input size and the code (`--code`)."""

    code_units: int = 1024
    bottleneck_units: int = 32
    hidden_units: tuple = ()
    sparsity: str = "kl"
    sparsity_weight: float = 0.1
    target_activation: float = 0.05
    noise_stddev: float = 0.5

    def build(self, input_dim, code):
        from keras_l11.generative.autoencoder import Autoencoder

        return Autoencoder(input_dim, code=code, **dataclasses.asdict(self))


@dataclasses.dataclass(frozen=True)
class AutoencoderExperiment(TrainConfig):
    """Attributes besides `TrainConfig`'s:

    model: the MNIST autoencoder's own arguments.
    train_images: train on the first N training digits (0: all 50,000).
    eval_images: images per evaluation set.
    toy: the 2-D autoencoder's own arguments.
    toy_points, toy_steps, toy_learning_rate: the 2-D training set and run.
    grid: the energy picture's resolution per side.
    """

    model: AutoencoderModelConfig = AutoencoderModelConfig()
    train_images: int = 0
    eval_images: int = 10_000
    toy: AutoencoderModelConfig = AutoencoderModelConfig(
        code_units=32, bottleneck_units=1, hidden_units=(64, 64), sparsity="l1", sparsity_weight=0.01, noise_stddev=0.2
    )
    toy_points: int = 2000
    toy_steps: int = 3000
    toy_learning_rate: float = 3e-3
    grid: int = 120


AUTOENCODER_CONFIGS = {
    "smoke": AutoencoderExperiment(
        batch_size=100, steps=600, steps_per_epoch=200, train_images=10_000, eval_images=1000, toy_steps=1500, grid=40
    ),
    "small": AutoencoderExperiment(batch_size=100, steps=3000, steps_per_epoch=500),
    # Larger runs of the same models (the lecture's argument has no paper table to match).
    "paper": AutoencoderExperiment(batch_size=100, steps=50_000, steps_per_epoch=5000, toy_steps=10_000),
}
