"""Offline video: clips of a moving MNIST digit whose class is a (digit,
motion) pair, so that a single frame shows the digit but not the motion, and
flow shows the motion but hardly the digit: the spatial and temporal streams
have measurably different strengths and their fusion needs both.

Motions: translation right, translation left, rotation, and oscillation (back
and forth, which no single pair of frames tells from translation). Each clip
draws a speed, a start position and a background; the digit's colour
contrasts with the background.
"""

import numpy as np

from keras_l11.data import detection as det_data

MOTIONS = ("right", "left", "rotate", "oscillate")
DIGITS = (0, 1, 7)
CLASS_NAMES = tuple(f"{d} {m}" for d in DIGITS for m in MOTIONS)


def _pose(motion, t, frames, speed, phase):
    """`(dx, angle)` of the digit at frame t (pixels, degrees)."""
    if motion == "right":
        return speed * t, 0.0
    if motion == "left":
        return -speed * t, 0.0
    if motion == "rotate":
        return 0.0, 12.0 * speed * t
    return 3.0 * speed * np.sin(2 * np.pi * t / frames * 2 + phase), 0.0  # two periods per clip


def moving_digit_clip(rng, label, split="train", frames=16, size=64, digit_size=28):
    """`[frames, size, size, 3]` uint8: the class `label`'s digit moving as its motion says."""
    from PIL import Image

    digit, motion = DIGITS[label // len(MOTIONS)], MOTIONS[label % len(MOTIONS)]
    digits, labels = det_data.mnist(split)
    sample = digits[rng.choice(np.flatnonzero(labels == digit))]
    speed, phase = rng.uniform(1.0, 2.0), rng.uniform(0, 2 * np.pi)
    span = size - digit_size
    travel = speed * (frames - 1) if motion in ("right", "left") else 0.0
    x0 = rng.uniform(travel if motion == "left" else 0, span - (travel if motion == "right" else 0))
    if motion == "oscillate":
        x0 = np.clip(x0, 3 * speed, span - 3 * speed)
    y0 = rng.uniform(0, span)
    background = np.full((size, size, 3), rng.uniform(0, 255, 3), np.float32)
    background += rng.normal(0, 4, background.shape)
    colour = det_data._contrasting_colour(background.mean(axis=(0, 1)), rng)
    clip = []
    for t in range(frames):
        dx, angle = _pose(motion, t, frames, speed, phase)
        alpha = Image.fromarray(sample).resize((digit_size, digit_size), Image.BILINEAR).rotate(angle, Image.BILINEAR)
        alpha = np.asarray(alpha, np.float32) / 255.0
        frame = background.copy()
        x, y = int(round(x0 + dx)), int(round(y0))
        det_data._paste(frame, alpha, colour, x, y)
        clip.append(np.clip(np.round(frame), 0, 255).astype(np.uint8))
    return np.stack(clip)


def moving_digit_clips(count, split="train", seed=0, frames=16, size=64):
    """`(clips uint8 [N, frames, size, size, 3], labels int32 [N])`, classes balanced."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(CLASS_NAMES)
    rng.shuffle(labels)
    clips = np.stack([moving_digit_clip(rng, int(k), split, frames, size) for k in labels])
    return clips, labels.astype(np.int32)
