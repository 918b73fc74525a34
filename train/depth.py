"""Depth from a single image (Eigen, Puhrsch & Fergus 2014): a coarse global
network, then a fine local network that refines it, trained in two stages
with the scale-invariant loss (lambda = 0.5) in log depth, missing depth
masked.

Offline: rendered rooms with exact depth; `--config paper` reads NYU Depth v2
through TFDS (prepared beforehand) at the paper's 304 x 228. Reported: the
paper's measures (threshold accuracy, abs rel, sq rel, RMSE linear and log,
scale-invariant log RMSE) beside a baseline that predicts the training set's
mean depth map. A figure shows test scenes and scikit-image's real stereo
pair (depth from its ground-truth disparity) beside the predictions.

The export `depth` has `depth` (`serving_default`): encoded `images` ->
`depth [B, H, W]` in metres at each image's size (the batch's largest, for
images of different sizes: each is resized to the network's input on its own
and its map resized back).

    python -m train.depth --stage coarse --config small
    python -m train.depth --stage fine --config small --init_from runs/depth/small-coarse
"""

import dataclasses
import os
import sys

import numpy as np
import tensorflow as tf

from keras_l11.dense import depth_data as depth_data
from keras_l11.dense import figures
from keras_l11.dense.depth import DepthNetwork
from keras_l11.dense.depth_metrics import ScaleInvariantLoss, depth_scores
from keras_l11.ops.images import decode_images, image_dataset, resize_each
from keras_l11.training import harness
from keras_l11.training.config import TrainConfig
from keras_l11.training.export import Signature
from keras_l11.training.transfer import initialize_from, saved_model_file


@dataclasses.dataclass(frozen=True)
class DepthConfig(TrainConfig):
    data: str = "rendered"  # or "nyu"
    height: int = 48
    width: int = 64
    train_images: int = 4000
    test_images: int = 200
    coarse_filters: tuple = (32, 64, 64)
    coarse_kernels: tuple = (5, 3, 3)
    fc_units: int = 256
    fine_filters: int = 32
    dropout: float = 0.0


CONFIGS = {
    "smoke": DepthConfig(
        batch_size=32,
        steps=300,
        steps_per_epoch=100,
        learning_rate=1e-3,
        train_images=600,
        test_images=50,
        fc_units=128,
    ),
    "small": DepthConfig(batch_size=32, steps=3000, steps_per_epoch=300, learning_rate=1e-3, height=96, width=128),
    # The paper (NYU): 304 x 228 input, coarse 96-256-384-384-256 (11 x 11 stride 4 first) and fc 4096 with
    # dropout, fine 63 channels; SGD, batch 32, learning rates 0.001 (coarse convolutions), 0.1 (coarse fc),
    # 0.001 (fine); about 2 M training images from the raw NYU videos.
    "paper": DepthConfig(
        batch_size=32,
        steps=60_000,
        steps_per_epoch=1000,
        learning_rate=1e-3,
        optimizer="sgd",
        data="nyu",
        height=228,
        width=304,
        train_images=0,
        test_images=0,
        coarse_filters=(96, 256, 384, 384, 256),
        coarse_kernels=(11, 5, 3, 3, 3),
        fc_units=4096,
        fine_filters=63,
        dropout=0.5,
    ),
}


def add_job_flags(parser):
    g = parser.add_argument_group("depth")
    g.add_argument("--stage", choices=("coarse", "fine"), default="coarse")
    g.add_argument("--init_from", default="", help="the coarse stage's run folder (needed for --stage fine)")


def load_data(config):
    """`(train, test)`; each split is `(images uint8 [N, H, W, 3], depth float32 [N, H, W])`."""
    if config.data == "rendered":
        make = lambda n, seed: depth_data.rendered_scenes(n, seed, config.width, config.height)  # noqa: E731
        splits = make(config.train_images, 0), make(config.test_images, 1)
    elif config.data == "nyu":
        splits = (
            depth_data.nyu_depth_v2("train", config.width, config.height),
            depth_data.nyu_depth_v2("validation", config.width, config.height),
        )
    else:
        raise ValueError(f"data must be 'rendered' or 'nyu', got {config.data!r}")
    return tuple((np.stack([e["image"] for e in s]), np.stack([e["depth"] for e in s])) for s in splits)


def at_output_size(depth):
    """Depth `[N, H, W]` at the network's output size `[N, H / 4, W / 4]`: each
    output pixel gets the depth at the centre of its 4 x 4 cell (a missing
    centre stays missing)."""
    return depth[:, 2::4, 2::4]


def dataset(split, batch, shuffle_seed=None):
    images, depth = split
    return image_dataset(images, at_output_size(depth), batch, shuffle_seed)


def build_model(config, stage, init_from):
    model = DepthNetwork(
        config.height,
        config.width,
        stage,
        config.coarse_filters,
        config.coarse_kernels,
        config.fc_units,
        config.fine_filters,
        config.dropout,
    )
    if init_from:
        print(f"initialised {len(initialize_from(model, init_from))} layers from {init_from}")
    return model


def predict_depth(model, images, size=None, batch=64):
    """Depth maps in metres of `images`, resized bilinearly to `size` (default:
    the images' own size)."""
    size = size or images.shape[1:3]
    out = []
    for i in range(0, len(images), batch):
        log_depth = model(tf.cast(images[i : i + batch], tf.float32), training=False)
        out.append(tf.image.resize(tf.exp(log_depth)[..., None], size, method="bilinear")[..., 0].numpy())
    return np.concatenate(out)


def evaluate(model, train, test):
    """The paper's measures at full resolution, and those of the mean training depth map."""
    scores = depth_scores(predict_depth(model, test[0]), test[1])
    valid = np.where(train[1] > 0, train[1], np.nan)
    mean_map = np.nan_to_num(np.nanmean(valid, axis=0), nan=float(np.nanmean(valid)))
    baseline = depth_scores(np.broadcast_to(mean_map, test[1].shape), test[1])
    return {**scores, **{f"baseline_{k}": v for k, v in baseline.items()}}


def plot_examples(model, test, path, count=3):
    left, disparity = depth_data.stereo_motorcycle()
    image = np.asarray(tf.image.resize(left[None], [model.height, model.width], antialias=True)[0], np.uint8)
    known = np.isfinite(disparity) & (disparity > 0)
    stereo_depth = np.where(known, 1.0 / np.where(known, disparity, 1.0), 0.0)  # depth up to a scale
    stereo_depth = tf.image.resize(stereo_depth[None, ..., None], [model.height, model.width], "nearest")[0, ..., 0]
    stereo_depth = stereo_depth.numpy()
    predicted = predict_depth(model, np.concatenate([test[0][:count], image[None]]))
    # Stereo gives depth up to a scale: shown at the prediction's median, as the scale-invariant error compares.
    stereo_depth *= np.median(predicted[-1]) / np.median(stereo_depth[stereo_depth > 0])
    rows = [[test[0][k], test[1][k], predicted[k]] for k in range(count)]
    rows.append([image, stereo_depth, predicted[-1]])
    return figures.plot_depth(rows, path, ["image", "true depth", "predicted"])


def signatures(model):
    def depth(images):
        pixels, sizes = decode_images(images)
        # Each image alone resized to the network's input, and its depth map back to the image's size.
        maps = tf.exp(model(resize_each(pixels, sizes, model.height, model.width), training=False))[..., None]
        full = tf.shape(pixels)[1:3]
        back = tf.map_fn(
            lambda args: tf.image.pad_to_bounding_box(tf.image.resize(args[0], args[1]), 0, 0, full[0], full[1]),
            (maps, sizes),
            fn_output_signature=tf.float32,
        )
        return {"depth": back[..., 0], "sizes": sizes}

    signature = Signature(depth, {"images": tf.TensorSpec([None], tf.string)})
    return {"serving_default": signature, "depth": signature}


def main(argv=None):
    flags = harness.parse_flags(__doc__.split("\n\n")[0], CONFIGS, add_job_flags, argv)
    config = flags.train_config
    if flags.stage == "fine" and not flags.init_from:
        sys.exit("error: --stage fine needs --init_from, the coarse stage's run folder")
    with harness.exit_on_missing_data():
        train, test = load_data(config)
        if flags.init_from:
            saved_model_file(flags.init_from)
    run = harness.start(flags, "depth", variant=flags.stage)
    run.summary["stage"] = flags.stage
    result = run.fit(
        build_model=lambda: build_model(config, flags.stage, flags.init_from),
        loss=ScaleInvariantLoss(0.5),
        metrics=lambda: [],
        train_data=lambda batch, seed, start: dataset(train, batch, seed).skip(start),
    )
    model = run.local_copy(result.model)
    evaluation = evaluate(model, train, test)
    run.summary["evaluation"] = evaluation
    measures = ("delta<1.25", "abs_rel", "rmse", "rmse_log", "rmse_log_scale_invariant")
    print(
        harness.format_table(
            [f"{flags.stage} ({len(test[0])} test images)", *measures],
            [
                ["model", *(evaluation[m] for m in measures)],
                ["mean depth map", *(evaluation[f"baseline_{m}"] for m in measures)],
            ],
        )
    )
    if run.is_chief:
        run.summary["figure"] = plot_examples(model, test, os.path.join(run.model_dir, "depth.png"))
    run.save_keras(result.model)
    run.export(result.model, "depth", signatures)
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    harness.run_main(main)
