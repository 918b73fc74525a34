"""Video data sets for the video models: frames and their optical flow,
computed once and cached on disk.

A `VideoSet` holds `frames [N, T, H, W, 3]` uint8, `flows [N, T - 1, H, W, 2]`
float16 (the flow of each consecutive pair, `keras_l11.video.flow`) and
`labels [N]`. Sets are built once into the data cache (`$KERAS_L11_DATA/video/`)
as memory-mapped `.npy` files (`build_video_set`): flow is the expensive
part (the two-stream paper also precomputed it), it is computed in worker processes with a progress bar,
and a set larger than memory (UCF-101) is read a window at a time.

Offline: clips of a moving MNIST digit whose class is a (digit, motion) pair,
so that a single frame shows the digit but not the motion, and flow shows the
motion but hardly the digit: the spatial and temporal streams have measurably
different strengths and their fusion needs both. Motions: translation right,
translation left, rotation, and oscillation (back and forth with a period of 8
frames, which a single pair of frames cannot tell from translation). Each clip
draws a speed, a start position and a background; the digit's colour
contrasts with the background.

The papers' data: UCF-101 through TFDS when it has been prepared
(`tfds build ucf101`), each video cut to its central T frames. Real footage
for flow: OpenCV's `vtest.avi` (Debian `opencv-doc`).
"""

import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import shutil

import numpy as np

from keras_l11.data import install
from keras_l11.data import mnist as mnist_data

MOTIONS = ("right", "left", "rotate", "oscillate")
DIGITS = (0, 1, 7)
CLASS_NAMES = tuple(f"{d} {m}" for d in DIGITS for m in MOTIONS)
OSCILLATION_PERIOD = 8  # frames


def _pose(motion, t, speed, phase):
    """`(dx, angle)` of the digit at frame t (pixels, degrees)."""
    if motion == "right":
        return speed * t, 0.0
    if motion == "left":
        return -speed * t, 0.0
    if motion == "rotate":
        return 0.0, 12.0 * speed * t
    return 3.0 * speed * np.sin(2 * np.pi * t / OSCILLATION_PERIOD + phase), 0.0


def digit_and_motion(labels):
    """`(digit index, motion index)` arrays of class labels (indices into `DIGITS`, `MOTIONS`)."""
    labels = np.asarray(labels)
    return labels // len(MOTIONS), labels % len(MOTIONS)


def moving_digit_clip(rng, label, split="train", frames=24, size=64, digit_size=28):
    """`[frames, size, size, 3]` uint8: the class `label`'s digit moving as its motion says."""
    from PIL import Image

    digit, motion = DIGITS[label // len(MOTIONS)], MOTIONS[label % len(MOTIONS)]
    digits, labels = mnist_data.mnist(split)
    sample = digits[rng.choice(np.flatnonzero(labels == digit))]
    speed, phase = rng.uniform(1.0, 2.0), rng.uniform(0, 2 * np.pi)
    span = size - digit_size
    if motion in ("right", "left"):  # slower in longer clips, so the digit stays in the frame
        speed = min(speed, rng.uniform(0.6, 1.0) * span / (frames - 1))
    travel = speed * (frames - 1) if motion in ("right", "left") else 0.0
    x0 = rng.uniform(travel if motion == "left" else 0, span - (travel if motion == "right" else 0))
    if motion == "oscillate":
        x0 = np.clip(x0, 3 * speed, span - 3 * speed)
    y0 = rng.uniform(0, span)
    background = np.full((size, size, 3), rng.uniform(0, 255, 3), np.float32)
    background += rng.normal(0, 4, background.shape)
    colour = mnist_data.contrasting_colour(background.mean(axis=(0, 1)), rng)
    clip = []
    for t in range(frames):
        dx, angle = _pose(motion, t, speed, phase)
        alpha = Image.fromarray(sample).resize((digit_size, digit_size), Image.BILINEAR).rotate(angle, Image.BILINEAR)
        alpha = np.asarray(alpha, np.float32) / 255.0
        frame = background.copy()
        x, y = int(round(x0 + dx)), int(round(y0))
        mnist_data.paste(frame, alpha, colour, x, y)
        clip.append(np.clip(np.round(frame), 0, 255).astype(np.uint8))
    return np.stack(clip)


def _moving_digit_videos(count, split, seed, frames, size):
    """`(clip, label)` of `count` videos, classes balanced, in a seeded random order."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(CLASS_NAMES)
    rng.shuffle(labels)
    return ((moving_digit_clip(rng, int(k), split, frames, size), int(k)) for k in labels)


def moving_digit_clips(count, split="train", seed=0, frames=24, size=64):
    """`(clips uint8 [N, frames, size, size, 3], labels int32 [N])` in memory (no flow, no cache)."""
    clips, labels = zip(*_moving_digit_videos(count, split, seed, frames, size))
    return np.stack(clips), np.array(labels, np.int32)


@dataclasses.dataclass
class VideoSet:
    """Videos of one length and size with their flow (arrays or memory maps)."""

    frames: np.ndarray  # [N, T, H, W, 3] uint8
    flows: np.ndarray  # [N, T - 1, H, W, 2] float16, pixels
    labels: np.ndarray  # [N] int32
    class_names: tuple

    def __len__(self):
        return len(self.labels)

    @property
    def num_classes(self):
        return len(self.class_names)


def _progress(total, desc):
    try:
        from tqdm import tqdm
    except ImportError:  # progress is a nicety
        return None
    return tqdm(total=total, desc=desc, mininterval=5)


def _compute_flows(directory, start, stop, method):
    """Fills `flows.npy[start:stop]` from `frames.npy` (runs in a worker process)."""
    from keras_l11.video.flow import video_flows

    frames = np.load(os.path.join(directory, "frames.npy"), mmap_mode="r")
    flows = np.load(os.path.join(directory, "flows.npy"), mmap_mode="r+")
    for i in range(start, stop):
        flows[i] = video_flows(frames[i], method).astype(np.float16)
    flows.flush()
    return stop - start


def _remove_abandoned_builds(directory):
    """Deletes `<directory>.part-<pid>` folders whose process is gone (killed builds)."""
    parent, base = os.path.split(directory)
    for entry in os.listdir(parent) if os.path.isdir(parent) else ():
        if entry.startswith(base + ".part-"):
            try:
                os.kill(int(entry.rsplit("-", 1)[1]), 0)
            except (ValueError, ProcessLookupError):
                shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)
            except PermissionError:  # alive, another user's
                pass


def _write_video_set(directory, videos, count, frames, height, width, class_names, method, workers):
    """Frames, labels, then flows (in `workers` processes) into `directory`."""
    name = os.path.basename(directory).split(".part-")[0]
    stored = np.lib.format.open_memmap(
        os.path.join(directory, "frames.npy"), "w+", np.uint8, (count, frames, height, width, 3)
    )
    labels = np.zeros(count, np.int32)
    progress = _progress(count, f"{name}: frames")
    n = 0
    for clip, label in videos:
        if n == count:
            break
        stored[n], labels[n] = clip, label
        n += 1
        progress and progress.update()
    progress and progress.close()
    if n != count:
        raise ValueError(f"{name}: expected {count} videos, got {n}")
    stored.flush()
    del stored
    np.save(os.path.join(directory, "labels.npy"), labels)
    np.lib.format.open_memmap(
        os.path.join(directory, "flows.npy"), "w+", np.float16, (count, frames - 1, height, width, 2)
    ).flush()
    chunks = [(directory, s, min(s + 16, count), method) for s in range(0, count, 16)]
    progress = _progress(count, f"{name}: {method} optical flow")
    if workers is None:  # a process pool starts in seconds: worth it for many videos only
        workers = (os.cpu_count() or 1) if count >= 200 else 1
    if workers <= 1:
        for chunk in chunks:
            progress and progress.update(_compute_flows(*chunk))
    else:  # fresh interpreters: forking a process that runs TensorFlow is unsafe
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            for done in pool.map(_compute_flows, *zip(*chunks)):
                progress and progress.update(done)
    progress and progress.close()
    with open(os.path.join(directory, "complete.json"), "w") as f:
        json.dump({"class_names": list(class_names), "method": method}, f)


def build_video_set(name, videos, count, frames, height, width, class_names, method="farneback", workers=None):
    """The cached `VideoSet` called `name`, built from `videos` (an iterable
    of `(frames uint8 [frames, height, width, 3], label)`) when it is not
    cached yet.

    A build writes into `<name>.part-<pid>` and renames it into place when
    complete, so a killed build leaves nothing half-made (the next build
    removes its folder), and processes that build one set at once (the workers
    of a multi-worker job) do not clobber one another: the first to finish wins.
    """
    directory = os.path.join(install.cache_dir(), "video", name)
    if not os.path.exists(os.path.join(directory, "complete.json")):
        _remove_abandoned_builds(directory)
        staging = f"{directory}.part-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        os.makedirs(staging)
        try:
            _write_video_set(staging, videos, count, frames, height, width, class_names, method, workers)
            os.rename(staging, directory)
        except OSError:
            if not os.path.exists(os.path.join(directory, "complete.json")):
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # gone if renamed; another process's set won
    with open(os.path.join(directory, "complete.json")) as f:
        meta = json.load(f)
    return VideoSet(
        np.load(os.path.join(directory, "frames.npy"), mmap_mode="r"),
        np.load(os.path.join(directory, "flows.npy"), mmap_mode="r"),
        np.load(os.path.join(directory, "labels.npy")),
        tuple(meta["class_names"]),
    )


def moving_digit_set(count, split="train", seed=0, frames=24, size=64, method="farneback"):
    """`count` moving-digit videos (`moving_digit_clips`' videos) with their flow, cached."""
    videos = _moving_digit_videos(count, split, seed, frames, size)
    name = f"digits-{split}-{count}-{seed}-{frames}x{size}-{method}"
    return build_video_set(name, videos, count, frames, size, size, CLASS_NAMES, method)


def _central(video, frames, height, width):
    """The central `frames` frames (the last repeated if the video is shorter), resized."""
    import cv2

    start = max(0, (len(video) - frames) // 2)
    picked = [video[min(start + t, len(video) - 1)] for t in range(frames)]
    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in picked])


def ucf101_set(split, frames, height, width, method="farneback", config="ucf101_1_256", data_dir=None):
    """UCF-101 (`split` of TFDS's `config`: "train", "test" or a slice such
    as "train[:90%]") as a cached
    `VideoSet`: each video cut to its central `frames` frames at
    `height x width`. Needs TFDS's prepared data; never downloads."""
    import tensorflow_datasets as tfds

    name = f"ucf101/{config}"
    ds = install.prepared_tfds(name, split, data_dir)
    info = tfds.builder(name, data_dir=data_dir or os.environ.get("TFDS_DATA_DIR") or None).info
    videos = ((_central(ex["video"], frames, height, width), int(ex["label"])) for ex in tfds.as_numpy(ds))
    count = int(ds.cardinality())
    if count < 0:
        try:
            count = info.splits[split].num_examples
        except KeyError:  # no split metadata: count them (decodes every video once more)
            count = sum(1 for _ in ds)
    safe_split = "".join(c if c.isalnum() else "_" for c in split)
    key = f"ucf101-{config}-{safe_split}-{frames}x{height}x{width}-{method}"
    return build_video_set(key, videos, count, frames, height, width, info.features["label"].names, method)


def read_video(path, count=None, width=None):
    """Frames of a video file (anything OpenCV reads) as RGB uint8 `[T, H, W,
    3]`: the first `count`, resized to `width` pixels wide if given."""
    import cv2

    capture = cv2.VideoCapture(path)
    frames = []
    while count is None or len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        if width:
            height = round(frame.shape[0] * width / frame.shape[1])
            frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    capture.release()
    if not frames:
        raise ValueError(f"no frames could be read from {path} (not a video OpenCV can decode?)")
    return np.stack(frames)


def vtest_frames(count=None, width=None):
    """Frames of OpenCV's example video `vtest.avi` (768 x 576 pedestrians, 10
    fps; Debian `opencv-doc`), as `read_video` gives them."""
    install.require(install.VTEST_VIDEO, "OpenCV's vtest.avi (Debian opencv-doc)")
    return read_video(install.VTEST_VIDEO, count, width)
