"""Image captioning (Show and Tell; NeuralTalk) with beam search and caption
log-probabilities, and image-sentence ranking with recall@K.
"""

from keras_l11.captioning.caption_network import CaptionNetwork
from keras_l11.captioning.retrieval import BidirectionalRankingLoss, ImageSentenceEmbedding

__all__ = [
    "BidirectionalRankingLoss",
    "CaptionNetwork",
    "ImageSentenceEmbedding",
]
