"""Generative models: DARN (Gregor, Danihelka, Mnih & Wierstra 2014) and
autoencoders whose code carries limited information (LeCun & Ranzato).
"""

from keras_l11.generative.autoencoder import Autoencoder
from keras_l11.generative.autoregressive import AutoregressiveBernoulli
from keras_l11.generative.darn import DARN

__all__ = [
    "Autoencoder",
    "AutoregressiveBernoulli",
    "DARN",
]
