"""In-graph sampling and beam search on models whose probabilities are set by hand."""

import numpy as np
import pytest
import tensorflow as tf

from keras_l11.ops.decoding import adjust_logits, beam_search, sample

END, A, B, START = 0, 1, 2, 3


def markov(table):
    """A model whose next-token distribution depends on the previous token only."""
    log_table = tf.math.log(tf.constant(table, tf.float32) + 1e-9)

    def step(tokens, state):
        return tf.gather(log_table, tokens), state

    return step


# Greedy takes A (0.6), then the best it can do is END (0.35): 0.21 in all.
# B (0.4) then END (0.99) is 0.396: only a search that keeps B alive finds it.
TRAP = [
    [1.0, 0.0, 0.0],  # after END
    [0.35, 0.33, 0.32],  # after A
    [0.99, 0.005, 0.005],  # after B
    [0.0, 0.6, 0.4],  # after START
]


def test_beam_search_finds_what_greedy_misses():
    step = markov(TRAP)
    start = tf.constant([START], tf.int32)
    state = tf.zeros([1, 1])
    greedy, greedy_logp = sample(step, state, start, 2, temperature=0.0)
    assert greedy.numpy().tolist() == [[A, END]]
    np.testing.assert_allclose(greedy_logp.numpy(), [np.log(0.6 * 0.35)], rtol=1e-4)
    ids, scores = beam_search(step, state, start, vocab_size=3, beam_size=2, max_length=2, end_token=END)
    assert ids.numpy()[0, 0].tolist() == [B, END]
    np.testing.assert_allclose(scores.numpy()[0, 0], np.log(0.4 * 0.99), rtol=1e-4)


def test_beam_size_one_is_greedy():
    logits = np.random.default_rng(0).normal(size=(6, 6)).astype("float32")
    logits[:, END] = -30.0  # never ends: compare whole sequences
    table = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    step = markov(table)
    start = tf.constant([1, 2, 3, 4, 5], tf.int32)
    state = tf.zeros([5, 1])
    greedy, _ = sample(step, state, start, 7, temperature=0.0)
    ids, _ = beam_search(step, state, start, vocab_size=6, beam_size=1, max_length=7, end_token=END)
    np.testing.assert_array_equal(ids.numpy()[:, 0], greedy.numpy())


def test_infinite_bias_and_zero_temperature_are_argmax_and_seeds_reproduce():
    logits = np.random.default_rng(1).normal(size=(8, 8)).astype("float32")
    table = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    step = markov(table)
    start, state = tf.constant([1, 2, 3], tf.int32), tf.zeros([3, 1])
    argmax, _ = sample(step, state, start, 12, temperature=0.0)
    biased, _ = sample(step, state, start, 12, bias=float("inf"), seed=5)
    np.testing.assert_array_equal(biased.numpy(), argmax.numpy())
    a, logp_a = sample(step, state, start, 12, temperature=1.0, seed=7)
    b, logp_b = sample(step, state, start, 12, temperature=1.0, seed=7)
    c, _ = sample(step, state, start, 12, temperature=1.0, seed=8)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(logp_a.numpy(), logp_b.numpy())
    assert not np.array_equal(a.numpy(), c.numpy())
    # the returned log-probability is the model's own for the drawn tokens
    tokens = np.concatenate([[[1], [2], [3]], a.numpy()], axis=1)
    want = np.log(table[tokens[:, :-1], tokens[:, 1:]]).sum(1)
    np.testing.assert_allclose(logp_a.numpy(), want, rtol=1e-4)


def test_bias_and_top_k_shape_the_distribution():
    logits = tf.constant([[2.0, 1.0, 0.0, -1.0]])
    probs = [tf.nn.softmax(adjust_logits(logits, bias=b)).numpy()[0, 0] for b in (0.0, 1.0, 3.0)]
    assert probs[0] < probs[1] < probs[2]  # a growing bias makes the likely token likelier
    kept = tf.nn.softmax(adjust_logits(logits, top_k=2)).numpy()[0]
    assert kept[2] < 1e-6 and kept[3] < 1e-6 and kept[:2].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(adjust_logits(logits, temperature=0.5).numpy(), logits.numpy() * 2)


def test_sampling_traces_with_tensor_arguments_as_a_signature_would():
    step = markov(TRAP)

    @tf.function(
        input_signature=[
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.float32),
            tf.TensorSpec([], tf.float32),
            tf.TensorSpec([], tf.int64),
        ]
    )
    def signature(length, temperature, bias, seed):
        return sample(step, tf.zeros([2, 1]), tf.fill([2], START), length, temperature, bias, seed=seed)

    tokens, _ = signature(tf.constant(3), tf.constant(0.0), tf.constant(0.0), tf.constant(1, tf.int64))
    assert tokens.numpy().tolist() == [[A, END, END], [A, END, END]]
    tokens, _ = signature(tf.constant(5), tf.constant(1.0), tf.constant(0.0), tf.constant(1, tf.int64))
    assert tokens.shape == (2, 5)


@pytest.mark.parametrize("seed", [tf.constant(7, tf.int64), tf.range(6000, dtype=tf.int64)])
def test_draws_follow_the_adjusted_distribution(seed):
    """6,000 rows drawn at once (one seed for all, or one per row) match the
    probabilities, after temperature, within five standard errors."""
    probs = np.array([0.5, 0.3, 0.15, 0.05])
    logits = tf.math.log(tf.constant([probs], tf.float32))
    temperature = 0.5
    tokens, _ = sample(
        lambda t, s: (tf.repeat(logits, tf.shape(t)[0], axis=0), s),
        [],
        tf.zeros([6000], tf.int32),
        1,
        temperature=temperature,
        seed=seed,
    )
    expected = probs ** (1 / temperature) / (probs ** (1 / temperature)).sum()
    frequencies = np.bincount(tokens.numpy()[:, 0], minlength=4) / 6000
    tolerance = 5 * np.sqrt(expected * (1 - expected) / 6000)
    assert np.all(np.abs(frequencies - expected) <= tolerance), (frequencies, expected)


def test_beam_search_keeps_a_mixed_precision_models_state_dtype():
    """A bfloat16 model's states (mixed precision) reach its step as bfloat16 and the
    search's scores stay float32 (tf-models-official's search refused them before)."""
    seen = []

    def step(tokens, state):
        seen.append(state.dtype)
        logits = tf.gather(tf.math.log(tf.constant(TRAP, tf.float32) + 1e-9), tokens)
        return tf.cast(logits, tf.bfloat16), state + tf.ones_like(state)

    state = tf.zeros([1, 4], tf.bfloat16)
    ids, scores = beam_search(step, state, tf.constant([START]), vocab_size=3, beam_size=2, max_length=2, end_token=END)
    assert set(seen) == {tf.bfloat16} and scores.dtype == tf.float32
    assert ids.numpy()[0, 0].tolist() == [B, END]
