"""A job's command line: the flags every `python -m train.<task>` has, and its help.

Nothing here imports TensorFlow, and neither do the topics' `configs` modules, so
`python -m train.<task> --help` answers in about a second. The help shows the job's
own docstring (with its example commands), the `python -m train.<task>` usage, and a
table of every config field with its value in each config: the names and the
forms `--override FIELD=VALUE` accepts.
"""

import argparse
import dataclasses
import json
import sys

from keras_l11.command_line import HelpFormatter

# The strategies `--strategy` accepts (keras_l11.training.strategy resolves them).
STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")
# `--progress` -> Keras' `verbose`.
PROGRESS = {"bar": 1, "epoch": 2, "none": 0}


def override_text(value):
    """A config value as `--override FIELD=VALUE` takes it (tuples as JSON lists)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return json.dumps(_plain(value), separators=(",", ":"))
    if isinstance(value, float):
        return f"{value:g}"
    if value == "":
        return '""'
    return str(value)


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, (tuple, list)) else value


def config_fields(config, prefix=""):
    """`[(dotted field name, value)]` of a config, nested configs flattened."""
    rows = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if dataclasses.is_dataclass(value):
            rows += config_fields(value, f"{prefix}{field.name}.")
        else:
            rows.append((prefix + field.name, value))
    return rows


def config_table(configs):
    """The help's table: one row per field, one column per config."""
    names = list(configs)
    columns = {name: dict(config_fields(configs[name])) for name in names}
    fields = list(columns[names[0]])
    for name in names[1:]:  # a config of another type (rare) adds its own fields at the end
        fields += [f for f in columns[name] if f not in fields]
    rows = [["field", *names]]
    rows += [[f, *(override_text(columns[n][f]) if f in columns[n] else "-" for n in names)] for f in fields]
    widths = [max(len(r[i]) for r in rows) for i in range(len(names) + 1)]
    lines = ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  " + "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def build_parser(module, description, configs, add_job_flags=None):
    """The common flags; `add_job_flags(parser)` adds a job's own.

    Args:
        module: the job's module name (`__spec__.name`, e.g. "train.ntm"), for the usage line.
        description: the job's docstring.
        configs: `{name: config}`, the values `--config` chooses from.
    """
    epilog = "config fields (change one with --override FIELD=VALUE; --config chooses the column):\n" + config_table(
        configs
    )
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}", description=description, epilog=epilog, formatter_class=HelpFormatter
    )
    g = parser.add_argument_group("experiment")
    default_config = "small" if "small" in configs else next(iter(configs))
    g.add_argument(
        "--config",
        choices=list(configs),
        default=default_config,
        help="smoke: seconds, for tests; small: minutes on a laptop CPU; paper: the paper's settings "
        f"(default: {default_config}; every field's value is in the table below)",
    )
    g.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="change one config field (repeatable), e.g. --override learning_rate=1e-4; a field of a nested "
        "config with a dotted name, e.g. --override model.units=512; a list as JSON, e.g. [64,64]",
    )
    g.add_argument("--steps", type=int, default=None, help="total training steps (instead of the config's)")
    g.add_argument(
        "--epochs", type=int, default=None, help="total epochs of steps_per_epoch steps (an alternative to --steps)"
    )
    g.add_argument("--seed", type=int, default=0, help="seed for weights and data")
    g = parser.add_argument_group("distribution and speed")
    g.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="auto",
        help="auto: multi_worker when TF_CONFIG names several workers, mirrored with several GPUs, else default",
    )
    g.add_argument(
        "--cpu_devices",
        type=int,
        default=0,
        help="split the CPU into N logical devices (to run mirrored on a CPU-only machine)",
    )
    g.add_argument(
        "--mixed_precision",
        action="store_true",
        help="16-bit compute, float32 variables: mixed_float16 on a GPU, mixed_bfloat16 on a CPU or TPU",
    )
    g.add_argument("--jit_compile", action="store_true", help="compile train steps with XLA")
    g.add_argument("--intra_op_threads", type=int, default=0, help="threads inside one op (default: TensorFlow's)")
    g.add_argument("--inter_op_threads", type=int, default=0, help="ops run at once (default: TensorFlow's)")
    g = parser.add_argument_group("outputs")
    g.add_argument(
        "--model_dir",
        default=None,
        help="checkpoints, TensorBoard logs, figures, summary.json (default: runs/<job>/<config>[-<variant>])",
    )
    g.add_argument(
        "--export_dir", default="saved_models", help="SavedModels go to <export_dir>/<model_name>/<version>/"
    )
    g.add_argument("--no_export", action="store_true", help="train and evaluate only")
    g.add_argument(
        "--serving_config",
        default="",
        help="a TF Serving model config file to add the export to, e.g. saved_models/models.config "
        "(by default none; the tracked serving/models.config is rewritten only if named here)",
    )
    g.add_argument("--max_minutes", type=float, default=None, help="stop training after this much wall time")
    g.add_argument(
        "--target",
        default=None,
        metavar="METRIC=VALUE",
        help="record the step and wall time at which a logged metric first falls below VALUE, "
        "e.g. val_bit_errors_per_sequence=0.1",
    )
    g.add_argument("--stop_at_target", action="store_true", help="stop training once --target is reached")
    g.add_argument(
        "--progress",
        choices=list(PROGRESS),
        default=None,
        help="Keras' progress: a bar per epoch, one line per epoch, or none (default: bar on a terminal, else epoch)",
    )
    g.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's start-up and C++ log lines (hidden on a machine without a GPU; "
        "TF_CPP_MIN_LOG_LEVEL, when set, is always obeyed)",
    )
    if add_job_flags:
        add_job_flags(parser)
    return parser


def parse_flags(module, description, configs, add_job_flags=None, argv=None, specialize=None):
    """Parses argv; adds `flags.train_config`, the chosen config with overrides.

    `specialize(flags, config) -> config`, when given, adapts the chosen config to the
    job's own flags before `--override` applies (e.g. the NTM paper's row for the
    `--task` and `--model`)."""
    from keras_l11.training.config import apply_overrides

    parser = build_parser(module, description, configs, add_job_flags)
    flags = parser.parse_args(argv)
    try:
        config = configs[flags.config]
        if specialize:
            config = specialize(flags, config)
        config = apply_overrides(config, flags.override)
    except ValueError as err:
        parser.error(str(err))
    if flags.steps is not None:
        config = dataclasses.replace(config, steps=flags.steps)
    if flags.epochs is not None:
        config = dataclasses.replace(config, steps=flags.epochs * config.steps_per_epoch)
    if flags.stop_at_target and not flags.target:
        parser.error("--stop_at_target needs --target METRIC=VALUE")
    if flags.target:
        name, _, value = flags.target.partition("=")
        try:
            flags.target = (name, float(value))
        except ValueError:
            parser.error(f"--target {flags.target!r}: expected METRIC=VALUE")
    flags.train_config = config
    return flags


def run_main(main):
    """What every job's `if __name__ == "__main__"` calls: a run that diverges
    ends with the harness's message and a non-zero exit, not a traceback (in
    process, `Run.fit` raises `NonFiniteLossError` for the caller to handle)."""
    try:
        return main()
    except Exception as err:
        from keras_l11.training.callbacks import NonFiniteLossError  # loaded by then: the job has trained

        if isinstance(err, NonFiniteLossError):
            sys.exit(f"error: {err}")
        raise
