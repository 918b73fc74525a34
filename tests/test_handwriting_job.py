"""The handwriting job learns, and its `sample`/`log_prob` export answers over the local server."""

import numpy as np
import pytest
import tensorflow as tf
from serving_helpers import http, start_server

from keras_l11.data import handwriting as hw
from serving.client import Client
from serving.samples import latest_version


def test_prediction_network_beats_a_model_that_ignores_the_pen_history(handwriting_export):
    ev = handwriting_export["summary"]["evaluation"]
    assert ev["nll_nats_per_point"] < ev["independent_baseline_nats_per_point"] - 1.0
    assert ev["nll_nats_per_sequence"] == pytest.approx(ev["nll_nats_per_point"] * ev["mean_points_per_sequence"])


@pytest.fixture(scope="module")
def server(handwriting_export, tmp_path_factory):
    running = start_server(
        [f"--model_config_file={handwriting_export['config']}"],
        tmp_path_factory.mktemp("handwriting_server"),
        cwd=str(handwriting_export["dir"]),
    )
    yield running
    assert running.stop() == 0, running.log()[-2000:]


def test_sample_and_log_prob_over_rest_and_grpc(server, handwriting_export):
    url = f"{server.url}/v1/models/handwriting_prediction:predict"
    rows = [{"bias": 0.0, "seed": 3, "length": 40}, {"bias": 2.0, "seed": 3, "length": 25}]
    status, body = http("POST", url, {"signature_name": "sample", "instances": rows})
    assert status == 200, body
    strokes = np.asarray([p["strokes"] for p in body["predictions"]], np.float32)
    assert strokes.shape == (2, 40, 3) and set(np.unique(strokes[..., 2])) <= {0.0, 1.0}
    assert [p["lengths"] for p in body["predictions"]] == [40, 25]
    again = http("POST", url, {"signature_name": "sample", "instances": rows})[1]
    assert again == body  # a seed reproduces its strokes
    alone = http("POST", url, {"signature_name": "sample", "instances": rows[1:]})[1]["predictions"][0]
    np.testing.assert_allclose(alone["strokes"][:25], strokes[1, :25], atol=1e-4)  # a row's own seed decides

    line = hw.synthetic_dataset(1, num_writers=2, seed=9)[0][0][:60]
    local = tf.saved_model.load(
        latest_version(str(handwriting_export["dir"] / "saved_models" / "handwriting_prediction"))
    )
    expected = local.signatures["log_prob"](strokes=tf.constant(line[None]), lengths=tf.constant([60]))["nats"]
    with Client(server.grpc, "grpc") as client:
        out = client.predict(
            "handwriting_prediction",
            {"strokes": line[None].astype(np.float32), "lengths": np.array([60], np.int32)},
            signature_name="log_prob",
        )
    np.testing.assert_allclose(out["nats"], expected.numpy(), rtol=1e-5)
    noise = np.concatenate([np.random.default_rng(0).normal(0, 30, (60, 2)), np.zeros((60, 1))], 1)
    noise_nats = local.signatures["log_prob"](strokes=tf.constant(noise[None], tf.float32), lengths=tf.constant([60]))
    assert float(expected[0]) < float(noise_nats["nats"][0])  # handwriting is likelier than scribble


def test_malformed_sample_request_is_refused(server):
    url = f"{server.url}/v1/models/handwriting_prediction:predict"
    status, body = http("POST", url, {"signature_name": "sample", "instances": [{"bias": 0.0}]})
    assert status == 400 and "seed" in body["error"]
    assert http("GET", f"{server.url}/v1/models/handwriting_prediction")[0] == 200
