"""The optimisers a config names, with the papers' extras Keras lacks: per-layer
learning rates and Caffe's L2 weight decay.

`TrainConfig.optimizer` names one of `OPTIMIZERS`:

- "adam": Keras' Adam.
- "sgd": SGD with `momentum` (Graves 2013's language models: 0.9; FCN: 0.99).
- "rmsprop": Keras' RMSprop (rho 0.9, epsilon 1e-7) with `momentum`.
- "rmsprop_centered": Graves (2013), eqs. 38-41, the form the NTM paper trains
  with: n = 0.95 n + 0.05 g^2, gbar = 0.95 gbar + 0.05 g,
  D = momentum D - lr g / sqrt(n - gbar^2 + 1e-4), w = w + D (Keras' centred
  RMSprop is exactly this with rho 0.95 and epsilon 1e-4 inside the root).

Caffe-trained papers (FCN, Eigen et al.'s depth network) set a learning rate per
layer and an L2 weight decay that is added to the gradient, before momentum. With
SGD both are exact as a change of each variable's gradient before the update:
`g' = multiplier * (g + weight_decay * w)` (weight decay on kernels, not biases, as
the papers' `decay_mult: 0` on biases). With Adam or RMSprop a scaled gradient
does not scale the step, so multipliers there are refused.
"""

import fnmatch

import keras
from keras import ops

OPTIMIZERS = ("adam", "sgd", "rmsprop", "rmsprop_centered")


def _transform(grads, variables, multipliers, weight_decay):
    out = []
    for grad, variable in zip(grads, variables):
        if grad is not None:
            if weight_decay and _is_kernel(variable):
                grad = grad + ops.cast(weight_decay, grad.dtype) * ops.cast(variable, grad.dtype)
            multiplier = learning_rate_multiplier(variable.path, multipliers)
            if multiplier != 1.0:
                grad = grad * ops.cast(multiplier, grad.dtype)
        out.append(grad)
    return out


def _is_kernel(variable):
    return variable.path.rsplit("/", 1)[-1] in ("kernel", "depthwise_kernel", "embeddings")


def learning_rate_multiplier(path, multipliers):
    """The multiplier of the first `(pattern, multiplier)` whose shell pattern
    matches the variable's path (e.g. "depth_network/coarse_fc*"), else 1."""
    for pattern, multiplier in multipliers:
        if fnmatch.fnmatchcase(path, pattern):
            return float(multiplier)
    return 1.0


class _PerVariableGradients:
    """Mixed into a Keras optimizer: changes each gradient as above before the update."""

    def __init__(self, *args, learning_rate_multipliers=(), l2_weight_decay=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.learning_rate_multipliers = tuple((str(p), float(m)) for p, m in learning_rate_multipliers)
        self.l2_weight_decay = float(l2_weight_decay)

    def apply(self, grads, trainable_variables=None):
        variables = self._trainable_variables if trainable_variables is None else trainable_variables
        variables = list(variables)
        return super().apply(
            _transform(list(grads), variables, self.learning_rate_multipliers, self.l2_weight_decay), variables
        )

    def get_config(self):
        config = super().get_config()
        config["learning_rate_multipliers"] = [list(p) for p in self.learning_rate_multipliers]
        config["l2_weight_decay"] = self.l2_weight_decay
        return config


@keras.saving.register_keras_serializable(package="keras_l11")
class CaffeSGD(_PerVariableGradients, keras.optimizers.SGD):
    """SGD with momentum, per-layer learning-rate multipliers and L2 weight decay
    added to the gradient before momentum, as Caffe's solver (the FCN and depth
    papers' training).

    Args:
        learning_rate: the base learning rate.
        momentum: float.
        learning_rate_multipliers: `((variable path pattern, multiplier), ...)`;
            the first match wins, unmatched variables get 1.
        l2_weight_decay: float, on kernels.
        **kwargs: `keras.optimizers.SGD`'s other arguments.

    Example:

    ```python
    optimizer = CaffeSGD(1e-3, momentum=0.9, learning_rate_multipliers=[("*/coarse_fc*", 100.0)])
    ```
    """


def learning_rate(config):
    """`learning_rate`, or with `learning_rate_steps` a piecewise-constant schedule
    that starts at `learning_rate` and changes at each listed step."""
    steps = tuple(tuple(s) for s in getattr(config, "learning_rate_steps", ()))
    if not steps:
        return config.learning_rate
    boundaries = [int(step) for step, _ in steps]
    if boundaries != sorted(set(boundaries)) or boundaries[0] <= 0:
        raise ValueError(f"learning_rate_steps must have increasing positive steps, got {steps}")
    values = [float(config.learning_rate)] + [float(rate) for _, rate in steps]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def build_optimizer(config):
    """The optimiser of a `TrainConfig`: `optimizer`, `learning_rate` (and
    `learning_rate_steps`), `momentum`, `clip_norm`, `weight_decay` and
    `learning_rate_multipliers`."""
    c = config
    rate = learning_rate(c)
    clip = {"global_clipnorm": c.clip_norm} if c.clip_norm else {}
    multipliers = tuple(tuple(m) for m in getattr(c, "learning_rate_multipliers", ()))
    weight_decay = getattr(c, "weight_decay", 0.0)
    momentum = getattr(c, "momentum", 0.9)
    if c.optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(map(repr, OPTIMIZERS))}, got {c.optimizer!r}")
    if (multipliers or weight_decay) and c.optimizer != "sgd":
        raise ValueError(
            f"learning_rate_multipliers and weight_decay need optimizer 'sgd' (got {c.optimizer!r}): "
            "a scaled gradient scales the step of SGD only"
        )
    if c.optimizer == "sgd":
        if multipliers or weight_decay:
            return CaffeSGD(
                rate,
                momentum=momentum,
                learning_rate_multipliers=multipliers,
                l2_weight_decay=weight_decay,
                **clip,
            )
        return keras.optimizers.SGD(rate, momentum=momentum, **clip)
    if c.optimizer == "adam":
        return keras.optimizers.Adam(rate, **clip)
    if c.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(rate, momentum=momentum, **clip)
    return keras.optimizers.RMSprop(rate, rho=0.95, momentum=momentum, epsilon=1e-4, centered=True, **clip)
