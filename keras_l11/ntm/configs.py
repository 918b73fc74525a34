"""The NTM experiments as data: one type, `NTMExperiment`, whose `smoke`, `small`
and `paper` values are in `CONFIGS`.

The model's own arguments are nested (`ntm`, `lstm`) rather than copied field by
field, so a model argument is changed with `--override ntm.memory_size=64`.

Models are imported inside the builders, so that reading a config (a job's
`--help`) does not load TensorFlow.
"""

import dataclasses

from keras_l11.training.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class NTMModelConfig:
    """`NeuralTuringMachine`'s arguments beyond the task's widths (the paper's
    Table 2 for the LSTM controller: 100 units, 1 head each, memory 128 x 20)."""

    controller_units: int = 100
    controller: str = "lstm"
    controller_layers: int = 1
    memory_size: int = 128
    memory_width: int = 20
    num_read_heads: int = 1
    num_write_heads: int = 1
    shift_range: int = 1
    memory_init: str = "constant"


@dataclasses.dataclass(frozen=True)
class LSTMBaselineConfig:
    """`SequenceLSTM`'s arguments (the paper's baseline: 3 layers of 256)."""

    units: int = 256
    num_layers: int = 3


@dataclasses.dataclass(frozen=True)
class NTMExperiment(TrainConfig):
    """An NTM (or LSTM baseline) experiment on one of the paper's tasks.

    Attributes:
        ntm: the NTM's own arguments.
        lstm: the LSTM baseline's own arguments.
        task_size: "paper" (the paper's sequence lengths) or "short" (smoke tests).
        eval_batches: batches in each evaluation set.
    """

    ntm: NTMModelConfig = NTMModelConfig()
    lstm: LSTMBaselineConfig = LSTMBaselineConfig()
    task_size: str = "paper"
    eval_batches: int = 4


CONFIGS = {
    # Seconds: short sequences, a small memory.
    "smoke": NTMExperiment(
        batch_size=16,
        steps=600,
        steps_per_epoch=50,
        learning_rate=1e-2,
        ntm=NTMModelConfig(controller_units=32, memory_size=16, memory_width=8),
        lstm=LSTMBaselineConfig(units=32, num_layers=1),
        task_size="short",
        eval_batches=1,
    ),
    # Minutes on a CPU: Collier & Beel's (2018) settings, Adam 1e-3, global norm clipped at 10.
    "small": NTMExperiment(batch_size=32, steps=6000, steps_per_epoch=200, learning_rate=1e-3),
    # The paper: RMSProp with momentum 0.9, learning rate 1e-4 (batch and steps are ours).
    "paper": NTMExperiment(
        batch_size=32, steps=100_000, steps_per_epoch=500, learning_rate=1e-4, optimizer="rmsprop", eval_batches=16
    ),
}

SHORT_TASKS = {
    "copy": {"max_length": 5},
    "repeat_copy": {"max_length": 3, "max_repeats": 3},
    "associative_recall": {"max_items": 3},
    "priority_sort": {"num_inputs": 5, "num_outputs": 4},
}

# Longer-than-trained sets (the paper's generalisation experiments).
GENERALISATION = {
    "copy": [{"length": 20}, {"length": 30}, {"length": 40}, {"length": 50}, {"length": 120}],
    "repeat_copy": [{"length": 10, "repeats": 20}, {"length": 20, "repeats": 10}],
    "associative_recall": [{"items": 12}],
    "priority_sort": [],
}


def make_task(name, config):
    """The task `name` at the config's sizes."""
    from keras_l11.ntm.tasks import TASKS

    kwargs = SHORT_TASKS[name] if config.task_size == "short" else {}
    return TASKS[name](**kwargs)


def build_model(model, task, config):
    """The NTM (`model="ntm"`) or the LSTM baseline (`"lstm"`) for `task`."""
    from keras_l11.ntm.models import NeuralTuringMachine, SequenceLSTM

    if model == "lstm":
        return SequenceLSTM(task.input_width, task.output_width, **dataclasses.asdict(config.lstm))
    return NeuralTuringMachine(task.input_width, task.output_width, **dataclasses.asdict(config.ntm))
