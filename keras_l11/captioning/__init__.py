"""Image captioning (Show and Tell; NeuralTalk) with beam search and caption
log-probabilities, and image-sentence ranking with recall@K.
"""

from typing import TYPE_CHECKING

from keras_l11 import lazy

if TYPE_CHECKING:
    from keras_l11.captioning.caption_network import CaptionNetwork
    from keras_l11.captioning.retrieval import BidirectionalRankingLoss, ImageSentenceEmbedding

__all__ = [
    "BidirectionalRankingLoss",
    "CaptionNetwork",
    "ImageSentenceEmbedding",
]

__getattr__, __dir__ = lazy.attach(__name__, __file__)
