"""The MNIST classifiers of the adversarial and fooling experiments.

Szegedy et al. 2014 (Table 1), all ending in a softmax (these output logits):
- `FC10(lambda)`: a softmax classifier on the pixels with weight decay lambda
  (`softmax_classifier`);
- `FC100-100-10`, `FC200-200-10`, `FC123-456-10`: sigmoid hidden layers
  (`fully_connected`);
- `AE400-10`: a softmax on the 400 sigmoid units of a sparse autoencoder
  trained first (`autoencoder_classifier`; the encoder frozen, or fine-tuned
  with the softmax).

Nguyen et al. 2015: `lenet`, Caffe's LeNet (conv 20 5x5, pool, conv 50 5x5,
pool, 500 ReLU, 10), the MNIST network they fooled.

Weight decay lambda is the usual one: the gradient gains lambda * w, so the
loss gains lambda / 2 * sum(w^2) (Keras' `L2(lambda / 2)`) on the mean
cross-entropy of a batch. That is the paper's: the FC10(lambda) optima match
Table 1's errors with lambda / 2 and not with lambda
(`benchmarks/robustness_ablations.py`). Table 1 gives each model's lambdas: one
per layer for the sigmoid networks (`SIGMOID_NETWORK_DECAY`, input layer first)
and 1e-6 for AE400-10's softmax (`AUTOENCODER_SOFTMAX_DECAY`). They matter beyond
the errors: trained with Adam and without them, FC100-100-10 was fooled by
Gaussian noise of stddev 0.3 in 20% of 300 images, with them in 9% (see
`keras_l11.robustness.configs.AdversarialExperiment` for the optimiser's share).
"""

import keras
from keras import layers

SIGMOID_NETWORK_DECAY = (1e-5, 1e-5, 1e-6)  # Table 1: FC100-100-10 and FC200-200-10
AUTOENCODER_SOFTMAX_DECAY = 1e-6  # Table 1: AE400-10


def _decay(weight_decay):
    return keras.regularizers.L2(weight_decay / 2) if weight_decay else None


def _per_layer(weight_decay, layers_count):
    """One lambda per Dense layer from a float (every layer) or a tuple (each layer)."""
    if isinstance(weight_decay, (tuple, list)):
        if len(weight_decay) != layers_count:
            raise ValueError(f"weight_decay has {len(weight_decay)} values for {layers_count} layers")
        return tuple(weight_decay)
    return (weight_decay,) * layers_count


def softmax_classifier(weight_decay=1e-4, name=None):
    """FC10(lambda): logits = W x + b on the 784 pixels."""
    return keras.Sequential(
        [keras.Input((28, 28)), layers.Flatten(), layers.Dense(10, kernel_regularizer=_decay(weight_decay))],
        name=name,
    )


def fit_softmax_optimum(model, images, labels, max_iterations=1000):
    """Sets a `softmax_classifier`'s weights to the optimum of its objective (mean
    cross-entropy + its L2 penalty on the kernel), found by full-batch L-BFGS in
    float64; returns `(objective, iterations)`.

    FC10 is convex, so it has one optimum, and its errors are then the
    objective's rather than an optimiser's: 30,000 steps of Adam at 1e-3 had
    left FC10(1) 4 points above its optimum's training error.
    """
    import numpy as np
    import scipy.optimize

    dense = model.layers[-1]
    penalty = float(dense.kernel_regularizer.l2) if dense.kernel_regularizer is not None else 0.0
    x = np.asarray(images, np.float64).reshape(len(images), -1)
    onehot = np.eye(dense.units)[np.asarray(labels)]
    inputs, units = x.shape[1], dense.units

    def objective(p):
        w, b = p[: inputs * units].reshape(inputs, units), p[inputs * units :]
        z = x @ w + b
        z -= z.max(1, keepdims=True)
        log_norm = np.log(np.exp(z).sum(1))
        g = (np.exp(z - log_norm[:, None]) - onehot) / len(x)
        loss = np.mean(log_norm - (z * onehot).sum(1)) + penalty * np.sum(w**2)
        return loss, np.concatenate([(x.T @ g + 2 * penalty * w).ravel(), g.sum(0)])

    found = scipy.optimize.minimize(
        objective, np.zeros(inputs * units + units), jac=True, method="L-BFGS-B", options={"maxiter": max_iterations}
    )
    p = found.x
    dense.set_weights(
        [p[: inputs * units].reshape(inputs, units).astype("float32"), p[inputs * units :].astype("float32")]
    )
    return float(found.fun), int(found.nit)


def fully_connected(hidden=(100, 100), weight_decay=SIGMOID_NETWORK_DECAY, name=None):
    """FC<h1>-<h2>-...-10 with sigmoid hidden units; `weight_decay` is one lambda
    for every layer or one per layer (the paper's by default)."""
    decays = _per_layer(weight_decay, len(hidden) + 1)
    stack = [keras.Input((28, 28)), layers.Flatten()]
    stack += [layers.Dense(h, "sigmoid", kernel_regularizer=_decay(d)) for h, d in zip(hidden, decays)]
    stack.append(layers.Dense(10, kernel_regularizer=_decay(decays[-1])))
    return keras.Sequential(stack, name=name)


def autoencoder_classifier(autoencoder, weight_decay=AUTOENCODER_SOFTMAX_DECAY, finetune=False, name=None):
    """A softmax on an autoencoder's code (`keras_l11.generative.autoencoder.Autoencoder`):
    AE400-10 with a 400-unit sparse code. The encoder is frozen unless `finetune`,
    in which case it starts from the autoencoder's weights and trains with the softmax."""
    codes = images = keras.Input((28, 28))
    codes = layers.Flatten()(codes)
    for layer in [*autoencoder.encoder_layers, autoencoder.code_layer]:
        layer.trainable = finetune
        codes = layer(codes)
    logits = layers.Dense(10, kernel_regularizer=_decay(weight_decay))(codes)
    return keras.Model(images, logits, name=name)


def lenet(name=None):
    """Caffe's LeNet for MNIST: conv 20@5x5, max-pool, conv 50@5x5, max-pool, 500 ReLU, 10."""
    return keras.Sequential(
        [
            keras.Input((28, 28)),
            layers.Reshape((28, 28, 1)),
            layers.Conv2D(20, 5),
            layers.MaxPooling2D(2),
            layers.Conv2D(50, 5),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(500, "relu"),
            layers.Dense(10),
        ],
        name=name,
    )
