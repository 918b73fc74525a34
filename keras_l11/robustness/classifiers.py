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

Weight decay is Keras' L2 regulariser: lambda * sum(w^2) added to the mean
cross-entropy of a batch. Table 1 gives each model's lambdas: one per layer for
the sigmoid networks (`SIGMOID_NETWORK_DECAY`, input layer first) and 1e-6 for
AE400-10's softmax (`AUTOENCODER_SOFTMAX_DECAY`). They matter beyond the
errors: trained without them (Adam), FC100-100-10 was fooled by Gaussian noise of
stddev 0.3 in 18% of images, with them in 7% (see
`keras_l11.robustness.configs.AdversarialExperiment` for the optimiser's share).
"""

import keras
from keras import layers


SIGMOID_NETWORK_DECAY = (1e-5, 1e-5, 1e-6)  # Table 1: FC100-100-10 and FC200-200-10
AUTOENCODER_SOFTMAX_DECAY = 1e-6  # Table 1: AE400-10


def _decay(weight_decay):
    return keras.regularizers.L2(weight_decay) if weight_decay else None


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
