"""Images with labelled boxes: generated digit canvases offline, PASCAL VOC 2007
through TFDS when it is there.

An example is a dict: `image` uint8 `[H, W, 3]`, `boxes` float32 `[n, 4]` as
`x1, y1, x2, y2` in pixels, `classes` int32 `[n]`.

Offline: MNIST digits pasted in colour on cluttered canvases
(`keras_l11.data.mnist.digit_canvases`, shared with segmentation and video), with
exact boxes. Classes are the digits 0-9.
"""

import numpy as np

from keras_l11.data.install import prepared_tfds
from keras_l11.data.mnist import DIGIT_NAMES, digit_canvas, digit_canvases
from keras_l11.data.voc import VOC_NAMES

__all__ = ["DIGIT_NAMES", "VOC_NAMES", "digit_canvas", "digit_canvases", "load_examples", "voc2007"]


def voc2007(split):
    """PASCAL VOC 2007 from TFDS (`voc/2007`, prepared beforehand: nothing is
    downloaded here), as examples with pixel boxes, the 20 classes and VOC's
    `difficult` flags (which training leaves out and evaluation ignores, as
    in the VOC protocol and the R-CNN code)."""
    import tensorflow_datasets as tfds

    data = prepared_tfds("voc/2007", split)
    examples = []
    for ex in tfds.as_numpy(data):
        h, w = ex["image"].shape[:2]
        ymin, xmin, ymax, xmax = np.asarray(ex["objects"]["bbox"]).T
        boxes = np.stack([xmin * w, ymin * h, xmax * w, ymax * h], axis=1).astype(np.float32)
        classes, difficult = ex["objects"]["label"].astype(np.int32), ex["objects"]["is_difficult"].astype(bool)
        examples.append({"image": ex["image"], "boxes": boxes, "classes": classes, "difficult": difficult})
    return examples


def load_examples(config):
    """`(train, test, class names)`."""
    if config.data == "digits":
        train = digit_canvases(config.train_images, "train", seed=0, size=config.image_size)
        test = digit_canvases(config.test_images, "test", seed=1, size=config.image_size)
        return train, test, DIGIT_NAMES
    if config.data == "voc2007":
        return voc2007("train+validation"), voc2007("test"), VOC_NAMES
    raise ValueError(f"data must be 'digits' or 'voc2007', got {config.data!r}")
