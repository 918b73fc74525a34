"""Image feature extractors shared by the localization, R-CNN, captioning and
retrieval models.

`"small_cnn"` is a six-convolution network with batch normalisation for the
offline data and CPUs;
any `keras.applications` name (`"VGG16"`, `"ResNet50"`, `"MobileNetV2"`, ...)
gives that network without its classifier, with `weights=None` (the default),
`"imagenet"` (Keras' cached download: only where the user has it) or a local
weights file. Features are flattened and pass through fully connected layers
(R-CNN's fc6 and fc7), because box regression needs to know where things are,
which global pooling forgets.
"""

import keras
from keras import layers


def preprocess(name, images):
    """uint8-range images -> the backbone's input range."""
    if name == "small_cnn":
        return images / 127.5 - 1.0
    module = {
        "VGG16": "vgg16",
        "VGG19": "vgg19",
        "ResNet50": "resnet",
        "ResNet101": "resnet",
        "MobileNetV2": "mobilenet_v2",
        "EfficientNetB0": "efficientnet",
        "DenseNet121": "densenet",
    }.get(name)
    if module is None:
        raise ValueError(f"no preprocessing known for backbone {name!r}")
    return getattr(keras.applications, module).preprocess_input(images)


def conv_features(name, inputs, weights=None):
    """The backbone's last convolutional feature map of `inputs` (preprocessed images)."""
    if name == "small_cnn":
        if weights not in (None, "none"):
            raise ValueError("small_cnn has no pretrained weights; use weights=None")
        x = inputs
        for i, filters in enumerate((32, 64, 128, 256)):
            for part in "ab" if i < 2 else "a":
                x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}{part}")(x)
                # Momentum 0.9: the moving statistics settle within the few hundred steps of a CPU run.
                x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}{part}")(x)
                x = layers.ReLU(name=f"relu{i}{part}")(x)
            x = layers.MaxPooling2D(name=f"pool{i}")(x)
        return x
    network = getattr(keras.applications, name, None)
    if network is None:
        raise ValueError(f"backbone must be 'small_cnn' or a keras.applications network, got {name!r}")
    return network(include_top=False, weights=weights, input_tensor=inputs).output


def dense_features(feature_map, dense_units=(256, 256), dropout=0.0):
    """Flattened feature map through fully connected layers (R-CNN's fc6, fc7)."""
    x = layers.Flatten(name="flatten")(feature_map)
    for i, units in enumerate(dense_units):
        x = layers.Dense(units, activation="relu", name=f"fc{i + 6}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"drop{i + 6}")(x)
    return x


def image_features(name, inputs, weights=None, dense_units=(256, 256), dropout=0.0):
    """The feature vector of `inputs` (a Keras tensor of preprocessed images)."""
    return dense_features(conv_features(name, inputs, weights), dense_units, dropout)


def image_encoder(name, height, width, weights=None, dense_units=(256, 256), dropout=0.0, model_name="image_encoder"):
    """A model from images `[B, height, width, 3]` (0-255) to their feature vector."""
    images = keras.Input((height, width, 3), name="image")
    return keras.Model(
        images, image_features(name, preprocess(name, images), weights, dense_units, dropout), name=model_name
    )
