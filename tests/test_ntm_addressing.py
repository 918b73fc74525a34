"""NTM addressing checked against the paper's equations written in NumPy."""

import numpy as np
import tensorflow as tf

from keras_l11.ntm import addressing as ntm_addressing


def reference_weighting(memory, w_prev, k, beta, g, s, gamma):
    """One head, one step, straight from Graves et al. (2014), eqs. (5)-(9)."""
    n = memory.shape[0]
    similarity = np.array([k @ m / (np.linalg.norm(k) * np.linalg.norm(m)) for m in memory])  # eq. (6)
    w_c = np.exp(beta * similarity) / np.exp(beta * similarity).sum()  # eq. (5)
    w_g = g * w_c + (1 - g) * w_prev  # eq. (7)
    shift_range = (len(s) - 1) // 2
    w_tilde = np.zeros(n)
    for i in range(n):  # eq. (8): circular convolution
        for j in range(n):
            offset = (i - j) % n
            if offset > n // 2:
                offset -= n
            if abs(offset) <= shift_range:
                w_tilde[i] += w_g[j] * s[offset + shift_range]
    w = w_tilde**gamma
    return w / w.sum()  # eq. (9)


def test_addressing_matches_paper_equations():
    rng = np.random.default_rng(0)
    batch, heads, n, m = 2, 3, 10, 6
    memory = rng.normal(size=(batch, n, m))
    w_prev = rng.dirichlet(np.ones(n), size=(batch, heads))
    keys = rng.normal(size=(batch, heads, m))
    beta = rng.uniform(0.5, 5, size=(batch, heads, 1))
    g = rng.uniform(size=(batch, heads, 1))
    s = rng.dirichlet(np.ones(3), size=(batch, heads))
    gamma = rng.uniform(1, 4, size=(batch, heads, 1))

    got = ntm_addressing.address(
        *(tf.constant(a, tf.float64) for a in (memory, w_prev, keys, beta, g, s, gamma)), epsilon=1e-12
    ).numpy()
    for b in range(batch):
        for h in range(heads):
            want = reference_weighting(
                memory[b], w_prev[b, h], keys[b, h], beta[b, h, 0], g[b, h, 0], s[b, h], gamma[b, h, 0]
            )
            np.testing.assert_allclose(got[b, h], want, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(got.sum(-1), 1.0, rtol=1e-9)


def test_wider_shift_range_is_circular():
    w = tf.constant(np.eye(8)[None, None, 0], tf.float64)  # all weight on row 0
    s = tf.constant([[[0, 0, 0, 0, 1.0]]], tf.float64)  # shift +2 of -2..+2
    np.testing.assert_allclose(ntm_addressing.circular_shift(w, s).numpy()[0, 0], np.eye(8)[2])
    s = tf.constant([[[1.0, 0, 0, 0, 0]]], tf.float64)  # shift -2 wraps to row 6
    np.testing.assert_allclose(ntm_addressing.circular_shift(w, s).numpy()[0, 0], np.eye(8)[6])


def test_read_and_write_follow_eqs_2_to_4():
    rng = np.random.default_rng(1)
    memory = rng.normal(size=(1, 5, 4))
    w = rng.dirichlet(np.ones(5), size=(1, 1))
    erase, add = rng.uniform(size=(1, 1, 4)), rng.normal(size=(1, 1, 4))
    read = ntm_addressing.read(tf.constant(memory), tf.constant(w)).numpy()
    np.testing.assert_allclose(read[0, 0], w[0, 0] @ memory[0])
    written = ntm_addressing.write(*(tf.constant(a) for a in (memory, w, erase, add))).numpy()
    want = memory[0] * (1 - np.outer(w[0, 0], erase[0, 0])) + np.outer(w[0, 0], add[0, 0])
    np.testing.assert_allclose(written[0], want)


def test_several_write_heads_erase_then_add_in_any_order():
    """Eqs. 3-4: all erases act on M_{t-1}, then all adds: head order is irrelevant,
    and a head that erases a row does not wipe another head's add to that row."""
    rng = np.random.default_rng(2)
    memory = rng.normal(size=(2, 6, 4))
    w = rng.dirichlet(np.ones(6), size=(2, 3))
    erase, add = rng.uniform(size=(2, 3, 4)), rng.normal(size=(2, 3, 4))
    want = memory.copy()
    for h in range(3):
        want = want * (1 - np.einsum("bn,bm->bnm", w[:, h], erase[:, h]))
    want = want + np.einsum("bhn,bhm->bnm", w, add)
    for order in ([0, 1, 2], [2, 0, 1]):
        args = (memory, w[:, order], erase[:, order], add[:, order])
        written = ntm_addressing.write(*(tf.constant(a) for a in args)).numpy()
        np.testing.assert_allclose(written, want, rtol=1e-12)
    # Two heads on one row: the first adds, the second erases fully; the add survives.
    one_row = np.eye(6)[None, [0, 0]]
    written = ntm_addressing.write(
        tf.constant(np.zeros((1, 6, 4))),
        tf.constant(one_row),
        tf.constant(np.stack([np.zeros(4), np.ones(4)])[None]),
        tf.constant(np.stack([np.ones(4), np.zeros(4)])[None]),
    ).numpy()
    np.testing.assert_allclose(written[0, 0], np.ones(4))


def test_constant_initial_memory_keeps_its_direction():
    """Blank rows of the 1e-6 constant memory must not look like zero vectors."""
    memory = tf.fill((1, 4, 20), 1e-6)
    keys = tf.ones((1, 1, 20))
    similarity = ntm_addressing.cosine_similarity(keys, memory).numpy()
    np.testing.assert_allclose(similarity, 1.0, rtol=0.05)


def test_zero_key_and_zero_memory_give_finite_weights_and_gradients():
    memory = tf.zeros((2, 8, 4))
    keys = tf.zeros((2, 1, 4))
    w_prev = tf.fill((2, 1, 8), 1 / 8)
    args = [tf.ones((2, 1, 1)), tf.fill((2, 1, 1), 0.5), tf.constant([[[0.1, 0.8, 0.1]]] * 2), tf.fill((2, 1, 1), 3.0)]
    with tf.GradientTape() as tape:
        tape.watch([memory, keys])
        w = ntm_addressing.address(memory, w_prev, keys, *args)
        loss = tf.reduce_sum(w * tf.range(8, dtype=tf.float32))
    grads = tape.gradient(loss, [memory, keys])
    assert np.all(np.isfinite(w.numpy()))
    np.testing.assert_allclose(w.numpy().sum(-1), 1.0, rtol=1e-5)
    for grad in grads:
        assert np.all(np.isfinite(grad.numpy()))
