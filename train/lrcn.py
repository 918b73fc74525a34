"""Long-term recurrent convolutional networks (Donahue et al. 2014) for
activity recognition.

A per-frame CNN feeds an LSTM that predicts the class at every frame of a
16-frame clip; the clip's prediction is the average. One run trains the RGB
model (`--modality rgb`) or the flow model (`--modality flow`, the flow of
each frame pair); `--single_frame` trains the same CNN without the LSTM, the
paper's single-frame baseline. The fusion step averages a trained RGB and
flow model's scores with the paper's weights (1/3 RGB, 2/3 flow) and equal
ones. Test protocol: `test_windows` clips evenly spaced in each video
(the paper: 16-frame clips with stride 8), predictions averaged.

Exports (`classify` = `serving_default`):
- `lrcn_rgb` / `lrcn_flow` (`lrcn_single_frame_rgb` / `_flow` for the
  baseline): `frames [B, V, h, w, 3]` uint8 or `flows [B, V - 1, H, W, 2]` ->
  `probabilities`;
- `lrcn` (fusion step): `frames` and `flows` -> `rgb_probabilities`,
  `flow_probabilities`, the fused `probabilities` and `classes`.
Clients compute flows with `keras_l11.video.flow.video_flows`.

    python -m train.lrcn --modality rgb --config small
    python -m train.lrcn --modality flow --config small
    python -m train.lrcn --fuse --rgb_from runs/lrcn/small-rgb --flow_from runs/lrcn/small-flow
"""

from keras_l11.training import cli
from keras_l11.video.configs import LRCN_CONFIGS, lrcn_for_modality


def add_job_flags(parser):
    g = parser.add_argument_group("LRCN")
    g.add_argument("--modality", choices=("rgb", "flow"), default="rgb")
    g.add_argument("--single_frame", action="store_true", help="the baseline: the same CNN without the LSTM")
    g.add_argument("--fuse", action="store_true", help="fuse two trained models (needs --rgb_from, --flow_from)")
    g.add_argument("--rgb_from", default="", help="the RGB model's run folder")
    g.add_argument("--flow_from", default="", help="the flow model's run folder")


def train_model(flags, config):
    from keras_l11.video import task as video_lib
    from keras_l11.video.export import clip_probabilities, lrcn_signatures
    from keras_l11.video.lrcn import LRCN
    from keras_l11.video.task import lrcn_window

    kind = f"{'single_frame_' if flags.single_frame else ''}{flags.modality}"
    return video_lib.train_window_model(
        flags,
        "lrcn",
        kind,
        lambda num_classes: LRCN(
            flags.modality,
            num_classes,
            config.height,
            config.width,
            config.lstm_units,
            not flags.single_frame,
            config.tower,
        ),
        lrcn_window(flags.modality, config.clip_frames),
        lambda model: lrcn_signatures(model, config),
        window_fn=clip_probabilities,
        per_step_labels=True,
    )


def fuse(flags, config):
    from keras_l11.video import task as video_lib
    from keras_l11.video.export import clip_probabilities, lrcn_fused_signatures
    from keras_l11.video.score_fusion import weighted_average
    from keras_l11.video.task import lrcn_window

    run_dirs = {"--rgb_from": flags.rgb_from, "--flow_from": flags.flow_from}
    run, (_, _, test), (rgb, flow) = video_lib.start_fusion(flags, "lrcn", run_dirs)
    r, f = (
        video_lib.video_scores(
            clip_probabilities(m), test, lrcn_window(m.modality, config.clip_frames), config.test_windows
        )
        for m in (rgb, flow)
    )
    names, w = test.class_names, config.rgb_weight
    evaluation = {
        "rgb": video_lib.accuracies(r, test.labels, names),
        "flow": video_lib.accuracies(f, test.labels, names),
        "fused 1/2, 1/2": video_lib.accuracies(weighted_average([r, f]), test.labels, names),
        f"fused {w:.2g}, {1 - w:.2g}": video_lib.accuracies(weighted_average([r, f], [w, 1 - w]), test.labels, names),
    }
    run.summary["evaluation"] = evaluation
    print(video_lib.accuracy_table(f"LRCN ({len(test)} test videos)", evaluation))
    run.export(rgb, "lrcn", lambda m: lrcn_fused_signatures(m, flow, config), assets=(flow,))
    run.write_summary()
    return run.summary


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, LRCN_CONFIGS, add_job_flags, argv, specialize=lrcn_for_modality)
    return (fuse if flags.fuse else train_model)(flags, flags.train_config)


if __name__ == "__main__":
    cli.run_main(main)
