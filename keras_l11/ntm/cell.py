"""The Neural Turing Machine cell, a Keras RNN cell with an external memory."""

import keras
import numpy as np
from keras import ops

from keras_l11.ntm import addressing as ntm_addressing

MEMORY_INITS = ("constant", "learned", "random")
CONTROLLERS = ("lstm", "feedforward")


@keras.saving.register_keras_serializable(package="keras_l11")
class NTMCell(keras.layers.Layer):
    """Neural Turing Machine cell (Graves, Wayne & Danihelka, 2014).

    Paper: [Neural Turing Machines](https://arxiv.org/abs/1410.5401).

    A controller (LSTM or feed-forward) reads the input and the previous read
    vectors; its output is projected onto the parameters of every head (key,
    key strength, interpolation gate, shift distribution, sharpening, and for
    write heads the erase and add vectors). Heads address an `N x M` memory by
    content and location (`keras_l11.ntm.addressing`); by default reads use
    the memory before this step's writes, as in Collier & Beel (2018), and
    `read_after_write=True` reads the memory after them. The cell's
    output is the controller output concatenated with the new read vectors;
    put a `Dense` layer after the RNN to map it to the task's outputs.

    Controller outputs and head parameters are clipped to `[-clip_value,
    clip_value]` so that no activation saturates to an infinite value.

    Memory initialisation (`memory_init`): `"constant"` (every cell 1e-6; the
    default, which Collier & Beel, "Implementing Neural Turing Machines" 2018,
    found to converge about twice as fast as the alternatives), `"learned"`
    (a trainable matrix through tanh), or `"random"` (a fixed random matrix
    drawn once, through tanh). Initial read vectors and weightings are learned.

    The state is a flat list of 2-D tensors (Keras RNN requirement):
    `[h_1, c_1, ..., h_L, c_L, memory, reads, weights]` for an LSTM controller
    (no `h, c` for a feed-forward one); use `unpack_state` to read it.

    Args:
        controller_units: int. Units of each controller layer.
        memory_size: int. N, the number of memory rows.
        memory_width: int. M, the width of each memory row.
        num_read_heads: int. R.
        num_write_heads: int. W.
        shift_range: int. S; shifts -S..+S are allowed.
        controller: `"lstm"` or `"feedforward"`.
        controller_layers: int. Number of stacked controller layers.
        memory_init: `"constant"`, `"learned"` or `"random"`.
        clip_value: float. Bound on controller outputs and head parameters.
        min_sharpening: float >= 1. The smallest sharpening exponent gamma
            (the paper's is 1: gamma = 1 + softplus). Above 1, every step's
            sharpening removes what the shift and the interpolation gate leak
            into other rows, so a weighting stays focused for any number of
            steps; at 1 a head can learn to leak a little per step, which is
            harmless on the training lengths and blurs it far beyond them.
        min_write_sharpening: float >= 1. A higher floor for the write heads
            only (the floor of a write head is the larger of the two): the
            write head is the one that blurs first beyond the training
            lengths, while a read head may need a soft weighting early on.
        read_after_write: bool. The order of a step's heads. False (the
            default): every head is addressed on M_{t-1} and reads M_{t-1}, then
            the writes give M_t. True: the write heads are addressed on M_{t-1}
            and write first, then the read heads are addressed on M_t and read
            it, so what is written at step t can be read at step t. The paper
            does not say which; its Figure 2 addresses both on M_{t-1}.

    Example:
    ```python
    import keras
    from keras_l11.ntm import NTMCell

    cell = NTMCell(controller_units=100, memory_size=128, memory_width=20)
    inputs = keras.Input((None, 9))
    features = keras.layers.RNN(cell, return_sequences=True)(inputs)
    outputs = keras.layers.Dense(8, activation="sigmoid")(features)
    model = keras.Model(inputs, outputs)
    ```
    """

    def __init__(
        self,
        controller_units=100,
        memory_size=128,
        memory_width=20,
        num_read_heads=1,
        num_write_heads=1,
        shift_range=1,
        controller="lstm",
        controller_layers=1,
        memory_init="constant",
        clip_value=20.0,
        min_sharpening=1.0,
        min_write_sharpening=1.0,
        read_after_write=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("min_sharpening", min_sharpening), ("min_write_sharpening", min_write_sharpening)):
            if not value >= 1.0:
                raise ValueError(f"{name} must be >= 1 (gamma >= 1 in the paper), got {value!r}")
        if controller not in CONTROLLERS:
            raise ValueError(f"controller must be one of {CONTROLLERS}, got {controller!r}")
        if memory_init not in MEMORY_INITS:
            raise ValueError(f"memory_init must be one of {MEMORY_INITS}, got {memory_init!r}")
        for name, value in (
            ("controller_units", controller_units),
            ("memory_size", memory_size),
            ("memory_width", memory_width),
            ("num_read_heads", num_read_heads),
            ("num_write_heads", num_write_heads),
            ("controller_layers", controller_layers),
        ):
            if int(value) < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if shift_range < 0 or 2 * shift_range + 1 > memory_size:
            raise ValueError(f"shift_range must be in [0, (memory_size - 1) / 2], got {shift_range}")

        self.controller_units = int(controller_units)
        self.memory_size = int(memory_size)
        self.memory_width = int(memory_width)
        self.num_read_heads = int(num_read_heads)
        self.num_write_heads = int(num_write_heads)
        self.shift_range = int(shift_range)
        self.controller = controller
        self.controller_layers = int(controller_layers)
        self.memory_init = memory_init
        self.clip_value = float(clip_value)
        self.min_sharpening = float(min_sharpening)
        self.min_write_sharpening = float(min_write_sharpening)
        self.read_after_write = bool(read_after_write)
        write_floor = max(self.min_sharpening, self.min_write_sharpening)
        # [1, heads, 1]: each head's gamma floor, read heads first (as the weights are ordered).
        self._gamma_floors = np.array(
            [self.min_sharpening] * self.num_read_heads + [write_floor] * self.num_write_heads, np.float32
        ).reshape(1, -1, 1)

        # === Layers ===
        if controller == "lstm":
            self.controller_cells = [
                keras.layers.LSTMCell(self.controller_units, dtype=self.dtype_policy, name=f"controller_{i}")
                for i in range(self.controller_layers)
            ]
        else:
            self.controller_cells = [
                keras.layers.Dense(
                    self.controller_units, activation="tanh", dtype=self.dtype_policy, name=f"controller_{i}"
                )
                for i in range(self.controller_layers)
            ]
        self.head_projection = keras.layers.Dense(
            self._num_head_parameters(), dtype=self.dtype_policy, name="head_parameters"
        )

    # --- sizes -------------------------------------------------------------
    @property
    def num_heads(self):
        return self.num_read_heads + self.num_write_heads

    def _per_head(self):
        return self.memory_width + 3 + (2 * self.shift_range + 1)

    def _num_head_parameters(self):
        return self.num_heads * self._per_head() + 2 * self.memory_width * self.num_write_heads

    @property
    def state_size(self):
        controller = [self.controller_units] * (2 * self.controller_layers if self.controller == "lstm" else 0)
        return controller + [
            self.memory_size * self.memory_width,
            self.num_read_heads * self.memory_width,
            self.num_heads * self.memory_size,
        ]

    @property
    def output_size(self):
        return self.controller_units + self.num_read_heads * self.memory_width

    # --- variables ---------------------------------------------------------
    def build(self, input_shape):
        width = input_shape[-1] + self.num_read_heads * self.memory_width
        for cell in self.controller_cells:
            cell.build((None, width))
            width = self.controller_units
        self.head_projection.build((None, self.controller_units))
        shape = (self.memory_size, self.memory_width)
        if self.memory_init == "constant":
            self.initial_memory = self.add_weight(
                shape=shape, initializer=keras.initializers.Constant(1e-6), trainable=False, name="initial_memory"
            )
        else:
            self.initial_memory = self.add_weight(
                shape=shape,
                initializer=keras.initializers.RandomNormal(stddev=0.5),
                trainable=self.memory_init == "learned",
                name="initial_memory",
            )
        self.initial_reads = self.add_weight(
            shape=(self.num_read_heads * self.memory_width,),
            initializer=keras.initializers.RandomNormal(stddev=0.5),
            name="initial_reads",
        )
        self.initial_weight_logits = self.add_weight(
            shape=(self.num_heads, self.memory_size),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
            name="initial_weight_logits",
        )
        super().build(input_shape)

    def get_initial_state(self, batch_size=None):
        def tile(vector):
            vector = ops.cast(ops.reshape(vector, (1, -1)), self.compute_dtype)
            return ops.tile(vector, (batch_size, 1))

        memory = self.initial_memory if self.memory_init == "constant" else ops.tanh(self.initial_memory)
        controller = [
            ops.zeros((batch_size, self.controller_units), dtype=self.compute_dtype)
            for _ in range(2 * self.controller_layers if self.controller == "lstm" else 0)
        ]
        return controller + [
            tile(memory),
            tile(ops.tanh(self.initial_reads)),
            tile(ops.softmax(self.initial_weight_logits, axis=-1)),
        ]

    def unpack_state(self, states):
        """Splits the flat state into a dict of named, shaped tensors."""
        n_ctrl = len(states) - 3
        memory, reads, weights = states[n_ctrl:]
        weights = ops.reshape(weights, (-1, self.num_heads, self.memory_size))
        return {
            "controller": list(states[:n_ctrl]),
            "memory": ops.reshape(memory, (-1, self.memory_size, self.memory_width)),
            "reads": ops.reshape(reads, (-1, self.num_read_heads, self.memory_width)),
            "read_weights": weights[:, : self.num_read_heads],
            "write_weights": weights[:, self.num_read_heads :],
        }

    # --- one time step -----------------------------------------------------
    def _run_controller(self, inputs, controller_states):
        new_states = []
        x = inputs
        for i, cell in enumerate(self.controller_cells):
            if self.controller == "lstm":
                x, (h, c) = cell(x, controller_states[2 * i : 2 * i + 2])
                new_states += [h, c]
            else:
                x = cell(x)
        return ops.clip(x, -self.clip_value, self.clip_value), new_states

    def _head_parameters(self, controller_output):
        m, s = self.memory_width, 2 * self.shift_range + 1
        params = ops.clip(self.head_projection(controller_output), -self.clip_value, self.clip_value)
        split = self.num_heads * self._per_head()
        heads = ops.reshape(params[:, :split], (-1, self.num_heads, self._per_head()))
        erase_add = ops.reshape(params[:, split:], (-1, self.num_write_heads, 2 * m))
        return {
            "keys": ops.tanh(heads[..., :m]),
            "strengths": ops.softplus(heads[..., m : m + 1]),
            "gates": ops.sigmoid(heads[..., m + 1 : m + 2]),
            "shifts": ops.softmax(heads[..., m + 2 : m + 2 + s], axis=-1),
            "gammas": self._gamma_floors + ops.softplus(heads[..., m + 2 + s :]),
            "erase": ops.sigmoid(erase_add[..., :m]),
            "add": ops.tanh(erase_add[..., m:]),
        }

    @staticmethod
    def _address(memory, previous_weights, p, heads=None):
        """The weightings on `memory` of the heads `heads` (a slice; read heads
        first), or of every head (no slicing, the default order's one call a step)."""
        names = ("keys", "strengths", "gates", "shifts", "gammas")
        head = {k: p[k] if heads is None else p[k][:, heads] for k in names}
        return ntm_addressing.address(memory, previous_weights, **head)

    def call(self, inputs, states, training=None):
        state = self.unpack_state(states)
        previous_reads = ops.reshape(state["reads"], (-1, self.num_read_heads * self.memory_width))
        controller_output, controller_states = self._run_controller(
            ops.concatenate([inputs, previous_reads], axis=-1), state["controller"]
        )
        p = self._head_parameters(controller_output)
        if self.read_after_write:
            write_weights = self._address(state["memory"], state["write_weights"], p, slice(self.num_read_heads, None))
            memory = ntm_addressing.write(state["memory"], write_weights, p["erase"], p["add"])
            read_weights = self._address(memory, state["read_weights"], p, slice(0, self.num_read_heads))
            reads = ntm_addressing.read(memory, read_weights)
            weights = ops.concatenate([read_weights, write_weights], axis=1)
        else:
            previous_weights = ops.concatenate([state["read_weights"], state["write_weights"]], axis=1)
            weights = self._address(state["memory"], previous_weights, p)
            reads = ntm_addressing.read(state["memory"], weights[:, : self.num_read_heads])
            memory = ntm_addressing.write(state["memory"], weights[:, self.num_read_heads :], p["erase"], p["add"])

        reads = ops.reshape(reads, (-1, self.num_read_heads * self.memory_width))
        output = ops.concatenate([controller_output, reads], axis=-1)
        new_states = controller_states + [
            ops.reshape(memory, (-1, self.memory_size * self.memory_width)),
            reads,
            ops.reshape(weights, (-1, self.num_heads * self.memory_size)),
        ]
        return output, new_states

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "controller_units": self.controller_units,
                "memory_size": self.memory_size,
                "memory_width": self.memory_width,
                "num_read_heads": self.num_read_heads,
                "num_write_heads": self.num_write_heads,
                "shift_range": self.shift_range,
                "controller": self.controller,
                "controller_layers": self.controller_layers,
                "memory_init": self.memory_init,
                "clip_value": self.clip_value,
                "min_sharpening": self.min_sharpening,
                "min_write_sharpening": self.min_write_sharpening,
                "read_after_write": self.read_after_write,
            }
        )
        return config
