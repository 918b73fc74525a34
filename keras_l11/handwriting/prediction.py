"""Graves' (2013) handwriting prediction network (section 4).

A stack of LSTMs reads pen offsets `(dx, dy, end_of_stroke)` and a mixture
density head predicts the next point: M bivariate Gaussians for the offset and
a Bernoulli for the end of the stroke. With skip connections the input feeds
every layer and every layer feeds the head (Fig. 1). The paper's cells are
LSTMs with peepholes (eqs. 7-11; `cell="peephole"`), 20 components; on IAM-OnDB's
first validation set its Table 3 gives -1025.7 nats per sequence for 1 layer of
400 cells, -1041.0 for 3 layers (-1057.7 with adaptive weight noise, which this
package does not implement).
"""

import keras
import tensorflow as tf
from keras import layers

from keras_l11.handwriting.data import START_POINT
from keras_l11.handwriting.mixture_density import MixtureDensityHead, mixture_distribution, sample_point
from keras_l11.layers import stacked_rnn
from keras_l11.layers.lstm import recurrent_layer


@keras.saving.register_keras_serializable(package="keras_l11")
class HandwritingPredictionNetwork(keras.Model):
    """Mixture parameters `[batch, time, 6M + 1]` for the point after each input point.

    Graves 2013, "Generating Sequences With Recurrent Neural Networks",
    https://arxiv.org/abs/1308.0850, section 4.

    Args:
        units: LSTM cells per layer (the paper: 400).
        num_layers: stacked LSTM layers (the paper: 3).
        num_components: M, mixture components (the paper: 20).
        skip_connections: input to every layer, every layer to the head.
        cell: "lstm" (Keras' LSTM, cuDNN on a GPU) or "peephole" (the paper's).

    Example:

    ```python
    model = HandwritingPredictionNetwork(units=400, num_layers=3, num_components=20)
    params = model(points)                                   # points: [batch, time, 3]
    nats = model.log_prob(points, lengths)                   # per sequence
    strokes = model.sample(batch_size=4, length=700, bias=1.0, seed=7)
    ```
    """

    def __init__(self, units=400, num_layers=3, num_components=20, skip_connections=True, cell="lstm", **kwargs):
        # Layers.
        lstms = [recurrent_layer(cell, units, f"lstm_{i}") for i in range(num_layers)]
        head = MixtureDensityHead(num_components, name="mixture")

        # The functional graph.
        points = keras.Input((None, 3), name="points")
        outputs, h = [], None
        for lstm in lstms:
            inputs = points if h is None else (layers.Concatenate()([points, h]) if skip_connections else h)
            h = lstm(inputs)[0]
            outputs.append(h)
        features = layers.Concatenate()(outputs) if skip_connections and num_layers > 1 else h
        super().__init__(points, head(features), **kwargs)

        # Config.
        self.units = units
        self.num_layers = num_layers
        self.num_components = num_components
        self.skip_connections = skip_connections
        self.cell = cell
        self.lstms = lstms
        self.head = head

    def initial_state(self, batch_size):
        return stacked_rnn.zero_states(batch_size, self.units, self.num_layers, 2, self.compute_dtype)

    def run(self, points, states=None, mask=None):
        """`(params [batch, time, 6M + 1], final states)`; masked steps keep the state."""
        points = tf.cast(points, self.compute_dtype)
        if states is None:
            states = self.initial_state(tf.shape(points)[0])
        features, states = stacked_rnn.run_stack(self.lstms, points, states, self.skip_connections, mask)
        return self.head(features), states

    def step(self, point, states):
        """One point per row `[batch, 3]` -> `(params [batch, 6M + 1], states)`."""
        point = tf.cast(point, self.compute_dtype)
        features, states = stacked_rnn.step_stack(self.lstms, point, states, self.skip_connections)
        return self.head(features), states

    def log_prob(self, points, lengths):
        """Log-likelihood in nats of each right-padded sequence `[batch, time, 3]`
        (its first `lengths` points, every one predicted: the first from `START_POINT`)."""
        points = tf.cast(points, tf.float32)
        start = tf.broadcast_to(tf.constant(START_POINT), tf.shape(points[:, :1]))
        params, _ = self.run(tf.concat([start, points[:, :-1]], axis=1))
        per_point = mixture_distribution(params, self.num_components).log_prob(points)
        mask = tf.sequence_mask(lengths, tf.shape(points)[1])
        return tf.reduce_sum(tf.where(mask, per_point, 0.0), axis=-1)

    def prime(self, points, lengths):
        """States after reading the first `lengths` points of each row of
        `points [batch, time, 3]`, and each row's last point (to sample on from)."""
        inputs, mask, last = priming_inputs(points, lengths)
        _, states = self.run(inputs, mask=mask)
        return states, last

    def sample(self, batch_size, length, bias=0.0, seed=0, states=None, start=None):
        """`(points [batch, length, 3], lengths)`: drawn one at a time inside a
        `tf.while_loop`, from `states`/`start` (as `prime` returns them) or from scratch."""
        states = self.initial_state(batch_size) if states is None else states
        start = tf.broadcast_to(tf.constant(START_POINT), [batch_size, 3]) if start is None else start
        step = lambda point, states: (*self.step(point, states), False)  # noqa: E731
        return sample_points(step, states, start, length, self.num_components, bias, seed)

    def get_config(self):
        return {
            "name": self.name,
            "units": self.units,
            "num_layers": self.num_layers,
            "num_components": self.num_components,
            "skip_connections": self.skip_connections,
            "cell": self.cell,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def priming_inputs(points, lengths):
    """`(inputs, mask, last point)` for reading `points [batch, time, 3]` up
    to `lengths` as teacher forcing does: the inputs are the start point and
    the points before the last one; the last point (the start point for rows
    of length 0) is where sampling goes on from."""
    points = tf.cast(points, tf.float32)
    check = tf.debugging.assert_less_equal(
        tf.cast(lengths, tf.int32), tf.shape(points)[1], message="prime_lengths exceed the number of priming points"
    )
    with tf.control_dependencies([check]):  # before the gather below, which would fail first with an index error
        lengths = tf.identity(tf.cast(lengths, tf.int32))
    start = tf.broadcast_to(tf.constant(START_POINT), [tf.shape(points)[0], 1, 3])
    with_start = tf.concat([start, points], axis=1)
    inputs = with_start[:, : tf.maximum(tf.shape(points)[1], 1)]  # at least one (masked) step
    last = tf.gather(with_start, lengths, axis=1, batch_dims=1)
    return inputs, tf.sequence_mask(lengths, tf.shape(inputs)[1]), last


def sample_points(step_fn, states, start, length, num_components, bias=0.0, seed=0):
    """Ancestral sampling of pen points in the graph.

    `step_fn(point [batch, 3], states) -> (params, states, done)`; each point is
    drawn from the (biased) mixture with counter-based noise keyed by `seed` (a
    scalar, or one per row so that a row's strokes do not depend on the rest of
    the batch) and the step, so a seed reproduces its strokes. `bias` is a
    scalar or one value per row. A row stops after the step at which `done`
    (bool `[batch]`, e.g. the synthesis network's finish condition) first
    holds, or after `length` points; the loop ends when every row has stopped.

    Returns:
        `(points [batch, steps, 3] float32, lengths [batch] int32)`: offsets and
        end-of-stroke in {0, 1}, zeros after a row's length.
    """
    seed = tf.cast(seed, tf.int64)
    length = tf.convert_to_tensor(length, tf.int32)
    stopped = tf.zeros(tf.shape(start)[:1], tf.bool)

    def body(i, point, states, stopped, lengths, out):
        params, states, done = step_fn(point, states)
        drawn = sample_point(params, num_components, bias, seed, i)
        lengths += tf.cast(~stopped, tf.int32)
        out = out.write(i, tf.where(stopped[:, None], 0.0, drawn))
        return i + 1, drawn, states, stopped | done, lengths, out

    def more(i, point, states, stopped, *_):
        return (i < length) & ~tf.reduce_all(stopped)

    out = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
    initial = (tf.constant(0), tf.cast(start, tf.float32), states, stopped, tf.zeros_like(stopped, tf.int32), out)
    _, _, _, _, lengths, out = tf.while_loop(more, body, initial)
    return tf.transpose(out.stack(), [1, 0, 2]), lengths
