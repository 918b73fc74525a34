"""HandwritingPredictionNetwork: stepping, likelihood, in-graph sampling, learning."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from graph_helpers import unguarded_ops

from keras_l11.handwriting import data as hw
from keras_l11.handwriting.mixture_density import mixture_nll_direct
from keras_l11.handwriting.prediction import START_POINT, HandwritingPredictionNetwork, priming_inputs

M = 3


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    m = HandwritingPredictionNetwork(units=16, num_layers=2, num_components=M)
    m(tf.zeros([1, 1, 3]))
    return m


@pytest.fixture(scope="module")
def points():
    data = hw.synthetic_dataset(2, num_writers=2, seed=0)
    n = min(len(o) for o, _, _ in data)
    return np.stack([o[:n] for o, _, _ in data]) / 5.0


def test_stepping_equals_the_sequence_graph(model, points):
    full = model(points).numpy()
    states, steps = model.initial_state(2), []
    for t in range(points.shape[1]):
        params, states = model.step(points[:, t], states)
        steps.append(params)
    np.testing.assert_allclose(np.stack(steps, 1), full, atol=1e-4)


def test_log_prob_is_the_sum_of_per_point_log_likelihoods(model, points):
    lengths = tf.constant([points.shape[1], 10])
    nats = model.log_prob(points, lengths).numpy()
    inputs = np.concatenate([np.tile(START_POINT, (2, 1, 1)), points[:, :-1]], 1).astype(np.float32)
    per_point = -mixture_nll_direct(model(inputs), points, M).numpy()
    np.testing.assert_allclose(nats, [per_point[0].sum(), per_point[1, :10].sum()], rtol=1e-5)


def test_sampling_shapes_seeds_and_bias(model):
    sample = tf.function(lambda bias, seed: model.sample(3, 25, bias=bias, seed=seed)[0])  # as a signature runs it
    a = sample(0.0, tf.constant(4)).numpy()
    b = sample(0.0, tf.constant(4)).numpy()
    c = sample(0.0, tf.constant(5)).numpy()
    assert a.shape == (3, 25, 3) and a.dtype == np.float32
    assert set(np.unique(a[..., 2])) <= {0.0, 1.0}
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # A huge bias leaves only the most likely component's mean: the first offset (drawn from the
    # same state whatever the seed) no longer depends on the seed; without bias it does.
    d = sample(1e4, tf.constant(4)).numpy()
    e = sample(1e4, tf.constant(5)).numpy()
    np.testing.assert_allclose(d[:, 0, :2], e[:, 0, :2], atol=1e-3)
    assert np.abs(a[:, 0, :2] - c[:, 0, :2]).max() > 1e-2
    params, _ = model.step(tf.constant([START_POINT] * 3), model.initial_state(3))
    p = params.numpy()
    best = p[:, :M].argmax(-1)
    np.testing.assert_allclose(d[:, 0, :2], p[:, M : 3 * M].reshape(3, M, 2)[np.arange(3), best], atol=1e-3)


def test_priming_reads_each_row_up_to_its_length(model, points):
    states, last = model.prime(points, tf.constant([points.shape[1], 7]))
    alone, alone_last = model.prime(points[1:, :7], tf.constant([7]))
    for layer, layer_alone in zip(states, alone):
        for a, b in zip(layer, layer_alone):
            np.testing.assert_allclose(a[1].numpy(), b[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(last.numpy(), [points[0, -1], points[1, 6]], atol=1e-6)
    np.testing.assert_allclose(alone_last.numpy(), [points[1, 6]], atol=1e-6)
    _, unprimed = model.prime(points, tf.constant([0, 0]))
    np.testing.assert_array_equal(unprimed.numpy(), [START_POINT] * 2)
    no_points, start = model.prime(tf.zeros([2, 0, 3]), tf.constant([0, 0]))
    np.testing.assert_array_equal(start.numpy(), [START_POINT] * 2)
    np.testing.assert_array_equal(no_points[0][0].numpy(), model.initial_state(2)[0][0].numpy())
    with pytest.raises(tf.errors.InvalidArgumentError, match="prime_lengths exceed"):
        model.prime(points[:, :5], tf.constant([5, 6]))
    # In a graph (a SavedModel's signature) the check runs before the gather of the last point.
    traced = tf.function(priming_inputs)
    graph = traced.get_concrete_function(tf.TensorSpec([None, None, 3]), tf.TensorSpec([None], tf.int32)).graph
    assert [op for op in graph.get_operations() if op.type == "GatherV2"]
    assert unguarded_ops(graph, "GatherV2") == []
    with pytest.raises(tf.errors.InvalidArgumentError, match="prime_lengths exceed"):
        traced(points[:, :5], tf.constant([5, 6]))
    # Sampling on from a primed state goes where the primed network points, not where a fresh one does.
    primed = model.sample(2, 5, bias=1e4, seed=1, states=states, start=last)[0].numpy()
    fresh = model.sample(2, 5, bias=1e4, seed=1)[0].numpy()
    assert np.abs(primed[:, :, :2] - fresh[:, :, :2]).max() > 1e-3


def test_keras_round_trip(model, points, tmp_path):
    model.save(tmp_path / "h.keras")
    again = keras.saving.load_model(tmp_path / "h.keras")
    np.testing.assert_allclose(again(points).numpy(), model(points).numpy(), atol=1e-6)


def test_the_papers_peephole_networks_step_as_their_sequence_graphs(points, tmp_path):
    """`cell="peephole"` (Graves 2013, eqs. 7-11) in both networks: every layer has
    the cell's three peephole vectors, stepping equals the sequence graph, and the
    network survives a `.keras` file."""
    from keras_l11.handwriting.synthesis import HandwritingSynthesisNetwork
    from keras_l11.layers.lstm import PeepholeLSTMCell

    model = HandwritingPredictionNetwork(units=8, num_layers=2, num_components=3, cell="peephole")
    params = model(points)
    assert all(isinstance(lstm.cell, PeepholeLSTMCell) for lstm in model.lstms)
    assert sum("peepholes" in v.path for v in model.weights) == 2
    states = model.initial_state(points.shape[0])
    stepped = []
    for t in range(points.shape[1]):
        out, states = model.step(points[:, t], states)
        stepped.append(out)
    np.testing.assert_allclose(np.stack(stepped, 1), params.numpy(), rtol=1e-4, atol=1e-5)
    model.save(tmp_path / "peephole.keras")
    again = keras.saving.load_model(tmp_path / "peephole.keras")
    np.testing.assert_array_equal(again(points).numpy(), params.numpy())
    synthesis = HandwritingSynthesisNetwork(8, 2, 3, 2, alphabet=hw.ALPHABET, cell="peephole")
    assert isinstance(synthesis.window_cell, PeepholeLSTMCell) and synthesis.get_config()["cell"] == "peephole"
