"""Sentence pairs for translation.

- Offline: Spanish-English Bible verses (Reina-Valera 1909 and the King James
  Version, Debian's `sword-text-sparv` and `sword-text-kjv`, read with
  `pysword`), aligned verse by verse: 31,084 public-domain pairs. The pairs are
  cached as a TSV file in the data cache the first time they are read.
- The paper (Sutskever et al. 2014): WMT'14 English-French through TFDS, when
  the user has prepared it (`tfds build wmt14_translate/fr-en`); nothing is
  downloaded at training time.
"""

import random

from keras_l11.data import install
from keras_l11.data.install import bible_pairs

__all__ = ["bible_pairs", "split_pairs", "wmt14_pairs"]


def wmt14_pairs(split, source="en", target="fr", data_dir=None):
    """WMT'14 pairs from a prepared TFDS directory (never downloads)."""
    import tensorflow_datasets as tfds

    ds = install.prepared_tfds(f"wmt14_translate/{target}-{source}", split, data_dir)
    return [(ex[source].decode("utf-8"), ex[target].decode("utf-8")) for ex in tfds.as_numpy(ds)]


def split_pairs(pairs, test_size, seed=0):
    """`(train, test)`: `test_size` pairs drawn at random (reproducibly) are held out."""
    if not 0 < test_size < len(pairs):
        raise ValueError(f"cannot hold out {test_size} of {len(pairs)} pairs")
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    held = set(order[:test_size])
    return [p for i, p in enumerate(pairs) if i not in held], [pairs[i] for i in sorted(held)]
