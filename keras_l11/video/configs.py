"""The video experiments as data: `TwoStreamExperiment`, `LRCNExperiment` and
`VideoFusionExperiment`, whose `smoke`, `small` and `paper` values are in
`TWO_STREAM_CONFIGS`, `LRCN_CONFIGS` and `VIDEO_FUSION_CONFIGS`. Each nests its
convolutional tower's config (`--override 'tower={"dropout": 0.5}'`)."""

import dataclasses

from keras_l11.training.config import TrainConfig
from keras_l11.video.specs import CAFFENET_FC6, CNN_M_2048, KARPATHY_TOWER, ConvTower


@dataclasses.dataclass(frozen=True)
class VideoConfig(TrainConfig):
    """What every video job's config has (jobs add their model's fields).

    Attributes:
        data: "digits" (offline moving digits) or "ucf101" (TFDS, prepared).
        train_videos, validation_videos, test_videos: offline set sizes
            (UCF-101: its split 1, 10% of the training videos for validation).
        frames: frames per video (UCF-101: each video's central frames).
        height, width: the frame size.
        flow_method: "farneback" or "tvl1".
        test_windows: evenly spaced windows per video at test time.
        tower: the convolutional tower.
    """

    data: str = "digits"
    train_videos: int = 960
    validation_videos: int = 240
    test_videos: int = 240
    frames: int = 24
    height: int = 64
    width: int = 64
    flow_method: str = "farneback"
    test_windows: int = 25
    tower: ConvTower = ConvTower()


@dataclasses.dataclass(frozen=True)
class TwoStreamExperiment(VideoConfig):
    """A two-stream experiment; `stream_schedules` gives each stream's own steps and
    learning-rate steps (`[[stream, steps, [[step, rate], ...]], ...]`)."""

    flow_length: int = 10
    trajectory: bool = False
    svm_penalty: float = 1e-3
    stream_schedules: tuple = ()


TWO_STREAM_CONFIGS = {
    "smoke": TwoStreamExperiment(batch_size=32, steps=500, steps_per_epoch=100, validation_videos=120, test_videos=120),
    "small": TwoStreamExperiment(batch_size=32, steps=2000, steps_per_epoch=200),
    # The paper (section 5.1): UCF-101, 224 x 224 crops, CNN-M-2048, batch 256, SGD with momentum 0.9, learning
    # rate 1e-2; the temporal net from scratch: 1e-3 after 50K iterations, stopped at 80K; the spatial net
    # (ImageNet-initialised where it is fine-tuned): 1e-3 after 14K, stopped at 20K. L = 10.
    "paper": TwoStreamExperiment(
        batch_size=256,
        steps=80_000,
        steps_per_epoch=1000,
        learning_rate=1e-2,
        optimizer="sgd",
        data="ucf101",
        frames=64,
        height=224,
        width=224,
        tower=CNN_M_2048,
        stream_schedules=(("spatial", 20_000, ((14_000, 1e-3),)), ("temporal", 80_000, ((50_000, 1e-3),))),
    ),
}


def two_stream_for_stream(flags, config):
    """The config for the job's `--stream`: its schedule (`stream_schedules`) and,
    for the temporal stream, the CNN-M-2048 variant without its second normalisation."""
    from keras_l11.video.specs import CNN_M_2048_TEMPORAL

    for stream, steps, rates in config.stream_schedules:
        if stream == flags.stream:
            config = dataclasses.replace(config, steps=int(steps), learning_rate_steps=tuple(map(tuple, rates)))
    if flags.stream == "temporal" and config.tower == CNN_M_2048:
        config = dataclasses.replace(config, tower=CNN_M_2048_TEMPORAL)
    return config


@dataclasses.dataclass(frozen=True)
class LRCNExperiment(VideoConfig):
    clip_frames: int = 16
    lstm_units: int = 128
    rgb_weight: float = 1 / 3  # the paper's fusion: 1/3 RGB, 2/3 flow
    modality_lstm_units: tuple = ()  # [[modality, units], ...]: the LSTM of each modality (the paper: 256, 1024)


LRCN_CONFIGS = {
    "smoke": LRCNExperiment(
        batch_size=16,
        steps=500,  # RGB: 0.31 video accuracy (chance 0.08) here, where 300 steps gave 0.13
        steps_per_epoch=100,
        train_videos=960,
        validation_videos=120,
        test_videos=120,
        clip_frames=8,
        test_windows=3,
    ),
    "small": LRCNExperiment(batch_size=16, steps=1500, steps_per_epoch=150, test_windows=3),
    # The paper (Donahue et al. 2015, section 4.1): UCF-101 split 1, CaffeNet to fc6 on 227 x 227 crops, LSTM of
    # 256 (RGB) or 1024 (flow) units, 16-frame clips with stride 8 (test: clips every 8 frames, averaged).
    "paper": LRCNExperiment(
        batch_size=24,
        steps=30_000,
        steps_per_epoch=1000,
        learning_rate=1e-3,
        optimizer="sgd",
        data="ucf101",
        frames=64,
        height=227,
        width=227,
        tower=CAFFENET_FC6,
        lstm_units=256,
        modality_lstm_units=(("rgb", 256), ("flow", 1024)),
        test_windows=7,
    ),
}


def lrcn_for_modality(flags, config):
    """The config's LSTM size for the job's `--modality` (`modality_lstm_units`)."""
    units = dict(config.modality_lstm_units)
    return dataclasses.replace(config, lstm_units=units[flags.modality]) if flags.modality in units else config


@dataclasses.dataclass(frozen=True)
class VideoFusionExperiment(VideoConfig):
    test_windows: int = 20  # the paper's 20 clips per video


VIDEO_FUSION_CONFIGS = {
    "smoke": VideoFusionExperiment(
        batch_size=16, steps=300, steps_per_epoch=100, train_videos=960, validation_videos=120, test_videos=120
    ),
    "small": VideoFusionExperiment(batch_size=16, steps=2000, steps_per_epoch=200),
    # The paper: 170 x 170 clips (fovea and context 89 x 89 each), the C(96,11,3)-N-P-C(256,5,1)-N-P-C(384,3,1)-
    # C(384,3,1)-C(256,3,1)-P-FC(4096)-FC(4096) tower, Downpour SGD, batch 32 per replica, learning rate 1e-3.
    "paper": VideoFusionExperiment(
        batch_size=32,
        steps=500_000,
        steps_per_epoch=5000,
        learning_rate=1e-3,
        optimizer="sgd",
        data="ucf101",
        frames=64,
        height=172,
        width=172,
        tower=KARPATHY_TOWER,
    ),
}
