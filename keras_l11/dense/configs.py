"""The dense-prediction experiments as data: `FCNExperiment` and `DepthExperiment`,
whose `smoke`, `small` and `paper` values are in `FCN_CONFIGS` and `DEPTH_CONFIGS`.
Each nests its model's own arguments (`--override model.fc_units=128`).

Models are imported inside the builders, so that reading a config (a job's
`--help`) does not load TensorFlow.
"""

import dataclasses

from keras_l11.training.config import TrainConfig, weights_source


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
    """An FCN experiment.

    Attributes:
        data: "digits" (offline canvases), "sbd_voc2011" (the paper's: SBD train,
            VOC 2011 seg11valid) or "voc2012" (the VOC 2012 devkit's train and val).
        image_size: digit canvases' size; VOC images are padded (never resized) to
            image_size x image_size for training and scored at their own size.
        stage_learning_rates: the learning rate of "32s", "16s" and "8s" (the
            paper's 100-fold decrease at each stage); empty: `learning_rate` for all.
    """

    data: str = "digits"
    image_size: int = 96
    train_images: int = 2000
    test_images: int = 200
    stage_learning_rates: tuple = ()
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
    # The paper (Long et al. 2015, section 4.3): SGD with momentum 0.9 and minibatches of 20 whole images,
    # learning rate 1e-4 for FCN-VGG16, doubled for biases, weight decay 5e-4, fc6 7 x 7 x 4096 and dropout 0.5
    # from ImageNet VGG16; each skip stage starts from the previous one with the learning rate "decreased by a
    # factor of 100" (section 4.2). Trained on SBD's 8,498 images, scored on the 736 of seg11valid at their own
    # size (VOC images are at most 500 x 500: padded to that for batching, the padding ignored by the loss).
    "paper": FCNExperiment(
        batch_size=20,
        steps=100_000,
        steps_per_epoch=1000,
        learning_rate=1e-4,
        optimizer="sgd",
        momentum=0.9,
        clip_norm=0.0,
        weight_decay=5e-4,
        learning_rate_multipliers=(("*/bias", 2.0),),
        stage_learning_rates=(("32s", 1e-4), ("16s", 1e-6), ("8s", 1e-8)),
        data="sbd_voc2011",
        image_size=500,
        train_images=0,
        test_images=0,
        model=FCNModelConfig(backbone="VGG16", weights="imagenet", fc_units=4096, fc6_size=7, dropout=0.5),
    ),
}


def fcn_for_variant(flags, config):
    """The config's learning rate for the job's `--variant` (`stage_learning_rates`)."""
    rates = dict(config.stage_learning_rates)
    return dataclasses.replace(config, learning_rate=rates[flags.variant]) if flags.variant in rates else config


def build_fcn(config, num_classes, variant, init_from):
    """The FCN of `variant`, started from the previous stage's run (`init_from`) or,
    for the paper's VGG16 with its full-size fc6 and fc7, from the classifier's fc layers."""
    from keras_l11.dense.fcn import FCN, convolutionalize_vgg16
    from keras_l11.training.transfer import initialize_from

    arch = config.model
    weights = weights_source(arch.weights)
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
    layout: str = "compact"


@dataclasses.dataclass(frozen=True)
class DepthExperiment(TrainConfig):
    """A depth experiment.

    Attributes:
        data: "rendered" (offline scenes) or "nyu" (NYU Depth v2 through TFDS, halved
            to 320 x 240 and centre-cropped to the network's input, as the paper).
        coarse_weights: an `.npz` of ImageNet-trained coarse convolutions
            (`keras_l11.dense.depth.load_coarse_weights`); empty: random.
        stage_steps: the steps of "coarse" and "fine" (empty: `steps` for both).
    """

    data: str = "rendered"  # or "nyu"
    train_images: int = 4000
    test_images: int = 200
    coarse_weights: str = ""
    stage_steps: tuple = ()
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
    # The paper (Eigen et al. 2014, sections 3 and 4): NYU at 304 x 228 (halved, then cropped), output 74 x 55;
    # the coarse network AlexNet's convolutions (96-256-384-384-256, 11 x 11 stride 4 first), fc 4096 with
    # dropout 0.5; the fine network 63 (9 x 9 stride 2), 64 and 1 channels. SGD with momentum 0.9, batches of
    # 32, learning rates 0.001 for coarse layers 1-5, 0.1 for coarse fc 6-7, 0.001 for fine layers 1 and 3 and
    # 0.01 for fine layer 2; 2 M samples for the coarse stage, 1.5 M for the fine.
    "paper": DepthExperiment(
        batch_size=32,
        steps=62_500,
        steps_per_epoch=1000,
        learning_rate=1e-3,
        optimizer="sgd",
        momentum=0.9,
        clip_norm=0.0,
        learning_rate_multipliers=(("*coarse_fc*", 100.0), ("*fine_conv2/*", 10.0)),
        stage_steps=(("coarse", 62_500), ("fine", 46_875)),
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
            layout="eigen",
        ),
    ),
}


def depth_for_stage(flags, config):
    """The config's steps for the job's `--stage` (`stage_steps`)."""
    steps = dict(config.stage_steps)
    return dataclasses.replace(config, steps=steps[flags.stage]) if flags.stage in steps else config


def depth_output_size(config):
    """The depth map's `(height, width)` for the config's network."""
    from keras_l11.dense.depth import output_size

    m = config.model
    return output_size(m.height, m.width, m.layout, m.coarse_kernels)


def build_depth_network(config, stage, init_from):
    """The coarse or fine network; the fine stage starts from the coarse run
    (`init_from`), the coarse stage from `coarse_weights` when given."""
    from keras_l11.dense.depth import DepthNetwork, load_coarse_weights
    from keras_l11.training.transfer import initialize_from

    model = DepthNetwork(stage=stage, **dataclasses.asdict(config.model))
    if init_from:
        print(f"initialised {len(initialize_from(model, init_from))} layers from {init_from}")
    elif config.coarse_weights:
        print(
            f"initialised {', '.join(load_coarse_weights(model, config.coarse_weights))} from {config.coarse_weights}"
        )
    return model
