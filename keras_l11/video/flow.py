"""Optical flow for the temporal stream of two-stream networks (Simonyan &
Zisserman 2014).

`optical_flow` computes dense flow between two frames with OpenCV: Farneback
(`cv2`, always there) or TV-L1 (`cv2.optflow`, from the contrib wheel that
`python -m keras_l11.data.install` provides), the paper's choice being a
variational method close to TV-L1. Flow is `[H, W, 2]` float32 in pixels:
channel 0 horizontal (x, positive right), channel 1 vertical (y, positive
down), so that `frame_b[y + v, x + u] ~ frame_a[y, x]`.

`video_flows` computes the flow of every consecutive pair of a video once
(what the data cache stores and what a client sends to the temporal stream's
signature). `flow_stack` is the temporal stream's input for L consecutive
frame pairs: `[H, W, 2L]` with channels ordered `u_1, v_1, u_2, v_2, ..., u_L,
v_L` (the paper's eq. 1, I_tau(u, v, 2k - 1) = d^x, I_tau(u, v, 2k) = d^y),
each pair's mean displacement subtracted (the paper's camera-motion
compensation). Inside models, `keras_l11.video.FlowStack` does the same
stacking (and trajectory stacking) on the flows of a window.
"""

import numpy as np

METHODS = ("farneback", "tvl1")


def _grey(frame):
    import cv2

    frame = np.asarray(frame)
    if frame.ndim == 3:
        frame = cv2.cvtColor(np.ascontiguousarray(frame.astype(np.uint8)), cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(frame.astype(np.uint8))


def optical_flow(frame_a, frame_b, method="farneback"):
    """Dense flow `[H, W, 2]` float32 (pixels; x then y) from `frame_a` to
    `frame_b` (RGB or grey uint8 frames of one size)."""
    import cv2

    a, b = _grey(frame_a), _grey(frame_b)
    if a.shape != b.shape:
        raise ValueError(f"frames must have one size, got {a.shape} and {b.shape}")
    if method == "farneback":
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    elif method == "tvl1":
        try:
            from cv2 import optflow
        except ImportError:
            raise ImportError(
                "TV-L1 needs cv2.optflow (opencv-contrib-python-headless); run: python -m keras_l11.data.install"
            ) from None
        flow = optflow.DualTVL1OpticalFlow_create().calc(a, b, None)
    else:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return flow.astype(np.float32)


def video_flows(frames, method="farneback"):
    """`[T - 1, H, W, 2]` float32: the flow of each consecutive pair of `T` frames."""
    frames = list(frames)
    if len(frames) < 2:
        raise ValueError(f"flow needs at least 2 frames, got {len(frames)}")
    return np.stack([optical_flow(a, b, method) for a, b in zip(frames[:-1], frames[1:])])


def flow_stack(frames, length=10, method="farneback", subtract_mean=True):
    """The temporal stream's input from `length + 1` consecutive frames:
    `[H, W, 2 * length]` float32, channels `u_1, v_1, ..., u_L, v_L`."""
    frames = list(frames)
    if len(frames) != length + 1:
        raise ValueError(f"a stack of L = {length} flows needs {length + 1} frames, got {len(frames)}")
    flows = video_flows(frames, method)
    if subtract_mean:
        flows = flows - flows.mean(axis=(1, 2), keepdims=True)
    return np.concatenate(list(flows), axis=-1)
