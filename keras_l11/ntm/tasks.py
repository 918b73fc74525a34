"""The four algorithmic tasks of the NTM paper as `tf.data` pipelines.

Each task makes whole batches from a stateless seed, so a pipeline is a pure
function of `(seed, step)`: the same run gives the same data, a resumed run
can skip to the step it stopped at for free, and every worker of a
distributed job computes the same global batch (then keeps its shard).
All sequences of one batch share their sizes (length, repeats, items), drawn
once per batch, as in the reference implementations.

Targets are `MASK_VALUE` (-1) where the network is not asked for an output
(while it reads its input); losses and metrics in `keras_l11.metrics` skip
those steps.

Settings are the paper's (section 4): copy, 8-bit vectors of length 1-20;
repeat copy, length 1-10 and 1-10 repeats, the repeat count normalised to
mean 0 and variance 1; associative recall, 2-6 items of three 6-bit vectors;
priority sort, 20 vectors of 8 bits with priorities in [-1, 1], the 16 of
highest priority to be output in order.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_l11.ntm.specs import TASK_NAMES

MASK_VALUE = -1.0


def _bits(seed, shape):
    return tf.cast(tf.random.stateless_uniform(shape, seed, maxval=2, dtype=tf.int32), tf.float32)


def _randint(seed, low, high):
    """A scalar int32 uniform in [low, high]."""
    return tf.random.stateless_uniform([], seed, minval=low, maxval=high + 1, dtype=tf.int32)


def _grown(low, high, progress):
    """The largest size at `progress` in [0, 1] of a curriculum: from `low` at the
    start to `high` at the end (`high` itself when there is no curriculum)."""
    if progress is None:
        return high
    return low + tf.cast(tf.round(progress * (high - low)), tf.int32)


def _masked(batch, steps, width):
    return tf.fill([batch, steps, width], MASK_VALUE)


class SequenceTask:
    """Base: subclasses define sizes, `input_width`, `output_width`, `make_batch`."""

    name = "task"
    size_names = ()
    has_size_range = True  # False: every training batch has the same sizes (no curriculum)

    def random_sizes(self, seed, progress=None):
        """Sizes drawn from the training distribution (dict of int32 scalars);
        `progress` (a float in [0, 1]) shrinks each size's upper end for a curriculum."""
        raise NotImplementedError

    def make_batch(self, seed, batch_size, **sizes):
        """`(inputs [B, T, input_width], targets [B, T, output_width])`."""
        raise NotImplementedError

    def _batch_from_seed(self, seed, batch_size, progress=None):
        size_seed, data_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        inputs, targets = self.make_batch(data_seed, batch_size, **self.random_sizes(size_seed, progress))
        inputs.set_shape([batch_size, None, self.input_width])
        targets.set_shape([batch_size, None, self.output_width])
        return inputs, targets

    def train_dataset(self, batch_size, seed=0, start_step=0, curriculum_steps=0):
        """An endless dataset of training batches; `start_step` skips that many.

        `curriculum_steps` > 0: a curriculum, the upper end of every size range
        (length, repeats, items) growing linearly from its lower end at step 0 to
        the task's own at that step, then staying there. It is a function of the
        step too, so a resumed run picks it up where it stopped.
        """
        if curriculum_steps < 0:
            raise ValueError(f"curriculum_steps must be 0 (none) or a positive number of steps, got {curriculum_steps}")
        if curriculum_steps and not self.has_size_range:
            raise ValueError(f"the {self.name} task has no size range for a curriculum to grow")

        def batch(step):
            progress = None
            if curriculum_steps:
                progress = tf.minimum(1.0, tf.cast(step + 1, tf.float32) / float(curriculum_steps))
            return self._batch_from_seed(tf.stack([tf.cast(seed, tf.int64), step]), batch_size, progress)

        steps = tf.data.Dataset.counter(start=start_step)
        ds = steps.map(
            batch,
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        return _no_autoshard(ds.prefetch(tf.data.AUTOTUNE))

    def eval_dataset(self, batch_size, num_batches, seed=10_000, **fixed_sizes):
        """A fixed-seed evaluation set of `num_batches` batches.

        Sizes not given in `fixed_sizes` are drawn from the training range with
        the same fixed seed, so the set is identical for every run.
        """

        def batch(i):
            batch_seed = tf.stack([tf.constant(seed, tf.int64), i])
            size_seed, data_seed = tf.unstack(tf.random.experimental.stateless_split(batch_seed, 2))
            sizes = self.random_sizes(size_seed)
            sizes.update({k: tf.constant(v, tf.int32) for k, v in fixed_sizes.items()})
            inputs, targets = self.make_batch(data_seed, batch_size, **sizes)
            inputs.set_shape([batch_size, None, self.input_width])
            targets.set_shape([batch_size, None, self.output_width])
            return inputs, targets

        return _no_autoshard(tf.data.Dataset.range(num_batches).map(batch).cache())

    def example(self, seed=0, **sizes):
        """One `(inputs, targets)` pair as NumPy arrays, for plots and demos."""
        s = tf.constant([seed, 0], tf.int64)
        drawn = self.random_sizes(s)
        drawn.update({k: tf.constant(v, tf.int32) for k, v in sizes.items()})
        inputs, targets = self.make_batch(s, 1, **drawn)
        return inputs.numpy()[0], targets.numpy()[0]


def _no_autoshard(ds):
    """Every worker computes the same global batch and keeps its shard (DATA)."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


@dataclasses.dataclass(frozen=True)
class CopyTask(SequenceTask):
    """Read a sequence of random bit vectors, then a delimiter; write it back."""

    bits: int = 8
    min_length: int = 1
    max_length: int = 20
    name = "copy"

    @property
    def input_width(self):
        return self.bits + 1  # + delimiter channel

    @property
    def output_width(self):
        return self.bits

    def random_sizes(self, seed, progress=None):
        return {"length": _randint(seed, self.min_length, _grown(self.min_length, self.max_length, progress))}

    def make_batch(self, seed, batch_size, length):
        seq = _bits(seed, [batch_size, length, self.bits])
        zeros_in = tf.zeros([batch_size, length, 1])
        delimiter = tf.one_hot(tf.fill([batch_size, 1], self.bits), self.input_width)
        inputs = tf.concat(
            [tf.concat([seq, zeros_in], -1), delimiter, tf.zeros([batch_size, length, self.input_width])], axis=1
        )
        targets = tf.concat([_masked(batch_size, length + 1, self.bits), seq], axis=1)
        return inputs, targets


@dataclasses.dataclass(frozen=True)
class RepeatCopyTask(SequenceTask):
    """Copy a sequence a given number of times, then emit an end marker."""

    bits: int = 8
    min_length: int = 1
    max_length: int = 10
    min_repeats: int = 1
    max_repeats: int = 10
    name = "repeat_copy"

    @property
    def input_width(self):
        return self.bits + 2  # + start delimiter, + repeat count channel

    @property
    def output_width(self):
        return self.bits + 1  # + end marker

    def normalise_repeats(self, repeats):
        """The repeat count as the network sees it: scaled to mean 0, variance 1
        over the training range (20 repeats is 5.05, the training range +-1.57)."""
        values = np.arange(self.min_repeats, self.max_repeats + 1)
        std = values.std() or 1.0
        return (tf.cast(repeats, tf.float32) - values.mean()) / std

    def random_sizes(self, seed, progress=None):
        a, b = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        return {
            "length": _randint(a, self.min_length, _grown(self.min_length, self.max_length, progress)),
            "repeats": _randint(b, self.min_repeats, _grown(self.min_repeats, self.max_repeats, progress)),
        }

    def make_batch(self, seed, batch_size, length, repeats, told_repeats=None):
        """`told_repeats`: the count the network is told, when it is not `repeats`
        (a probe of how a model reads the count; the answer stays `repeats` copies)."""
        b, w = batch_size, self.bits
        seq = _bits(seed, [b, length, w])
        out_steps = repeats * length + 1
        start = tf.one_hot(tf.fill([b, 1], w), w + 2)
        body = tf.concat([seq, tf.zeros([b, length, 2])], -1)
        told = self.normalise_repeats(repeats if told_repeats is None else told_repeats)
        count = tf.concat([tf.zeros([b, 1, w + 1]), tf.fill([b, 1, 1], told)], -1)
        inputs = tf.concat([start, body, count, tf.zeros([b, out_steps, w + 2])], axis=1)
        repeated = tf.tile(seq, [1, repeats, 1])
        answer = tf.concat(
            [
                tf.concat([repeated, tf.zeros([b, repeats * length, 1])], -1),
                tf.one_hot(tf.fill([b, 1], w), w + 1),
            ],
            axis=1,
        )
        targets = tf.concat([_masked(b, length + 2, w + 1), answer], axis=1)
        return inputs, targets


@dataclasses.dataclass(frozen=True)
class AssociativeRecallTask(SequenceTask):
    """Read a list of items, then a query item; output the item after it."""

    bits: int = 6
    item_length: int = 3
    min_items: int = 2
    max_items: int = 6
    name = "associative_recall"

    @property
    def input_width(self):
        return self.bits + 2  # + item delimiter, + query delimiter

    @property
    def output_width(self):
        return self.bits

    def random_sizes(self, seed, progress=None):
        return {"items": _randint(seed, self.min_items, _grown(self.min_items, self.max_items, progress))}

    def make_batch(self, seed, batch_size, items):
        b, w, n = batch_size, self.bits, self.item_length
        item_seed, query_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        content = _bits(item_seed, [b, items, n, w])
        item_delim = tf.one_hot(tf.fill([b, items, 1], w), w + 2)
        body = tf.concat([content, tf.zeros([b, items, n, 2])], -1)
        listed = tf.reshape(tf.concat([item_delim, body], axis=2), [b, items * (n + 1), w + 2])
        query_index = tf.random.stateless_uniform([b], query_seed, maxval=items - 1, dtype=tf.int32)
        query = tf.gather(content, query_index, batch_dims=1)
        answer = tf.gather(content, query_index + 1, batch_dims=1)
        query_delim = tf.one_hot(tf.fill([b, 1], w + 1), w + 2)
        inputs = tf.concat(
            [listed, query_delim, tf.concat([query, tf.zeros([b, n, 2])], -1), query_delim, tf.zeros([b, n, w + 2])],
            axis=1,
        )
        targets = tf.concat([_masked(b, items * (n + 1) + n + 2, w), answer], axis=1)
        return inputs, targets


@dataclasses.dataclass(frozen=True)
class PrioritySortTask(SequenceTask):
    """Read vectors with scalar priorities; output the top ones sorted by priority."""

    bits: int = 8
    num_inputs: int = 20
    num_outputs: int = 16
    name = "priority_sort"

    @property
    def input_width(self):
        return self.bits + 2  # + priority channel, + delimiter

    @property
    def output_width(self):
        return self.bits

    has_size_range = False

    def random_sizes(self, seed, progress=None):
        return {"num_inputs": tf.constant(self.num_inputs, tf.int32)}

    def make_batch(self, seed, batch_size, num_inputs):
        b, w = batch_size, self.bits
        num_outputs = num_inputs * self.num_outputs // self.num_inputs  # 16 of 20, as in the paper
        bit_seed, priority_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        seq = _bits(bit_seed, [b, num_inputs, w])
        priority = tf.random.stateless_uniform([b, num_inputs, 1], priority_seed, minval=-1.0, maxval=1.0)
        order = tf.argsort(priority[:, :, 0], axis=1, direction="DESCENDING")[:, :num_outputs]
        answer = tf.gather(seq, order, batch_dims=1)
        delimiter = tf.one_hot(tf.fill([b, 1], w + 1), w + 2)
        inputs = tf.concat(
            [
                tf.concat([seq, priority, tf.zeros([b, num_inputs, 1])], -1),
                delimiter,
                tf.zeros([b, num_outputs, w + 2]),
            ],
            axis=1,
        )
        targets = tf.concat([_masked(b, num_inputs + 1, w), answer], axis=1)
        return inputs, targets


TASKS = dict(zip(TASK_NAMES, (CopyTask, RepeatCopyTask, AssociativeRecallTask, PrioritySortTask)))
