"""Dense prediction: FCN-32s/16s/8s segmentation (Long, Shelhamer & Darrell 2015)
and multi-scale depth (Eigen, Puhrsch & Fergus 2014).
"""

from typing import TYPE_CHECKING

from keras_l11 import lazy

if TYPE_CHECKING:
    from keras_l11.dense.depth import DepthNetwork
    from keras_l11.dense.depth_metrics import ScaleInvariantLoss
    from keras_l11.dense.fcn import FCN, CropLike, PadToMultiple
    from keras_l11.dense.upsampling import BilinearInitializer

__all__ = [
    "BilinearInitializer",
    "CropLike",
    "DepthNetwork",
    "FCN",
    "PadToMultiple",
    "ScaleInvariantLoss",
]

__getattr__, __dir__ = lazy.attach(__name__, __file__)
