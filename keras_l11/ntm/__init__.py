"""The Neural Turing Machine (Graves, Wayne & Danihelka 2014) and its LSTM baseline,
on the paper's copy, repeat copy, associative recall and priority sort tasks.
"""

from typing import TYPE_CHECKING

from keras_l11 import lazy

if TYPE_CHECKING:
    from keras_l11.ntm.cell import NTMCell
    from keras_l11.ntm.metrics import (
        BitErrorsPerSequence,
        BitsPerSequence,
        SequenceBinaryCrossentropy,
        bit_errors_per_sequence,
        bits_per_sequence,
        nats_per_sequence,
        repeat_copy_error_split,
    )
    from keras_l11.ntm.models import NeuralTuringMachine, SequenceLSTM
    from keras_l11.ntm.tasks import TASKS

__all__ = [
    "BitErrorsPerSequence",
    "BitsPerSequence",
    "NTMCell",
    "NeuralTuringMachine",
    "SequenceBinaryCrossentropy",
    "SequenceLSTM",
    "TASKS",
    "bit_errors_per_sequence",
    "bits_per_sequence",
    "nats_per_sequence",
    "repeat_copy_error_split",
]

__getattr__, __dir__ = lazy.attach(__name__, __file__)
