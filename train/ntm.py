"""Neural Turing Machine (and its LSTM baseline) on the paper's four tasks.

Graves, Wayne & Danihelka (2014) train an NTM to copy, repeat-copy, recall
by association and sort by priority, then show that, unlike an LSTM, it
keeps working on sequences longer than any it was trained on. This job
trains either model on one task, reports the paper's units (cost in bits per
sequence, bit errors per sequence) on a fixed evaluation set and on longer
sequences, draws the heads' weightings, and exports a SavedModel.

    python -m train.ntm --task copy --model ntm --config small
"""

import dataclasses
import os

import tensorflow as tf

from keras_l11.ntm.metrics import BitErrorsPerSequence, BitsPerSequence, SequenceBinaryCrossentropy
from keras_l11.ntm.models import NeuralTuringMachine, SequenceLSTM
from keras_l11.ntm.tasks import TASKS
from keras_l11.training import harness
from keras_l11.training.config import TrainConfig
from keras_l11.training.export import Signature


@dataclasses.dataclass(frozen=True)
class NTMConfig(TrainConfig):
    # NTM (the paper's Table 2 for the LSTM controller: 100 units, 1 head each, 128 x 20).
    controller_units: int = 100
    controller: str = "lstm"
    controller_layers: int = 1
    memory_size: int = 128
    memory_width: int = 20
    num_read_heads: int = 1
    num_write_heads: int = 1
    shift_range: int = 1
    memory_init: str = "constant"
    # LSTM baseline (the paper's: 3 layers of 256).
    lstm_units: int = 256
    lstm_layers: int = 3
    # Data: "paper" sizes, or "short" sequences for smoke tests.
    task_size: str = "paper"
    eval_batches: int = 4


CONFIGS = {
    # Seconds: short sequences, a small memory.
    "smoke": NTMConfig(
        batch_size=16,
        steps=600,
        steps_per_epoch=50,
        learning_rate=1e-2,
        controller_units=32,
        memory_size=16,
        memory_width=8,
        lstm_units=32,
        lstm_layers=1,
        task_size="short",
        eval_batches=1,
    ),
    # Minutes on a CPU: Collier & Beel's (2018) settings, Adam 1e-3, global norm clipped at 10.
    "small": NTMConfig(batch_size=32, steps=6000, steps_per_epoch=200, learning_rate=1e-3),
    # The paper: RMSProp with momentum 0.9, learning rate 1e-4 (batch and steps are ours).
    "paper": NTMConfig(
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


def add_job_flags(parser):
    g = parser.add_argument_group("ntm")
    g.add_argument("--task", choices=sorted(TASKS), default="copy")
    g.add_argument("--model", choices=("ntm", "lstm"), default="ntm")
    # One small recurrent step is latency-bound: 1 intra-op / 2 inter-op threads
    # ran 33 ms per step here against 47 ms with TensorFlow's defaults.
    parser.set_defaults(intra_op_threads=1, inter_op_threads=2)


def make_task(name, config):
    kwargs = SHORT_TASKS[name] if config.task_size == "short" else {}
    return TASKS[name](**kwargs)


def build_model(model, task, config):
    if model == "lstm":
        return SequenceLSTM(task.input_width, task.output_width, units=config.lstm_units, num_layers=config.lstm_layers)
    return NeuralTuringMachine(
        task.input_width,
        task.output_width,
        controller_units=config.controller_units,
        controller=config.controller,
        controller_layers=config.controller_layers,
        memory_size=config.memory_size,
        memory_width=config.memory_width,
        num_read_heads=config.num_read_heads,
        num_write_heads=config.num_write_heads,
        shift_range=config.shift_range,
        memory_init=config.memory_init,
    )


def main(argv=None):
    flags = harness.parse_flags(__doc__.split("\n\n")[0], CONFIGS, add_job_flags, argv)
    name = f"{flags.model}_{flags.task}"
    run = harness.start(flags, "ntm", variant=name)
    config, task = run.config, make_task(flags.task, run.config)

    def eval_set(**sizes):
        return lambda batch: task.eval_dataset(batch, config.eval_batches, **sizes)

    result = run.fit(
        build_model=lambda: build_model(flags.model, task, config),
        loss=SequenceBinaryCrossentropy(),
        metrics=lambda: [BitsPerSequence(), BitErrorsPerSequence()],
        train_data=task.train_dataset,
        eval_data=eval_set(),
    )

    sets = {"train range": eval_set()}
    sets.update({", ".join(f"{k} {v}" for k, v in s.items()): eval_set(**s) for s in GENERALISATION[flags.task]})
    run.evaluate(result.model, sets)

    width = task.input_width
    run.export(
        result.model,
        name,
        lambda model: {
            "serving_default": Signature(
                fn=lambda sequence: {"probabilities": model(sequence)},
                inputs={"sequence": tf.TensorSpec([None, None, width], tf.float32)},
            )
        },
    )
    if run.is_chief and flags.model == "ntm":
        from keras_l11.ntm.figures import plot_ntm_addressing

        inputs, targets = task.example(seed=flags.seed)
        trace = run.local_copy(result.model).addressing_trace(inputs)
        path = plot_ntm_addressing(
            inputs, targets, trace, os.path.join(run.model_dir, "addressing.png"), title=f"NTM, {flags.task}"
        )
        run.summary["figure"] = path
        print(f"Wrote {path}")
    run.write_summary()
    return run.summary


if __name__ == "__main__":
    harness.run_main(main)
