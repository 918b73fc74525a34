"""Recurrent language models: Graves' (2013) deep character LSTM and
Mikolov's (2010) word-level RNN LM are the same model with other settings.

    tokens -> embedding -> recurrent layer 1 -> ... -> layer N -> softmax

- `cell="lstm"`: `keras.layers.LSTM` (cuDNN kernels on a GPU);
  `cell="peephole"`: `PeepholeLSTMCell`, the cell Graves uses;
  `cell="simple"`: Mikolov's Elman network (sigmoid hidden units).
- `skip_connections=True` (Graves, Fig. 1): the input feeds every hidden layer
  and every hidden layer feeds the output layer.
- The embedding is the input weight matrix applied to a one-hot vector (what
  Graves' byte inputs are), stored as a lookup table.

Besides the training graph (`model(tokens) -> logits`), the model runs with
explicit states for scoring, priming and generation: `run` over a sequence,
`step` for one token, and `score`, `prime` and `generate` on top of them (the
exported `score` and `sample` signatures, in
`keras_l11.language.task`, call these).
"""

import math

import keras
import tensorflow as tf
from keras import layers

from keras_l11.layers import stacked_rnn
from keras_l11.layers.lstm import recurrent_layer
from keras_l11.ops import decoding


@keras.saving.register_keras_serializable(package="keras_l11")
class RecurrentLanguageModel(keras.Model):
    """Next-token logits `[batch, time, vocab]` from token ids `[batch, time]`.

    Graves 2013, "Generating Sequences With Recurrent Neural Networks"
    (https://arxiv.org/abs/1308.0850), section 3; Mikolov et al. 2010,
    "Recurrent neural network based language model" (Interspeech 2010).

    Args:
        vocab_size: number of token ids.
        units: cells per recurrent layer.
        num_layers: stacked recurrent layers.
        cell: "lstm", "peephole" or "simple".
        embedding_dim: input embedding size (default: `units`).
        skip_connections: Graves' input-to-all and all-to-output connections.
        dropout: dropout on the inputs and outputs of the recurrent layers
            (between layers, so cuDNN kernels still apply).

    Example:

    ```python
    model = RecurrentLanguageModel(256, units=700, num_layers=7, cell="peephole")  # Graves' enwik8 model
    logits = model(byte_ids)                                   # [batch, time, 256]
    ids, lengths = with_start(ByteTokenizer(), ["<page>"])     # start token + prime
    tokens, log_probs = model.generate(ids, lengths, 200, temperature=1.0, bias=0.5, seed=1)
    ```
    """

    def __init__(
        self,
        vocab_size,
        units=256,
        num_layers=2,
        cell="lstm",
        embedding_dim=None,
        skip_connections=True,
        dropout=0.0,
        **kwargs,
    ):
        embedding = layers.Embedding(vocab_size, embedding_dim or units, name="embedding")
        recurrent = [recurrent_layer(cell, units, f"{cell}_{i}") for i in range(num_layers)]
        drop = layers.Dropout(dropout, name="dropout")
        readout = layers.Dense(vocab_size, dtype="float32", name="logits")

        tokens = keras.Input((None,), dtype="int32", name="tokens")
        x = embedding(tokens)
        outputs, h = [], None
        for i, rnn in enumerate(recurrent):
            inputs = x if h is None else (layers.Concatenate()([x, h]) if skip_connections else h)
            h = rnn(drop(inputs) if i else inputs)[0]
            outputs.append(h)
        features = layers.Concatenate()(outputs) if skip_connections and num_layers > 1 else h
        super().__init__(tokens, readout(drop(features)), **kwargs)

        self.vocab_size = vocab_size
        self.units = units
        self.num_layers = num_layers
        self.cell_type = cell
        self.embedding_dim = embedding_dim
        self.skip_connections = skip_connections
        self.dropout_rate = dropout
        self.embedding = embedding
        self.recurrent = recurrent
        self.readout = readout

    # -- explicit-state execution (inference only: no dropout) --------------

    def initial_state(self, batch_size):
        """Zero states: one list per layer (`[h, c]` for LSTMs, `[h]` for "simple")."""
        per_layer = 1 if self.cell_type == "simple" else 2
        return stacked_rnn.zero_states(batch_size, self.units, self.num_layers, per_layer, self.compute_dtype)

    def run(self, tokens, states=None, mask=None):
        """`(logits [batch, time, vocab], final states)` from `states` (zeros if
        None). Where `mask` is False the states are carried unchanged, so
        right-padded rows end with the state after their last real token."""
        if states is None:
            states = self.initial_state(tf.shape(tokens)[0])
        features, states = stacked_rnn.run_stack(
            self.recurrent, self.embedding(tokens), states, self.skip_connections, mask
        )
        return self.readout(features), states

    def step(self, tokens, states):
        """One token per row `[batch]` -> `(logits [batch, vocab], states)`."""
        features, states = stacked_rnn.step_stack(self.recurrent, self.embedding(tokens), states, self.skip_connections)
        return self.readout(features), states

    def score(self, ids, lengths):
        """Log-probability in bits of each row of right-padded `ids [batch,
        time]` (`lengths` real tokens, the first being the start token, which
        is given, not predicted)."""
        mask = tf.sequence_mask(lengths, tf.shape(ids)[1])
        logits, _ = self.run(ids[:, :-1], mask=mask[:, :-1])
        log_probs = -tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ids[:, 1:], logits=logits)
        return tf.reduce_sum(tf.where(mask[:, 1:], log_probs, 0.0), -1) / math.log(2.0)

    def prime(self, ids, lengths):
        """States after all but the last real token of each row, and that last
        token (where generation continues from)."""
        width = tf.maximum(tf.shape(ids)[1] - 1, 1)
        context = tf.pad(ids, [[0, 0], [0, 1]])[:, :width]
        _, states = self.run(context, mask=tf.sequence_mask(lengths - 1, width))
        last = tf.gather(ids, lengths - 1, axis=1, batch_dims=1)
        return states, last

    def generate(self, ids, lengths, length, temperature=1.0, bias=0.0, top_k=0, seed=0, row_lengths=None):
        """Samples `length` tokens after each primed row (see `decoding.sample`)."""
        states, last = self.prime(ids, lengths)
        return decoding.sample(self.step, states, last, length, temperature, bias, top_k, seed, row_lengths)

    def get_config(self):
        return {
            "name": self.name,
            "vocab_size": self.vocab_size,
            "units": self.units,
            "num_layers": self.num_layers,
            "cell": self.cell_type,
            "embedding_dim": self.embedding_dim,
            "skip_connections": self.skip_connections,
            "dropout": self.dropout_rate,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def with_start(tokenizer, text):
    """Right-padded ids `[batch, time]` of `start_id + encode(text)` and lengths."""
    ids = tokenizer.encode(text)
    start = tf.fill([ids.nrows(), 1], tf.constant(tokenizer.start_id, tf.int32))
    ids = tf.concat([tf.RaggedTensor.from_tensor(start), ids], axis=1)
    return ids.to_tensor(default_value=tokenizer.pad_id), tf.cast(ids.row_lengths(), tf.int32)
