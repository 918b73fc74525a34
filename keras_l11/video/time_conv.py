"""A 3-D convolution whose kernel gradient is right in bfloat16.

In TensorFlow 2.20 with oneDNN (the default on x86 CPUs), the kernel gradient
of a bfloat16 3-D convolution (`Conv3DBackpropFilterV2`) leaves parts of its
output unwritten at some shapes: the same inputs give a different gradient on
each call, with blocks of garbage (values near 3e38, inf, NaN). The forward
pass and the input gradient are right. Early fusion's first convolution
(10 x 11 x 11 over 172 x 172 frames) hits it in most steps, so
`--mixed_precision` training on a CPU diverged at a random step.
`benchmarks/conv3d_bfloat16.py` shows it and measures this layer's cost.

`TimeConv3D` is `keras.layers.Conv3D` except that, when it computes in
bfloat16, its kernel gradient is computed from float32 copies of the input
and the output gradient (then cast to the kernel's dtype); the forward pass
and the input gradient stay in bfloat16. In float32 and float16 it is
`Conv3D` exactly. Its weights are `Conv3D`'s.
"""

import keras
import tensorflow as tf


def _conv3d_float32_kernel_gradient(x, kernel, strides, padding):
    """`tf.nn.conv3d(x, kernel)` with the kernel's gradient computed in float32."""

    @tf.custom_gradient
    def conv(x, kernel):
        y = tf.nn.conv3d(x, tf.cast(kernel, x.dtype), strides, padding)

        def grad(dy):
            dx = tf.raw_ops.Conv3DBackpropInputV2(
                input_sizes=tf.shape(x),
                filter=tf.cast(kernel, x.dtype),
                out_backprop=dy,
                strides=strides,
                padding=padding,
            )
            dk = tf.raw_ops.Conv3DBackpropFilterV2(
                input=tf.cast(x, tf.float32),
                filter_sizes=tf.shape(kernel),
                out_backprop=tf.cast(dy, tf.float32),
                strides=strides,
                padding=padding,
            )
            return dx, tf.cast(dk, kernel.dtype)

        return y, grad

    # A tensor, not the variable: the gradient reaches the variable through the read.
    return conv(x, tf.convert_to_tensor(kernel))


@keras.saving.register_keras_serializable(package="keras_l11")
class TimeConv3D(keras.layers.Conv3D):
    """`keras.layers.Conv3D` (channels last, no dilation) that trains correctly
    under `mixed_bfloat16`; see the module docstring.

    Example:

    ```python
    x = TimeConv3D(96, (10, 11, 11), (1, 3, 3), activation="relu")(clips)  # [B, T, H, W, 3]
    ```
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.data_format != "channels_last" or any(d != 1 for d in self.dilation_rate):
            raise ValueError(
                f"TimeConv3D supports channels_last without dilation, got data_format={self.data_format!r}, "
                f"dilation_rate={self.dilation_rate}"
            )

    def convolution_op(self, inputs, kernel):
        if inputs.dtype != tf.bfloat16:
            return super().convolution_op(inputs, kernel)
        strides = [1, *self.strides, 1]
        return _conv3d_float32_kernel_gradient(inputs, kernel, strides, self.padding.upper())
