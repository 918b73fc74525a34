"""Handwriting prediction and synthesis (Graves 2013): a mixture density output
through TensorFlow Probability and a soft window over the text.
"""

from typing import TYPE_CHECKING

from keras_l11 import lazy

if TYPE_CHECKING:
    from keras_l11.handwriting.mixture_density import MixtureDensityHead, MixtureDensityLoss
    from keras_l11.handwriting.prediction import HandwritingPredictionNetwork
    from keras_l11.handwriting.soft_window import SoftWindow
    from keras_l11.handwriting.synthesis import HandwritingSynthesisNetwork

__all__ = [
    "HandwritingPredictionNetwork",
    "HandwritingSynthesisNetwork",
    "MixtureDensityHead",
    "MixtureDensityLoss",
    "SoftWindow",
]

__getattr__, __dir__ = lazy.attach(__name__, __file__)
