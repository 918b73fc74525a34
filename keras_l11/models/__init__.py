"""Assembled models, one module per lecture topic."""

from keras_l11.models.ntm import NeuralTuringMachine, SequenceLSTM

__all__ = ["NeuralTuringMachine", "SequenceLSTM"]
