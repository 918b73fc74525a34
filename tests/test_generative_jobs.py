"""The DARN and autoencoder jobs at smoke scale: DARN beats independent pixels
by a wide margin, the unconstrained code reconstructs what is not a digit
while the bottleneck does not, and the exports answer over the local server
as the SavedModels do."""

import numpy as np
import pytest
import tensorflow as tf
from serving_helpers import http, start_server

from keras_l11.generative import data
from keras_l11.serving.client import Client

from conftest import smoke_job

CODES = ("none", "bottleneck", "sparse", "denoising")


@pytest.fixture(scope="session")
def generative_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("generative")
    runs = {"dir": out, "config": out / "serving" / "models.config", "darn": smoke_job("darn", out, "darn")}
    for code in CODES:
        runs[code] = smoke_job("autoencoder", out, f"autoencoder_{code}", "--code", code)
    return runs


def independent_pixels_nats(train, test):
    """-log p(x) of the test images under one Bernoulli per pixel fitted to train."""
    p = np.clip(train.reshape(len(train), -1).mean(0), 1e-3, 1 - 1e-3)
    x = test.reshape(len(test), -1)
    return float(-(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(1).mean())


def test_darn_beats_independent_pixels_and_its_estimate_is_below_its_bound(generative_runs):
    ev = generative_runs["darn"]["evaluation"]
    baseline = independent_pixels_nats(data.binarized_mnist("train", 5000), data.binarized_mnist("test", 500))
    assert ev["test_nats"] < baseline - 40, (ev, baseline)  # about 206 nats for independent pixels
    assert ev["test_nats"] <= ev["test_bound_nats"], ev
    by_k = ev["nats_by_samples"]
    assert by_k["20"] < by_k["1"], by_k  # more importance samples, a tighter estimate
    assert ev["paper_nats"]["DARN, 500 hidden units"] == 84.71
    assert generative_runs["darn"]["samples_png"].endswith("samples.png")


def test_the_unconstrained_code_reconstructs_non_digits_and_the_bottleneck_does_not(generative_runs):
    error = {c: generative_runs[c]["evaluation"]["reconstruction"] for c in CODES}
    for code in CODES:  # every variant reconstructs held-out digits better than the mean digit
        held_out = error[code]["held-out digits"]
        assert held_out["error"] < 0.6 * held_out["mean_image_error"], (code, held_out)
    fashion = {c: error[c]["Fashion-MNIST"] for c in CODES}
    assert fashion["none"]["error"] < 0.4 * fashion["none"]["mean_image_error"], fashion
    assert fashion["bottleneck"]["error"] > 0.8 * fashion["bottleneck"]["mean_image_error"], fashion
    assert fashion["none"]["error"] < 0.5 * fashion["bottleneck"]["error"], fashion
    # 2-D points: the over-complete code reconstructs random points, the bottleneck only the curve.
    toy = {c: generative_runs[c]["evaluation"]["toy_energy"] for c in CODES}
    assert toy["none"]["uniform points"] < 0.25 * toy["bottleneck"]["uniform points"], toy
    assert toy["bottleneck"]["uniform points"] > 10 * toy["bottleneck"]["curve points"], toy
    assert generative_runs["bottleneck"]["energy_png"].endswith("energy.png")


@pytest.fixture(scope="module")
def server(generative_runs, tmp_path_factory):
    running = start_server(
        [f"--model_config_file={generative_runs['config']}"],
        tmp_path_factory.mktemp("generative_server"),
        cwd=str(generative_runs["dir"]),
    )
    yield running
    assert running.stop() == 0, running.log()[-2000:]


def test_darn_log_prob_over_rest_and_sample_over_grpc_equal_the_saved_model(server, generative_runs):
    saved = tf.saved_model.load(generative_runs["darn"]["export"]).signatures
    images = (data.binarized_mnist("test", 4) * 255).astype(np.uint8)
    status, answer = http(
        "POST",
        f"{server.url}/v1/models/darn:predict",
        {"signature_name": "log_prob", "inputs": {"images": images.tolist()}},
    )
    assert status == 200, answer
    expected = saved["log_prob"](images=tf.constant(images))
    np.testing.assert_allclose(answer["outputs"]["nats"], expected["nats"], rtol=1e-5)
    np.testing.assert_allclose(answer["outputs"]["bound_nats"], expected["bound_nats"], rtol=1e-5)
    assert (np.asarray(answer["outputs"]["nats"]) <= np.asarray(answer["outputs"]["bound_nats"]) + 1e-3).all()

    with Client(server.grpc, "grpc") as client:
        drawn = client.predict(
            "darn", {"count": np.int32(3), "seed": np.int32(5)}, signature_name="sample", output_filter=["images"]
        )["images"]
    direct = saved["sample"](count=tf.constant(3), seed=tf.constant(5))["images"].numpy()
    assert drawn.shape == (3, 28, 28) and drawn.dtype == np.uint8
    np.testing.assert_array_equal(drawn, direct)
    assert set(np.unique(drawn)) <= {0, 255}
    scored = saved["log_prob"](images=tf.constant(drawn))["nats"].numpy()  # samples score like data
    assert np.isfinite(scored).all() and scored.mean() < 300


def test_bad_generative_requests_get_a_clear_error_and_the_models_stay_loaded(server):
    grey = np.full((1, 28, 28), 128, np.uint8).tolist()
    status, answer = http(
        "POST", f"{server.url}/v1/models/darn:predict", {"signature_name": "log_prob", "inputs": {"images": grey}}
    )
    assert status == 400 and "binary" in answer["error"], answer
    status, answer = http(
        "POST",
        f"{server.url}/v1/models/darn:predict",
        {"signature_name": "sample", "inputs": {"count": 0, "seed": 1}},
    )
    assert status == 400 and "count must be between 1 and" in answer["error"], answer
    status, answer = http(
        "POST",
        f"{server.url}/v1/models/autoencoder_none:predict",
        {"inputs": {"images": np.full((1, 28, 28), 255.0).tolist()}},
    )
    assert status == 400 and "[0, 1]" in answer["error"], answer
    for model in ("darn", "autoencoder_none"):
        assert http("GET", f"{server.url}/v1/models/{model}")[0] == 200


def test_autoencoder_reconstruct_over_grpc_equals_the_saved_model(server, generative_runs):
    images = np.concatenate([data.grey_mnist("test")[:2], data.fashion_mnist("test")[:2]])
    for code in ("none", "bottleneck"):
        with Client(server.grpc, "grpc") as client:
            answer = client.predict(f"autoencoder_{code}", {"images": images})
        saved = tf.saved_model.load(generative_runs[code]["export"]).signatures["reconstruct"]
        expected = saved(images=tf.constant(images))
        np.testing.assert_allclose(answer["reconstructions"], expected["reconstructions"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(answer["squared_error"], expected["squared_error"], rtol=1e-5)
        assert answer["reconstructions"].shape == (4, 28, 28)


def test_darn_paper_atari_config_reads_a_folder_of_frames(tmp_path):
    from PIL import Image

    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(30):  # a paddle moving across a dark screen
        screen = np.zeros((210, 160, 3), np.uint8)
        x = 5 * i % 140
        screen[180:190, x : x + 20] = 200
        screen[rng.integers(0, 150), rng.integers(0, 150)] = 255
        Image.fromarray(screen).save(frames / f"{i:04d}.png")
    small = ["--steps", "20", "--override", "steps_per_epoch=10", "--override", "batch_size=8"]
    small += [
        "--override",
        "model.hidden=[8]",
        "--override",
        "eval_samples=4",
        "--override",
        "convergence_samples=[1,4]",
    ]
    summary = smoke_job("darn", tmp_path, "atari", "--config", "paper_atari", "--frames", str(frames), *small)
    assert summary["train_config"]["data"] == "frames" and summary["evaluation"]["test_images"] == 3
    assert summary["evaluation"]["paper_nats"] is None
    with pytest.raises(SystemExit, match="--frames DIR"):
        smoke_job("darn", tmp_path, "atari_missing", "--config", "paper_atari", *small)
