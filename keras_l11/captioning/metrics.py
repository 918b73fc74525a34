"""Caption and retrieval measures in the papers' units.

- `caption_scores`: BLEU-1..4, CIDEr(-D) and ROUGE-L from `pycocoevalcap`, the
  COCO caption evaluation code. Its PTB tokenizer and METEOR need Java, and
  SPICE needs Java and a download: they are left out; captions are tokenized
  here the way the PTB tokenizer treats plain sentences (lowercased,
  punctuation removed).
- `retrieval_scores`: recall@K and median rank of image -> sentence and
  sentence -> image retrieval (Karpathy & Fei-Fei 2015, Table 1), from a
  similarity matrix.
"""

import contextlib
import io
import re

import numpy as np

_PUNCTUATION = re.compile(r"[^\w\s]")


def tokenize(sentence):
    """Lowercased words, punctuation removed, joined by single spaces."""
    return " ".join(_PUNCTUATION.sub(" ", sentence.lower()).split())


def caption_scores(references, candidates):
    """`{"BLEU-1".."BLEU-4", "CIDEr", "ROUGE-L"}` of `candidates` (one
    sentence per image) against `references` (a list of sentences per image)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    if len(references) != len(candidates):
        raise ValueError(f"{len(references)} reference lists for {len(candidates)} candidates")
    gts = {i: [tokenize(r) for r in refs] for i, refs in enumerate(references)}
    res = {i: [tokenize(c)] for i, c in enumerate(candidates)}
    with contextlib.redirect_stdout(io.StringIO()):  # pycocoevalcap's BLEU prints its counts
        bleu, _ = Bleu(4).compute_score(gts, res)
        cider, _ = Cider().compute_score(gts, res)
        rouge, _ = Rouge().compute_score(gts, res)
    scores = {f"BLEU-{n}": float(b) for n, b in enumerate(bleu, 1)}
    return {**scores, "CIDEr": float(cider), "ROUGE-L": float(rouge)}


def retrieval_scores(similarity, image_of_sentence, ks=(1, 5, 10)):
    """Recall@K (fraction of queries whose right answer ranks in the top K)
    and median rank (1 = first) in both directions.

    Args:
        similarity: `[images, sentences]` scores, higher is more similar.
        image_of_sentence: `[sentences]`, the index of each sentence's image.
            An image query's right answers are all its sentences (the best
            ranked counts); a sentence query's is its one image.
    """
    similarity = np.asarray(similarity, np.float64)
    owner = np.asarray(image_of_sentence)
    # Sentence -> image: the rank of the right image among all images.
    right = similarity[owner, np.arange(len(owner))]
    text_ranks = 1 + (similarity > right[None, :]).sum(axis=0)
    # Image -> sentence: the best rank of any of the image's sentences.
    order = np.argsort(-similarity, axis=1, kind="stable")
    ranked_owner = owner[order]
    image_ranks = 1 + np.argmax(ranked_owner == np.arange(len(similarity))[:, None], axis=1)
    out = {}
    for name, ranks in (("image_to_text", image_ranks), ("text_to_image", text_ranks)):
        for k in ks:
            out[f"{name}_R@{k}"] = float((ranks <= k).mean())
        out[f"{name}_median_rank"] = float(np.median(ranks))
    return out
