"""The soft window and HandwritingSynthesisNetwork: the formula, stepping,
priming, the finish condition, and a window that learns to follow the pen."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_l11.handwriting import data as hw
from keras_l11.handwriting.data import encode_characters
from keras_l11.handwriting.mixture_density import MixtureDensityLoss
from keras_l11.handwriting.prediction import START_POINT
from keras_l11.handwriting.soft_window import SoftWindow, finished
from keras_l11.handwriting.synthesis import HandwritingSynthesisNetwork

M, K = 3, 4


def test_encode_characters_maps_unknown_characters_and_pads_with_minus_one():
    ids = encode_characters(tf.constant(["ab z", "Bé", ""]), "ab z").numpy()
    np.testing.assert_array_equal(ids, [[0, 1, 2, 3], [4, 4, -1, -1], [-1, -1, -1, -1]])


def test_window_is_graves_equation_48_to_51():
    keras.utils.set_random_seed(1)
    window = SoftWindow(K)
    h = np.random.default_rng(0).normal(size=(2, 5)).astype(np.float32)
    kappa_prev = np.array([[0.0] * K, [1.5] * K], np.float32)
    ids = np.array([[2, 0, 1, -1], [1, 1, 0, 2]])
    text = tf.one_hot(ids, 3)
    w, kappa, phi = (t.numpy() for t in window(h, kappa_prev, text))

    hats = h @ window.dense.kernel.numpy() + window.dense.bias.numpy()
    alpha, beta, step = np.exp(hats[:, :K]), np.exp(hats[:, K : 2 * K]), np.exp(hats[:, 2 * K :])
    expected_kappa = kappa_prev + step
    u = np.arange(5)  # the four characters and the position after them
    expected_phi = (alpha[:, :, None] * np.exp(-beta[:, :, None] * (expected_kappa[:, :, None] - u) ** 2)).sum(1)
    np.testing.assert_allclose(kappa, expected_kappa, rtol=1e-5)
    np.testing.assert_allclose(phi, expected_phi, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(w, np.einsum("bu,buv->bv", expected_phi[:, :4], text.numpy()), rtol=1e-4, atol=1e-6)


def test_finish_condition_looks_just_after_each_rows_text():
    phi = tf.constant([[0.1, 0.2, 0.9, 0.3], [0.1, 0.5, 0.4, 0.0], [0.3, 0.1, 0.2, 0.0]])
    # Row 0: two characters, phi at u = 2 (0.9) beats them. Row 1: three, 0.0 < 0.5. Row 2: one, 0.1 < 0.3.
    np.testing.assert_array_equal(finished(phi, tf.constant([2, 3, 1])).numpy(), [True, False, False])


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return HandwritingSynthesisNetwork(16, 2, M, K, alphabet=hw.ALPHABET)


@pytest.fixture(scope="module")
def lines():
    data = hw.synthetic_dataset(2, num_writers=2, seed=0)
    n = min(len(o) for o, _, _ in data)
    return np.stack([o[:n] for o, _, _ in data]).astype(np.float32) / 5.0, [t for _, t, _ in data]


def test_stepping_equals_the_sequence_graph(model, lines):
    points, texts = lines
    text = model.encode(tf.constant(texts))
    full = model({"points": points, "text": text}).numpy()
    states, steps = model.initial_state(2), []
    for t in range(points.shape[1]):
        params, states, _ = model.step(points[:, t], states, text)
        steps.append(params)
    np.testing.assert_allclose(np.stack(steps, 1), full, atol=1e-4)


def test_priming_reads_each_row_up_to_its_length(model, lines):
    points, texts = lines
    text = model.encode(tf.constant(texts))
    states, last = model.prime(points, tf.constant([points.shape[1], 9]), text)
    alone, _ = model.prime(points[1:, :9], tf.constant([9]), text[1:])
    for key in ("window_lstm", "kappa", "w"):
        for a, b in zip(tf.nest.flatten(states[key]), tf.nest.flatten(alone[key])):
            np.testing.assert_allclose(a[1].numpy(), b[0].numpy(), atol=1e-5)
    for a, b in zip(tf.nest.flatten(states["upper"]), tf.nest.flatten(alone["upper"])):
        np.testing.assert_allclose(a[1].numpy(), b[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(last.numpy()[1], points[1, 8])


def test_sampling_stops_at_the_finish_condition(model):
    text = model.encode(tf.constant(["ab", "the end"]))
    sample = tf.function(lambda bias, seed: model.sample(text, 400, bias, seed))
    points, lengths = (t.numpy() for t in sample(tf.constant([0.0, 1.0]), tf.constant([3, 4])))
    assert points.shape[0] == 2 and points.shape[1] == lengths.max() and points.dtype == np.float32
    assert set(np.unique(points[..., 2])) <= {0.0, 1.0}
    for row, length in enumerate(lengths):
        assert 0 < length < 400
        assert not points[row, length:].any()
        # Replay the row: the window first passes its text at the last point drawn.
        inputs = np.concatenate([[START_POINT], points[row, : length - 1]])[None].astype(np.float32)
        _, _, phi = model.run(inputs, text[row : row + 1])
        done = finished(phi[0], tf.fill([length], int(np.sum(text[row].numpy() >= 0)))).numpy()
        assert done[-1] and not done[:-1].any()
    again = sample(tf.constant([0.0, 1.0]), tf.constant([3, 4]))[0].numpy()
    np.testing.assert_array_equal(again, points)  # a seed reproduces its strokes


def test_keras_round_trip(model, lines, tmp_path):
    points, texts = lines
    inputs = {"points": points, "text": model.encode(tf.constant(texts))}
    model.save(tmp_path / "s.keras")
    again = keras.saving.load_model(tmp_path / "s.keras")
    assert again.alphabet == hw.ALPHABET and again.window_components == K
    np.testing.assert_allclose(again(inputs).numpy(), model(inputs).numpy(), atol=1e-6)


# -- the window learns to follow the pen ---------------------------------------

SLOW = hw.Writer("cursive", slant=0.1, scale=1.0, aspect=1.0, spacing=1.0, speed=1.2, tremor=0.1)
FAST = hw.Writer("cursive", slant=0.1, scale=1.0, aspect=1.0, spacing=1.0, speed=3.6, tremor=0.1)


def window_pace_error(model, normaliser, word="through"):
    """Per writer: the window's peak character at every point of `word`, and
    its mean distance (in characters) from a pen that moves through the word
    at an even pace."""
    results = []
    for writer in (SLOW, FAST):
        offsets = normaliser.apply(hw.synthesize(word, writer, np.random.default_rng(5)))
        phi = model.window_weights(offsets[None], [len(offsets)], model.encode(tf.constant([word])))[0].numpy()
        peak = phi.argmax(-1)
        even = np.arange(len(offsets)) / len(offsets) * len(word)
        results.append((peak, float(np.abs(peak + 0.5 - even).mean())))
    return results


def test_a_trained_window_moves_through_the_characters_as_the_pen_does():
    """One-word lines by a slow writer (about 40 points per character) and a
    fast one (about 15): the window has to read the writer's pace from the pen.
    At its initial pace (20 points per character) it runs ahead of the slow one."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    words = [w for w in hw.WORDS if len(w) >= 3]
    texts = [words[i] for i in rng.integers(len(words), size=256)]
    strokes = [hw.synthesize(t, (SLOW, FAST)[i % 2], rng) for i, t in enumerate(texts)]
    normaliser = hw.Normaliser.fit(strokes)
    strokes = [normaliser.apply(o) for o in strokes]
    data = hw.padded_dataset(strokes, max(map(len, strokes)), 32, 0, True, texts, hw.ALPHABET)

    model = HandwritingSynthesisNetwork(48, 1, 5, 3, alphabet=hw.ALPHABET)
    untrained = window_pace_error(model, normaliser)
    model.compile(keras.optimizers.Adam(5e-3, clipnorm=5.0), MixtureDensityLoss(5))
    model.fit(data, steps_per_epoch=200, epochs=1, verbose=0)
    trained = window_pace_error(model, normaliser)

    assert max(error for _, error in untrained) > 1.0, untrained
    for peak, error in trained:
        assert error < 0.75, trained
        assert peak[0] == 0 and peak[-1] == len("through") - 1
        time = np.arange(len(peak))
        assert np.corrcoef(np.argsort(np.argsort(peak, kind="stable")), time)[0, 1] > 0.9  # rank correlation
