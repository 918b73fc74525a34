"""Depth prediction measures (Eigen, Puhrsch & Fergus 2014, section 4), over
the valid pixels (finite, positive ground truth) of prediction y and truth y*:

- threshold accuracy: fraction with max(y / y*, y* / y) < 1.25, 1.25^2, 1.25^3
- abs rel: mean |y - y*| / y*          sq rel: mean (y - y*)^2 / y*
- RMSE (linear): sqrt(mean (y - y*)^2)  RMSE (log): sqrt(mean (log y - log y*)^2)
- scale-invariant log RMSE: the square root of the loss below with lambda = 1,
  per image, averaged over images (the paper's "RMSE (log, scale-invariant)")

The scale-invariant loss (their eq. 4, lambda = 0.5 for training), with
d = log y - log y* over the n valid pixels of an image:

    D(y, y*) = 1/n sum d_i^2 - lambda / n^2 (sum d_i)^2

Multiplying y by a constant adds a constant to every d_i, which the two terms
cancel when lambda = 1; with lambda = 0.5 half of the scale error is forgiven.
"""

import keras
import numpy as np
import tensorflow as tf

THRESHOLDS = (1.25, 1.25**2, 1.25**3)


def valid_mask(truth):
    return tf.math.logical_and(tf.math.is_finite(truth), truth > 0)


@keras.saving.register_keras_serializable(package="keras_l11")
class ScaleInvariantLoss(keras.losses.Loss):
    """Eigen's scale-invariant error in log depth, per image, missing depth
    (0, NaN or inf in `y_true`) masked. `y_pred` is log depth (the networks
    predict log depth); `y_true` is depth `[batch, H, W]` or `[batch, H, W, 1]`."""

    def __init__(self, lam=0.5, name="scale_invariant", **kwargs):
        super().__init__(name=name, **kwargs)
        self.lam = lam

    def call(self, y_true, y_pred):
        y_true = tf.reshape(tf.cast(y_true, tf.float32), [tf.shape(y_true)[0], -1])
        y_pred = tf.reshape(tf.cast(y_pred, tf.float32), [tf.shape(y_pred)[0], -1])
        mask = tf.cast(valid_mask(y_true), tf.float32)
        d = (y_pred - tf.math.log(tf.where(mask > 0, y_true, 1.0))) * mask
        n = tf.maximum(tf.reduce_sum(mask, axis=1), 1.0)
        return tf.reduce_sum(d**2, axis=1) / n - self.lam * tf.reduce_sum(d, axis=1) ** 2 / n**2

    def get_config(self):
        return {**super().get_config(), "lam": self.lam}


def depth_scores(predicted, truth):
    """The paper's measures of depth maps `[N, H, W]` (NumPy), over valid pixels."""
    predicted, truth = np.asarray(predicted, np.float64), np.asarray(truth, np.float64)
    valid = np.isfinite(truth) & (truth > 0)
    y, t = np.maximum(predicted[valid], 1e-6), truth[valid]
    ratio = np.maximum(y / t, t / y)
    scores = {f"delta<{k}": float(np.mean(ratio < th)) for k, th in zip(("1.25", "1.25^2", "1.25^3"), THRESHOLDS)}
    scores |= {
        "abs_rel": float(np.mean(np.abs(y - t) / t)),
        "sq_rel": float(np.mean((y - t) ** 2 / t)),
        "rmse": float(np.sqrt(np.mean((y - t) ** 2))),
        "rmse_log": float(np.sqrt(np.mean((np.log(y) - np.log(t)) ** 2))),
    }
    per_image = []
    for p, g in zip(predicted, truth):
        ok = np.isfinite(g) & (g > 0)
        d = np.log(np.maximum(p[ok], 1e-6)) - np.log(g[ok])
        if d.size:
            per_image.append(np.mean(d**2) - np.mean(d) ** 2)
    scores["rmse_log_scale_invariant"] = float(np.sqrt(np.mean(per_image))) if per_image else 0.0
    return scores
