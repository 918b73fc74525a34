"""Two-stream networks for action recognition (Simonyan & Zisserman 2014).

The spatial stream learns appearance from single RGB frames, the temporal
stream motion from stacks of L = 10 optical flows (mean flow subtracted;
`--trajectory` for trajectory stacking). Each stream is one run; the fusion
step then loads both, fits a linear SVM on their softmax scores of held-out
videos, and reports clip and video accuracy (25 evenly spaced windows per
video, scores averaged: the paper's test protocol) for each stream, their
average and the SVM.

Offline: moving digits whose class is a (digit, motion) pair; the table also
gives the accuracy of the digit alone (appearance) and of the motion alone.
`--config paper` reads UCF-101 split 1 through TFDS (prepared beforehand).

Exports (`classify` = `serving_default` in each):
- `two_stream_spatial`: `frames [B, V, h, w, 3]` uint8 -> `probabilities`;
- `two_stream_temporal`: `flows [B, V - 1, H, W, 2]` -> `probabilities`;
- `two_stream` (fusion step): `frames` and `flows` -> each stream's, the
  averaged `probabilities`, the `svm_scores` and the SVM's `classes`.
Flow is OpenCV code, which cannot run inside a SavedModel: clients compute it
with `keras_l11.video.flow.video_flows` (`python -m keras_l11.video.client` does).

    python -m train.two_stream --stream spatial --config small
    python -m train.two_stream --stream temporal --config small
    python -m train.two_stream --fuse --spatial_from runs/two_stream/small-spatial \\
        --temporal_from runs/two_stream/small-temporal
"""

import dataclasses

from keras_l11.training import cli
from keras_l11.video.configs import TWO_STREAM_CONFIGS, two_stream_for_stream


def add_job_flags(parser):
    g = parser.add_argument_group("two-stream")
    g.add_argument("--stream", choices=("spatial", "temporal"), default="spatial")
    g.add_argument("--trajectory", action="store_true", help="trajectory stacking of the flows (temporal stream)")
    g.add_argument(
        "--fuse", action="store_true", help="fuse two trained streams (needs --spatial_from, --temporal_from)"
    )
    g.add_argument("--spatial_from", default="", help="the spatial stream's run folder")
    g.add_argument("--temporal_from", default="", help="the temporal stream's run folder")


def train_stream(flags, config):
    from keras_l11.video import task as video_lib
    from keras_l11.video.export import stream_signatures
    from keras_l11.video.task import stream_window
    from keras_l11.video.two_stream import StreamConvNet

    if flags.trajectory:
        config = dataclasses.replace(config, trajectory=True)
    flags.train_config = config
    return video_lib.train_window_model(
        flags,
        "two_stream",
        flags.stream,
        lambda num_classes: StreamConvNet(
            flags.stream, num_classes, config.height, config.width, config.flow_length, config.trajectory, config.tower
        ),
        stream_window(flags.stream, config.flow_length),
        lambda model: stream_signatures(model, config),
    )


def fuse(flags, config):
    import numpy as np

    from keras_l11.video import task as video_lib
    from keras_l11.video.export import two_stream_signatures
    from keras_l11.video.score_fusion import fit_linear_svm, weighted_average
    from keras_l11.video.task import stream_window

    run_dirs = {"--spatial_from": flags.spatial_from, "--temporal_from": flags.temporal_from}
    run, (_, validation, test), (spatial, temporal) = video_lib.start_fusion(flags, "two_stream", run_dirs)
    windows = [stream_window(m.stream, m.flow_length) for m in (spatial, temporal)]

    def scores_of(videos):
        return [video_lib.video_scores(m, videos, w, config.test_windows) for m, w in zip((spatial, temporal), windows)]

    held_out = scores_of(validation)
    svm = fit_linear_svm(np.stack([s.mean(1) for s in held_out], 1), validation.labels, config.svm_penalty)
    s, t = scores_of(test)
    svm_windows = svm.predict(np.stack([s, t], 2).reshape(-1, 2, s.shape[-1]), verbose=0).reshape(s.shape)
    svm_videos = svm.predict(np.stack([s.mean(1), t.mean(1)], 1), verbose=0)
    names = test.class_names
    evaluation = {
        "spatial": video_lib.accuracies(s, test.labels, names),
        "temporal": video_lib.accuracies(t, test.labels, names),
        "average": video_lib.accuracies(weighted_average([s, t]), test.labels, names),
        "svm": video_lib.accuracies(svm_windows, test.labels, names, per_video=svm_videos),
    }
    run.summary["evaluation"] = evaluation
    print(video_lib.accuracy_table(f"two-stream ({len(test)} test videos)", evaluation))
    run.export(
        svm,
        "two_stream",
        lambda m: two_stream_signatures(spatial, temporal, m, config.test_windows),
        assets=(spatial, temporal),
    )
    run.write_summary()
    return run.summary


def main(argv=None):
    flags = cli.parse_flags(
        __spec__.name, __doc__, TWO_STREAM_CONFIGS, add_job_flags, argv, specialize=two_stream_for_stream
    )
    return (fuse if flags.fuse else train_stream)(flags, flags.train_config)


if __name__ == "__main__":
    cli.run_main(main)
