"""Experiment configs: one dataclass type per job, `smoke`/`small`/`paper` are values.

Following tensorflow/models `official/`, an experiment is data, not code: a
job declares its config type (a subclass of `TrainConfig`) and three values
of it. `--override key=value` changes any field from the command line. A job's
config nests its model's own config (a dataclass of the model's arguments): one of
its fields is changed with a dotted key (`--override ntm.memory_size=64`), or
several with JSON (`--override 'tower={"dropout": 0.5}'`).
"""

import dataclasses
import json


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """What every job has.

    Attributes:
        batch_size: per-replica batch; the global batch is this times the
            number of replicas in sync.
        steps: total training steps (batches).
        steps_per_epoch: steps between checkpoints and validation runs.
        learning_rate: optimiser learning rate (the base rate, with multipliers).
        optimizer: "adam", "sgd", "rmsprop" or "rmsprop_centered" (Graves 2013,
            the NTM paper's); see `keras_l11.training.optimizers`.
        momentum: of "sgd", "rmsprop" and "rmsprop_centered".
        clip_norm: global gradient-norm clipping (0 = none).
        weight_decay: L2 weight decay on kernels, added to the gradient before
            momentum as in Caffe (the FCN and depth papers); "sgd" only.
        learning_rate_multipliers: `[[variable path pattern, multiplier], ...]`,
            per-layer learning rates (the first matching pattern wins); "sgd" only.
        learning_rate_steps: `[[step, learning rate], ...]`: from each step on,
            that learning rate (a paper's schedule); empty: `learning_rate` throughout.
    """

    batch_size: int = 32
    steps: int = 1000
    steps_per_epoch: int = 100
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    momentum: float = 0.9
    clip_norm: float = 10.0
    weight_decay: float = 0.0
    learning_rate_multipliers: tuple = ()
    learning_rate_steps: tuple = ()


def weights_source(value):
    """A config's `weights` field as Keras takes it: "none" or "" (a random start) -> None;
    "imagenet" or a weights file as given."""
    return None if value in (None, "", "none") else value


def _frozen(value):
    """JSON lists as tuples (configs are frozen dataclasses)."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def apply_overrides(config, overrides):
    """Returns `config` with `["field=value", ...]` applied, values typed like the
    field; `"nested.field=value"` changes one field of a nested config."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    changes, nested = {}, {}
    for item in overrides or ():
        key, sep, raw = item.partition("=")
        head, dot, rest = key.partition(".")
        if sep and dot and head in fields and dataclasses.is_dataclass(getattr(config, head)):
            nested.setdefault(head, []).append((f"{rest}={raw}", item))
            continue
        if not sep or key not in fields:
            raise ValueError(f"--override {item!r}: expected field=value with field one of {sorted(fields)}")
        current = getattr(config, key)
        try:
            if isinstance(current, bool):
                value = raw.lower() in ("1", "true", "yes")
            elif isinstance(current, (int, float)):
                value = type(current)(float(raw)) if isinstance(current, int) else float(raw)
            elif isinstance(current, (tuple, list)):
                value = tuple(_frozen(v) for v in json.loads(raw))  # nested lists too: configs are hashable
            elif dataclasses.is_dataclass(current):  # a nested config: JSON of the fields to change
                changed = json.loads(raw)
                if not isinstance(changed, dict):
                    raise ValueError(raw)
                value = dataclasses.replace(current, **{k: _frozen(v) for k, v in changed.items()})
            else:
                value = raw
        except (ValueError, TypeError) as err:
            raise ValueError(f"--override {item!r}: {key} needs a {type(current).__name__} ({err})") from err
        changes[key] = value
    for head, items in nested.items():  # a nested config's fields change together (they may depend on each other)
        try:
            changes[head] = apply_overrides(changes.get(head, getattr(config, head)), [inner for inner, _ in items])
        except ValueError as err:
            message = str(err)
            for inner, item in items:
                message = message.replace(f"--override {inner!r}", f"--override {item!r}")
            raise ValueError(message) from None
    return dataclasses.replace(config, **changes)
