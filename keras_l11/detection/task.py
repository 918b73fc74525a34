"""What the R-CNN job and its benchmark share: cached proposals, and running a
detector over a data set."""

import concurrent.futures
import functools
import hashlib
import multiprocessing
import os

import numpy as np

from keras_l11.data.install import data_dir
from keras_l11.detection import proposals as proposal_lib


def cached_proposals(examples, name, mode="fast", max_proposals=2000, workers=None):
    """Selective search boxes of each example's image, computed once (in
    `workers` processes; default one per core from 100 images on) and kept in
    the data cache under `proposals/<name>-<hash of the images>.npz`.

    The processes are started fresh ("spawn"; forking a process that runs
    TensorFlow is unsafe), so a script that calls this needs the usual
    `if __name__ == "__main__":` guard.
    """
    digest = hashlib.sha1()
    for ex in examples:
        digest.update(np.ascontiguousarray(ex["image"]).tobytes())
    path = os.path.join(data_dir(), "proposals", f"{name}-{mode}-{max_proposals}-{digest.hexdigest()[:12]}.npz")
    if os.path.exists(path):
        with np.load(path) as cached:
            return [cached[str(i)] for i in range(len(examples))]
    try:
        from tqdm import tqdm
    except ImportError:  # progress is a nicety
        tqdm = lambda xs, **_: xs  # noqa: E731
    search = functools.partial(proposal_lib.selective_search, mode=mode, max_proposals=max_proposals)
    images = (ex["image"] for ex in examples)
    if workers is None:  # a process pool starts in seconds: worth it for many images only
        workers = (os.cpu_count() or 1) if len(examples) >= 100 else 1
    workers = min(len(examples), workers)
    progress = dict(total=len(examples), desc=f"selective search ({name})", mininterval=5)
    if workers <= 1:
        boxes = list(tqdm(map(search, images), **progress))
    else:  # fresh interpreters: forking a process that runs TensorFlow is unsafe
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            boxes = list(tqdm(pool.map(search, images, chunksize=8), **progress))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    staged = path + ".part.npz"
    np.savez_compressed(staged, **{str(i): b for i, b in enumerate(boxes)})
    os.replace(staged, path)
    return boxes


def run_detector(detect_fn, examples, proposals, batch_size=8):
    """Detections `[{"boxes", "scores", "classes"}]` per example from
    `detect_fn(images, proposals, num_proposals) -> detection dict`."""
    results = []
    for i in range(0, len(examples), batch_size):
        chunk = examples[i : i + batch_size]
        boxes, counts = proposal_lib.padded(proposals[i : i + batch_size])
        images = np.stack([ex["image"] for ex in chunk]).astype(np.float32)
        out = {k: v.numpy() for k, v in detect_fn(images, boxes, counts).items()}
        for b in range(len(chunk)):
            n = int(out["num_detections"][b])
            results.append(
                {
                    "boxes": out["detection_boxes"][b, :n],
                    "scores": out["detection_scores"][b, :n],
                    "classes": out["detection_classes"][b, :n],
                }
            )
    return results
