"""Video data for the video models: the offline moving digits, real footage,
and `VideoSet`, what the jobs train on.

A `VideoSet` holds `frames [N, T, H, W, 3]` uint8, `flows [N, T - 1, H, W, 2]`
float16 (the flow of each consecutive pair, `keras_l11.video.flow`) and
`labels [N]`. Flow is the expensive part (the two-stream paper also
precomputed it): sets are made by the Beam pipeline of
`keras_l11.video.prepare`; a small set is loaded into memory, and a set larger
than memory (UCF-101) is read from its records a training window at a time.

Offline: clips of a moving MNIST digit whose class is a (digit, motion) pair,
so that a single frame shows the digit but not the motion, and flow shows the
motion but hardly the digit: the spatial and temporal streams have measurably
different strengths and their fusion needs both. Motions: translation right,
translation left, rotation, and oscillation (back and forth with a period of 8
frames, which a single pair of frames cannot tell from translation). Each clip
draws a speed, a start position and a background; the digit's colour
contrasts with the background.

The papers' data: UCF-101 through TFDS when it has been prepared
(`tfds build ucf101`; `keras_l11.video.prepare.ucf101_set`). Real footage for
flow: OpenCV's `vtest.avi` (Debian `opencv-doc`).
"""

import dataclasses

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
    """Videos of one length and size with their flow (arrays, or
    `keras_l11.data.prepared_records.ItemArray`s that read prepared records)."""

    frames: np.ndarray  # [N, T, H, W, 3] uint8
    flows: np.ndarray  # [N, T - 1, H, W, 2] float16, pixels
    labels: np.ndarray  # [N] int32
    class_names: tuple

    def __len__(self):
        return len(self.labels)

    @property
    def num_classes(self):
        return len(self.class_names)


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
