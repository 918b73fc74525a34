"""Data for the generative models and the autoencoders.

- Binarised MNIST as in the density-estimation papers (Salakhutdinov & Murray
  2008, used by NADE and DARN): MNIST's 50,000 / 10,000 / 10,000 split, each
  pixel drawn once as a Bernoulli of its grey level, with a fixed seed per
  split, so every run sees the same binary images.
- Fashion-MNIST (Debian's `dataset-fashion-mnist`, IDX files): images that are
  not digits, for the autoencoders' "off the data" reconstruction error.
- Uniform noise images, the other kind of input that is not a training sample.
- A 2-D toy set on a curve, for the autoencoders' energy pictures.
- Atari frames that the user supplies (a folder of PNG frames), binarised, for
  DARN's `paper` config on Atari 2600 games.
"""

import gzip
import os

import numpy as np

from keras_l11.data.install import FASHION_MNIST_DIR, INSTALL_COMMAND
from keras_l11.data.mnist import grey_mnist

FASHION_MNIST_FILES = {"train": "train-images-idx3-ubyte.gz", "test": "t10k-images-idx3-ubyte.gz"}
BINARIZATION_SEEDS = {"train": 1, "valid": 2, "test": 3}  # fixed: the same binary images in every run


def binarize(grey, seed):
    """Each pixel 1 with probability its grey level (stochastic binarisation), float32 {0, 1}."""
    return (np.random.default_rng(seed).random(grey.shape, dtype=np.float32) < grey).astype(np.float32)


def binarized_mnist(split, limit=None):
    """Binarised MNIST `[N, 28, 28]` float32 in {0, 1}, the same in every call.

    Args:
        split: "train", "valid" or "test".
        limit: keep the first `limit` images (smoke runs).
    """
    grey = grey_mnist(split)[:limit]
    return binarize(grey, BINARIZATION_SEEDS[split])


def read_idx_images(path):
    """Images `[N, rows, cols]` uint8 from an IDX file (`.gz` or not)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, count, rows, cols = np.frombuffer(data[:16], ">i4")
    if magic != 2051:
        raise ValueError(f"{path} is not an IDX image file (magic {magic}, expected 2051)")
    pixels = np.frombuffer(data, np.uint8, offset=16)
    if pixels.size != count * rows * cols:
        raise ValueError(f"{path}: {pixels.size} pixels for {count} images of {rows} x {cols}")
    return pixels.reshape(count, rows, cols)


def fashion_mnist(split, folder=FASHION_MNIST_DIR):
    """Fashion-MNIST images of `split` ("train" 60k or "test" 10k) as float32 in [0, 1], `[N, 28, 28]`."""
    path = os.path.join(folder, FASHION_MNIST_FILES[split])
    if not os.path.exists(path):
        raise FileNotFoundError(f"Fashion-MNIST is not installed ({path}); run: {INSTALL_COMMAND}")
    return read_idx_images(path).astype(np.float32) / 255.0


def noise_images(count, shape=(28, 28), seed=0):
    """Uniform noise images in [0, 1]: inputs as unlike digits as can be."""
    return np.random.default_rng(seed).random((count, *shape), dtype=np.float32)


def curve_points(count, noise=0.02, seed=0):
    """Points `[count, 2]` near the curve `y = 0.6 sin(2.5 x)`, x in [-0.9, 0.9]:
    2-D data on a curve, whose reconstruction energy an autoencoder with a
    limited code makes low only along the curve."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.9, 0.9, count)
    points = np.stack([x, 0.6 * np.sin(2.5 * x)], -1)
    return (points + rng.normal(0.0, noise, points.shape)).astype(np.float32)


def png_frames(folder, height, width, threshold=0.5, limit=None):
    """Binary frames `[N, height, width]` float32 from a folder of PNG files
    (Atari screens for DARN's `paper` config): grey levels, resized, then
    pixels brighter than `threshold` are 1. Files are read in name order."""
    from PIL import Image

    if not os.path.isdir(folder):
        raise FileNotFoundError(f"no folder of PNG frames at {folder!r} (pass --frames DIR)")
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(".png"))[:limit]
    if not names:
        raise FileNotFoundError(f"{folder!r} holds no .png frames")
    frames = []
    for name in names:
        with Image.open(os.path.join(folder, name)) as image:
            grey = image.convert("L").resize((width, height), Image.BILINEAR)
        frames.append(np.asarray(grey, np.float32) / 255.0 > threshold)
    return np.stack(frames).astype(np.float32)
