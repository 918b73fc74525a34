"""Byte-level text pipelines and the language-model metrics."""

import bz2
import math

import numpy as np
import pytest
import tensorflow as tf

from keras_l11.language import text
from keras_l11.language.metrics import BitsPerCharacter, Perplexity
from keras_l11.layers.tokenizers import decode_bytes, encode_bytes


def test_metrics_agree_with_a_direct_computation():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 7)).astype("float32")
    labels = rng.integers(0, 7, size=(3, 5))
    mask = (rng.uniform(size=(3, 5)) > 0.3).astype("float32")
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    nats = -np.take_along_axis(log_probs, labels[..., None], -1)[..., 0]
    mean_nats = (nats * mask).sum() / mask.sum()
    bpc, ppl = BitsPerCharacter(), Perplexity()
    for metric in (bpc, ppl):
        metric.update_state(labels[:2], logits[:2], mask[:2])  # accumulates over batches
        metric.update_state(labels[2:], logits[2:], mask[2:])
    assert float(bpc.result()) == pytest.approx(mean_nats / math.log(2), rel=1e-5)
    assert float(ppl.result()) == pytest.approx(math.exp(mean_nats), rel=1e-5)
    uniform = BitsPerCharacter()
    uniform.update_state(labels, np.zeros_like(logits))
    assert float(uniform.result()) == pytest.approx(math.log2(7), rel=1e-6)  # chance: log2(vocab)


def test_byte_windows_tile_the_text_with_shifted_targets(tmp_path):
    data = b"<page><title>Anarchism</title><text>" + bytes(range(256)) * 3 + b"</text></page>"
    path = tmp_path / "sample.xml.bz2"
    path.write_bytes(bz2.compress(data))
    assert text.read_bytes(str(path)) == data
    train, test = text.split_bytes(data, test_fraction=0.25)
    assert train + test == data and len(test) == len(data) - int(len(data) * 0.75)
    batches = list(text.windows(train, length=16, batch_size=4))
    inputs = np.concatenate([b[0].numpy() for b in batches])
    targets = np.concatenate([b[1].numpy() for b in batches])
    assert inputs.dtype == np.int32 and inputs.shape[1] == 16
    flat = np.frombuffer(train, np.uint8)
    np.testing.assert_array_equal(inputs.reshape(-1), flat[: inputs.size])
    np.testing.assert_array_equal(targets.reshape(-1), flat[1 : inputs.size + 1])
    train, test = text.split_bytes(bytes(100), train_bytes=96)  # enwik8's split, scaled down 1e6x
    assert (len(train), len(test)) == (96, 4)
    with pytest.raises(ValueError, match="cannot hold out"):
        text.split_bytes(b"abc", train_bytes=3)


def test_in_graph_tokenisation_round_trips_any_bytes():
    raw = tf.constant(["Ünïcode & <xml>", "\x00\xff"])
    ids = [encode_bytes(s) for s in tf.unstack(raw)]
    assert ids[0].dtype == tf.int32 and int(tf.reduce_max(ids[0])) < text.VOCAB_SIZE
    assert [decode_bytes(i).numpy() for i in ids] == [s.numpy() for s in tf.unstack(raw)]


def test_offline_wikipedia_excerpt_is_raw_xml():
    data = text.read_bytes(text.wikipedia_sample_path())
    assert len(data) > 2_000_000 and data.lstrip().startswith(b"<mediawiki")
    assert data.count(b"<page>") >= 100  # the excerpt has 106 articles


def test_enwik8_is_read_as_bytes_and_split_as_the_paper(tmp_path):
    """`data=enwik8` reads a file in enwik8's format (the head of a MediaWiki XML dump,
    UTF-8, cut mid-character at its size) as raw bytes: the first 96% for training,
    the last 4% for testing (the paper's 96M / 4M); a missing file is named."""
    from benchmarks import paper_data
    from keras_l11.language.configs import CHAR_RNN_CONFIGS
    from keras_l11.language.task import load_character_text

    path = paper_data.write_enwik8(str(tmp_path / "enwik8"), size=25_001)
    config = CHAR_RNN_CONFIGS["paper"]
    train, test = load_character_text(config, path)
    with open(path, "rb") as f:
        data = f.read()
    assert len(data) == 25_001 and data.startswith(b"<mediawiki") and b"\xc3\xa9" in data
    assert train + test == data and len(train) == int(25_001 * 0.96)
    with pytest.raises(FileNotFoundError, match="enwik8"):
        load_character_text(config, str(tmp_path / "missing"))
