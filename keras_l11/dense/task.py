"""What the dense-prediction jobs share: their data and evaluation protocols (the
FCN paper's four segmentation measures, Eigen et al.'s depth errors)."""

import numpy as np
import tensorflow as tf

from keras_l11.dense import depth_data, figures
from keras_l11.dense import segmentation_data as seg_data
from keras_l11.dense.depth_metrics import depth_scores
from keras_l11.dense.segmentation_metrics import confusion_matrix, segmentation_scores
from keras_l11.ops.images import image_dataset


def load_segmentation(config, data_path):
    """`(train, test, class names)`; each split is `(images, masks)`."""
    if config.data == "digits":
        train = seg_data.digit_segmentation(config.train_images, "train", 0, config.image_size)
        test = seg_data.digit_segmentation(config.test_images, "test", 1, config.image_size)
        return train, test, seg_data.DIGIT_SEGMENT_NAMES
    if config.data == "voc2012":
        if not data_path:
            raise FileNotFoundError("--config paper needs --data_path, the VOC2012 devkit folder")
        train = seg_data.voc2012_segmentation(data_path, "train", config.image_size)
        test = seg_data.voc2012_segmentation(data_path, "val", config.image_size)
        return train, test, seg_data.VOC_SEGMENT_NAMES
    raise ValueError(f"data must be 'digits' or 'voc2012', got {config.data!r}")


def segmentation_dataset(split, batch, shuffle_seed=None):
    images, masks = split
    return image_dataset(images, masks.astype(np.int32), batch, shuffle_seed)


def predict_classes(model, images, batch=16):
    return np.concatenate(
        [
            np.argmax(model(tf.cast(images[i : i + batch], tf.float32), training=False), -1)
            for i in range(0, len(images), batch)
        ]
    )


def evaluate_segmentation(model, test, num_classes):
    """The four measures of the model and of predicting background everywhere."""
    predicted = predict_classes(model, test[0])
    scores = segmentation_scores(confusion_matrix(test[1], predicted, num_classes))
    baseline = segmentation_scores(confusion_matrix(test[1], np.zeros_like(test[1]), num_classes))
    return {**scores, **{f"baseline_{k}": v for k, v in baseline.items()}}, predicted


def load_depth(config):
    """`(train, test)`; each split is `(images uint8 [N, H, W, 3], depth float32 [N, H, W])`."""
    if config.data == "rendered":
        make = lambda n, seed: depth_data.rendered_scenes(n, seed, config.model.width, config.model.height)  # noqa: E731
        splits = make(config.train_images, 0), make(config.test_images, 1)
    elif config.data == "nyu":
        splits = (
            depth_data.nyu_depth_v2("train", config.model.width, config.model.height),
            depth_data.nyu_depth_v2("validation", config.model.width, config.model.height),
        )
    else:
        raise ValueError(f"data must be 'rendered' or 'nyu', got {config.data!r}")
    return tuple((np.stack([e["image"] for e in s]), np.stack([e["depth"] for e in s])) for s in splits)


def at_output_size(depth):
    """Depth `[N, H, W]` at the network's output size `[N, H / 4, W / 4]`: each
    output pixel gets the depth at the centre of its 4 x 4 cell (a missing
    centre stays missing)."""
    return depth[:, 2::4, 2::4]


def depth_dataset(split, batch, shuffle_seed=None):
    images, depth = split
    return image_dataset(images, at_output_size(depth), batch, shuffle_seed)


def predict_depth(model, images, size=None, batch=64):
    """Depth maps in metres of `images`, resized bilinearly to `size` (default:
    the images' own size)."""
    size = size or images.shape[1:3]
    out = []
    for i in range(0, len(images), batch):
        log_depth = model(tf.cast(images[i : i + batch], tf.float32), training=False)
        out.append(tf.image.resize(tf.exp(log_depth)[..., None], size, method="bilinear")[..., 0].numpy())
    return np.concatenate(out)


def evaluate_depth(model, train, test):
    """The paper's measures at full resolution, and those of the mean training depth map."""
    scores = depth_scores(predict_depth(model, test[0]), test[1])
    valid = np.where(train[1] > 0, train[1], np.nan)
    mean_map = np.nan_to_num(np.nanmean(valid, axis=0), nan=float(np.nanmean(valid)))
    baseline = depth_scores(np.broadcast_to(mean_map, test[1].shape), test[1])
    return {**scores, **{f"baseline_{k}": v for k, v in baseline.items()}}


def plot_depth_examples(model, test, path, count=3):
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
