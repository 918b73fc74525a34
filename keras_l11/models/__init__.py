"""Assembled models, one module per lecture topic."""

from keras_l11.models.handwriting import HandwritingPredictionNetwork
from keras_l11.models.handwriting_synthesis import HandwritingSynthesisNetwork
from keras_l11.models.language_model import RecurrentLanguageModel
from keras_l11.models.localization import Localizer
from keras_l11.models.ntm import NeuralTuringMachine, SequenceLSTM
from keras_l11.models.rcnn import RegionCNN
from keras_l11.models.seq2seq import Seq2SeqTranslator

__all__ = [
    "HandwritingPredictionNetwork",
    "HandwritingSynthesisNetwork",
    "Localizer",
    "NeuralTuringMachine",
    "RecurrentLanguageModel",
    "RegionCNN",
    "Seq2SeqTranslator",
    "SequenceLSTM",
]
