"""Generative models: DARN (Gregor, Danihelka, Mnih & Wierstra 2014) and
autoencoders whose code carries limited information (LeCun & Ranzato).
"""

from typing import TYPE_CHECKING

from keras_l11 import lazy

if TYPE_CHECKING:
    from keras_l11.generative.autoencoder import Autoencoder
    from keras_l11.generative.autoregressive import AutoregressiveBernoulli
    from keras_l11.generative.darn import DARN

__all__ = [
    "Autoencoder",
    "AutoregressiveBernoulli",
    "DARN",
]

__getattr__, __dir__ = lazy.attach(__name__, __file__)
