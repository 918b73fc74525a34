"""The LSTM cell with peephole connections, as Graves (2013) uses it, and the
recurrent layers the language models and the handwriting networks are built from."""

import keras
from keras import layers, ops

# `recurrent_layer`'s cells: Keras' LSTM (cuDNN on a GPU), Graves' peephole LSTM, a simple RNN.
CELLS = ("lstm", "peephole", "simple")


@keras.saving.register_keras_serializable(package="keras_l11")
class PeepholeLSTMCell(keras.layers.Layer):
    """LSTM cell with peepholes (Graves, 2013, eqs. 7-11).

    Paper: [Generating Sequences With Recurrent Neural Networks](https://arxiv.org/abs/1308.0850).
    The lecture's gated memory cell: the input gate decides what is written into
    the cell, the forget gate what is kept of it, the output gate what is read out;
    the peepholes (diagonal weights `w_c*`) let every gate look at the cell itself:

        i_t = sigmoid(W_xi x_t + W_hi h_{t-1} + w_ci * c_{t-1} + b_i)
        f_t = sigmoid(W_xf x_t + W_hf h_{t-1} + w_cf * c_{t-1} + b_f)
        c_t = f_t * c_{t-1} + i_t * tanh(W_xc x_t + W_hc h_{t-1} + b_c)
        o_t = sigmoid(W_xo x_t + W_ho h_{t-1} + w_co * c_t + b_o)
        h_t = o_t * tanh(c_t)

    (`*` is the element-wise product; the output gate peeks at the *new* cell.)
    Without peepholes this is `keras.layers.LSTMCell`, which should be preferred
    where peepholes are not wanted (it runs on cuDNN).

    Args:
        units: int. Size of the cell and hidden state.
        unit_forget_bias: bool. Start the forget gate's bias at 1 (remember by default).
        kernel_initializer, recurrent_initializer, peephole_initializer: initialisers.

    Example:
    ```python
    import keras
    from keras_l11.layers.lstm import PeepholeLSTMCell

    layer = keras.layers.RNN(PeepholeLSTMCell(64), return_sequences=True)
    outputs = layer(keras.random.normal((2, 10, 8)))  # (2, 10, 64)
    ```
    """

    def __init__(
        self,
        units,
        unit_forget_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        peephole_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"units must be a positive integer, got {units!r}")
        self.units = int(units)
        self.unit_forget_bias = unit_forget_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.peephole_initializer = keras.initializers.get(peephole_initializer)
        self.state_size = [self.units, self.units]
        self.output_size = self.units

    def build(self, input_shape):
        n = self.units
        self.kernel = self.add_weight(
            shape=(input_shape[-1], 4 * n), initializer=self.kernel_initializer, name="kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(n, 4 * n), initializer=self.recurrent_initializer, name="recurrent_kernel"
        )
        self.peepholes = self.add_weight(shape=(3, n), initializer=self.peephole_initializer, name="peepholes")

        def bias_init(shape, dtype=None):
            forget = ops.ones((n,)) if self.unit_forget_bias else ops.zeros((n,))
            return ops.cast(ops.concatenate([ops.zeros((n,)), forget, ops.zeros((2 * n,))]), dtype)

        self.bias = self.add_weight(shape=(4 * n,), initializer=bias_init, name="bias")
        super().build(input_shape)

    def call(self, inputs, states, training=None):
        h, c = states
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h, self.recurrent_kernel) + self.bias
        zi, zf, zc, zo = ops.split(z, 4, axis=-1)  # gate order: input, forget, cell, output
        i = ops.sigmoid(zi + self.peepholes[0] * c)
        f = ops.sigmoid(zf + self.peepholes[1] * c)
        c_new = f * c + i * ops.tanh(zc)
        o = ops.sigmoid(zo + self.peepholes[2] * c_new)
        h_new = o * ops.tanh(c_new)
        return h_new, [h_new, c_new]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "unit_forget_bias": self.unit_forget_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
                "peephole_initializer": keras.initializers.serialize(self.peephole_initializer),
            }
        )
        return config


def recurrent_layer(cell, units, name):
    """A sequence layer of `cell` ("lstm", "peephole" or "simple") returning its
    outputs and final states."""
    kwargs = {"return_sequences": True, "return_state": True, "name": name}
    if cell == "lstm":
        return layers.LSTM(units, **kwargs)
    if cell == "peephole":
        return layers.RNN(PeepholeLSTMCell(units), **kwargs)
    if cell == "simple":
        return layers.SimpleRNN(units, activation="sigmoid", **kwargs)
    raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")


def recurrent_cell(cell, units, name):
    """The single-step cell of `cell` ("lstm" or "peephole")."""
    if cell == "lstm":
        return layers.LSTMCell(units, name=name)
    if cell == "peephole":
        return PeepholeLSTMCell(units, name=name)
    raise ValueError(f"cell must be 'lstm' or 'peephole', got {cell!r}")
