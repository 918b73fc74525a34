"""Optical flow recovers a known shift; flow stacks have 2L channels in the documented order."""

import numpy as np
import pytest

from keras_l11.video.flow import flow_stack, optical_flow


def textured(size=96, seed=0):
    """A smooth random texture (flow needs gradients everywhere)."""
    import cv2

    noise = np.random.default_rng(seed).uniform(0, 255, (size // 4, size // 4)).astype(np.float32)
    return np.clip(cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)


def shifted(image, dx, dy):
    return np.roll(np.roll(image, dy, axis=0), dx, axis=1)


@pytest.mark.parametrize("method", ["farneback", "tvl1"])
def test_the_flow_of_a_shifted_image_is_the_shift(method):
    frame = textured()
    flow = optical_flow(frame, shifted(frame, 3, -2), method)
    assert flow.shape == (96, 96, 2) and flow.dtype == np.float32
    inner = flow[16:-16, 16:-16].reshape(-1, 2)  # away from the wrapped borders
    np.testing.assert_allclose(np.median(inner, axis=0), [3, -2], atol=0.25)


def test_flow_stacks_have_two_channels_per_pair_in_u_v_order():
    frames = [shifted(textured(seed=1), 2 * k, k) for k in range(4)]  # 2 px right, 1 px down per frame
    stack = flow_stack(frames, length=3, subtract_mean=False)
    assert stack.shape == (96, 96, 6)
    medians = np.median(stack[16:-16, 16:-16].reshape(-1, 6), axis=0)
    np.testing.assert_allclose(medians, [2, 1, 2, 1, 2, 1], atol=0.3)
    centred = flow_stack(frames, length=3)
    np.testing.assert_allclose(centred.reshape(-1, 6).mean(axis=0), 0, atol=1e-4)  # camera motion removed
    with pytest.raises(ValueError, match="4 frames"):
        flow_stack(frames[:3], length=3)
    with pytest.raises(ValueError, match="method"):
        optical_flow(frames[0], frames[1], "lucas")


def test_generated_clips_move_their_digit_as_the_label_says():
    from keras_l11.video.data import CLASS_NAMES, MOTIONS, moving_digit_clip, moving_digit_clips

    clips, labels = moving_digit_clips(24, seed=0)
    assert clips.shape == (24, 24, 64, 64, 3) and clips.dtype == np.uint8
    assert np.bincount(labels).tolist() == [2] * len(CLASS_NAMES)
    rng = np.random.default_rng(1)
    for motion in MOTIONS:
        clip = moving_digit_clip(rng, MOTIONS.index(motion))
        background = clip[0, 0, 0].astype(float)
        centre = [np.nonzero(np.abs(f.astype(float) - background).sum(-1) > 60)[1].mean() for f in clip]
        travel = centre[-1] - centre[0]
        if motion == "right":
            assert travel > 10
        elif motion == "left":
            assert travel < -10
        elif motion == "rotate":  # turns in place (the ink's centre moves a little as it turns)
            assert abs(travel) < 6
        else:  # a period of 8 frames: back where it started, having moved in between
            assert abs(centre[8] - centre[0]) < 2 and np.ptp(centre) > 4
