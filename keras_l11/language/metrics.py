"""Language-model metrics in the papers' units: bits per character (Graves 2013)
and perplexity (Mikolov 2010), from logits, over the tokens a mask keeps."""

import math

import keras
from keras import ops


class _TokenCrossEntropy(keras.metrics.Metric):
    """Accumulates the total cross-entropy (nats) and the number of scored tokens."""

    def __init__(self, name, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total_nats")
        self.count = self.add_variable(shape=(), initializer="zeros", name="tokens")

    def update_state(self, y_true, y_pred, sample_weight=None):
        nats = ops.sparse_categorical_crossentropy(
            ops.cast(y_true, "int32"), ops.cast(y_pred, "float32"), from_logits=True
        )
        weight = ops.ones_like(nats) if sample_weight is None else ops.cast(sample_weight, "float32")
        self.total.assign_add(ops.sum(nats * weight))
        self.count.assign_add(ops.sum(weight))

    def mean_nats(self):
        return ops.divide_no_nan(self.total, self.count)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="keras_l11")
class BitsPerCharacter(_TokenCrossEntropy):
    """Mean cross-entropy per scored token, in bits (Graves 2013: 1.67 on enwik8)."""

    def __init__(self, name="bits_per_character", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def result(self):
        return self.mean_nats() / math.log(2.0)


@keras.saving.register_keras_serializable(package="keras_l11")
class Perplexity(_TokenCrossEntropy):
    """exp(mean cross-entropy per scored token in nats)."""

    def __init__(self, name="perplexity", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def result(self):
        return ops.exp(self.mean_nats())
