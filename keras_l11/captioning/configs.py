"""The captioning and retrieval experiments as data: `CaptioningExperiment` and
`RetrievalExperiment`, whose `smoke`, `small` and `paper` values are in
`CAPTIONING_CONFIGS` and `RETRIEVAL_CONFIGS`. Both nest the models' own arguments
(`--override model.units=512`, `--override 'encoder={"backbone": "VGG16"}'`).

Models are imported inside the builders, so that reading a config (a job's
`--help`) does not load TensorFlow.
"""

import dataclasses

from keras_l11.training.config import TrainConfig, weights_source


@dataclasses.dataclass(frozen=True)
class ImageEncoderConfig:
    """The image encoder both models share (`keras_l11.layers.backbones`; weights "none"
    for a random start, "imagenet" or a weights file)."""

    backbone: str = "small_cnn"
    weights: str = "none"
    dense_units: tuple = (256,)

    def kwargs(self):
        return {**dataclasses.asdict(self), "weights": weights_source(self.weights)}


@dataclasses.dataclass(frozen=True)
class CaptionDataConfig(TrainConfig):
    """The data and image-encoder fields of the captioning and retrieval experiments.

    Attributes:
        data: "scenes" (offline), "coco" (TFDS `coco_captions`), "flickr8k"
            or "flickr30k" (the user's files, `--data_path`).
        image_size: images are resized to image_size x image_size.
        train_images, test_images: offline set sizes.
        min_count: words seen fewer times in the training captions are `<unk>`.
        encoder: the image encoder.
    """

    data: str = "scenes"
    image_size: int = 64
    train_images: int = 2000
    test_images: int = 200
    min_count: int = 5
    encoder: ImageEncoderConfig = ImageEncoderConfig()


@dataclasses.dataclass(frozen=True)
class CaptionModelConfig:
    """`CaptionNetwork`'s own arguments beyond the vocabulary, the image size and the encoder."""

    embedding_dim: int = 128
    units: int = 256
    dropout: float = 0.0


@dataclasses.dataclass(frozen=True)
class CaptioningExperiment(CaptionDataConfig):
    model: CaptionModelConfig = CaptionModelConfig()
    max_length: int = 12  # words per caption
    beam_size: int = 3
    max_beam_size: int = 5  # the export's largest beam


def build_caption_network(config, vocab_size):
    from keras_l11.captioning.caption_network import CaptionNetwork

    size = config.image_size
    return CaptionNetwork(vocab_size, size, size, **config.encoder.kwargs(), **dataclasses.asdict(config.model))


CAPTIONING_CONFIGS = {
    "smoke": CaptioningExperiment(
        batch_size=32, steps=200, steps_per_epoch=100, learning_rate=2e-3, train_images=400, test_images=60
    ),
    "small": CaptioningExperiment(batch_size=32, steps=1500, steps_per_epoch=150, learning_rate=2e-3),
    # Show and Tell on COCO: ImageNet CNN (here VGG16), 512 embeddings and LSTM, dropout, SGD with a fixed
    # learning rate and no momentum, beam 3.
    "paper": CaptioningExperiment(
        batch_size=32,
        steps=500_000,
        steps_per_epoch=5000,
        learning_rate=2.0,
        optimizer="sgd",
        momentum=0.0,
        clip_norm=5.0,
        data="coco",
        image_size=224,
        encoder=ImageEncoderConfig("VGG16", "imagenet", (4096,)),
        model=CaptionModelConfig(embedding_dim=512, units=512, dropout=0.5),
        max_length=20,
    ),
}


@dataclasses.dataclass(frozen=True)
class RetrievalModelConfig:
    """`ImageSentenceEmbedding`'s own arguments beyond the vocabulary, the image size and the encoder."""

    embedding_dim: int = 128
    word_dim: int = 64
    units: int = 64


@dataclasses.dataclass(frozen=True)
class RetrievalExperiment(CaptionDataConfig):
    model: RetrievalModelConfig = RetrievalModelConfig()
    margin: float = 0.2
    max_length: int = 16


def build_ranking_model(config, vocab_size):
    from keras_l11.captioning.retrieval import ImageSentenceEmbedding

    size = config.image_size
    return ImageSentenceEmbedding(vocab_size, size, size, **config.encoder.kwargs(), **dataclasses.asdict(config.model))


RETRIEVAL_CONFIGS = {
    "smoke": RetrievalExperiment(
        batch_size=32, steps=300, steps_per_epoch=100, learning_rate=1e-3, train_images=400, test_images=60
    ),
    "small": RetrievalExperiment(batch_size=32, steps=1000, steps_per_epoch=100, learning_rate=1e-3),
    # Karpathy & Fei-Fei on COCO: a VGG16 image encoder, a 1000-dim space, margin 0.1 (ours: Kiros et al.'s 0.2).
    "paper": RetrievalExperiment(
        batch_size=100,
        steps=200_000,
        steps_per_epoch=2000,
        learning_rate=2e-4,
        data="coco",
        image_size=224,
        encoder=ImageEncoderConfig("VGG16", "imagenet", (4096,)),
        model=RetrievalModelConfig(embedding_dim=1000, word_dim=300, units=512),
    ),
}


def add_data_flags(parser):
    """The flags both captioning jobs add (`--data_path`)."""
    g = parser.add_argument_group("data")
    g.add_argument("--data_path", default=None, help="Flickr8k/30k: the folder of the token file and images/")
