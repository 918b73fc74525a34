"""The FCN and depth jobs learn on the offline data, and their exports answer
image bytes over the local server exactly as the SavedModels do."""

import base64

import numpy as np
import pytest
import tensorflow as tf
from serving_helpers import http, png, start_server

from keras_l11.dense import depth_data
from keras_l11.dense import segmentation_data as seg_data
from keras_l11.dense.depth_metrics import depth_scores
from keras_l11.serving.client import Client

from conftest import smoke_job


@pytest.fixture(scope="session")
def dense_exports(tmp_path_factory):
    out = tmp_path_factory.mktemp("dense")
    fcn = smoke_job("fcn", out, "fcn", "--variant", "8s", "--steps", "400")
    coarse = smoke_job("depth", out, "coarse", "--stage", "coarse")
    fine = smoke_job("depth", out, "fine", "--stage", "fine", "--init_from", str(out / "coarse"))
    return {"dir": out, "fcn": fcn, "coarse": coarse, "fine": fine, "config": out / "serving" / "models.config"}


def test_fcn_beats_predicting_background_everywhere(dense_exports):
    ev = dense_exports["fcn"]["evaluation"]
    assert ev["mean_iu"] > ev["baseline_mean_iu"] + 0.05, ev
    assert ev["mean_accuracy"] > ev["baseline_mean_accuracy"] + 0.05, ev


def test_depth_beats_the_mean_depth_map_and_the_fine_stage_improves_on_the_coarse(dense_exports):
    coarse, fine = dense_exports["coarse"]["evaluation"], dense_exports["fine"]["evaluation"]
    assert coarse["rmse_log_scale_invariant"] < coarse["baseline_rmse_log_scale_invariant"] - 0.02, coarse
    assert coarse["delta<1.25"] > coarse["baseline_delta<1.25"], coarse
    assert fine["rmse_log_scale_invariant"] < coarse["rmse_log_scale_invariant"], (coarse, fine)


@pytest.fixture(scope="module")
def server(dense_exports, tmp_path_factory):
    running = start_server(
        [f"--model_config_file={dense_exports['config']}"],
        tmp_path_factory.mktemp("dense_server"),
        cwd=str(dense_exports["dir"]),
    )
    yield running
    assert running.stop() == 0, running.log()[-2000:]


def saved_signature(dense_exports, name):
    path = dense_exports["fcn" if name == "fcn" else "fine"]["export"]
    return tf.saved_model.load(path).signatures[name if name == "depth" else "segment"]


def test_segment_over_rest_equals_the_saved_model_for_images_of_two_sizes(server, dense_exports):
    images, _ = seg_data.digit_segmentation(2, "test", seed=9, size=64)
    encoded = [png(images[0]), png(images[1][:40, :56])]
    body = {"signature_name": "segment", "inputs": {"images": [{"b64": base64.b64encode(e).decode()} for e in encoded]}}
    status, answer = http("POST", f"{server.url}/v1/models/fcn:predict", body)
    assert status == 200, answer
    direct = saved_signature(dense_exports, "fcn")(images=tf.constant(encoded))
    out = answer["outputs"]
    np.testing.assert_array_equal(out["classes"], direct["classes"].numpy())
    np.testing.assert_array_equal(out["sizes"], [[64, 64], [40, 56]])
    probabilities = np.asarray(out["probabilities"], np.float32)
    assert probabilities.shape == (2, 64, 64, 11)
    np.testing.assert_allclose(probabilities, direct["probabilities"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, rtol=1e-5)


def test_depth_over_grpc_equals_the_saved_model_and_bad_bytes_are_refused(server, dense_exports):
    scene = depth_data.rendered_scenes(1, seed=7, width=64, height=48)[0]
    encoded = np.array([png(scene["image"])], dtype=object)
    with Client(server.grpc, "grpc") as client:
        out = client.predict("depth", {"images": encoded}, signature_name="depth")
    direct = saved_signature(dense_exports, "depth")(images=tf.constant(encoded))
    assert out["depth"].shape == (1, 48, 64)
    np.testing.assert_array_equal(out["depth"], direct["depth"].numpy())
    assert depth_scores(out["depth"], scene["depth"][None])["delta<1.25"] > 0.5  # the room's depth, roughly
    body = {"signature_name": "depth", "inputs": {"images": [{"b64": base64.b64encode(b"not a picture").decode()}]}}
    status, answer = http("POST", f"{server.url}/v1/models/depth:predict", body)
    assert status == 400 and "image" in answer["error"].lower(), answer
    assert http("GET", f"{server.url}/v1/models/depth")[0] == 200
