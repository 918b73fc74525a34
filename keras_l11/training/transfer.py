"""Staged training: a model initialised from the layers of an earlier stage's
model (FCN 32s -> 16s -> 8s; Eigen's coarse -> fine depth network)."""

import os

import keras

SAVED_MODEL_FILE = "model.keras"  # what `Run.save_keras` writes into a run folder


def transfer_weights(source, target):
    """Copies the weights of every layer of `source` that `target` has under the
    same name with the same shapes; returns the names of the layers copied."""
    copied = []
    for layer in target.layers:
        try:
            other = source.get_layer(layer.name)
        except ValueError:
            continue
        mine, theirs = layer.get_weights(), other.get_weights()
        if mine and len(mine) == len(theirs) and all(a.shape == b.shape for a, b in zip(mine, theirs)):
            layer.set_weights(theirs)
            copied.append(layer.name)
    return copied


def saved_model_file(run_dir):
    """The model file an earlier run saved in `run_dir`, or FileNotFoundError."""
    path = os.path.join(run_dir, SAVED_MODEL_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no {SAVED_MODEL_FILE} in {run_dir}: train the earlier stage first")
    return path


def load_saved_model(run_dir):
    """The model an earlier run saved in `run_dir` (a folder the user names on
    the command line, never a request's path)."""
    return keras.saving.load_model(saved_model_file(run_dir), compile=False)


def initialize_from(target, run_dir):
    """`transfer_weights` from the model an earlier run saved in `run_dir`."""
    copied = transfer_weights(load_saved_model(run_dir), target)
    if not copied:
        raise ValueError(f"the model in {run_dir} shares no layer with this one")
    return copied
