"""The video jobs learn on the offline moving digits (the temporal stream sees
motion that the spatial one cannot), their fusion steps combine them, and the
exports classify videos over the local server as the SavedModels do,
including a real video file through the client that computes flow."""

import base64

import numpy as np
import pytest
import tensorflow as tf
from serving_helpers import http, start_server

from keras_l11.serving.client import Client
from keras_l11.video.configs import TWO_STREAM_CONFIGS as CONFIGS
from keras_l11.video.flow import video_flows
from keras_l11.video.task import load_videos

from conftest import smoke_job


@pytest.fixture(scope="session")
def video_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("video")
    runs = {
        "spatial": smoke_job("two_stream", out, "spatial", "--stream", "spatial"),
        "temporal": smoke_job("two_stream", out, "temporal", "--stream", "temporal"),
    }
    streams = ["--spatial_from", str(out / "spatial"), "--temporal_from", str(out / "temporal")]
    runs["fused"] = smoke_job("two_stream", out, "fused", "--fuse", *streams)
    runs["lrcn_rgb"] = smoke_job("lrcn", out, "lrcn_rgb", "--modality", "rgb")
    runs["lrcn_flow"] = smoke_job("lrcn", out, "lrcn_flow", "--modality", "flow")
    runs["lrcn"] = smoke_job(
        "lrcn", out, "lrcn", "--fuse", "--rgb_from", str(out / "lrcn_rgb"), "--flow_from", str(out / "lrcn_flow")
    )
    runs["late"] = smoke_job("video_fusion", out, "late", "--fusion", "late")
    return {"dir": out, "config": out / "serving" / "models.config", **runs}


def test_each_stream_beats_chance_and_the_temporal_stream_sees_the_motion_the_spatial_one_cannot(video_runs):
    spatial, temporal = video_runs["spatial"]["evaluation"], video_runs["temporal"]["evaluation"]
    chance = spatial["chance"]
    assert chance == pytest.approx(1 / 12)
    assert spatial["video_accuracy"] > chance + 0.05, spatial
    assert spatial["digit_accuracy"] > 0.5, spatial  # appearance: 3 digits, chance 1/3
    assert temporal["video_accuracy"] > 0.5, temporal
    assert temporal["motion_accuracy"] > spatial["motion_accuracy"] + 0.3, (spatial, temporal)
    assert temporal["video_accuracy"] >= temporal["clip_accuracy"] - 0.05  # averaging 25 windows does not hurt


def test_svm_fusion_beats_each_stream_alone(video_runs):
    ev = video_runs["fused"]["evaluation"]
    best_stream = max(ev["spatial"]["video_accuracy"], ev["temporal"]["video_accuracy"])
    assert ev["svm"]["video_accuracy"] > best_stream, ev
    assert ev["svm"]["digit_accuracy"] >= ev["temporal"]["digit_accuracy"], ev  # the spatial stream adds appearance


def test_lrcn_and_late_fusion_beat_chance(video_runs):
    for name in ("lrcn_rgb", "lrcn_flow", "late"):
        ev = video_runs[name]["evaluation"]
        assert ev["video_accuracy"] > ev["chance"] + 0.05, (name, ev)
    assert video_runs["lrcn_flow"]["evaluation"]["motion_accuracy"] > 0.8
    fused = video_runs["lrcn"]["evaluation"]
    assert set(fused) == {"rgb", "flow", "fused 1/2, 1/2", "fused 0.33, 0.67"}


@pytest.fixture(scope="module")
def server(video_runs, tmp_path_factory):
    running = start_server(
        [f"--model_config_file={video_runs['config']}"],
        tmp_path_factory.mktemp("video_server"),
        cwd=str(video_runs["dir"]),
    )
    yield running
    assert running.stop() == 0, running.log()[-2000:]


@pytest.fixture(scope="module")
def test_videos():
    _, _, test = load_videos(CONFIGS["smoke"])
    frames = np.asarray(test.frames[:2])
    return frames, np.stack([video_flows(v) for v in frames]), test.labels[:2]


def saved(video_runs, run):
    return tf.saved_model.load(video_runs[run]["export"]).signatures["classify"]


def test_the_spatial_stream_over_rest_equals_its_saved_model(server, video_runs, test_videos):
    frames, _, _ = test_videos
    body = {"signature_name": "classify", "inputs": {"frames": frames.tolist()}}
    status, answer = http("POST", f"{server.url}/v1/models/two_stream_spatial:predict", body)
    assert status == 200, answer
    direct = saved(video_runs, "spatial")(frames=tf.constant(frames))
    probabilities = np.asarray(answer["outputs"]["probabilities"], np.float32)
    np.testing.assert_allclose(probabilities, direct["probabilities"].numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(probabilities.sum(-1), 1, rtol=1e-5)
    assert np.asarray(answer["outputs"]["window_probabilities"]).shape == (2, 25, 12)


def test_the_fused_two_stream_model_over_grpc_equals_its_saved_model(server, video_runs, test_videos):
    frames, flows, _ = test_videos
    with Client(server.grpc, "grpc") as client:
        out = client.predict("two_stream", {"frames": frames, "flows": flows}, signature_name="classify")
    direct = saved(video_runs, "fused")(frames=tf.constant(frames), flows=tf.constant(flows))
    for name in ("spatial_probabilities", "temporal_probabilities", "probabilities", "svm_scores"):
        np.testing.assert_allclose(out[name], direct[name].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(out["classes"], direct["classes"].numpy())
    np.testing.assert_allclose(out["probabilities"], (out["spatial_probabilities"] + out["temporal_probabilities"]) / 2)
    lrcn = saved(video_runs, "lrcn")(frames=tf.constant(frames), flows=tf.constant(flows))
    np.testing.assert_allclose(
        lrcn["probabilities"], lrcn["rgb_probabilities"] / 3 + 2 * lrcn["flow_probabilities"] / 3, rtol=1e-5
    )


def test_bad_video_requests_get_a_clear_error_and_the_model_keeps_serving(server):
    too_short = np.zeros((1, 5, 64, 64, 2), np.float32).tolist()  # 5 flows, a stack needs 10
    body = {"signature_name": "classify", "inputs": {"flows": too_short}}
    status, answer = http("POST", f"{server.url}/v1/models/two_stream_temporal:predict", body)
    assert status == 400 and "too short" in answer["error"], answer
    wrong_size = {"signature_name": "classify", "inputs": {"flows": np.zeros((1, 12, 32, 32, 2)).tolist()}}
    status, answer = http("POST", f"{server.url}/v1/models/two_stream_temporal:predict", wrong_size)
    assert status == 400 and "flows" in answer["error"], answer
    frames = {"signature_name": "classify", "inputs": {"frames": [{"b64": base64.b64encode(b"x").decode()}]}}
    assert http("POST", f"{server.url}/v1/models/two_stream_spatial:predict", frames)[0] == 400
    assert http("GET", f"{server.url}/v1/models/two_stream_temporal")[0] == 200


def test_the_video_client_classifies_a_video_file_computing_flow_itself(server, test_videos, tmp_path, capsys):
    import cv2

    from keras_l11.video import client as video_client
    from keras_l11.video.data import CLASS_NAMES, read_video

    frames, _, labels = test_videos
    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 64))
    for frame in frames[0]:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    decoded = read_video(path)
    assert decoded.shape == (24, 64, 64, 3)
    out = video_client.main(["--server", server.rest, "--model", "two_stream", path])
    line = capsys.readouterr().out.strip().split("\t")
    assert line[0] == path and line[1].rsplit(" ", 1)[0] in CLASS_NAMES
    with Client(server.grpc, "grpc") as client:
        inputs = {"frames": decoded[None], "flows": video_flows(decoded)[None]}
        direct = client.predict("two_stream", inputs, signature_name="classify")
    np.testing.assert_allclose(out["probabilities"], direct["probabilities"], rtol=1e-5, atol=1e-6)


def test_a_fusion_step_without_its_models_says_which_are_missing(tmp_path):
    with pytest.raises(SystemExit, match="--spatial_from and --temporal_from"):
        smoke_job("two_stream", tmp_path, "fused", "--fuse")
    with pytest.raises(SystemExit, match="no model.keras in"):
        smoke_job("lrcn", tmp_path, "fused", "--fuse", "--rgb_from", str(tmp_path), "--flow_from", str(tmp_path))
