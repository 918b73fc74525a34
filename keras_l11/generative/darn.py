"""Deep AutoRegressive Networks (Gregor, Danihelka, Mnih, Blundell & Wierstra 2014).

A DARN is a generative autoencoder with stochastic binary hidden layers:

    decoder (generative model)      p(h^L) prod_l p(h^l | h^{l+1}) p(x | h^1)
    encoder (approximate posterior) q(h^1 | x) prod_l q(h^{l+1} | h^l)

Every layer of the decoder, the top one and the pixels included, has
autoregressive connections inside it (`AutoregressiveBernoulli`), so the model
is sampled exactly and fast by one top-down (ancestral) pass. The encoder is a
feed-forward network whose units are independent given the layer below.

Training minimises the description length of the data (MDL), the negative
variational lower bound in nats per image:

    L(x) = E_q [ log q(h | x) - log p(x, h) ]  >=  -log p(x)

Its gradient for the decoder is exact on a sample of h. The encoder's units
are discrete, so its gradient needs an estimator: `score_function` (the
unbiased likelihood-ratio estimator with an input-dependent baseline, Mnih &
Gregor 2014) or `straight_through` (biased: the bit's gradient passed to its
probability). `log_prob` estimates log p(x) by importance sampling with the
encoder as the proposal; `exact_log_prob` enumerates every hidden state (tiny
models, tests).

Everything runs in float32: an image's log-probability is a sum of 784
per-pixel terms and the importance-sampling estimate a log-sum-exp of them.
"""

import itertools
import math

import keras
import numpy as np
import tensorflow as tf

from keras_l11.generative.autoregressive import AutoregressiveBernoulli, bernoulli_log_prob, uniforms

ESTIMATORS = ("score_function", "straight_through")


def description_length_loss(targets, lengths):
    """The Keras loss of a DARN: its output, the description length `[batch]` in
    nats (the targets are ignored)."""
    del targets
    return lengths


def _sub_seed(seed, index):
    """A distinct stateless seed for each draw of one call (None stays None)."""
    return None if seed is None else tf.cast(seed, tf.int32) + tf.constant([0, 7919 * (index + 1)], tf.int32)


@keras.saving.register_keras_serializable(package="keras_l11")
class DARN(keras.Model):
    """A deep autoregressive network over binary images.

    Args:
        visible_shape: `(height, width)` of the binary images.
        hidden: sizes of the stochastic binary layers, nearest the pixels first
            (the paper's MNIST model: one layer of 500).
        encoder_units: deterministic tanh layers before each encoder layer's logits.
        decoder_units: deterministic tanh layers between a layer and the context
            logits of the layer below.
        estimator: "score_function" or "straight_through" (see the module doc).
        baseline_units: hidden units of the score-function baseline network.

    Calling the model on images `[batch, H, W]` in {0, 1} gives the description
    length `[batch]` in nats (its value); its gradient is the estimator's.

    Example:

    ```python
    model = DARN(visible_shape=(28, 28), hidden=(500,))
    images, means = model.sample(16, seed=[1, 2])
    nats = -model.log_prob(images, samples=1000)            # importance-sampled -log p(x)
    bound = model.description_length(images, seed=[3, 4])   # >= nats on average
    ```
    """

    def __init__(
        self,
        visible_shape=(28, 28),
        hidden=(500,),
        encoder_units=(),
        decoder_units=(),
        estimator="score_function",
        baseline_units=100,
        **kwargs,
    ):
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
        if not hidden:
            raise ValueError("a DARN needs at least one stochastic hidden layer")
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.visible_shape = tuple(visible_shape)
        self.hidden = tuple(hidden)
        self.encoder_units = tuple(encoder_units)
        self.decoder_units = tuple(decoder_units)
        self.estimator = estimator
        self.baseline_units = baseline_units
        self.num_visible = int(np.prod(self.visible_shape))

        f32 = {"dtype": "float32"}
        dense = lambda n, name, act=None: keras.layers.Dense(n, activation=act, name=name, **f32)  # noqa: E731

        def mlp(units, out, name):
            return [dense(u, f"{name}_{i}", "tanh") for i, u in enumerate(units)] + [dense(out, f"{name}_logits")]

        # Decoder: an autoregressive layer per stochastic layer and for the pixels; a
        # context network from each layer to the one below.
        self.priors = [AutoregressiveBernoulli(n, name=f"h{i + 1}", **f32) for i, n in enumerate(self.hidden)]
        self.visible = AutoregressiveBernoulli(self.num_visible, name="pixels", **f32)
        below = (self.num_visible, *self.hidden[:-1])
        self.contexts = [mlp(self.decoder_units, n, f"context_{i}") for i, n in enumerate(below)]
        # Encoder: q(h^1 | x), q(h^2 | h^1), ...
        self.encoders = [mlp(self.encoder_units, n, f"encoder_{i + 1}") for i, n in enumerate(self.hidden)]
        self.baseline = (
            mlp((baseline_units,), 1, "baseline") if estimator == "score_function" and baseline_units else []
        )
        self.build()

    def build(self, input_shape=None):
        def build_mlp(stack, width):
            for layer in stack:
                layer.build((None, width))
                width = layer.units

        sizes = (self.num_visible, *self.hidden)
        for i, prior in enumerate(self.priors):
            prior.build()
            build_mlp(self.contexts[i], self.hidden[i])  # context of the layer below, from h^{i+1}
            build_mlp(self.encoders[i], sizes[i])
        self.visible.build()
        build_mlp(self.baseline, self.num_visible)
        self.built = True

    # ----------------------------------------------------------------- pieces

    @staticmethod
    def _run(stack, x):
        for layer in stack:
            x = layer(x)
        return x

    def flatten(self, images):
        """Images `[batch, H, W]` -> float32 `[batch, H * W]`."""
        return tf.reshape(tf.cast(images, tf.float32), [-1, self.num_visible])

    def infer(self, x, seed=None, straight_through=False):
        """Draws `h ~ q(h | x)` layer by layer: `(hs, log_q [batch])`.

        With `straight_through`, each bit carries its probability's gradient.
        """
        hs, log_q, below = [], 0.0, x
        for i, stack in enumerate(self.encoders):
            logits = self._run(stack, below)
            prob = tf.sigmoid(logits)
            h = tf.cast(uniforms(tf.shape(logits), _sub_seed(seed, i)) < prob, tf.float32)
            log_q += bernoulli_log_prob(h, logits)
            if straight_through:
                h = h + prob - tf.stop_gradient(prob)
            hs.append(h)
            below = h
        return hs, log_q

    def log_q(self, x, hs):
        """`log q(h | x)` `[batch]` of given hidden states."""
        total, below = 0.0, x
        for stack, h in zip(self.encoders, hs):
            total += bernoulli_log_prob(h, self._run(stack, below))
            below = h
        return total

    def log_joint(self, x, hs):
        """`log p(x, h)` `[batch]`: the decoder's log-probability of pixels and hidden states."""
        top = hs[-1]
        total = self.priors[-1].log_prob(top, tf.zeros_like(top))
        for i in reversed(range(len(self.hidden) - 1)):
            total += self.priors[i].log_prob(hs[i], self._run(self.contexts[i + 1], hs[i + 1]))
        return total + self.visible.log_prob(x, self._run(self.contexts[0], hs[0]))

    # ------------------------------------------------------------- objectives

    def description_length(self, images, seed=None):
        """One-sample MDL `log q(h|x) - log p(x, h)` `[batch]` in nats (an upper
        bound on -log p(x) in expectation)."""
        x = self.flatten(images)
        hs, log_q = self.infer(x, seed)
        return log_q - self.log_joint(x, hs)

    def description_length_parts(self, images, seed=None):
        """The one-sample description length split in two, each `[batch]` in nats:
        `(pixels, latent)`, `pixels = -log p(x | h)` and `latent = log q(h | x) -
        log p(h)`; they sum to `description_length` with the same seed. The latent
        part averaged over images is the KL from the encoder to the prior: how many
        nats the hidden layers carry."""
        x = self.flatten(images)
        hs, log_q = self.infer(x, seed)
        pixels = -self.visible.log_prob(x, self._run(self.contexts[0], hs[0]))
        return pixels, log_q - self.log_joint(x, hs) - pixels

    def call(self, images, training=False):
        x = self.flatten(images)
        if self.estimator == "straight_through":
            hs, log_q = self.infer(x, straight_through=True)
            return log_q - self.log_joint(x, hs)
        hs, log_q = self.infer(x)
        length = log_q - self.log_joint(x, hs)
        if not self.baseline:
            return length + tf.stop_gradient(length) * (log_q - tf.stop_gradient(log_q))
        # Value: the description length. Gradient: the decoder's on the sample, the
        # encoder's by the likelihood ratio with the signal centred on a learned
        # baseline, and the baseline's regression onto the signal. The added terms
        # are zero in value.
        signal = tf.stop_gradient(length)
        baseline = self._run(self.baseline, x)[:, 0]
        score = tf.stop_gradient(signal - baseline) * (log_q - tf.stop_gradient(log_q))
        fit = tf.square(baseline - signal)
        return length + score + (fit - tf.stop_gradient(fit))

    def importance_log_weights(self, images, samples=100, seed=(0, 0)):
        """`log p(x, h_k) - log q(h_k | x)` `[batch, samples]` for `h_k ~ q(h | x)`."""
        x = self.flatten(images)
        tiled = tf.repeat(x, samples, axis=0)  # image b's K copies are rows b*K ... b*K + K - 1
        hs, log_q = self.infer(tiled, seed)
        return tf.reshape(self.log_joint(tiled, hs) - log_q, [tf.shape(x)[0], samples])

    def log_prob(self, images, samples=100, seed=(0, 0)):
        """Importance-sampled `log p(x)` `[batch]` in nats, the encoder as proposal:
        `log (1/K) sum_k p(x, h_k) / q(h_k | x)`. A lower bound in expectation
        that tightens as `samples` (K) grows; K = 1 is the variational bound."""
        log_w = self.importance_log_weights(images, samples, seed)
        return tf.reduce_logsumexp(log_w, 1) - math.log(samples)

    def hidden_states(self):
        """Every hidden configuration (tiny models): per layer, `[2^H, size]`."""
        total = sum(self.hidden)
        if total > 20:
            raise ValueError(f"enumerating 2^{total} hidden states is not feasible; use log_prob")
        states = np.array(list(itertools.product((0.0, 1.0), repeat=total)), np.float32)
        return tf.split(tf.constant(states), list(self.hidden), axis=1)

    def _enumerate(self, images):
        """`(log p(x, h), log q(h | x))`, each `[batch, 2^H]`, over every hidden state."""
        x = self.flatten(images)
        states = self.hidden_states()
        count = states[0].shape[0]
        batch = tf.shape(x)[0]
        rows = tf.repeat(x, count, axis=0)
        hs = [tf.tile(s, [batch, 1]) for s in states]
        shape = [batch, count]
        return tf.reshape(self.log_joint(rows, hs), shape), tf.reshape(self.log_q(rows, hs), shape)

    def exact_log_prob(self, images):
        """`log p(x) = log sum_h p(x, h)` `[batch]` by enumeration (tiny models only)."""
        log_joint, _ = self._enumerate(images)
        return tf.reduce_logsumexp(log_joint, 1)

    def exact_bound(self, images):
        """The variational bound `E_q[log p(x, h) - log q(h | x)]` `[batch]` by enumeration."""
        log_joint, log_q = self._enumerate(images)
        return tf.reduce_sum(tf.exp(log_q) * (log_joint - log_q), 1)

    # --------------------------------------------------------------- sampling

    def sample(self, count, seed=None):
        """Exact ancestral samples: `(images [count, H, W] in {0, 1}, pixel
        probabilities [count, H, W])`, the probabilities being each pixel's
        conditional given the sample's hidden states and earlier pixels."""
        h, _ = self.priors[-1].sample(tf.zeros([count, self.hidden[-1]]), _sub_seed(seed, 0))
        for i in reversed(range(len(self.hidden) - 1)):
            h, _ = self.priors[i].sample(self._run(self.contexts[i + 1], h), _sub_seed(seed, len(self.hidden) - i))
        x, probabilities = self.visible.sample(self._run(self.contexts[0], h), _sub_seed(seed, len(self.hidden) + 1))
        shape = [count, *self.visible_shape]
        return tf.reshape(x, shape), tf.reshape(probabilities, shape)

    def get_config(self):
        return {
            **super().get_config(),
            "visible_shape": self.visible_shape,
            "hidden": self.hidden,
            "encoder_units": self.encoder_units,
            "decoder_units": self.decoder_units,
            "estimator": self.estimator,
            "baseline_units": self.baseline_units,
        }
