"""keras_l11: the models of the lecture "Beyond image classification" in Keras 3."""

__version__ = "0.1.0"
