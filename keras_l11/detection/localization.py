"""Classification plus localization: one object per image, its class and its box.

The lecture's first step beyond classification: a CNN backbone with two heads,
class scores (softmax) and a box regression head that outputs `x1, y1, x2, y2`
as fractions of the image (trained with an L2 loss, as in the lecture). The
box head reads the flattened feature map through fully connected layers
(positions matter); the class head also reads its global max pool (a digit is
a digit wherever it is), which makes it learn far faster from scratch.
"""

import keras
from keras import layers

from keras_l11.layers.backbones import conv_features, dense_features, preprocess


@keras.saving.register_keras_serializable(package="keras_l11")
class Localizer(keras.Model):
    """`{"class_logits": [batch, C], "box": [batch, 4]}` for images `[batch, S, S, 3]` (0-255).

    Args:
        num_classes: C.
        image_size: S, the input side.
        backbone: `"small_cnn"` or a `keras.applications` name (see `backbones`).
        weights: the backbone's weights: None (default), `"imagenet"` or a file.
        dense_units: the fully connected layers after the backbone.
        dropout: after each fully connected layer.

    Example:

    ```python
    model = Localizer(num_classes=10, image_size=192)
    out = model(images)                      # class_logits [batch, 10], box [batch, 4] in [0, 1]
    boxes = out["box"] * [width, height, width, height]
    ```
    """

    def __init__(
        self,
        num_classes,
        image_size=224,
        backbone="small_cnn",
        weights=None,
        dense_units=(256, 256),
        dropout=0.0,
        **kwargs,
    ):
        # The functional graph (the backbone builds its own layers).
        images = keras.Input((image_size, image_size, 3), name="images")
        feature_map = conv_features(backbone, preprocess(backbone, images), weights)
        features = dense_features(feature_map, dense_units, dropout)
        # The class also sees the max-pooled feature map: "what" wherever it is; the box needs "where".
        pooled = layers.GlobalMaxPooling2D(name="max_pool")(feature_map)
        class_features = layers.Concatenate(name="class_features")([pooled, features])
        logits = layers.Dense(num_classes, dtype="float32", name="class_logits")(class_features)
        box = layers.Dense(4, activation="sigmoid", dtype="float32", name="box")(features)
        super().__init__(images, {"class_logits": logits, "box": box}, **kwargs)

        # Config.
        self.num_classes = num_classes
        self.image_size = image_size
        self.backbone = backbone
        self.dense_units = tuple(dense_units)
        self.dropout = dropout

    def get_config(self):
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "image_size": self.image_size,
            "backbone": self.backbone,
            "weights": None,  # a rebuilt copy gets its weights from set_weights
            "dense_units": self.dense_units,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
