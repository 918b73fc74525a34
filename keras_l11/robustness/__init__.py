"""Adversarial examples (Szegedy et al. 2014) and fooling images (Nguyen,
Yosinski & Clune 2015): box-constrained L-BFGS and FGSM attacks, the paper's
MNIST models, direct and CPPN encodings, and MAP-Elites.
"""

from typing import TYPE_CHECKING

from keras_l11 import lazy

if TYPE_CHECKING:
    from keras_l11.robustness.attacks import AttackResult, fgsm_attack, lbfgs_attack
    from keras_l11.robustness.classifiers import autoencoder_classifier, fully_connected, lenet, softmax_classifier
    from keras_l11.robustness.map_elites import ClassMapElites, CPPNEncoding, DirectEncoding

__all__ = [
    "AttackResult",
    "CPPNEncoding",
    "ClassMapElites",
    "DirectEncoding",
    "autoencoder_classifier",
    "fgsm_attack",
    "fully_connected",
    "lbfgs_attack",
    "lenet",
    "softmax_classifier",
]

__getattr__, __dir__ = lazy.attach(__name__, __file__)
