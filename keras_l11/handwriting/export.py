"""Export signatures of the handwriting networks, in the data's own units.

The networks work on offsets scaled to unit deviation (`Normaliser`); every
signature takes and returns strokes `(dx, dy, end_of_stroke)` in the units of
the training data, so a client never sees the scale.

Prediction network:
- `sample` (`serving_default`): `bias`, `seed`, `length` per row -> `strokes
  [rows, points, 3]`, `lengths`.
- `sample_primed`: the same plus `prime_strokes [rows, points, 3]` and
  `prime_lengths`: goes on from each row's strokes (only the new points are
  returned; rows with `prime_lengths` 0 start afresh).
- `log_prob`: `strokes`, `lengths` -> `nats` per sequence.

Synthesis network: as above with `text` (what to write) in `sample`,
`prime_text` (what the priming strokes say) in `sample_primed`, `max_length`
instead of `length` (writing stops at the finish condition), `text` in
`log_prob`, and `window` (`strokes`, `lengths`, `text` -> `phi [rows,
points, chars]`, where the window sat while each point was written).
Text outside the model's alphabet is refused with a message that names it.
"""

import tensorflow as tf

from keras_l11.handwriting.synthesis import HandwritingSynthesisNetwork
from keras_l11.training.export import Signature


def _rows(dtype):
    return tf.TensorSpec([None], dtype)


STROKES = tf.TensorSpec([None, None, 3], tf.float32)


def handwriting_signatures(model, offset_scale):
    """Signature name -> `Signature` for a prediction or synthesis network
    trained on offsets divided by `offset_scale` `(sx, sy)`."""
    scale = tf.constant(list(offset_scale) + [1.0], tf.float32)

    def output(points, lengths, limit):
        lengths = tf.minimum(lengths, limit)
        keep = tf.sequence_mask(lengths, tf.shape(points)[1])[:, :, None]
        return {"strokes": tf.where(keep, points * scale, 0.0), "lengths": lengths}

    if isinstance(model, HandwritingSynthesisNetwork):
        return _synthesis_signatures(model, scale, output)

    def sample(bias, seed, length, states=None, start=None):
        points, lengths = model.sample(tf.shape(bias)[0], tf.reduce_max(length), bias, seed, states, start)
        return output(points, lengths, length)

    def sample_primed(bias, seed, length, prime_strokes, prime_lengths):
        states, last = model.prime(prime_strokes / scale, prime_lengths)
        return sample(bias, seed, length, states, last)

    def log_prob(strokes, lengths):
        return {"nats": -model.log_prob(strokes / scale, lengths)}

    sample_inputs = {"bias": _rows(tf.float32), "seed": _rows(tf.int32), "length": _rows(tf.int32)}
    return _with_default(
        Signature(sample, sample_inputs),
        Signature(sample_primed, {**sample_inputs, "prime_strokes": STROKES, "prime_lengths": _rows(tf.int32)}),
        Signature(log_prob, {"strokes": STROKES, "lengths": _rows(tf.int32)}),
    )


def _synthesis_signatures(model, scale, output):
    alphabet = model.alphabet
    readable = alphabet.replace(" ", "") + (" and space" if " " in alphabet else "")  # no quotes: TF escapes them

    def checked_ids(text):
        ids = model.encode(text)
        known = tf.reduce_all((ids < len(alphabet)) | (ids < 0), axis=-1)
        bad = tf.strings.reduce_join(tf.boolean_mask(text, ~known), separator=" / ")
        with tf.control_dependencies(
            [
                tf.debugging.assert_greater(
                    tf.reduce_min(tf.reduce_sum(tf.cast(ids >= 0, tf.int32), -1)), 0, message="text is empty"
                ),
                tf.debugging.Assert(
                    tf.reduce_all(known),
                    [tf.strings.join([f"text has characters outside the alphabet of this model ({readable}): ", bad])],
                ),
            ]
        ):
            return tf.identity(ids)

    def sample(text, bias, seed, max_length, states=None, start=None, ids=None):
        ids = checked_ids(text) if ids is None else ids
        points, lengths = model.sample(ids, tf.reduce_max(max_length), bias, seed, states, start)
        return output(points, lengths, max_length)

    def sample_primed(text, bias, seed, max_length, prime_strokes, prime_lengths, prime_text):
        # The network reads the priming strokes with the whole line, priming text first (Graves, section 5.5).
        line = tf.where(tf.strings.length(prime_text) > 0, tf.strings.join([prime_text, text], " "), text)
        ids = checked_ids(line)
        states, last = model.prime(prime_strokes / scale, prime_lengths, ids)
        return sample(text, bias, seed, max_length, states, last, ids)

    def log_prob(strokes, lengths, text):
        return {"nats": -model.log_prob(strokes / scale, lengths, model.encode(text))}

    def window(strokes, lengths, text):
        return {"phi": model.window_weights(strokes / scale, lengths, model.encode(text))}

    sample_inputs = {
        "text": _rows(tf.string),
        "bias": _rows(tf.float32),
        "seed": _rows(tf.int32),
        "max_length": _rows(tf.int32),
    }
    scored = {"strokes": STROKES, "lengths": _rows(tf.int32), "text": _rows(tf.string)}
    primed = {
        **sample_inputs,
        "prime_strokes": STROKES,
        "prime_lengths": _rows(tf.int32),
        "prime_text": _rows(tf.string),
    }
    return {
        **_with_default(
            Signature(sample, sample_inputs), Signature(sample_primed, primed), Signature(log_prob, scored)
        ),
        "window": Signature(window, scored),
    }


def _with_default(sample, sample_primed, log_prob):
    return {"serving_default": sample, "sample": sample, "sample_primed": sample_primed, "log_prob": log_prob}
