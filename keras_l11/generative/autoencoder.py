"""Autoencoders that differ only in how their code is limited (LeCun & Ranzato).

"Why limit the information content of the code?" An autoencoder is an energy
model: the reconstruction error `E(y) = |y - dec(enc(y))|^2` should be low on
the data and high elsewhere. With a code as large as the input and nothing
limiting it, the network can learn the identity, and the energy is low
everywhere: it reconstructs anything, digits or noise. Limiting the code's
information makes low energy a property of the data alone:

- `none`: an over-complete code, nothing else (the failure case);
- `bottleneck`: a code much narrower than the input;
- `sparse`: the over-complete code with a sparsity penalty on its units, L1
  (`sum_j |z_j|`) or KL to a target activation rho
  (`sum_j KL(rho || mean_batch z_j)`, sigmoid units);
- `denoising`: the over-complete code trained to reconstruct clean inputs from
  corrupted ones (Gaussian noise), so it learns to pull inputs onto the data.

Every variant has the same layers otherwise: sigmoid code units, tanh hidden
layers around them, and a sigmoid (images) or linear (2-D points) output.
"""

import math

import keras
import tensorflow as tf

from keras_l11.generative.specs import CODES, SPARSITY


def l1_penalty(codes):
    """`mean_batch sum_j |z_j|`."""
    return tf.reduce_mean(tf.reduce_sum(tf.abs(codes), -1))


def kl_penalty(codes, target, epsilon=1e-6):
    """`sum_j KL(rho || rho_j)` with `rho_j` unit j's mean activation over the batch
    (Bernoulli KL; units in (0, 1))."""
    mean = tf.clip_by_value(tf.reduce_mean(codes, 0), epsilon, 1.0 - epsilon)
    return tf.reduce_sum(target * tf.math.log(target / mean) + (1 - target) * tf.math.log((1 - target) / (1 - mean)))


@keras.saving.register_keras_serializable(package="keras_l11")
class Autoencoder(keras.Model):
    """Reconstructions of flat inputs `[batch, input_dim]` (or images, flattened).

    Args:
        input_dim: size of an input vector (784 for MNIST, 2 for points).
        code: how the code is limited, one of `CODES`.
        code_units: width of the code for every variant but `bottleneck`.
        bottleneck_units: width of the code for `bottleneck`.
        hidden_units: tanh layers between the input and the code (mirrored in
            the decoder).
        sparsity: "l1" or "kl", the penalty of the `sparse` code.
        sparsity_weight: the penalty's weight.
        target_activation: rho of the KL penalty.
        noise_stddev: Gaussian corruption of the `denoising` code's inputs
            (training only).
        output_activation: "sigmoid" for pixels in [0, 1], "linear" for points.

    Example:

    ```python
    model = Autoencoder(784, code="sparse", code_units=1024, sparsity="kl")
    model.compile("adam", "mse")
    model.fit(images, images)
    energy = model.energy(images)            # squared reconstruction error per input
    ```
    """

    def __init__(
        self,
        input_dim,
        code="none",
        code_units=1024,
        bottleneck_units=32,
        hidden_units=(),
        sparsity="kl",
        sparsity_weight=0.1,
        target_activation=0.05,
        noise_stddev=0.5,
        output_activation="linear",
        **kwargs,
    ):
        if code not in CODES:
            raise ValueError(f"code must be one of {CODES}, got {code!r}")
        if sparsity not in SPARSITY:
            raise ValueError(f"sparsity must be one of {SPARSITY}, got {sparsity!r}")
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.code = code
        self.code_units = code_units
        self.bottleneck_units = bottleneck_units
        self.hidden_units = tuple(hidden_units)
        self.sparsity = sparsity
        self.sparsity_weight = sparsity_weight
        self.target_activation = target_activation
        self.noise_stddev = noise_stddev
        self.output_activation = output_activation
        width = bottleneck_units if code == "bottleneck" else code_units
        self.encoder_layers = [keras.layers.Dense(u, "tanh", name=f"encoder_{i}") for i, u in enumerate(hidden_units)]
        # A sparse code starts at its target activation (sigmoid units from 0.5 must
        # otherwise first saturate towards it, which stalls learning).
        start = math.log(target_activation / (1 - target_activation)) if code == "sparse" else 0.0
        self.code_layer = keras.layers.Dense(
            width, "sigmoid", bias_initializer=keras.initializers.Constant(start), name="code"
        )
        self.decoder_layers = [
            keras.layers.Dense(u, "tanh", name=f"decoder_{i}") for i, u in enumerate(reversed(self.hidden_units))
        ]
        self.output_layer = keras.layers.Dense(input_dim, output_activation, name="reconstruction", dtype="float32")
        self.corruption = keras.layers.GaussianNoise(noise_stddev) if code == "denoising" else None
        self.build((None, input_dim))

    def build(self, input_shape):
        width = self.input_dim
        for layer in [*self.encoder_layers, self.code_layer, *self.decoder_layers, self.output_layer]:
            layer.build((None, width))
            width = layer.units
        self.built = True

    def flatten(self, inputs):
        return tf.reshape(tf.cast(inputs, self.compute_dtype), [-1, self.input_dim])

    def encode(self, inputs):
        """The code `[batch, width]` of (uncorrupted) inputs."""
        h = self.flatten(inputs)
        for layer in self.encoder_layers:
            h = layer(h)
        return self.code_layer(h)

    def decode(self, codes):
        h = codes
        for layer in self.decoder_layers:
            h = layer(h)
        return self.output_layer(h)

    def penalty(self, codes):
        """The sparse code's weighted penalty (0 for the other codes)."""
        codes = tf.cast(codes, tf.float32)  # the loss is float32 under mixed precision too
        if self.code != "sparse":
            return tf.zeros([])
        if self.sparsity == "l1":
            return self.sparsity_weight * l1_penalty(codes)
        return self.sparsity_weight * kl_penalty(codes, self.target_activation)

    def call(self, inputs, training=False):
        x = self.flatten(inputs)
        if self.corruption is not None:
            x = self.corruption(x, training=training)
        codes = self.encode(x)
        if self.code == "sparse":
            self.add_loss(self.penalty(codes))
        return self.decode(codes)

    def energy(self, inputs):
        """Squared reconstruction error `|y - dec(enc(y))|^2` `[batch]` of clean inputs."""
        x = tf.cast(self.flatten(inputs), tf.float32)
        return tf.reduce_sum(tf.square(x - self.decode(self.encode(x))), -1)

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "code": self.code,
            "code_units": self.code_units,
            "bottleneck_units": self.bottleneck_units,
            "hidden_units": self.hidden_units,
            "sparsity": self.sparsity,
            "sparsity_weight": self.sparsity_weight,
            "target_activation": self.target_activation,
            "noise_stddev": self.noise_stddev,
            "output_activation": self.output_activation,
        }
