"""Late fusion of class scores from several models (two-stream networks, LRCN).

- `weighted_average`: the streams' softmax scores averaged, with weights
  (two-stream: equal; LRCN: 1/3 RGB, 2/3 flow).
- `LinearSVMFusion`: the two-stream paper's better fusion, "a multi-class
  linear SVM stacked on the L2-normalised softmax scores as features", trained
  with the Crammer-Singer multi-class hinge loss and an L2 penalty
  (`fit_linear_svm`).
"""

import keras
import numpy as np
import tensorflow as tf


def weighted_average(scores, weights=None):
    """`sum_s w_s scores_s` of same-shaped score arrays; weights default to equal and are normalised."""
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, np.float64)
    if len(weights) != len(scores):
        raise ValueError(f"{len(scores)} score arrays but {len(weights)} weights")
    weights = weights / weights.sum()
    return sum(w * np.asarray(s, np.float64) for w, s in zip(weights, scores)).astype(np.float32)


@keras.saving.register_keras_serializable(package="keras_l11")
class LinearSVMFusion(keras.Model):
    """Class scores (SVM margins) from several streams' class probabilities.

    Args:
        num_streams: int, how many score vectors are stacked.
        num_classes: int.
        penalty: the L2 penalty on the weights (1 / (2 C N) for an SVM's C
            with N training examples).

    Example:

    ```python
    svm = fit_linear_svm(np.stack([spatial, temporal], 1), labels)   # [N, 2, C] probabilities
    predicted = svm.predict(np.stack([spatial_test, temporal_test], 1)).argmax(-1)
    ```
    """

    def __init__(self, num_streams, num_classes, penalty=1e-3, **kwargs):
        # Layers and the functional graph: each stream's scores L2-normalised, then one linear map.
        scores = keras.Input((num_streams, num_classes), name="scores")
        x = keras.layers.UnitNormalization(axis=-1, name="l2_normalise")(scores)
        x = keras.layers.Flatten(name="features")(x)
        x = keras.layers.Dense(
            num_classes, kernel_regularizer=keras.regularizers.L2(penalty), dtype="float32", name="svm"
        )(x)
        super().__init__(scores, x, **kwargs)

        # Config.
        self.num_streams, self.num_classes, self.penalty = num_streams, num_classes, penalty

    def get_config(self):
        return {
            "name": self.name,
            "num_streams": self.num_streams,
            "num_classes": self.num_classes,
            "penalty": self.penalty,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def fit_linear_svm(scores, labels, penalty=1e-3, steps=500, learning_rate=0.05, seed=0):
    """A `LinearSVMFusion` trained on `scores [N, streams, classes]` with
    integer `labels [N]`: full-batch Adam on the multi-class hinge loss (a
    convex problem: it converges to the SVM's solution)."""
    scores = np.asarray(scores, np.float32)
    labels = np.asarray(labels)
    keras.utils.set_random_seed(seed)
    svm = LinearSVMFusion(scores.shape[1], scores.shape[2], penalty)
    svm.compile(keras.optimizers.Adam(learning_rate), keras.losses.CategoricalHinge())
    data = tf.data.Dataset.from_tensors((scores, tf.one_hot(labels, scores.shape[2]))).repeat(steps)
    svm.fit(data, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
    return svm
