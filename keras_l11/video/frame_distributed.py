"""A layer applied to every frame of a clip as one batch.

`keras.layers.TimeDistributed` (Keras 3) applies its layer once per time step:
a Python loop over a static time axis, `vectorized_map` over a dynamic one.
For LRCN's per-frame CNN that is 16 copies of the CNN in the traced graph
(a CaffeNet each): tracing, the export and the first step take tens of seconds
at the paper's size, on any device. `FrameDistributed` folds the time axis
into the batch, calls the layer once, and unfolds the result. The outputs are
the same for any layer that treats the examples of a batch independently
(convolutions, pooling, local response normalisation, dense layers, dropout);
a layer with batch statistics (`BatchNormalization` in training) would see
`batch x T` examples at once.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_l11")
class FrameDistributed(keras.layers.Wrapper):
    """`layer` applied to each step of `[batch, T, ...]` inputs, giving
    `[batch, T, ...layer's output]`; T may be unknown.

    Args:
        layer: a Keras layer (or model) of one frame, `[batch, ...]`, whose
            examples do not interact (see the module docstring).

    Example:

    ```python
    frame_cnn = keras.Sequential([keras.layers.Conv2D(8, 3), keras.layers.GlobalAveragePooling2D()])
    features = FrameDistributed(frame_cnn)(clips)   # clips [batch, T, H, W, 3] -> [batch, T, 8]
    ```
    """

    def build(self, input_shape):
        if len(input_shape) < 3 or None in tuple(input_shape[2:]):
            raise ValueError(
                f"FrameDistributed needs inputs [batch, T, ...] with a known frame shape, got shape {input_shape}"
            )
        if not self.layer.built:
            self.layer.build((None, *input_shape[2:]))
        self.built = True

    def compute_output_shape(self, input_shape):
        frame = self.layer.compute_output_shape((None, *input_shape[2:]))
        return (input_shape[0], input_shape[1], *frame[1:])

    def call(self, inputs, training=None):
        shape = ops.shape(inputs)
        frames = ops.reshape(inputs, (-1, *inputs.shape[2:]))
        outputs = self.layer(frames, training=training)
        return ops.reshape(outputs, (shape[0], shape[1], *outputs.shape[1:]))
