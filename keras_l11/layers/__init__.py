"""Keras layers that two or more topics share (a topic's own layers live in its package)."""

from keras_l11.layers.tokenizers import ByteTokenizer, WordTokenizer

__all__ = ["ByteTokenizer", "WordTokenizer"]
