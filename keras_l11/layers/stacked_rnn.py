"""Running a stack of Keras recurrent layers with explicit states, as Graves'
(2013) deep networks are wired: with `skip=True` the input feeds every layer
and the features handed to the output layer are all layers' outputs.

Used for scoring, priming and in-graph generation by the language model and the
handwriting network (their training graphs are functional Keras graphs built
from the same layers). States are one list per layer (`[h, c]` for an LSTM,
`[h]` for a simple RNN).
"""

import tensorflow as tf


def _layer_input(x, h, skip):
    """The bottom layer reads x; a layer above reads h (and x too with skip connections)."""
    if h is None:
        return x
    return tf.concat([x, h], -1) if skip else h


def _features(outputs, skip):
    return tf.concat(outputs, -1) if skip and len(outputs) > 1 else outputs[-1]


def run_stack(rnns, x, states, skip, mask=None, below=None):
    """Sequences `x [batch, time, features]` through layers built with
    `return_sequences=True, return_state=True`; masked steps keep the state.
    `below` is the output of a layer under the stack (the first layer then
    reads `[x, below]`, as every later layer reads `[x, h]`).

    Returns:
        `(features [batch, time, ...], final states)`.
    """
    outputs, new_states, h = [], [], below
    for rnn, state in zip(rnns, states):
        result = rnn(_layer_input(x, h, skip), initial_state=state, mask=mask)
        h = result[0]
        outputs.append(h)
        new_states.append(list(result[1:]))
    return _features(outputs, skip), new_states


def step_stack(rnns, x, states, skip, below=None):
    """One step `x [batch, features]` through the layers' cells: `(features, states)`."""
    outputs, new_states, h = [], [], below
    for rnn, state in zip(rnns, states):
        h, state = rnn.cell(_layer_input(x, h, skip), state)
        outputs.append(h)
        new_states.append(list(state) if isinstance(state, (list, tuple)) else [state])
    return _features(outputs, skip), new_states


def zero_states(batch_size, units, num_layers, per_layer, dtype):
    zeros = tf.zeros([batch_size, units], dtype)
    return [[zeros] * per_layer for _ in range(num_layers)]
