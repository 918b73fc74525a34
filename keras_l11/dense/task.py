"""What the dense-prediction jobs share: their data and evaluation protocols (the
FCN paper's four segmentation measures, Eigen et al.'s depth errors)."""

import os

import numpy as np
import tensorflow as tf

from keras_l11.dense import depth_data, figures
from keras_l11.dense import segmentation_data as seg_data
from keras_l11.dense.depth_metrics import depth_scores
from keras_l11.dense.segmentation_metrics import IGNORE_LABEL, confusion_matrix, segmentation_scores
from keras_l11.ops.images import image_dataset


def load_segmentation(config, data_path, sbd_path=""):
    """`(train, test, class names)`. Digit canvases are `(images, masks)` arrays;
    VOC splits are `SegmentationFiles`, read from disk at each image's own size:
    "sbd_voc2011" is the FCN paper's (SBD train, VOC 2011 seg11valid), "voc2012"
    the VOC 2012 devkit's own train and val lists."""
    if config.data == "digits":
        train = seg_data.digit_segmentation(config.train_images, "train", 0, config.image_size)
        test = seg_data.digit_segmentation(config.test_images, "test", 1, config.image_size)
        return train, test, seg_data.DIGIT_SEGMENT_NAMES
    if config.data == "sbd_voc2011":
        if not (data_path and sbd_path):
            raise FileNotFoundError(
                "data=sbd_voc2011 needs --data_path, the VOC2011 devkit folder, and --sbd_path, SBD's dataset folder"
            )
        train, test = seg_data.fcn_paper_splits(data_path, sbd_path)
        return train, test, seg_data.VOC_SEGMENT_NAMES
    if config.data == "voc2012":
        if not data_path:
            raise FileNotFoundError("data=voc2012 needs --data_path, the VOC2012 devkit folder")
        lists = os.path.join(data_path, "ImageSets", "Segmentation")
        what = "--data_path must be a VOC2012 devkit folder (VOC2012/)"
        train, test = (
            seg_data.SegmentationFiles(
                data_path, seg_data.read_list(os.path.join(lists, f"{s}.txt"), what), seg_data.read_voc_pair
            )
            for s in ("train", "val")
        )
        return train, test, seg_data.VOC_SEGMENT_NAMES
    raise ValueError(f"data must be 'digits', 'sbd_voc2011' or 'voc2012', got {config.data!r}")


# ImageNet's mean colour: padding that VGG16's preprocessing turns into zeros.
PAD_COLOUR = (124, 117, 104)


def pad_example(image, mask, size):
    """`image` and `mask` at their own scale in the top-left of a `size x size`
    canvas, the rest the mean colour and the ignore label (so that whole images
    of different sizes batch, and the loss sees only their own pixels)."""
    height, width = mask.shape
    if height > size or width > size:
        raise ValueError(f"an image of {height} x {width} does not fit image_size {size}: raise image_size")
    canvas = np.empty((size, size, 3), np.uint8)
    canvas[:] = PAD_COLOUR
    canvas[:height, :width] = image
    labels = np.full((size, size), IGNORE_LABEL, np.uint8)
    labels[:height, :width] = mask
    return canvas, labels


def segmentation_dataset(split, batch, shuffle_seed=None, size=None):
    """Batches of `(images float32, masks int32)`: in-memory arrays as they are,
    files padded to `size x size` (`pad_example`); with a `shuffle_seed`, shuffled
    and endless (training)."""
    if not isinstance(split, seg_data.SegmentationFiles):
        images, masks = split
        return image_dataset(images, masks.astype(np.int32), batch, shuffle_seed)

    def examples():
        rng = np.random.default_rng(shuffle_seed)
        while True:
            order = rng.permutation(len(split)) if shuffle_seed is not None else range(len(split))
            for i in order:
                yield pad_example(*split[i], size)
            if shuffle_seed is None:
                return

    signature = (tf.TensorSpec([size, size, 3], tf.uint8), tf.TensorSpec([size, size], tf.uint8))
    ds = tf.data.Dataset.from_generator(examples, output_signature=signature)
    return ds.batch(batch).map(lambda x, y: (tf.cast(x, tf.float32), tf.cast(y, tf.int32))).prefetch(2)


def predict_classes(model, images, batch=16):
    return np.concatenate(
        [
            np.argmax(model(tf.cast(images[i : i + batch], tf.float32), training=False), -1)
            for i in range(0, len(images), batch)
        ]
    )


def evaluate_segmentation(model, test, num_classes, examples=4):
    """The four measures of the model and of predicting background everywhere,
    each image scored at its own size (files one at a time); returns them and
    `(images, predictions, masks)` of the first `examples` images, for a figure."""
    files = isinstance(test, seg_data.SegmentationFiles)
    if files:
        confusion = np.zeros((num_classes, num_classes), np.int64)
        baseline = np.zeros_like(confusion)
        shown = ([], [], [])
        for i in range(len(test)):
            image, mask = test[i]
            predicted = predict_classes(model, image[None])[0]
            confusion += confusion_matrix(mask, predicted, num_classes)
            baseline += confusion_matrix(mask, np.zeros_like(mask), num_classes)
            if i < examples:
                for kept, value in zip(shown, (image, predicted, mask)):
                    kept.append(value)
    else:
        predicted = predict_classes(model, test[0])
        confusion = confusion_matrix(test[1], predicted, num_classes)
        baseline = confusion_matrix(test[1], np.zeros_like(test[1]), num_classes)
        shown = (test[0][:examples], predicted[:examples], test[1][:examples])
    scores, base = segmentation_scores(confusion), segmentation_scores(baseline)
    count = len(test) if files else len(test[0])
    return {**scores, **{f"baseline_{k}": v for k, v in base.items()}, "images": count}, shown


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


def at_output_size(depth, out_hw):
    """Depth `[N, H, W]` at the network's output size `out_hw`: each output pixel
    gets the depth at the centre of its cell of the input (a missing centre stays
    missing); for H / 4 x W / 4 that is `depth[:, 2::4, 2::4]`."""
    rows, cols = (((np.arange(n) + 0.5) * size / n).astype(int) for n, size in zip(out_hw, depth.shape[1:]))
    return depth[:, rows][:, :, cols]


def depth_dataset(split, batch, shuffle_seed=None, out_hw=None):
    images, depth = split
    out_hw = out_hw or (images.shape[1] // 4, images.shape[2] // 4)
    return image_dataset(images, at_output_size(depth, out_hw), batch, shuffle_seed)


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
