"""A new user's first hour, measured: `--help` of every command, and the README's two
quick-start commands on a fresh virtual environment (wall time, peak memory of the
whole process tree, disk), with every error-looking line of their output counted.

    python -m benchmarks.first_hour --parts help                  # seconds
    python -m benchmarks.first_hour --parts main,tests --venv /tmp/first-hour   # about 40 minutes

`main` is the README's first command (`pip install -e . && python quickstart.py`), `tests`
its second (`pip install -e ".[test]" && python -m keras_l11.data.install && ruff ... &&
python -m pytest -q tests`); both run in a fresh clone of this checkout with a new
virtual environment, pip's cache off, as on a new machine. Disk is the virtual
environment, the data cache and what the run left in the clone.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from benchmarks.common import write_report
from keras_l11 import command_line

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README_MAIN = "pip install -e . && python quickstart.py"
README_TESTS = (
    'pip install -e ".[test]" && python -m keras_l11.data.install && ruff check . && ruff format --check . '
    "&& python -m pytest -q tests"
)
# A line a new user would read as a failure: TensorFlow's C++ log lines (E, W, F), tracebacks, errors.
ERROR_LOOKING = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [EWF] |Traceback|\berror\b|\bERROR\b|cuInit", re.I)


def commands_with_help():
    jobs = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, "train")) if f.endswith(".py") and f != "__init__.py")
    return [f"train.{j}" for j in jobs] + ["serving", "keras_l11.serving", "keras_l11.data.install"]


def help_times(rounds=3):
    rows = []
    for module in commands_with_help():
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-X", "importtime", "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True
            )
            times.append(time.perf_counter() - started)
        loaded = bool(re.search(r"\|\s+tensorflow$", proc.stderr, re.M))
        usage = proc.stdout.splitlines()[0] if proc.stdout else ""
        rows.append([f"python -m {module} --help", sorted(times)[rounds // 2], "yes" if loaded else "no", usage[:40]])
    return rows


def tree_pss_bytes(pid):
    """Proportional set size of `pid` and all its descendants: resident memory with
    each shared page (TensorFlow's libraries in every process) divided among the
    processes that map it, so the sum is what the tree really occupies."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    tree, frontier = {pid}, [pid]
    while frontier:
        frontier = [p for p, parent in parents.items() if parent in frontier and p not in tree]
        tree.update(frontier)
    total = 0
    for p in tree:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:")) * 1024
        except (OSError, StopIteration):
            continue
    return total


def measured(command, cwd, env, log_path):
    """Runs a shell command; returns (seconds, peak tree RSS bytes, return code, error-looking lines)."""
    peak = [0]
    with open(log_path, "w") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample():
            while not done.wait(1.0):
                peak[0] = max(peak[0], tree_pss_bytes(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        proc.wait()
        done.set()
        seconds = time.perf_counter() - started
    with open(log_path) as f:
        noisy = [line.rstrip() for line in f if ERROR_LOOKING.search(line)]
    return seconds, peak[0], proc.returncode, noisy


def disk_bytes(*paths):
    total = 0
    for path in paths:
        for folder, _, files in os.walk(path):
            for name in files:
                with_path = os.path.join(folder, name)
                if not os.path.islink(with_path):
                    total += os.path.getsize(with_path)
    return total


def readme_commands(parts, venv, fresh_data):
    clone = tempfile.mkdtemp(prefix="first-hour-")
    subprocess.run(["git", "clone", "-q", ROOT, clone], check=True)
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    env = dict(os.environ, PATH=f"{venv}/bin:{os.environ['PATH']}", PIP_NO_CACHE_DIR="1", VIRTUAL_ENV=venv)
    for variable in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONPATH"):
        env.pop(variable, None)  # as a new user's shell has them
    rows, notes = [], []
    data = os.environ.get("KERAS_L11_DATA") or os.path.expanduser("~/.cache/keras_l11")
    if fresh_data:  # an empty data cache, as on a new machine (Debian packages already installed stay)
        data = env["KERAS_L11_DATA"] = tempfile.mkdtemp(prefix="first-hour-data-")
    for part, command in (("main", README_MAIN), ("tests", README_TESTS)):
        if part not in parts:
            continue
        log = os.path.join(clone, f"{part}.log")
        seconds, peak, code, noisy = measured(command, clone, env, log)
        disk = disk_bytes(venv, data, clone)
        rows.append([part, code, f"{seconds / 60:.1f}", f"{peak / 2**30:.2f}", f"{disk / 2**30:.2f}", len(noisy)])
        notes += [f"{part}: {line}" for line in noisy[:20]]
        print(f"{part}: exit {code} in {seconds:.0f} s; log {log}", flush=True)
    return rows, notes


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.first_hour", description=__doc__, formatter_class=command_line.HelpFormatter
    )
    parser.add_argument("--parts", default="help", help="comma-separated: help, main, tests (default: help)")
    parser.add_argument("--venv", default=os.path.join(tempfile.gettempdir(), "first-hour-venv"))
    parser.add_argument(
        "--fresh_data", action="store_true", help="start from an empty data cache ($KERAS_L11_DATA in a new folder)"
    )
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    from keras_l11.training.harness import format_table

    if "help" in parts:
        rows = help_times()
        title = (
            f"`--help` of every command, median of 3 runs on {os.cpu_count()} cores (target: under 3 s, "
            "TensorFlow not loaded)"
        )
        write_report(
            "first_hour_help", [(title, format_table(["command", "seconds", "TensorFlow loaded", "usage line"], rows))]
        )
    if parts & {"main", "tests"}:
        rows, notes = readme_commands(parts, args.venv, args.fresh_data)
        header = ["README command", "exit", "wall minutes", "peak memory GiB", "disk GiB", "error-looking lines"]
        title = (
            "The README's quick-start commands on a fresh clone and virtual environment (pip cache off; memory: "
            "proportional set size of the whole process tree, sampled every second; disk: environment + data "
            "cache + clone afterwards)"
        )
        write_report("first_hour_readme", [(title, format_table(header, rows) + "".join(f"\n{n}" for n in notes))])


if __name__ == "__main__":
    main()
