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

Two layouts of the same networks:

- "eigen" (the paper's, Fig. 1): the coarse network is AlexNet's convolutions
  (96-256-384-384-256, 11 x 11 stride 4 unpadded first, 3 x 3 stride 2 max pooling
  after layers 1, 2 and 5, so that ImageNet-trained AlexNet layers fit it), then
  fc 4096 and an fc to the output map. At the paper's 304 x 228 input, coarse
  layer 5 pools to 8 x 6 x 256 (12,288 inputs to fc6, about 50 M weights) and the
  output is 74 x 55; the fine network's 9 x 9 stride 2 unpadded convolution and
  2 x 2 pooling meet the coarse output at 74 x 55.
- "compact" (small inputs on a CPU): a stride 2 first convolution, "same"
  padding, 2 x 2 pooling after the first two layers; output H / 4 x W / 4.
"""

import keras
import numpy as np
from keras import layers

LAYOUTS = ("compact", "eigen")


def output_size(height, width, layout, kernels=(11,)):
    """The `(height, width)` of the depth map for an input of `height x width`."""
    if layout == "compact":
        return height // 4, width // 4
    k = kernels[0]
    return tuple((n - k) // 4 + 1 for n in (height, width))  # coarse conv1, unpadded, stride 4


def _coarse(images, out_hw, filters, kernel, fc_units, dropout, layout):
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="coarse_scale")(images)
    last = len(filters)
    for i, (f, k) in enumerate(zip(filters, kernel), start=1):
        if layout == "eigen":
            stride, padding = (4, "valid") if i == 1 else (1, "same")
        else:
            stride, padding = (2 if i == 1 else 1), "same"
        x = layers.Conv2D(f, k, strides=stride, padding=padding, activation="relu", name=f"coarse_conv{i}")(x)
        if layout == "eigen" and i in (1, 2, last):
            x = layers.MaxPooling2D(3, strides=2, name=f"coarse_pool{i}")(x)
        elif layout == "compact" and i <= 2:
            x = layers.MaxPooling2D(name=f"coarse_pool{i}")(x)
    x = layers.Flatten(name="coarse_flatten")(x)
    x = layers.Dense(fc_units, activation="relu", name="coarse_fc6")(x)
    if dropout:
        x = layers.Dropout(dropout, name="coarse_drop6")(x)
    x = layers.Dense(out_hw[0] * out_hw[1], name="coarse_fc7")(x)
    return layers.Reshape((*out_hw, 1), name="coarse_depth")(x)


def _fine(images, coarse, filters, out_hw, layout):
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="fine_scale")(images)
    padding = "valid" if layout == "eigen" else "same"
    x = layers.Conv2D(filters, 9, strides=2, padding=padding, activation="relu", name="fine_conv1")(x)
    x = layers.MaxPooling2D(name="fine_pool1")(x)
    x = layers.Cropping2D(((0, x.shape[1] - out_hw[0]), (0, x.shape[2] - out_hw[1])), name="fine_crop")(x)
    x = layers.Concatenate(name="fine_with_coarse")([x, coarse])
    x = layers.Conv2D(filters + 1, 5, padding="same", activation="relu", name="fine_conv2")(x)
    return layers.Conv2D(1, 5, padding="same", name="fine_depth")(x)


@keras.saving.register_keras_serializable(package="keras_l11")
class DepthNetwork(keras.Model):
    """Log depth of images `[batch, H, W, 3]` (0-255): `[batch, h, w]` at
    `output_size(H, W, layout)` (H / 4 x W / 4 "compact"; 55 x 74 for the paper's
    228 x 304 "eigen").

    Paper: [Depth Map Prediction from a Single Image using a Multi-Scale Deep
    Network](https://arxiv.org/abs/1406.2283) (Eigen, Puhrsch & Fergus, 2014).

    Args:
        height, width: the input size (fixed: the coarse network's fully
            connected layers see the whole image).
        stage: "coarse" (the coarse output) or "fine" (the refined output;
            the coarse layers are frozen).
        coarse_filters, coarse_kernels: the coarse convolutions.
        fc_units: the coarse fully connected layer (paper: 4096).
        fine_filters: the fine convolutions (paper: 63, then 64).
        dropout: after the coarse fully connected layer (paper: 0.5).
        layout: "eigen" (the paper's strides, padding and pooling) or "compact".

    Example:

    ```python
    model = DepthNetwork(228, 304, "coarse", (96, 256, 384, 384, 256), (11, 5, 3, 3, 3), 4096, 63, 0.5, "eigen")
    depth = keras.ops.exp(model(images))   # [batch, 55, 74] metres
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
        layout="compact",
        **kwargs,
    ):
        if stage not in ("coarse", "fine"):
            raise ValueError(f"stage must be 'coarse' or 'fine', got {stage!r}")
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        if layout == "compact" and (height % 4 or width % 4):
            raise ValueError(f"height and width must be multiples of 4, got {height} x {width}")
        images = keras.Input((height, width, 3), name="images")
        out_hw = output_size(height, width, layout, coarse_kernels)
        coarse = _coarse(images, out_hw, coarse_filters, coarse_kernels, fc_units, dropout, layout)
        output = coarse if stage == "coarse" else _fine(images, coarse, fine_filters, out_hw, layout)
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
        self.layout = layout

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
            "layout": self.layout,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def load_coarse_weights(model, path):
    """Sets the coarse convolutions from an `.npz` of `coarse_conv<i>/kernel` (Keras
    layout: height, width, in, out) and `coarse_conv<i>/bias` arrays, e.g.
    ImageNet-trained AlexNet's conv1-5 (the paper initialises them so). A kernel
    with half the input channels (AlexNet's two-group conv2, conv4 and conv5) is
    set block-diagonally, which is the same convolution. Returns the layers set."""
    arrays = np.load(path)
    done = []
    for layer in model.layers:
        key = f"{layer.name}/kernel"
        if not layer.name.startswith("coarse_conv") or key not in arrays:
            continue
        kernel, bias = arrays[key], arrays[f"{layer.name}/bias"]
        want = layer.kernel.shape
        if kernel.shape[2] * 2 == want[2] and kernel.shape[:2] == tuple(want[:2]) and kernel.shape[3] == want[3]:
            kernel = _ungroup(kernel)
        if kernel.shape != tuple(want) or bias.shape != tuple(layer.bias.shape):
            raise ValueError(
                f"{path}: {layer.name} has {kernel.shape} / {bias.shape}, the network {tuple(want)} / "
                f"{tuple(layer.bias.shape)}"
            )
        layer.set_weights([kernel, bias])
        done.append(layer.name)
    if not done:
        raise ValueError(f"{path} has no coarse_conv<i>/kernel arrays")
    return done


def _ungroup(kernel):
    """A two-group kernel `[h, w, c/2, n]` as the equivalent full kernel `[h, w, c, n]`."""
    h, w, half, n = kernel.shape
    full = np.zeros((h, w, 2 * half, n), kernel.dtype)
    full[:, :, :half, : n // 2] = kernel[:, :, :, : n // 2]
    full[:, :, half:, n // 2 :] = kernel[:, :, :, n // 2 :]
    return full
