"""Multi-scale depth prediction (Eigen, Puhrsch & Fergus 2014).

- The coarse network sees the whole image: convolutions and pooling, then
  fully connected layers whose output is the depth map at a quarter of the
  input's resolution (every output pixel depends on every input pixel).
- The fine network refines it locally: a strided convolution and pooling of
  the image, the coarse prediction concatenated as one more feature map after
  that first layer, then convolutions down to one channel.

Training has two stages, as in the paper: the coarse network first; then the
fine network with the coarse one frozen. Both predict log depth (the loss is
scale-invariant in log space); `depth = exp(output)`.

Paper sizes (NYU): input 304 x 228, output 74 x 55; coarse conv 96-256-384-
384-256 (11 x 11 stride 4 first), fc 4096; fine conv 63 (9 x 9 stride 2) +
pool, then 64 (5 x 5) and 1 (5 x 5).
"""

import keras
from keras import layers


def _coarse(images, out_hw, filters, kernel, fc_units, dropout):
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="coarse_scale")(images)
    for i, (f, k) in enumerate(zip(filters, kernel), start=1):
        stride = 2 if i == 1 else 1
        x = layers.Conv2D(f, k, strides=stride, padding="same", activation="relu", name=f"coarse_conv{i}")(x)
        if i <= 2:
            x = layers.MaxPooling2D(name=f"coarse_pool{i}")(x)
    x = layers.Flatten(name="coarse_flatten")(x)
    x = layers.Dense(fc_units, activation="relu", name="coarse_fc6")(x)
    if dropout:
        x = layers.Dropout(dropout, name="coarse_drop6")(x)
    x = layers.Dense(out_hw[0] * out_hw[1], name="coarse_fc7")(x)
    return layers.Reshape((*out_hw, 1), name="coarse_depth")(x)


def _fine(images, coarse, filters):
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="fine_scale")(images)
    x = layers.Conv2D(filters, 9, strides=2, padding="same", activation="relu", name="fine_conv1")(x)
    x = layers.MaxPooling2D(name="fine_pool1")(x)
    x = layers.Concatenate(name="fine_with_coarse")([x, coarse])
    x = layers.Conv2D(filters + 1, 5, padding="same", activation="relu", name="fine_conv2")(x)
    return layers.Conv2D(1, 5, padding="same", name="fine_depth")(x)


@keras.saving.register_keras_serializable(package="keras_l11")
class DepthNetwork(keras.Model):
    """Log depth `[batch, H / 4, W / 4]` of images `[batch, H, W, 3]` (0-255).

    Args:
        height, width: the input size (fixed: the coarse network's fully
            connected layers see the whole image).
        stage: "coarse" (the coarse output) or "fine" (the refined output;
            the coarse layers are frozen).
        coarse_filters, coarse_kernels: the coarse convolutions.
        fc_units: the coarse fully connected layer (paper: 4096).
        fine_filters: the fine convolutions (paper: 63, then 64).
        dropout: after the coarse fully connected layer (paper: 0.5).

    Example:

    ```python
    model = DepthNetwork(228, 304, "coarse", (96, 256, 384, 384, 256), (11, 5, 3, 3, 3), 4096, 63, 0.5)
    depth = keras.ops.exp(model(images))   # [batch, 57, 76] metres
    ```
    """

    def __init__(
        self,
        height,
        width,
        stage="coarse",
        coarse_filters=(32, 64, 64),
        coarse_kernels=(5, 3, 3),
        fc_units=256,
        fine_filters=32,
        dropout=0.0,
        **kwargs,
    ):
        if stage not in ("coarse", "fine"):
            raise ValueError(f"stage must be 'coarse' or 'fine', got {stage!r}")
        if height % 4 or width % 4:
            raise ValueError(f"height and width must be multiples of 4, got {height} x {width}")
        images = keras.Input((height, width, 3), name="images")
        out_hw = (height // 4, width // 4)
        coarse = _coarse(images, out_hw, coarse_filters, coarse_kernels, fc_units, dropout)
        output = coarse if stage == "coarse" else _fine(images, coarse, fine_filters)
        output = layers.Reshape(out_hw, dtype="float32", name="log_depth")(output)
        super().__init__(images, output, **kwargs)
        if stage == "fine":  # the paper's second stage: the coarse network stays as trained
            for layer in self.layers:
                if layer.name.startswith("coarse_"):
                    layer.trainable = False

        # Config.
        self.height, self.width, self.stage = height, width, stage
        self.coarse_filters, self.coarse_kernels = tuple(coarse_filters), tuple(coarse_kernels)
        self.fc_units, self.fine_filters, self.dropout = fc_units, fine_filters, dropout

    def get_config(self):
        return {
            "name": self.name,
            "height": self.height,
            "width": self.width,
            "stage": self.stage,
            "coarse_filters": self.coarse_filters,
            "coarse_kernels": self.coarse_kernels,
            "fc_units": self.fc_units,
            "fine_filters": self.fine_filters,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
