"""The video models' shapes and names as plain data, importable without TensorFlow
(so a job's `--help` answers at once): the `ConvTower` description every video model
builds from, the papers' towers, the streams and the fusion schedules."""

import dataclasses

STREAMS = ("spatial", "temporal")


@dataclasses.dataclass(frozen=True)
class ConvTower:
    """A convolutional tower: layer i has `filters[i]` kernels of
    `kernels[i]` x `kernels[i]` with stride `strides[i]`, then local response
    normalisation if `norms[i]` and max pooling with stride 2 if `pools[i]`
    (`pool_size` 3, the papers' overlapping pooling, or 2, which keeps small
    inputs' sizes exact); then a fully connected layer of each of `fc_units` with
    dropout `dropout`.

    `temporal[i] = (frames, stride)` extends layer i over time (3-D
    convolution, valid in time); the layers with it come first and must leave
    one time step.
    """

    filters: tuple = (32, 64, 96)
    kernels: tuple = (5, 3, 3)
    strides: tuple = (2, 1, 1)
    norms: tuple = (False, False, False)
    pools: tuple = (True, True, True)
    fc_units: tuple = (256,)
    dropout: float = 0.0
    temporal: tuple = ()
    pool_size: int = 2

    def __post_init__(self):
        n = len(self.filters)
        for name in ("kernels", "strides", "norms", "pools"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"ConvTower.{name} needs {n} entries (one per layer), got {getattr(self, name)}")
        if len(self.temporal) > n:
            raise ValueError(f"ConvTower.temporal has {len(self.temporal)} entries for {n} layers")

    def config(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config):
        """A `ConvTower` from itself or from its `config()` (lists become tuples)."""
        if isinstance(config, cls):
            return config

        def frozen(v):
            return tuple(frozen(x) for x in v) if isinstance(v, (list, tuple)) else v

        return cls(**{k: frozen(v) for k, v in config.items()})


# CNN-M-2048 (Simonyan & Zisserman 2014, Fig. 1 and Chatfield et al. 2014), 3 x 3 stride 2 pooling.
CNN_M_2048 = ConvTower(
    filters=(96, 256, 512, 512, 512),
    kernels=(7, 5, 3, 3, 3),
    strides=(2, 2, 1, 1, 1),
    norms=(True, True, False, False, False),
    pools=(True, True, False, False, True),
    fc_units=(4096, 2048),
    dropout=0.5,
    pool_size=3,
)
CNN_M_2048_TEMPORAL = dataclasses.replace(CNN_M_2048, norms=(True, False, False, False, False))  # no conv2 norm

FUSIONS = ("single", "early", "late", "slow")
CLIP_FRAMES = {"single": 1, "early": 10, "late": 16, "slow": 10}
SLOW_SCHEDULE = ((4, 2), (2, 2), (2, 2))  # (frames, stride) of the first three convolutions

KARPATHY_TOWER = ConvTower(
    filters=(96, 256, 384, 384, 256),
    kernels=(11, 5, 3, 3, 3),
    strides=(3, 1, 1, 1, 1),
    norms=(True, True, False, False, False),
    pools=(True, True, False, False, True),
    fc_units=(4096, 4096),
    dropout=0.5,
    pool_size=3,
)

# CaffeNet (AlexNet as Caffe's reference model) up to fc6, LRCN's visual feature (Donahue et al. 2015).
CAFFENET_FC6 = ConvTower(
    filters=(96, 256, 384, 384, 256),
    kernels=(11, 5, 3, 3, 3),
    strides=(4, 1, 1, 1, 1),
    norms=(True, True, False, False, False),
    pools=(True, True, False, False, True),
    fc_units=(4096,),
    dropout=0.5,
    pool_size=3,
)
