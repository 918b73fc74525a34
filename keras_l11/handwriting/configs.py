"""The handwriting experiments as data: `HandwritingExperiment`, whose `smoke`,
`small` and `paper` values are in `CONFIGS`. It nests the networks' own arguments
(`--override model.units=256`).

Models are imported inside the builders, so that reading a config (a job's
`--help`) does not load TensorFlow.
"""

import dataclasses

from keras_l11.training.config import TrainConfig


@dataclasses.dataclass(frozen=True)
class HandwritingModelConfig:
    """The prediction and synthesis networks' arguments (`window_components`, K, is
    the synthesis network's only); the paper's: 3 x 400 peephole LSTM, M = 20, K = 10."""

    units: int = 400
    num_layers: int = 3
    num_components: int = 20
    window_components: int = 10
    cell: str = "lstm"


@dataclasses.dataclass(frozen=True)
class HandwritingExperiment(TrainConfig):
    """A handwriting experiment.

    Attributes:
        max_length: points per training line (prediction: longer lines are cut;
            synthesis: left out); 0: whole lines. Held-out lines are always scored whole.
        data: "synthetic" (offline) or "iam" (IAM-OnDB at `--data_path`, split as the paper).
    """

    model: HandwritingModelConfig = HandwritingModelConfig()
    max_length: int = 400
    data: str = "synthetic"
    train_samples: int = 4000  # synthetic lines
    test_samples: int = 200
    num_writers: int = 8


CONFIGS = {
    "smoke": HandwritingExperiment(
        batch_size=16,
        steps=120,
        steps_per_epoch=40,
        learning_rate=5e-3,
        model=HandwritingModelConfig(units=32, num_layers=1, num_components=5, window_components=3),
        max_length=120,
        train_samples=200,
        test_samples=32,
        num_writers=2,
    ),
    "small": HandwritingExperiment(
        batch_size=32,
        steps=2000,
        steps_per_epoch=200,
        learning_rate=2e-3,
        clip_norm=5.0,
        model=HandwritingModelConfig(units=128, num_layers=2, num_components=10),
        max_length=300,
    ),
    # The paper (Graves 2013, sections 4 and 5): 3 x 400 LSTMs with peepholes and skip connections, 20 mixture
    # and 10 window components, whole lines of IAM-OnDB (trained on its training set, test set and second
    # validation set, scored on the first), his centred RMSProp (eqs. 38-41: momentum 0.9, learning rate 1e-4);
    # he clips the LSTM derivatives to [-10, 10] and the output derivatives to [-100, 100], here the global norm.
    "paper": HandwritingExperiment(
        batch_size=32,
        steps=200_000,
        steps_per_epoch=1000,
        learning_rate=1e-4,
        optimizer="rmsprop_centered",
        clip_norm=10.0,
        max_length=0,
        data="iam",
        model=HandwritingModelConfig(cell="peephole"),
    ),
}


def build_handwriting_network(network, config, alphabet):
    """The `prediction` or `synthesis` network of the config (synthesis: over `alphabet`)."""
    from keras_l11.handwriting.prediction import HandwritingPredictionNetwork
    from keras_l11.handwriting.synthesis import HandwritingSynthesisNetwork

    arch = config.model
    if network == "prediction":
        return HandwritingPredictionNetwork(arch.units, arch.num_layers, arch.num_components, cell=arch.cell)
    return HandwritingSynthesisNetwork(**dataclasses.asdict(arch), alphabet=alphabet)
