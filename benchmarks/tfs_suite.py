"""TensorFlow Serving's own model-server test suite, run against our server.

    python -m benchmarks.tfs_suite --tf_serving ~/src/serving [--tests testPredictREST,...]

`--tf_serving` is a checkout of https://github.com/tensorflow/serving that you bring
(nothing of it is copied into this repository). Its
`tensorflow_serving/model_servers/tensorflow_model_server_test.py` starts the server
binary at `$TEST_SRCDIR/tf_serving/tensorflow_serving/model_servers/tensorflow_model_server`
with its own command line; this script builds that tree in a temporary folder, every
entry a link into the checkout except that one file, which starts our server
(`python -m serving --enable_profiler=true`: TF Serving's default, off in ours) with
the arguments it is given, or `--server PATH` (a real `tensorflow_model_server`, to
compare). Test bodies and assertions are the checkout's,
unchanged. Each test runs in its own process with a time limit; the script prints one
table (test, pass or fail, the first error line) and writes it to
`benchmarks/results/tfs_suite.txt`.

The suite needs `portpicker` and `six` (`pip install portpicker six`).
"""

import argparse
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time

from keras_l11 import command_line

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST_FILE = os.path.join("tensorflow_serving", "model_servers", "tensorflow_model_server_test.py")

# Run as `python -c` in each test's process: the checkout's Python sources join the
# installed `tensorflow_serving` package (which holds the generated protos the checkout
# lacks), then the test file runs as its own main with one test selected.
BOOTSTRAP = """
import runpy, sys
import tensorflow_serving
tensorflow_serving.__path__.append({package!r})
sys.argv = [{test_file!r}, {test!r}]
runpy.run_path({test_file!r}, run_name="__main__")
"""


# Tests that fail for any server on TensorFlow 2.20 (checked against each one's body):
# they are counted apart, with the reason, when they fail.
NOT_APPLICABLE = {
    "test_sequential_keras_saved_model_save": "Keras 3 names the Sequential model's input `inputs`; the test sends `x`",
    "test_distrat_sequential_keras_saved_model_save": "the same Keras 3 input name, under a distribution strategy",
    "test_tf_text": "needs TF-Text's ops (not in the tensorflow wheel); its body reads `flags.os`, gone from TF 2.20",
}


def server_tree(checkout, server, folder):
    """Makes `folder/tf_serving/tensorflow_serving` (links to the checkout's entries, with
    `model_servers/tensorflow_model_server` a script that starts `server`); returns
    `folder`, the tests' TEST_SRCDIR."""
    source = os.path.join(checkout, "tensorflow_serving")
    tree = os.path.join(folder, "tf_serving", "tensorflow_serving")
    os.makedirs(os.path.join(tree, "model_servers"))
    for name in os.listdir(source):
        if name != "model_servers":
            os.symlink(os.path.join(source, name), os.path.join(tree, name))
    for name in os.listdir(os.path.join(source, "model_servers")):
        if name != "tensorflow_model_server":
            os.symlink(os.path.join(source, "model_servers", name), os.path.join(tree, "model_servers", name))
    # TF Serving's profiler service is on by default, and the suite expects it; ours is off
    # by default (it opens a port on every interface), so the launcher turns it on.
    command = shlex.quote(server) if server else f"{shlex.quote(sys.executable)} -m serving --enable_profiler=true"
    launcher = os.path.join(tree, "model_servers", "tensorflow_model_server")
    with open(launcher, "w") as f:
        f.write(f'#!/bin/sh\ncd {shlex.quote(ROOT)}\nexec {command} "$@"\n')
    os.chmod(launcher, 0o755)
    return folder


def test_names(checkout):
    """The test methods of the suite's test class, in file order."""
    with open(os.path.join(checkout, TEST_FILE)) as f:
        return re.findall(r"^  def (test\w+)\(self", f.read(), re.M)


def run_one(checkout, srcdir, test, timeout, tmp):
    """`(passed, first error line, seconds)` of one test in a process of its own."""
    bootstrap = BOOTSTRAP.format(
        package=os.path.join(checkout, "tensorflow_serving"),
        test_file=os.path.join(checkout, TEST_FILE),
        test=f"TensorflowModelServerTest.{test}",
    )
    test_tmp = tempfile.mkdtemp(prefix=f"{test}-", dir=tmp)
    env = dict(os.environ, TEST_SRCDIR=srcdir, TEST_TMPDIR=test_tmp, PYTHONPATH=ROOT)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", bootstrap, f"--test_tmpdir={test_tmp}"],
        cwd=test_tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the servers a test starts go with it on a timeout
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
        passed = proc.returncode == 0
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        return False, f"timed out after {timeout} s", time.monotonic() - started
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # servers left behind
        except ProcessLookupError:
            pass
    return passed, "" if passed else first_error(output), time.monotonic() - started


def first_error(output):
    """The line that says what went wrong: the exception at the end of the first traceback."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            for j, after in enumerate(lines[i + 1 :], i + 1):
                if after and not after.startswith((" ", "\t", "Traceback")):
                    details = [x.strip() for x in lines[j + 1 : j + 4] if x.strip().startswith("details =")]
                    return " ".join([after.strip(), *details])[:200]
    for line in reversed(lines):
        if re.search(r"Error|FAILED|failed", line):
            return line.strip()[:160]
    return (lines[-1] if lines else "no output")[:160]


def main(argv=None):
    p = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}", description=__doc__, formatter_class=command_line.HelpFormatter
    )
    p.add_argument("--tf_serving", required=True, help="a TensorFlow Serving source checkout")
    p.add_argument("--tests", default="", help="comma-separated test names (default: all)")
    p.add_argument("--timeout", type=float, default=240, help="seconds per test")
    p.add_argument("--server", default="", help="a tensorflow_model_server binary to run instead of ours")
    args = p.parse_args(argv)
    checkout = os.path.abspath(os.path.expanduser(args.tf_serving))
    if not os.path.exists(os.path.join(checkout, TEST_FILE)):
        p.error(f"{checkout} is not a TensorFlow Serving checkout: it has no {TEST_FILE}")
    for module in ("portpicker", "six"):
        try:
            __import__(module)
        except ImportError:
            p.error(f"the suite needs {module}: pip install portpicker six")
    tests = [t for t in args.tests.split(",") if t] or test_names(checkout)
    from keras_l11.training.harness import format_table

    with tempfile.TemporaryDirectory(prefix="tfs-suite-") as tmp:
        srcdir = server_tree(checkout, args.server, tmp)
        rows = []
        for test in tests:
            passed, error, seconds = run_one(checkout, srcdir, test, args.timeout, tmp)
            result = "pass" if passed else "n/a" if test in NOT_APPLICABLE else "fail"
            if result == "n/a":
                error = f"{NOT_APPLICABLE[test]} ({error})"
            rows.append([test, result, f"{seconds:.0f}", error[:200]])
            print(f"{test}: {result} {error}", file=sys.stderr, flush=True)
    table = format_table(["test", "result", "s", "first error line"], rows)
    passed = sum(row[1] == "pass" for row in rows)
    applicable = sum(row[1] != "n/a" for row in rows)
    summary = (
        f"{passed} of {applicable} applicable tests passed against {args.server or 'python -m serving'} "
        f"({len(rows) - applicable} that fail for any server on TF 2.20 counted apart as n/a)"
    )
    if args.tests:
        print(f"{summary}\n{table}")
    else:
        from benchmarks.common import write_report

        write_report("tfs_suite", [(summary, table)])


if __name__ == "__main__":
    main()
