"""The dense-prediction experiments as data: `FCNExperiment` and `DepthExperiment`,
whose `smoke`, `small` and `paper` values are in `FCN_CONFIGS` and `DEPTH_CONFIGS`.
Each nests its model's own arguments (`--override model.fc_units=128`).

Models are imported inside the builders, so that reading a config (a job's
`--help`) does not load TensorFlow.
"""

import dataclasses

from keras_l11.training.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class FCNModelConfig:
    """`FCN`'s arguments beyond the classes and the variant (`--variant`)."""

    backbone: str = "small_vgg"
    weights: str = "none"  # or "imagenet" (VGG16), or a weights file
    fc_units: int = 256
    fc6_size: int = 3
    dropout: float = 0.0
    all_at_once: bool = False


@dataclasses.dataclass(frozen=True)
class FCNExperiment(TrainConfig):
    data: str = "digits"  # or "voc2012"
    image_size: int = 96
    train_images: int = 2000
    test_images: int = 200
    model: FCNModelConfig = FCNModelConfig()


FCN_CONFIGS = {
    "smoke": FCNExperiment(
        batch_size=16,
        steps=200,
        steps_per_epoch=100,
        learning_rate=3e-3,
        image_size=64,
        train_images=400,
        test_images=40,
        model=FCNModelConfig(fc_units=64),
    ),
    "small": FCNExperiment(batch_size=16, steps=3000, steps_per_epoch=300, learning_rate=1e-3),
    # The paper: SGD with momentum 0.99 at 1e-4 (32s; 1e-5 and 1e-6 for the later stages), batches of 20
    # whole images, weight decay 5e-4, VGG16 with fc6 7 x 7 x 4096 and dropout 0.5. Images here are resized
    # to 320 x 320 so that they batch.
    "paper": FCNExperiment(
        batch_size=20,
        steps=100_000,
        steps_per_epoch=1000,
        learning_rate=1e-4,
        optimizer="sgd",
        data="voc2012",
        image_size=320,
        train_images=0,
        test_images=0,
        model=FCNModelConfig(backbone="VGG16", weights="imagenet", fc_units=4096, fc6_size=7, dropout=0.5),
    ),
}


def build_fcn(config, num_classes, variant, init_from):
    """The FCN of `variant`, started from the previous stage's run (`init_from`) or,
    for the paper's VGG16 with its full-size fc6 and fc7, from the classifier's fc layers."""
    from keras_l11.dense.fcn import FCN, convolutionalize_vgg16
    from keras_l11.training.transfer import initialize_from

    arch = config.model
    weights = None if arch.weights in ("", "none") else arch.weights
    model = FCN(num_classes, variant, **{**dataclasses.asdict(arch), "weights": weights})
    if init_from:
        print(f"initialised {len(initialize_from(model, init_from))} layers from {init_from}")
    elif arch.backbone == "VGG16" and weights and arch.fc_units == 4096 and arch.fc6_size == 7:
        convolutionalize_vgg16(model, weights)  # the classifier's fc1, fc2 as fc6, fc7
    return model


@dataclasses.dataclass(frozen=True)
class DepthModelConfig:
    """`DepthNetwork`'s arguments beyond the stage (`--stage`)."""

    height: int = 48
    width: int = 64
    coarse_filters: tuple = (32, 64, 64)
    coarse_kernels: tuple = (5, 3, 3)
    fc_units: int = 256
    fine_filters: int = 32
    dropout: float = 0.0


@dataclasses.dataclass(frozen=True)
class DepthExperiment(TrainConfig):
    data: str = "rendered"  # or "nyu"
    train_images: int = 4000
    test_images: int = 200
    model: DepthModelConfig = DepthModelConfig()


DEPTH_CONFIGS = {
    "smoke": DepthExperiment(
        batch_size=32,
        steps=300,
        steps_per_epoch=100,
        learning_rate=1e-3,
        train_images=600,
        test_images=50,
        model=DepthModelConfig(fc_units=128),
    ),
    "small": DepthExperiment(
        batch_size=32, steps=3000, steps_per_epoch=300, learning_rate=1e-3, model=DepthModelConfig(96, 128)
    ),
    # The paper (NYU): 304 x 228 input, coarse 96-256-384-384-256 (11 x 11 stride 4 first) and fc 4096 with
    # dropout, fine 63 channels; SGD, batch 32, learning rates 0.001 (coarse convolutions), 0.1 (coarse fc),
    # 0.001 (fine); about 2 M training images from the raw NYU videos.
    "paper": DepthExperiment(
        batch_size=32,
        steps=60_000,
        steps_per_epoch=1000,
        learning_rate=1e-3,
        optimizer="sgd",
        data="nyu",
        train_images=0,
        test_images=0,
        model=DepthModelConfig(
            height=228,
            width=304,
            coarse_filters=(96, 256, 384, 384, 256),
            coarse_kernels=(11, 5, 3, 3, 3),
            fc_units=4096,
            fine_filters=63,
            dropout=0.5,
        ),
    ),
}


def build_depth_network(config, stage, init_from):
    """The coarse or fine network; the fine stage starts from the coarse run (`init_from`)."""
    from keras_l11.dense.depth import DepthNetwork
    from keras_l11.training.transfer import initialize_from

    model = DepthNetwork(stage=stage, **dataclasses.asdict(config.model))
    if init_from:
        print(f"initialised {len(initialize_from(model, init_from))} layers from {init_from}")
    return model
