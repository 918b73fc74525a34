"""NTM benchmark: the copy task with the paper's settings, and step times.

Parts (run all, or some with --parts; results accumulate in --results and
the whole table is printed every time):

  convergence     per seed: steps and wall time until bit errors per sequence
                  on the fixed evaluation set fall below 0.1 (at most
                  --convergence_minutes each). Seed 0's figure comes from the
                  generalisation run when that part is run.
  generalisation  one seed trained for --minutes: bit errors per sequence at
                  lengths 20, 40 and 120 (trained on 1-20).
  lstm            the LSTM baseline (3 x 256) trained for --lstm_minutes.
  steptime        ms per training step, NTM vs LSTMs, with and without XLA.

    python -m benchmarks.ntm                       # everything (~45 minutes)
    python -m benchmarks.ntm --parts convergence --seeds 1,2
    python -m benchmarks.ntm --parts steptime

Training runs are separate `python -m train.ntm` processes with the job's
default thread settings (1 intra-op, 2 inter-op), one at a time.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = "val_bit_errors_per_sequence=0.1"
PARTS = ("convergence", "generalisation", "lstm", "steptime")


def train(args, minutes):
    """Runs one copy-task job; returns its summary.json."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "train.ntm",
            "--task",
            "copy",
            "--config",
            "small",
            "--steps",
            "1000000",
            "--target",
            TARGET,
            "--max_minutes",
            str(minutes),
            "--no_export",
            "--progress",
            "epoch",
            "--model_dir",
            os.path.join(tmp, "run"),
            *args,
        ]
        print("$", " ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=sys.stderr)
        with open(os.path.join(tmp, "run", "summary.json")) as f:
            return json.load(f)


def reached(summary):
    hit = summary["target"]["reached"]
    return {"step": hit["step"], "seconds": hit["seconds"]} if hit else None


def errors_at(summary, lengths):
    return {str(n): summary["evaluation"][f"length {n}"]["bit_errors_per_sequence"] for n in lengths}


def run_convergence(results, seeds, minutes):
    for seed in seeds:
        summary = train(["--seed", str(seed), "--stop_at_target"], minutes)
        results.setdefault("convergence", {})[str(seed)] = {
            "reached": reached(summary),
            "budget_minutes": minutes,
            "final_step": summary["final_step"],
        }


def run_generalisation(results, seed, minutes):
    summary = train(["--seed", str(seed)], minutes)
    results["generalisation"] = {
        "seed": seed,
        "minutes": minutes,
        "final_step": summary["final_step"],
        "bit_errors": errors_at(summary, (20, 40, 120)),
    }
    results.setdefault("convergence", {})[str(seed)] = {
        "reached": reached(summary),
        "budget_minutes": minutes,
        "final_step": summary["final_step"],
    }


def run_lstm(results, minutes):
    summary = train(["--model", "lstm", "--seed", "0"], minutes)
    results["lstm"] = {
        "minutes": minutes,
        "final_step": summary["final_step"],
        "reached": reached(summary),
        "eval_bit_errors": summary["evaluation"]["as trained"]["bit_errors_per_sequence"],
        "bit_errors": errors_at(summary, (20, 40, 120)),
    }


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
            print(name, "xla" if jit else "no xla", rows[f"{name}|{'xla' if jit else 'no xla'}"], file=sys.stderr)


def table(header, rows):
    from keras_l11.training.harness import format_table

    return format_table(header, rows)


def report(results):
    out = []
    conv = results.get("convergence", {})
    if conv:
        rows = []
        for seed, r in sorted(conv.items()):
            hit = r["reached"]
            rows.append(
                [
                    seed,
                    hit["step"] if hit else f"> {r['final_step']}",
                    f"{hit['seconds']:.0f}" if hit else f"> {r['budget_minutes'] * 60:.0f}",
                ]
            )
        seconds = sorted(r["reached"]["seconds"] if r["reached"] else float("inf") for r in conv.values())
        rows.append(["median", "", f"{seconds[len(seconds) // 2]:.0f}"])
        out += [
            "NTM copy (8 bits, lengths 1-20, batch 32): time to < 0.1 bit errors per sequence",
            table(["seed", "steps", "seconds"], rows),
            "",
        ]
    gen = results.get("generalisation")
    lstm = results.get("lstm")
    if gen or lstm:
        rows = []
        if gen:
            rows.append(
                [
                    f"NTM, seed {gen['seed']}",
                    f"{gen['minutes']:g}",
                    gen["final_step"],
                    *(gen["bit_errors"][n] for n in ("20", "40", "120")),
                ]
            )
        if lstm:
            rows.append(
                [
                    "LSTM 3x256, seed 0",
                    f"{lstm['minutes']:g}",
                    lstm["final_step"],
                    *(lstm["bit_errors"][n] for n in ("20", "40", "120")),
                ]
            )
        out += [
            "Bit errors per sequence after a training budget (trained on lengths 1-20)",
            table(["model", "minutes", "steps", "len 20", "len 40", "len 120"], rows),
        ]
        if lstm:
            hit = lstm["reached"]
            verdict = f"yes, at step {hit['step']}" if hit else "no"
            out.append(
                f"LSTM baseline reached < 0.1 on the evaluation set: {verdict} "
                f"(final evaluation-set bit errors {lstm['eval_bit_errors']:.3g})"
            )
        out.append("")
    steps = results.get("steptime")
    if steps:
        rows = [[*k.split("|"), v["params"], v["length20_ms"], v["mixed_ms"]] for k, v in steps.items()]
        out += [
            "Training step time, batch 32 (1 intra-op / 2 inter-op threads)",
            table(["model", "compile", "params", "ms/step len 20", "ms/step lengths 1-20"], rows),
        ]
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__
    )
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {PARTS}")
    parser.add_argument("--seeds", default="1,2", help="convergence seeds (seed 0 comes from generalisation)")
    parser.add_argument("--minutes", type=float, default=20.0, help="generalisation training budget")
    parser.add_argument("--convergence_minutes", type=float, default=12.0, help="budget per convergence seed")
    parser.add_argument("--lstm_minutes", type=float, default=10.0, help="LSTM baseline budget")
    parser.add_argument("--steptime_steps", type=int, default=40, help="timed steps per model")
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "results", "ntm.json"))
    args = parser.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}; choose from {PARTS}")

    results = {}
    if os.path.exists(args.results):
        with open(args.results) as f:
            results = json.load(f)

    def save():
        os.makedirs(os.path.dirname(args.results), exist_ok=True)
        with open(args.results, "w") as f:
            json.dump(results, f, indent=2)

    if "generalisation" in parts:
        run_generalisation(results, 0, args.minutes)
        save()
    if "convergence" in parts:
        run_convergence(results, [int(s) for s in args.seeds.split(",") if s], args.convergence_minutes)
        save()
    if "lstm" in parts:
        run_lstm(results, args.lstm_minutes)
        save()
    if "steptime" in parts:
        run_steptime(results, args.steptime_steps)
        save()
    print(report(results))


if __name__ == "__main__":
    main()
