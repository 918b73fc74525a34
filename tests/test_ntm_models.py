"""NTM cell and models: shapes, config, save/load and SavedModel round trips."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_l11.ntm.cell import NTMCell
from keras_l11.ntm.models import NeuralTuringMachine, SequenceLSTM
from keras_l11.training.export import Signature, export_saved_model

SMALL = dict(controller_units=16, memory_size=12, memory_width=5)


def sequences(batch=3, time=7, width=9, seed=0):
    return np.random.default_rng(seed).uniform(size=(batch, time, width)).astype("float32")


@pytest.mark.parametrize("controller", ["lstm", "feedforward"])
@pytest.mark.parametrize("memory_init", ["constant", "learned", "random"])
def test_cell_in_user_rnn(controller, memory_init):
    cell = NTMCell(num_read_heads=2, num_write_heads=2, controller=controller, memory_init=memory_init, **SMALL)
    out = keras.layers.RNN(cell, return_sequences=True)(sequences())
    assert out.shape == (3, 7, 16 + 2 * 5) and out.dtype == tf.float32
    assert np.all(np.isfinite(out.numpy()))
    trainable = {v.path.split("/")[-1] for v in cell.trainable_variables}
    assert ("initial_memory" in trainable) == (memory_init == "learned")


def test_weightings_are_distributions_and_memory_changes():
    model = NeuralTuringMachine(9, 8, **SMALL)
    trace = model.addressing_trace(sequences(batch=1, time=6)[0])
    for key in ("read_weights", "write_weights"):
        assert trace[key].shape == (6, 1, 12)
        np.testing.assert_allclose(trace[key].sum(-1), 1.0, rtol=1e-5)
    assert trace["probabilities"].shape == (6, 8)


def test_variable_length_and_logit_outputs():
    model = NeuralTuringMachine(9, 8, **SMALL)
    for time in (1, 5, 40):
        logits = model(sequences(time=time)).numpy()
        assert logits.shape == (3, time, 8) and logits.dtype == np.float32
        assert np.all(np.isfinite(logits)) and np.any(logits < 0) and np.any(logits > 0)


@pytest.mark.parametrize("read_after_write", [False, True])
def test_reads_see_this_steps_writes_only_when_read_after_write(read_after_write):
    """One step from a random memory, checked against eqs. (2)-(9) in either order: the
    write heads addressed on M_{t-1}; the read heads on M_t and reading it, or on M_{t-1}."""
    from keras_l11.ntm import addressing

    cell = NTMCell(controller="feedforward", memory_init="random", read_after_write=read_after_write, **SMALL)
    x = sequences(batch=2, time=1)[:, 0]
    cell.build(x.shape)
    states = cell.get_initial_state(batch_size=2)
    _, new_states = cell(x, states)
    before, after = cell.unpack_state(states), cell.unpack_state(new_states)
    controller_output, _ = cell._run_controller(np.concatenate([x, before["reads"][:, 0]], -1), [])
    p = cell._head_parameters(controller_output)

    def weights(memory, previous, heads):
        return addressing.address(
            memory, previous, *(p[k][:, heads] for k in ("keys", "strengths", "gates", "shifts", "gammas"))
        )

    write_weights = weights(before["memory"], before["write_weights"], slice(1, 2))
    memory = addressing.write(before["memory"], write_weights, p["erase"], p["add"])
    read_memory = memory if read_after_write else before["memory"]
    read_weights = weights(read_memory, before["read_weights"], slice(0, 1))
    np.testing.assert_allclose(after["memory"], memory, atol=1e-6)
    np.testing.assert_allclose(after["write_weights"], write_weights, atol=1e-6)
    np.testing.assert_allclose(after["read_weights"], read_weights, atol=1e-6)
    np.testing.assert_allclose(after["reads"], addressing.read(read_memory, read_weights), atol=1e-6)
    other = before["memory"] if read_after_write else memory
    assert not np.allclose(after["reads"], addressing.read(other, read_weights), atol=1e-3)


def test_invalid_arguments_name_the_problem():
    with pytest.raises(ValueError, match="controller"):
        NTMCell(controller="gru")
    with pytest.raises(ValueError, match="memory_init"):
        NTMCell(memory_init="zeros")
    with pytest.raises(ValueError, match="shift_range"):
        NTMCell(memory_size=4, shift_range=3)
    with pytest.raises(ValueError, match="min_sharpening"):
        NTMCell(min_sharpening=0.5)


def test_min_sharpening_keeps_a_moving_head_focused_far_beyond_training_lengths():
    """Why `min_sharpening` exists: a head that moves one row per step but leaks 2% of
    its weight to the neighbours (a shift distribution a model trained on length 20
    can be content with) loses its focus over 120 steps under the paper's gamma = 1,
    and keeps it at gamma >= 2; the cell's gammas never go below the floor."""
    from keras_l11.ntm import addressing

    n = 128
    memory = tf.fill([1, n, 20], 1e-6)
    shifts = tf.constant([[[0.01, 0.01, 0.98]]])
    focus = {}
    for gamma in (1.0, 2.0):
        w = tf.one_hot([[0]], n)
        for _ in range(120):
            w = addressing.address(
                memory,
                w,
                tf.ones([1, 1, 20]),
                tf.ones([1, 1, 1]),
                tf.zeros([1, 1, 1]),
                shifts,
                tf.constant([[[gamma]]]),
            )
        focus[gamma] = (float(tf.reduce_max(w)), int(tf.argmax(w[0, 0])))
    assert focus[1.0][0] < 0.5 and focus[2.0][0] > 0.95 and focus[2.0][1] == 120

    cell = NTMCell(min_sharpening=2.5, **SMALL)
    cell.build((None, 9))
    assert cell.get_config()["min_sharpening"] == 2.5
    gammas = cell._head_parameters(tf.constant(np.linspace(-50, 50, 2 * 16).reshape(2, 16), tf.float32))["gammas"]
    assert float(tf.reduce_min(gammas)) >= 2.5

    # A floor on the write heads only: the read heads keep the paper's gamma >= 1.
    cell = NTMCell(min_write_sharpening=3.0, num_read_heads=2, num_write_heads=1, **SMALL)
    cell.build((None, 9))
    assert NTMCell.from_config(cell.get_config()).min_write_sharpening == 3.0
    kernel, bias = cell.head_projection.weights
    kernel.assign(tf.zeros_like(kernel))
    bias.assign(tf.fill(bias.shape, -50.0))  # every gamma's softplus input at the clip, -20
    gammas = cell._head_parameters(tf.ones([2, 16]))["gammas"].numpy()[..., 0]
    np.testing.assert_allclose(gammas, [[1.0, 1.0, 3.0]] * 2, atol=1e-6)
    with pytest.raises(ValueError, match="min_write_sharpening"):
        NTMCell(min_write_sharpening=0.9)


@pytest.mark.parametrize(
    "build",
    [
        lambda: NeuralTuringMachine(9, 8, num_read_heads=2, **SMALL),
        lambda: NeuralTuringMachine(9, 8, num_read_heads=2, read_after_write=True, **SMALL),
        lambda: SequenceLSTM(9, 8, units=8, num_layers=2),
    ],
)
def test_keras_file_round_trip_is_identical(build, tmp_path):
    model = build()
    x = sequences()
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())


def test_saved_model_export_round_trip_is_identical(tmp_path):
    model = NeuralTuringMachine(9, 8, **SMALL)
    x = sequences(time=11)
    signatures = {
        "serving_default": Signature(
            fn=lambda sequence: {"probabilities": model(sequence)},
            inputs={"sequence": tf.TensorSpec([None, None, 9], tf.float32)},
        )
    }
    first = export_saved_model(model, str(tmp_path / "ntm"), signatures)
    second = export_saved_model(model, str(tmp_path / "ntm"), signatures)
    assert first.endswith("/1") and second.endswith("/2")
    assert sorted(p.name for p in (tmp_path / "ntm").iterdir()) == ["1", "2"]  # no staging left over
    serving = tf.saved_model.load(second).signatures["serving_default"]
    assert list(serving.structured_input_signature[1]) == ["sequence"]
    assert list(serving.structured_outputs) == ["probabilities"]
    # Same graph, same dynamic shapes: bit-identical. (Eager execution, or a trace
    # with static shapes, may pick other kernels and differ in the last bit.)
    spec = [tf.TensorSpec([None, None, 9], tf.float32)]
    in_process = tf.function(lambda sequence: model(sequence), input_signature=spec)(tf.constant(x)).numpy()
    np.testing.assert_array_equal(serving(sequence=tf.constant(x))["probabilities"].numpy(), in_process)
    np.testing.assert_allclose(in_process, model(x).numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("policy, jit", [("mixed_float16", False), ("float32", True)])
def test_trains_under_mixed_precision_and_xla(policy, jit):
    """The GPU flags: --mixed_precision keeps addressing and outputs in float32;
    --jit_compile compiles the whole NTM step with XLA."""
    from keras_l11.ntm.metrics import SequenceBinaryCrossentropy

    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = NeuralTuringMachine(9, 8, **SMALL)
        model.compile(keras.optimizers.Adam(1e-3, global_clipnorm=10), SequenceBinaryCrossentropy(), jit_compile=jit)
        x = sequences(batch=4, time=9)
        y = (x[..., :8] > 0.5).astype("float32")
        losses = [float(model.train_on_batch(x, y)) for _ in range(3)]
        assert all(np.isfinite(losses)) and losses[-1] < losses[0]
        assert model(x).dtype == tf.float32
        assert model.get_layer("ntm").cell.compute_dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy(previous)
