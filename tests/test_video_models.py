"""The video models' building blocks: flow stacking (plain and along
trajectories), flow on real footage, local response normalisation, the
fusion models' temporal receptive fields, score fusion, and the test protocol."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from graph_helpers import unguarded_ops

from benchmarks import conv3d_bfloat16
from keras_l11.video import task as video_lib
from keras_l11.video.clip_fusion import CLIP_FRAMES, ClipFusionNet, temporal_receptive_field
from keras_l11.video.flow import flow_stack, optical_flow, video_flows
from keras_l11.video.flow_stack import FlowStack
from keras_l11.video.frame_distributed import FrameDistributed
from keras_l11.video.local_response_norm import LocalResponseNorm
from keras_l11.video.lrcn import LRCN
from keras_l11.video.score_fusion import fit_linear_svm, weighted_average
from keras_l11.video.time_conv import TimeConv3D
from keras_l11.video.two_stream import StreamConvNet


def test_the_flow_stack_layer_stacks_as_the_numpy_reference_does():
    rng = np.random.default_rng(0)
    frames = rng.uniform(0, 255, (4, 40, 48)).astype(np.uint8)
    expected = flow_stack(frames, length=3)
    flows = video_flows(frames)
    assert flows.shape == (3, 40, 48, 2)
    out = FlowStack()(flows[None]).numpy()[0]
    np.testing.assert_allclose(out, expected, atol=1e-4)
    assert FlowStack().compute_output_shape((None, 3, 40, 48, 2)) == (None, 40, 48, 6)


def test_trajectory_stacking_follows_a_moving_point_and_optical_flow_stacking_stays_put():
    # A 4 x 4 block moves 2 px right per frame; the flow is 2 inside the block, 0 elsewhere.
    flows = np.zeros((1, 3, 32, 32, 2), np.float32)
    for k in range(3):
        flows[0, k, 10:14, 8 + 2 * k : 12 + 2 * k, 0] = 2.0
    trajectory = FlowStack(trajectory=True, subtract_mean=False)(flows).numpy()[0]
    plain = FlowStack(trajectory=False, subtract_mean=False)(flows).numpy()[0]
    # The block's left column at the start (x = 8): it moves with the block in every flow.
    np.testing.assert_allclose(trajectory[11, 8, 0::2], [2, 2, 2])
    np.testing.assert_allclose(plain[11, 8, 0::2], [2, 0, 0])  # the block has left that pixel
    np.testing.assert_allclose(trajectory[..., 1::2], 0)  # no vertical motion anywhere
    np.testing.assert_allclose(trajectory[:5, :5], 0)  # still background stays still
    # Sub-pixel positions are interpolated bilinearly: a ramp field sampled half a pixel along.
    ramp = np.zeros((1, 2, 8, 8, 2), np.float32)
    ramp[0, 0, ..., 0] = 0.5  # everything moves half a pixel right
    ramp[0, 1, ..., 0] = np.arange(8, dtype=np.float32)[None, :]  # second flow: x-position as a value
    out = FlowStack(trajectory=True, subtract_mean=False)(ramp).numpy()[0]
    np.testing.assert_allclose(out[3, 2, 2], 2.5)  # sampled at x = 2.5
    np.testing.assert_allclose(out[3, 7, 2], 7.0)  # clamped at the border


@pytest.mark.parametrize("method", ["farneback", "tvl1"])
def test_flow_on_real_footage_explains_the_motion_between_frames(method):
    import cv2

    from keras_l11.video.data import vtest_frames

    frames = vtest_frames(count=12, width=192)  # OpenCV's vtest.avi: pedestrians
    assert frames.shape == (12, 144, 192, 3) and frames.dtype == np.uint8
    a, b = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in (frames[8], frames[11]))
    flow = optical_flow(frames[8], frames[11], method)
    ys, xs = np.mgrid[0:144, 0:192].astype(np.float32)
    warped = cv2.remap(b, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    moving = np.abs(a - b) > 20  # where people walked
    assert moving.sum() > 200
    before, after = np.abs(a - b)[moving].mean(), np.abs(a - warped)[moving].mean()
    assert after < 0.6 * before, (before, after)
    speed = np.hypot(flow[..., 0], flow[..., 1])
    assert np.median(speed[moving]) > 0.5 and np.median(speed[~moving]) < 0.5  # people move, the street does not


def test_local_response_norm_matches_caffes_formula():
    x = np.random.default_rng(1).uniform(0, 3, (2, 4, 4, 7)).astype(np.float32)
    size, alpha, beta, bias = 5, 1e-2, 0.75, 2.0
    out = LocalResponseNorm(size, alpha, beta, bias)(x).numpy()
    padded = np.pad(x**2, [(0, 0)] * 3 + [(2, 2)])
    window = sum(padded[..., i : i + 7] for i in range(size))
    np.testing.assert_allclose(out, x / (bias + alpha / size * window) ** beta, rtol=1e-5)
    video = np.stack([x, x], axis=1)  # [B, T, H, W, C]: each frame normalised alone
    np.testing.assert_allclose(LocalResponseNorm(size, alpha, beta, bias)(video).numpy()[:, 1], out, rtol=1e-6)


@pytest.mark.parametrize(
    "fusion, layer, frames",
    [
        ("single", "conv1", [0]),
        ("early", "conv1", list(range(10))),  # T = 10 at the first layer
        ("late", "late_merge", [0, 15]),  # two frames 15 apart
        ("slow", "conv1", [0, 1, 2, 3]),  # slow fusion: 4, then 6, then all 10 frames
        ("slow", "conv2", list(range(6))),
        ("slow", "conv3", list(range(10))),
    ],
)
def test_each_fusion_models_receptive_field_in_time_matches_its_definition(fusion, layer, frames):
    model = ClipFusionNet(fusion, 5, 32, 32)
    assert model.inputs[0].shape[1] == CLIP_FRAMES[fusion]
    assert temporal_receptive_field(model, layer) == frames


def test_multiresolution_streams_see_the_centre_and_the_whole_frame_at_half_resolution():
    model = ClipFusionNet("single", 5, 32, 32, multiresolution=True)
    probe = keras.Model(model.inputs, [model.get_layer("fovea").output, model.get_layer("context").output])
    clip = np.random.default_rng(0).uniform(0, 255, (1, 1, 32, 32, 3)).astype(np.float32)
    fovea, context = (t.numpy() for t in probe(clip))
    scaled = clip / 127.5 - 1
    np.testing.assert_allclose(fovea, scaled[:, :, 8:24, 8:24], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(context, scaled.reshape(1, 1, 16, 2, 16, 2, 3).mean((3, 5)), rtol=1e-5, atol=1e-5)
    assert model(clip).shape == (1, 5)


def test_time_conv3d_gives_the_exact_kernel_gradient_in_bfloat16_and_is_conv3d_in_float32():
    """Early fusion's first layer at the paper's frame size, where TF 2.20's oneDNN
    bfloat16 kernel gradient of `Conv3D` is garbage on this machine's CPU
    (`benchmarks/conv3d_bfloat16.py`): `TimeConv3D`'s is within bfloat16 rounding of
    the exact (float64) gradient on every call."""
    config = keras.layers.Conv3D(96, (10, 11, 11), (1, 3, 3)).get_config()
    found = conv3d_bfloat16.measure(config, (10, 182, 182, 3), batch=1, calls=3)
    assert found["Conv3D float32"][:2] == (0, pytest.approx(0, abs=1e-4)), found
    wrong, worst, _ = found["TimeConv3D bfloat16"]
    assert wrong == 0 and worst < 0.01, found

    # In float32 it is Conv3D: same output, same kernel gradient.
    x = tf.random.stateless_uniform((2, 4, 12, 12, 3), (0, 0))
    ours, theirs = TimeConv3D(5, (2, 3, 3), (2, 2, 2)), keras.layers.Conv3D(5, (2, 3, 3), (2, 2, 2))
    ours.build(x.shape), theirs.build(x.shape)
    theirs.set_weights(ours.get_weights())
    gradients = []
    for layer in (ours, theirs):
        with tf.GradientTape() as tape:
            y = layer(x)
            total = tf.reduce_sum(y * y)
        gradients.append((y.numpy(), tape.gradient(total, layer.kernel).numpy()))
    np.testing.assert_array_equal(gradients[0][0], gradients[1][0])
    np.testing.assert_array_equal(gradients[0][1], gradients[1][1])


def test_frame_distributed_gives_time_distributeds_outputs_and_gradients_with_one_call_of_its_layer():
    """A per-frame CNN of LRCN's kinds of layers (convolution, LRN, pooling, dense) on a clip:
    `FrameDistributed` equals Keras' `TimeDistributed` (one call per frame), for a
    static and an unknown T, in its outputs and its weights' gradients."""
    frame = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(frame)
    x = LocalResponseNorm()(x)
    x = keras.layers.MaxPooling2D()(x)
    cnn = keras.Model(frame, keras.layers.Dense(6)(keras.layers.Flatten()(x)))
    clips = tf.random.stateless_normal((2, 5, 12, 12, 3), (1, 2))
    ours, theirs = FrameDistributed(cnn), keras.layers.TimeDistributed(cnn)
    results = []
    for layer in (ours, theirs):
        with tf.GradientTape() as tape:
            y = layer(clips)
            total = tf.reduce_sum(y * y)
        results.append((y.numpy(), [g.numpy() for g in tape.gradient(total, cnn.trainable_weights)]))
    assert results[0][0].shape == (2, 5, 6) and ours.compute_output_shape((None, None, 12, 12, 3)) == (None, None, 6)
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5, atol=1e-6)
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    unknown_t = tf.function(ours, input_signature=[tf.TensorSpec((None, None, 12, 12, 3))])
    np.testing.assert_allclose(unknown_t(clips[:, :3]).numpy(), results[1][0][:, :3], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="inputs \\[batch, T, ...\\] with a known frame shape"):
        FrameDistributed(keras.layers.Dense(2)).build((4, 3))
    with pytest.raises(ValueError, match="known frame shape"):
        FrameDistributed(keras.layers.Dense(2)).build((4, 5, None))


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: StreamConvNet("temporal", 4, 32, 32, flow_length=3, trajectory=True), (2, 3, 32, 32, 2)),
        (lambda: LRCN("flow", 4, 32, 32, lstm_units=8), (2, 5, 32, 32, 2)),
        (lambda: ClipFusionNet("slow", 4, 32, 32, multiresolution=True), (2, 10, 32, 32, 3)),
    ],
)
def test_video_models_round_trip_through_keras_files(make, shape, tmp_path):
    model = make()
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    path = tmp_path / "model.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(again(x).numpy(), model(x).numpy(), rtol=1e-6)
    assert again.get_config() == model.get_config()


def test_a_linear_svm_on_two_streams_scores_learns_which_stream_to_trust():
    # Stream 0 is right about classes 0-1 and guesses on 2-3; stream 1 the other way round.
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 400)
    scores = rng.dirichlet(np.ones(4), size=(400, 2)).astype(np.float32)
    for i, y in enumerate(labels):
        good = 0 if y < 2 else 1
        scores[i, good] = 0.05
        scores[i, good, y] = 0.85
        scores[i, 1 - good] = rng.dirichlet(np.full(4, 0.3))  # confident noise
    train, test = slice(0, 300), slice(300, 400)
    svm = fit_linear_svm(scores[train], labels[train])
    svm_accuracy = (svm.predict(scores[test], verbose=0).argmax(-1) == labels[test]).mean()
    average_accuracy = (weighted_average([scores[test, 0], scores[test, 1]]).argmax(-1) == labels[test]).mean()
    assert svm_accuracy > 0.8 and svm_accuracy > average_accuracy + 0.05, (svm_accuracy, average_accuracy)
    np.testing.assert_allclose(weighted_average([np.ones(2), np.zeros(2)], [1, 2]), [1 / 3, 1 / 3], rtol=1e-6)
    with pytest.raises(ValueError, match="weights"):
        weighted_average([np.ones(2)], [1, 2])


def test_the_test_protocol_averages_evenly_spaced_windows():
    videos = np.arange(2 * 24, dtype=np.float32).reshape(2, 24, 1, 1, 1)  # frame value = its index (+24)
    starts = video_lib.window_starts(24, 10, 5).numpy()
    np.testing.assert_array_equal(starts, [0, 4, 7, 10, 14])  # 0 .. 24 - 10, evenly spaced

    def first_frame_as_scores(windows):  # [N, span, 1, 1, 1] -> [N, 2]: (first frame, span)
        first = windows[:, 0, 0, 0, 0]
        return tf.stack([first, tf.fill(tf.shape(first), float(windows.shape[1]))], axis=1)

    out = video_lib.classify_videos(first_frame_as_scores, videos, 10, 5)
    np.testing.assert_allclose(out["window_probabilities"][0, :, 0], starts)
    np.testing.assert_allclose(out["window_probabilities"][1, :, 0], starts + 24)
    np.testing.assert_allclose(out["probabilities"][:, 0], [starts.mean(), starts.mean() + 24])
    with pytest.raises(tf.errors.InvalidArgumentError, match="too short"):
        video_lib.classify_videos(first_frame_as_scores, videos[:, :6], 10, 5)
    # In a graph (a SavedModel's signature) the length check runs before the gather of the windows.
    traced = tf.function(lambda v: video_lib.classify_videos(first_frame_as_scores, v, 10, 5))
    graph = traced.get_concrete_function(tf.TensorSpec([None, None, 1, 1, 1])).graph
    assert [op for op in graph.get_operations() if op.type == "GatherV2"]
    assert unguarded_ops(graph, "GatherV2") == []
    with pytest.raises(tf.errors.InvalidArgumentError, match="too short"):
        traced(videos[:, :6])


def test_clip_and_video_accuracy_and_the_digit_and_motion_breakdown():
    from keras_l11.video.data import CLASS_NAMES

    labels = np.array([0, 5])  # "0 right", "1 left"
    scores = np.zeros((2, 3, 12), np.float32)
    scores[0, :, 0] = [0.9, 0.9, 0.2]  # right in 2 of 3 windows and on average
    scores[0, 2, 1] = 0.8
    scores[1, :, 6] = 0.9  # always "1 rotate": right digit, wrong motion
    result = video_lib.accuracies(scores, labels, CLASS_NAMES)
    assert result == {"clip_accuracy": 2 / 6, "video_accuracy": 0.5, "motion_accuracy": 0.5, "digit_accuracy": 1.0}
    assert "motion_accuracy" not in video_lib.accuracies(scores, labels)


def test_the_tower_of_a_video_config_is_overridden_with_json():
    from keras_l11.training.config import apply_overrides
    from keras_l11.video.configs import VideoConfig

    config = apply_overrides(VideoConfig(), ['tower={"dropout": 0.5, "fc_units": [64, 32]}'])
    assert config.tower.dropout == 0.5 and config.tower.fc_units == (64, 32)
    assert config.tower.filters == VideoConfig().tower.filters  # the rest unchanged
    for bad in ('tower={"dropuot": 0.5}', "tower=[1, 2]", 'tower={"filters": [8]}'):
        with pytest.raises(ValueError, match="tower needs a ConvTower"):
            apply_overrides(VideoConfig(), [bad])


def test_the_paper_configs_read_ucf101_through_tfds(tmp_path, monkeypatch):
    """TFDS's own mock of UCF-101 (random videos with the builder's features)
    goes through the same flow pipeline and reader as a prepared data set
    would (on Beam's in-process runner: the mock lives in this process)."""
    import dataclasses

    import tensorflow_datasets as tfds

    from keras_l11.video.configs import VideoConfig
    from keras_l11.video.task import load_videos

    monkeypatch.setenv("KERAS_L11_CACHE", str(tmp_path))
    monkeypatch.setenv("KERAS_L11_PIPELINE_ARGS", "--direct_num_workers=1")
    config = dataclasses.replace(VideoConfig(), data="ucf101", frames=12, height=32, width=40)
    with tfds.testing.mock_data(num_examples=3, policy=tfds.testing.MockPolicy.USE_CODE):
        train, validation, test = load_videos(config)
    for videos in (train, validation, test):
        assert videos.frames.shape[1:] == (12, 32, 40, 3) and videos.flows.shape[1:] == (11, 32, 40, 2)
        assert videos.num_classes == 101 and "ApplyEyeMakeup" in videos.class_names
        assert ((0 <= videos.labels) & (videos.labels < 101)).all()
    assert [len(v) for v in (train, validation, test)] == [3, 0, 3]  # train[:90%] of 3 is all 3, as in TFDS
    [made] = (tmp_path / "prepared").iterdir()  # one pipeline output: train and test, sliced when read
    assert made.name == "flows_ucf101_ucf101_1_256_12x32x40_farneback"
