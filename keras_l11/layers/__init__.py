"""Reusable Keras layers."""

from keras_l11.layers.ntm_cell import NTMCell

__all__ = ["NTMCell"]
