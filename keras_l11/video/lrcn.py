"""Long-term recurrent convolutional networks for activity recognition
(Donahue et al. 2014).

Each frame (RGB, or the flow of a frame pair) goes through a CNN; an LSTM
reads the frame features in order and predicts the class at every step; the
clip's prediction is the average of the steps' predictions. The RGB and flow
models are trained apart and fused by a weighted average of their scores (the
paper: 1/3 RGB, 2/3 flow). The single-frame baseline is the same CNN with no
LSTM (`recurrent=False`): per-frame predictions, averaged.

The paper's CNN is CaffeNet up to fc6 (a hybrid of AlexNet and ZF), the LSTM
has 256 hidden units (RGB) or 1024 (flow), clips are 16 frames with stride 8.
"""

import keras
from keras import layers

from keras_l11.video.conv_tower import conv_features, fully_connected
from keras_l11.video.frame_distributed import FrameDistributed
from keras_l11.video.specs import ConvTower

MODALITIES = ("rgb", "flow")


@keras.saving.register_keras_serializable(package="keras_l11")
class LRCN(keras.Model):
    """Per-frame class probabilities `[batch, T, classes]` of a clip
    ([Donahue et al.](https://arxiv.org/abs/1411.4389)); average them over T
    for the clip's prediction.

    Args:
        modality: "rgb" (input `frames [batch, T, H, W, 3]`, 0-255) or "flow"
            (input `flows [batch, T, H, W, 2]`, pixels; each flow's mean
            displacement is subtracted, as in the two-stream temporal net).
        num_classes: int.
        height, width: the frame size (T may vary).
        lstm_units: the LSTM's size.
        recurrent: bool; False gives the single-frame baseline (no LSTM).
        tower: a `ConvTower` (or its config), the per-frame CNN up to its
            fully connected layers.

    Example:

    ```python
    model = LRCN("rgb", 101, 227, 227, lstm_units=256)
    clip_probabilities = keras.ops.mean(model(frames), axis=1)   # frames: [batch, 16, 227, 227, 3]
    ```
    """

    def __init__(self, modality, num_classes, height, width, lstm_units=256, recurrent=True, tower=None, **kwargs):
        if modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
        tower = ConvTower.from_config(tower or ConvTower())
        channels = 3 if modality == "rgb" else 2
        # Layers: the per-frame CNN (one model, applied to every frame).
        frame = keras.Input((height, width, channels), name="frame")
        if modality == "rgb":
            x = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(frame)
        else:
            x = frame - keras.ops.mean(frame, axis=(1, 2), keepdims=True)
        frame_cnn = keras.Model(frame, fully_connected(conv_features(x, tower, ""), tower, ""), name="frame_cnn")

        # The functional graph.
        clip = keras.Input((None, height, width, channels), name="frames" if modality == "rgb" else "flows")
        x = FrameDistributed(frame_cnn, name="per_frame_cnn")(clip)  # the CNN once on batch x T frames
        if recurrent:
            x = layers.LSTM(lstm_units, return_sequences=True, name="lstm")(x)
        output = layers.Dense(num_classes, activation="softmax", dtype="float32", name="frame_probabilities")(x)
        super().__init__(clip, output, **kwargs)

        # Config.
        self.modality, self.num_classes, self.height, self.width = modality, num_classes, height, width
        self.lstm_units, self.recurrent, self.tower = lstm_units, recurrent, tower

    def get_config(self):
        return {
            "name": self.name,
            "modality": self.modality,
            "num_classes": self.num_classes,
            "height": self.height,
            "width": self.width,
            "lstm_units": self.lstm_units,
            "recurrent": self.recurrent,
            "tower": self.tower.config(),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
