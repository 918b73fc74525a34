"""The papers' optimisers against their own update equations in NumPy."""

import dataclasses

import keras
import numpy as np
import pytest

from keras_l11.training.config import TrainConfig
from keras_l11.training.optimizers import build_optimizer


def run_steps(optimizer, model, gradients):
    for grads in gradients:
        optimizer.apply([keras.ops.convert_to_tensor(g) for g in grads], model.trainable_variables)
    return [v.numpy() for v in model.trainable_variables]


def tiny_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="coarse_fc6"), keras.layers.Dense(1)])
    model.set_weights([np.random.default_rng(i).normal(size=w.shape) for i, w in enumerate(model.get_weights())])
    return model


def gradients_for(model, steps):
    rng = np.random.default_rng(7)
    return [[rng.normal(size=v.shape).astype("float32") for v in model.trainable_variables] for _ in range(steps)]


def test_centred_rmsprop_is_graves_2013_eqs_38_to_41():
    model = tiny_model()
    weights = [w.astype("float64") for w in model.get_weights()]
    grads = gradients_for(model, 4)
    config = dataclasses.replace(TrainConfig(), optimizer="rmsprop_centered", learning_rate=1e-2, clip_norm=0)
    got = run_steps(build_optimizer(config), model, grads)
    n = [np.zeros_like(w) for w in weights]
    gbar = [np.zeros_like(w) for w in weights]
    delta = [np.zeros_like(w) for w in weights]
    for step in grads:
        for i, g in enumerate(step):
            n[i] = 0.95 * n[i] + 0.05 * g**2
            gbar[i] = 0.95 * gbar[i] + 0.05 * g
            delta[i] = 0.9 * delta[i] - 1e-2 * g / np.sqrt(n[i] - gbar[i] ** 2 + 1e-4)
            weights[i] = weights[i] + delta[i]
    for w, want in zip(got, weights):
        np.testing.assert_allclose(w, want, rtol=2e-5, atol=1e-6)


def test_sgd_with_layer_multipliers_and_l2_decay_is_caffes_update():
    """Caffe: g' = lr_mult (g + decay w) on kernels (biases undecayed), v = momentum v + lr g', w -= v."""
    model = tiny_model()
    weights = [w.astype("float64") for w in model.get_weights()]
    paths = [v.path for v in model.trainable_variables]
    grads = gradients_for(model, 3)
    config = dataclasses.replace(
        TrainConfig(),
        optimizer="sgd",
        momentum=0.99,
        learning_rate=1e-2,
        clip_norm=0,
        weight_decay=5e-4,
        learning_rate_multipliers=(("*coarse_fc6/*", 10.0),),
    )
    got = run_steps(build_optimizer(config), model, grads)
    velocity = [np.zeros_like(w) for w in weights]
    for step in grads:
        for i, g in enumerate(step):
            decay = 5e-4 if paths[i].endswith("kernel") else 0.0
            multiplier = 10.0 if "coarse_fc6/" in paths[i] else 1.0
            velocity[i] = 0.99 * velocity[i] + 1e-2 * multiplier * (g + decay * weights[i])
            weights[i] = weights[i] - velocity[i]
    for w, want in zip(got, weights):
        np.testing.assert_allclose(w, want, rtol=1e-5, atol=1e-6)


def test_multipliers_need_sgd_and_unknown_optimizers_are_named():
    config = dataclasses.replace(TrainConfig(), optimizer="adam", learning_rate_multipliers=(("*", 2.0),))
    with pytest.raises(ValueError, match="need optimizer 'sgd'"):
        build_optimizer(config)
    with pytest.raises(ValueError, match="'adagrad'"):
        build_optimizer(dataclasses.replace(TrainConfig(), optimizer="adagrad"))
