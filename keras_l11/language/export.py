"""The language models' and the translator's exported signatures (`score`, `sample`,
`translate`): what the jobs export, the benchmark serves and the tests and clients call."""

import math

import tensorflow as tf

from keras_l11.language.language_model import with_start
from keras_l11.language.seq2seq import reversed_source
from keras_l11.training.export import Signature


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


def translation_signatures(model, source_tokenizer, target_tokenizer, beam_size, max_length):
    """`translate` (also `serving_default`): `source` strings -> `translation`
    (the best), `translations` `[batch, beam]` (the n-best, best first) and
    their `log_probs` (natural log, under the model)."""

    def translate(source):
        tokens, log_probs = model.beam_search(
            reversed_source(source_tokenizer, source),
            target_tokenizer.start_id,
            target_tokenizer.end_id,
            beam_size,
            max_length,
        )
        batch = tf.shape(tokens)[0]
        flat = tf.reshape(tokens, [batch * beam_size, -1])  # the search stops early when every beam has ended
        texts = tf.reshape(target_tokenizer.decode(flat, stop_id=target_tokenizer.end_id), [batch, beam_size])
        return {"translation": texts[:, 0], "translations": texts, "log_probs": log_probs}

    signature = Signature(fn=translate, inputs={"source": tf.TensorSpec([None], tf.string)})
    return {"serving_default": signature, "translate": signature}
