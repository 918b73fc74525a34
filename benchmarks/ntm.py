"""NTM benchmark: the paper's four tasks, several seeds per setting, with
convergence and generalisation in the paper's units (bit errors per sequence).

Each run is one `python -m train.ntm` job with a wall-clock budget; its run
folder (`--runs_dir/<task>-<variant>-s<seed>`) is kept, so a later part reuses
finished runs and the report merges every part written to `--results`:

    python -m benchmarks.ntm --tasks copy --variants feedforward --seeds 0,1,2 --minutes 60
    python -m benchmarks.ntm --tasks associative_recall --variants collier,lstm --seeds 0 --minutes 30
    python -m benchmarks.ntm --tasks copy --variants feedforward --seeds 3,4,5,6,7,8,9 --minutes 15 --stop_at_target
    python -m benchmarks.ntm --tasks copy --variants feedforward_paper --seeds 1,2 --minutes 60 --extend
    python -m benchmarks.ntm --tasks copy --variants memory_learned_paper --seeds 0,1,2 --minutes 40
    python -m benchmarks.ntm --report                # the tables and curves of what is there
    python -m benchmarks.ntm --steptime              # ms per training step, NTM against LSTMs
    python -m benchmarks.ntm --repeat_errors         # repeat copy's errors per copy and end marker

Variants (the model and the optimiser; memory 128 x 20, one read and one write head):

    collier            LSTM controller (100), Collier & Beel's (2018) Adam 1e-3, clipped at 10 (`small`)
    paper              LSTM controller, the paper's row of Table 2: centred RMSProp (`paper`)
    feedforward        feed-forward controller (the paper's Table 1), Adam 1e-3 (`small`)
    feedforward_paper  feed-forward controller, the paper's row of Table 1 (`paper`)
    sharpened          feedforward with sharpening gamma >= 2 (`ntm.min_sharpening=2`)
    write_sharpened    feedforward with gamma >= 2 on the write head only (`ntm.min_write_sharpening=2`)
    memory_learned     feedforward with a learned initial memory (`ntm.memory_init=learned`)
    memory_learned_paper    feedforward_paper with a learned initial memory
    read_after_write_paper  feedforward_paper, the read heads addressing and reading the memory after
                            the step's write (`ntm.read_after_write=true`)
    write_sharpened_paper   feedforward_paper with gamma >= 2 on the write head only
    curriculum_paper        feedforward_paper with a curriculum: the longest length grows from 1 to 20
                            over the first 5,000 steps (`curriculum_steps=5000`)
    lstm               the LSTM baseline (3 x 256), Adam 1e-3 (`small`)

A run counts as converged when its bit errors per sequence on the fixed
evaluation set (the training sizes) fall below `THRESHOLD`; the time and steps
to get there come from the job's `--target`. Generalisation is read from the
job's evaluation of the longer sets (`keras_l11.ntm.configs.GENERALISATION`).
`--extend` trains finished runs of a smaller budget on to `--minutes`: the job
resumes from the run's checkpoint (and its data from the step it stopped at),
the earlier part's summary is kept as `summary-<minutes>min.json`, and the
time to converge counts every part's training time.
Runs go `--parallel` at a time (2 on this machine: one core each, the job's
default of one intra-op thread).
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results", "ntm.json")
DOCS = os.path.join(ROOT, "docs", "ntm")
TASKS = ("copy", "repeat_copy", "associative_recall", "priority_sort")
VARIANTS = {
    "collier": ("ntm", "small", ()),
    "paper": ("ntm", "paper", ()),
    "feedforward": ("ntm_feedforward", "small", ()),
    "feedforward_paper": ("ntm_feedforward", "paper", ()),
    "sharpened": ("ntm_feedforward", "small", ("--override", "ntm.min_sharpening=2.0")),
    "write_sharpened": ("ntm_feedforward", "small", ("--override", "ntm.min_write_sharpening=2.0")),
    "memory_learned": ("ntm_feedforward", "small", ("--override", "ntm.memory_init=learned")),
    "memory_learned_paper": ("ntm_feedforward", "paper", ("--override", "ntm.memory_init=learned")),
    "read_after_write_paper": ("ntm_feedforward", "paper", ("--override", "ntm.read_after_write=true")),
    "write_sharpened_paper": ("ntm_feedforward", "paper", ("--override", "ntm.min_write_sharpening=2.0")),
    "curriculum_paper": ("ntm_feedforward", "paper", ("--override", "curriculum_steps=5000")),
    "lstm": ("lstm", "small", ()),
}
AXIS_LABELS = {
    "copy": "sequence length (trained on 1-20)",
    "repeat_copy": "length x repeats (trained on 1-10 x 1-10)",
    "associative_recall": "items (trained on 2-6)",
}
THRESHOLD = 0.1  # bit errors per sequence on the training sizes: "converged"
TRAINED_REPEATS = 10  # repeat copy trains on 1-10 repeats
REPEAT_SPLIT_SETS = (
    {"length": 10, "repeats": 10},
    {"length": 10, "repeats": 12},
    {"length": 10, "repeats": 20},
    {"length": 10, "repeats": 20, "told_repeats": 10},  # the count's input kept in the training range
    {"length": 20, "repeats": 10},
    {"length": 20, "repeats": 20},
)
TARGETS = {  # the generalisation targets: (evaluation set, bit errors per sequence below)
    "copy": ("length 120", 1.0),
    "repeat_copy": ("length 20, repeats 20", 1.0),
    "associative_recall": ("items 12", 1.0),
}


def run_name(task, variant, seed):
    return f"{task}-{variant}-s{seed}"


def command(task, variant, seed, minutes, model_dir, stop=False):
    """The job of one run; `stop`: it ends once converged (a convergence-only run)."""
    model, config, extra = VARIANTS[variant]
    return [
        sys.executable, "-m", "train.ntm", "--task", task, "--model", model, "--config", config, *extra,
        "--seed", str(seed), "--steps", "10000000", "--max_minutes", f"{minutes:g}",
        "--target", f"val_bit_errors_per_sequence={THRESHOLD}", *(["--stop_at_target"] if stop else []),
        "--no_export", "--progress", "epoch", "--model_dir", model_dir,
    ]  # fmt: skip


def record(task, variant, seed, minutes, model_dir, returncode, log, stop=False):
    """What the report needs from one run's summary.json (or its failure)."""
    entry = {"task": task, "variant": variant, "seed": seed, "minutes": minutes, "stop_at_target": stop}
    path = os.path.join(model_dir, "summary.json")
    if returncode or not os.path.exists(path):
        tail = log[-2000:]
        last = tail.strip().splitlines()[-1] if tail.strip() else f"exit code {returncode}, no summary.json"
        entry["failed"] = "non-finite loss" if "Non-finite loss" in tail else last
        return entry
    with open(path) as f:
        summary = json.load(f)
    entry.update(
        final_step=summary["final_step"],
        reached=first_reached(model_dir, summary),
        evaluation={
            name: {"bit_errors": row["bit_errors_per_sequence"], "cost": row["bits_per_sequence"]}
            for name, row in summary["evaluation"].items()
            if isinstance(row, dict) and "bit_errors_per_sequence" in row
        },
    )
    return entry


def start_extension(model_dir, minutes):
    """Prepares a finished run to train on until `minutes` in all; returns the
    minutes still to train. Its summary so far is kept beside it, named
    after the budget it was trained with."""
    marker = os.path.join(model_dir, "benchmark.json")
    with open(marker) as f:
        budget = json.load(f)
    if budget.get("stop_at_target"):
        raise SystemExit(f"{model_dir} is a convergence-only run: it cannot be extended")
    stopped = budget.get("parts") and not os.path.exists(os.path.join(model_dir, "summary.json"))
    if stopped and budget["minutes"] == minutes:
        return budget["parts"][-1]  # an extension that was stopped: its part starts again from the last checkpoint
    if stopped:
        raise SystemExit(f"{model_dir}: its extension to {budget['minutes']:g} minutes was stopped; finish that first")
    done = budget["minutes"]
    if done >= minutes:
        raise SystemExit(f"{model_dir} was trained for {done:g} minutes already, not less than --minutes {minutes:g}")
    os.replace(os.path.join(model_dir, "summary.json"), os.path.join(model_dir, f"summary-{done:g}min.json"))
    budget.update(minutes=minutes, parts=budget.get("parts", [done]) + [minutes - done])
    with open(marker, "w") as f:
        json.dump(budget, f)
    return minutes - done


def earlier_parts(model_dir):
    """The summaries of a run's earlier parts (`--extend`), oldest first."""
    names = [n for n in os.listdir(model_dir) if n.startswith("summary-") and n.endswith("min.json")]
    parts = []
    for name in sorted(names, key=lambda n: float(n[len("summary-") : -len("min.json")])):
        with open(os.path.join(model_dir, name)) as f:
            parts.append(json.load(f))
    return parts


def first_reached(model_dir, summary):
    """Where the run first met the target, across its parts: steps count from
    the run's start, seconds add the training time of the parts before."""
    seconds_before = 0.0
    for part in earlier_parts(model_dir) + [summary]:
        hit = part["target"]["reached"]
        if hit:
            return {"step": hit["step"], "seconds": seconds_before + hit["seconds"]}
        seconds_before += part["train_seconds"]
    return None


def save_runs(path, results, names, splits=()):
    """Writes the runs `names` of `results`, the repeat-copy splits `splits` (and
    its step times) into what is on disk at `path` now, since another part running
    beside this one may have written runs or splits of its own; `results` then
    holds them all. What this part did not compute itself it never writes back: its
    copy may be older than the file's."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    merged = {}
    if os.path.exists(path):
        with open(path) as f:
            merged = json.load(f)
    merged.setdefault("runs", {}).update({n: results["runs"][n] for n in names})
    if "steptime" in results:
        merged["steptime"] = results["steptime"]
    if splits:
        merged.setdefault("repeat_errors", {}).update({n: results["repeat_errors"][n] for n in splits})
    results.update(merged)
    with open(path, "w") as f:
        json.dump(merged, f, indent=2)


def run_all(jobs, runs_dir, parallel, results, save, extend=False):
    """Runs `jobs` [(task, variant, seed, minutes, stop at target)] `parallel`
    at a time; `extend`: the jobs are finished runs to train on to `minutes`."""
    pending, active = list(jobs), []
    while pending or active:
        while pending and len(active) < parallel:
            task, variant, seed, minutes, stop = pending.pop(0)
            model_dir = os.path.join(runs_dir, run_name(task, variant, seed))
            if extend:
                budget = start_extension(model_dir, minutes)
            elif os.path.exists(model_dir):
                raise SystemExit(f"{model_dir} exists: remove it to run {run_name(task, variant, seed)} again")
            else:
                budget = minutes
                os.makedirs(model_dir)
                with open(os.path.join(model_dir, "benchmark.json"), "w") as f:
                    json.dump({"minutes": minutes, "stop_at_target": stop}, f)
            log = open(os.path.join(model_dir, "job.log"), "a" if extend else "w")
            cmd = command(task, variant, seed, budget, model_dir, stop)
            print("$", " ".join(cmd[1:]), flush=True)
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
            active.append((proc, log, (task, variant, seed, minutes, stop), model_dir))
        time.sleep(5)
        for item in list(active):
            proc, log, (task, variant, seed, minutes, stop), model_dir = item
            if proc.poll() is None:
                continue
            active.remove(item)
            log.close()
            with open(log.name) as f:
                text = f.read()
            entry = record(task, variant, seed, minutes, model_dir, proc.returncode, text, stop)
            results.setdefault("runs", {})[run_name(task, variant, seed)] = entry
            save(run_name(task, variant, seed))
            print(run_name(task, variant, seed), "failed" if "failed" in entry else "done", flush=True)


def collect(runs_dir, results):
    """Adds finished runs found in `runs_dir` that the results do not hold yet
    (runs of an interrupted part, or started by hand with the benchmark's
    command and a `benchmark.json` holding their budget); returns their names."""
    found = []
    if not os.path.isdir(runs_dir):
        return found
    for name in sorted(os.listdir(runs_dir)):
        task, variant, seed = name.rsplit("-", 2)
        model_dir = os.path.join(runs_dir, name)
        marker = os.path.join(model_dir, "benchmark.json")
        if variant not in VARIANTS or task not in TASKS or not os.path.exists(marker):
            continue
        if not os.path.exists(os.path.join(model_dir, "summary.json")):
            continue
        with open(marker) as f:
            budget = json.load(f)
        known = results.get("runs", {}).get(name)
        if known and known["minutes"] == budget["minutes"]:
            continue  # recorded already (an extended run's budget grows)
        results.setdefault("runs", {})[name] = record(
            task, variant, int(seed[1:]), budget["minutes"], model_dir, 0, "", budget.get("stop_at_target", False)
        )
        found.append(name)
    return found


def groups(runs):
    """(task, variant, stops at target) -> its runs, in TASKS and VARIANTS order."""

    def order(e):
        return TASKS.index(e["task"]), list(VARIANTS).index(e["variant"]), e.get("stop_at_target", False), e["seed"]

    out = {}
    for entry in sorted(runs.values(), key=order):
        out.setdefault((entry["task"], entry["variant"], entry.get("stop_at_target", False)), []).append(entry)
    return out


def trained_runs(runs, task):
    """The task's runs that trained for their whole budget (the generalisation figures)."""
    return [e for (t, _, stop), es in groups(runs).items() if t == task and not stop for e in es if "evaluation" in e]


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if values else None


def budgets(minutes):
    """A group's budgets: `60`, or `20-60` when its runs had different ones."""
    low, high = min(minutes), max(minutes)
    return f"{low:g}" if low == high else f"{low:g}-{high:g}"


def report(results):
    from keras_l11.training.harness import format_table

    runs = results.get("runs", {})
    out = []
    if runs:
        rows = []
        for (task, variant, stop), entries in groups(runs).items():
            hits = [e["reached"] for e in entries if e.get("reached")]
            target = None if stop else TARGETS.get(task)
            met = ""
            if target:
                ok = [
                    e for e in entries if e.get("evaluation", {}).get(target[0], {}).get("bit_errors", 1e9) < target[1]
                ]
                met = f"{len(ok)}/{len(entries)}"
            rows.append(
                [
                    task,
                    variant,
                    budgets([e["minutes"] for e in entries]) + (", stops when converged" if stop else ""),
                    f"{len(hits)}/{len(entries)}",
                    f"{median([h['seconds'] for h in hits]) / 60:.1f}" if hits else "",
                    median([h["step"] for h in hits]) if hits else "",
                    sum("non-finite" in str(e.get("failed", "")) for e in entries),
                    f"{target[0]} < {target[1]:g}" if target else "",
                    met,
                ]
            )
        seeds = {}
        for (task, variant, _), entries in groups(runs).items():
            seeds.setdefault((task, variant), []).extend(entries)
        totals = [
            f"  {task} {variant}: {sum(bool(e.get('reached')) for e in entries)} of {len(entries)} seeds converged"
            for (task, variant), entries in seeds.items()
            if len({e.get("stop_at_target", False) for e in entries}) > 1
        ]
        out += [
            f"Convergence: seeds whose bit errors per sequence on the training sizes fell below {THRESHOLD}, "
            "and the median time and steps to get there "
            "(wall-clock budgets on the 2-core CPU, shared with the other runs)",
            format_table(
                [
                    "task",
                    "variant",
                    "budget min",
                    "converged",
                    "median min",
                    "median steps",
                    "non-finite",
                    "generalisation target",
                    "met",
                ],
                rows,
            ),  # fmt: skip
            *(["All runs of a task and variant, whatever their budget:", *totals] if totals else []),
            "",
        ]
        for task in TASKS:
            entries = trained_runs(runs, task)
            if not entries:
                continue
            sets = list(entries[0]["evaluation"])
            value = "cost" if task == "priority_sort" else "bit_errors"
            unit = "cost, bits per sequence" if value == "cost" else "bit errors per sequence"
            out += [
                f"{task}: {unit} on each evaluation set ('as trained' = the training sizes)",
                format_table(
                    ["run", "steps", *sets],
                    [
                        [f"{e['variant']} s{e['seed']}", e["final_step"], *(e["evaluation"][s][value] for s in sets)]
                        for e in entries
                    ],
                ),  # fmt: skip
                "",
            ]
    out += repeat_errors_table(results)
    steps = results.get("steptime")
    if steps:
        rows = [[*k.split("|"), v["params"], v["length20_ms"], v["mixed_ms"]] for k, v in steps.items()]
        out += [
            "Training step time, copy task, batch 32 (1 intra-op / 2 inter-op threads)",
            format_table(["model", "compile", "params", "ms/step len 20", "ms/step lengths 1-20"], rows),
        ]
    return "\n".join(out)


def plot_curves(results, figures=DOCS):
    """One PNG per task in `figures`: bit errors (cost for priority sort) against the evaluation set."""
    from keras_l11.figures import plt

    written = []
    for task in TASKS:
        entries = trained_runs(results.get("runs", {}), task)
        if not entries:
            continue
        value = "cost" if task == "priority_sort" else "bit_errors"
        sets = [s for s in entries[0]["evaluation"] if s != "as trained"] or ["as trained"]
        fig, ax = plt.subplots(figsize=(7, 3.6))
        for e in entries:
            ax.plot(
                range(len(sets)),
                [max(e["evaluation"][s][value], 1e-2) for s in sets],
                "o-",
                label=f"{e['variant']} s{e['seed']}",
            )
        ax.set_xticks(
            range(len(sets)), [s.replace("length ", "").replace(", repeats ", "x").replace("items ", "") for s in sets]
        )
        ax.set_xlabel(AXIS_LABELS.get(task, "evaluation set"))
        ax.set_yscale("log")
        ax.set_ylabel("cost, bits/sequence" if value == "cost" else "bit errors per sequence (0 shown as 0.01)")
        if task in TARGETS:
            ax.axhline(TARGETS[task][1], color="grey", linestyle=":", label="target")
        ax.set_title(f"NTM {task}: generalisation")
        ax.legend(fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = os.path.join(figures, f"{task}_generalisation.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def load_trained(model_dir, variant):
    """A run's task, model (with the weights of its last checkpoint: the job ends
    its budget at an epoch boundary, where the checkpoint is written), config and
    global batch size. The model and the task sizes come from the run's summary;
    the rest of the config (the optimiser) does not matter here."""
    import dataclasses

    from keras_l11.ntm.configs import CONFIGS, LSTMBaselineConfig, NTMModelConfig, build_model, make_task

    weights = os.path.join(model_dir, "backup", "latest.weights.h5")  # keras.callbacks.BackupAndRestore's file
    if not os.path.exists(weights):
        raise SystemExit(f"{model_dir} has no checkpoint ({weights}): was the run trained?")
    with open(os.path.join(model_dir, "summary.json")) as f:
        summary = json.load(f)
    trained = summary["train_config"]
    config = dataclasses.replace(
        CONFIGS["paper"],
        ntm=NTMModelConfig(**trained["ntm"]),
        lstm=LSTMBaselineConfig(**trained["lstm"]),
        task_size=trained["task_size"],
        eval_batches=trained["eval_batches"],
    )
    task = make_task(os.path.basename(model_dir).rsplit("-", 2)[0], config)
    model = build_model(VARIANTS[variant][0], task, config)
    model.load_weights(weights)
    return task, model, config, summary["global_batch_size"]


def run_repeat_errors(results, runs_dir):
    """In-process: where each repeat-copy run's bit errors go (per copy, and the
    end marker) on `REPEAT_SPLIT_SETS`, the job's fixed evaluation sequences.
    Runs whose folder is gone keep the split recorded earlier, if any. Returns
    the names of the runs split now."""
    import numpy as np
    import tensorflow as tf

    from keras_l11.ntm.metrics import repeat_copy_error_split

    done, split = results.setdefault("repeat_errors", {}), []
    wanted = {split_set_name(sizes) for sizes in REPEAT_SPLIT_SETS}
    for entry in trained_runs(results.get("runs", {}), "repeat_copy"):
        name = run_name("repeat_copy", entry["variant"], entry["seed"])
        model_dir = os.path.join(runs_dir, name)
        known = done.get(name, {})
        if known.get("final_step") == entry["final_step"] and wanted <= set(known["sets"]):
            continue
        if not os.path.isdir(model_dir):
            print(name, "skipped: its run folder is not in", runs_dir, flush=True)
            continue
        task, model, config, batch_size = load_trained(model_dir, entry["variant"])
        logits = tf.function(lambda x, model=model: model(x, training=False))  # eager RNN steps are slow
        sets = {}
        for sizes in REPEAT_SPLIT_SETS:
            splits = [
                repeat_copy_error_split(y, logits(x), sizes["length"], sizes["repeats"])
                for x, y in task.eval_dataset(batch_size, config.eval_batches, **sizes)
            ]
            means = {k: np.mean([s[k] for s in splits], axis=0).round(3) for k in splits[0]}
            sets[split_set_name(sizes)] = {k: v.tolist() for k, v in means.items()}
        done[name] = {"final_step": entry["final_step"], "sets": sets}
        split.append(name)
        print(name, "split", flush=True)
    return split


def split_set_name(sizes):
    name = f"length {sizes['length']}, repeats {sizes['repeats']}"
    return name + (f", count input of {sizes['told_repeats']}" if "told_repeats" in sizes else "")


def plot_repeat_addressing(results, runs_dir, figures=DOCS, length=10, repeats=12):
    """The heads of the repeat-copy run with the fewest errors on the training
    sizes, on one sequence of `repeats` copies (past the 10 it trained on)."""
    from keras_l11.ntm.figures import plot_ntm_addressing

    runs = results.get("runs", {})
    have = [n for n in results.get("repeat_errors", {}) if n in runs and os.path.isdir(os.path.join(runs_dir, n))]
    if not have:
        return None
    best = min(have, key=lambda n: runs[n]["evaluation"]["as trained"]["bit_errors"])
    task, model, _, _ = load_trained(os.path.join(runs_dir, best), runs[best]["variant"])
    inputs, targets = task.example(seed=3, length=length, repeats=repeats)
    title = f"{best.split('-', 1)[1]}: length {length}, {repeats} repeats (trained: 1-{task.max_repeats})"
    path = os.path.join(figures, "repeat_copy_addressing.png")
    return plot_ntm_addressing(inputs, targets, model.addressing_trace(inputs), path, title=title)


def repeat_errors_table(results):
    """The per-copy split of repeat-copy errors, a row per run and evaluation set."""
    from keras_l11.training.harness import format_table

    rows = []
    for name, split in sorted(results.get("repeat_errors", {}).items()):
        for set_name, s in split["sets"].items():
            per_copy = s["data_errors_per_repeat"]
            trained, beyond = per_copy[:TRAINED_REPEATS], per_copy[TRAINED_REPEATS:]
            rows.append(
                [
                    name.split("-", 1)[1],
                    set_name,
                    per_copy[0],
                    max(trained),
                    f"{sum(beyond) / len(beyond):.2f}" if beyond else "",
                    s["end_marker_errors"],
                    s["early_end_markers"],
                    round(sum(per_copy) + s["end_marker_errors"] + s["final_step_data_errors"], 2),
                ]
            )
    if not rows:
        return []
    return [
        "repeat_copy: where the bit errors per sequence go. Data bits of the first copy, the worst of copies "
        f"1-{TRAINED_REPEATS} (the training range), the mean per copy beyond it; the end-marker channel's errors "
        "over the whole answer, and how many of them are end markers emitted early",
        format_table(
            [
                "run",
                "sequences",
                "copy 1",
                f"worst of 1-{TRAINED_REPEATS}",
                f"per copy > {TRAINED_REPEATS}",
                "end-marker errors",
                "early end markers",
                "total",
            ],
            rows,
        ),  # fmt: skip
        "",
    ]


def run_steptime(results, steps):
    """In-process: ms per train step at copy length 20 (41 time steps), batch 32."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(2)
    import keras

    from keras_l11.ntm.metrics import SequenceBinaryCrossentropy
    from keras_l11.ntm.models import NeuralTuringMachine, SequenceLSTM
    from keras_l11.ntm.tasks import CopyTask

    task = CopyTask()
    fixed = [task.make_batch(tf.constant([0, i], tf.int64), 32, length=tf.constant(20)) for i in range(4)]
    mixed = [b for b in task.train_dataset(32, seed=3).take(steps)]
    models = {
        "NTM (LSTM 100, 128x20)": lambda: NeuralTuringMachine(task.input_width, task.output_width),
        "LSTM 1x120 (similar size)": lambda: SequenceLSTM(task.input_width, task.output_width, 120, 1),
        "LSTM 3x256 (paper baseline)": lambda: SequenceLSTM(task.input_width, task.output_width, 256, 3),
    }
    rows = results.setdefault("steptime", {})
    for name, build in models.items():
        for jit in (False, True):
            keras.utils.set_random_seed(0)
            model = build()
            model.compile(
                keras.optimizers.Adam(1e-3, global_clipnorm=10), SequenceBinaryCrossentropy(), jit_compile=jit
            )
            for x, y in fixed[:2]:
                model.train_on_batch(x, y)  # trace / compile
            start = time.perf_counter()
            for i in range(steps):
                model.train_on_batch(*fixed[i % 4])
            fixed_ms = (time.perf_counter() - start) / steps * 1000
            start = time.perf_counter()
            for x, y in mixed:  # random lengths 1-20: XLA compiles each new length
                model.train_on_batch(x, y)
            mixed_ms = (time.perf_counter() - start) / len(mixed) * 1000
            rows[f"{name}|{'xla' if jit else 'no xla'}"] = {
                "params": int(model.count_params()),
                "length20_ms": round(fixed_ms, 1),
                "mixed_ms": round(mixed_ms, 1),
            }


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--tasks", default="", help=f"comma-separated subset of {TASKS}")
    parser.add_argument("--variants", default="collier", help=f"comma-separated subset of {tuple(VARIANTS)}")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--minutes", type=float, default=60.0, help="training budget of each run")
    parser.add_argument("--parallel", type=int, default=2, help="runs at a time")
    parser.add_argument(
        "--stop_at_target",
        action="store_true",
        help="convergence-only runs: each ends once converged (no generalisation figures)",
    )
    parser.add_argument(
        "--extend",
        action="store_true",
        help="train the runs of --tasks/--variants/--seeds, finished with a smaller budget, on to --minutes",
    )
    parser.add_argument("--report", action="store_true", help="only print the tables and draw the curves")
    parser.add_argument(
        "--repeat_errors",
        action="store_true",
        help="split the repeat-copy runs' errors per copy and end marker (loads each run's checkpoint), "
        "and draw the heads of the run with the fewest errors on 12 repeats",
    )
    parser.add_argument("--steptime", action="store_true", help="measure ms per training step")
    parser.add_argument("--steptime_steps", type=int, default=40, help="timed steps per model")
    parser.add_argument("--runs_dir", default=os.path.join(ROOT, "runs", "benchmark", "ntm"))
    parser.add_argument("--results", default=RESULTS)
    parser.add_argument("--figures", default=DOCS, help="where the curves' PNGs go (the docs page's folder)")
    args = parser.parse_args(argv)
    tasks = [t for t in args.tasks.split(",") if t]
    variants = [v for v in args.variants.split(",") if v]
    for name, given, allowed in (("tasks", tasks, TASKS), ("variants", variants, tuple(VARIANTS))):
        if set(given) - set(allowed):
            parser.error(f"unknown {name} {sorted(set(given) - set(allowed))}; choose from {allowed}")

    results = {}
    if os.path.exists(args.results):
        with open(args.results) as f:
            results = json.load(f)

    def save(*names, splits=()):
        save_runs(args.results, results, names, splits)

    found = collect(args.runs_dir, results)
    if tasks and not args.report:
        seeds = [int(s) for s in args.seeds.split(",") if s]
        jobs = [(t, v, s, args.minutes, args.stop_at_target) for t in tasks for v in variants for s in seeds]
        done = results.get("runs", {})
        if args.extend:
            names = [run_name(*j[:3]) for j in jobs]
            unfinished = [n for n in names if n not in done or "failed" in done[n]]
            if unfinished:
                parser.error(f"--extend needs finished runs; not finished: {unfinished}")
            jobs = [(*j[:4], done[run_name(*j[:3])]["stop_at_target"]) for j in jobs]
        else:
            jobs = [j for j in jobs if run_name(*j[:3]) not in done]
        run_all(jobs, args.runs_dir, args.parallel, results, save, extend=args.extend)
    splits = []
    if args.repeat_errors:
        splits = run_repeat_errors(results, args.runs_dir)
        print("wrote", plot_repeat_addressing(results, args.runs_dir, args.figures))
    if args.steptime:
        run_steptime(results, args.steptime_steps)
    save(*found, splits=splits)
    text = report(results)
    print(text)
    for path in plot_curves(results, args.figures):
        print("wrote", os.path.relpath(path, ROOT))
    with open(os.path.join(os.path.dirname(args.results), "ntm.txt"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
