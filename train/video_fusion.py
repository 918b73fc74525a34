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

from keras_l11.training import cli
from keras_l11.video.configs import VIDEO_FUSION_CONFIGS
from keras_l11.video.specs import CLIP_FRAMES, FUSIONS


def add_job_flags(parser):
    g = parser.add_argument_group("video fusion")
    g.add_argument("--fusion", choices=FUSIONS, default="single")
    g.add_argument("--multiresolution", action="store_true", help="fovea + context streams")


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, VIDEO_FUSION_CONFIGS, add_job_flags, argv)
    from keras_l11.video import task as video_lib
    from keras_l11.video.clip_fusion import ClipFusionNet
    from keras_l11.video.export import fusion_signatures
    from keras_l11.video.task import Window

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
        lambda model: fusion_signatures(model, config.test_windows),
    )


if __name__ == "__main__":
    cli.run_main(main)
