"""Reusable Keras layers."""

from keras_l11.layers.ntm_cell import NTMCell
from keras_l11.layers.peephole_lstm import PeepholeLSTMCell

__all__ = ["NTMCell", "PeepholeLSTMCell"]
