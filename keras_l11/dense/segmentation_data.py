"""Semantic segmentation data: digit canvases with exact masks (offline) and
PASCAL VOC 2012 from the user's VOCdevkit folder.

TFDS's `voc` builder has boxes but no segmentation masks, so the `paper`
config reads the devkit itself: `JPEGImages/`, the palette PNGs of
`SegmentationClass/` (0 background, 1-20 the classes, 255 the boundary band
that evaluation ignores) and the split lists of `ImageSets/Segmentation/`.
"""

import os

import numpy as np

from keras_l11.data.mnist import DIGIT_NAMES, digit_canvases
from keras_l11.data.voc import VOC_NAMES

DIGIT_SEGMENT_NAMES = ("background",) + DIGIT_NAMES
VOC_SEGMENT_NAMES = ("background",) + tuple(VOC_NAMES)


def digit_segmentation(count, split="train", seed=0, size=96, **kwargs):
    """`(images uint8 [N, S, S, 3], masks uint8 [N, S, S])` of digit canvases
    (`detection.digit_canvas` arguments; 11 classes with background)."""
    kwargs.setdefault("digit_sizes", (size // 4, size // 2))
    kwargs.setdefault("clutter", size // 10)
    kwargs.setdefault("shapes", size // 8)
    canvases = digit_canvases(count, split, seed, size=size, **kwargs)
    return np.stack([c["image"] for c in canvases]), np.stack([c["mask"] for c in canvases])


def voc2012_segmentation(root, split, size):
    """`(images, masks)` of a VOC 2012 segmentation split (`train` or `val`),
    resized to `size x size` (images bilinear, masks nearest)."""
    from PIL import Image

    listing = os.path.join(root, "ImageSets", "Segmentation", f"{split}.txt")
    if not os.path.exists(listing):
        raise FileNotFoundError(f"{listing} not found: --data_path must be a VOC2012 devkit folder (VOC2012/)")
    with open(listing) as f:
        names = [line.strip() for line in f if line.strip()]
    images, masks = [], []
    for name in names:
        image = Image.open(os.path.join(root, "JPEGImages", f"{name}.jpg")).convert("RGB")
        mask = Image.open(os.path.join(root, "SegmentationClass", f"{name}.png"))  # palette indices
        images.append(np.asarray(image.resize((size, size), Image.BILINEAR)))
        masks.append(np.asarray(mask.resize((size, size), Image.NEAREST), np.uint8))
    return np.stack(images), np.stack(masks)
