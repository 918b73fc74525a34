"""Local response normalisation across channels (Krizhevsky et al. 2012), the
"norm" layer of the AlexNet-era networks the video papers build on (CNN-M in
two-stream networks, Karpathy et al.'s C-N-P towers). Keras 3 has none."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="keras_l11")
class LocalResponseNorm(keras.layers.Layer):
    """`x / (bias + alpha / size * sum over `size` neighbouring channels of x^2) ^ beta`.

    Args:
        size: int, channels in the window (odd; Caffe's `local_size`).
        alpha, beta, bias: Caffe's LRN parameters (AlexNet: 5, 1e-4, 0.75, 1).

    Example:

    ```python
    x = LocalResponseNorm()(keras.layers.Conv2D(96, 7, 2, activation="relu")(images))
    ```
    """

    def __init__(self, size=5, alpha=1e-4, beta=0.75, bias=1.0, **kwargs):
        super().__init__(**kwargs)
        self.size, self.alpha, self.beta, self.bias = size, alpha, beta, bias

    def call(self, x):
        # tf.nn's alpha multiplies the plain sum; Caffe's is divided by the window size.
        # tf.nn takes 4-D input: a video's [B, T, H, W, C] is normalised as B * T images.
        shape = tf.shape(x)
        images = tf.reshape(tf.cast(x, tf.float32), tf.concat([[-1], shape[-3:]], 0))
        out = tf.nn.local_response_normalization(images, self.size // 2, self.bias, self.alpha / self.size, self.beta)
        return tf.cast(tf.reshape(out, shape), x.dtype)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "alpha": self.alpha, "beta": self.beta, "bias": self.bias}
