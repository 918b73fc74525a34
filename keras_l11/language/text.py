"""Byte-level text for character language models.

Graves (2013) models raw bytes of Wikipedia XML (the Hutter Prize's enwik8), so
the vocabulary is the 256 byte values and tokenisation is `bytes -> uint8`,
which a SavedModel can do in-graph (`tf.io.decode_raw`). Two sources:

- offline: the Wikipedia excerpt (106 articles, raw XML) that the `gensim`
  wheel ships as test data (docs: data); its path is found without importing gensim;
- the paper: a user-supplied `enwik8` file (100M bytes), split as in the paper
  into the first 96M bytes for training and the last 4M for testing.
"""

import bz2
import importlib.util
import os

import numpy as np
import tensorflow as tf

from keras_l11.layers.tokenizers import BYTE_VOCAB_SIZE

VOCAB_SIZE = BYTE_VOCAB_SIZE
WIKIPEDIA_SAMPLE = os.path.join(
    "test", "test_data", "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
)
# Graves (2013, section 3.2): the first 96M bytes of enwik8's 100M for training, the last 4M for testing.
ENWIK8_TEST_FRACTION = 0.04


def wikipedia_sample_path():
    """The gensim wheel's Wikipedia XML excerpt (bz2)."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the offline Wikipedia text comes with gensim: pip install gensim")
    path = os.path.join(spec.submodule_search_locations[0], WIKIPEDIA_SAMPLE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"gensim is installed but {path} is missing")
    return path


def read_bytes(path):
    """Raw bytes of a file, decompressing `.bz2`."""
    opener = bz2.open if path.endswith(".bz2") else open
    with opener(path, "rb") as f:
        return f.read()


def split_bytes(data, test_fraction=None, train_bytes=None):
    """`(train, test)`: the first part for training, the rest for testing.

    enwik8 as in the paper: `test_fraction=0.04` (its last 4M of 100M bytes), or
    `train_bytes=96_000_000`. Otherwise the last `test_fraction` (default 5%) is held out.
    """
    if train_bytes is None:
        train_bytes = int(len(data) * (1.0 - (test_fraction if test_fraction is not None else 0.05)))
    if not 0 < train_bytes < len(data):
        raise ValueError(f"cannot hold out data: train_bytes={train_bytes} of {len(data)} bytes")
    return data[:train_bytes], data[train_bytes:]


def as_ids(data):
    """Bytes (one id per byte) or an integer array of token ids -> int32 array."""
    if isinstance(data, (bytes, bytearray)):
        return np.frombuffer(data, dtype=np.uint8).astype(np.int32)
    return np.asarray(data, dtype=np.int32)


def windows(data, length, batch_size, shuffle_seed=None, repeat=False):
    """`(inputs, targets)` batches of `length` tokens, targets shifted by one.

    `data` is bytes or an array of token ids. Consecutive windows tile the text
    without overlap; with `shuffle_seed` their order is shuffled (reproducibly).
    Token ids are int32.
    """
    array = as_ids(data)
    count = (len(array) - 1) // length
    if count < 1:
        raise ValueError(f"text of {len(array)} tokens is shorter than one window of {length}")
    chunks = array[: count * length + 1]
    inputs = chunks[:-1].reshape(count, length)
    targets = chunks[1:].reshape(count, length)
    ds = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if shuffle_seed is not None:
        ds = ds.shuffle(count, seed=shuffle_seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds.batch(batch_size, drop_remainder=repeat).prefetch(tf.data.AUTOTUNE)


def streams(data, num_streams, length):
    """The text as `num_streams` contiguous streams cut into consecutive windows,
    for evaluation that carries the recurrent state from window to window
    (every token but the first is predicted from all the text before it).

    Returns:
        `(inputs, targets)`, int32 arrays `[windows, num_streams, length]`; the
        tail that does not fill a window in every stream is dropped.
    """
    array = as_ids(data)
    per_stream = (len(array) - 1) // num_streams
    count = per_stream // length
    if count < 1:
        raise ValueError(f"{len(array)} tokens cannot fill {num_streams} streams of one {length}-token window")
    span = count * length
    inputs = np.stack([array[s * per_stream : s * per_stream + span] for s in range(num_streams)])
    targets = np.stack([array[s * per_stream + 1 : s * per_stream + span + 1] for s in range(num_streams)])
    to_windows = lambda a: a.reshape(num_streams, count, length).transpose(1, 0, 2)  # noqa: E731
    return to_windows(inputs), to_windows(targets)
