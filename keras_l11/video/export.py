"""The video models' exported signatures: each classifies whole videos (uint8
`frames`, or the client's `flows`) with the test protocol in the graph, so served
answers and reported figures come from one function (`keras_l11.video.task.classify_videos`)."""

import tensorflow as tf

from keras_l11.training.export import Signature
from keras_l11.video.task import classify_videos, resize_frames

FRAMES_SPEC = tf.TensorSpec([None, None, None, None, 3], tf.uint8)  # videos of any length and size


def flows_spec(height, width):
    """Per-pair flows `[B, V - 1, height, width, 2]` at a model's frame size."""
    return tf.TensorSpec([None, None, height, width, 2], tf.float32)


def frames_signature(window_fn, span, count, height, width, squeeze=False):
    """A `Signature` that classifies `frames [B, V, h, w, 3]` (uint8, any
    size: resized to the model's) with the test protocol."""

    def classify(frames):
        return classify_videos(window_fn, resize_frames(frames, height, width), span, count, squeeze)

    return Signature(classify, {"frames": FRAMES_SPEC}, example_size=_example_size(span))


def _example_size(span):
    """Frames (and pixels) of the warmup video: a window of `span` frames and its flows fit."""
    return max(span + 1, 16)


def checked_flows(flows, height, width):
    """`flows`, after a check in the graph that they are at the model's size: TF Serving
    feeds a tensor whatever its shape (it never checks it against the signature), so
    without this a wrong size fails deep inside the network with a reshape error."""
    size_ok = tf.reduce_all(tf.equal(tf.shape(flows)[2:], [height, width, 2]))
    message = f"flows must be [batch, frames - 1, {height}, {width}, 2], the model's frame size (see video_flows)"
    with tf.control_dependencies([tf.debugging.Assert(size_ok, [message, tf.shape(flows)])]):
        return tf.identity(flows)


def frames_and_flows_inputs(height, width):
    """The inputs of a fused signature: `frames` (uint8, any size) and
    `flows` at the temporal model's `height x width`."""
    return {"frames": FRAMES_SPEC, "flows": flows_spec(height, width)}


def flows_signature(window_fn, span, count, height, width):
    """A `Signature` that classifies `flows [B, V - 1, height, width, 2]`
    (float32 pixels at the model's size, computed by the client with
    `keras_l11.video.flow.video_flows`) with the test protocol."""

    def classify(flows):
        return classify_videos(window_fn, checked_flows(flows, height, width), span, count)

    return Signature(classify, {"flows": flows_spec(height, width)}, example_size=_example_size(span))


def signatures_of(signature):
    """The signature map of an export whose one signature is `classify`."""
    return {"serving_default": signature, "classify": signature}


def fusion_signatures(model, count):
    """`classify` (also `serving_default`) of a `ClipFusionNet`: `frames` -> the
    mean probabilities of `count` evenly spaced clips."""
    return signatures_of(frames_signature(model, model.frames, count, model.height, model.width))


def stream_signatures(model, config):
    """`classify` (also `serving_default`): the spatial stream reads `frames`, the temporal one `flows`."""
    if model.stream == "spatial":
        signature = frames_signature(model, 1, config.test_windows, model.height, model.width, squeeze=True)
    else:
        signature = flows_signature(model, model.flow_length, config.test_windows, model.height, model.width)
    return signatures_of(signature)


def two_stream_signatures(spatial, temporal, svm, count):
    """`classify`: `frames` and `flows` -> each stream's probabilities, their
    average and the SVM's fused scores and classes."""
    flow_length = temporal.flow_length

    def classify(frames, flows):
        videos = resize_frames(frames, spatial.height, spatial.width)
        s = classify_videos(spatial, videos, 1, count, squeeze=True)["probabilities"]
        flows = checked_flows(flows, temporal.height, temporal.width)
        t = classify_videos(temporal, flows, flow_length, count)["probabilities"]
        svm_scores = svm(tf.stack([s, t], axis=1))
        return {
            "spatial_probabilities": s,
            "temporal_probabilities": t,
            "probabilities": (s + t) / 2,
            "svm_scores": svm_scores,
            "classes": tf.argmax(svm_scores, axis=-1, output_type=tf.int32),
        }

    inputs = frames_and_flows_inputs(temporal.height, temporal.width)
    return signatures_of(Signature(classify, inputs, example_size=_example_size(flow_length)))


def clip_probabilities(model):
    """Windows -> the average of the model's per-frame probabilities."""
    return lambda clips: tf.reduce_mean(model(clips), axis=1)


def lrcn_signatures(model, config):
    """`classify` (also `serving_default`): the RGB model reads `frames`, the flow model `flows`."""
    fn, count = clip_probabilities(model), config.test_windows
    if model.modality == "rgb":
        return signatures_of(frames_signature(fn, config.clip_frames, count, model.height, model.width))
    return signatures_of(flows_signature(fn, config.clip_frames, count, model.height, model.width))


def lrcn_fused_signatures(rgb, flow, config):
    """`classify`: `frames` and `flows` -> each model's probabilities and the paper's weighted fusion."""
    count, span, weight = config.test_windows, config.clip_frames, config.rgb_weight

    def classify(frames, flows):
        videos = resize_frames(frames, rgb.height, rgb.width)
        r = classify_videos(clip_probabilities(rgb), videos, span, count)["probabilities"]
        f = classify_videos(clip_probabilities(flow), flows, span, count)["probabilities"]
        fused = weight * r + (1 - weight) * f
        return {
            "rgb_probabilities": r,
            "flow_probabilities": f,
            "probabilities": fused,
            "classes": tf.argmax(fused, axis=-1, output_type=tf.int32),
        }

    inputs = frames_and_flows_inputs(flow.height, flow.width)
    return signatures_of(Signature(classify, inputs, example_size=_example_size(span)))
