"""Bilinear upsampling as a transposed convolution (FCN's "deconvolution").

FCN (Long et al. 2015) upsamples coarse class scores with transposed
convolutions whose kernels start as bilinear interpolation and may then be
learned. For a factor f the kernel is `2f - f mod 2` wide; tap i weighs
`1 - |i - c| / f` with centre `c = (k - 1) / 2`, on the diagonal of the
channel matrix (each channel is upsampled on its own).

With TensorFlow's "same" padding (f / 2 cropped at the start), output pixel o
reads feature position `(o + 0.5) / f - 0.5`: pixel centres line up with the
centres of the stride-f cells that "same" convolutions and 2 x 2 poolings
produce, so the upsampled map aligns pixel for pixel with the input.
"""

import keras
import numpy as np


def bilinear_kernel(factor, channels):
    """`[k, k, channels, channels]` float32 kernel (k = 2f - f mod 2) for
    `Conv2DTranspose(channels, k, strides=f, padding="same")`."""
    size = 2 * factor - factor % 2
    centre = (size - 1) / 2
    taps = 1 - np.abs(np.arange(size) - centre) / factor
    kernel = np.zeros((size, size, channels, channels), np.float32)
    for c in range(channels):
        kernel[:, :, c, c] = np.outer(taps, taps)
    return kernel


@keras.saving.register_keras_serializable(package="keras_l11")
class BilinearInitializer(keras.initializers.Initializer):
    """Initialises a square `Conv2DTranspose` kernel `[k, k, C, C]` to bilinear
    upsampling by `factor`."""

    def __init__(self, factor):
        self.factor = int(factor)

    def __call__(self, shape, dtype=None):
        size = 2 * self.factor - self.factor % 2
        if tuple(shape[:2]) != (size, size) or shape[2] != shape[3]:
            raise ValueError(f"a bilinear x{self.factor} kernel is [{size}, {size}, C, C], got {list(shape)}")
        return keras.ops.convert_to_tensor(bilinear_kernel(self.factor, shape[2]), dtype=dtype)

    def get_config(self):
        return {"factor": self.factor}


def bilinear_upsampling(factor, channels, trainable=True, name=None):
    """A `Conv2DTranspose` that starts as (and, untrainable, stays) bilinear
    upsampling by `factor` of `channels` maps."""
    return keras.layers.Conv2DTranspose(
        channels,
        2 * factor - factor % 2,
        strides=factor,
        padding="same",
        use_bias=False,
        kernel_initializer=BilinearInitializer(factor),
        trainable=trainable,
        name=name,
    )
