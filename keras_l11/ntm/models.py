"""Neural Turing Machine and the LSTM baseline it is compared to."""

import keras
import numpy as np
from keras import ops

from keras_l11.ntm.cell import NTMCell


@keras.saving.register_keras_serializable(package="keras_l11")
class NeuralTuringMachine(keras.Model):
    """A sequence-to-sequence Neural Turing Machine for binary targets.

    Paper: [Neural Turing Machines](https://arxiv.org/abs/1410.5401)
    (Graves, Wayne & Danihelka, 2014).

    An `NTMCell` runs over the input sequence; a dense layer maps each step's
    controller output and read vectors to one logit per output bit. The model
    outputs these logits (train with `from_logits=True` losses, such as
    `SequenceBinaryCrossentropy`, whose cost of a confidently wrong bit is exact);
    `keras.ops.sigmoid` of them gives per-bit probabilities, which is what the
    export serves. Inputs are `[batch, time, input_width]` with any `time`.

    Args:
        input_width: int. Features per input step.
        output_width: int. Bits per output step.
        **cell_kwargs: the memory and controller (`controller_units`,
            `memory_size`, `memory_width`, `num_read_heads`, `num_write_heads`,
            `shift_range`, `controller`, `controller_layers`, `memory_init`,
            `clip_value`, `min_sharpening`, `min_write_sharpening`, `read_after_write`), as documented
            in `keras_l11.ntm.NTMCell`.

    Example:
    ```python
    import keras
    import numpy as np
    from keras_l11.ntm import NeuralTuringMachine

    model = NeuralTuringMachine(input_width=9, output_width=8)
    logits = model(np.zeros((2, 41, 9), "float32"))  # (2, 41, 8)
    probabilities = keras.ops.sigmoid(logits)
    ```
    """

    def __init__(
        self,
        input_width,
        output_width,
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
        # === Layers ===
        cell = NTMCell(
            controller_units=controller_units,
            memory_size=memory_size,
            memory_width=memory_width,
            num_read_heads=num_read_heads,
            num_write_heads=num_write_heads,
            shift_range=shift_range,
            controller=controller,
            controller_layers=controller_layers,
            memory_init=memory_init,
            clip_value=clip_value,
            min_sharpening=min_sharpening,
            min_write_sharpening=min_write_sharpening,
            read_after_write=read_after_write,
            dtype="float32",  # addressing stays in float32 under mixed precision
            name="ntm_cell",
        )
        rnn = keras.layers.RNN(cell, return_sequences=True, dtype="float32", name="ntm")
        readout = keras.layers.Dense(output_width, name="readout")

        # === Functional model ===
        sequence = keras.Input(shape=(None, input_width), name="sequence")
        logits = keras.layers.Activation("linear", dtype="float32", name="logits")(readout(rnn(sequence)))
        super().__init__(inputs=sequence, outputs=logits, **kwargs)

        # === Config ===
        self.cell = cell
        self.input_width = input_width
        self.output_width = output_width
        self.controller_units = controller_units
        self.memory_size = memory_size
        self.memory_width = memory_width
        self.num_read_heads = num_read_heads
        self.num_write_heads = num_write_heads
        self.shift_range = shift_range
        self.controller = controller
        self.controller_layers = controller_layers
        self.memory_init = memory_init
        self.clip_value = clip_value
        self.min_sharpening = min_sharpening
        self.min_write_sharpening = min_write_sharpening
        self.read_after_write = read_after_write

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_width": self.input_width,
            "output_width": self.output_width,
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

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def addressing_trace(self, sequence):
        """Runs one sequence step by step and returns its head weightings.

        Args:
            sequence: `[time, input_width]` array.

        Returns:
            dict of NumPy arrays: `read_weights` and `write_weights`, each
            `[time, heads, N]`, and `probabilities` `[time, output_width]`.
        """
        cell = self.cell
        x = ops.convert_to_tensor(np.asarray(sequence, "float32")[None])
        states = cell.get_initial_state(batch_size=1)
        reads, writes = [], []
        for t in range(x.shape[1]):
            _, states = cell(x[:, t], states)
            unpacked = cell.unpack_state(states)
            reads.append(ops.convert_to_numpy(unpacked["read_weights"][0]))
            writes.append(ops.convert_to_numpy(unpacked["write_weights"][0]))
        return {
            "read_weights": np.stack(reads),
            "write_weights": np.stack(writes),
            "probabilities": ops.convert_to_numpy(ops.sigmoid(self(x)))[0],
        }


@keras.saving.register_keras_serializable(package="keras_l11")
class SequenceLSTM(keras.Model):
    """Stacked LSTM baseline for the NTM tasks (the paper's comparison).

    The NTM paper's baseline is a stack of 3 LSTM layers (Table 3: 256 units for
    copy and associative recall, 512 for repeat copy, 128 for priority sort). Each
    step's top-layer output goes through a dense layer to one logit per output bit
    (the model's output; `keras.ops.sigmoid` gives probabilities).

    Args:
        input_width: int. Features per input step.
        output_width: int. Bits per output step.
        units: int. Units per LSTM layer.
        num_layers: int. Number of stacked LSTM layers.

    Example:
    ```python
    import numpy as np
    from keras_l11.ntm import SequenceLSTM

    model = SequenceLSTM(input_width=9, output_width=8, units=256, num_layers=3)
    logits = model(np.zeros((2, 41, 9), "float32"))
    ```
    """

    def __init__(self, input_width, output_width, units=256, num_layers=3, **kwargs):
        # === Layers ===
        lstms = [keras.layers.LSTM(units, return_sequences=True, name=f"lstm_{i}") for i in range(num_layers)]
        readout = keras.layers.Dense(output_width, name="readout")

        # === Functional model ===
        sequence = keras.Input(shape=(None, input_width), name="sequence")
        x = sequence
        for lstm in lstms:
            x = lstm(x)
        logits = keras.layers.Activation("linear", dtype="float32", name="logits")(readout(x))
        super().__init__(inputs=sequence, outputs=logits, **kwargs)

        # === Config ===
        self.input_width = input_width
        self.output_width = output_width
        self.units = units
        self.num_layers = num_layers

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_width": self.input_width,
            "output_width": self.output_width,
            "units": self.units,
            "num_layers": self.num_layers,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
