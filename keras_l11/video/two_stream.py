"""Two-stream networks for action recognition (Simonyan & Zisserman 2014).

A spatial stream classifies single RGB frames (appearance); a temporal stream
classifies a stack of the optical flow of L = 10 consecutive frame pairs
(motion). Each is trained on its own; their softmax scores are fused by
averaging or by a linear SVM (`keras_l11.video.score_fusion`).

The paper's ConvNet (CNN-M-2048, both streams): conv1 96 7 x 7 stride 2, norm,
pool; conv2 256 5 x 5 stride 2, norm (spatial only), pool; conv3-5 512 3 x 3,
pool; full6 4096 and full7 2048 with dropout; softmax. At test time 25 frames
(or flow stacks) evenly spaced in the video are classified and their scores
averaged.
"""

import keras
from keras import layers

from keras_l11.video.conv_tower import classifier, conv_features, fully_connected
from keras_l11.video.flow_stack import FlowStack
from keras_l11.video.specs import STREAMS, ConvTower


@keras.saving.register_keras_serializable(package="keras_l11")
class StreamConvNet(keras.Model):
    """One stream of a [two-stream network](https://arxiv.org/abs/1406.2199):
    class probabilities of an RGB frame (spatial) or of the flows of L
    consecutive frame pairs (temporal).

    Args:
        stream: "spatial" (input `frames [batch, H, W, 3]`, 0-255) or
            "temporal" (input `flows [batch, L, H, W, 2]`, pixels, as
            `keras_l11.video.flow.video_flows` computes them; stacked in the
            graph into `[H, W, 2L]` by `FlowStack`).
        num_classes: int.
        height, width: the input size.
        flow_length: L, the flows in a temporal stack (the paper: 10).
        trajectory: bool, trajectory stacking instead of optical flow stacking.
        tower: a `ConvTower` (or its config) for the convolutional and fully
            connected layers; `CNN_M_2048` is the paper's spatial net and
            `CNN_M_2048_TEMPORAL` its temporal net (no norm after conv2).

    Example:

    ```python
    temporal = StreamConvNet("temporal", 101, 224, 224, tower=CNN_M_2048_TEMPORAL)
    probabilities = temporal(flows)   # flows: [batch, 10, 224, 224, 2]
    ```
    """

    def __init__(self, stream, num_classes, height, width, flow_length=10, trajectory=False, tower=None, **kwargs):
        tower = ConvTower.from_config(tower or ConvTower())
        # Layers and the functional graph.
        if stream == "spatial":
            inputs = keras.Input((height, width, 3), name="frames")
            x = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(inputs)
        elif stream == "temporal":
            inputs = keras.Input((flow_length, height, width, 2), name="flows")
            x = FlowStack(trajectory, name="flow_stack")(inputs)
        else:
            raise ValueError(f"stream must be one of {STREAMS}, got {stream!r}")
        x = fully_connected(conv_features(x, tower, ""), tower, "")
        super().__init__(inputs, classifier(x, num_classes), **kwargs)

        # Config.
        self.stream, self.num_classes, self.height, self.width = stream, num_classes, height, width
        self.flow_length, self.trajectory, self.tower = flow_length, trajectory, tower

    def get_config(self):
        return {
            "name": self.name,
            "stream": self.stream,
            "num_classes": self.num_classes,
            "height": self.height,
            "width": self.width,
            "flow_length": self.flow_length,
            "trajectory": self.trajectory,
            "tower": self.tower.config(),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
