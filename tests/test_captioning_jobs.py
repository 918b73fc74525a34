"""The captioning and retrieval jobs learn on the generated scenes (captions
beat the most frequent sentence in BLEU-4, retrieval beats chance recall),
and their exports answer over the local server as the SavedModels do."""

import base64

import numpy as np
import pytest
import tensorflow as tf
from serving_helpers import http, png, start_server

from keras_l11.captioning import data as caption_data
from keras_l11.serving.client import Client


def test_captions_beat_the_most_frequent_sentence(caption_runs):
    ev = caption_runs["captioning"]["evaluation"]
    baseline = ev["most frequent caption"]["BLEU-4"]
    for decoder in ("greedy", "beam 3"):
        assert ev[decoder]["BLEU-4"] > baseline + 0.05, ev
        assert ev[decoder]["CIDEr"] > ev["most frequent caption"]["CIDEr"], ev
    for example in caption_runs["captioning"]["examples"]:
        assert example["log_prob"] < 0 and example["caption"]


def test_retrieval_beats_chance_in_both_directions(caption_runs):
    ev = caption_runs["retrieval"]["evaluation"]
    for direction in ("image_to_text", "text_to_image"):
        assert ev[f"{direction}_R@10"] > ev[f"chance_{direction}_R@10"] + 0.2, ev
        assert ev[f"{direction}_median_rank"] < ev[f"chance_{direction}_median_rank"] / 2, ev


@pytest.fixture(scope="module")
def server(caption_runs, tmp_path_factory):
    running = start_server(
        [f"--model_config_file={caption_runs['config']}"],
        tmp_path_factory.mktemp("caption_server"),
        cwd=str(caption_runs["dir"]),
    )
    yield running
    assert running.stop() == 0, running.log()[-2000:]


def scene_pngs(count, seed=5):
    return [png(ex["image"]) for ex in caption_data.caption_scenes(count, seed)]


def test_caption_over_rest_equals_the_saved_model_with_log_probs_best_first(server, caption_runs):
    encoded = scene_pngs(2)
    body = {
        "signature_name": "caption",
        "inputs": {"images": [{"b64": base64.b64encode(e).decode()} for e in encoded], "beam_size": 3},
    }
    status, answer = http("POST", f"{server.url}/v1/models/captioning:predict", body)
    assert status == 200, answer
    direct = tf.saved_model.load(caption_runs["captioning"]["export"]).signatures["caption"]
    expected = direct(images=tf.constant(encoded), beam_size=tf.constant(3))
    assert answer["outputs"]["captions"] == [[c.decode() for c in row] for row in expected["captions"].numpy()]
    log_probs = np.asarray(answer["outputs"]["log_probs"], np.float32)
    np.testing.assert_allclose(log_probs, expected["log_probs"].numpy(), rtol=1e-5)
    assert log_probs.shape == (2, 3) and (np.diff(log_probs, axis=1) <= 1e-5).all()
    one = direct(images=tf.constant(encoded), beam_size=tf.constant(1))
    assert one["captions"].shape == (2, 1)


def test_embeddings_over_grpc_equal_the_saved_model_and_rank_the_right_scene_high(server, caption_runs):
    scenes = caption_data.caption_scenes(20, seed=11)
    encoded = np.array([png(ex["image"]) for ex in scenes], dtype=object)
    sentences = np.array([ex["captions"][0].encode() for ex in scenes], dtype=object)
    with Client(server.grpc, "grpc") as client:
        images = client.predict("retrieval", {"images": encoded}, signature_name="embed_image")["embeddings"]
        texts = client.predict("retrieval", {"sentences": sentences}, signature_name="embed_text")["embeddings"]
    saved = tf.saved_model.load(caption_runs["retrieval"]["export"]).signatures
    np.testing.assert_allclose(
        images, saved["embed_image"](images=tf.constant(encoded))["embeddings"], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1, rtol=1e-5)
    ranks = 1 + (texts @ images.T > np.sum(texts * images, axis=1)[:, None]).sum(axis=1)
    assert np.median(ranks) < 5  # of 20 scenes: chance would be 10.5


def test_bad_caption_requests_get_a_clear_error(server):
    body = {
        "signature_name": "caption",
        "inputs": {"images": [{"b64": base64.b64encode(b"nope").decode()}], "beam_size": 2},
    }
    status, answer = http("POST", f"{server.url}/v1/models/captioning:predict", body)
    assert status == 400 and "image" in answer["error"].lower(), answer
    assert http("GET", f"{server.url}/v1/models/captioning")[0] == 200


def test_the_retrieve_command_finds_the_images_a_typed_sentence_describes(server, caption_runs, capsys):
    import os

    from keras_l11.captioning import client as retrieve
    from keras_l11.captioning.configs import RETRIEVAL_CONFIGS as CONFIGS

    gallery = caption_runs["retrieval"]["gallery"]
    config = CONFIGS["smoke"]
    test = caption_data.caption_scenes(config.test_images, 1, config.image_size)  # the job's test split
    sentences = [ex["captions"][0] for ex in test[:10]]
    results = retrieve.main(["--server", server.rest, "--gallery", gallery, *sentences])
    ranks = [1 + paths.index(os.path.join(gallery, f"{i:04d}.png")) for i, (_, paths) in enumerate(results)]
    assert np.median(ranks) <= 5, ranks  # of 60 images
    printed = capsys.readouterr().out
    assert sentences[0] in printed and gallery in printed
    with pytest.raises(SystemExit, match="empty"):
        retrieve.main(["--server", server.rest, "--gallery", gallery, " "])
    with pytest.raises(SystemExit, match="not a folder"):
        retrieve.main(["--server", server.rest, "--gallery", os.path.join(gallery, "missing"), "a red circle"])


def test_the_retrieve_command_on_a_saved_model_loads_it_once_and_ranks_as_the_server(server, caption_runs):
    from keras_l11.captioning import client as retrieve
    from keras_l11.serving import sources as samples

    gallery = caption_runs["retrieval"]["gallery"]
    sentence = caption_data.caption_scenes(1, 1)[0]["captions"][0]
    before = samples._load.cache_info()
    [(local_scores, local_paths)] = retrieve.main(
        ["--saved_model", caption_runs["retrieval"]["export"], "--gallery", gallery, sentence]
    )
    after = samples._load.cache_info()
    assert after.misses - before.misses == 1 and after.hits - before.hits == 1  # two signatures, one load
    [(served_scores, served_paths)] = retrieve.main(["--server", server.rest, "--gallery", gallery, sentence])
    assert local_paths[:5] == served_paths[:5]
    np.testing.assert_allclose(local_scores, served_scores, rtol=1e-4, atol=1e-5)
