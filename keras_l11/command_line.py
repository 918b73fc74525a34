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
    for i, arg in enumerate(argv[1:], start=1):
        if arg == "-m" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("-m") and len(arg) > 2:
            return arg[2:]
        if arg == "-c":
            return None
        if not arg.startswith("-"):
            return os.path.basename(arg)
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
    """`quiet_tensorflow()` when this process is one of the project's commands."""
    if "tensorflow" not in sys.modules and is_project_command(getattr(sys, "orig_argv", sys.argv)):
        quiet_tensorflow()


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
