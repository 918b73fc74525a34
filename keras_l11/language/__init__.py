"""Recurrent language models and translation: character- and word-level LSTM models
(Graves 2013, Mikolov 2010), sequence-to-sequence translation (Sutskever et al. 2014),
and the peephole LSTM cell (Hochreiter & Schmidhuber 1997, Graves' variant).
"""

from typing import TYPE_CHECKING

from keras_l11 import lazy

if TYPE_CHECKING:
    from keras_l11.language.language_model import RecurrentLanguageModel
    from keras_l11.language.metrics import BitsPerCharacter, Perplexity
    from keras_l11.language.seq2seq import Seq2SeqTranslator
    from keras_l11.layers.lstm import PeepholeLSTMCell

__all__ = [
    "BitsPerCharacter",
    "PeepholeLSTMCell",
    "Perplexity",
    "RecurrentLanguageModel",
    "Seq2SeqTranslator",
]

__getattr__, __dir__ = lazy.attach(__name__, __file__)
