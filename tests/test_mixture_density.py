"""MixtureDensityHead: its density against NumPy and TFP, bias, safety, the layer."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from keras_l11.handwriting.mixture_density import (
    RHO_MARGIN,
    BivariateNormal,
    MixtureDensityHead,
    MixtureDensityLoss,
    mixture_distribution,
    mixture_nll_direct,
)

M = 4


def random_case(seed=0, shape=(3, 5)):
    rng = np.random.default_rng(seed)
    params = rng.normal(size=(*shape, 6 * M + 1)).astype(np.float32)
    offsets = rng.normal(size=(*shape, 2))
    eos = rng.integers(0, 2, size=(*shape, 1))
    return params, np.concatenate([offsets, eos], -1).astype(np.float32)


def numpy_log_density(params, points):
    """Graves (2013) eqs. 18-26 written out in NumPy, one point at a time."""
    out = np.zeros(params.shape[:-1])
    for index in np.ndindex(*params.shape[:-1]):
        p, (x1, x2, e) = params[index].astype(np.float64), points[index].astype(np.float64)
        pi = np.exp(p[:M] - p[:M].max())
        pi /= pi.sum()
        mu = p[M : 3 * M].reshape(M, 2)
        sigma = np.exp(p[3 * M : 5 * M].reshape(M, 2))
        rho = (1 - RHO_MARGIN) * np.tanh(p[5 * M : 6 * M])
        eos = 1 / (1 + np.exp(-p[6 * M]))
        z1, z2 = (x1 - mu[:, 0]) / sigma[:, 0], (x2 - mu[:, 1]) / sigma[:, 1]
        z = z1**2 + z2**2 - 2 * rho * z1 * z2
        normal = np.exp(-z / (2 * (1 - rho**2))) / (2 * np.pi * sigma[:, 0] * sigma[:, 1] * np.sqrt(1 - rho**2))
        out[index] = np.log(np.sum(pi * normal)) + np.log(eos if e == 1 else 1 - eos)
    return out


def test_log_prob_matches_numpy_and_tfp_mixture_same_family():
    params, points = random_case()
    ours = mixture_distribution(params, M).log_prob(points).numpy()
    np.testing.assert_allclose(ours, numpy_log_density(params, points), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(-mixture_nll_direct(params, points, M).numpy(), ours, rtol=1e-5, atol=1e-5)

    # TFP, built another way: full covariance matrices and a separate Bernoulli.
    tfd = tfp.distributions
    p = params.astype(np.float64)
    sigma = np.exp(p[..., 3 * M : 5 * M].reshape(*p.shape[:-1], M, 2))
    rho = (1 - RHO_MARGIN) * np.tanh(p[..., 5 * M : 6 * M])
    cov = np.stack(
        [
            np.stack([sigma[..., 0] ** 2, rho * sigma[..., 0] * sigma[..., 1]], -1),
            np.stack([rho * sigma[..., 0] * sigma[..., 1], sigma[..., 1] ** 2], -1),
        ],
        -2,
    )
    mixture = tfd.MixtureSameFamily(
        tfd.Categorical(logits=p[..., :M]),
        tfd.MultivariateNormalTriL(
            loc=p[..., M : 3 * M].reshape(*p.shape[:-1], M, 2), scale_tril=np.linalg.cholesky(cov)
        ),
    )
    bernoulli = tfd.Bernoulli(logits=p[..., 6 * M], dtype=tf.float64)
    points64 = points.astype(np.float64)
    reference = mixture.log_prob(points64[..., :2]) + tf.cast(bernoulli.log_prob(points64[..., 2]), tf.float64)
    np.testing.assert_allclose(ours, reference.numpy(), rtol=1e-5, atol=1e-5)


def test_bivariate_normal_is_tfps_multivariate_normal_in_closed_form():
    rng = np.random.default_rng(7)
    loc, scale = rng.normal(size=(3, 2)), np.exp(rng.normal(size=(3, 2)))
    rho = np.array([-0.9, 0.0, 0.6])
    ours = BivariateNormal(loc.astype(np.float32), scale.astype(np.float32), rho.astype(np.float32))
    cov = np.stack(
        [[scale[:, 0] ** 2, rho * scale[:, 0] * scale[:, 1]], [rho * scale[:, 0] * scale[:, 1], scale[:, 1] ** 2]]
    )
    cov = np.moveaxis(cov, -1, 0)
    reference = tfp.distributions.MultivariateNormalTriL(loc=loc, scale_tril=np.linalg.cholesky(cov))
    x = rng.normal(size=(5, 3, 2))
    np.testing.assert_allclose(ours.log_prob(x.astype(np.float32)), reference.log_prob(x), rtol=1e-5, atol=1e-5)
    assert ours.batch_shape == [3] and ours.event_shape == [2]
    np.testing.assert_allclose(ours.covariance(), cov, rtol=1e-5)
    draws = ours.sample(40_000, seed=1).numpy().astype(np.float64)
    np.testing.assert_allclose(draws.mean(0), loc, atol=0.05 * scale.max())
    empirical = np.stack([np.cov(draws[:, i].T) for i in range(3)])
    np.testing.assert_allclose(empirical, cov, rtol=0.05, atol=0.01 * scale.max() ** 2)


def test_samples_have_the_right_shape_and_end_of_stroke_values():
    params, _ = random_case(1, shape=(2, 7))
    samples = mixture_distribution(params, M).sample(seed=3).numpy()
    assert samples.shape == (2, 7, 3) and samples.dtype == np.float32
    assert set(np.unique(samples[..., 2])) <= {0.0, 1.0}
    assert mixture_distribution(params, M).mean().shape == (2, 7, 3)


def test_infinite_bias_gives_the_most_likely_components_mean():
    params, _ = random_case(2, shape=(6,))
    samples = mixture_distribution(params, M, bias=1e4).sample(seed=4).numpy()
    best = params[:, :M].argmax(-1)
    means = params[:, M : 3 * M].reshape(6, M, 2)[np.arange(6), best]
    np.testing.assert_allclose(samples[:, :2], means, atol=1e-4)


def test_bias_sharpens_weights_and_narrows_components():
    params, _ = random_case(3, shape=(200,))
    spread = [np.std(mixture_distribution(params, M, bias=b).sample(seed=5).numpy()[:, :2]) for b in (0.0, 2.0)]
    assert spread[1] < spread[0]


def test_extreme_parameters_give_finite_loss_and_gradients():
    params = tf.Variable(
        np.array([[1e4, -1e4, 0, 0] + [0.0] * 8 + [-60, 60] * 4 + [80, -80, 80, -80] + [90]], np.float32)
    )
    points = tf.constant([[50.0, -50.0, 1.0]])
    with tf.GradientTape() as tape:
        loss = -mixture_distribution(params, M).log_prob(points)
    grad = tape.gradient(loss, params)
    assert np.all(np.isfinite(loss.numpy())) and np.all(np.isfinite(grad.numpy()))


def test_layer_shapes_round_trip_and_float32_under_mixed_precision(tmp_path):
    head = MixtureDensityHead(M)
    features = tf.random.normal([2, 5, 8])
    params = head(features)
    assert params.shape == (2, 5, 6 * M + 1) and head.params_size == 6 * M + 1
    inputs = keras.Input((None, 8))
    model = keras.Model(inputs, MixtureDensityHead(M, name="mdn")(inputs))
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again(features).numpy(), model(features).numpy(), atol=1e-6)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        assert MixtureDensityHead(M)(tf.cast(features, tf.float16)).dtype == tf.float32
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_loss_with_padding_weights():
    params, points = random_case(4, shape=(2, 6))
    weights = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], np.float32)
    loss = MixtureDensityLoss(M, reduction="sum")(points, params, sample_weight=weights).numpy()
    direct = (mixture_nll_direct(params, points, M).numpy() * weights).sum()
    assert loss == pytest.approx(direct, rel=1e-5)


@pytest.mark.parametrize("bias", [0.0, 1.5])
def test_counter_based_sampler_draws_from_the_same_distribution_as_tfp(bias):
    from keras_l11.handwriting.mixture_density import sample_point

    params, _ = random_case(6, shape=(1,))
    n = 20000
    rows = np.repeat(params, n, axis=0)
    ours = sample_point(rows, M, bias, seed=tf.range(n, dtype=tf.int64), step=3).numpy()
    reference = mixture_distribution(params[0], M, bias).sample(n, seed=7).numpy()
    np.testing.assert_allclose(ours.mean(0), reference.mean(0), atol=0.05 * reference[:, :2].std() + 0.01)
    np.testing.assert_allclose(np.cov(ours[:, :2].T), np.cov(reference[:, :2].T), rtol=0.1, atol=0.02)
    assert set(np.unique(ours[:, 2])) <= {0.0, 1.0}
    # A row's draw depends on its own seed only.
    alone = sample_point(params, M, bias, seed=tf.constant([5], tf.int64), step=3).numpy()
    np.testing.assert_allclose(alone[0], ours[5], atol=1e-5)  # equal up to float rounding
