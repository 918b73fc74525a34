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
    min_sharpening: float = 1.0
    min_write_sharpening: float = 1.0
    read_after_write: bool = False


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
        curriculum_steps: 0 (the paper: every batch from the whole size range),
            or the steps over which a curriculum grows the sizes' upper end
            from the smallest to the task's (`SequenceTask.train_dataset`).
    """

    ntm: NTMModelConfig = NTMModelConfig()
    lstm: LSTMBaselineConfig = LSTMBaselineConfig()
    task_size: str = "paper"
    eval_batches: int = 4
    curriculum_steps: int = 0


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
    # The paper: Graves' (2013) centred RMSProp with momentum 0.9; this column is the copy task's row of
    # Table 2, and `--config paper` takes the row of PAPER_ROWS for the job's --task and --model (batch and
    # steps are ours: the paper gives neither).
    "paper": NTMExperiment(
        batch_size=32,
        steps=100_000,
        steps_per_epoch=500,
        learning_rate=1e-4,
        optimizer="rmsprop_centered",
        eval_batches=16,
    ),
}


@dataclasses.dataclass(frozen=True)
class PaperRow:
    """One row of the paper's Tables 1-3: a model's settings on one task.

    Attributes:
        table: where the row is ("Table 2, copy").
        learning_rate: the row's learning rate.
        parameters: the row's "#Parameters" (the paper's count, for comparison).
        heads: read heads, and as many write heads (NTM).
        units: controller units per layer (NTM) or LSTM units per layer.
        layers: controller layers (NTM) or LSTM layers.
    """

    table: str
    learning_rate: float
    parameters: int
    heads: int = 1
    units: int = 100
    layers: int = 1


# Graves, Wayne & Danihelka (2014), Tables 1-3; every memory is 128 x 20.
PAPER_ROWS = {
    ("ntm_feedforward", "copy"): PaperRow("Table 1, copy", 1e-4, 17_162),
    ("ntm_feedforward", "repeat_copy"): PaperRow("Table 1, repeat copy", 1e-4, 16_712),
    ("ntm_feedforward", "associative_recall"): PaperRow("Table 1, associative", 1e-4, 146_845, heads=4, units=256),
    ("ntm_feedforward", "priority_sort"): PaperRow("Table 1, priority sort", 3e-5, 508_305, heads=8, units=512),
    ("ntm", "copy"): PaperRow("Table 2, copy", 1e-4, 67_561),
    ("ntm", "repeat_copy"): PaperRow("Table 2, repeat copy", 1e-4, 66_111),
    ("ntm", "associative_recall"): PaperRow("Table 2, associative", 1e-4, 70_330),
    ("ntm", "priority_sort"): PaperRow("Table 2, priority sort", 3e-5, 269_038, heads=5, units=100, layers=2),
    ("lstm", "copy"): PaperRow("Table 3, copy", 3e-5, 1_352_969, units=256, layers=3),
    ("lstm", "repeat_copy"): PaperRow("Table 3, repeat copy", 3e-5, 5_312_007, units=512, layers=3),
    ("lstm", "associative_recall"): PaperRow("Table 3, associative", 1e-4, 1_344_518, units=256, layers=3),
    ("lstm", "priority_sort"): PaperRow("Table 3, priority sort", 3e-5, 384_424, units=128, layers=3),
}


def paper_experiment(config, model, task):
    """`config` with the paper's row for `model` on `task`: learning rate, heads and
    controller (NTM) or layers and units (LSTM)."""
    row = PAPER_ROWS[(model, task)]
    if model == "lstm":
        return dataclasses.replace(
            config,
            learning_rate=row.learning_rate,
            lstm=dataclasses.replace(config.lstm, units=row.units, num_layers=row.layers),
        )
    ntm = dataclasses.replace(
        config.ntm,
        controller="feedforward" if model == "ntm_feedforward" else "lstm",
        controller_units=row.units,
        controller_layers=row.layers,
        num_read_heads=row.heads,
        num_write_heads=row.heads,
        memory_size=128,
        memory_width=20,
    )
    return dataclasses.replace(config, learning_rate=row.learning_rate, ntm=ntm)


def specialize(flags, config):
    """The job's config for its `--task` and `--model`: the paper's row under
    `--config paper`, and a feed-forward controller for `--model ntm_feedforward`."""
    if flags.config == "paper":
        return paper_experiment(config, flags.model, flags.task)
    if flags.model == "ntm_feedforward":
        return dataclasses.replace(config, ntm=dataclasses.replace(config.ntm, controller="feedforward"))
    return config


SHORT_TASKS = {
    "copy": {"max_length": 5},
    "repeat_copy": {"max_length": 3, "max_repeats": 3},
    "associative_recall": {"max_items": 3},
    "priority_sort": {"num_inputs": 5, "num_outputs": 4},
}

# Longer-than-trained sets (the paper's generalisation experiments), the curves of
# `benchmarks/ntm.py`: copy up to length 120 (trained on 1-20); repeat copy up to twice
# the training length and twice the repeats (trained on 1-10 of each); associative
# recall up to 12 items (trained on 2-6). Priority sort is compared with the LSTM
# baseline at its training size.
GENERALISATION = {
    "copy": [{"length": n} for n in (10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120)],
    "repeat_copy": [{"length": 10, "repeats": r} for r in (10, 12, 14, 16, 18, 20)]
    + [{"length": n, "repeats": 10} for n in (12, 14, 16, 18, 20)]
    + [{"length": 20, "repeats": 20}],
    "associative_recall": [{"items": n} for n in (6, 8, 10, 12)],
    "priority_sort": [],
}


def make_task(name, config):
    """The task `name` at the config's sizes."""
    from keras_l11.ntm.tasks import TASKS

    kwargs = SHORT_TASKS[name] if config.task_size == "short" else {}
    return TASKS[name](**kwargs)


def build_model(model, task, config):
    """The NTM (`model="ntm"` or `"ntm_feedforward"`, whose controller `config.ntm`
    names) or the LSTM baseline (`"lstm"`) for `task`."""
    from keras_l11.ntm.models import NeuralTuringMachine, SequenceLSTM

    if model == "lstm":
        return SequenceLSTM(task.input_width, task.output_width, **dataclasses.asdict(config.lstm))
    return NeuralTuringMachine(task.input_width, task.output_width, **dataclasses.asdict(config.ntm))
