"""What every command of the project shares before TensorFlow loads: a quiet start,
the help formatter, and one clear line for a GPU.

On a machine without a GPU, TensorFlow's C++ runtime prints lines like
`failed call to cuInit: ... (303)` (an ERROR, though nothing is wrong), "Could not
find cuda drivers" and the CPU-feature and oneDNN notices. The C++ log level is read
from `TF_CPP_MIN_LOG_LEVEL` once, when TensorFlow loads, so it has to be set before
the first `import tensorflow`; `keras_l11/__init__.py` calls `quiet_command_line()`,
which does so only when the process is one of our commands (`python -m train.*`,
`serving`, `benchmarks.*`, `keras_l11.*`, `quickstart.py`), never for a library user
who imports `keras_l11` in their own program.

The level chosen: 3 (errors hidden too) when no NVIDIA driver is present, because
then the only C++ errors at start-up are the CUDA probe's; 1 (notices hidden,
warnings and errors kept) when a driver is present. A user who sets
`TF_CPP_MIN_LOG_LEVEL` themselves, or passes `--verbose`, gets TensorFlow's own
output unchanged. A GPU that TensorFlow sees is reported by `accelerator_line()`.

Some of TensorFlow 2.20's C++ code logs through Abseil, which ignores
`TF_CPP_MIN_LOG_LEVEL` (e.g. Grappler's "W0000 ... op_level_cost_estimator.cc] Error
in PredictCost() for the op: CropAndResize", a harmless warning about dynamic shapes
that reads as an error). For those, `filter_abseil_lines` passes the process's
stderr through a small filter process that drops Abseil's notices and warnings
(`I...`/`W...` lines) at the same quiet levels and keeps its errors. The filter is
a separate process so that nothing written before a crash is lost.

This module imports nothing heavy: it runs before TensorFlow.
"""

import argparse
import glob
import os
import sys

LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"
QUIET_WITHOUT_GPU = "3"
QUIET_WITH_GPU = "1"
# What `python -m <module>` or `python <script>` runs for our commands.
COMMAND_MODULES = ("train", "serving", "benchmarks", "keras_l11")
COMMAND_SCRIPTS = ("quickstart.py",)


def nvidia_driver_present():
    """Whether an NVIDIA driver is installed (Linux device nodes, or WSL's
    libcuda), judged without loading TensorFlow or CUDA."""
    return (
        os.path.exists("/proc/driver/nvidia/version")
        or bool(glob.glob("/dev/nvidia[0-9]*"))
        or os.path.exists("/usr/lib/wsl/lib/libcuda.so.1")
    )


def command_of(argv):
    """The module (`-m`) or script that `argv` (a `sys.orig_argv`) runs, or None."""
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "-m" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("-m") and len(arg) > 2:
            return arg[2:]
        if arg == "-c":
            return None
        if not arg.startswith("-"):
            return os.path.basename(arg)
        i += 2 if arg in ("-X", "-W") else 1  # options with a separate value
    return None


def is_project_command(argv):
    command = command_of(argv)
    if command is None:
        return False
    return command in COMMAND_SCRIPTS or command.split(".")[0] in COMMAND_MODULES


def quiet_tensorflow(environ=None, argv=None):
    """Sets `TF_CPP_MIN_LOG_LEVEL` for a quiet start unless the user set it or
    passed `--verbose`; returns the level in force (None: TensorFlow's default).
    Has no effect once TensorFlow is loaded."""
    environ = os.environ if environ is None else environ
    argv = sys.argv if argv is None else argv
    if LOG_LEVEL in environ or "--verbose" in argv:
        return environ.get(LOG_LEVEL)
    environ[LOG_LEVEL] = QUIET_WITH_GPU if nvidia_driver_present() else QUIET_WITHOUT_GPU
    return environ[LOG_LEVEL]


def quiet_command_line():
    """`quiet_tensorflow()` when this process is one of the project's commands, and
    Abseil's notices and warnings filtered from its stderr when we chose the level."""
    if "tensorflow" not in sys.modules and is_project_command(getattr(sys, "orig_argv", sys.argv)):
        if LOG_LEVEL not in os.environ and "--verbose" not in sys.argv:  # the user asked for nothing
            filter_abseil_lines(quiet_tensorflow())


# An Abseil log line: "W0000 00:00:1796176954.725468   11431 file.cc:699] message".
ABSEIL_LINE = r"[{severities}]\d{{4}} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+\] |WARNING: All log messages before absl::"
_FILTER = """
import re, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C stops the command; its last words still pass
signal.signal(signal.SIGTERM, signal.SIG_IGN)
hidden = re.compile(sys.argv[1].encode())
for line in sys.stdin.buffer:                  # ends when every writer has closed the pipe
    if not hidden.match(line):
        sys.stderr.buffer.write(line)
        sys.stderr.buffer.flush()
"""


def filter_abseil_lines(level):
    """Routes file descriptor 2 through a filter process that drops Abseil lines
    below `level` (1: notices; 2 or 3: notices and warnings). Returns the filter's
    `Popen`, or None where stderr cannot be redirected."""
    import subprocess

    severities = "IW" if int(level) >= 2 else "I"
    try:
        sys.stderr.flush()
        filter_process = subprocess.Popen(
            [sys.executable, "-c", _FILTER, ABSEIL_LINE.format(severities=severities)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=2,  # the terminal (or file) stderr was before
        )
    except OSError:
        return None
    os.dup2(filter_process.stdin.fileno(), 2)
    filter_process.stdin.close()  # fd 2 is now this process's one end of the pipe
    return filter_process


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps a command's docstring (its example commands) and epilog as written, and
    adds "(default: X)" only where a default says something the help does not."""

    def _get_help_string(self, action):
        text = action.help or ""
        quiet = action.default in (None, False, [], "", argparse.SUPPRESS) or not action.option_strings
        if quiet or "default" in text:
            return text
        return f"{text} (default: %(default)s)"


def accelerator_line():
    """One line naming the GPUs TensorFlow sees, a hint when a driver is present
    but TensorFlow sees none, or None on a machine without a GPU."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        names = []
        for gpu in gpus:
            details = tf.config.experimental.get_device_details(gpu)
            capability = details.get("compute_capability")
            cc = f", compute capability {capability[0]}.{capability[1]}" if capability else ""
            names.append(f"{details.get('device_name', gpu.name)}{cc}")
        counted = {n: names.count(n) for n in names}
        return "GPU: " + ", ".join(f"{count} x {name}" for name, count in counted.items())
    if nvidia_driver_present():
        return (
            "note: an NVIDIA driver is installed but TensorFlow sees no GPU "
            "(the plain tensorflow wheel needs CUDA: pip install 'tensorflow[and-cuda]==2.20.*'); running on the CPU"
        )
    return None
