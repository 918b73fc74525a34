"""Graves' (2013) soft window over a character sequence (section 5.1).

At each pen point the first LSTM layer's output `h` gives K window components:

    (alpha_hat, beta_hat, kappa_hat) = W h + b
    alpha = exp(alpha_hat)   importance
    beta  = exp(beta_hat)    width (a precision)
    kappa = kappa_prev + exp(kappa_hat)   location, only ever moves forward

    phi(t, u) = sum_k alpha_k exp(-beta_k (kappa_k - u)^2)
    w_t       = sum_u phi(t, u) c_u          (c_u: one-hot character u)

Characters sit at positions u = 0 .. U-1 (the paper counts from 1). Synthesis
is over when the window weighs the position just after the text, u = U, more
than every character (the paper's finish condition).

Text enters as character ids from `keras_l11.handwriting.data.encode_characters`: an index into the
model's alphabet, `len(alphabet)` for a character outside it (one extra
channel, "unknown") and -1 for padding, whose one-hot is all zeros.
"""

import keras
import tensorflow as tf

HAT_LIMIT = 10.0  # alpha_hat, beta_hat and kappa_hat are clipped to +-HAT_LIMIT before exp


def character_lengths(ids):
    return tf.reduce_sum(tf.cast(ids >= 0, tf.int32), axis=-1)


@keras.saving.register_keras_serializable(package="keras_l11")
class SoftWindow(keras.layers.Layer):
    """`h [batch, F]`, previous `kappa [batch, K]` and one-hot text
    `[batch, U, V]` -> `(w [batch, V], kappa [batch, K], phi [batch, U + 1])`;
    phi's last column is the weight just after the longest text.

    Args:
        num_components: K, window components (the paper: 10).
        kappa_bias: initial bias of kappa_hat. exp(-3) = 0.05 characters per
            point at the start of training, about the pace of real and synthetic
            writing (20-25 points per character); the paper does not say.

    Example:

    ```python
    window = SoftWindow(10)
    w, kappa, phi = window(h1, kappa, tf.one_hot(ids, vocabulary_size))
    ```
    """

    def __init__(self, num_components=10, kappa_bias=-3.0, **kwargs):
        kwargs.setdefault("dtype", "float32")  # positions and exp() in float32 under mixed precision
        super().__init__(**kwargs)
        self.num_components = num_components
        self.kappa_bias = kappa_bias
        k = num_components
        bias = [0.0] * (2 * k) + [kappa_bias] * k
        self.dense = keras.layers.Dense(
            3 * k, bias_initializer=keras.initializers.Constant(bias), dtype=self.dtype_policy, name="window_params"
        )

    def build(self, h_shape, kappa_shape=None, text_shape=None):
        self.dense.build(h_shape)
        self.built = True

    def parameters(self, h):
        """`(alpha, beta, kappa_step)`, each `[batch, K]`."""
        hats = tf.clip_by_value(tf.cast(self.dense(h), tf.float32), -HAT_LIMIT, HAT_LIMIT)
        return tf.unstack(tf.exp(tf.reshape(hats, [-1, 3, self.num_components])), axis=1)

    def call(self, h, kappa, text):
        alpha, beta, kappa_step = self.parameters(h)
        kappa = kappa + kappa_step
        positions = tf.range(tf.shape(text)[1] + 1, dtype=tf.float32)
        d = kappa[:, :, None] - positions[None, None, :]
        phi = tf.reduce_sum(alpha[:, :, None] * tf.exp(-beta[:, :, None] * tf.square(d)), axis=1)
        w = tf.einsum("bu,buv->bv", phi[:, :-1], tf.cast(text, tf.float32))
        return w, kappa, phi

    def get_config(self):
        return {**super().get_config(), "num_components": self.num_components, "kappa_bias": self.kappa_bias}


def finished(phi, text_lengths):
    """The finish condition per row (bool `[batch]`) from the window's `phi
    [batch, U + 1]`: the weight at u = length (just after the row's text) is
    above the weight of every character."""
    after = tf.gather(phi, text_lengths, axis=1, batch_dims=1)
    is_char = tf.range(tf.shape(phi)[1])[None, :] < text_lengths[:, None]
    return after > tf.reduce_max(tf.where(is_char, phi, -1.0), axis=-1)
