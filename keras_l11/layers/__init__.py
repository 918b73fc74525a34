"""Reusable Keras layers."""

from keras_l11.layers.autoregressive import AutoregressiveBernoulli
from keras_l11.layers.mixture_density import MixtureDensityHead, MixtureDensityLoss
from keras_l11.layers.ntm_cell import NTMCell
from keras_l11.layers.peephole_lstm import PeepholeLSTMCell
from keras_l11.layers.soft_window import SoftWindow
from keras_l11.layers.tokenizers import ByteTokenizer, WordTokenizer

__all__ = [
    "AutoregressiveBernoulli",
    "ByteTokenizer",
    "MixtureDensityHead",
    "MixtureDensityLoss",
    "NTMCell",
    "PeepholeLSTMCell",
    "SoftWindow",
    "WordTokenizer",
]
