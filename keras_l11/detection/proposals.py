"""Region proposals for R-CNN: selective search, and sliding windows to compare.

Selective search (Uijlings et al. 2013) is OpenCV's `cv2.ximgproc`
implementation: Felzenszwalb's graph segmentation, then hierarchical grouping
of neighbouring regions by colour, texture, size and fill similarity, over
several colour spaces and segmentation scales ("fast": HSV and Lab, two
strategies; "quality": more colour spaces, strategies and scales). R-CNN used
fast mode, about 2,000 proposals per image. It runs on the CPU outside the
TensorFlow graph, so the exported detector takes proposals as an input and
`keras_l11.detection.proposals` is also the client's library for computing them.

`python -m keras_l11.data.install` provides `cv2.ximgproc` (see there why the
contrib wheel needs care).
"""

import ctypes

import numpy as np

try:
    _C_LIBRARY = ctypes.CDLL(None)  # the process's C library, whose rand() OpenCV's ranking uses
except OSError:  # not on every platform
    _C_LIBRARY = None


def _seed_c_rand(seed):
    if _C_LIBRARY is not None and hasattr(_C_LIBRARY, "srand"):
        _C_LIBRARY.srand(int(seed))


def selective_search(image, mode="fast", max_proposals=2000, min_size=4, seed=0):
    """Boxes `[n, 4]` float32 (`x1, y1, x2, y2`, pixels) of an RGB uint8 image
    in OpenCV's ranking (the paper's: hierarchy level times a random number),
    the first `max_proposals` after duplicates and boxes narrower than
    `min_size` pixels are dropped.

    OpenCV draws the ranking's random numbers from C's `rand()`, which is
    seeded with `seed` first so that an image always gets the same ranking.
    `rand()` is process-wide: run searches in parallel in processes, not
    threads (as the pipeline of `keras_l11.detection.prepare` does)."""
    try:
        from cv2 import ximgproc
    except ImportError:
        raise ImportError(
            "selective search needs cv2.ximgproc (opencv-contrib-python-headless); "
            "run: python -m keras_l11.data.install"
        ) from None
    import cv2

    if mode not in ("fast", "quality"):
        raise ValueError(f"mode must be 'fast' or 'quality', got {mode!r}")
    image = np.ascontiguousarray(np.asarray(image, np.uint8)[..., ::-1])  # OpenCV wants BGR
    cv2.setNumThreads(1)  # per-image work; parallelism belongs to the caller
    _seed_c_rand(seed)
    search = ximgproc.segmentation.createSelectiveSearchSegmentation()
    search.setBaseImage(image)
    (search.switchToSelectiveSearchFast if mode == "fast" else search.switchToSelectiveSearchQuality)()
    rects = np.asarray(search.process(), np.float32).reshape(-1, 4)  # x, y, w, h
    rects = rects[(rects[:, 2] >= min_size) & (rects[:, 3] >= min_size)]
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
    _, first = np.unique(boxes, axis=0, return_index=True)
    return boxes[np.sort(first)][:max_proposals]


def sliding_windows(height, width, count, sizes=(0.2, 0.3, 0.45, 0.65), aspect_ratios=(0.5, 1.0, 2.0)):
    """About `count` windows `[n, 4]` on a regular grid at several sizes (fractions
    of the image's shorter side) and aspect ratios (width / height): the
    exhaustive search that proposals replace."""
    shorter = min(height, width)
    shapes = [(shorter * s * np.sqrt(a), shorter * s / np.sqrt(a)) for s in sizes for a in aspect_ratios]
    per_shape = max(1, count // len(shapes))
    windows = []
    for w, h in shapes:
        w, h = min(w, width), min(h, height)
        # A grid whose number of positions matches the free space in each direction.
        free_x, free_y = width - w, height - h
        nx = max(1, int(round(np.sqrt(per_shape * (free_x + 1) / (free_y + 1)))))
        ny = max(1, int(round(per_shape / nx)))
        for y in np.linspace(0, free_y, ny):
            for x in np.linspace(0, free_x, nx):
                windows.append([x, y, x + w, y + h])
    return np.asarray(windows, np.float32)


def recall(proposals, truths, iou_threshold=0.5):
    """The fraction of ground-truth boxes (over all images) that some proposal
    covers with IoU >= `iou_threshold`; `proposals` and `truths` are per-image
    lists of `[n, 4]` arrays."""
    from keras_l11.detection.metrics import box_iou

    found = total = 0
    for p, t in zip(proposals, truths):
        t = np.asarray(t).reshape(-1, 4)
        total += len(t)
        if len(t) and len(p):
            found += int(np.sum(box_iou(t, p).max(axis=1) >= iou_threshold))
    return found / total if total else 0.0


def padded(per_image):
    """Per-image `[n_i, 4]` boxes -> `(proposals [B, max n_i, 4], num_proposals
    [B])`, the inputs of the exported `detect` signature."""
    counts = np.array([len(p) for p in per_image], np.int32)
    out = np.zeros((len(per_image), max(1, counts.max(initial=0)), 4), np.float32)
    for i, p in enumerate(per_image):
        out[i, : len(p)] = p
    return out, counts
