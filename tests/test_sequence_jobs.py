"""The char_rnn, word_rnn and translate jobs: they learn, and their exports
answer over the local TF-Serving-compatible server (REST and gRPC) with the
same numbers as the trained model in process."""

import numpy as np
import pytest
import tensorflow as tf
from serving_helpers import http, start_server

from keras_l11.language import client as samples
from keras_l11.serving.client import Client
from keras_l11.serving.sources import latest_version


def test_char_model_beats_the_unigram_entropy_of_its_text(sequence_exports):
    ev = sequence_exports["summaries"]["char_rnn"]["evaluation"]
    assert ev["unigram_bits_per_character"] > 4.5  # raw XML: many distinct bytes in use
    assert ev["bits_per_character"] < ev["unigram_bits_per_character"] - 0.5


def test_word_model_learns_far_better_than_a_uniform_guess(sequence_exports):
    ev = sequence_exports["summaries"]["word_rnn"]["evaluation"]
    assert ev["test_tokens"] > 10_000 and np.isfinite(ev["perplexity"])
    # 100 smoke steps reach about the unigram perplexity (~197); a uniform guess over 2,002 ids is 2,002.
    assert ev["perplexity"] < 500 and ev["perplexity"] < 2 * ev["unigram_perplexity"]


def test_translation_overfits_a_handful_of_pairs_exactly(sequence_exports):
    ev = sequence_exports["summaries"]["translate"]["evaluation"]
    assert ev["exact_match_beam"] == 1.0, ev["examples"]
    assert ev["bleu_beam"] == pytest.approx(100.0)


def saved(sequence_exports, name):
    return latest_version(str(sequence_exports["dir"] / "saved_models" / name))


@pytest.fixture(scope="module")
def server(sequence_exports, tmp_path_factory):
    running = start_server(  # base paths in the config are relative to the folder the server runs in
        [f"--model_config_file={sequence_exports['config']}"],
        tmp_path_factory.mktemp("sequence_server"),
        cwd=str(sequence_exports["dir"]),
    )
    yield running
    assert running.stop() == 0, running.log()[-2000:]


def test_sample_and_score_over_rest_with_plain_strings(server, sequence_exports):
    url = f"{server.url}/v1/models/char_rnn:predict"
    row = {"prime": "<page>", "length": 40, "temperature": 1.0, "bias": 0.5, "seed": 3}
    status, body = http("POST", url, {"signature_name": "sample", "instances": [row, dict(row, length=5)]})
    assert status == 200, body
    texts = [p["text"] for p in body["predictions"]]
    assert isinstance(texts[0], str) and len(texts[0].encode()) >= 30  # 40 bytes, minus repaired UTF-8
    again = http("POST", url, {"signature_name": "sample", "instances": [row]})[1]["predictions"][0]
    assert again["text"] == texts[0]
    assert again["log_prob_bits"] == pytest.approx(body["predictions"][0]["log_prob_bits"])

    local = tf.saved_model.load(saved(sequence_exports, "char_rnn")).signatures["score"]
    text = ["<title>Anarchism</title>", "zzzz"]
    status, body = http("POST", url, {"signature_name": "score", "inputs": {"text": text}})
    assert status == 200, body
    expected = local(text=tf.constant(text))
    np.testing.assert_allclose(body["outputs"]["log_prob_bits"], expected["log_prob_bits"].numpy(), rtol=1e-5)
    assert body["outputs"]["tokens"] == [24, 4]
    assert body["outputs"]["bits_per_token"][0] < body["outputs"]["bits_per_token"][1]  # real XML beats noise


def test_word_model_samples_known_words_over_grpc(server):
    with Client(server.grpc, "grpc") as client:
        out = client.predict("word_rnn", samples.sample_inputs("the whale", 20, 1.0, [0.0, 2.0], 5), "sample")
        score = client.predict("word_rnn", {"text": np.array([b"call me ishmael ."], object)}, "score")
    for text in out["text"]:
        assert len(text.decode().replace("\n", " <eos> ").split()) == 20
    assert score["tokens"][0] == 4 and score["log_prob_bits"][0] < 0


def test_translate_over_rest_and_grpc(server, sequence_exports):
    pair = sequence_exports["summaries"]["translate"]["evaluation"]["examples"][0]
    status, body = http(
        "POST", f"{server.url}/v1/models/translate:predict", {"instances": [{"source": pair["source"]}]}
    )
    assert status == 200, body
    prediction = body["predictions"][0]
    assert prediction["translation"] == pair["reference"]
    assert len(prediction["translations"]) == 2 and prediction["translations"][0] == pair["reference"]
    assert prediction["log_probs"][0] >= prediction["log_probs"][1]
    with Client(server.grpc, "grpc") as client:
        out = client.predict("translate", {"source": np.array([pair["source"].encode()], object)})
    assert out["translation"][0].decode() == pair["reference"]
    np.testing.assert_allclose(out["log_probs"][0], prediction["log_probs"], rtol=1e-5)


def test_malformed_sample_request_is_refused_and_the_model_keeps_serving(server):
    url = f"{server.url}/v1/models/char_rnn:predict"
    status, body = http("POST", url, {"signature_name": "sample", "instances": [{"prime": "a"}]})
    assert status == 400 and "length" in body["error"]
    status, _ = http("POST", url, {"signature_name": "score", "inputs": {"text": ["still here"]}})
    assert status == 200


def test_bias_side_by_side_command(sequence_exports, capsys):
    path = saved(sequence_exports, "char_rnn")
    samples.main(["--saved_model", path, "--prime", "<", "--bias", "0", "100", "--length", "60", "--width", "30"])
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split("|")[0].strip() == "bias 0" and printed[0].split("|")[1].strip() == "bias 100"

    # A huge bias leaves no randomness: other seeds give the same sample. Without bias they differ.
    def texts(bias):
        return [samples.draw(samples.sample_inputs("<", 60, 1.0, [bias], seed), saved_model=path)[0] for seed in (1, 2)]

    assert len(set(texts(100.0))) == 1
    assert len(set(texts(0.0))) == 2
