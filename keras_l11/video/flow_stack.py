"""The temporal stream's input layer (Simonyan & Zisserman 2014, section 3.1).

The flows of L consecutive frame pairs become one `[H, W, 2L]` input, channels
`u_1, v_1, ..., u_L, v_L`, each pair's mean displacement subtracted (the
paper's camera-motion compensation). Two ways to stack them:

- optical flow stacking: channel pair k holds flow k at the same pixel (u, v);
- trajectory stacking: channel pair k holds flow k sampled where the point that
  started at (u, v) has moved to after the first k - 1 flows,
  p_1 = (u, v), p_k = p_{k-1} + d_{k-1}(p_{k-1}), bilinearly interpolated and
  clamped at the borders.

The stacking runs in the graph, so a model (and its SavedModel) takes the raw
per-pair flows that `keras_l11.video.flow.video_flows` computes.
"""

import keras
import tensorflow as tf


def bilinear_sample(field, x, y):
    """`field [B, H, W, C]` at real positions `x, y [B, H, W]` (pixels),
    clamped to the image: `[B, H, W, C]`."""
    shape = tf.shape(field)
    height, width = shape[1], shape[2]
    x = tf.clip_by_value(x, 0.0, tf.cast(width - 1, x.dtype))
    y = tf.clip_by_value(y, 0.0, tf.cast(height - 1, y.dtype))
    x0, y0 = tf.floor(x), tf.floor(y)
    wx, wy = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x1, y1 = tf.minimum(x0 + 1, width - 1), tf.minimum(y0 + 1, height - 1)
    flat = tf.reshape(field, [shape[0], -1, shape[3]])

    def at(yy, xx):
        index = tf.reshape(yy * width + xx, [shape[0], -1])
        return tf.reshape(tf.gather(flat, index, batch_dims=1), shape)

    top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx
    bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx
    return top * (1 - wy) + bottom * wy


@keras.saving.register_keras_serializable(package="keras_l11")
class FlowStack(keras.layers.Layer):
    """Flows `[batch, L, H, W, 2]` (x then y, pixels) -> `[batch, H, W, 2L]`.

    Args:
        trajectory: bool, sample each flow along the trajectories that start at
            each pixel (trajectory stacking) instead of at the pixel itself.
        subtract_mean: bool, subtract each pair's mean displacement.

    Example:

    ```python
    stack = FlowStack()(flows)   # flows: [batch, 10, 224, 224, 2] -> [batch, 224, 224, 20]
    ```
    """

    def __init__(self, trajectory=False, subtract_mean=True, **kwargs):
        super().__init__(**kwargs)
        self.trajectory = trajectory
        self.subtract_mean = subtract_mean

    def call(self, flows):
        flows = tf.cast(flows, tf.float32)  # positions to 1/100 px even under mixed precision
        if flows.shape[1] is None:
            raise ValueError("FlowStack needs a known number of flows L (the input's axis 1)")
        steps = tf.unstack(flows, axis=1)
        if self.trajectory:
            shape = tf.shape(flows)
            xs = tf.cast(tf.range(shape[3]), flows.dtype)[None, None, :]
            ys = tf.cast(tf.range(shape[2]), flows.dtype)[None, :, None]
            grid = tf.stack([shape[0], shape[2], shape[3]])
            x, y = tf.broadcast_to(xs, grid), tf.broadcast_to(ys, grid)
            sampled = []
            for flow in steps:
                d = bilinear_sample(flow, x, y)
                sampled.append(d)
                x, y = x + d[..., 0], y + d[..., 1]
            steps = sampled
        if self.subtract_mean:
            steps = [d - tf.reduce_mean(d, axis=[1, 2], keepdims=True) for d in steps]
        return tf.cast(tf.concat(steps, axis=-1), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        batch, length, height, width, _ = input_shape
        return (batch, height, width, 2 * length)

    def get_config(self):
        return {**super().get_config(), "trajectory": self.trajectory, "subtract_mean": self.subtract_mean}
