"""Video: two-stream networks (Simonyan & Zisserman 2014), LRCN (Donahue et al.
2014) and single-frame, early, late and slow fusion (Karpathy et al. 2014).
"""

from typing import TYPE_CHECKING

from keras_l11 import lazy

if TYPE_CHECKING:
    from keras_l11.video.clip_fusion import ClipFusionNet
    from keras_l11.video.flow_stack import FlowStack
    from keras_l11.video.frame_distributed import FrameDistributed
    from keras_l11.video.local_response_norm import LocalResponseNorm
    from keras_l11.video.lrcn import LRCN
    from keras_l11.video.score_fusion import LinearSVMFusion
    from keras_l11.video.time_conv import TimeConv3D
    from keras_l11.video.two_stream import StreamConvNet

__all__ = [
    "ClipFusionNet",
    "FlowStack",
    "FrameDistributed",
    "LRCN",
    "LinearSVMFusion",
    "LocalResponseNorm",
    "StreamConvNet",
    "TimeConv3D",
]

__getattr__, __dir__ = lazy.attach(__name__, __file__)
