"""The peephole LSTM cell against a NumPy implementation of Graves (2013), eqs. 7-11."""

import keras
import numpy as np
import pytest

from keras_l11.layers.lstm import PeepholeLSTMCell


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def reference(x, kernel, recurrent, peepholes, bias, units):
    """Straight from the equations, one step at a time."""
    batch, time, _ = x.shape
    h, c = np.zeros((batch, units)), np.zeros((batch, units))
    w_i, w_f, w_c, w_o = np.split(kernel, 4, axis=1)
    u_i, u_f, u_c, u_o = np.split(recurrent, 4, axis=1)
    b_i, b_f, b_c, b_o = np.split(bias, 4)
    out = []
    for t in range(time):
        xt = x[:, t]
        i = sigmoid(xt @ w_i + h @ u_i + peepholes[0] * c + b_i)
        f = sigmoid(xt @ w_f + h @ u_f + peepholes[1] * c + b_f)
        c = f * c + i * np.tanh(xt @ w_c + h @ u_c + b_c)
        o = sigmoid(xt @ w_o + h @ u_o + peepholes[2] * c + b_o)
        h = o * np.tanh(c)
        out.append(h)
    return np.stack(out, axis=1)


def test_matches_the_equations():
    rng = np.random.default_rng(0)
    cell = PeepholeLSTMCell(5, peephole_initializer=keras.initializers.RandomNormal(stddev=0.5, seed=1))
    layer = keras.layers.RNN(cell, return_sequences=True)
    x = rng.normal(size=(3, 7, 4)).astype("float32")
    got = layer(x).numpy()
    weights = [v.numpy().astype("float64") for v in (cell.kernel, cell.recurrent_kernel, cell.peepholes, cell.bias)]
    assert np.abs(weights[2]).max() > 0.1  # the peepholes are really exercised
    np.testing.assert_allclose(got, reference(x.astype("float64"), *weights, 5), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(weights[3][5:10], 1.0)  # forget bias starts at 1


def test_round_trips_through_a_keras_file(tmp_path):
    inputs = keras.Input((None, 4))
    model = keras.Model(inputs, keras.layers.RNN(PeepholeLSTMCell(6), return_sequences=True)(inputs))
    x = np.random.default_rng(1).normal(size=(2, 5, 4)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    with pytest.raises(ValueError, match="units"):
        PeepholeLSTMCell(0)
