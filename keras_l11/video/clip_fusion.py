"""Fusing time in a video CNN (Karpathy et al. 2014, "Large-scale video
classification with convolutional neural networks").

Four ways to connect a CNN over time, each a `ClipFusionNet` on a clip of
frames:

- single frame: one frame (the baseline);
- early fusion: the first convolution's filters extend over T = 10 frames;
- late fusion: two single-frame towers (shared weights) on frames 15 apart,
  merged in the first fully connected layer;
- slow fusion: the first three convolutions extend over time (4 frames with
  stride 2, then 2 and 2), so higher layers see more and more of the clip's 10
  frames (4, 6, 10).

And the multiresolution architecture: a fovea stream sees the frame's centre
at full resolution, a context stream the whole frame at half resolution; their
features meet in the fully connected layers. At test time, 20 clips from the
video are classified and their predictions averaged.

The paper's tower: C(96, 11, 3)-N-P-C(256, 5, 1)-N-P-C(384, 3, 1)-C(384, 3, 1)-
C(256, 3, 1)-P-FC(4096)-FC(4096), on 170 x 170 frames (two 89 x 89 streams
with multiresolution).
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_l11.video.conv_tower import classifier, conv_features, fully_connected
from keras_l11.video.specs import CLIP_FRAMES, FUSIONS, SLOW_SCHEDULE, ConvTower


def _views(clip, multiresolution, height, width):
    """`[(prefix, clip)]`: the whole clip, or its fovea and context streams."""
    if not multiresolution:
        return [("", clip)]
    if height % 4 or width % 4:
        raise ValueError(f"multiresolution needs a size divisible by 4, got {height} x {width}")
    fovea = layers.Cropping3D((0, height // 4, width // 4), name="fovea")(clip)  # the centre, full resolution
    context = layers.AveragePooling3D((1, 2, 2), name="context")(clip)  # the whole frame, half resolution
    return [("fovea_", fovea), ("context_", context)]


def _features(fusion, clip, tower, prefix):
    """Flattened conv features `[B, D]` of one view of the clip."""
    if fusion == "single":
        return conv_features(layers.Reshape(clip.shape[2:], name=f"{prefix}frame")(clip), tower, prefix)
    if fusion == "late":
        frame = keras.Input(clip.shape[2:], name=f"{prefix}frame")
        tower_model = keras.Model(frame, conv_features(frame, tower, prefix), name=f"{prefix}frame_tower")
        first = layers.Cropping3D(((0, clip.shape[1] - 1), (0, 0), (0, 0)), name=f"{prefix}first_frame")(clip)
        last = layers.Cropping3D(((clip.shape[1] - 1, 0), (0, 0), (0, 0)), name=f"{prefix}last_frame")(clip)
        squeeze = [layers.Reshape(clip.shape[2:], name=f"{prefix}{n}_image") for n in ("first", "last")]
        both = [tower_model(s(f)) for s, f in zip(squeeze, (first, last))]
        return layers.Concatenate(name=f"{prefix}late_merge")(both)
    schedule = ((clip.shape[1], 1),) if fusion == "early" else SLOW_SCHEDULE
    return conv_features(clip, dataclasses.replace(tower, temporal=schedule), prefix)


@keras.saving.register_keras_serializable(package="keras_l11")
class ClipFusionNet(keras.Model):
    """Class probabilities of a clip `[batch, T, H, W, 3]` (0-255) with time
    fused as [Karpathy et al.](https://cs.stanford.edu/people/karpathy/deepvideo/)
    describe.

    Args:
        fusion: "single", "early", "late" or "slow".
        num_classes: int.
        height, width: the frame size.
        frames: T, the clip's frames (default: the paper's, `CLIP_FRAMES`:
            1, 10, 16 (frames 0 and 15), 10). Slow fusion needs 10.
        multiresolution: bool, fovea + context streams.
        tower: a `ConvTower` (or its config); `KARPATHY_TOWER` is the paper's.
            Slow fusion needs at least three convolutions.

    Example:

    ```python
    model = ClipFusionNet("slow", 487, 170, 170, tower=KARPATHY_TOWER)
    probabilities = model(clips)   # clips: [batch, 10, 170, 170, 3]
    ```
    """

    def __init__(self, fusion, num_classes, height, width, frames=None, multiresolution=False, tower=None, **kwargs):
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        frames = frames or CLIP_FRAMES[fusion]
        tower = ConvTower.from_config(tower or ConvTower())
        if fusion == "single" and frames != 1:
            raise ValueError(f"single-frame fusion reads 1 frame, got frames={frames}")
        if fusion == "late" and frames < 2:
            raise ValueError(f"late fusion needs at least 2 frames, got {frames}")
        # The functional graph.
        clip = keras.Input((frames, height, width, 3), name="frames")
        scaled = layers.Rescaling(1 / 127.5, offset=-1.0, name="scale")(clip)
        views = _views(scaled, multiresolution, height, width)
        views = [_features(fusion, view, tower, prefix) for prefix, view in views]
        x = views[0] if len(views) == 1 else layers.Concatenate(name="streams")(views)
        super().__init__(clip, classifier(fully_connected(x, tower, ""), num_classes), **kwargs)

        # Config.
        self.fusion, self.num_classes, self.height, self.width = fusion, num_classes, height, width
        self.frames, self.multiresolution, self.tower = frames, multiresolution, tower

    def get_config(self):
        return {
            "name": self.name,
            "fusion": self.fusion,
            "num_classes": self.num_classes,
            "height": self.height,
            "width": self.width,
            "frames": self.frames,
            "multiresolution": self.multiresolution,
            "tower": self.tower.config(),
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def temporal_receptive_field(model, layer_name, seed=0):
    """The input frames that the first time step (or, for layers without
    time, any unit) of `layer_name`'s output depends on, found by
    differentiation: sorted frame indices."""
    probe = keras.Model(model.inputs, model.get_layer(layer_name).output)
    clip = tf.random.stateless_uniform((1, *model.inputs[0].shape[1:]), (seed, 0), 0, 255)
    with tf.GradientTape() as tape:
        tape.watch(clip)
        out = probe(clip)
        if len(out.shape) == 5:  # [B, T, H, W, C]: the first time step
            out = out[:, 0]
        total = tf.reduce_sum(out)
    grad = tape.gradient(total, clip)
    return np.flatnonzero(tf.reduce_sum(tf.abs(grad), axis=[0, 2, 3, 4]).numpy() > 0).tolist()
