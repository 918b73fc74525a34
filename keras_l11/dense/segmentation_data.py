"""Semantic segmentation data: digit canvases with exact masks (offline) and
PASCAL VOC from the user's own folders.

TFDS's `voc` builder has boxes but no segmentation masks, so these read the
data sets' own files:

- a VOC devkit (`VOC2011/` or `VOC2012/`): `JPEGImages/`, the palette PNGs of
  `SegmentationClass/` (0 background, 1-20 the classes, 255 the boundary band
  that evaluation ignores) and the split lists of `ImageSets/Segmentation/`;
- the Semantic Boundaries Dataset of Hariharan et al. (2011), SBD
  (`benchmark_RELEASE/dataset/`): `train.txt`, `img/<name>.jpg` and
  `cls/<name>.mat`, a MATLAB struct `GTcls` whose `Segmentation` is the class map.

The FCN paper (Long et al. 2015, section 4.3 and footnote 7) trains on SBD's 8,498
training images and validates on the 736 images of VOC 2011 segmentation val that
are not among them ("seg11valid"), at each image's own size: `fcn_paper_splits`.
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


def read_voc_pair(root, name):
    """`(image uint8 [H, W, 3], mask uint8 [H, W])` of one devkit image at its own size."""
    from PIL import Image

    image = np.asarray(Image.open(os.path.join(root, "JPEGImages", f"{name}.jpg")).convert("RGB"))
    mask = np.asarray(Image.open(os.path.join(root, "SegmentationClass", f"{name}.png")), np.uint8)
    return _checked(image, mask, name)


def read_sbd_pair(root, name):
    """`(image, mask)` of one SBD image: `img/<name>.jpg` and `cls/<name>.mat`'s
    `GTcls.Segmentation` (0 background, 1-20 the classes)."""
    from PIL import Image
    from scipy.io import loadmat

    image = np.asarray(Image.open(os.path.join(root, "img", f"{name}.jpg")).convert("RGB"))
    try:
        mask = loadmat(os.path.join(root, "cls", f"{name}.mat"), squeeze_me=True, struct_as_record=False)
        mask = np.asarray(mask["GTcls"].Segmentation, np.uint8)
    except (KeyError, AttributeError) as err:
        raise ValueError(f"{root}/cls/{name}.mat: no GTcls.Segmentation ({err})") from None
    return _checked(image, mask, name)


def _checked(image, mask, name):
    if image.shape[:2] != mask.shape:
        raise ValueError(f"{name}: image {image.shape[:2]} and mask {mask.shape} differ in size")
    return image, mask


def read_list(path, what):
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: {what}")
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


class SegmentationFiles:
    """A split read from disk one image at a time, at each image's own size:
    `len()`, `[i] -> (image, mask)`, `names`."""

    def __init__(self, root, names, reader):
        self.root, self.names, self.reader = root, list(names), reader

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        return self.reader(self.root, self.names[i])


def fcn_paper_splits(voc2011_root, sbd_root):
    """`(train, val)`: SBD's training images, and VOC 2011 segmentation val less
    every image SBD trains on (the paper's 736 "seg11valid" images)."""
    sbd_train = read_list(
        os.path.join(sbd_root, "train.txt"), "--sbd_path must be SBD's dataset folder (benchmark_RELEASE/dataset)"
    )
    val11 = read_list(
        os.path.join(voc2011_root, "ImageSets", "Segmentation", "val.txt"),
        "--data_path must be a VOC2011 devkit folder (VOC2011/)",
    )
    seen = set(sbd_train)
    return (
        SegmentationFiles(sbd_root, sbd_train, read_sbd_pair),
        SegmentationFiles(voc2011_root, [n for n in val11 if n not in seen], read_voc_pair),
    )
