"""What the benchmarks share: running a job's `small` config and timing fits."""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(ROOT, "benchmarks", "results")


def run_small(job, runs_dir, reuse, name=None, extra=()):
    """The summary of `python -m train.<job> --config small [extra]`, run into
    `runs_dir/<name or job>` (or read from there with `reuse`)."""
    model_dir = os.path.join(runs_dir, name or job)
    summary = os.path.join(model_dir, "summary.json")
    if not (reuse and os.path.exists(summary)):
        export_dir = os.path.join(runs_dir, "saved_models")
        command = [sys.executable, "-m", f"train.{job}", "--config", "small", "--progress", "epoch", *extra]
        command += ["--model_dir", model_dir, "--export_dir", export_dir, "--serving_config", ""]
        print("$", " ".join(command), flush=True)
        subprocess.run(command, cwd=ROOT, check=True)
    with open(summary) as f:
        return json.load(f)


def parser_with_run_flags(description):
    """An argument parser with the flags every benchmark that trains `small` runs has."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs_dir", default=os.path.join(ROOT, "runs", "benchmark"))
    parser.add_argument("--reuse", action="store_true", help="reuse finished small runs in --runs_dir")
    parser.add_argument("--skip_quality", action="store_true", help="only the speed measurements")
    return parser


def best_steps_per_second(models, steps, rounds):
    """Best-of-`rounds` steps/s of `model.fit` for each `(model, data)`, the
    models taking turns so that a busy moment of the machine hits both."""
    for model, data in models:
        model.fit(data, steps_per_epoch=5, epochs=1, verbose=0)  # trace and warm up
    best = [0.0] * len(models)
    for _ in range(rounds):
        for i, (model, data) in enumerate(models):
            started = time.perf_counter()
            model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
            best[i] = max(best[i], steps / (time.perf_counter() - started))
    return best


def write_report(name, sections):
    """Prints `[(title, table)]` and writes it to `benchmarks/results/<name>.txt`."""
    report = "\n\n".join(f"{title}\n{table}" for title, table in sections)
    print(report)
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, f"{name}.txt"), "w") as f:
        f.write(report + "\n")
