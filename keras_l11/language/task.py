"""What the character and word language-model jobs share: the model config,
training on windows of a token stream, held-out evaluation that carries the
state through the text, the unigram baseline, and the export with `sample` and
`score` signatures.

The jobs differ only in their data and tokeniser (`train/char_rnn.py`: bytes
of Wikipedia XML; `train/word_rnn.py`: words of Moby-Dick or Penn Treebank).
"""

import dataclasses
import math

import keras
import numpy as np
import tensorflow as tf

from keras_l11.language import text
from keras_l11.language.language_model import RecurrentLanguageModel, with_start
from keras_l11.language.metrics import BitsPerCharacter, Perplexity
from keras_l11.training.config import TrainConfig
from keras_l11.training.export import Signature
from keras_l11.training.harness import format_table


@dataclasses.dataclass(frozen=True)
class LanguageModelConfig(TrainConfig):
    """Model and data sizes of a recurrent language model (see `RecurrentLanguageModel`).

    Attributes:
        sequence_length: tokens per training window (truncated BPTT length).
        eval_streams: parallel streams the held-out text is cut into; each is
            read front to back with the state carried between windows.
        embedding_dim: 0 means `units`.
    """

    units: int = 256
    num_layers: int = 2
    cell: str = "lstm"
    embedding_dim: int = 0
    skip_connections: bool = True
    dropout: float = 0.0
    sequence_length: int = 100
    eval_streams: int = 16


def build_model(config, vocab_size):
    return RecurrentLanguageModel(
        vocab_size,
        units=config.units,
        num_layers=config.num_layers,
        cell=config.cell,
        embedding_dim=config.embedding_dim or None,
        skip_connections=config.skip_connections,
        dropout=config.dropout,
    )


def unigram_bits(train_ids, test_ids, vocab_size):
    """Bits per token of the test text under the training text's unigram
    distribution (add-one smoothed): what a model that ignores context gets."""
    counts = np.bincount(train_ids, minlength=vocab_size).astype(np.float64) + 1.0
    log2p = np.log2(counts / counts.sum())
    return float(-log2p[test_ids].mean())


def stream_bits(model, ids, num_streams, length):
    """Mean bits per predicted token over `ids`, read as `num_streams`
    contiguous streams with the state carried from window to window (the way a
    language model reads a held-out text; a fresh state per window would
    handicap every window's first tokens)."""
    inputs, targets = text.streams(ids, num_streams, length)

    @tf.function
    def window(x, y, states):
        logits, states = model.run(x, states)
        nats = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        return tf.reduce_sum(nats), states

    states = model.initial_state(num_streams)
    total = 0.0
    for x, y in zip(inputs, targets):
        nats, states = window(tf.constant(x), tf.constant(y), states)
        total += float(nats)
    return total / targets.size / math.log(2.0)


def train_language_model(run, tokenizer, train_ids, test_ids, model_name, unit):
    """Fits, evaluates and exports a language model on token-id arrays.

    Args:
        run: the harness `Run`.
        tokenizer: a `ByteTokenizer` or `WordTokenizer` (exported with the model).
        train_ids, test_ids: int32 token ids of the training and held-out text.
        model_name: export name.
        unit: "character" (reports bits per character) or "word" (perplexity).

    Returns:
        The trained model.
    """
    config = run.config
    metric = BitsPerCharacter if unit == "character" else Perplexity
    result = run.fit(
        build_model=lambda: build_model(config, tokenizer.vocab_size),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=lambda: [metric()],
        # A resumed run skips the batches it has trained on: the same stream as an uninterrupted run.
        train_data=lambda batch, seed, start: text.windows(
            train_ids, config.sequence_length, batch, shuffle_seed=seed, repeat=True
        ).skip(start),
        eval_data=lambda batch: text.windows(test_ids, config.sequence_length, batch),
    )
    model = run.local_copy(result.model)
    streams = max(1, min(config.eval_streams, (len(test_ids) - 1) // config.sequence_length))
    bits = stream_bits(model, test_ids, streams, config.sequence_length)
    baseline = unigram_bits(train_ids, test_ids, tokenizer.vocab_size)
    evaluation = {
        f"bits_per_{unit}": bits,
        "perplexity": 2.0**bits,
        f"unigram_bits_per_{unit}": baseline,
        "unigram_perplexity": 2.0**baseline,
        "train_tokens": int(len(train_ids)),
        "test_tokens": int(len(test_ids)),
    }
    run.summary["evaluation"] = evaluation
    print(
        format_table(
            ["held-out text", f"bits/{unit}", "perplexity"],
            [["model (state carried)", bits, 2.0**bits], ["unigram baseline", baseline, 2.0**baseline]],
        )
    )
    run.export(result.model, model_name, lambda local: language_model_signatures(local, tokenizer), [tokenizer])
    return model


def language_model_signatures(model, tokenizer):
    """The exported endpoints of a language model, on plain strings.

    - `sample`: `prime`, `length`, `temperature`, `bias`, `seed` (one value per
      row) -> `text` (the continuation) and `log_prob_bits` (its log2
      probability under the unbiased model). All rows share the longest length
      and are cut to their own.
    - `score` (also `serving_default`): `text` -> `log_prob_bits`, `tokens`
      (how many were scored) and `bits_per_token`.
    """

    def sample(prime, length, temperature, bias, seed):
        ids, lengths = with_start(tokenizer, prime)
        tokens, log_probs = model.generate(
            ids, lengths, tf.reduce_max(length), temperature=temperature, bias=bias, seed=seed, row_lengths=length
        )
        tokens = tf.RaggedTensor.from_tensor(tokens, lengths=length)
        return {"text": tokenizer.decode(tokens), "log_prob_bits": log_probs / math.log(2.0)}

    def score(text):
        ids, lengths = with_start(tokenizer, text)
        bits = model.score(ids, lengths)
        count = tf.cast(lengths - 1, tf.float32)
        return {"log_prob_bits": bits, "tokens": lengths - 1, "bits_per_token": tf.math.divide_no_nan(-bits, count)}

    rows = lambda dtype: tf.TensorSpec([None], dtype)  # noqa: E731
    score_signature = Signature(fn=score, inputs={"text": rows(tf.string)})
    return {
        "serving_default": score_signature,
        "score": score_signature,
        "sample": Signature(
            fn=sample,
            inputs={
                "prime": rows(tf.string),
                "length": rows(tf.int32),
                "temperature": rows(tf.float32),
                "bias": rows(tf.float32),
                "seed": rows(tf.int64),
            },
        ),
    }
