"""The one training harness every `python -m train.<task>` job uses.

A job reads like this (see `train/ntm.py`):

    flags = cli.parse_flags(__spec__.name, __doc__, CONFIGS, add_job_flags)  # no TensorFlow yet
    from keras_l11.training import harness  # the job's heavy imports come after the flags

    run = harness.start(flags, "ntm_copy")  # devices, strategy, seed, precision
    result = run.fit(build_model, loss, metrics, train_data, eval_data)
    run.evaluate(result.model, {"length 120": make_eval_set})
    run.export(result.model, "ntm_copy", signatures)
    run.write_summary()

Everything jobs share lives here once: the flags, strategy choice (global
batch = per-replica batch x replicas), resumable checkpoints, TensorBoard,
gradient clipping, the non-finite-loss stop, evaluation tables, export to
`saved_models/<name>/<version>/` and, on request (`--serving_config`), registration in
a TF Serving model config.
"""

import contextlib
import dataclasses
import json
import os
import random
import sys
import time

import keras
import numpy as np

from keras_l11 import command_line
from keras_l11.training import callbacks as cb
from keras_l11.training import export as export_lib
from keras_l11.training import keras_compat, optimizers
from keras_l11.training import strategy as strategy_lib
from keras_l11.training.cli import PROGRESS


@dataclasses.dataclass
class FitResult:
    model: keras.Model
    history: dict
    summary: dict


class Run:
    """One training run: strategy, directories and the steps of a job."""

    def __init__(self, flags, strategy, model_dir, strategy_name="default"):
        self.flags = flags
        self.config = flags.train_config
        self.strategy = strategy
        self.model_dir = model_dir
        self.is_chief = strategy_lib.is_chief(strategy)
        self.global_batch_size = self.config.batch_size * strategy.num_replicas_in_sync
        self.summary = {
            "config": flags.config,
            "train_config": dataclasses.asdict(self.config),
            "strategy": strategy_name,
            "replicas": strategy.num_replicas_in_sync,
            "global_batch_size": self.global_batch_size,
        }

    @property
    def backup_dir(self):
        """Per-worker checkpoint folder (workers must not write the same files)."""
        return self._backup_dir(self.model_dir)

    def _backup_dir(self, folder):
        index = strategy_lib.worker_index(self.strategy)
        return os.path.join(folder, "backup" if index == 0 else f"backup_worker{index}")

    def fit(
        self,
        build_model,
        loss,
        metrics,
        train_data,
        eval_data=None,
        weighted_metrics=None,
        loss_weights=None,
        name=None,
        steps=None,
        optimizer_config=None,
    ):
        """Builds, compiles and trains a model under the run's strategy.

        Args:
            build_model: `() -> keras.Model`, called inside the strategy scope.
            loss: a Keras loss.
            metrics: `() -> list of Keras metrics` (fresh objects per call).
            train_data: `(global_batch_size, seed, start_step) -> tf.data.Dataset`,
                endless; `start_step` is where a resumed run picks up.
            eval_data: optional `(global_batch_size) -> tf.data.Dataset`, finite;
                evaluated at the end of every epoch (`val_*` metrics).
            weighted_metrics: optional `() -> list of Keras metrics` that get
                the data's sample weights (Keras gives none to `metrics`), e.g.
                a padding mask.
            loss_weights: optional weights of a multi-output model's losses.
            name: for jobs that train several models: this one's checkpoints
                and TensorBoard logs go to `<model_dir>/<name>/`, and its
                figures to the summary's `fits/<name>`.
            steps: this model's total steps (default: the config's `steps`).
            optimizer_config: a `TrainConfig` whose optimiser fields train this
                model (default: the run's), for a job whose models train differently.

        Returns:
            `FitResult` with the trained model, the history and a summary.
        """
        c, flags = self.config, self.flags
        epochs = max(1, -(-(steps or c.steps) // c.steps_per_epoch))
        folder = os.path.join(self.model_dir, name) if name else self.model_dir
        backup_dir = self._backup_dir(folder)
        start_epoch = cb.ResumableBackup.saved_epoch(backup_dir)
        with self.strategy.scope():
            model = build_model()
            model.compile(
                optimizer=optimizers.build_optimizer(optimizer_config or self.config),
                loss=loss,
                metrics=metrics(),
                weighted_metrics=weighted_metrics() if weighted_metrics else None,
                loss_weights=loss_weights,
                jit_compile=bool(flags.jit_compile),
            )
        dataset = train_data(self.global_batch_size, flags.seed, start_epoch * c.steps_per_epoch)
        if self.summary["strategy"] == "multi_worker":
            keras_compat.build_from_spec(model, self.strategy, dataset.element_spec)
        budget = cb.TrainingBudget(
            c.steps_per_epoch,
            max_seconds=flags.max_minutes * 60 if flags.max_minutes else None,
            monitor=flags.target[0] if flags.target else None,
            below=flags.target[1] if flags.target else None,
            stop_at_target=flags.stop_at_target,
        )
        callbacks = [
            cb.StopOnNonFiniteLoss(c.steps_per_epoch),
            cb.ResumableBackup(backup_dir, c.steps_per_epoch),
            budget,
        ]
        if self.is_chief:
            callbacks.append(keras.callbacks.TensorBoard(os.path.join(folder, "logs"), profile_batch=0))
        validation = self._even_split(eval_data(self.global_batch_size)) if eval_data else None
        verbose = PROGRESS[flags.progress or ("bar" if os.isatty(1) else "epoch")]
        if start_epoch >= epochs:
            print(f"Training already complete ({start_epoch * c.steps_per_epoch} steps in {backup_dir}).")
        started = time.perf_counter()
        history = model.fit(
            dataset,
            epochs=epochs,
            steps_per_epoch=c.steps_per_epoch,
            validation_data=validation,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,
        )
        (self.summary.setdefault("fits", {}).setdefault(name, {}) if name else self.summary).update(
            {
                "parameters": int(model.count_params()),
                "trainable_parameters": int(sum(int(np.prod(v.shape)) for v in model.trainable_weights)),
                "optimizer_variables": int(sum(int(np.prod(v.shape)) for v in model.optimizer.variables)),
                "resumed_from_step": start_epoch * c.steps_per_epoch,
                "final_step": (history.epoch[-1] + 1 if history.epoch else start_epoch) * c.steps_per_epoch,
                "train_seconds": round(time.perf_counter() - started, 2),
                "target": flags.target
                and {"metric": flags.target[0], "below": flags.target[1], "reached": budget.reached},
                "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
            }
        )
        return FitResult(model, history.history, self.summary)

    def _even_split(self, dataset):
        """`dataset` with each batch cut to a multiple of the replicas in sync.

        Keras 3 under tf.distribute fails on a last batch that splits unevenly
        across replicas ("Inputs to operation AddN ... must have the same size
        and shape"), so up to `replicas - 1` examples of the last batch are left
        out of in-training evaluation. Jobs compute their reported figures on
        `local_copy`, outside the strategy, from every example.
        """
        import tensorflow as tf

        replicas = self.strategy.num_replicas_in_sync
        if replicas == 1:
            return dataset

        def cut(*batch):
            n = tf.shape(tf.nest.flatten(batch)[0])[0]
            return tf.nest.map_structure(lambda t: t[: n - n % replicas], batch)

        return dataset.map(cut).filter(lambda *batch: tf.shape(tf.nest.flatten(batch)[0])[0] > 0)

    def evaluate(self, model, datasets, caption=None, columns=None, first_column="set"):
        """Evaluates `model` on named datasets; prints and records a table.

        Args:
            datasets: name -> `(global_batch_size) -> tf.data.Dataset`.
            caption: what the table shows, printed above it: what a row is, the
                units, and whether lower or higher is better.
            columns: optional `{metric: header}`; the printed table has these
                columns in this order (`summary.json` records every metric).
            first_column: the header of the rows' names.

        Returns:
            name -> dict of metric values.
        """
        results = {}
        for name, make in datasets.items():
            data = self._even_split(make(self.global_batch_size))
            results[name] = model.evaluate(data, verbose=0, return_dict=True)
        if results:
            headers = columns or {k: k for k in sorted(next(iter(results.values())))}
            rows = [[n] + [r[k] for k in headers] for n, r in results.items()]
            print(f"\n{caption or 'Evaluation:'}\n" + format_table([first_column, *headers.values()], rows))
        self.summary.setdefault("evaluation", {}).update(
            {n: {k: float(v) for k, v in r.items()} for n, r in results.items()}
        )
        return results

    def local_copy(self, model):
        """The model rebuilt outside any strategy, with the trained weights
        (what export and plotting use, so no distributed variable leaks in)."""
        copy = model.__class__.from_config(model.get_config())
        copy.set_weights(model.get_weights())
        return copy

    def export(self, model, model_name, signatures, assets=()):
        """Exports on the chief only; returns the version path (None elsewhere).

        Args:
            model: the trained model (a local copy is exported).
            model_name: folder under `--export_dir` and the name in the serving config.
            signatures: `(local_model) -> {signature name: export.Signature}`;
                it is given the local copy so the endpoints close over it.
            assets: other layers the signatures use (tokenisers).
        """
        if self.flags.no_export or not self.is_chief:
            return None
        local = self.local_copy(model)
        base = os.path.join(self.flags.export_dir, model_name)
        path = export_lib.export_saved_model(local, base, signatures(local), assets)
        if self.flags.serving_config:
            export_lib.register_model(self.flags.serving_config, model_name, base)
        print(
            f"Exported {model_name} to {path}"
            + (f" (registered in {self.flags.serving_config})" if self.flags.serving_config else "")
        )
        self.summary["export"] = path
        self.summary.setdefault("exports", []).append(path)
        return path

    def save_keras(self, model):
        """Saves a local copy as `model.keras` in the model dir (chief only), for
        a later stage to start from (`keras_l11.training.transfer.initialize_from`)."""
        if not self.is_chief:
            return None
        from keras_l11.training.transfer import SAVED_MODEL_FILE

        path = os.path.join(self.model_dir, SAVED_MODEL_FILE)
        self.local_copy(model).save(path)
        self.summary["saved_model_file"] = path
        return path

    def write_summary(self):
        """Writes `summary.json` (metrics, timings, export path) to the model dir."""
        if not self.is_chief:
            return None
        path = os.path.join(self.model_dir, "summary.json")
        with open(path, "w") as f:
            json.dump(self.summary, f, indent=2, default=str)
        return path


def run_dir(job, config, variant=None):
    """The one place a run folder is named: `runs/<job>/<config>`, or
    `runs/<job>/<config>-<variant>` for a job that trains several kinds of model
    (a stream, a stage, a code), relative to the working directory."""
    return os.path.join("runs", job, f"{config}-{variant}" if variant else config)


def start(flags, job, variant=None):
    """Sets up devices, strategy, seed and precision; returns a `Run`.

    Call it before any other TensorFlow work: logical devices and
    multi-worker collectives can only be configured first.
    """
    strategy_name = strategy_lib.resolve(flags.strategy)
    inter_op_threads = flags.inter_op_threads
    if strategy_name != "default" and inter_op_threads:
        # Each replica's step and the all-reduce between them wait on one another
        # inside the inter-op pool: a small pool deadlocks (seen with 2 threads).
        print(
            f"note: --inter_op_threads {inter_op_threads} ignored under the {strategy_name} strategy "
            "(replicas need free inter-op threads for their collectives)",
            flush=True,
        )
        inter_op_threads = 0
    strategy_lib.setup_devices(flags.cpu_devices, flags.intra_op_threads, inter_op_threads)
    strategy = strategy_lib.make_strategy(strategy_name)
    if strategy_name == "multi_worker":
        keras_compat.patch_multi_worker_log_reduction()
    keras.utils.set_random_seed(flags.seed)
    random.seed(flags.seed)
    np.random.seed(flags.seed)
    if flags.mixed_precision:
        keras.mixed_precision.set_global_policy(mixed_precision_policy(strategy))
    model_dir = flags.model_dir = flags.model_dir or run_dir(job, flags.config, variant)
    os.makedirs(model_dir, exist_ok=True)
    replicas = strategy.num_replicas_in_sync
    policy = f", {keras.mixed_precision.dtype_policy().name}" if flags.mixed_precision else ""
    print(
        f"{job}{' ' + variant if variant else ''}: config {flags.config}, {strategy_name} strategy "
        f"({replicas} replica{'s' if replicas > 1 else ''}{policy}), run folder {model_dir}",
        flush=True,
    )
    accelerators = command_line.accelerator_line()
    if accelerators:
        print(accelerators, flush=True)
    return Run(flags, strategy, model_dir, strategy_name)


def mixed_precision_policy(strategy):
    """`mixed_float16` where the replicas are GPUs (their tensor cores), else
    `mixed_bfloat16`: float16 arithmetic on a CPU is emulated (a VGG16 step at
    224 x 224, batch 2, took 26-33 s here against 2.1 s in float32), while bfloat16
    runs natively on CPUs with AVX512-BF16 or AMX (0.9 s) and on TPUs."""
    import tensorflow as tf

    try:
        devices = [tf.DeviceSpec.from_string(d).device_type or "" for d in strategy.extended.worker_devices]
    except RuntimeError:  # the default strategy: the first visible device runs everything
        devices = ["GPU" if tf.config.list_logical_devices("GPU") else "CPU"]
    return "mixed_float16" if any(d.upper() == "GPU" for d in devices) else "mixed_bfloat16"


DATA_ERRORS = (FileNotFoundError, ImportError, ValueError)


@contextlib.contextmanager
def exit_on_missing_data():
    """Inside it, a data set that is missing, not installed or malformed ends the
    job with `error: <what is wrong and how to get it>` (exit status 1) instead of
    a traceback. Every job that reads a data set loads it inside one, directly or
    through its topic's task code."""
    try:
        yield
    except DATA_ERRORS as err:
        sys.exit(f"error: {err}")


def _cell(value):
    """A table cell: floats with 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def format_table(header, rows):
    """A plain-text table; floats with 4 significant digits."""
    text = [[_cell(v) for v in row] for row in [header] + rows]
    widths = [max(len(r[i]) for r in text) for i in range(len(header))]
    lines = ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in text]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_markdown(header, rows):
    """A Markdown table; floats with 4 significant digits."""
    lines = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in [header] + rows]
    lines.insert(1, "|" + "---|" * len(header))
    return "\n".join(lines)
