"""The AlexNet-style convolutional tower the video models share.

Two-stream networks (CNN-M-2048), LRCN's per-frame CNN and Karpathy et al.'s
fusion models are all `conv -> (norm) -> (pool)` stacks followed by fully
connected layers; they differ in what goes in and in how time is connected.
`ConvTower` holds the stack's shape; `tower_features` builds it on a tensor,
with the first layers optionally extended over time (3-D convolutions, as in
early and slow fusion).
"""

from keras import layers

from keras_l11.video.local_response_norm import LocalResponseNorm
from keras_l11.video.time_conv import TimeConv3D


def conv_features(x, tower, prefix):
    """The tower's convolutional part on `x` (`[B, H, W, C]`, or `[B, T, H, W, C]`
    when `tower.temporal` is set); returns flattened features `[B, D]`."""
    for i, (f, k, s) in enumerate(zip(tower.filters, tower.kernels, tower.strides)):
        name = f"{prefix}conv{i + 1}"
        if i < len(tower.temporal):
            frames, stride = tower.temporal[i]
            x = layers.ZeroPadding3D((0, k // 2, k // 2), name=f"{name}_pad")(x)
            x = TimeConv3D(f, (frames, k, k), (stride, s, s), activation="relu", name=name)(x)
            if i == len(tower.temporal) - 1:  # all time is fused: images from here on
                if x.shape[1] != 1:
                    raise ValueError(f"the temporal layers leave {x.shape[1]} time steps, not 1")
                x = layers.Reshape(x.shape[2:], name=f"{name}_fused")(x)
        else:
            x = layers.Conv2D(f, k, s, padding="same", activation="relu", name=name)(x)
        if tower.norms[i]:
            x = LocalResponseNorm(name=f"{prefix}norm{i + 1}")(x)
        if tower.pools[i]:
            name = f"{prefix}pool{i + 1}"
            p = tower.pool_size
            if len(x.shape) == 5:
                x = layers.MaxPooling3D((1, p, p), (1, 2, 2), name=name)(x)
            else:
                x = layers.MaxPooling2D(p, 2, name=name)(x)
    return layers.Flatten(name=f"{prefix}flatten")(x)


def fully_connected(x, tower, prefix):
    """The tower's fully connected layers (ReLU, dropout) on features `[B, D]`."""
    for i, units in enumerate(tower.fc_units):
        x = layers.Dense(units, activation="relu", name=f"{prefix}fc{i + 1}")(x)
        if tower.dropout:
            x = layers.Dropout(tower.dropout, name=f"{prefix}drop{i + 1}")(x)
    return x


def classifier(x, num_classes, name="probabilities"):
    """Softmax class probabilities, float32 under mixed precision."""
    return layers.Dense(num_classes, activation="softmax", dtype="float32", name=name)(x)
