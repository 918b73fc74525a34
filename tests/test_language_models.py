"""RecurrentLanguageModel, Seq2SeqTranslator and the in-graph tokenisers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_l11.language.export import language_model_signatures
from keras_l11.language.language_model import RecurrentLanguageModel, with_start
from keras_l11.language.seq2seq import Seq2SeqTranslator, reversed_source
from keras_l11.layers.tokenizers import END, START, ByteTokenizer, WordTokenizer

IDS = tf.constant([[10, 65, 66, 67, 68], [10, 70, 71, 0, 0]])


@pytest.fixture(scope="module", params=[("lstm", True), ("peephole", True), ("simple", True), ("lstm", False)], ids=str)
def model(request):
    keras.utils.set_random_seed(0)
    cell, skip = request.param
    m = RecurrentLanguageModel(256, units=24, num_layers=2, cell=cell, embedding_dim=16, skip_connections=skip)
    m(IDS)
    return m


def test_upper_layers_read_the_layer_below_and_the_input_only_with_skip_connections(model):
    embedding_size = model.embedding.output_dim
    expected = 24 + (embedding_size if model.skip_connections else 0)
    assert model.recurrent[1].cell.kernel.shape[0] == expected


def test_step_by_step_equals_the_sequence_graph(model):
    full = model(IDS).numpy()
    run_logits, _ = model.run(IDS)
    states, steps = model.initial_state(2), []
    for t in range(IDS.shape[1]):
        logits, states = model.step(IDS[:, t], states)
        steps.append(logits)
    np.testing.assert_allclose(run_logits.numpy(), full, atol=1e-5)
    np.testing.assert_allclose(np.stack(steps, 1), full, atol=1e-5)


def test_padding_carries_the_state_of_the_last_real_token(model):
    _, padded = model.run(IDS, mask=tf.sequence_mask([5, 3], 5))
    _, alone = model.run(IDS[1:, :3])
    for layer_padded, layer_alone in zip(padded, alone):
        for a, b in zip(layer_padded, layer_alone):
            np.testing.assert_allclose(a[1].numpy(), b[0].numpy(), atol=1e-5)


def test_score_is_the_sum_of_log2_probabilities(model):
    lengths = tf.constant([5, 3])
    bits = model.score(IDS, lengths).numpy()
    log_softmax = tf.nn.log_softmax(model(IDS)).numpy() / np.log(2.0)
    for row, n in enumerate([5, 3]):
        direct = sum(log_softmax[row, t, IDS[row, t + 1]] for t in range(n - 1))
        assert bits[row] == pytest.approx(direct, abs=1e-4)


def test_keras_round_trip(model, tmp_path):
    path = str(tmp_path / "lm.keras")
    model.save(path)
    again = keras.saving.load_model(path)
    np.testing.assert_allclose(again(IDS).numpy(), model(IDS).numpy(), atol=1e-6)


def sample_call(signatures, prime, length, temperature, bias, seed):
    n = len(prime)
    return signatures["sample"].fn(
        prime=tf.constant(prime),
        length=tf.constant(length if isinstance(length, list) else [length] * n, tf.int32),
        temperature=tf.constant([temperature] * n, tf.float32),
        bias=tf.constant(bias if isinstance(bias, list) else [bias] * n, tf.float32),
        seed=tf.constant(seed if isinstance(seed, list) else [seed] * n, tf.int64),
    )


def greedy_reference(model, tokenizer, prime, length):
    """Argmax continuation by a Python loop over `step`."""
    ids = [tokenizer.start_id] + list(prime.encode())
    states = model.initial_state(1)
    for token in ids[:-1]:
        _, states = model.step(tf.constant([token]), states)
    token, out = ids[-1], []
    for _ in range(length):
        logits, states = model.step(tf.constant([token]), states)
        token = int(tf.argmax(logits[0]))
        out.append(token)
    return bytes(out)


def test_sampling_seed_temperature_and_bias(model):
    tok = ByteTokenizer()
    sigs = language_model_signatures(model, tok)
    first = sample_call(sigs, ["ab", "x"], 12, 1.0, 0.0, 7)
    again = sample_call(sigs, ["ab", "x"], 12, 1.0, 0.0, 7)
    np.testing.assert_array_equal(first["text"].numpy(), again["text"].numpy())
    # A row's sample depends on its own seed, not on the rest of the batch.
    alone = sample_call(sigs, ["x"], 12, 1.0, 0.0, 7)
    assert alone["text"].numpy()[0] == first["text"].numpy()[1]
    other_seed = sample_call(sigs, ["ab"], 12, 1.0, 0.0, 8)
    assert other_seed["text"].numpy()[0] != first["text"].numpy()[0]
    # Zero temperature and infinite bias are the argmax sequence; rows keep their own lengths.
    expected = greedy_reference(model, tok, "ab", 9)
    cold = sample_call(sigs, ["ab", "ab"], [9, 4], 0.0, 0.0, [1, 2])
    hot = sample_call(sigs, ["ab"], 9, 1.0, float("inf"), 3)
    repaired = expected.decode("utf-8", "replace").encode()
    assert cold["text"].numpy()[0] == repaired == hot["text"].numpy()[0]
    assert cold["text"].numpy()[1] == expected[:4].decode("utf-8", "replace").encode()
    # The reported log-probability is that of the sampled text.
    scored = sigs["score"].fn(text=tf.constant([b"ab" + expected]))["log_prob_bits"].numpy()[0]
    prime_bits = sigs["score"].fn(text=tf.constant([b"ab"]))["log_prob_bits"].numpy()[0]
    assert cold["log_prob_bits"].numpy()[0] == pytest.approx(scored - prime_bits, abs=1e-3)


def test_byte_tokenizer_round_trips_utf8():
    tok = ByteTokenizer()
    text = ["<page>\n  <title>Zürich</title>", ""]
    ids = tok.encode(tf.constant(text))
    assert ids.to_list()[0] == list(text[0].encode())
    assert ids.to_list()[1] == []
    assert [t.decode() for t in tok.decode(ids).numpy()] == text
    assert tok.decode(tf.constant([[0xC3]])).numpy()[0].decode() == "\ufffd"  # a broken sequence is repaired


def test_word_tokenizer_unknown_words_punctuation_and_lines():
    tok = WordTokenizer(["the", "whale", "."], start_token="<eos>")
    ids = tok.encode(tf.constant(["The Whale.\nA ship!"]))
    words = [tok.vocabulary[i - 2] if i > 1 else "<unk>" for i in ids.to_list()[0]]
    assert words == ["the", "whale", ".", "<eos>", "<unk>", "<unk>", "<unk>"]
    assert tok.decode(ids.to_tensor()).numpy()[0].decode() == "the whale .\n<unk> <unk> <unk>"
    assert tok.unk_id == 1 and tok.pad_id == 0 and tok.vocab_size == 6


def test_start_token_and_reversed_source():
    target = WordTokenizer(["and", "god", "said"], line_token=None, start_token=START, end_token=END)
    ids, lengths = with_start(target, tf.constant(["And God said", "god"]))
    assert ids.numpy().tolist() == [[target.start_id, 2, 3, 4], [target.start_id, 3, 0, 0]]
    assert lengths.numpy().tolist() == [4, 2]
    stopped = tf.constant([[3, 4, target.end_id, 2]])
    assert target.decode(stopped, stop_id=target.end_id).numpy()[0] == b"god said"
    source = WordTokenizer(["y", "dijo", "dios"], line_token=None, start_token=None)
    assert reversed_source(source, tf.constant(["Y dijo Dios", "dios"])).numpy().tolist() == [[4, 3, 2], [4, 0, 0]]


def test_translator_beam_log_probs_are_the_model_scores():
    keras.utils.set_random_seed(1)
    model = Seq2SeqTranslator(12, 9, units=16, num_layers=2)
    source = tf.constant([[5, 4, 3], [7, 2, 0]])
    tokens, log_probs = model.beam_search(source, start_id=2, end_id=3, beam_size=3, max_length=6)
    assert tokens.shape[:2] == (2, 3) and tokens.shape[2] <= 6  # the search stops once every beam has ended
    assert np.all(np.diff(log_probs.numpy(), axis=1) <= 1e-6)  # best first
    for row in range(2):
        seq = [int(t) for t in tokens[row, 0]]
        seq = seq[: seq.index(3) + 1] if 3 in seq else seq
        target_in = tf.constant([[2] + seq[:-1]])
        logits = model({"source": source[row : row + 1], "target_in": target_in})
        direct = tf.reduce_sum(
            -tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant([seq]), logits=logits)
        )
        assert float(log_probs[row, 0]) == pytest.approx(float(direct), abs=1e-4)
    greedy, _ = model.greedy(source, start_id=2, max_length=6)
    beam1, _ = model.beam_search(source, start_id=2, end_id=3, beam_size=1, max_length=6)
    for row in range(2):
        g = [int(t) for t in greedy[row]]
        b = [int(t) for t in beam1[row, 0]]
        n = g.index(3) + 1 if 3 in g else len(g)
        assert b[:n] == g[:n]


def test_translator_keras_round_trip(tmp_path):
    model = Seq2SeqTranslator(12, 9, units=8, num_layers=2, dropout=0.1)
    inputs = {"source": tf.constant([[5, 4, 0]]), "target_in": tf.constant([[2, 6]])}
    model.save(str(tmp_path / "t.keras"))
    again = keras.saving.load_model(str(tmp_path / "t.keras"))
    assert again.get_config() == model.get_config()
    np.testing.assert_allclose(again(inputs).numpy(), model(inputs).numpy(), atol=1e-6)


def test_wmt14_is_read_from_a_prepared_tfds_folder(tmp_path):
    """`data=wmt14` reads `wmt14_translate/fr-en` prepared in its own TFDS format (the
    shards, `dataset_info.json` and `features.json` that `tfds build` writes, written
    here by TFDS's own writer for the real builder): English -> French, training pairs
    over `max_words` left out, newstest2014 (the test split) kept whole; an empty
    folder is named in a FileNotFoundError."""
    import dataclasses

    from benchmarks import paper_data
    from keras_l11.language.configs import TRANSLATE_CONFIGS
    from keras_l11.language.task import load_translation_pairs

    long_en = " ".join(["word"] * 40)
    train = [
        {"en": "the cat sleeps .", "fr": "le chat dort ."},
        {"en": long_en, "fr": "une phrase longue ."},
        {"en": "Où ? where ?", "fr": "où ?"},
    ]
    test = [{"en": long_en, "fr": "le test reste entier ."}, {"en": "hello .", "fr": "bonjour ."}]
    paper_data.write_prepared_tfds("wmt14_translate/fr-en", str(tmp_path / "tfds"), {"train": train, "test": test})
    config = dataclasses.replace(TRANSLATE_CONFIGS["paper"], max_words=30)
    train_pairs, test_pairs = load_translation_pairs(config, str(tmp_path / "tfds"))
    assert sorted(train_pairs) == sorted([("the cat sleeps .", "le chat dort ."), ("Où ? where ?", "où ?")])
    assert sorted(test_pairs) == sorted((ex["en"], ex["fr"]) for ex in test)
    with pytest.raises(FileNotFoundError, match="wmt14_translate/fr-en is not prepared"):
        load_translation_pairs(config, str(tmp_path / "empty"))
