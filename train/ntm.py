"""Neural Turing Machine (and its LSTM baseline) on the paper's four tasks.

Graves, Wayne & Danihelka (2014) train an NTM to copy, repeat-copy, recall
by association and sort by priority, then show that, unlike an LSTM, it
keeps working on sequences longer than any it was trained on. This job
trains one model on one task, reports the paper's units (cost in bits per
sequence, bit errors per sequence) on a fixed evaluation set and on longer
sequences, draws the heads' weightings, and exports a SavedModel.

`--config paper` is the paper's experiment for the `--task` and `--model`: the row
of its Table 1 (feed-forward controller), 2 (LSTM controller) or 3 (LSTM
baseline) for heads, controller or LSTM size and learning rate, a 128 x 20
memory, and Graves' (2013) centred RMSProp with momentum 0.9.

    python -m train.ntm --task copy --model ntm --config small
    python -m train.ntm --task priority_sort --model lstm --config paper
"""

import dataclasses
import functools
import os

from keras_l11.ntm.configs import CONFIGS, GENERALISATION, build_model, make_task, specialize
from keras_l11.ntm.specs import MODEL_NAMES, TASK_NAMES
from keras_l11.training import cli

MODEL_LABELS = {"ntm": "NTM (LSTM controller)", "ntm_feedforward": "NTM (feed-forward controller)", "lstm": "LSTM"}


def add_job_flags(parser):
    g = parser.add_argument_group("ntm")
    g.add_argument("--task", choices=TASK_NAMES, default="copy")
    g.add_argument(
        "--model",
        choices=MODEL_NAMES,
        default="ntm",
        help="the NTM with an LSTM controller (the paper's Table 2), with a feed-forward controller (Table 1), "
        "or the LSTM baseline (Table 3); with --config paper, that table's row for --task",
    )
    # One small recurrent step is latency-bound: 1 intra-op / 2 inter-op threads
    # ran 33 ms per step here against 47 ms with TensorFlow's defaults.
    parser.set_defaults(intra_op_threads=1, inter_op_threads=2)


def main(argv=None):
    flags = cli.parse_flags(__spec__.name, __doc__, CONFIGS, add_job_flags, argv, specialize=specialize)
    from keras_l11.ntm.export import ntm_signatures
    from keras_l11.ntm.metrics import BitErrorsPerSequence, BitsPerSequence, SequenceBinaryCrossentropy
    from keras_l11.training import harness

    name = f"{flags.model}_{flags.task}"
    run = harness.start(flags, "ntm", variant=name)
    config, task = run.config, make_task(flags.task, run.config)

    def eval_set(**sizes):
        return lambda batch: task.eval_dataset(batch, config.eval_batches, **sizes)

    result = run.fit(
        build_model=lambda: build_model(flags.model, task, config),
        loss=SequenceBinaryCrossentropy(),
        metrics=lambda: [BitsPerSequence(), BitErrorsPerSequence()],
        train_data=functools.partial(task.train_dataset, curriculum_steps=config.curriculum_steps),
        eval_data=eval_set(),
    )

    ranges = [
        f"{f.name[4:]} {getattr(task, f.name)}-{getattr(task, 'max_' + f.name[4:])}"
        for f in dataclasses.fields(task)
        if f.name.startswith("min_")
    ]
    sets = {"as trained": eval_set()}
    sets.update({", ".join(f"{k} {v}" for k, v in s.items()): eval_set(**s) for s in GENERALISATION[flags.task]})
    steps = run.summary["final_step"]
    run.evaluate(
        result.model,
        sets,
        caption=f"{MODEL_LABELS[flags.model]}, {flags.task} task, after {steps} training steps: "
        f"{config.eval_batches * run.global_batch_size} fixed random sequences per row, 'as trained' "
        f"{'meaning ' + ', '.join(ranges) if ranges else 'the training sizes'}; cost and bit errors are per "
        "sequence, over its target bits (the paper's units; lower is better, 0 is perfect)",
        columns={"bits_per_sequence": "cost (bits/sequence)", "bit_errors_per_sequence": "bit errors/sequence"},
        first_column="sequences",
    )

    run.export(result.model, name, ntm_signatures)
    if run.is_chief and flags.model != "lstm":
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
    cli.run_main(main)
