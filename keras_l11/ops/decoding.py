"""Decoding inside the graph: sampling with temperature, Graves' bias and top-k,
and beam search (tf-models-official's `sequence_beam_search`).

A model is decoded through one function, `step_fn(tokens, state) -> (logits,
state)`: `tokens` are the previous tokens `[batch]` (int32), `logits` the
next-token logits `[batch, vocab]`, and `state` any nest of `[batch, ...]`
tensors (an RNN's states). Loops are `tf.while_loop`s, not Python loops per
token, so they export inside a SavedModel signature.
"""

import tensorflow as tf


def _per_row(value, logits):
    """A scalar, or one value per row `[batch]` made `[batch, 1]` to broadcast."""
    value = tf.cast(value, logits.dtype)
    return value[:, None] if value.shape.rank == 1 else value


def adjust_logits(logits, temperature=1.0, bias=0.0, top_k=0):
    """The logits sampling draws from: `logits * (1 + bias) / temperature`.

    Graves' (2013) sampling bias sharpens the distribution as it grows (the
    lecture: samples get easier to read but less diverse); temperature < 1 does
    the same. Temperature and bias are scalars or one value per row.
    `top_k > 0` keeps the k most likely tokens only.
    """
    logits = tf.convert_to_tensor(logits)
    temperature = _per_row(temperature, logits)
    bias = _per_row(bias, logits)
    scale = (1.0 + bias) / tf.maximum(temperature, 1e-6)
    adjusted = logits * scale
    top_k = tf.convert_to_tensor(top_k, tf.int32)
    vocab = tf.shape(logits)[-1]
    k = tf.where(top_k > 0, tf.minimum(top_k, vocab), vocab)
    kth = tf.math.top_k(adjusted, k=k).values[..., -1:]
    return tf.where(adjusted < kth, tf.constant(-1e9, adjusted.dtype), adjusted)


def _hash32(x):
    """An integer hash of uint32 tensors (Wellons' "lowbias32"): every output
    bit depends on every input bit, so consecutive counters give unrelated values."""
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))
    x = x * tf.constant(0x7FEB352D, tf.uint32)
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(15, tf.uint32)))
    x = x * tf.constant(0x846CA68B, tf.uint32)
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, tf.constant(16, tf.uint32)))


def uniform_noise(seed, step, shape):
    """Uniform (0, 1) noise `[batch, vocab]` for draw number `step`: a
    counter-based hash of (seed, step, token), computed for the whole batch at
    once. One seed per row makes a row's noise independent of the rest of the
    batch; a scalar seed seeds the whole batch (rows then differ by index)."""

    def u32(x):
        return tf.cast(tf.bitwise.bitwise_and(tf.cast(x, tf.int64), 0xFFFFFFFF), tf.uint32)

    seed = tf.cast(seed, tf.int64)
    if seed.shape.rank == 0:
        keys = _hash32(u32(seed)) + _hash32(u32(tf.range(shape[0]) + 1))
    else:
        keys = _hash32(u32(seed))
    keys = _hash32(keys ^ _hash32(u32(tf.bitwise.right_shift(seed, 32))) + _hash32(u32(step) + 0x9E3779B9))
    tokens = _hash32(u32(tf.range(shape[1])) * tf.constant(0x9E3779B9, tf.uint32) + 1)
    bits = _hash32(keys[:, None] ^ tokens[None, :])
    return (tf.cast(tf.bitwise.right_shift(bits, tf.constant(8, tf.uint32)), tf.float32) + 0.5) / 16777216.0


def sample(
    step_fn,
    initial_state,
    start_tokens,
    length,
    temperature=1.0,
    bias=0.0,
    top_k=0,
    seed=0,
    row_lengths=None,
    end_token=None,
):
    """Samples `length` tokens after `start_tokens`.

    `temperature`, `bias` and `seed` are scalars or one value per row.
    Temperature <= 0 or an infinite bias decode greedily (argmax). The same
    `seed` gives the same sample. Draws use the Gumbel-max trick on the
    adjusted logits.

    Returns:
        `(tokens [batch, length] int32, log_probs [batch])`, the log-probability
        (nats) of the sampled tokens under the model's own, unadjusted
        distribution, over the first `row_lengths` tokens of each row if given.
        With an `end_token`, a row ends at its first end token (counted in
        its log-probability) and is padded with end tokens after it.
    """
    start_tokens = tf.cast(start_tokens, tf.int32)
    length = tf.convert_to_tensor(length, tf.int32)
    temperature = tf.cast(temperature, tf.float32)
    bias = tf.cast(bias, tf.float32)
    greedy = tf.logical_or(temperature <= 0.0, tf.math.is_inf(bias))
    seed = tf.cast(seed, tf.int64)
    batch = tf.shape(start_tokens)[0]
    row_lengths = tf.fill([batch], length) if row_lengths is None else tf.cast(row_lengths, tf.int32)

    end_token = tf.constant(-1 if end_token is None else end_token, tf.int32)

    def body(i, tokens, state, out, log_probs, ended):
        logits, state = step_fn(tokens, state)
        logits = tf.cast(logits, tf.float32)
        adjusted = adjust_logits(logits, tf.where(greedy, 1.0, temperature), tf.where(greedy, 0.0, bias), top_k)
        noise = uniform_noise(seed, i, tf.shape(logits))
        drawn = tf.argmax(adjusted - tf.math.log(-tf.math.log(noise)), axis=-1)
        chosen = tf.cast(tf.where(greedy, tf.argmax(logits, axis=-1), drawn), tf.int32)
        token_log_probs = tf.gather(tf.nn.log_softmax(logits), chosen, axis=-1, batch_dims=1)
        log_probs += tf.where(tf.logical_and(i < row_lengths, tf.logical_not(ended)), token_log_probs, 0.0)
        chosen = tf.where(ended, end_token, chosen)
        ended = tf.logical_or(ended, tf.equal(chosen, end_token))
        return i + 1, chosen, state, out.write(i, chosen), log_probs, ended

    out = tf.TensorArray(tf.int32, size=length)
    _, _, _, out, log_probs, _ = tf.while_loop(
        lambda i, *_: i < length,
        body,
        (tf.constant(0), start_tokens, initial_state, out, tf.zeros([batch], tf.float32), tf.zeros([batch], tf.bool)),
    )
    tokens = tf.reshape(tf.transpose(out.stack()), [batch, length])
    return tokens, log_probs


def beam_search(step_fn, initial_state, start_tokens, vocab_size, beam_size, max_length, end_token, alpha=0.0):
    """The `beam_size` best continuations of `start_tokens` and their log-probabilities.

    Uses tf-models-official's `sequence_beam_search` (alpha: GNMT length
    penalty; 0 ranks by plain log-probability). Beams stop at `end_token`.

    Returns:
        `(tokens [batch, beam, <= max_length] int32, log_probs [batch, beam])`,
        best first; tokens after an `end_token` are padding.
    """
    from official.nlp.modeling.ops import beam_search as tfm_beam_search

    # The search keeps its cache in float32: a mixed-precision model's bfloat16 / float16
    # states are cast back to the model's dtypes for each step.
    dtypes = tf.nest.map_structure(lambda t: t.dtype, initial_state)

    def float32(state):
        return tf.nest.map_structure(lambda t: tf.cast(t, tf.float32), state)

    def symbols_to_logits(ids, index, cache):
        state = tf.nest.map_structure(tf.cast, cache["state"], dtypes)
        logits, state = step_fn(tf.cast(ids[:, -1], tf.int32), state)
        return tf.cast(logits, tf.float32), {"state": float32(state)}

    ids, scores = tfm_beam_search.sequence_beam_search(
        symbols_to_logits_fn=symbols_to_logits,
        initial_ids=tf.cast(start_tokens, tf.int32),
        initial_cache={"state": float32(initial_state)},
        vocab_size=vocab_size,
        beam_size=beam_size,
        alpha=alpha,
        max_decode_length=max_length,
        eos_id=end_token,
    )
    return ids[:, :, 1:], scores


def ranked_beam_search(step_fn, initial_state, start_tokens, beam_size, max_length, end_token):
    """The textbook beam search: at every step, keep the `beam_size` most
    probable hypotheses among all one-token extensions of the current ones,
    finished hypotheses (those that produced `end_token`) competing with
    their score frozen. With `beam_size` 1 it is greedy decoding, exactly.

    (`beam_search` above keeps finished and unfinished hypotheses in separate
    beams, as tf-models-official and the Transformer papers do; with beam 1 it
    may return a shorter caption than greedy decoding.)

    Returns:
        `(tokens [batch, beam, max_length] int32, log_probs [batch, beam])`,
        best first; tokens after an `end_token` are `end_token`.
    """
    start_tokens = tf.cast(start_tokens, tf.int32)
    batch = tf.shape(start_tokens)[0]
    k = beam_size
    end_token = tf.constant(end_token, tf.int32)

    def tile(t):  # [batch, ...] -> [batch * k, ...], each row k times
        return tf.repeat(t, k, axis=0)

    def gather_beams(t, parents):  # [batch * k, ...] rows by parent index [batch, k]
        flat = parents + tf.range(batch)[:, None] * k
        return tf.gather(t, tf.reshape(flat, [-1]))

    state = tf.nest.map_structure(tile, initial_state)
    tokens = tile(start_tokens)
    # Only the first copy of each row is alive at the start, so the beams do not repeat one another.
    # Scores add up in float64: a float32 sum of ~20 log-probabilities can reorder near-ties that greedy
    # decoding (an argmax per step) tells apart.
    scores = tf.tile(
        tf.concat([tf.zeros([1], tf.float64), tf.fill([k - 1], tf.constant(-1e9, tf.float64))], 0)[None], [batch, 1]
    )
    finished = tf.zeros([batch, k], tf.bool)
    out = tf.TensorArray(tf.int32, size=max_length)
    loop_state = (state, scores, finished)

    def body(i, tokens, state, scores, finished, out):
        logits, new_state = step_fn(tokens, state)
        log_probs = tf.reshape(tf.cast(tf.nn.log_softmax(tf.cast(logits, tf.float32)), tf.float64), [batch, k, -1])
        vocab = tf.shape(log_probs)[-1]
        # A finished hypothesis extends only by the end token, at no cost.
        frozen = tf.where(tf.range(vocab) == end_token, tf.constant(0.0, tf.float64), -1e9)[None, None, :]
        log_probs = tf.where(finished[:, :, None], frozen, log_probs)
        candidates = tf.reshape(scores[:, :, None] + log_probs, [batch, -1])
        scores, index = tf.math.top_k(candidates, k)
        parents, chosen = index // vocab, tf.cast(index % vocab, tf.int32)
        finished = tf.logical_or(tf.gather(finished, parents, batch_dims=1), tf.equal(chosen, end_token))
        state = tf.nest.map_structure(lambda t: gather_beams(t, parents), new_state)
        out = out.write(i, tf.stack([tf.reshape(parents, [-1]), tf.reshape(chosen, [-1])]))
        # The loop's tensors keep the shapes they entered with (static batch sizes included).
        same = lambda new, old: tf.ensure_shape(new, old.shape)  # noqa: E731
        state = tf.nest.map_structure(same, state, loop_state[0])
        return (
            i + 1,
            same(tf.reshape(chosen, [-1]), tokens),
            state,
            same(scores, loop_state[1]),
            same(finished, loop_state[2]),
            out,
        )

    steps_run, _, _, scores, _, out = tf.while_loop(
        lambda i, *rest: tf.logical_and(i < max_length, tf.logical_not(tf.reduce_all(rest[3]))),
        body,
        (tf.constant(0), tokens, state, scores, finished, out),
    )
    # Backtrack through the parents to read each final hypothesis (the loop stops early once all have ended).
    steps = out.gather(tf.range(steps_run))  # [steps, 2, batch * k]
    count = tf.shape(steps)[0]
    parents = tf.reshape(steps[:, 0], [count, batch, k])
    chosen = tf.reshape(steps[:, 1], [count, batch, k])

    def back(j, beam, sequence):
        t = count - 1 - j
        sequence = sequence.write(t, tf.gather(chosen[t], beam, batch_dims=1))
        return j + 1, tf.gather(parents[t], beam, batch_dims=1), sequence

    _, _, sequence = tf.while_loop(
        lambda j, *_: j < count,
        back,
        (tf.constant(0), tf.tile(tf.range(k)[None], [batch, 1]), tf.TensorArray(tf.int32, size=count)),
    )
    result = tf.transpose(sequence.stack(), [1, 2, 0])  # [batch, k, count]
    result = tf.pad(result, [[0, 0], [0, 0], [0, max_length - count]], constant_values=end_token)
    return result, tf.cast(scores, tf.float32)
