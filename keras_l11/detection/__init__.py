"""Localization and R-CNN detection (Girshick et al. 2014): selective search
proposals, warped regions, per-class scores with box regression, NMS and mAP.
"""

from typing import TYPE_CHECKING

from keras_l11 import lazy

if TYPE_CHECKING:
    from keras_l11.detection.localization import Localizer
    from keras_l11.detection.proposals import selective_search, sliding_windows
    from keras_l11.detection.rcnn import ClassBoxRegressionLoss, RegionCNN

__all__ = [
    "ClassBoxRegressionLoss",
    "Localizer",
    "RegionCNN",
    "selective_search",
    "sliding_windows",
]

__getattr__, __dir__ = lazy.attach(__name__, __file__)
