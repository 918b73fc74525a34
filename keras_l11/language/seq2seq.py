"""Sequence to sequence translation with deep LSTMs (Sutskever, Vinyals & Le
2014, "Sequence to Sequence Learning with Neural Networks",
https://arxiv.org/abs/1409.3215).

An encoder LSTM stack reads the source sentence *reversed* (so its first words
sit next to the target's first words, which the paper found made learning much
easier) and hands its final states, layer by layer, to a decoder LSTM stack
that predicts the target one word at a time. There is no attention: the whole
sentence passes through the fixed-size state. Translations come from a
left-to-right beam search (the paper: beam 12; 4 layers of 1000 cells).
"""

import keras
import tensorflow as tf
from keras import layers

from keras_l11.ops import decoding


@keras.saving.register_keras_serializable(package="keras_l11")
class Seq2SeqTranslator(keras.Model):
    """Target logits from a reversed source and the shifted target.

    Inputs (training graph): `source` `[batch, source_time]` ids, already
    reversed and right-padded with 0; `target_in` `[batch, target_time]`, the
    target after its start token. Output: logits `[batch, target_time, target_vocab]`.

    Args:
        source_vocab_size: source token ids (0 is padding).
        target_vocab_size: target token ids.
        units: LSTM cells per layer (the paper: 1000).
        num_layers: layers in the encoder and in the decoder (the paper: 4).
        embedding_dim: word embedding size (default `units`; the paper: 1000).
        dropout: dropout between layers (0 in the paper).

    Example:

    ```python
    model = Seq2SeqTranslator(8000, 6000, units=256, num_layers=2)
    logits = model({"source": source_ids, "target_in": target_in_ids})
    tokens, log_probs = model.beam_search(source_ids, start_id, end_id, beam_size=4, max_length=30)
    ```
    """

    def __init__(
        self, source_vocab_size, target_vocab_size, units=256, num_layers=2, embedding_dim=None, dropout=0.0, **kwargs
    ):
        # Layers.
        dim = embedding_dim or units
        source_embedding = layers.Embedding(source_vocab_size, dim, mask_zero=True, name="source_embedding")
        target_embedding = layers.Embedding(target_vocab_size, dim, name="target_embedding")
        lstm = lambda name: layers.LSTM(units, return_sequences=True, return_state=True, name=name)  # noqa: E731
        encoder = [lstm(f"encoder_{i}") for i in range(num_layers)]
        decoder = [lstm(f"decoder_{i}") for i in range(num_layers)]
        drop = layers.Dropout(dropout, name="dropout")
        readout = layers.Dense(target_vocab_size, dtype="float32", name="logits")

        # The functional graph.
        source = keras.Input((None,), dtype="int32", name="source")
        target_in = keras.Input((None,), dtype="int32", name="target_in")
        x, states = source_embedding(source), []
        for i, lstm in enumerate(encoder):
            x, h, c = lstm(drop(x) if i else x)
            states.append([h, c])
        y = target_embedding(target_in)
        for i, lstm in enumerate(decoder):
            y = lstm(drop(y) if i else y, initial_state=states[i])[0]
        super().__init__({"source": source, "target_in": target_in}, readout(drop(y)), **kwargs)

        # Config.
        self.source_vocab_size = source_vocab_size
        self.target_vocab_size = target_vocab_size
        self.units = units
        self.num_layers = num_layers
        self.embedding_dim = embedding_dim
        self.dropout_rate = dropout
        self.source_embedding = source_embedding
        self.target_embedding = target_embedding
        self.encoder = encoder
        self.decoder = decoder
        self.readout = readout

    def encode(self, source):
        """Final encoder states `[[h, c] per layer]` of reversed, padded `source`."""
        x = self.source_embedding(source)
        mask = source != 0
        states = []
        for lstm in self.encoder:
            x, h, c = lstm(x, mask=mask)
            states.append([h, c])
        return states

    def step(self, tokens, states):
        """One target token per row `[batch]` -> `(logits [batch, vocab], states)`."""
        y = self.target_embedding(tokens)
        new_states = []
        for lstm, state in zip(self.decoder, states):
            y, state = lstm.cell(y, state)
            new_states.append(list(state))
        return self.readout(y), new_states

    def beam_search(self, source, start_id, end_id, beam_size, max_length, alpha=0.0):
        """`(tokens [batch, beam, <= max_length], log_probs [batch, beam])`, best first."""
        states = self.encode(source)
        start = tf.fill([tf.shape(source)[0]], tf.constant(start_id, tf.int32))
        return decoding.beam_search(
            self.step, states, start, self.target_vocab_size, beam_size, max_length, end_id, alpha
        )

    def greedy(self, source, start_id, max_length):
        """Greedy decoding: `(tokens [batch, max_length], log_probs [batch])`."""
        states = self.encode(source)
        start = tf.fill([tf.shape(source)[0]], tf.constant(start_id, tf.int32))
        return decoding.sample(self.step, states, start, max_length, temperature=0.0)

    def get_config(self):
        return {
            "name": self.name,
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "units": self.units,
            "num_layers": self.num_layers,
            "embedding_dim": self.embedding_dim,
            "dropout": self.dropout_rate,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def reversed_source(tokenizer, text):
    """In-graph: source strings `[batch]` -> reversed, right-padded ids `[batch, time]`."""
    ids = tokenizer.encode(text)
    lengths = ids.row_lengths()
    padded = ids.to_tensor(default_value=0)
    return tf.reverse_sequence(padded, lengths, seq_axis=1, batch_axis=0)
