"""Graves' (2013) handwriting synthesis network (section 5).

The prediction network, conditioned on a text through a soft window
(`keras_l11.handwriting.soft_window`): the first LSTM layer reads the pen point and
the previous window vector; its output places the window on the text; the
window vector goes to the layers above (with the point and the layer below)
and to the first layer at the next step; every layer feeds the mixture
density head. The paper: 3 x 400 cells, K = 10 window components, M = 20
mixture components, LSTMs with peepholes (`cell="peephole"`); on IAM-OnDB's first
validation set its Table 4 gives -1096.9 nats per sequence (-1128.2 with adaptive
weight noise, which this package does not implement).

Keras 3's RNN layers have no `constants`, so the first layer and the window
run in one `tf.scan` that holds the text; the layers above are ordinary
`keras.layers.LSTM`s over whole sequences (cuDNN on a GPU).
"""

import string

import keras
import tensorflow as tf

from keras_l11.handwriting.data import START_POINT, encode_characters
from keras_l11.handwriting.mixture_density import MixtureDensityHead, mixture_distribution
from keras_l11.handwriting.prediction import priming_inputs, sample_points
from keras_l11.handwriting.soft_window import SoftWindow, character_lengths, finished
from keras_l11.layers import stacked_rnn
from keras_l11.layers.lstm import recurrent_cell, recurrent_layer

# Characters of IAM-OnDB's transcripts (others map to the "unknown" channel).
DEFAULT_ALPHABET = " " + string.ascii_letters + string.digits + "!\"#&'()*+,-./:;?"


@keras.saving.register_keras_serializable(package="keras_l11")
class HandwritingSynthesisNetwork(keras.Model):
    """Mixture parameters `[batch, time, 6M + 1]` for the point after each input
    point, given the text being written.

    Graves 2013, "Generating Sequences With Recurrent Neural Networks",
    https://arxiv.org/abs/1308.0850, section 5.

    Args:
        units: LSTM cells per layer (the paper: 400).
        num_layers: LSTM layers, the first one drives the window (the paper: 3).
        num_components: M, mixture components (the paper: 20).
        window_components: K, window Gaussians (the paper: 10).
        alphabet: the characters with a one-hot channel of their own; one more
            channel takes every other character.
        kappa_bias: initial bias of the window's step (see `SoftWindow`).
        cell: "lstm" (Keras' LSTM, cuDNN on a GPU) or "peephole" (the paper's).

    Inputs: `{"points": [batch, time, 3], "text": [batch, chars] int32}` with
    text ids from `encode` (-1 pads).

    Example:

    ```python
    model = HandwritingSynthesisNetwork(units=400, num_layers=3)
    text = model.encode(tf.constant(["hello world"]))
    strokes, lengths = model.sample(text, max_length=800, bias=1.0, seed=7)
    ```
    """

    def __init__(
        self,
        units=400,
        num_layers=3,
        num_components=20,
        window_components=10,
        alphabet=DEFAULT_ALPHABET,
        kappa_bias=-3.0,
        cell="lstm",
        **kwargs,
    ):
        super().__init__(**kwargs)
        # Layers. (No functional graph: the first layer and the window run in `run`'s tf.scan.)
        self.window_cell = recurrent_cell(cell, units, "lstm_0")
        self.window = SoftWindow(window_components, kappa_bias, name="window")
        self.lstms = [recurrent_layer(cell, units, f"lstm_{i}") for i in range(1, num_layers)]
        self.head = MixtureDensityHead(num_components, name="mixture")

        # Config.
        self.units = units
        self.num_layers = num_layers
        self.num_components = num_components
        self.window_components = window_components
        self.alphabet = alphabet
        self.kappa_bias = kappa_bias
        self.cell = cell
        self.vocabulary_size = len(alphabet) + 1
        self.build()  # the weights' shapes do not depend on the inputs

    def build(self, input_shape=None):
        v, u = self.vocabulary_size, self.units
        self.window_cell.build((None, 3 + v))
        self.window.build((None, u))
        for lstm in self.lstms:
            lstm.build((None, None, 3 + v + u))
        self.head.build((None, None, u * self.num_layers))
        self.built = True

    def encode(self, text):
        """Strings `[batch]` -> character ids `[batch, chars]` (-1 pads)."""
        return encode_characters(text, self.alphabet)

    def initial_state(self, batch_size):
        zeros = lambda n, dtype=tf.float32: tf.zeros([batch_size, n], dtype)  # noqa: E731
        return {
            "window_lstm": [zeros(self.units, self.compute_dtype)] * 2,
            "kappa": zeros(self.window_components),
            "w": zeros(self.vocabulary_size),
            "upper": stacked_rnn.zero_states(batch_size, self.units, self.num_layers - 1, 2, self.compute_dtype),
        }

    def _one_hot(self, text):
        return tf.one_hot(text, self.vocabulary_size)  # -1 (padding) -> zeros

    def _window_step(self, point, h, c, kappa, w, text):
        """The first layer and the window at one step: `(h, c, kappa, w, phi)`."""
        x = tf.concat([point, tf.cast(w, self.compute_dtype)], -1)
        h, (h, c) = self.window_cell(x, [h, c])
        w, kappa, phi = self.window(h, kappa, text)
        return h, c, kappa, w, phi

    def _upper_input(self, points, w):
        """What the layers above the first read besides the layer below: the point and the window."""
        return tf.concat([points, tf.cast(w, self.compute_dtype)], -1)

    def run(self, points, text, states=None, mask=None):
        """`(params [batch, time, 6M + 1], final states, phi [batch, time, chars + 1])`
        for whole sequences; masked steps keep the state. phi are the window
        weights over the characters (and just after the longest text)."""
        points = tf.cast(points, self.compute_dtype)
        batch, time = tf.shape(points)[0], tf.shape(points)[1]
        states = self.initial_state(batch) if states is None else states
        mask = tf.ones([batch, time], tf.bool) if mask is None else tf.cast(mask, tf.bool)
        one_hot = self._one_hot(text)

        def scan_step(carry, inputs):
            point, keep = inputs
            new = self._window_step(point, *carry[:4], one_hot)
            return tuple(tf.where(keep[:, None], n, o) for n, o in zip(new, carry))

        h, c = states["window_lstm"]
        phi0 = tf.zeros([batch, tf.shape(text)[1] + 1])
        h1, cs, kappas, ws, phis = tf.scan(
            scan_step,
            (tf.transpose(points, [1, 0, 2]), tf.transpose(mask)),
            initializer=(h, c, states["kappa"], states["w"], phi0),
        )
        time_major = lambda t: tf.transpose(t, [1, 0, 2])  # noqa: E731
        h1, w = time_major(h1), time_major(ws)
        features, upper = h1, []
        if self.lstms:
            above, upper = stacked_rnn.run_stack(
                self.lstms, self._upper_input(points, w), states["upper"], True, mask, below=h1
            )
            features = tf.concat([h1, above], -1)
        final = {"window_lstm": [h1[:, -1], cs[-1]], "kappa": kappas[-1], "w": ws[-1], "upper": upper}
        # h1[:, -1] is the carried state: masked steps repeat it.
        return self.head(features), final, time_major(phis)

    def call(self, inputs):
        # Keras' symbolic build under tf.distribute may hand the ids over as float32 specs.
        params, _, _ = self.run(inputs["points"], tf.cast(inputs["text"], tf.int32))
        return params

    def step(self, point, states, text):
        """One point per row `[batch, 3]` -> `(params [batch, 6M + 1], states, phi [batch, chars + 1])`."""
        return self._step(point, states, self._one_hot(text))

    def _step(self, point, states, one_hot):
        """`step` on the text's one-hot matrix, which a sampling loop builds once, not per point."""
        point = tf.cast(point, self.compute_dtype)
        h, c = states["window_lstm"]
        h, c, kappa, w, phi = self._window_step(point, h, c, states["kappa"], states["w"], one_hot)
        features, upper = h, []
        if self.lstms:
            above, upper = stacked_rnn.step_stack(
                self.lstms, self._upper_input(point, w), states["upper"], True, below=h
            )
            features = tf.concat([h, above], -1)
        return self.head(features), {"window_lstm": [h, c], "kappa": kappa, "w": w, "upper": upper}, phi

    def log_prob(self, points, lengths, text):
        """Log-likelihood in nats of each right-padded sequence `[batch, time, 3]`
        written for `text` (ids), every point predicted (the first from `START_POINT`)."""
        points = tf.cast(points, tf.float32)
        start = tf.broadcast_to(tf.constant(START_POINT), tf.shape(points[:, :1]))
        params, _, _ = self.run(tf.concat([start, points[:, :-1]], axis=1), text)
        per_point = mixture_distribution(params, self.num_components).log_prob(points)
        mask = tf.sequence_mask(lengths, tf.shape(points)[1])
        return tf.reduce_sum(tf.where(mask, per_point, 0.0), axis=-1)

    def prime(self, points, lengths, text):
        """States after writing the first `lengths` points of each row for
        `text` (the priming text followed by the text to write), and each row's
        last point."""
        inputs, mask, last = priming_inputs(points, lengths)
        _, states, _ = self.run(inputs, text, mask=mask)
        return states, last

    def sample(self, text, max_length, bias=0.0, seed=0, states=None, start=None):
        """`(points [batch, steps, 3], lengths)` written for `text` (ids), one
        point at a time inside a `tf.while_loop`, until the finish condition
        (the window has moved past the last character) or `max_length` points;
        from `states`/`start` (as `prime` returns them) or from scratch."""
        batch = tf.shape(text)[0]
        states = self.initial_state(batch) if states is None else states
        start = tf.broadcast_to(tf.constant(START_POINT), [batch, 3]) if start is None else start
        lengths = character_lengths(text)
        one_hot = self._one_hot(text)

        def step(point, states):
            params, states, phi = self._step(point, states, one_hot)
            return params, states, finished(phi, lengths)

        return sample_points(step, states, start, max_length, self.num_components, bias, seed)

    def window_weights(self, points, lengths, text):
        """phi `[batch, time, chars]`: where the window sat on the text while
        each of the given points was written (Graves' Fig. 13)."""
        inputs, mask, _ = priming_inputs(points, lengths)
        _, _, phi = self.run(inputs, text, mask=mask)
        return phi[:, :, :-1]

    def get_config(self):
        return {
            "name": self.name,
            "units": self.units,
            "num_layers": self.num_layers,
            "num_components": self.num_components,
            "window_components": self.window_components,
            "alphabet": self.alphabet,
            "kappa_bias": self.kappa_bias,
            "cell": self.cell,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
