"""Per-sequence costs in the NTM paper's units: bits per sequence and bit errors.

Targets equal to `MASK_VALUE` (-1) mark steps without a target; they count
for nothing. Every quantity is *summed* over the scored bits of a sequence
and *averaged* over sequences: that is the paper's unit, and, as a loss, it is
what makes the NTM copy task converge (a per-bit mean gives gradients too
small by a factor of the sequence size).

Everything here takes the models' *logits*: the cross-entropy of a bit is
`softplus(-z)` or `softplus(z)`, exact for any logit, where a cross-entropy of
probabilities clipped to [1e-7, 1 - 1e-7] costs a confidently wrong bit at most
23.3 bits and gives it no gradient.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_l11.ntm.tasks import MASK_VALUE

LN2 = math.log(2.0)


def _mask(y_true):
    mask = ops.cast(ops.not_equal(y_true, MASK_VALUE), "float32")
    return mask, ops.where(mask > 0, y_true, 0.0)


def nats_per_sequence(y_true, logits):
    """Binary cross-entropy of `logits`, summed over each sequence's scored bits: `[batch]`."""
    mask, target = _mask(y_true)
    per_bit = ops.binary_crossentropy(target, ops.cast(logits, "float32"), from_logits=True)
    return ops.sum(ops.reshape(per_bit * mask, (ops.shape(mask)[0], -1)), axis=-1)


def bits_per_sequence(y_true, logits):
    """Cross-entropy in bits per sequence: `[batch]`."""
    return nats_per_sequence(y_true, logits) / LN2


def bit_errors_per_sequence(y_true, logits):
    """Number of wrongly predicted bits (probability above 0.5, i.e. logit above 0,
    read as 1) per sequence: `[batch]`."""
    mask, target = _mask(y_true)
    wrong = ops.abs(ops.cast(ops.greater(logits, 0.0), "float32") - target) * mask
    return ops.sum(ops.reshape(wrong, (ops.shape(mask)[0], -1)), axis=-1)


@keras.saving.register_keras_serializable(package="keras_l11")
class SequenceBinaryCrossentropy(keras.losses.Loss):
    """Binary cross-entropy of logits in nats, summed per sequence, averaged over the batch."""

    def __init__(self, name="sequence_binary_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, logits):
        return nats_per_sequence(y_true, logits)


@keras.saving.register_keras_serializable(package="keras_l11")
class BitsPerSequence(keras.metrics.MeanMetricWrapper):
    """Mean cross-entropy per sequence of logits, in bits (the paper's "cost per sequence")."""

    def __init__(self, name="bits_per_sequence", dtype=None):
        super().__init__(bits_per_sequence, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


@keras.saving.register_keras_serializable(package="keras_l11")
class BitErrorsPerSequence(keras.metrics.MeanMetricWrapper):
    """Mean number of wrong output bits per sequence, from logits."""

    def __init__(self, name="bit_errors_per_sequence", dtype=None):
        super().__init__(bit_errors_per_sequence, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def repeat_copy_error_split(y_true, logits, length, repeats):
    """Where a repeat-copy model's bit errors go, as NumPy means per sequence.

    The paper's repeat-copy answer is `repeats` copies of a `length`-step sequence
    and then one end-marker step. It reports that its NTM keeps copying past ten
    repeats but "does not predict the end marker correctly"; bit errors per
    sequence alone cannot tell that failure from losing the sequence, so this
    splits them (they add up to `bit_errors_per_sequence`):

    - `data_errors_per_repeat`: `[repeats]`, the wrong data bits of each copy;
    - `end_marker_errors`: wrong bits of the end-marker channel, on every output step;
    - `early_end_markers`: of those, end markers emitted before the last step;
    - `final_step_data_errors`: data bits set on the end-marker step (they should be 0).
    """
    y_true, logits = np.asarray(y_true), np.asarray(logits)
    out_steps = repeats * length + 1
    if y_true.shape[1] < out_steps or y_true.shape != logits.shape:
        raise ValueError(
            f"targets {y_true.shape} and logits {logits.shape} must have the same shape, "
            f"with at least {out_steps} output steps for length {length} and {repeats} repeats"
        )
    target = y_true[:, -out_steps:]
    if np.any(target == MASK_VALUE):
        raise ValueError(f"the last {out_steps} steps must all be scored: is this length {length}, repeats {repeats}?")
    wrong = (logits[:, -out_steps:] > 0).astype(np.float64) != target
    data = wrong[:, :-1, :-1].reshape(len(target), repeats, length, -1).sum(axis=(2, 3))
    early = (logits[:, -out_steps:-1, -1] > 0).sum(axis=1)
    return {
        "data_errors_per_repeat": data.mean(axis=0),
        "end_marker_errors": float(wrong[:, :, -1].sum(axis=1).mean()),
        "early_end_markers": float(early.mean()),
        "final_step_data_errors": float(wrong[:, -1, :-1].sum(axis=1).mean()),
    }
