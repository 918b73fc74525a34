"""The NTM tasks' pipelines and the per-sequence metrics."""

import math

import numpy as np
import pytest
import tensorflow as tf

from keras_l11.ntm.metrics import (
    BitErrorsPerSequence,
    BitsPerSequence,
    SequenceBinaryCrossentropy,
    bit_errors_per_sequence,
    repeat_copy_error_split,
)
from keras_l11.ntm.tasks import MASK_VALUE, TASKS, AssociativeRecallTask, CopyTask, PrioritySortTask, RepeatCopyTask


def first_batch(ds):
    x, y = next(iter(ds))
    return x.numpy(), y.numpy()


def test_copy_targets_are_the_input_sequence():
    x, y = CopyTask().example(seed=4, length=7)
    assert x.shape == (15, 9) and y.shape == (15, 8)
    assert x[7, 8] == 1 and x[:7, 8].sum() == 0  # delimiter after the sequence
    np.testing.assert_array_equal(y[8:], x[:7, :8])
    assert np.all(y[:8] == MASK_VALUE) and np.all(x[8:] == 0)


def test_repeat_copy_repeats_then_ends():
    task = RepeatCopyTask()
    x, y = task.example(seed=2, length=3, repeats=4)
    seq = x[1:4, :8]
    np.testing.assert_array_equal(y[5:17, :8], np.tile(seq, (4, 1)))
    assert y[17, 8] == 1 and y[5:17, 8].sum() == 0
    # the repeat count channel is normalised to mean 0, variance 1 over 1..10
    assert x[4, 9] == pytest.approx((4 - 5.5) / np.arange(1, 11).std())


def test_repeat_copy_can_tell_the_network_another_count_and_changes_nothing_else():
    task, seed = RepeatCopyTask(), tf.constant([3, 4], tf.int64)
    x, y = task.make_batch(seed, 2, length=4, repeats=20)
    told_x, told_y = task.make_batch(seed, 2, length=4, repeats=20, told_repeats=10)
    np.testing.assert_array_equal(told_y, y)  # still 20 copies to answer
    changed = np.argwhere(told_x.numpy() != x.numpy())
    assert changed[:, 1:].tolist() == [[5, 9], [5, 9]]  # step 5 (start, 4 steps, count), the count channel
    np.testing.assert_allclose(x[:, 5, 9], (20 - 5.5) / np.arange(1, 11).std(), rtol=1e-6)
    np.testing.assert_allclose(told_x[:, 5, 9], (10 - 5.5) / np.arange(1, 11).std(), rtol=1e-6)
    # through the evaluation sets too, on the same sequences
    ex, ey = first_batch(task.eval_dataset(2, 1, length=4, repeats=20))
    tx, ty = first_batch(task.eval_dataset(2, 1, length=4, repeats=20, told_repeats=10))
    np.testing.assert_array_equal(ty, ey)
    assert np.argwhere(tx != ex)[:, 1:].tolist() == [[5, 9], [5, 9]]


def test_associative_recall_answers_the_next_item():
    x, y = AssociativeRecallTask().example(seed=1, items=5)
    items = x[:20].reshape(5, 4, 8)[:, 1:, :6]
    query = x[21:24, :6]
    index = next(i for i in range(4) if np.array_equal(items[i], query))
    np.testing.assert_array_equal(y[-3:], items[index + 1])


def test_priority_sort_outputs_highest_priorities_in_order():
    x, y = PrioritySortTask().example(seed=3)
    vectors, priorities = x[:20, :8], x[:20, 8]
    order = np.argsort(-priorities)[:16]
    np.testing.assert_array_equal(y[21:], vectors[order])
    assert np.all(y[:21] == MASK_VALUE)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_pipelines_are_deterministic_and_resumable(name):
    task = TASKS[name]()
    a = [b[0].numpy() for b in task.train_dataset(4, seed=7).take(3)]
    b = [b[0].numpy() for b in task.train_dataset(4, seed=7).take(3)]
    resumed = first_batch(task.train_dataset(4, seed=7, start_step=2))[0]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    np.testing.assert_array_equal(resumed, a[2])
    assert a[0].shape[-1] == task.input_width
    evaluation = [e[0].numpy() for e in task.eval_dataset(4, 2)]
    assert len(evaluation) == 2
    np.testing.assert_array_equal(evaluation[0], next(iter(task.eval_dataset(4, 2)))[0].numpy())


def test_copy_lengths_cover_the_training_range():
    lengths = {int(x.shape[1] - 1) // 2 for x, _ in CopyTask().train_dataset(2, seed=0).take(300)}
    assert lengths == set(range(1, 21))


def test_a_curriculum_grows_the_sizes_and_resumes_where_it_stopped():
    def lengths(task, **kwargs):
        return [int(x.shape[1] - 1) // 2 for x, _ in task.train_dataset(2, seed=0, **kwargs).take(120)]

    task = CopyTask()
    grown = lengths(task, curriculum_steps=100)
    # At step s the longest is 1 + round(19 (s + 1) / 100): only length 1 at first, every length once grown.
    for step, length in enumerate(grown):
        assert 1 <= length <= 1 + round(19 * min(1.0, (step + 1) / 100))
    assert grown[:2] == [1, 1] and max(grown[:20]) <= 5 and max(grown[100:]) > 10
    assert lengths(task, curriculum_steps=100, start_step=50)[:70] == grown[50:]
    repeat = [x.shape[1] for x, _ in RepeatCopyTask().train_dataset(1, seed=0, curriculum_steps=1000).take(5)]
    assert repeat == [5] * 5  # length 1, 1 repeat: start, body, count, answer, end marker
    with pytest.raises(ValueError, match="curriculum_steps must be 0"):
        task.train_dataset(2, curriculum_steps=-5)
    with pytest.raises(ValueError, match="priority_sort task has no size range"):
        PrioritySortTask().train_dataset(2, curriculum_steps=10)


def test_metrics_match_reference_formula():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(3, 6, 4)).astype("float32")
    y[:, :2] = MASK_VALUE
    p = rng.uniform(0.01, 0.99, size=y.shape).astype("float32")
    logits = np.log(p / (1 - p)).astype("float32")
    scored = y != MASK_VALUE
    nats = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    want_bits = (nats * scored).reshape(3, -1).sum(1).mean() / math.log(2)
    want_errors = ((np.round(p) != y) & scored).reshape(3, -1).sum(1).mean()

    bits, errors = BitsPerSequence(), BitErrorsPerSequence()
    bits.update_state(y, logits)
    errors.update_state(y, logits)
    assert float(bits.result()) == pytest.approx(want_bits, rel=1e-5)
    assert float(errors.result()) == pytest.approx(want_errors)
    loss = SequenceBinaryCrossentropy()(tf.constant(y), tf.constant(logits))
    assert float(loss) == pytest.approx(want_bits * math.log(2), rel=1e-5)


def test_a_confidently_wrong_bit_costs_its_full_bits_and_has_a_gradient():
    """p = 1e-12 for a 1 bit: -log2(1e-12) = 39.86 bits (probabilities clipped to
    1e-7 gave 23.25 and no gradient)."""
    y = tf.constant([[[1.0]]])
    logit = tf.Variable([[[math.log(1e-12 / (1 - 1e-12))]]])
    with tf.GradientTape() as tape:
        loss = SequenceBinaryCrossentropy()(y, logit)
    assert float(loss) / math.log(2) == pytest.approx(-math.log2(1e-12), rel=1e-5)
    # d/dz softplus(-z) = -sigmoid(-z) = -1 + 1e-12: the full gradient.
    assert float(tape.gradient(loss, logit)[0, 0, 0]) == pytest.approx(-1.0, abs=1e-6)
    bits = BitsPerSequence()
    bits.update_state(y, logit)
    assert float(bits.result()) == pytest.approx(39.86, abs=0.01)


def test_repeat_copy_errors_split_per_copy_and_end_marker_and_add_up():
    length, repeats = 3, 4
    x, y = RepeatCopyTask().make_batch(tf.constant([5, 6], tf.int64), 2, length=length, repeats=repeats)
    y = y.numpy()
    logits = np.where(y == MASK_VALUE, 0.3, 20.0 * y - 10.0)  # right on every scored bit
    answer = length + 2  # the answer starts after the start step, the sequence and the count
    logits[0, answer + length + 1, [0, 5]] *= -1  # sequence 0: two wrong bits in copy 2
    logits[1, answer + 3 * length, 8] = 10.0  # sequence 1: an end marker at the start of copy 4
    logits[1, -1, 2] = 10.0 - 20.0 * y[1, -1, 2]  # and a data bit wrong on the end-marker step

    split = repeat_copy_error_split(y, logits, length, repeats)

    np.testing.assert_allclose(split["data_errors_per_repeat"], [0, 1, 0, 0])  # mean over the 2 sequences
    assert split["end_marker_errors"] == 0.5 and split["early_end_markers"] == 0.5
    assert split["final_step_data_errors"] == 0.5
    total = sum(split["data_errors_per_repeat"]) + split["end_marker_errors"] + split["final_step_data_errors"]
    assert total == pytest.approx(float(np.mean(bit_errors_per_sequence(y, logits))))
    with pytest.raises(ValueError, match="length 4, repeats 4"):
        repeat_copy_error_split(y, logits, 4, repeats)
