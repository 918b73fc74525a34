"""A layer of binary units with autoregressive connections (DARN's building block).

Unit j of the layer is a Bernoulli whose logit depends on a context (what the
layer above, or nothing, says) and on the units before it in the layer:

    p(v_j = 1 | v_<j, context) = sigmoid(context_j + b_j + sum_{k<j} v_k A_kj)

so `p(v | context) = prod_j p(v_j | v_<j, context)` is normalised for any
context and can be sampled exactly one unit after another (Gregor et al. 2014,
section 2; with no context it is a fully visible sigmoid belief network).
Teacher-forced log-probabilities of whole vectors cost one masked matmul.
"""

import keras
import tensorflow as tf


def bernoulli_log_prob(values, logits):
    """`sum_j log p(v_j)` over the last axis for Bernoulli logits (stable form)."""
    return -tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=values, logits=logits), -1)


def uniforms(shape, seed=None):
    """Uniform (0, 1) noise: stateless and reproducible for a `[2]` int seed,
    TensorFlow's stateful generator (seeded by the run) for `None`."""
    if seed is None:
        return tf.random.uniform(shape)
    return tf.random.stateless_uniform(shape, tf.cast(seed, tf.int32))


@keras.saving.register_keras_serializable(package="keras_l11")
class AutoregressiveBernoulli(keras.layers.Layer):
    """`units` binary units, each conditioned on the ones before it.

    Args:
        units: how many binary units (pixels, or a stochastic hidden layer).

    The context logits `[batch, units]` come from elsewhere (a Dense layer of
    the layer above); pass zeros for an unconditioned (top) layer.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape=None):
        n = self.units
        self.kernel = self.add_weight(name="kernel", shape=(n, n), initializer="zeros")
        self.bias = self.add_weight(name="bias", shape=(n,), initializer="zeros")
        # mask[k, j] = 1 where k < j: unit j sees only the units before it.
        self.mask = tf.constant(1.0 - tf.linalg.band_part(tf.ones((n, n)), -1, 0))
        self.built = True

    def masked_kernel(self):
        return tf.cast(self.kernel, self.compute_dtype) * tf.cast(self.mask, self.compute_dtype)

    def logits(self, values, context):
        """Teacher-forced logits `[batch, units]` of every unit given the ones before it."""
        return context + tf.cast(self.bias, self.compute_dtype) + tf.matmul(values, self.masked_kernel())

    def log_prob(self, values, context):
        """`log p(values | context)` `[batch]` in nats."""
        return bernoulli_log_prob(values, self.logits(values, context))

    def call(self, values, context):
        return self.log_prob(values, context)

    def sample(self, context, seed=None):
        """Exact ancestral sample: `(values [batch, units] in {0, 1}, probabilities)`.

        Unit j is drawn from its conditional given the units already drawn; the
        running logits then gain `v_j A_j.`, so after the last unit they are the
        teacher-forced logits of the sample (its per-unit probabilities).
        """
        n = self.units
        kernel = self.masked_kernel()
        noise = uniforms(tf.shape(context), seed)
        logits = context + tf.cast(self.bias, self.compute_dtype)
        values = tf.zeros_like(logits)

        def step(j, values, logits):
            bit = tf.cast(noise[:, j] < tf.sigmoid(logits[:, j]), logits.dtype)[:, None]
            values = values + bit * tf.one_hot(j, n, dtype=logits.dtype)[None, :]
            return j + 1, values, logits + bit * kernel[j][None, :]

        _, values, logits = tf.while_loop(lambda j, *_: j < n, step, (tf.constant(0), values, logits))
        return values, tf.sigmoid(logits)

    def get_config(self):
        return {**super().get_config(), "units": self.units}
