"""Fully convolutional networks for semantic segmentation (Long, Shelhamer &
Darrell 2015).

A classification network made fully convolutional: its fully connected layers
become convolutions (fc6: 7 x 7, fc7: 1 x 1 on VGG16), a 1 x 1 "score" layer
gives class scores at stride 32, and transposed convolutions initialised to
bilinear interpolation upsample them to the input's pixels.

- FCN-32s: the stride-32 scores upsampled x32.
- FCN-16s: x2 upsampled stride-32 scores plus scores of pool4 (stride 16),
  then x16.
- FCN-8s: the same again with pool3 (stride 8), then x8.

The x2 upsamplings are learned (initialised bilinear); the final one stays
bilinear, as in the paper. New score layers start at zero, so a 16s model
initialised from a trained 32s model starts with the 32s predictions (the
paper's staged training). `all_at_once=True` scales pool4 by 0.01 and pool3 by
0.0001 before scoring them (the journal version's one-stage FCN-8s).

Any input size works: the image is padded at the bottom and right to a
multiple of 32 and the scores are cropped back, so the output has the input's
height and width and aligns pixel for pixel (see `keras_l11.dense.upsampling`).
"""

import keras
import tensorflow as tf
from keras import layers

from keras_l11.dense.specs import VARIANTS
from keras_l11.dense.upsampling import bilinear_upsampling

STRIDE = 32
# Stride-8, -16 and -32 feature maps of each backbone.
TAPS = {
    "VGG16": ("block3_pool", "block4_pool", "block5_pool"),
    "small_vgg": ("pool3", "pool4", "pool5"),
}


@keras.saving.register_keras_serializable(package="keras_l11")
class PadToMultiple(layers.Layer):
    """Pads images at the bottom and right to a multiple of `multiple` pixels."""

    def __init__(self, multiple=STRIDE, **kwargs):
        super().__init__(**kwargs)
        self.multiple = multiple

    def call(self, images):
        shape = tf.shape(images)
        pad_h = (-shape[1]) % self.multiple
        pad_w = (-shape[2]) % self.multiple
        return tf.pad(images, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package="keras_l11")
class CropLike(layers.Layer):
    """`maps` cropped to the height and width of `reference`."""

    def call(self, maps, reference):
        shape = tf.shape(reference)
        return maps[:, : shape[1], : shape[2]]


def small_vgg(images, widths=(16, 32, 64, 128, 128)):
    """A VGG-shaped network for CPUs: five blocks of 3 x 3 convolutions (one
    per block, two in the last three), each ending in 2 x 2 max pooling."""
    x = images
    for block, filters in enumerate(widths, start=1):
        for conv in range(1 if block <= 2 else 2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{block}_{conv + 1}")(x)
            x = layers.BatchNormalization(momentum=0.9, name=f"bn{block}_{conv + 1}")(x)
            x = layers.ReLU(name=f"relu{block}_{conv + 1}")(x)
        x = layers.MaxPooling2D(name=f"pool{block}")(x)
    return x


def _backbone(name, images, weights):
    """`(pool3, pool4, pool5)` feature maps of preprocessed `images`."""
    if name == "small_vgg":
        if weights not in (None, "none"):
            raise ValueError("small_vgg has no pretrained weights; use weights=None")
        model = keras.Model(images, small_vgg(images))
    elif name == "VGG16":
        # Convolutions only; `convolutionalize_vgg16` brings ImageNet fc6 and fc7 in as convolutions.
        model = keras.applications.VGG16(include_top=False, weights=weights, input_tensor=images)
    else:
        raise ValueError(f"backbone must be one of {sorted(TAPS)}, got {name!r}")
    return [model.get_layer(tap).output for tap in TAPS[name]]


def _preprocess(name, images):
    if name == "VGG16":
        return keras.applications.vgg16.preprocess_input(images)
    return layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(images)


@keras.saving.register_keras_serializable(package="keras_l11")
class FCN(keras.Model):
    """Per-pixel class logits `[batch, H, W, C]` for images `[batch, H, W, 3]`
    (0-255, any H and W).

    Args:
        num_classes: C, background included (VOC: 21).
        variant: "32s", "16s" or "8s".
        backbone: "VGG16" (the paper's) or "small_vgg" (CPUs).
        weights: the backbone's: None, "imagenet" or a file (VGG16 only).
        fc_units: width of fc6 and fc7 as convolutions (VGG16: 4096).
        fc6_size: fc6's kernel (VGG16: 7, the stride-32 map its classifier saw).
        dropout: after fc6 and fc7 (the paper: 0.5).
        all_at_once: scale the skip features (0.01, 0.0001) for one-stage training.

    Example:

    ```python
    model = FCN(21, "8s", backbone="VGG16", weights="imagenet")
    classes = keras.ops.argmax(model(images), axis=-1)   # [batch, H, W]
    ```
    """

    def __init__(
        self,
        num_classes,
        variant="8s",
        backbone="small_vgg",
        weights=None,
        fc_units=256,
        fc6_size=3,
        dropout=0.0,
        all_at_once=False,
        **kwargs,
    ):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        images = keras.Input((None, None, 3), name="images")
        padded = PadToMultiple(name="pad")(images)
        pool3, pool4, pool5 = _backbone(backbone, _preprocess(backbone, padded), weights)
        x = pool5
        for name, size in (("fc6", fc6_size), ("fc7", 1)):
            x = layers.Conv2D(fc_units, size, padding="same", activation="relu", name=name)(x)
            if dropout:
                x = layers.Dropout(dropout, name=f"drop{name[2:]}")(x)
        scores = layers.Conv2D(num_classes, 1, name="score_fr")(x)
        skips = {"16s": [("pool4", pool4, 0.01)], "8s": [("pool4", pool4, 0.01), ("pool3", pool3, 1e-4)]}
        for skip, features, scale in skips.get(variant, []):
            if all_at_once:
                features = layers.Rescaling(scale, name=f"scale_{skip}")(features)
            up = bilinear_upsampling(2, num_classes, name=f"upscore_to_{skip}")(scores)
            skip_scores = layers.Conv2D(num_classes, 1, kernel_initializer="zeros", name=f"score_{skip}")(features)
            scores = layers.Add(name=f"fuse_{skip}")([CropLike(name=f"crop_to_{skip}")(up, skip_scores), skip_scores])
        factor = {"32s": 32, "16s": 16, "8s": 8}[variant]
        logits = bilinear_upsampling(factor, num_classes, trainable=False, name=f"upscore{factor}")(scores)
        logits = layers.Activation("linear", dtype="float32", name="logits")(CropLike(name="crop")(logits, images))
        super().__init__(images, logits, **kwargs)

        # Config.
        self.num_classes = num_classes
        self.variant = variant
        self.backbone = backbone
        self.fc_units = fc_units
        self.fc6_size = fc6_size
        self.dropout = dropout
        self.all_at_once = all_at_once

    def get_config(self):
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "variant": self.variant,
            "backbone": self.backbone,
            "weights": None,  # a rebuilt copy gets its weights from set_weights
            "fc_units": self.fc_units,
            "fc6_size": self.fc6_size,
            "dropout": self.dropout,
            "all_at_once": self.all_at_once,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def convolutionalize(dense, input_shape):
    """The kernel `[h, w, c, units]` and bias of a Dense layer that read a
    flattened `[h, w, c]` map, for the equivalent `Conv2D(units, (h, w))`:
    how FCN turns a classifier's fc6 (VGG16: `[7, 7, 512]` -> 4096) and fc7
    into convolutions that slide over larger images."""
    kernel, bias = dense.get_weights()
    h, w, c = input_shape
    return kernel.reshape(h, w, c, kernel.shape[-1]), bias


def convolutionalize_vgg16(model, weights="imagenet"):
    """Loads ImageNet VGG16's fc1 and fc2 into `model`'s fc6 and fc7 (a VGG16
    FCN built with `fc_units=4096, fc6_size=7`)."""
    classifier = keras.applications.VGG16(include_top=True, weights=weights)
    model.get_layer("fc6").set_weights(convolutionalize(classifier.get_layer("fc1"), (7, 7, 512)))
    model.get_layer("fc7").set_weights(convolutionalize(classifier.get_layer("fc2"), (1, 1, 4096)))
    return model
