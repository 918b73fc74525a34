"""Fusing time in a video CNN (Karpathy et al. 2014): single frame, early,
late and slow fusion, each optionally with the multiresolution fovea + context
streams.

Each run trains one `ClipFusionNet` on random clips (1, 10, 16 or 10
frames); the test protocol classifies 20 clips evenly spaced in each video
(the paper's) and averages their predictions: "clip" accuracy is the paper's
clip hit@1, "video" accuracy its video hit@1. Offline: moving digits whose
class is a (digit, motion) pair. `--config paper` reads UCF-101 through TFDS
(the paper's main data set, Sports-1M, has no TFDS builder).

The export `video_fusion_<fusion>` (`_multires` with `--multiresolution`)
has `classify` (`serving_default`): `frames [B, V, h, w, 3]` uint8 (any size,
resized; V at least the clip's frames) -> `probabilities`.

    python -m train.video_fusion --fusion slow --config small
"""

import dataclasses

from keras_l11.training import harness
from keras_l11.video import task as video_lib
from keras_l11.video.clip_fusion import CLIP_FRAMES, FUSIONS, KARPATHY_TOWER, ClipFusionNet
from keras_l11.video.task import VideoConfig, Window


@dataclasses.dataclass(frozen=True)
class VideoFusionConfig(VideoConfig):
    test_windows: int = 20  # the paper's 20 clips per video


CONFIGS = {
    "smoke": VideoFusionConfig(
        batch_size=16, steps=300, steps_per_epoch=100, train_videos=960, validation_videos=120, test_videos=120
    ),
    "small": VideoFusionConfig(batch_size=16, steps=2000, steps_per_epoch=200),
    # The paper: 170 x 170 clips (fovea and context 89 x 89 each), the C(96,11,3)-N-P-C(256,5,1)-N-P-C(384,3,1)-
    # C(384,3,1)-C(256,3,1)-P-FC(4096)-FC(4096) tower, Downpour SGD, batch 32 per replica, learning rate 1e-3.
    "paper": VideoFusionConfig(
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


def add_job_flags(parser):
    g = parser.add_argument_group("video fusion")
    g.add_argument("--fusion", choices=FUSIONS, default="single")
    g.add_argument("--multiresolution", action="store_true", help="fovea + context streams")


def main(argv=None):
    flags = harness.parse_flags(__doc__.split("\n\n")[0], CONFIGS, add_job_flags, argv)
    config = flags.train_config
    variant = f"{flags.fusion}{'_multires' if flags.multiresolution else ''}"
    frames = CLIP_FRAMES[flags.fusion]
    return video_lib.train_window_model(
        flags,
        "video_fusion",
        variant,
        lambda num_classes: ClipFusionNet(
            flags.fusion, num_classes, config.height, config.width, frames, flags.multiresolution, config.tower
        ),
        Window("frames", frames),
        lambda model: video_lib.frames_signature(model, frames, config.test_windows, model.height, model.width),
    )


if __name__ == "__main__":
    harness.run_main(main)
