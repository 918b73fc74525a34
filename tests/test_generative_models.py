"""DARN's probabilities against brute force, its sampler against its own
probabilities, the autoencoders' sparsity penalties against their formulas,
and the readers of the generative data."""

import gzip
import itertools

import numpy as np
import pytest
import tensorflow as tf

from keras_l11.generative import data
from keras_l11.generative.autoencoder import Autoencoder, kl_penalty, l1_penalty
from keras_l11.generative.autoregressive import AutoregressiveBernoulli
from keras_l11.generative.darn import DARN

ALL_IMAGES = np.array(list(itertools.product((0.0, 1.0), repeat=6)), np.float32).reshape(-1, 2, 3)


def log_bernoulli(bit, logit):
    return bit * -np.logaddexp(0, -logit) + (1 - bit) * -np.logaddexp(0, logit)


def reference_autoregressive(values, context, kernel, bias):
    """`log p(values | context)`, one unit after another, from the weights."""
    total = 0.0
    for j in range(len(values)):
        logit = context[j] + bias[j] + sum(values[k] * kernel[k, j] for k in range(j))
        total += log_bernoulli(values[j], logit)
    return total


def reference_log_joint(model, x, h1, h2):
    """`log p(x, h1, h2)` of a two-layer DARN without deterministic layers, in NumPy."""
    w = lambda layer: [v.numpy() for v in layer.weights]  # noqa: E731
    (a2, b2), (a1, b1), (av, bv) = w(model.priors[1]), w(model.priors[0]), w(model.visible)
    (k1, c1), (kv, cv) = w(model.contexts[1][0]), w(model.contexts[0][0])
    return (
        reference_autoregressive(h2, np.zeros_like(h2), a2, b2)
        + reference_autoregressive(h1, h2 @ k1 + c1, a1, b1)
        + reference_autoregressive(x, h1 @ kv + cv, av, bv)
    )


@pytest.fixture(scope="module")
def tiny_darn():
    """Two stochastic layers (3 and 2 units) over 2 x 3 pixels, random weights."""
    tf.keras.utils.set_random_seed(3)
    model = DARN(visible_shape=(2, 3), hidden=(3, 2), encoder_units=(4,))
    rng = np.random.default_rng(0)
    for v in model.weights:
        v.assign(rng.normal(0, 0.8, v.shape).astype(np.float32))
    return model


def test_log_joint_matches_the_unit_by_unit_formula(tiny_darn):
    rng = np.random.default_rng(1)
    x = ALL_IMAGES[rng.integers(0, 64, 5)]
    h1 = rng.integers(0, 2, (5, 3)).astype(np.float32)
    h2 = rng.integers(0, 2, (5, 2)).astype(np.float32)
    ours = tiny_darn.log_joint(tiny_darn.flatten(x), [h1, h2]).numpy()
    expected = [reference_log_joint(tiny_darn, x[i].ravel(), h1[i], h2[i]) for i in range(5)]
    np.testing.assert_allclose(ours, expected, rtol=1e-5)


def test_log_prob_equals_brute_force_enumeration_and_sums_to_one(tiny_darn):
    states = list(itertools.product((0.0, 1.0), repeat=5))
    brute = [
        np.logaddexp.reduce(
            [reference_log_joint(tiny_darn, x.ravel(), np.array(s[:3]), np.array(s[3:])) for s in states]
        )
        for x in ALL_IMAGES
    ]
    exact = tiny_darn.exact_log_prob(ALL_IMAGES).numpy()
    np.testing.assert_allclose(exact, brute, rtol=1e-5)
    assert np.exp(exact).sum() == pytest.approx(1.0, abs=1e-5)  # a distribution over all 64 images
    # Importance sampling with the encoder converges to it.
    estimate = tiny_darn.log_prob(ALL_IMAGES, samples=4000, seed=[5, 6]).numpy()
    assert np.abs(estimate - exact).mean() < 0.05


def test_the_variational_bound_is_below_the_log_likelihood(tiny_darn):
    exact = tiny_darn.exact_log_prob(ALL_IMAGES).numpy()
    bound = tiny_darn.exact_bound(ALL_IMAGES).numpy()
    assert (bound < exact).all()
    sampled = -np.mean([tiny_darn.description_length(ALL_IMAGES, seed=[s, 0]).numpy() for s in range(400)], 0)
    np.testing.assert_allclose(sampled, bound, atol=0.3)  # the one-sample MDL is the bound on average
    k1 = tiny_darn.log_prob(ALL_IMAGES, samples=1, seed=[1, 1]).numpy()
    assert k1.shape == (64,)


def test_the_latent_part_of_the_description_length_is_the_kl_from_the_encoder_to_the_prior(tiny_darn):
    """KL(q(h|x) || p(h)) by enumeration, p(h) marginalised over all 64 images."""
    states = [
        (np.array(s[:3], np.float32), np.array(s[3:], np.float32)) for s in itertools.product((0.0, 1.0), repeat=5)
    ]
    log_prior = np.array(
        [np.logaddexp.reduce([reference_log_joint(tiny_darn, x.ravel(), *h) for x in ALL_IMAGES]) for h in states]
    )
    images = ALL_IMAGES[[5, 22, 63]]
    x = tiny_darn.flatten(images)
    log_q = np.stack([tiny_darn.log_q(x, [np.tile(h1, (3, 1)), np.tile(h2, (3, 1))]).numpy() for h1, h2 in states], 1)
    exact_kl = (np.exp(log_q) * (log_q - log_prior)).sum(1)
    _, latent = tiny_darn.description_length_parts(np.repeat(images, 4000, axis=0), seed=[3, 1])
    latent = latent.numpy().reshape(3, 4000).mean(1)
    np.testing.assert_allclose(latent, exact_kl, atol=0.08)
    pixels, latent_once = tiny_darn.description_length_parts(images, seed=[4, 2])
    np.testing.assert_allclose(pixels + latent_once, tiny_darn.description_length(images, seed=[4, 2]), rtol=1e-6)


def test_ancestral_samples_are_binary_and_follow_the_model(tiny_darn):
    images, probabilities = tiny_darn.sample(20_000, seed=tf.constant([7, 8]))
    images = images.numpy()
    assert images.shape == (20_000, 2, 3) and images.dtype == np.float32
    assert set(np.unique(images)) <= {0.0, 1.0}
    codes = (images.reshape(-1, 6) @ (2 ** np.arange(5, -1, -1))).astype(int)
    frequencies = np.bincount(codes, minlength=64) / len(codes)
    expected = np.exp(tiny_darn.exact_log_prob(ALL_IMAGES).numpy())
    assert np.abs(frequencies - expected).max() < 0.015
    again, _ = tiny_darn.sample(20_000, seed=tf.constant([7, 8]))
    np.testing.assert_array_equal(again.numpy(), images)  # a seed fixes the samples
    assert ((probabilities.numpy() > 0) & (probabilities.numpy() < 1)).all()


def test_autoregressive_sampling_ends_at_the_teacher_forced_probabilities():
    layer = AutoregressiveBernoulli(5)
    layer.build()
    rng = np.random.default_rng(2)
    layer.kernel.assign(rng.normal(0, 2, (5, 5)).astype(np.float32))
    context = tf.constant(rng.normal(0, 1, (8, 5)), tf.float32)
    values, probabilities = layer.sample(context, seed=tf.constant([1, 2]))
    np.testing.assert_allclose(probabilities, tf.sigmoid(layer.logits(values, context)), rtol=1e-5)
    # Unit 0 sees nothing of the layer; the last unit sees every other one.
    grads = np.abs(
        tf.vectorized_map(lambda j: tf.gradients(layer.logits(values, context)[:, j], values)[0], tf.range(5))
    )
    assert grads[0].sum() == 0 and (grads[4][:, :4].sum(0) > 0).all() and grads[4][:, 4].sum() == 0


def test_the_score_function_output_is_the_description_length_and_trains_the_encoder():
    tf.keras.utils.set_random_seed(0)
    model = DARN(visible_shape=(2, 3), hidden=(4,), estimator="score_function")
    images = ALL_IMAGES[:16]
    tf.random.set_seed(4)
    with tf.GradientTape() as tape:
        out = model(images, training=True)
    tf.random.set_seed(4)
    np.testing.assert_allclose(out, model.description_length(images), rtol=1e-6)  # same draws, same value
    names = [v.path.split("/", 1)[1] for v in model.trainable_variables]
    grads = dict(zip(names, tape.gradient(out, model.trainable_variables)))
    assert out.shape == (16,)
    assert all(g is not None for g in grads.values())
    assert np.abs(grads["encoder_1_logits/kernel"].numpy()).sum() > 0
    assert np.abs(grads["baseline_logits/kernel"].numpy()).sum() > 0
    with pytest.raises(ValueError, match="estimator"):
        DARN(estimator="reinforce")
    with pytest.raises(ValueError, match="not feasible"):
        DARN(hidden=(30,)).exact_log_prob(np.zeros((1, 28, 28), np.float32))


def test_sparsity_penalties_match_their_formulas():
    rng = np.random.default_rng(0)
    codes = rng.uniform(0.01, 0.99, (32, 10)).astype(np.float32)
    np.testing.assert_allclose(l1_penalty(codes), np.abs(codes).sum(1).mean(), rtol=1e-5)
    rho, rho_hat = 0.05, codes.mean(0)
    kl = np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    np.testing.assert_allclose(kl_penalty(codes, rho), kl, rtol=1e-5)
    assert float(kl_penalty(np.full((4, 3), rho, np.float32), rho)) == pytest.approx(0.0, abs=1e-6)


def test_only_the_sparse_code_adds_its_penalty_and_only_the_denoising_code_corrupts():
    x = np.random.default_rng(1).uniform(0, 1, (8, 6)).astype(np.float32)
    sparse = Autoencoder(6, code="sparse", code_units=12, sparsity="l1", sparsity_weight=0.5)
    sparse(x)
    np.testing.assert_allclose(sum(sparse.losses), 0.5 * l1_penalty(sparse.encode(x)), rtol=1e-5)
    plain = Autoencoder(6, code="none", code_units=12)
    plain(x)
    assert not plain.losses
    bottleneck = Autoencoder(6, code="bottleneck", bottleneck_units=2)
    assert bottleneck.encode(x).shape == (8, 2)
    denoising = Autoencoder(6, code="denoising", code_units=12, noise_stddev=1.0)
    np.testing.assert_allclose(denoising(x), denoising(x))  # clean at inference
    assert not np.allclose(denoising(x, training=True), denoising(x))
    np.testing.assert_allclose(denoising.energy(x), np.sum((x - denoising(x).numpy()) ** 2, -1), rtol=1e-5)
    with pytest.raises(ValueError, match="code must be one of"):
        Autoencoder(6, code="tiny")


def test_binarized_mnist_is_fixed_and_the_readers_parse_their_formats(tmp_path):
    first = data.binarized_mnist("test", limit=100)
    assert first.shape == (100, 28, 28) and set(np.unique(first)) == {0.0, 1.0}
    np.testing.assert_array_equal(first, data.binarized_mnist("test", limit=100))
    grey = data.grey_mnist("test")[:100]
    assert abs(first.mean() - grey.mean()) < 0.01  # each pixel on with its grey level's probability
    with pytest.raises(ValueError, match="split"):
        data.grey_mnist("validation")

    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = np.array([2051, 2, 3, 4], ">i4").tobytes()
    with gzip.open(tmp_path / "x-idx3-ubyte.gz", "wb") as f:
        f.write(header + images.tobytes())
    np.testing.assert_array_equal(data.read_idx_images(str(tmp_path / "x-idx3-ubyte.gz")), images)
    (tmp_path / "bad").write_bytes(np.array([2049, 1, 1, 1], ">i4").tobytes() + b"\0")
    with pytest.raises(ValueError, match="not an IDX image file"):
        data.read_idx_images(str(tmp_path / "bad"))
    fashion = data.fashion_mnist("test")
    assert fashion.shape == (10_000, 28, 28) and 0.2 < fashion.mean() < 0.4

    from PIL import Image

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        picture = np.zeros((210, 160, 3), np.uint8)
        picture[:, : 40 * (i + 1)] = 255
        Image.fromarray(picture).save(frames / f"{i:03d}.png")
    binary = data.png_frames(str(frames), 16, 20)
    assert binary.shape == (3, 16, 20) and binary[0, :, :4].all() and not binary[0, :, 6:].any()
    with pytest.raises(FileNotFoundError, match="no .png frames"):
        data.png_frames(str(tmp_path), 16, 20)

    points = data.curve_points(500)
    assert np.abs(points[:, 1] - 0.6 * np.sin(2.5 * points[:, 0])).mean() < 0.05
