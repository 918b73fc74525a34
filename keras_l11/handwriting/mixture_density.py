"""A mixture density output layer for pen offsets (Graves 2013, section 4.1).

Each point of online handwriting is `(dx, dy, end_of_stroke)`. The network
predicts a mixture of M bivariate Gaussians with correlations for the offset
and a Bernoulli for the end of the stroke:

    pi = softmax(pi_hat)          mu = mu_hat
    sigma = exp(sigma_hat)        rho = tanh(rho_hat)
    e = sigmoid(e_hat)            (Graves writes e = 1 / (1 + exp(e_hat)): the same family)

`MixtureDensityHead` is a Keras 3 layer that outputs the 6M + 1 raw parameters;
`mixture_distribution(params, bias)` turns them into a TensorFlow Probability
distribution over `[..., 3]` (sample, log_prob, mean), built from
`tfp.distributions` directly because `tfp.layers` is tf_keras and does not mix
with Keras 3.

Numerical safety, the usual failure of MDN implementations:
- mixture weights stay logits (log-space, `Categorical(logits=...)`), never
  probabilities that underflow;
- `sigma_hat` is clipped to [-SIGMA_HAT_LIMIT, SIGMA_HAT_LIMIT] before the exp;
- `rho` is `(1 - RHO_MARGIN) * tanh(rho_hat)`, so `1 - rho^2` never reaches 0;
- the end-of-stroke Bernoulli takes logits.

Sampling bias (section 5.4): `sigma = exp(sigma_hat - b)` and
`pi = softmax(pi_hat * (1 + b))`; as b grows the samples tend to the most
likely component's mean.
"""

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import parameter_properties, reparameterization, samplers

from keras_l11.ops.decoding import uniform_noise

tfd = tfp.distributions

SIGMA_HAT_LIMIT = 10.0
RHO_MARGIN = 1e-4


def split_params(params, num_components):
    """Raw parameters `[..., 6M + 1]` -> dict of `pi_hat [..., M]`, `mu [..., M, 2]`,
    `sigma_hat [..., M, 2]`, `rho_hat [..., M]`, `e_hat [...]`."""
    m = num_components
    pi_hat, mu, sigma_hat, rho_hat, e_hat = tf.split(params, [m, 2 * m, 2 * m, m, 1], axis=-1)
    shape = tf.concat([tf.shape(params)[:-1], [m, 2]], 0)
    return {
        "pi_hat": pi_hat,
        "mu": tf.reshape(mu, shape),
        "sigma_hat": tf.reshape(sigma_hat, shape),
        "rho_hat": rho_hat,
        "e_hat": e_hat[..., 0],
    }


def mixture_parameters(params, num_components, bias=0.0):
    """The bounded, biased parameters: `logits [..., M]`, `mu [..., M, 2]`,
    `sigma [..., M, 2]`, `rho [..., M]`, `eos_logits [...]`. `bias` is a
    scalar or one value per row (the first axis of `params`)."""
    p = split_params(tf.cast(params, tf.float32), num_components)
    bias = tf.cast(bias, tf.float32)
    if bias.shape.rank:  # one bias per row of a [batch, ...] parameter tensor
        bias = tf.reshape(bias, tf.concat([tf.shape(bias), tf.ones([tf.rank(params) - 1], tf.int32)], 0))
    sigma_hat = tf.clip_by_value(p["sigma_hat"], -SIGMA_HAT_LIMIT, SIGMA_HAT_LIMIT)
    return {
        "logits": p["pi_hat"] * (1.0 + bias),
        "mu": p["mu"],
        "sigma": tf.exp(sigma_hat - bias[..., None]),
        "rho": (1.0 - RHO_MARGIN) * tf.tanh(p["rho_hat"]),
        "eos_logits": p["e_hat"],
    }


class BivariateNormal(tfd.Distribution):
    """A bivariate Gaussian with correlation, Graves' eq. 24-25 in closed form.

    The same density as `MultivariateNormalTriL` with the Cholesky factor of
    `[[s1^2, rho s1 s2], [rho s1 s2, s2^2]]`, but `log_prob` is the written-out
    formula instead of a batched triangular solve: the solve made a training
    step with the mixture 4x slower on CPU than the loss in plain TF ops
    (`benchmarks/handwriting.py`).

    Args:
        loc: `[..., 2]` means.
        scale: `[..., 2]` standard deviations (positive).
        rho: `[...]` correlations in (-1, 1).
    """

    def __init__(self, loc, scale, rho, validate_args=False, allow_nan_stats=True, name="BivariateNormal"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            self._loc = tf.convert_to_tensor(loc, tf.float32)
            self._scale = tf.convert_to_tensor(scale, tf.float32)
            self._rho = tf.convert_to_tensor(rho, tf.float32)
            super().__init__(
                dtype=tf.float32,
                reparameterization_type=reparameterization.FULLY_REPARAMETERIZED,
                validate_args=validate_args,
                allow_nan_stats=allow_nan_stats,
                parameters=parameters,
                name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return {
            "loc": parameter_properties.ParameterProperties(event_ndims=1),
            "scale": parameter_properties.ParameterProperties(event_ndims=1),
            "rho": parameter_properties.ParameterProperties(event_ndims=0),
        }

    def _event_shape(self):
        return tf.TensorShape([2])

    def _event_shape_tensor(self):
        return tf.constant([2], tf.int32)

    def _log_prob(self, x):
        d = (x - self._loc) / self._scale
        one_minus = 1.0 - tf.square(self._rho)
        z = tf.square(d[..., 0]) + tf.square(d[..., 1]) - 2.0 * self._rho * d[..., 0] * d[..., 1]
        log_scales = tf.reduce_sum(tf.math.log(self._scale), axis=-1)
        return -z / (2.0 * one_minus) - math.log(2.0 * math.pi) - log_scales - 0.5 * tf.math.log(one_minus)

    def _sample_n(self, n, seed=None):
        shape = tf.concat([[n], self.batch_shape_tensor(), [2]], 0)
        z1, z2 = tf.unstack(samplers.normal(shape, seed=seed), axis=-1)
        x1 = self._loc[..., 0] + self._scale[..., 0] * z1
        x2 = self._loc[..., 1] + self._scale[..., 1] * (self._rho * z1 + tf.sqrt(1.0 - tf.square(self._rho)) * z2)
        return tf.stack([x1, x2], axis=-1)

    def _mean(self):
        return tf.broadcast_to(self._loc, tf.concat([self.batch_shape_tensor(), [2]], 0))

    def _covariance(self):
        s1, s2, rho = self._scale[..., 0], self._scale[..., 1], self._rho
        off = rho * s1 * s2
        return tf.stack([tf.stack([s1 * s1, off], -1), tf.stack([off, s2 * s2], -1)], -2)


def mixture_distribution(params, num_components, bias=0.0):
    """A distribution over points `[..., 3]` = `(dx, dy, end_of_stroke)`.

    Offsets: `MixtureSameFamily(Categorical, BivariateNormal)`; end of stroke:
    an independent Bernoulli (float). `log_prob` is in nats; `bias` as in
    Graves section 5.4 (0: the model's own distribution).
    """
    q = mixture_parameters(params, num_components, bias)
    offsets = tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(logits=q["logits"]),
        components_distribution=BivariateNormal(q["mu"], q["sigma"], q["rho"]),
    )
    end = tfd.Independent(tfd.Bernoulli(logits=q["eos_logits"][..., None], dtype=tf.float32), 1)
    return tfd.Blockwise([offsets, end])


def mixture_nll_direct(params, points, num_components):
    """The same negative log-likelihood (nats per point) in plain TensorFlow
    ops, Graves' eqs. 23-26 written out: the reference the benchmark compares
    the TFP head's cost against."""
    q = mixture_parameters(params, num_components)
    x = tf.cast(points, tf.float32)
    d = (x[..., None, :2] - q["mu"]) / q["sigma"]  # [..., M, 2]
    rho = q["rho"]
    one_minus = 1.0 - tf.square(rho)
    z = tf.square(d[..., 0]) + tf.square(d[..., 1]) - 2.0 * rho * d[..., 0] * d[..., 1]
    log_normal = (
        -z / (2.0 * one_minus)
        - tf.math.log(2.0 * 3.141592653589793)
        - tf.math.log(q["sigma"][..., 0])
        - tf.math.log(q["sigma"][..., 1])
        - 0.5 * tf.math.log(one_minus)
    )
    log_mixture = tf.reduce_logsumexp(tf.nn.log_softmax(q["logits"]) + log_normal, axis=-1)
    log_eos = -tf.nn.sigmoid_cross_entropy_with_logits(labels=x[..., 2], logits=q["eos_logits"])
    return -(log_mixture + log_eos)


def sample_point(params, num_components, bias=0.0, seed=0, step=0):
    """One draw `[batch, 3]` from the (biased) mixture of `params [batch, 6M + 1]`,
    the same distribution as `mixture_distribution(...).sample()`, but with the
    counter-based noise of `decoding.uniform_noise`: one seed per row makes
    each row's draw independent of the rest of the batch (draw `step` of a
    sequence uses counters 4 * step ... 4 * step + 3)."""
    q = mixture_parameters(params, num_components, bias)
    shape = tf.shape(q["logits"])
    step = 4 * tf.cast(step, tf.int32)
    # Component: Gumbel-max over the mixture logits.
    gumbel = -tf.math.log(-tf.math.log(uniform_noise(seed, step, shape)))
    k = tf.argmax(tf.nn.log_softmax(q["logits"]) + gumbel, axis=-1, output_type=tf.int32)
    pick = lambda t: tf.gather(t, k, axis=1, batch_dims=1)  # noqa: E731
    mu, sigma, rho = pick(q["mu"]), pick(q["sigma"]), pick(q["rho"])
    # Offset: Box-Muller normals through the component's Cholesky factor.
    u = uniform_noise(seed, step + 1, tf.stack([shape[0], 2]))
    radius = tf.sqrt(-2.0 * tf.math.log(u[:, 0]))
    z1, z2 = radius * tf.cos(2.0 * math.pi * u[:, 1]), radius * tf.sin(2.0 * math.pi * u[:, 1])
    x1 = mu[:, 0] + sigma[:, 0] * z1
    x2 = mu[:, 1] + sigma[:, 1] * (rho * z1 + tf.sqrt(1.0 - tf.square(rho)) * z2)
    # End of stroke: a Bernoulli (not biased).
    e = tf.cast(uniform_noise(seed, step + 2, tf.stack([shape[0], 1]))[:, 0] < tf.sigmoid(q["eos_logits"]), tf.float32)
    return tf.stack([x1, x2, e], axis=-1)


@keras.saving.register_keras_serializable(package="keras_l11")
class MixtureDensityHead(keras.layers.Layer):
    """Features `[..., F]` -> raw mixture parameters `[..., 6M + 1]` (float32).

    Args:
        num_components: M, the bivariate Gaussians in the mixture (Graves: 20).

    Example:

    ```python
    head = MixtureDensityHead(20)
    params = head(lstm_outputs)                      # [batch, time, 121]
    dist = head.distribution(params, bias=0.5)        # TFP distribution over [batch, time, 3]
    nll = -dist.log_prob(points)                      # nats per point
    ```
    """

    def __init__(self, num_components=20, **kwargs):
        kwargs.setdefault("dtype", "float32")  # the density is computed in float32 even under mixed precision
        super().__init__(**kwargs)
        self.num_components = num_components
        self.dense = keras.layers.Dense(6 * num_components + 1, dtype=self.dtype_policy, name="params")

    @property
    def params_size(self):
        return 6 * self.num_components + 1

    def build(self, input_shape):
        self.dense.build(input_shape)
        self.built = True

    def call(self, features):
        return self.dense(features)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.params_size)

    def distribution(self, params, bias=0.0):
        return mixture_distribution(params, self.num_components, bias)

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components}


@keras.saving.register_keras_serializable(package="keras_l11")
class MixtureDensityLoss(keras.losses.Loss):
    """Negative log-likelihood (nats per point) of `(dx, dy, end_of_stroke)`
    targets under the head's mixture; use with sample weights to skip padding."""

    def __init__(self, num_components=20, name="mixture_density_nll", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_components = num_components

    def call(self, y_true, y_pred):
        return -mixture_distribution(y_pred, self.num_components).log_prob(tf.cast(y_true, tf.float32))

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components}
