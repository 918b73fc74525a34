"""The detection experiments as data: `LocalizationExperiment` and `RCNNExperiment`,
whose `smoke`, `small` and `paper` values are in `LOCALIZATION_CONFIGS` and
`RCNN_CONFIGS`. Both nest the image network's own arguments
(`--override model.dense_units=[512,512]`).

Models are imported inside the builders, so that reading a config (a job's
`--help`) does not load TensorFlow.
"""

import dataclasses

from keras_l11.training.config import TrainConfig, weights_source


@dataclasses.dataclass(frozen=True)
class ImageNetworkConfig:
    """The backbone and head that `Localizer` and `RegionCNN` share (beyond the
    classes and the input size)."""

    backbone: str = "small_cnn"
    weights: str = "none"  # or "imagenet", or a weights file
    dense_units: tuple = (256, 256)
    dropout: float = 0.0

    def kwargs(self):
        """The constructor's keyword arguments ("none" weights: random initialisation)."""
        return {**dataclasses.asdict(self), "weights": weights_source(self.weights)}


@dataclasses.dataclass(frozen=True)
class LocalizationExperiment(TrainConfig):
    data: str = "digits"  # or "voc2007"
    image_size: int = 128
    min_digit: float = 0.25  # digit sizes on a generated canvas, as fractions of its side
    max_digit: float = 0.75
    clutter: int = 6  # digit fragments on a generated canvas
    shapes: int = 8  # background rectangles and discs on a generated canvas
    train_images: int = 4000
    test_images: int = 400
    model: ImageNetworkConfig = ImageNetworkConfig()
    box_loss_weight: float = 10.0  # the box L2 is in squared image fractions: small next to the log loss


LOCALIZATION_CONFIGS = {
    # 600 steps: with 300 the box head stayed near the mean box (mean IoU 0.49 against the
    # mean box's 0.44) on Keras 3.15 / TF 2.20; 600 reach 0.73.
    "smoke": LocalizationExperiment(
        batch_size=32,
        steps=600,
        steps_per_epoch=100,
        learning_rate=2e-3,
        image_size=64,
        min_digit=0.5,
        max_digit=0.9,
        train_images=1500,
        test_images=100,
        model=ImageNetworkConfig(dense_units=(128, 128)),
    ),
    # 96 px canvases, batch 32: about 0.4 s a step on 2 CPU cores.
    "small": LocalizationExperiment(batch_size=32, steps=1500, steps_per_epoch=150, learning_rate=1e-3, image_size=96),
    "paper": LocalizationExperiment(
        batch_size=64,
        steps=20_000,
        steps_per_epoch=500,
        learning_rate=1e-3,
        optimizer="sgd",
        data="voc2007",
        image_size=224,
        model=ImageNetworkConfig("VGG16", "imagenet", (4096, 4096), 0.5),
    ),
}


@dataclasses.dataclass(frozen=True)
class RCNNExperiment(TrainConfig):
    data: str = "digits"  # or "voc2007"
    image_size: int = 192  # generated canvases
    train_images: int = 1000
    test_images: int = 200
    region_size: int = 227
    context_padding: int = 16  # pixels of context around a warped region (the paper: 16 at 227)
    model: ImageNetworkConfig = ImageNetworkConfig()
    max_proposals: int = 2000
    window_count: int = 500  # sliding windows of the `detect_windows` signature
    region_chunk: int = 0  # score regions this many at a time (0: all of a batch's regions in one call)
    classifier: str = "softmax"  # or "svm": the paper's linear SVMs on fc7 (keras_l11.detection.svm)


RCNN_CONFIGS = {
    "smoke": RCNNExperiment(
        batch_size=64,
        steps=150,
        steps_per_epoch=50,
        learning_rate=2e-3,
        image_size=128,
        train_images=150,
        test_images=30,
        region_size=32,
        context_padding=2,
        model=ImageNetworkConfig(dense_units=(128, 128)),
        window_count=200,
    ),
    "small": RCNNExperiment(
        batch_size=128,
        steps=2000,
        steps_per_epoch=200,
        learning_rate=1e-3,
        train_images=1000,
        test_images=200,
        region_size=48,
        context_padding=3,
    ),
    # The paper: fine-tuning with SGD at 0.001, batches of 128 (32 positives), 227 x 227 regions with 16
    # pixels of context, then one linear SVM per class on fc7 with hard negative mining. VGG16 (the paper's
    # O-Net, Table 3) takes 224.
    "paper": RCNNExperiment(
        batch_size=128,
        steps=40_000,
        steps_per_epoch=1000,
        learning_rate=1e-3,
        optimizer="sgd",
        data="voc2007",
        region_size=224,
        context_padding=16,
        model=ImageNetworkConfig("VGG16", "imagenet", (4096, 4096), 0.5),
        region_chunk=256,
        classifier="svm",
    ),
}


def build_localizer(config, num_classes):
    from keras_l11.detection.localization import Localizer

    return Localizer(num_classes, config.image_size, **config.model.kwargs())


def build_region_cnn(config, num_classes):
    from keras_l11.detection.rcnn import RegionCNN

    return RegionCNN(num_classes, config.region_size, **config.model.kwargs())
