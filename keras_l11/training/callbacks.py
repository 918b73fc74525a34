"""Callbacks every job gets: resumable checkpoints, a clear stop on a
non-finite loss, a wall-clock budget and an optional target metric."""

import json
import math
import os
import time

import keras


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stops at the first non-finite loss with the step, the value and a hint.

    Unlike `keras.callbacks.TerminateOnNaN`, which stops quietly and lets the
    job export a broken model, this raises `NonFiniteLossError`.
    """

    def __init__(self, steps_per_epoch):
        super().__init__()
        self.steps_per_epoch = steps_per_epoch
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = float(loss)
        if not math.isfinite(loss):
            step = self._epoch * self.steps_per_epoch + batch + 1
            raise NonFiniteLossError(
                f"Non-finite loss ({loss}) at step {step}. Training stopped; the last good "
                "checkpoint is kept. Hint: lower the learning rate (--override learning_rate=...), "
                "tighten gradient clipping (--override clip_norm=...), or check the input data "
                "for NaN/Inf values."
            )


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that keeps its checkpoint after training and says
    where it resumes from.

    Checkpoints are written at the end of each epoch (`steps_per_epoch` steps).
    A job killed at any moment restarts from the last one; a finished job run
    again trains no further and goes straight to evaluation and export.
    """

    def __init__(self, backup_dir, steps_per_epoch):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=False)
        self.steps_per_epoch = steps_per_epoch

    @staticmethod
    def saved_epoch(backup_dir):
        """The epoch a checkpoint in `backup_dir` resumes at (0 if none)."""
        path = os.path.join(backup_dir, "training_metadata.json")
        if not os.path.exists(path):
            return 0
        with open(path) as f:
            return int(json.load(f)["epoch"])

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        epoch = self.saved_epoch(self.backup_dir)
        if epoch:
            print(
                f"Resuming from checkpoint in {self.backup_dir}: epoch {epoch}, step {epoch * self.steps_per_epoch}.",
                flush=True,
            )


class TrainingBudget(keras.callbacks.Callback):
    """Ends training at an epoch boundary once a wall-clock budget is spent,
    and records when a monitored metric first fell below a target (ending
    training there too if `stop_at_target`).

    Attributes (read them after `fit`):
        seconds: training wall time so far (this process).
        reached: `{"step", "seconds", "value"}` the first time the target was met.
    """

    def __init__(self, steps_per_epoch, max_seconds=None, monitor=None, below=None, stop_at_target=False):
        super().__init__()
        self.steps_per_epoch = steps_per_epoch
        self.max_seconds = max_seconds
        self.monitor = monitor
        self.below = below
        self.stop_at_target = stop_at_target
        self.reached = None
        self.seconds = 0.0
        self._start = None

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self._start
        logs = logs or {}
        if self.monitor and self.monitor not in logs:
            raise KeyError(f"--target monitors {self.monitor!r}, which is not among {sorted(logs)}")
        if self.monitor and self.reached is None and float(logs[self.monitor]) < self.below:
            self.reached = {
                "step": (epoch + 1) * self.steps_per_epoch,
                "seconds": round(self.seconds, 2),
                "value": float(logs[self.monitor]),
            }
            print(
                f"{self.monitor} = {float(logs[self.monitor]):.4g} < {self.below} at step "
                f"{self.reached['step']} after {self.seconds:.1f} s" + (": stopping." if self.stop_at_target else "."),
                flush=True,
            )
            if self.stop_at_target:
                self.model.stop_training = True
        if self.max_seconds is not None and self.seconds >= self.max_seconds:
            print(
                f"Time budget of {self.max_seconds:.0f} s spent at step "
                f"{(epoch + 1) * self.steps_per_epoch}: stopping.",
                flush=True,
            )
            self.model.stop_training = True
